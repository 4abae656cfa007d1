# HAProxy examples, sourced by examples/run. The balancer over several
# nodes is examples/cluster/cluster.
need haproxy
URL="http://127.0.0.1:$PORT"
SOCKET="$RUN/restfcgi.sock"
CONF="$RUN/restfcgi.conf"
mkdir -p "$RUN/www"

start_fcgi-app() {
    THREADS=8 # keep-conn: see the comment in fcgi-app.cfg
    restfcgi_conf "$CONF"
    listen_workers "unix:$SOCKET" "$CONF"
    # Half the accept loops for requests at once, half for idle connections.
    MAXCONN=$((WORKERS * THREADS / 2))
    render "$EXAMPLES/haproxy/fcgi-app.cfg" "$RUN/haproxy.cfg"
    run_bg haproxy haproxy -f "$RUN/haproxy.cfg" -db
    wait_http "$URL/ping"
}

# nginx examples, sourced by examples/run.
need nginx
URL="http://127.0.0.1:$PORT"
SOCKET="$RUN/restfcgi.sock"
CONF="$RUN/restfcgi.conf"

start_nginx() {
    mkdir -p "$RUN/nginx-tmp"
    [ "$(id -u)" -eq 0 ] && chown "$FRONT_USER:$FRONT_GROUP" "$RUN/nginx-tmp"
    render "$EXAMPLES/nginx/$1.conf" "$RUN/nginx.conf"
    run_bg nginx nginx -p "$RUN" -e "$RUN/nginx.err" -c "$RUN/nginx.conf" -g 'daemon off;'
    wait_http "$URL/ping"
}

# restfcgi's supervisor makes the socket 0660 for its own user and group:
# spawn-fcgi can hand it to the front's user (-U), so it starts these.
start_fastcgi() {
    restfcgi_conf "$CONF"
    spawn_fcgi "$SOCKET" "$CONF"
    start_nginx fastcgi
}

start_keepalive() {
    THREADS=8
    restfcgi_conf "$CONF"
    spawn_fcgi "$SOCKET" "$CONF"
    start_nginx keepalive
}

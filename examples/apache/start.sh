# Apache examples, sourced by examples/run. The API is under /api.
need apache2
BASE_PATH=/api
URL="http://127.0.0.1:$PORT/api"
CONF="$RUN/restfcgi.conf"
mkdir -p "$RUN/www"

start_apache() {
    render "$EXAMPLES/apache/$1.conf" "$RUN/apache2.conf"
    run_bg apache2 apache2 -f "$RUN/apache2.conf" -DFOREGROUND
    wait_http "$URL/ping"
}

# Workers from spawn-fcgi on a unix socket.
start_proxy_fcgi() {
    restfcgi_conf "$CONF"
    spawn_fcgi "$RUN/restfcgi.sock" "$CONF"
    PROXY_TARGET="unix:$RUN/restfcgi.sock|fcgi://localhost/api"
    start_apache proxy_fcgi
}

# restfcgi's own supervisor on a loopback TCP port.
start_proxy_fcgi_tcp() {
    restfcgi_conf "$CONF"
    : "${FCGI_PORT:=$(free_port)}"
    listen_workers "127.0.0.1:$FCGI_PORT" "$CONF"
    PROXY_TARGET="fcgi://127.0.0.1:$FCGI_PORT/api"
    start_apache proxy_fcgi
}

start_fcgid() {
    FCGID_MAX_REQUEST_LEN=$((MAX_BODY * 2))
    restfcgi_conf "$CONF"
    mkdir -p "$RUN/fcgid"
    [ "$(id -u)" -eq 0 ] && chown "$FRONT_USER:$FRONT_GROUP" "$RUN/fcgid"
    start_apache fcgid
}

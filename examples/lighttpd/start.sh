# lighttpd examples, sourced by examples/run.
need lighttpd
URL="http://127.0.0.1:$PORT"
SOCKET="$RUN/restfcgi.sock"
CONF="$RUN/restfcgi.conf"
mkdir -p "$RUN/www"

start_lighttpd() {
    render "$EXAMPLES/lighttpd/$1.conf" "$RUN/lighttpd.conf"
    run_bg lighttpd lighttpd -D -f "$RUN/lighttpd.conf"
    wait_http "$URL/ping"
}

start_spawn-fcgi() {
    restfcgi_conf "$CONF"
    spawn_fcgi "$SOCKET" "$CONF"
    start_lighttpd spawn-fcgi
}

start_bin-path() {
    restfcgi_conf "$CONF"
    start_lighttpd bin-path
}

# End to end through a real lighttpd on a free loopback port.
. "$(dirname "$0")/../lib.sh"
need lighttpd
need curl

# lighttpd_start FASTCGI_SERVER_BLOCK
lighttpd_start() {
    PORT=$(free_port)
    mkdir -p "$T/www"
    cat >"$T/lighttpd.conf" <<CONF
server.document-root = "$T/www"
server.port = $PORT
server.bind = "127.0.0.1"
server.pid-file = "$T/lighttpd.pid"
server.errorlog = "$T/lighttpd.err"
server.modules += ("mod_fastcgi")
$1
CONF
    lighttpd -D -f "$T/lighttpd.conf" 2>"$T/lighttpd-stderr.log" &
    PIDS+=($!)
    wait_for curl -s -o /dev/null "http://127.0.0.1:$PORT/ping" || fail "lighttpd never answered: $(cat "$T/lighttpd.err")"
}

check_api() {
    out=$(curl -s -i "http://127.0.0.1:$PORT/ping")
    assert_contains "$out" "HTTP/1.1 200 OK" "GET /ping status"
    assert_contains "$out" '"message" : "Greetings from restfcgi!"' "GET /ping body"
    out=$(curl -s -i "http://127.0.0.1:$PORT/a/b/c/d/e")
    assert_contains "$out" "HTTP/1.1 404" "unknown path status"
    assert_contains "$out" '"http status code" : 404' "JSON error through lighttpd"
    assert_eq "$(http_status "http://127.0.0.1:$PORT/ping" -X DELETE)" 405 "DELETE /ping"
    head -c 3000 /dev/zero >"$T/body"
    assert_eq "$(http_status "http://127.0.0.1:$PORT/ping" -X POST --data-binary @"$T/body")" 413 "body past max_body"
}

# lighttpd starts the workers itself (bin-path): the socket is inherited on fd 0.
case_bin_path() {
    write_config "$T/c.conf" "limits = { max_body = 2048; };"
    lighttpd_start "fastcgi.server = ( \"/\" => (( \"socket\" => \"$T/fcgi.sock\",
        \"bin-path\" => \"$RESTFCGI_BIN -c $T/c.conf --threads 2\",
        \"check-local\" => \"disable\", \"max-procs\" => 2 )))"
    check_api
}

# restfcgi --listen with its own supervisor; lighttpd connects to the socket.
case_listen_socket() {
    write_config "$T/c.conf" "limits = { max_body = 2048; };"
    start_server srv -c "$T/c.conf" --listen "unix:$T/fcgi.sock" --workers 2 --threads 2
    wait_socket "$T/fcgi.sock"
    lighttpd_start "fastcgi.server = ( \"/\" => (( \"socket\" => \"$T/fcgi.sock\", \"check-local\" => \"disable\" )))"
    check_api
    [ -s "$T/srv.stdout" ] && fail "restfcgi wrote to stdout"
    true
}

run_case "$@"

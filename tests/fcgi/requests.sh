# The request pipeline through the FastCGI protocol, driven by the in-tree
# client (tests/fcgi/fcgi_client.c) straight to a restfcgi worker.
. "$(dirname "$0")/../lib.sh"

# serve [CONFIG LINES]: restfcgi on $T/s.sock with 1 worker x 2 threads.
serve() {
    write_config "$T/c.conf" "$@"
    start_server srv -c "$T/c.conf" --listen "unix:$T/s.sock" --workers 1 --threads 2
    SERVER=$LAST_PID
    wait_socket "$T/s.sock"
    S="unix:$T/s.sock"
}

# status ARGS...: the HTTP status the app answers.
status() { fcgi -s "$S" --status-only "$@"; }

# The server is still serving and wrote nothing to stdout.
still_serving() {
    assert_eq "$(status -u /ping)" 200 "ping after the previous request"
    [ -s "$T/srv.stdout" ] && fail "the server wrote to stdout: $(head -c 200 "$T/srv.stdout")"
    true
}

case_ping() {
    serve
    out=$(fcgi -s "$S" -u /ping) || fail "client exit $?"
    assert_contains "$out" "Status: 200 OK" "status"
    assert_contains "$out" "Content-Type: application/json" "content type"
    assert_contains "$out" '"message" : "Greetings from restfcgi!"' "body"
    assert_eq "$(status -m HEAD -u /ping)" 200 "HEAD /ping"
    out=$(fcgi -s "$S" -m HEAD -u /ping)
    assert_not_contains "$out" "Greetings" "HEAD has no body"
    still_serving
}

case_not_found() {
    serve
    out=$(fcgi -s "$S" -u /db/coll/doc/extra/more)
    assert_contains "$out" "Status: 404 Not Found" "status"
    assert_contains "$out" '"http status code" : 404' "JSON error body"
    assert_contains "$out" '"http status description" : "Not Found"' "JSON error body"
    still_serving
}

case_method_not_allowed() {
    serve
    out=$(fcgi -s "$S" -m DELETE -u /ping)
    assert_contains "$out" "Status: 405" "status"
    assert_contains "$out" "Allow: GET, HEAD" "Allow header"
    assert_eq "$(status -m BREW -u /ping)" 405 "unknown method"
    still_serving
}

case_bad_paths() {
    serve
    assert_eq "$(status -u '/db%00x/coll')" 400 "%00 in the path"
    assert_eq "$(status -u '/db/../etc')" 400 ".. in the path"
    assert_eq "$(status -u '/db/%2e%2e/etc')" 400 "encoded .. in the path"
    assert_eq "$(status -u '/%FF%FE')" 400 "invalid UTF-8 in the path"
    assert_eq "$(status -u '/ping?x=%00')" 400 "%00 in the query"
    assert_eq "$(status -u '/ping?x=%G1')" 400 "bad escape in the query"
    assert_eq "$(status -u 'ping')" 400 "relative URI"
    still_serving
}

case_missing_params() {
    serve
    assert_eq "$(status --unset REQUEST_METHOD -u /ping)" 400 "no REQUEST_METHOD"
    # No REQUEST_URI: rebuilt from SCRIPT_NAME + PATH_INFO as CGI hosts expect.
    assert_eq "$(status --unset REQUEST_URI -p PATH_INFO=/ping -u /ping)" 200 "no REQUEST_URI"
    still_serving
}

case_limits_url_and_headers() {
    serve "limits = { max_url = 1024; max_headers = 2048; max_params = 4; };"
    long=$(printf '/ping?x=%01010d' 0)
    assert_eq "${#long}" 1018 "test URI length"
    assert_eq "$(status -u "$long")" 200 "URI under the limit"
    long=$(printf '/ping?x=%01016d' 0)
    assert_eq "$(status -u "$long")" 200 "URI at the limit (1024 bytes)"
    long=$(printf '/ping?x=%01017d' 0)
    assert_eq "$(status -u "$long")" 414 "URI one past the limit"
    big=$(printf '%03000d' 0)
    assert_eq "$(status -u /ping -H "X-Big: $big")" 431 "headers past the limit"
    assert_eq "$(status -u '/ping?a=1&b=2&c=3&d=4')" 200 "4 query parameters"
    assert_eq "$(status -u '/ping?a=1&b=2&c=3&d=4&e=5')" 400 "5 query parameters"
    still_serving
}

case_body_limit() {
    serve "limits = { max_body = 1024; };"
    # At the limit the body is read and the route decides (POST /ping: 405).
    assert_eq "$(status -m POST -u /ping --body-size 1024 --body-byte a)" 405 "body at the limit"
    assert_eq "$(status -m POST -u /ping --body-size 1025 --body-byte a)" 413 "declared body past the limit"
    assert_eq "$(status -m POST -u /ping --body-size 1025 --body-byte a --no-content-length)" 413 \
        "undeclared body past the limit"
    assert_eq "$(status -m POST -u /ping --body-size 5000000 --body-byte a --no-content-length)" 413 \
        "a 5 MB undeclared body"
    out=$(fcgi -s "$S" -m POST -u /ping --body-size 2048 --body-byte a)
    assert_contains "$out" '"http status code" : 413' "JSON error body"
    # A kept connection stays in step after a refused body.
    out=$(fcgi -s "$S" -n 3 --status-only -m POST -u /ping --body-size 1500 --body-byte a)
    assert_eq "$(echo $out)" "413 413 413" "three refused bodies on one kept connection"
    still_serving
}

case_content_length_lies() {
    serve
    assert_eq "$(status -m POST -u /ping -d hello --content-length 10)" 400 "Content-Length larger than the body"
    assert_eq "$(status -m POST -u /ping -d hello --content-length 2)" 400 "Content-Length smaller than the body"
    assert_eq "$(status -m POST -u /ping -d hello --content-length abc)" 400 "Content-Length not a number"
    still_serving
}

case_keep_conn() {
    serve
    out=$(fcgi -s "$S" -n 5 --status-only -u /ping) || fail "client exit $?"
    assert_eq "$(echo $out)" "200 200 200 200 200" "five requests on one kept connection"
    out=$(fcgi -s "$S" --keep-conn --status-only -u /ping)
    assert_eq "$out" 200 "one request with FCGI_KEEP_CONN"
    still_serving
}

case_aborted_request() {
    serve
    fcgi -s "$S" --abort -m POST -u /ping -d hello >/dev/null 2>&1
    still_serving
    # Many aborted requests in a row do not use up the accept loops.
    for _ in 1 2 3 4 5 6; do fcgi -s "$S" --abort -u /ping >/dev/null 2>&1; done
    still_serving
}

case_slow_body() {
    serve
    assert_eq "$(status -m POST -u /ping --body-size 300 --body-byte a --chunk 100 --delay-ms 100)" 405 \
        "a body sent in slow pieces"
    still_serving
}

case_oversized_params() {
    serve
    # A 1 MB param (not a header) is read and ignored; the worker survives.
    assert_eq "$(status -u /ping --big-param 1000000)" 200 "1 MB param"
    still_serving
}

# Garbage on the wire never crashes a worker. libfcgi drops a connection
# with a bad header at once; records it cannot place (PARAMS before any
# BEGIN_REQUEST) make it wait for more until the peer closes, holding one
# accept loop meanwhile, so the client gives up after 2 s here.
raw() {
    fcgi -s "$S" --raw "$1" -t 2 >/dev/null 2>&1
    rc=$?
    [ "$rc" = 0 ] || [ "$rc" = 3 ] || fail "raw client exit $rc for $1"
}

case_malformed_records() {
    serve
    raw '09 01 00 01 00 08 00 00 00 01 00 00 00 00 00 00'   # version 9
    still_serving
    raw 'de ad be ef de ad be ef de ad'
    still_serving
    raw '01 04 00 01 00 04 00 00 01 01 41 42'                # PARAMS, no BEGIN_REQUEST
    still_serving
    raw '01 01 00 01 00 08 00 00 00 07 00 00 00 00 00 00'   # unknown role
    still_serving
    raw '01 01 00 01 00 08 00 00 00 01 00 00 00 00 00 00 01 04 00 01 ff ff 00'  # record cut short
    still_serving
}

case_base_path() {
    serve 'base_path = "/api";'
    assert_eq "$(status -u /api/ping)" 200 "ping under the base path"
    assert_eq "$(status -u /ping)" 404 "ping outside the base path"
    assert_eq "$(status -u /apiping)" 404 "a prefix that is not a segment"
    assert_eq "$(status -u /api/ping?x=1)" 200 "with a query"
}

case_tcp_ipv4() {
    write_config "$T/c.conf"
    port=$(free_port)
    start_server srv -c "$T/c.conf" --listen "127.0.0.1:$port"
    wait_for fcgi -s "127.0.0.1:$port" --status-only -u /ping || fail "no answer on 127.0.0.1:$port"
    assert_eq "$(fcgi -s "127.0.0.1:$port" --status-only -u /ping)" 200 "ping over IPv4"
}

case_tcp_ipv6() {
    python3 -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0))' 2>/dev/null ||
        skip "no IPv6 loopback on this machine"
    write_config "$T/c.conf"
    port=$(free_port)
    start_server srv -c "$T/c.conf" --listen "[::1]:$port"
    wait_for fcgi -s "[::1]:$port" --status-only -u /ping || fail "no answer on [::1]:$port"
    assert_eq "$(fcgi -s "[::1]:$port" --status-only -u /ping)" 200 "ping over IPv6"
}

case_spawn_fcgi() {
    need spawn-fcgi
    write_config "$T/c.conf"
    spawn-fcgi -s "$T/s.sock" -F 2 -P "$T/spawn.pid" -- "$RESTFCGI_BIN" -c "$T/c.conf" >"$T/spawn.log" 2>&1 ||
        fail "spawn-fcgi: $(cat "$T/spawn.log")"
    # By its arguments: RESTFCGI_BIN may be a wrapper (tests/tools/valgrind-restfcgi).
    for pid in $(pgrep -f -- " -c $T/c.conf\$"); do PIDS+=("$pid"); done
    assert_eq "${#PIDS[@]}" 2 "spawn-fcgi -F 2 started two processes"
    S="unix:$T/s.sock"
    for _ in 1 2 3 4 5 6; do assert_eq "$(status -u /ping)" 200 "ping through an inherited socket"; done
}

case_cors() {
    serve
    out=$(fcgi -s "$S" -u /ping)
    assert_contains "$out" "Access-Control-Allow-Origin: *" "CORS without Origin"
    assert_contains "$out" "Access-Control-Allow-Credentials: true" "credentials"
    assert_contains "$out" "Access-Control-Expose-Headers: Location, ETag, Auth-Token, Auth-Token-Valid-Until, Auth-Token-Location" "exposed headers"
    out=$(fcgi -s "$S" -u /ping -H "Origin: https://app.example")
    assert_contains "$out" "Access-Control-Allow-Origin: https://app.example" "Origin echoed"
    out=$(fcgi -s "$S" -u /nope/a/b/c/d -H "Origin: https://app.example")
    assert_contains "$out" "Access-Control-Allow-Origin: https://app.example" "CORS on errors too"
    # A preflight on any path, without credentials.
    out=$(fcgi -s "$S" -m OPTIONS -u /db/coll -H "Origin: https://app.example" \
        -H "Access-Control-Request-Method: PATCH")
    assert_contains "$out" "Status: 200" "preflight status"
    assert_contains "$out" "Access-Control-Allow-Methods: GET, PUT, POST, PATCH, DELETE, OPTIONS" "methods"
    assert_contains "$out" "If-Match" "allowed headers"
    assert_contains "$out" "Authorization" "allowed headers"
}

run_case "$@"

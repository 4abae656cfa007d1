# /health: a round trip to the store, 200 or 503, and store.require_at_start.
. "$(dirname "$0")/../lib.sh"

# serve STORE_PATH [CONFIG LINES]
serve() {
    local path=$1; shift
    printf 'plugin_dir = "%s";\nstore = { plugin = "sqlite"; path = "%s"; %s };\n' \
        "$RESTFCGI_PLUGIN_DIR" "$path" "$*" >"$T/c.conf"
    start_server srv -c "$T/c.conf" --listen "unix:$T/s.sock" --workers 1 --threads 2
    wait_socket "$T/s.sock"
    S="unix:$T/s.sock"
}

case_health_ok() {
    serve "$T/data"
    out=$(fcgi -s "$S" -u /health)
    assert_contains "$out" "Status: 200 OK" "status"
    assert_contains "$out" '"status" : "ok"' "body"
    assert_contains "$out" '"store" : "sqlite"' "body"
    assert_contains "$out" '"pingMs" : ' "body"
    [ -f "$T/data/restfcgi.sqlite" ] || fail "the store file was not created"
    assert_eq "$(fcgi -s "$S" --status-only -m HEAD -u /health)" 200 "HEAD /health"
    assert_eq "$(fcgi -s "$S" --status-only -m POST -u /health)" 405 "POST /health"
}

# A store that cannot be opened: the worker still starts, /health says 503
# in the JSON error format, /ping is unaffected, and the store recovers
# without a restart once its directory can be made.
case_health_unavailable_then_recovers() {
    touch "$T/blocker"
    serve "$T/blocker/data"
    out=$(fcgi -s "$S" -u /health)
    assert_contains "$out" "Status: 503" "status with the store unreachable"
    assert_contains "$out" '"http status code" : 503' "JSON error body"
    assert_contains "$out" "store sqlite unavailable" "message"
    assert_eq "$(fcgi -s "$S" --status-only -u /ping)" 200 "ping needs no store"
    assert_contains "$(cat "$T/srv.log")" "store unreachable at start" "warning logged"
    rm "$T/blocker"
    assert_eq "$(fcgi -s "$S" --status-only -u /health)" 200 "health after the store came back"
}

case_require_at_start() {
    touch "$T/blocker"
    printf 'plugin_dir = "%s";\nstore = { plugin = "sqlite"; path = "%s"; require_at_start = true; };\n' \
        "$RESTFCGI_PLUGIN_DIR" "$T/blocker/data" >"$T/c.conf"
    "$RESTFCGI_BIN" -c "$T/c.conf" --listen "unix:$T/s.sock" --workers 2 </dev/null 2>"$T/err"
    assert_eq "$?" 3 "exit code with the store unreachable at start"
    assert_contains "$(cat "$T/err")" "store unreachable at start" "message"
    [ -e "$T/s.sock" ] && fail "socket left behind"
    REQUEST_METHOD=GET REQUEST_URI=/ping "$RESTFCGI_BIN" -c "$T/c.conf" </dev/null >/dev/null 2>&1
    assert_eq "$?" 3 "exit code in CGI mode"
    # Reachable: starts and serves.
    rm "$T/blocker"
    start_server srv -c "$T/c.conf" --listen "unix:$T/s.sock" --workers 1
    wait_socket "$T/s.sock"
    wait_for fcgi -s "unix:$T/s.sock" -u /health || fail "no answer"
    assert_eq "$(fcgi -s "unix:$T/s.sock" --status-only -u /health)" 200 "health"
}

case_require_at_start_type() {
    printf 'store = { plugin = "sqlite"; path = "x";\n  require_at_start = "yes"; };\n' >"$T/c.conf"
    "$RESTFCGI_BIN" -c "$T/c.conf" --check-config 2>"$T/err"
    assert_eq "$?" 1 "exit code"
    assert_contains "$(cat "$T/err")" "$T/c.conf:2: 'require_at_start' must be a boolean" "message"
}

run_case "$@"

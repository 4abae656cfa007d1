# The command line of SPEC §2: version, help, usage errors, --check-config,
# config errors as FILE:LINE, modes, CGI.
. "$(dirname "$0")/../lib.sh"

case_version() {
    out=$("$RESTFCGI_BIN" --version) || fail "--version exited $?"
    assert_contains "$out" "restfcgi 0.1.0" "--version"
}

case_help() {
    out=$("$RESTFCGI_BIN" --help) || fail "--help exited $?"
    assert_contains "$out" "--check-config" "--help"
}

case_usage_errors() {
    for args in "--bogus" "--workers 0" "--workers 257" "--workers x" "--threads 0" "extra" "--listen"; do
        # shellcheck disable=SC2086
        "$RESTFCGI_BIN" $args >"$T/out" 2>"$T/err"
        assert_eq "$?" 2 "exit code of restfcgi $args"
        [ -s "$T/err" ] || fail "no message for restfcgi $args"
    done
}

case_check_config_ok() {
    sed "s|^plugin_dir = \"\";|plugin_dir = \"$RESTFCGI_PLUGIN_DIR\";|" "$RESTFCGI_SRC/conf/restfcgi.conf" >"$T/c.conf"
    out=$("$RESTFCGI_BIN" -c "$T/c.conf" --check-config) || fail "exit $?"
    assert_eq "$out" "config ok" "--check-config output"
}

# expect_config_error FILE LINE TEXT: --check-config exits 1 with FILE:LINE: TEXT.
expect_config_error() {
    "$RESTFCGI_BIN" -c "$1" --check-config >"$T/out" 2>"$T/err"
    assert_eq "$?" 1 "exit code"
    [ -s "$T/out" ] && fail "stdout not empty: $(cat "$T/out")"
    assert_contains "$(cat "$T/err")" "$1:$2: $3" "error message"
}

# The mongo store checks its group without connecting: a bad URI is named
# without the driver's words (they can quote a password), the catalog
# database must start with '_'.
case_mongo_store_config_errors() {
    printf 'plugin_dir = "%s";\nstore = {\n  plugin = "mongo";\n  uri = "mongodb://u:p@ss:w0rd@h/";\n};\n' \
        "$RESTFCGI_PLUGIN_DIR" >"$T/c.conf"
    expect_config_error "$T/c.conf" 2 "store.uri is not a valid MongoDB connection string"
    assert_not_contains "$(cat "$T/err")" "w0rd" "the password in the message"
    printf 'plugin_dir = "%s";\nstore = {\n  plugin = "mongo";\n  uri = "mongodb://127.0.0.1:1/";\n  catalog_db = "cat";\n};\n' \
        "$RESTFCGI_PLUGIN_DIR" >"$T/c.conf"
    expect_config_error "$T/c.conf" 2 "store.catalog_db must be a database name of 2 to 48 bytes starting with '_'"
}

case_unknown_key() {
    printf 'workers = 1;\n\nlistne = "unix:/tmp/x";\n' >"$T/c.conf"
    expect_config_error "$T/c.conf" 3 "unknown key 'listne'"
}

case_unknown_nested_key() {
    printf 'limits = {\n  max_body = 10;\n  max_bodyy = 10;\n};\n' >"$T/c.conf"
    expect_config_error "$T/c.conf" 3 "unknown key 'max_bodyy' in group limits"
}

case_wrong_type() {
    printf '\nworkers = "2";\n' >"$T/c.conf"
    expect_config_error "$T/c.conf" 2 "'workers' must be an integer"
}

case_syntax_error() {
    printf 'workers = 1;\nthreads = ;\n' >"$T/c.conf"
    expect_config_error "$T/c.conf" 2 "syntax error"
}

case_out_of_range() {
    printf 'limits = { default_pagesize = 500; max_pagesize = 100; };\n' >"$T/c.conf"
    expect_config_error "$T/c.conf" 1 "limits.default_pagesize = 500 is out of range"
}

case_missing_file() {
    "$RESTFCGI_BIN" -c "$T/nope.conf" --check-config 2>"$T/err"
    assert_eq "$?" 1 "exit code"
    assert_contains "$(cat "$T/err")" "$T/nope.conf:0: cannot read the file" "message"
}

# The store plugin gets its own group and rejects keys it does not know.
case_plugin_rejects_unknown_key() {
    printf 'plugin_dir = "%s";\nstore = {\n  plugin = "sqlite";\n  path = "%s";\n  pth = "x";\n};\n' \
        "$RESTFCGI_PLUGIN_DIR" "$T/data" >"$T/c.conf"
    expect_config_error "$T/c.conf" 5 "unknown key 'pth'"
}

case_plugin_name_refused() {
    printf 'store = { plugin = "../../tmp/evil"; };\n' >"$T/c.conf"
    expect_config_error "$T/c.conf" 1 "store.plugin '../../tmp/evil' is not a plugin name"
}

case_missing_plugin() {
    printf 'plugin_dir = "%s";\nstore = { plugin = "nosuch"; };\n' "$RESTFCGI_PLUGIN_DIR" >"$T/c.conf"
    "$RESTFCGI_BIN" -c "$T/c.conf" --check-config 2>"$T/err"
    assert_eq "$?" 1 "exit code"
    assert_contains "$(cat "$T/err")" "$RESTFCGI_PLUGIN_DIR/store_nosuch.so: no such store plugin file" "message"
}

case_no_mode() {
    write_config "$T/c.conf"
    env -u REQUEST_METHOD "$RESTFCGI_BIN" -c "$T/c.conf" </dev/null >"$T/out" 2>"$T/err"
    assert_eq "$?" 2 "exit code"
    assert_contains "$(cat "$T/err")" "no listening socket on fd 0" "message"
}

case_cgi_ping() {
    write_config "$T/c.conf"
    out=$(REQUEST_METHOD=GET REQUEST_URI=/ping "$RESTFCGI_BIN" -c "$T/c.conf" </dev/null) || fail "exit $?"
    assert_contains "$out" "Status: 200 OK" "status line"
    assert_contains "$out" '"version" : "0.1.0"' "body"
}

# CGI reads exactly CONTENT_LENGTH bytes of stdin and enforces max_body.
case_cgi_body_limit() {
    write_config "$T/c.conf" "limits = { max_body = 10; };"
    out=$(printf '0123456789' | REQUEST_METHOD=POST REQUEST_URI=/ping CONTENT_LENGTH=10 "$RESTFCGI_BIN" -c "$T/c.conf")
    assert_contains "$out" "Status: 405" "body at the limit is read, then POST /ping is 405"
    out=$(printf '0123456789X' | REQUEST_METHOD=POST REQUEST_URI=/ping CONTENT_LENGTH=11 "$RESTFCGI_BIN" -c "$T/c.conf")
    assert_contains "$out" "Status: 413" "body one past the limit"
    assert_contains "$out" '"http status code" : 413' "JSON error body"
}

case_listen_in_use() {
    write_config "$T/c.conf"
    start_server a -c "$T/c.conf" --listen "unix:$T/s.sock"
    wait_socket "$T/s.sock"
    "$RESTFCGI_BIN" -c "$T/c.conf" --listen "unix:$T/s.sock" 2>"$T/err" </dev/null
    assert_eq "$?" 2 "exit code of a second server on the same socket"
    assert_contains "$(cat "$T/err")" "another process is listening" "message"
}

case_listen_bad_address() {
    write_config "$T/c.conf"
    for addr in "127.0.0.1" "127.0.0.1:0" "127.0.0.1:99999" "localhost:80x" "[::1:80"; do
        "$RESTFCGI_BIN" -c "$T/c.conf" --listen "$addr" 2>"$T/err" </dev/null
        assert_eq "$?" 2 "exit code for --listen $addr"
    done
}

run_case "$@"

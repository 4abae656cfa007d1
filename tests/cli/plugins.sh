# Deliberately broken plugins (tests/plugins/test_plugin.c): each is refused
# with a message naming the file and the reason, and a non-zero exit.
. "$(dirname "$0")/../lib.sh"

# expect_refused VARIANT REASON
expect_refused() {
    printf 'plugin_dir = "%s";\nstore = { plugin = "%s"; };\n' "$RESTFCGI_TEST_PLUGIN_DIR" "$1" >"$T/c.conf"
    "$RESTFCGI_BIN" -c "$T/c.conf" --check-config >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" -ne 0 ] || fail "plugin $1 was accepted"
    assert_eq "$rc" 1 "exit code for plugin $1"
    assert_contains "$(cat "$T/err")" "$RESTFCGI_TEST_PLUGIN_DIR/store_$1.so: $2" "message for $1"
    [ -s "$T/out" ] && fail "stdout not empty"
    # The same refusal when starting for real, not only with --check-config.
    "$RESTFCGI_BIN" -c "$T/c.conf" --listen "unix:$T/s.sock" >/dev/null 2>"$T/err2" </dev/null
    assert_eq "$?" 1 "exit code when starting with plugin $1"
    [ -e "$T/s.sock" ] && fail "a socket was opened although the plugin was refused"
    true
}

case_wrong_abi_major() { expect_refused bad_major "plugin ABI 99.0, restfcgi needs ABI major 1"; }
case_missing_symbol() { expect_refused no_symbol "does not export restfcgi_plugin_store_no_symbol"; }
case_short_descriptor() { expect_refused short_struct "descriptor is 8 bytes"; }
case_short_ops_table() { expect_refused short_ops "store ops table is"; }
case_failing_init() { expect_refused init_fails "init failed: test plugin refuses to initialise"; }
case_wrong_kind() { expect_refused wrong_kind "is not a store plugin"; }

run_case "$@"

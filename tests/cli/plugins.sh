# Deliberately broken plugins (tests/plugins/test_plugin.c): each is refused
# with a message naming the file and the reason, and a non-zero exit.
. "$(dirname "$0")/../lib.sh"

# expect_refused VARIANT REASON
expect_refused() {
    # One directory with the broken store and the real token manager.
    mkdir -p "$T/plugins"
    ln -sf "$RESTFCGI_TEST_PLUGIN_DIR/store_$1.so" "$T/plugins/store_$1.so"
    ln -sf "$RESTFCGI_PLUGIN_DIR/tm_memory.so" "$T/plugins/tm_memory.so"
    printf 'plugin_dir = "%s";\nstore = { plugin = "%s"; };\n' "$T/plugins" "$1" >"$T/c.conf"
    "$RESTFCGI_BIN" -c "$T/c.conf" --check-config >"$T/out" 2>"$T/err"
    rc=$?
    [ "$rc" -ne 0 ] || fail "plugin $1 was accepted"
    assert_eq "$rc" 1 "exit code for plugin $1"
    assert_contains "$(cat "$T/err")" "$T/plugins/store_$1.so: $2" "message for $1"
    [ -s "$T/out" ] && fail "stdout not empty"
    # The same refusal when starting for real, not only with --check-config.
    "$RESTFCGI_BIN" -c "$T/c.conf" --listen "unix:$T/s.sock" >/dev/null 2>"$T/err2" </dev/null
    assert_eq "$?" 1 "exit code when starting with plugin $1"
    [ -e "$T/s.sock" ] && fail "a socket was opened although the plugin was refused"
    true
}

case_wrong_abi_major() { expect_refused bad_major "plugin ABI 99.$(sed -n "s/^#define RESTFCGI_PLUGIN_ABI_MINOR //p" "$RESTFCGI_SRC/plugins/restfcgi_plugin.h"), restfcgi needs ABI major 1"; }
case_missing_symbol() { expect_refused no_symbol "does not export restfcgi_plugin_store_no_symbol"; }
case_short_descriptor() { expect_refused short_struct "descriptor is 8 bytes"; }
case_short_ops_table() { expect_refused short_ops "store ops table is"; }
case_failing_init() { expect_refused init_fails "init failed: test plugin refuses to initialise"; }
case_wrong_kind() { expect_refused wrong_kind "is not a store plugin"; }

# The token manager is loaded like the store, and refuses what it does not know.
case_token_manager_refusals() {
    printf 'plugin_dir = "%s";\nauth = { token_manager = { plugin = "nosuch"; }; };\n' \
        "$RESTFCGI_PLUGIN_DIR" >"$T/c.conf"
    "$RESTFCGI_BIN" -c "$T/c.conf" --check-config >/dev/null 2>"$T/err"
    assert_eq "$?" 1 "exit code for a missing token manager"
    assert_contains "$(cat "$T/err")" "tm_nosuch.so" "names the file"
    printf 'plugin_dir = "%s";\nauth = { token_manager = { plugin = "memory"; secret = "s3cr3t-value"; }; };\n' \
        "$RESTFCGI_PLUGIN_DIR" >"$T/c.conf"
    "$RESTFCGI_BIN" -c "$T/c.conf" --check-config >/dev/null 2>"$T/err"
    assert_eq "$?" 1 "exit code for an unknown key"
    assert_contains "$(cat "$T/err")" "secret" "names the key"
    grep -q 's3cr3t-value' "$T/err" && fail "a configured value reached the error"
    printf 'plugin_dir = "%s";\nauth = { token_manager = { plugin = "memory"; ttl = 0; }; };\n' \
        "$RESTFCGI_PLUGIN_DIR" >"$T/c.conf"
    "$RESTFCGI_BIN" -c "$T/c.conf" --check-config >/dev/null 2>"$T/err"
    assert_eq "$?" 1 "exit code for ttl = 0"
    assert_contains "$(cat "$T/err")" "c.conf:2: auth.token_manager.ttl must be 1 to 525600 minutes" "FILE:LINE and the range"
}

run_case "$@"

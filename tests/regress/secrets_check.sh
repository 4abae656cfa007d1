# The suite-wide secrets check (tests/tools/suite_logs.py) on a made-up
# suite: it finds a leaked password, token or key in any case's log and
# names where, without printing the secret; a clean suite passes.
. "$(dirname "$0")/../lib.sh"

# In $T/data, which the collector skips, so this case's own logs stay clean.
SUITE=$T/data/suite

fake_case() {
    local name=$1 log=$2
    mkdir -p "$SUITE/$name"
    printf '%s\n' "$log" >"$SUITE/$name/api.log"
    printf 'password\tcorrect-horse-battery\nBearer token\tTOKEN-abcdefgh-1234\n' >"$SUITE/$name/secrets"
}

case_finds_a_leaked_secret() {
    fake_case a "restfcgi: started"
    fake_case b "restfcgi: GET /x 401 Authorization: Bearer TOKEN-abcdefgh-1234"
    out=$(python3 "$RESTFCGI_SRC/tests/tools/suite_logs.py" check "$SUITE") && fail "a leak passed: $out"
    assert_contains "$out" "SECRET IN LOG: b/api.log line 1: a Bearer token" "the hit names the log"
    assert_not_contains "$out" "TOKEN-abcdefgh-1234" "the report never prints the secret"
}

case_clean_suite_passes() {
    fake_case a "restfcgi: started"
    fake_case b "restfcgi: GET /x 401 (invalid credentials)"
    out=$(python3 "$RESTFCGI_SRC/tests/tools/suite_logs.py" check "$SUITE") || fail "a clean suite failed: $out"
    assert_contains "$out" "0 hits" "summary"
}

case_collects_what_a_case_used() {
    mkdir -p "$T/data/case/data"
    printf 'auth = { token_manager = { secret = "hs256-secret-for-collect"; }; };\n' >"$T/data/case/c.conf"
    printf 'Status: 200\r\nAuth-Token: issued-token-9876543210\r\n' >"$T/data/case/h"
    printf 'worker 1 started\n' >"$T/data/case/api.log"
    python3 "$RESTFCGI_SRC/tests/tools/suite_logs.py" collect "$T/data/case" "$SUITE/c" || fail "collect failed"
    [ -f "$SUITE/c/api.log" ] || fail "the log was not copied"
    grep -q "hs256-secret-for-collect" "$SUITE/c/secrets" || fail "configured secret not collected"
    grep -q "issued-token-9876543210" "$SUITE/c/secrets" || fail "issued token not collected"
}

run_case "$@"

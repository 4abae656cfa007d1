# The short soak: scripts/soak for 60 s with both token managers at once,
# memory through nginx (spawn-fcgi workers) and jwt through HAProxy
# (restfcgi's supervisor), sqlite store: every answer as expected, no worker
# changed, and no worker's RSS grew by 5% or more. One worker per node:
# it gets all of its node's load, so its allocator settles within the warm-up.
. "$(dirname "$0")/../lib.sh"
need nginx
need haproxy
need spawn-fcgi

case_short_soak_both_token_managers() {
    # The fronts' unprivileged user reaches the sockets under $T.
    chmod 0755 "$T"
    # RSS is read after 25 s of the same load, not at the start: in the
    # first seconds each accept loop's malloc arena and SQLite page cache
    # grow to the load's sizes, without any leak (scripts/soak's help says
    # what was measured; a 10-minute soak leaves out its first third).
    # Under ASan, freed memory waits in ASan's quarantine, whose RSS grows
    # by design up to its cap: it is turned off there, so that the RSS is
    # the program's again.
    ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=0" \
        python3 "$RESTFCGI_SRC/scripts/soak" --seconds 60 --warmup 30 --workers 1 --progress 15 --bcrypt-cost 4 \
        --binary "$RESTFCGI_BIN" --work-dir "$T/soak" >"$T/soak.out" 2>&1 &
    local soak=$!
    PIDS+=("$soak") # stopped (and stopping its nodes) if the case ends early
    wait "$soak"
    local rc=$?
    cat "$T/soak.out"
    # The nodes' logs are deeper than tests/lib.sh looks for sanitizer reports.
    local reports
    reports=$(grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/soak/*/*.log 2>/dev/null)
    [ -z "$reports" ] || fail "sanitizer reports in: $reports"
    [ $rc -eq 0 ] || fail "scripts/soak exit $rc"
    # The figures themselves, not only the exit status.
    local total growth
    total=$(sed -n 's/^  total \+\([0-9]\+\) \+\([0-9]\+\) .*/\1 \2/p' "$T/soak.out")
    [ -n "$total" ] || fail "no total line"
    assert_eq "${total#* }" 0 "errors"
    [ "${total% *}" -gt 1000 ] || fail "only ${total% *} requests in 60 s"
    growth=$(sed -n 's/^RSS growth: at most \([-+0-9.]\+\)%.*/\1/p' "$T/soak.out")
    [ -n "$growth" ] || fail "no RSS growth line"
    python3 -c "import sys; sys.exit(0 if float('$growth') < 5 else 1)" || fail "RSS growth $growth% (limit 5%)"
    [ "$(grep -c ' pid ' "$T/soak.out")" -eq 2 ] || fail "not one worker per node measured"
}

run_case "$@"

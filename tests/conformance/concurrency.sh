# Many writers at once, If-Match races, and workers killed mid-write: every
# acknowledged write is there afterwards.
. "$(dirname "$0")/lib.sh"

# Three workers with two accept loops each, so writes really overlap.
setup() {
    API_WORKERS=3 start_api "$@"
    wait_for fcgi -s "$S" -u /ping || fail "no answer"
    expect PUT /db 201
    expect PUT /db/c 201
}

case_concurrent_inserts() {
    setup
    local pids=()
    for w in 1 2 3 4; do
        (
            for i in $(seq 1 40); do
                fcgi -s "$S" --status-only -m POST -u /db/c -H "Content-Type: application/json" -H "$ADMIN_AUTH" \
                    -d "{\"_id\":\"w$w-$i\",\"w\":$w}"
            done >"$T/writer$w.out"
        ) &
        pids+=($!)
    done
    wait "${pids[@]}" # not a bare wait: the server is a child too
    cat "$T"/writer*.out | sort | uniq -c >"$T/statuses"
    assert_eq "$(cat "$T"/writer*.out | grep -c '^201$')" 160 "acknowledged inserts ($(cat "$T/statuses"))"
    expect GET /db/c/_size 200
    jq_true '._size == 160' "every acknowledged insert is stored"
}

case_if_match_race() {
    setup
    expect POST /db/c 201 '{"_id":"d","v":0}'
    etag=$(header ETag)
    local pids=()
    for i in $(seq 1 8); do
        fcgi -s "$S" --status-only -m PATCH -u /db/c/d -H "Content-Type: application/json" -H "$ADMIN_AUTH" \
            -H "If-Match: $etag" -d "{\"v\":$i}" >"$T/racer$i.out" &
        pids+=($!)
    done
    wait "${pids[@]}"
    assert_eq "$(cat "$T"/racer*.out | grep -c '^200$')" 1 "exactly one winner"
    assert_eq "$(cat "$T"/racer*.out | grep -c '^412$')" 7 "the others get 412"
    winner=$(grep -l '^200$' "$T"/racer*.out | sed 's/.*racer\([0-9]*\).out/\1/')
    expect GET /db/c/d 200
    jq_true ".v == $winner" "the winner's write is the one stored"
}

case_acknowledged_writes_survive_sigkill() {
    setup
    sup=$LAST_PID
    (
        for i in $(seq 1 150); do
            st=$(fcgi -s "$S" --status-only -m POST -u /db/c -H "Content-Type: application/json" -H "$ADMIN_AUTH" \
                -d "{\"_id\":$i,\"pad\":\"$(printf '%0200d' "$i")\"}" 2>/dev/null)
            [ "$st" = 201 ] && echo "$i"
        done >"$T/acked"
    ) &
    writer=$!
    # Kill the oldest worker every 0.4 s while the writer runs: each dies
    # mid-stream, but after its first second, so the supervisor's back-off
    # for crash loops does not stall the run.
    while kill -0 "$writer" 2>/dev/null; do
        victim=$(pgrep -o -P "$sup")
        [ -n "$victim" ] && kill -KILL "$victim"
        sleep 0.4
    done
    wait "$writer"
    acked=$(wc -l <"$T/acked")
    [ "$acked" -ge 10 ] || fail "too few acknowledged writes to judge ($acked)"
    wait_for fcgi -s "$S" -u /ping || fail "no worker came back"
    expect GET '/db/c?pagesize=1000&keys={"_id":1}' 200
    jq -r '.[]._id' "$T/b" | sort -n >"$T/stored"
    missing=$(comm -23 <(sort -n "$T/acked") "$T/stored" | head -5)
    [ -z "$missing" ] || fail "acknowledged writes missing after SIGKILL: $missing"
    if [ "$STORE" = sqlite ]; then
        kill -TERM "$sup"
        wait "$sup" 2>/dev/null
        check=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' "$T/data/restfcgi.sqlite")
        assert_eq "$check" ok "PRAGMA integrity_check"
    fi
    echo "acknowledged $acked of 150 writes under SIGKILL, all present" >&2
}

run_case "$@"

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

# Writes that fail (duplicate _id, stale If-Match) while others succeed, from
# several processes and threads at once: on sqlite they share transactions
# (group commit), and a failing one must undo only itself.
case_failing_writes_undo_only_themselves() {
    setup
    expect POST /db/c 201 '{"_id":"dup"}'
    local stale=000000000000000000000000 pids=()
    for w in 1 2 3 4; do
        (
            for i in $(seq 1 30); do
                case $((i % 3)) in
                0) st=$(fcgi -s "$S" --status-only -m POST -u /db/c -H "Content-Type: application/json" \
                        -H "$ADMIN_AUTH" -d '{"_id":"dup","w":'$w'}') ;;
                1) st=$(fcgi -s "$S" --status-only -m PATCH -u /db/c/dup -H "Content-Type: application/json" \
                        -H "$ADMIN_AUTH" -H "If-Match: $stale" -d '{"$set":{"w":'$w'}}') ;;
                2) st=$(fcgi -s "$S" --status-only -m POST -u /db/c -H "Content-Type: application/json" \
                        -H "$ADMIN_AUTH" -d "{\"_id\":\"w$w-$i\"}") ;;
                esac
                echo "$((i % 3)) $st w$w-$i"
            done >"$T/writer$w.out"
        ) &
        pids+=($!)
    done
    wait "${pids[@]}"
    cat "$T"/writer*.out >"$T/all"
    assert_eq "$(grep -c '^0 409 ' "$T/all")" 40 "duplicate inserts refused ($(cut -d' ' -f1,2 "$T/all" | sort | uniq -c | tr '\n' ' '))"
    assert_eq "$(grep -c '^1 412 ' "$T/all")" 40 "stale If-Match refused"
    assert_eq "$(grep -c '^2 201 ' "$T/all")" 40 "inserts acknowledged"
    expect GET '/db/c?pagesize=1000&keys={"_id":1}' 200
    jq -r '.[]._id' "$T/b" | sort >"$T/stored"
    awk '$1 == 2 {print $3}' "$T/all" | sort >"$T/acked"
    missing=$(comm -23 "$T/acked" "$T/stored" | head -5)
    [ -z "$missing" ] || fail "acknowledged inserts missing: $missing"
    assert_eq "$(wc -l <"$T/stored")" 41 "nothing else stored"
    expect GET /db/c/dup 200
    jq_true '.w == null' "no refused write reached dup"
}

# Several writers, each a chain of conditional PATCHes on its own document,
# each with the ETag the previous one returned: none may see a 412.
case_if_match_chains() {
    setup
    local pids=()
    for w in 1 2 3 4; do
        expect POST /db/c 201 "{\"_id\":\"d$w\",\"n\":0}"
        header ETag >"$T/etag$w"
    done
    for w in 1 2 3 4; do
        (
            etag=$(cat "$T/etag$w")
            for i in $(seq 1 25); do
                fcgi -s "$S" -m PATCH -u "/db/c/d$w" -H "Content-Type: application/json" -H "$ADMIN_AUTH" \
                    -H "If-Match: $etag" -d '{"$inc":{"n":1}}' >"$T/raw$w"
                sed -n 's/^Status: \([0-9]*\).*/\1/p' "$T/raw$w" | head -n1
                etag=$(sed -n 's/^ETag: \(.*\)\r$/\1/Ip' "$T/raw$w" | head -n1)
            done >"$T/chain$w.out"
        ) &
        pids+=($!)
    done
    wait "${pids[@]}"
    cat "$T"/chain*.out | sort | uniq -c >"$T/statuses"
    assert_eq "$(cat "$T"/chain*.out | grep -vc '^200$')" 0 "every PATCH of a chain succeeds ($(cat "$T/statuses"))"
    for w in 1 2 3 4; do
        expect GET "/db/c/d$w" 200
        jq_true '.n == 25' "d$w has every increment"
    done
}

# Many writers while workers are killed: every acknowledged write is there.
case_concurrent_writes_survive_sigkill() {
    setup
    sup=$LAST_PID
    local pids=()
    for w in 1 2 3 4; do
        (
            for i in $(seq 1 60); do
                st=$(fcgi -s "$S" --status-only -m POST -u /db/c -H "Content-Type: application/json" \
                    -H "$ADMIN_AUTH" -d "{\"_id\":\"w$w-$i\"}" 2>/dev/null)
                [ "$st" = 201 ] && echo "w$w-$i"
            done >"$T/acked$w"
        ) &
        pids+=($!)
    done
    sleep 1
    for _ in 1 2 3 4 5; do
        victim=$(pgrep -o -P "$sup")
        [ -n "$victim" ] && kill -KILL "$victim"
        sleep 0.4
    done
    wait "${pids[@]}"
    acked=$(cat "$T"/acked* | wc -l)
    [ "$acked" -ge 10 ] || fail "too few acknowledged writes to judge ($acked)"
    wait_for fcgi -s "$S" -u /ping || fail "no worker came back"
    expect GET '/db/c?pagesize=1000&keys={"_id":1}' 200
    jq -r '.[]._id' "$T/b" | sort >"$T/stored"
    missing=$(comm -23 <(cat "$T"/acked* | sort) "$T/stored" | head -5)
    [ -z "$missing" ] || fail "acknowledged writes missing after SIGKILL: $missing"
    echo "acknowledged $acked of 240 writes under SIGKILL, all present" >&2
}

run_case "$@"

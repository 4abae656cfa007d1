# Outages (issue 9, item 3): the store's disk fills up or turns read-only
# under running workers, the mongo server goes away with a short configured
# timeout, the front server restarts, a request stalls. Each time the user
# sees the documented answers (503 with the JSON error, within the configured
# timeouts; never a 500, a crash or a hang), no acknowledged write is lost,
# and service comes back without restarting the workers (except where the
# kernel itself cannot give the filesystem back, see readonly_store).
# The sqlite cases mount filesystems: they need root and skip (77) without.
STORE=sqlite
export LC_ALL=C
. "$(dirname "$0")/../conformance/lib.sh"

# step WHAT: a progress line with the seconds since the case began.
step() { echo "[$SECONDS s] $*"; }

# What a bound allows beyond the configured timeout: the suite runs under
# ASan on a loaded 2-core machine, where a plain request can take seconds.
# A hang still fails: fcgi_client gives up after 10 s (30 s where the case
# says -t 30), and the bounds stay below that.
SLACK_MS=9000

# now_ms: a monotonic-enough clock for the bounds below.
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# mount_tmpfs DIR SIZE: a tmpfs on DIR, unmounted when the case ends.
mount_tmpfs() {
    mkdir -p "$1"
    mount -t tmpfs -o "size=$2,mode=0755" tmpfs "$1" 2>"$T/mount.err" ||
        skip "cannot mount a tmpfs (needs root): $(cat "$T/mount.err")"
    AT_EXIT+=("umount -l '$1'")
}

# sqlite_node STORE-KEYS [CONFIG-LINES]: restfcgi on $T/s.sock, sqlite store
# in $T/data with STORE-KEYS, 2 workers x 2 accept loops; SUP is the
# supervisor, WORKERS its children.
sqlite_node() {
    local keys=$1; shift
    printf 'plugin_dir = "%s";\nstore = { plugin = "sqlite"; path = "%s"; %s };\n%s\n%s\n' \
        "$RESTFCGI_PLUGIN_DIR" "$T/data" "$keys" "$(default_auth)" "$*" >"$T/c.conf"
    start_server api -c "$T/c.conf" --listen "unix:$T/s.sock" --workers 2 --threads 2
    SUP=$LAST_PID
    S="unix:$T/s.sock"
    wait_socket "$T/s.sock"
    wait_for fcgi -s "$S" -u /ping || fail "no worker answers"
    wait_for test "$(children_of "$SUP" | wc -l)" = 2 || fail "the workers did not start"
    WORKERS=$(children_of "$SUP" | tr '\n' ' ')
}

# fcgi, timed: FCGI_MS is how long the client took (api's parsing aside).
fcgi() {
    local t0 rc
    t0=$(now_ms)
    "$FCGI_CLIENT" "$@"
    rc=$?
    FCGI_MS=$(($(now_ms) - t0))
    return $rc
}

# timed_api METHOD URI [BODY]: api, with the time its request took in MS.
timed_api() {
    api "$@"
    MS=$FCGI_MS
}

# post_doc ID [BYTES]: POST a document; on 201 its id and ETag go to
# $T/acked (the writes the store acknowledged).
post_doc() {
    local pad=""
    [ -n "${2:-}" ] && pad=$(head -c "$2" /dev/zero | tr '\0' p)
    timed_api POST /odb/docs "{\"_id\":\"$1\",\"pad\":\"$pad\"}"
    [ "$STATUS" = 201 ] && echo "$1 $(header ETag)" >>"$T/acked"
    return 0
}

# check_503 WHAT MAX_MS: the last answer is the documented 503 (JSON error
# body), within MAX_MS.
check_503() {
    [ "$STATUS" = 503 ] || fail "$1: expected 503, got $STATUS: $(head -c 300 "$T/b")"
    is_error 503
    [ "$MS" -le "$2" ] || fail "$1: the 503 took $MS ms (bound $2 ms)"
}

# check_acked: every acknowledged write is there with its last ETag.
check_acked() {
    [ -s "$T/acked" ] || fail "no write was acknowledged"
    api GET '/odb/docs?pagesize=1000&keys={"_etag":1}'
    [ "$STATUS" = 200 ] || fail "listing the documents: $STATUS $(head -c 300 "$T/b")"
    jq -r '.[] | "\(._id) \(._etag."$oid" // ._etag)"' "$T/b" | sort >"$T/present"
    # The last ETag acknowledged for each id.
    awk '{last[$1] = $2} END {for (k in last) print k, last[k]}' "$T/acked" | sort >"$T/last"
    local missing
    missing=$(join -v1 "$T/last" "$T/present" | head -n 5)
    [ -z "$missing" ] || fail "acknowledged writes missing: $missing"
    local wrong
    wrong=$(join "$T/last" "$T/present" | awk '$2 != "\"" $3 "\"" && $2 != $3' | head -n 5)
    [ -z "$wrong" ] || fail "acknowledged writes with another ETag (id, acked, present): $wrong"
    echo "$(wc -l <"$T/last") documents of $(wc -l <"$T/acked") acknowledged writes present with their last ETags"
}

# each_worker_writes N: N writes answered by each worker alone (the other
# one stopped meanwhile): every process's write connection and the node's
# writer lock work.
each_worker_writes() {
    local w other i
    for w in $WORKERS; do
        for other in $WORKERS; do [ "$other" != "$w" ] && kill -STOP "$other"; done
        for i in $(seq "$1"); do
            post_doc "w$w-$i-$RANDOM"
            [ "$STATUS" = 201 ] || { kill -CONT $WORKERS; fail "worker $w, write $i: $STATUS $(head -c 300 "$T/b")"; }
        done
        kill -CONT $WORKERS
    done
}

# integrity FILE: PRAGMA integrity_check says ok.
integrity() {
    local r
    r=$(sqlite3 "$1" "PRAGMA integrity_check;" 2>&1)
    assert_eq "$r" ok "PRAGMA integrity_check of $1"
}

# stop_node: SIGTERM to the supervisor; it and its workers end within 10 s.
stop_node() {
    kill -TERM "$SUP"
    for _ in $(seq 100); do kill -0 "$SUP" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SUP" 2>/dev/null && fail "the node did not stop within 10 s of SIGTERM"
    wait "$SUP" 2>/dev/null
    local w
    for w in $WORKERS; do kill -0 "$w" 2>/dev/null && fail "worker $w outlived the supervisor"; done
    return 0
}

# The store's filesystem fills up (a filler file written until ENOSPC)
# while two clients write 96 KiB documents: the WAL grows past SQLite's
# checkpoint size (1000 pages) on a nearly full disk, so checkpoints,
# commits and the WAL's growth all meet ENOSPC. Writes get 503 with the JSON
# error (507 Insufficient Storage is WebDAV's; RESTHeart and SPEC §4 answer
# 503 for a store that cannot serve), within busy_timeout_ms; reads and
# /health still answer 200 (the data is intact and readable). Once the
# filler is gone every worker writes again, no restart; every acknowledged
# write is there with its ETag and the file passes integrity_check.
case_disk_full() {
    need sqlite3
    mount_tmpfs "$T/data" 12m
    local busy=1000 bound=$((1000 + SLACK_MS))
    sqlite_node "busy_timeout_ms = $busy;"
    expect PUT /odb 201
    expect PUT /odb/docs 201
    local i
    for i in $(seq 10); do post_doc "before$i" 1000; [ "$STATUS" = 201 ] || fail "write before$i: $STATUS"; done

    step "filling the disk"
    # Full, then 6 MiB given back: room for the WAL to pass 1000 pages
    # (4 MiB) and fail its checkpoint, then to fill up.
    dd if=/dev/zero of="$T/data/filler" bs=64k 2>"$T/dd.err"
    grep -q "No space left" "$T/dd.err" || fail "the filler did not reach ENOSPC: $(cat "$T/dd.err")"
    truncate -s -6M "$T/data/filler"
    echo "free before the writes: $(df -k --output=avail "$T/data" | tail -n1) KiB"

    step "writing until full"
    # Two writers until each saw 5 503s in a row (200 writes at most).
    writer() {
        local id=$1 n=0 fails=0
        while [ $n -lt 200 ] && [ $fails -lt 5 ]; do
            n=$((n + 1))
            post_doc "full$id-$n" 98304
            echo "$STATUS $MS" >>"$T/full.$id"
            case $STATUS in
            201) fails=0 ;;
            503) fails=$((fails + 1))
                 jq -e '."http status code" == 503 and (.message | type == "string")' "$T/b" >/dev/null ||
                     echo "bad-body $MS" >>"$T/full.$id" ;;
            *) cp "$T/b" "$T/other.$id.$n" ;;
            esac
        done
    }
    # api writes $T/b, $T/h, $T/raw: each writer its own copies.
    (T_ORIG=$T; T=$T/w1; mkdir -p "$T"; cp /dev/null "$T/acked"; writer 1; cat "$T/full.1" >"$T_ORIG/full.1"; cat "$T/acked" >>"$T_ORIG/acked.1") &
    local w1=$!
    PIDS+=("$w1")
    (T_ORIG=$T; T=$T/w2; mkdir -p "$T"; cp /dev/null "$T/acked"; writer 2; cat "$T/full.2" >"$T_ORIG/full.2"; cat "$T/acked" >>"$T_ORIG/acked.2") &
    local w2=$!
    PIDS+=("$w2")
    wait $w1 $w2
    cat "$T/acked.1" "$T/acked.2" >>"$T/acked"
    local summary
    summary=$(cat "$T/full.1" "$T/full.2" | awk '{n[$1]++; if ($2 > max) max = $2} END {for (s in n) printf "%s x%d, ", s, n[s]; printf "max %d ms", max}')
    echo "writes while filling up: $summary"
    echo "free after: $(df -k --output=avail "$T/data" | tail -n1) KiB; files: $(ls -s "$T/data" | tr '\n' ' ')"
    [ -z "$(cat "$T/full.1" "$T/full.2" | awk '$1 != 201 && $1 != 503')" ] ||
        fail "answers other than 201 and 503 (JSON): $summary; $(cat "$T"/w?/other.* 2>/dev/null | head -c 300)"
    local slow
    slow=$(cat "$T/full.1" "$T/full.2" | awk -v b=$bound '$2 > b' | head -n 3)
    [ -z "$slow" ] || fail "writes slower than $bound ms: $slow"
    grep -q '^201' "$T/full.1" "$T/full.2" || fail "no write fit before the disk was full"
    # The WAL went past the checkpoint size (1000 frames of 4 KiB + 24
    # bytes, 4023 KiB), so checkpoints ran on the nearly full disk.
    local wal_kib
    wal_kib=$(du -k "$T/data/restfcgi.sqlite-wal" | cut -f1)
    echo "WAL: $wal_kib KiB; database file: $(du -k "$T/data/restfcgi.sqlite" | cut -f1) KiB"
    [ "$wal_kib" -ge 4000 ] || fail "the WAL stayed below the checkpoint size: the case no longer reaches it"

    step "checks while full"
    # Full: writes of every kind are 503, reads and /health answer.
    timed_api POST /odb/docs '{"_id":"while-full","pad":"'"$(head -c 65536 /dev/zero | tr '\0' q)"'"}'
    check_503 "POST while the disk is full" $bound
    assert_contains "$(jq -r .message "$T/b")" "full" "the 503's message"
    timed_api PUT /odb/more 
    check_503 "PUT a collection while the disk is full" $bound
    timed_api GET /odb/docs/before3
    assert_eq "$STATUS" 200 "GET while the disk is full"
    timed_api GET /health
    assert_eq "$STATUS" 200 "/health while the disk is full (reads work)"

    step "space again"
    # Space again: every worker writes, nothing restarted.
    rm "$T/data/filler"
    each_worker_writes 3
    for i in $(seq 5); do post_doc "after$i" 98304; [ "$STATUS" = 201 ] || fail "write after$i: $STATUS"; done
    step "checking"
    check_acked
    assert_eq "$(children_of "$SUP" | tr '\n' ' ')" "$WORKERS" "worker pids"
    step "stopping"
    stop_node
    integrity "$T/data/restfcgi.sqlite"
}

# stalled_hex WHERE: a FastCGI request that stops mid-way, as hex for
# fcgi_client --raw: in its params (a PARAMS record announced at 100 bytes,
# 2 sent) or in its body (params complete, CONTENT_LENGTH 50, 10 bytes sent).
stalled_hex() {
    python3 - "$1" <<'PY'
import sys
def rec(t, content, announced=None):
    n = len(content) if announced is None else announced
    return bytes([1, t, 0, 1, n >> 8, n & 255, 0, 0]) + content
def pair(k, v):
    return bytes([len(k), len(v)]) + k + v
begin = rec(1, bytes([0, 1, 0, 0, 0, 0, 0, 0]))
if sys.argv[1] == "params":
    out = begin + rec(4, b"\x0b\x03", announced=100)
else:
    params = pair(b"REQUEST_METHOD", b"POST") + pair(b"REQUEST_URI", b"/odb/docs") + \
        pair(b"CONTENT_TYPE", b"application/json") + pair(b"CONTENT_LENGTH", b"50")
    out = begin + rec(4, params) + rec(4, b"") + rec(5, b'{"_id":"st', announced=50)
print(out.hex())
PY
}

# timed_fcgi ARGS...: fcgi_client with ARGS; its exit code in RC, time in MS.
timed_fcgi() {
    fcgi "$@" >"$T/tf.out" 2>&1
    RC=$?
    MS=$FCGI_MS
}

# quick_requests N BOUND WHAT: N rounds of /ping, a document read and a
# write, each answered (200/201) within BOUND ms (the client's own time);
# prints the slowest.
quick_requests() {
    local i max=0 n=$1 bound=$2 what=$3 args
    for i in $(seq "$n"); do
        for args in "-u /ping" "-u /odb/docs/d1" "-m POST -u /odb/docs -d {\"n\":$i}"; do
            # shellcheck disable=SC2086 # args are words
            timed_fcgi -s "$S" -H "$ADMIN_AUTH" -H "Content-Type: application/json" $args --status-only -t 30
            case "$RC $(cat "$T/tf.out")" in "0 200" | "0 201") ;; *) fail "$what: $args: exit $RC: $(cat "$T/tf.out")" ;; esac
            [ "$MS" -le "$bound" ] || fail "$what: $args took $MS ms (bound $bound ms)"
            [ "$MS" -gt $max ] && max=$MS
        done
    done
    echo "$what: $((3 * n)) requests, slowest $max ms"
}

# Slow and stuck requests on a node of 2 workers x 2 accept loops, with
# limits.io_timeout_ms = 3000:
# - three clients trickle their bodies (a byte every 300 ms, 10 s in all,
#   where a request takes some ms):
#   the others' requests keep answering fast, and the slow ones are served;
# - four connections (as many as the node's accept loops) stop sending
#   mid-params or mid-body: each is dropped after io_timeout_ms, and the node
#   answers again (before limits.io_timeout_ms existed they held every
#   accept loop forever and the node answered nothing);
# - one worker stopped (SIGSTOP, as a worker hung outside any request):
#   the other serves every request fast.
case_slow_requests() {
    local io=3000 bound=5000
    sqlite_node "" "limits = { io_timeout_ms = $io; };"
    expect PUT /odb 201
    expect PUT /odb/docs 201
    expect POST /odb/docs 201 '{"_id":"d1","v":1}'
    quick_requests 3 $bound "idle node"

    step "three trickling bodies"
    local i pids=()
    for i in 1 2 3; do
        fcgi -s "$S" -m POST -u /odb/docs -H "$ADMIN_AUTH" -H "Content-Type: application/json" \
            -d "{\"_id\":\"slow$i\",\"pad\":\"abcdef\"}" --chunk 1 --delay-ms 300 -t 40 >"$T/slow.$i" 2>&1 &
        pids+=($!)
    done
    sleep 1
    local t0
    t0=$(now_ms)
    quick_requests 6 $bound "beside three trickling bodies"
    local busy_for=$(($(now_ms) - t0))
    for i in 1 2 3; do
        wait "${pids[$((i - 1))]}" || fail "trickling client $i: exit $?: $(cat "$T/slow.$i")"
        assert_contains "$(cat "$T/slow.$i")" "Status: 201" "trickling client $i's answer"
    done
    step "the trickling writes were served (the quick ones took $busy_for ms meanwhile)"
    expect GET /odb/docs/slow2 200

    step "four stalled connections"
    local params body
    params=$(stalled_hex params)
    body=$(stalled_hex body)
    pids=()
    for i in 1 2 3 4; do
        local hex=$params
        [ $((i % 2)) = 0 ] && hex=$body
        (t0=$(now_ms); fcgi -s "$S" --raw "$hex" -t 30 >"$T/stall.$i" 2>&1; echo "$? $(($(now_ms) - t0))" >"$T/stall.$i.rc") &
        pids+=($!)
    done
    sleep 0.5
    timed_fcgi -s "$S" -u /ping -t 30 --status-only
    echo "/ping with every accept loop stalled: exit $RC, $(cat "$T/tf.out") in $MS ms"
    [ "$RC" = 0 ] && [ "$(cat "$T/tf.out")" = 200 ] || fail "/ping beside the stalled connections: exit $RC: $(cat "$T/tf.out")"
    [ "$MS" -le $((io + SLACK_MS)) ] || fail "/ping waited $MS ms for the stalled connections (io_timeout_ms $io)"
    wait "${pids[@]}"
    for i in 1 2 3 4; do
        read -r rc ms <"$T/stall.$i.rc"
        echo "stalled connection $i: dropped after $ms ms (client exit $rc)"
        [ "$rc" = 0 ] || fail "stalled connection $i was not closed by the server (client exit $rc)"
        [ "$ms" -ge $((io - 500)) ] && [ "$ms" -le $((io + SLACK_MS)) ] ||
            fail "stalled connection $i ended after $ms ms, not about io_timeout_ms $io"
    done
    grep -q "nothing came for limits.io_timeout_ms" "$T/api.log" || fail "no warning logged for the stalled bodies"
    api GET /odb/docs/st
    assert_eq "$STATUS" 404 "the stalled body's document"
    quick_requests 3 $bound "after the stalled connections"

    step "one worker stopped"
    local stopped=${WORKERS%% *}
    kill -STOP "$stopped"
    quick_requests 5 $bound "with worker $stopped stopped"
    kill -CONT "$stopped"
    quick_requests 2 $bound "after SIGCONT"
    assert_eq "$(children_of "$SUP" | tr '\n' ' ')" "$WORKERS" "worker pids"
    # d1, 3 trickled, 19 quick writes; none of the stalled body.
    api GET '/odb/docs/_size'
    jq_true '._size == 23' "every write of the case, once"
}

# front_loop ID KIND: requests through the front server ($URL) until
# $T/stop exists, one line each in $T/front.ID: PHASE STATUS MS; a POST's
# 201 also goes to $T/acked. The phase is read from $T/phase each time;
# $T/seen.ID is the phase of the request under way.
front_loop() {
    local id=$1 kind=$2 phase n=0 out st ms
    while [ ! -e "$T/stop" ]; do
        phase=$(cat "$T/phase")
        echo "$phase" >"$T/seen.$id"
        n=$((n + 1))
        if [ "$kind" = post ]; then
            out=$(curl -s -m 20 -o /dev/null -D "$T/fh.$id" -w '%{http_code} %{time_total}' -H "$ADMIN_AUTH" \
                -H 'Content-Type: application/json' -d "{\"_id\":\"f$id-$n\"}" "$URL/odb/docs")
        else
            out=$(curl -s -m 20 -o /dev/null -w '%{http_code} %{time_total}' -H "$ADMIN_AUTH" "$URL/odb/docs/d1")
        fi
        st=${out%% *}
        ms=$(awk -v t="${out#* }" 'BEGIN {printf "%d", t * 1000}')
        echo "$phase $st $ms" >>"$T/front.$id"
        [ "$kind" = post ] && [ "$st" = 201 ] &&
            echo "f$id-$n $(sed -n 's/^ETag: *\([^\r]*\).*/\1/Ip' "$T/fh.$id")" >>"$T/acked"
        [ "$st" = 000 ] && sleep 0.05 # nothing listens: do not spin
    done
}

# phase_reaches PHASE N: waits (20 s at most) for N answers in PHASE.
phase_reaches() {
    local i
    for i in $(seq 200); do
        [ "$(cat "$T"/front.? 2>/dev/null | awk -v p="$1" '$1 == p' | wc -l)" -ge "$2" ] && return 0
        sleep 0.1
    done
    fail "fewer than $2 requests in phase $1 within 20 s: $(phase_summary "$1")"
}
set_phase() { echo "$1" >"$T/phase.tmp" && mv "$T/phase.tmp" "$T/phase"; }
loops_in() { local i; for i in 1 2 3; do [ "$(cat "$T/seen.$i" 2>/dev/null)" = "$1" ] || return 1; done; }
# phase_summary PHASE: "N requests: STATUS xN ..., max MS ms".
phase_summary() {
    cat "$T"/front.? | awk -v p="$1" '$1 == p {n++; c[$2]++; if ($3 > max) max = $3}
        END {printf "%d requests:", n; for (s in c) printf " %s x%d", s, c[s]; printf ", max %d ms", max}'
}
# phase_not PHASE STATUS...: the lines of PHASE with another status.
phase_not() {
    local p=$1; shift
    cat "$T"/front.? | awk -v p="$p" -v ok="$*" 'BEGIN {split(ok, a, " "); for (i in a) good[a[i]] = 1}
        $1 == p && !($2 in good)'
}

# front_restart EXAMPLE FRONT RELOAD-SIGNAL CMD...: the example's front
# server (FRONT in its pids file, restarted with CMD) restarted under load
# from three clients (two reading, one writing), the restfcgi processes
# untouched: with RELOAD-SIGNAL (none: "-") no request fails; stopped, the
# requests in flight may fail; started again, the very first request
# through it is served, by the same worker processes, and every
# acknowledged write is there.
front_restart() {
    local example=$1 front=$2 reload=$3
    shift 3
    need curl
    step "starting $example"
    export RESTFCGI="$RESTFCGI_BIN" PLUGIN_DIR="$RESTFCGI_PLUGIN_DIR" BCRYPT_COST=4 RUN="$T"
    start_example "$example"
    S="unix:$T/restfcgi.sock"
    local st
    for st in "PUT /odb 201" "PUT /odb/docs 201"; do
        local m=${st%% *} rest=${st#* }
        [ "$(curl -s -o /dev/null -w '%{http_code}' -X "$m" -H "$ADMIN_AUTH" "$URL${rest% *}")" = "${rest#* }" ] ||
            fail "$st through $example"
    done
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "$ADMIN_AUTH" -H 'Content-Type: application/json' \
        -d '{"_id":"d1"}' "$URL/odb/docs")" = 201 ] || fail "POST d1 through $example"
    # The restfcgi processes: spawn-fcgi's, or restfcgi's supervisor and
    # its workers.
    local procs pid
    procs=$(awk '$1 == "restfcgi" {print $2}' "$T/pids")
    for pid in $procs; do procs="$procs $(children_of "$pid")"; done
    procs=$(echo "$procs" | tr ' ' '\n' | sort -u | tr '\n' ' ')
    [ "$(echo "$procs" | wc -w)" -ge 2 ] || fail "expected the workers' pids, have: $procs"
    step "restfcgi processes: $procs"

    set_phase up
    local i loops=()
    for i in 1 2 3; do
        local kind=get
        [ $i = 3 ] && kind=post
        front_loop $i $kind &
        loops+=($!)
        PIDS+=($!) # stopped with the case, should it fail
    done
    phase_reaches up 6
    if [ "$reload" != - ]; then
        set_phase reload
        wait_for loops_in reload || fail "the clients did not move to phase reload"
        kill -"$reload" "$(awk -v f="$front" '$1 == f {print $2}' "$T/pids" | tail -n1)"
        phase_reaches reload 12
    fi

    step "stopping $front"
    # Stop: requests sent meanwhile are phase "stopping".
    set_phase stopping
    wait_for loops_in stopping || fail "the clients did not move to phase stopping"
    local fpid
    fpid=$(awk -v f="$front" '$1 == f {print $2}' "$T/pids" | tail -n1)
    kill -TERM "$fpid"
    for _ in $(seq 100); do kill -0 "$fpid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$fpid" 2>/dev/null && fail "$front did not stop"
    set_phase down
    sleep 1
    # Started again: the first request that reaches it must be served.
    set_phase starting
    "$@" >>"$T/$front.restart.log" 2>&1 </dev/null &
    fpid=$!
    echo "$front $fpid" >>"$T/pids"
    local t0 tries=0
    t0=$(now_ms)
    while :; do
        tries=$((tries + 1))
        st=$(curl -s -o /dev/null -w '%{http_code}' -H "$ADMIN_AUTH" "$URL/odb/docs/d1")
        [ "$st" != 000 ] && break
        [ $(($(now_ms) - t0)) -lt 10000 ] || fail "$front did not listen again within 10 s: $(tail -n 5 "$T/$front.restart.log")"
        sleep 0.02
    done
    assert_eq "$st" 200 "the first request through the restarted $front"
    step "$front listening again after $(($(now_ms) - t0)) ms; its first request: $st"
    set_phase up_again
    phase_reaches up_again 9
    touch "$T/stop"
    wait "${loops[@]}"

    step "checking"
    local p
    for p in up reload stopping down starting up_again; do echo "phase $p: $(phase_summary $p)"; done
    local bad
    for p in up reload up_again; do
        bad=$(phase_not $p 200 201 | head -n 3)
        [ -z "$bad" ] || fail "phase $p: failed requests: $bad ($(phase_summary $p))"
    done
    # Around the restart: served, or refused (000) or 502 for what was in
    # flight; never a restfcgi error. (A client may read the phase "down"
    # and send once the front is back: 200 there is fine too.)
    bad=$(for p in stopping down starting; do phase_not $p 200 201 000 502; done)
    [ -z "$bad" ] || fail "unexpected answers around the restart: $(echo "$bad" | head -n 3)"

    for pid in $procs; do kill -0 "$pid" 2>/dev/null || fail "restfcgi process $pid is gone"; done
    local now
    now=$(awk '$1 == "restfcgi" {print $2}' "$T/pids")
    for pid in $now; do now="$now $(children_of "$pid")"; done
    assert_eq "$(echo "$now" | tr ' ' '\n' | sort -u | tr '\n' ' ')" "$procs" "restfcgi pids after the restart"
    check_acked
}

case_front_restart_nginx() {
    need nginx; need spawn-fcgi
    front_restart nginx/keepalive nginx HUP nginx -p "$T" -e "$T/nginx.err" -c "$T/nginx.conf" -g 'daemon off;'
}

case_front_restart_haproxy() {
    need haproxy
    front_restart haproxy/fcgi-app haproxy - haproxy -f "$T/haproxy.cfg" -db
}

# mongo_node NAME SST_MS: restfcgi on $T/NAME.sock over $MONGO_URI with
# server_selection_timeout_ms = SST_MS (connect 200 ms, socket 2000 ms).
mongo_node() {
    cat >"$T/$1.conf" <<CONF
plugin_dir = "$RESTFCGI_PLUGIN_DIR";
store = { plugin = "mongo"; uri = "$MONGO_URI";
          server_selection_timeout_ms = $2; connect_timeout_ms = 200; socket_timeout_ms = 2000; };
$(default_auth)
CONF
    start_server "$1" -c "$T/$1.conf" --listen "unix:$T/$1.sock" --workers 1 --threads 2
    wait_socket "$T/$1.sock"
    wait_for fcgi -s "unix:$T/$1.sock" -u /ping || fail "node $1 does not answer"
}

# The mongo server gone: tests/mongo/outage.sh covers load, recovery and
# the worker pids with server_selection_timeout_ms = 1000. Here, the bound
# is the configured one: two nodes on one server, selection timeouts of
# 300 ms and 4000 ms; once the server is killed each answers every request
# (read, write, /health) with the JSON 503, the first within 300 ms plus a
# margin (3 s in all: ASan on a loaded machine), the second after about 4 s
# and not much later.
case_mongo_selection_timeout() {
    start_jongodb
    mongo_node short 300
    mongo_node long 4000
    S="unix:$T/short.sock"
    expect PUT /odb 201
    expect PUT /odb/docs 201
    expect POST /odb/docs 201 '{"_id":"d1"}'
    S="unix:$T/long.sock"
    expect GET /odb/docs/d1 200
    expect GET /health 200

    kill -KILL "$MONGO_PID"
    wait "$MONGO_PID" 2>/dev/null
    step "mongo server killed"
    local node lo hi n req
    for node in short long; do
        S="unix:$T/$node.sock"
        case $node in short) lo=0 hi=3000 n=2 ;; long) lo=3500 hi=$((4000 + SLACK_MS)) n=1 ;; esac
        local max=0 min=999999
        for _ in $(seq "$n"); do
            for req in "GET /odb/docs/d1" "POST /odb/docs" "GET /health"; do
                if [ "${req%% *}" = POST ]; then timed_api POST /odb/docs '{"v":1}'; else timed_api ${req}; fi
                check_503 "$node: $req" $hi
                [ "$MS" -ge "$lo" ] || fail "$node: $req: 503 after $MS ms, before the selection timeout"
                [ "$MS" -gt $max ] && max=$MS
                [ "$MS" -lt $min ] && min=$MS
            done
        done
        step "node $node: $((3 * n)) requests, 503 in $min..$max ms"
    done
    # Both nodes stop promptly with the server gone.
    local t0
    t0=$(now_ms)
    kill -TERM "${PIDS[1]}" "${PIDS[2]}"
    for _ in $(seq 100); do kill -0 "${PIDS[1]}" 2>/dev/null || kill -0 "${PIDS[2]}" 2>/dev/null || break; sleep 0.1; done
    kill -0 "${PIDS[1]}" 2>/dev/null || kill -0 "${PIDS[2]}" 2>/dev/null && fail "a node did not stop within 10 s"
    step "both nodes stopped in $(($(now_ms) - t0)) ms"
}

# The store's filesystem turns read-only under running workers, as ext4
# does on an error with errors=remount-ro (here triggered through
# /sys/fs/ext4/DEV/trigger_fs_error on a loop-mounted image). A plain
# `mount -o remount,ro` cannot do it: the kernel refuses it (busy) while
# SQLite holds the database, WAL and shm open for writing. Writes of every
# kind get the JSON 503 within busy_timeout_ms, from every worker; reads
# and /health keep answering from the database as it is; no 500, no crash.
# The kernel (6.x, "emergency_ro") gives such a filesystem back only through
# an unmount, so recovery is a restart of the node: it stops cleanly, the
# filesystem is checked and mounted again, and every acknowledged write is
# there with its last ETag; new writes succeed.
case_readonly_store() {
    need sqlite3; need mkfs.ext4; need e2fsck; need findmnt
    [ -e /dev/loop-control ] || skip "no loop devices"
    truncate -s 32M "$T/store.img"
    mkfs.ext4 -q -F -O ^has_journal "$T/store.img" >"$T/mkfs.log" 2>&1 || fail "mkfs.ext4: $(cat "$T/mkfs.log")"
    mkdir -p "$T/data"
    mount -o loop,errors=remount-ro "$T/store.img" "$T/data" 2>"$T/mount.err" ||
        skip "cannot mount a loop device (needs root): $(cat "$T/mount.err")"
    AT_EXIT+=("umount -l '$T/data'")
    local dev trigger
    dev=$(findmnt -n -o SOURCE "$T/data")
    trigger=/sys/fs/ext4/$(basename "$dev")/trigger_fs_error
    [ -w "$trigger" ] || skip "$trigger is missing"

    local busy=1000 bound=$((1000 + SLACK_MS)) i
    sqlite_node "busy_timeout_ms = $busy;"
    expect PUT /odb 201
    expect PUT /odb/docs 201
    for i in $(seq 12); do post_doc "ro$i" 2000; [ "$STATUS" = 201 ] || fail "write ro$i: $STATUS"; done
    for i in 2 4; do
        expect PUT "/odb/docs/ro$i" 200 "{\"v\":\"replaced\"}"
        echo "ro$i $(header ETag)" >>"$T/acked"
    done

    step "the filesystem turns read-only"
    echo "outage test" >"$trigger"
    touch "$T/data/probe" 2>/dev/null && fail "the filesystem is still writable"
    findmnt -n -o OPTIONS "$T/data"

    timed_api POST /odb/docs '{"_id":"after-ro"}'
    check_503 "POST on a read-only store" $bound
    echo "the 503: $(jq -r .message "$T/b")"
    timed_api PUT /odb/docs/ro3 '{"v":"x"}'
    check_503 "PUT a document" $bound
    timed_api PATCH /odb/docs/ro5 '{"$set":{"v":"x"}}'
    check_503 "PATCH a document" $bound
    timed_api DELETE /odb/docs/ro6
    check_503 "DELETE a document" $bound
    timed_api PUT /odb/other
    check_503 "PUT a collection" $bound
    # From each worker alone, twice.
    local w other
    for w in $WORKERS; do
        for other in $WORKERS; do [ "$other" != "$w" ] && kill -STOP "$other"; done
        for i in 1 2; do
            timed_api POST /odb/docs "{\"_id\":\"ro-w$w-$i\"}"
            [ "$STATUS" = 503 ] && [ "$MS" -le $bound ] || { kill -CONT $WORKERS; fail "worker $w: POST $STATUS in $MS ms"; }
            timed_api GET /odb/docs/ro7
            [ "$STATUS" = 200 ] || { kill -CONT $WORKERS; fail "worker $w: GET on a read-only store: $STATUS $(head -c 300 "$T/b")"; }
        done
        kill -CONT $WORKERS
    done
    # Reads: every document as acknowledged.
    check_acked
    timed_api GET /health
    assert_eq "$STATUS" 200 "/health on a read-only store (reads work)"
    assert_eq "$(children_of "$SUP" | tr '\n' ' ')" "$WORKERS" "worker pids"

    step "recovery"
    mount -o remount,rw "$T/data" 2>/dev/null
    if touch "$T/data/probe" 2>/dev/null; then
        # A kernel that gives the filesystem back in place: no restart.
        rm -f "$T/data/probe"
        echo "remounted read-write in place"
        each_worker_writes 2
    else
        echo "read-only until unmounted (emergency_ro): restarting the node"
        stop_node
        umount "$T/data" || fail "cannot unmount the store: $(fuser -vm "$T/data" 2>&1)"
        e2fsck -fy "$T/store.img" >"$T/fsck.log" 2>&1
        [ $? -le 1 ] || fail "e2fsck: $(cat "$T/fsck.log")"
        mount -o loop "$T/store.img" "$T/data" || fail "cannot mount the store again"
        rm -f "$T/s.sock"
        sqlite_node "busy_timeout_ms = $busy;"
    fi
    check_acked
    for i in 1 2 3; do post_doc "back$i"; [ "$STATUS" = 201 ] || fail "write back$i: $STATUS $(head -c 300 "$T/b")"; done
    stop_node
    integrity "$T/data/restfcgi.sqlite"
}

run_case "$@"

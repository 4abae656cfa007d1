# The MongoDB server goes away under load and comes back on the same port.
# While it is down every request is a 503 with the JSON error body, none
# takes longer than the driver's timeouts plus a margin, none is a 500 or a
# hang, and no worker dies; once it is back, requests succeed again within
# seconds, with the same workers.
STORE=mongo
. "$(dirname "$0")/../conformance/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || skip "/usr/bin/python3 is missing"
"$PY" -c 'import pymongo, bson' 2>/dev/null || skip "python3-pymongo is not installed (scripts/install-deps --test)"

MAX_MS=5000       # no request may take longer (timeouts below + margin)
LOADERS=4         # background request loops: 2 GET by id, 2 POST

# jongodb_on_port: jongodb again on $MONGO_PORT (start_jongodb picked it).
jongodb_on_port() {
    local mark
    mark=$(wc -l <"$T/jongodb.log")
    "$JONGODB_BIN" --host=127.0.0.1 --port="$MONGO_PORT" --replica-set-name=rs0 \
        --topology-profile=single_node_replicaset >>"$T/jongodb.log" 2>&1 </dev/null &
    MONGO_PID=$!
    PIDS+=("$MONGO_PID")
    wait_for sh -c "tail -n +$((mark + 1)) '$T/jongodb.log' | grep -q 'JONGODB_URI=mongodb://127.0.0.1:$MONGO_PORT/'" ||
        fail "jongodb did not restart on port $MONGO_PORT: $(tail -n 5 "$T/jongodb.log")"
}

# jongodb keeps everything in memory: a restarted one is empty, where a real
# MongoDB would still hold the data. The workers are not restarted (that is
# the point), so nothing would re-create the admin user (made at worker
# start) or the catalog: `snapshot` copies, with pymongo, every namespace the
# case uses (the plugin's catalog _restfcgi._properties, restfcgi.users,
# restfcgi.acl, odb.docs) and `restore` puts them back into the new server,
# as if it had kept its data. (jongodb has no listDatabases/listCollections,
# so the namespaces are named here.)
cat >"$T/snap.py" <<'PY'
import os, sys
from bson import json_util
from bson.codec_options import CodecOptions
from bson.json_util import JSONOptions, CANONICAL_JSON_OPTIONS
from bson.son import SON
from pymongo import MongoClient
NS = ["_restfcgi._properties", "restfcgi.users", "restfcgi.acl", "odb.docs"]
client = MongoClient(os.environ["MONGO_URI"], serverSelectionTimeoutMS=10000)
codec = CodecOptions(document_class=SON, tz_aware=True)
path = sys.argv[2]
if sys.argv[1] == "snapshot":
    with open(path, "w") as f:
        for ns in NS:
            db, coll = ns.split(".", 1)
            for d in client.get_database(db, codec_options=codec)[coll].find():
                f.write(ns + "\t" + json_util.dumps(d, json_options=CANONICAL_JSON_OPTIONS) + "\n")
else:
    n = 0
    with open(path) as f:
        for line in f:
            ns, text = line.rstrip("\n").split("\t", 1)
            db, coll = ns.split(".", 1)
            client[db][coll].insert_one(json_util.loads(text, json_options=JSONOptions(document_class=SON, tz_aware=True)))
            n += 1
    print(n)
PY

# load_loop ID KIND: requests until $T/stop exists, one line per request in
# $T/load.ID: PHASE KIND STATUS MS. The phase is read from $T/phase before
# each request; in phase "idle" the loop sends nothing and says so with
# $T/idle.ID. $T/seen.ID holds the phase of the request under way.
load_loop() {
    local id=$1 kind=$2 phase t0 rc st ms args
    case $kind in
    get) args=(-m GET -u "/odb/docs/$DOC_ID") ;;
    post) args=(-m POST -u /odb/docs -d '{"from":"load","n":{"$numberLong":"1"}}' -H "Content-Type: application/json") ;;
    esac
    while [ ! -e "$T/stop" ]; do
        phase=$(cat "$T/phase")
        if [ "$phase" = idle ]; then
            touch "$T/idle.$id"
            sleep 0.05
            continue
        fi
        rm -f "$T/idle.$id"
        echo "$phase" >"$T/seen.$id"
        t0=$(date +%s%N)
        "$FCGI_CLIENT" -s "$S" "${args[@]}" -H "$ADMIN_AUTH" -t 15 >"$T/r.$id" 2>&1
        rc=$?
        ms=$((($(date +%s%N) - t0) / 1000000))
        if [ $rc -ne 0 ]; then
            st="client-exit-$rc"
        else
            st=$(sed -n 's/^Status: \([0-9]*\).*/\1/p' "$T/r.$id" | head -n1)
            st=${st:-200}
            if [ "$st" = 503 ]; then
                # The body after the blank line must be the JSON error.
                awk 'b {print} /^\r?$/ {b=1}' "$T/r.$id" |
                    jq -e '."http status code" == 503 and ."http status description" == "Service Unavailable" and (.message | type == "string" and length > 0)' \
                        >/dev/null 2>&1 || { st=503-bad-body; cp "$T/r.$id" "$T/bad503.$id"; }
            elif [ "$st" != 200 ] && [ "$st" != 201 ]; then
                cp "$T/r.$id" "$T/other.$id.$st"
            fi
        fi
        echo "$phase $kind $st $ms" >>"$T/load.$id"
    done
}

set_phase() { echo "$1" >"$T/phase.tmp" && mv "$T/phase.tmp" "$T/phase"; }

# all_loops_in PHASE: every loop has finished its requests of earlier
# phases (its request under way, if any, is of PHASE).
all_loops_in() {
    local i
    for i in $(seq 0 $((LOADERS - 1))); do
        [ "$(cat "$T/seen.$i" 2>/dev/null)" = "$1" ] || return 1
    done
}

# counts PHASE: "ok N, 503 N, other N (...), max MS ms" over every loop.
counts() {
    cat "$T"/load.* | awk -v p="$1" '$1 == p {
        n++; if ($3 == 200 || $3 == 201) ok++; else if ($3 == 503) s++; else { o++; what[$3]++ }
        if ($4 > max) max = $4 }
        END { printf "%d requests: ok %d, 503 %d, other %d", n, ok, s, o
              for (w in what) printf " [%s x%d]", w, what[w]
              printf ", max %d ms", max }'
}
phase_field() { cat "$T"/load.* | awk -v p="$1" -v f="$2" '$1 == p && $3 == f' | wc -l; }
phase_total() { cat "$T"/load.* | awk -v p="$1" '$1 == p' | wc -l; }
phase_bad() { cat "$T"/load.* | awk -v p="$1" '$1 == p && $3 != 200 && $3 != 201 && $3 != 503' | wc -l; }

# timed_health: /health's status and time; body in $T/health.
timed_health() {
    local t0 rc
    t0=$(date +%s%N)
    "$FCGI_CLIENT" -s "$S" -u /health -t 15 >"$T/health.raw" 2>&1
    rc=$?
    HEALTH_MS=$((($(date +%s%N) - t0) / 1000000))
    awk 'b {print} /^\r?$/ {b=1}' "$T/health.raw" >"$T/health"
    HEALTH=$(sed -n 's/^Status: \([0-9]*\).*/\1/p' "$T/health.raw" | head -n1)
    HEALTH=${HEALTH:-200}
    [ $rc -eq 0 ] || HEALTH="client-exit-$rc"
}

case_server_killed_and_restarted() {
    start_jongodb
    cat >"$T/c.conf" <<CONF
plugin_dir = "$RESTFCGI_PLUGIN_DIR";
store = { plugin = "mongo"; uri = "$MONGO_URI";
          server_selection_timeout_ms = 1000; socket_timeout_ms = 2000; connect_timeout_ms = 500; };
$(default_auth)
CONF
    start_server api -c "$T/c.conf" --listen "unix:$T/s.sock" --workers 2 --threads 2
    SUP=$LAST_PID
    wait_socket "$T/s.sock"
    S="unix:$T/s.sock"
    wait_for fcgi -s "$S" -u /ping || fail "no worker answers"

    expect PUT /odb 201
    expect PUT /odb/docs 201
    expect POST /odb/docs 201 '{"_id":"doc1","v":"the document the loaders read"}'
    DOC_ID=doc1
    for i in $(seq 20); do expect POST /odb/docs 201 "{\"i\":$i}"; done
    timed_health
    assert_eq "$HEALTH" 200 "/health with the server up"
    local workers_before
    workers_before=$(children_of "$SUP" | tr '\n' ' ')
    [ "$(wc -w <<<"$workers_before")" = 2 ] || fail "expected 2 workers, have: $workers_before"
    echo "workers: $workers_before"

    set_phase up
    local i kinds=(get post get post) loaders=()
    for i in $(seq 0 $((LOADERS - 1))); do
        load_loop "$i" "${kinds[$i]}" &
        loaders+=($!)
        PIDS+=($!)
    done
    sleep 3

    # Down: SIGTERM, SIGKILL after 3 s. Requests in flight meanwhile are
    # phase "stopping" (either answer is fine, a slow one is not).
    MONGO_URI="$MONGO_URI" "$PY" "$T/snap.py" snapshot "$T/snapshot" || fail "snapshot failed"
    # Requests of phase "up" all end before the server goes.
    set_phase stopping
    wait_for all_loops_in stopping || fail "the loaders did not move to phase stopping"
    kill -TERM "$MONGO_PID"
    for _ in $(seq 30); do kill -0 "$MONGO_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$MONGO_PID" 2>/dev/null && echo "jongodb needed SIGKILL"
    wait "$MONGO_PID" 2>/dev/null
    # Requests sent before the death end before the strict count starts.
    set_phase down
    wait_for all_loops_in down || fail "the loaders did not move to phase down"
    local t_down
    t_down=$(date +%s%N)
    sleep 3
    timed_health
    echo "/health while down: $HEALTH in $HEALTH_MS ms: $(head -c 300 "$T/health")"
    assert_eq "$HEALTH" 503 "/health while the server is down"
    jq -e '."http status code" == 503 and (.message | type == "string")' "$T/health" >/dev/null ||
        fail "/health 503 body is not the JSON error: $(head -c 300 "$T/health")"
    [ "$HEALTH_MS" -le "$MAX_MS" ] || fail "/health took $HEALTH_MS ms while down"
    sleep 3
    echo "down for $((($(date +%s%N) - t_down) / 1000000)) ms"

    # Stop the load, bring the server back on the same port with its data.
    set_phase idle
    for i in $(seq 0 $((LOADERS - 1))); do
        wait_for test -e "$T/idle.$i" || { sleep 10; test -e "$T/idle.$i"; } || fail "loader $i never went idle"
    done
    local t_restart restored t_restored tries=0
    jongodb_on_port
    t_restart=$(date +%s%N)
    # The driver must rediscover the server: /health (a ping, no data
    # needed) until 200, every 100 ms, 15 s at most.
    while :; do
        tries=$((tries + 1))
        timed_health
        [ "$HEALTH" = 200 ] && break
        [ "$HEALTH" = 503 ] || fail "/health after the restart, try $tries: $HEALTH $(head -c 300 "$T/health")"
        [ $((($(date +%s%N) - t_restart) / 1000000)) -lt 15000 ] || fail "/health still 503 15 s after the restart"
        sleep 0.1
    done
    echo "jongodb back on port $MONGO_PORT; /health 200 after $((($(date +%s%N) - t_restart) / 1000000)) ms (try $tries)"
    restored=$(MONGO_URI="$MONGO_URI" "$PY" "$T/snap.py" restore "$T/snapshot") || fail "restore failed"
    t_restored=$(date +%s%N)
    echo "$restored documents restored with pymongo in $(((t_restored - t_restart) / 1000000)) ms after the restart"

    # The first requests: each worker may still have to rediscover the
    # server (the health check reached one of them), so 503 is allowed for
    # up to 15 s; anything else fails.
    tries=0
    while :; do
        tries=$((tries + 1))
        api GET /odb/docs/doc1
        [ "$STATUS" = 200 ] && break
        [ "$STATUS" = 503 ] || fail "after the restart, request $tries: $STATUS $(head -c 300 "$T/b")"
        [ $((($(date +%s%N) - t_restart) / 1000000)) -lt 15000 ] || fail "still 503 15 s after the restart"
        sleep 0.1
    done
    echo "first GET 200 at request $tries, $((($(date +%s%N) - t_restored) / 1000000)) ms after the restore"
    jq_true '.v == "the document the loaders read"' "document after the restart"
    for i in $(seq 20); do
        expect GET /odb/docs/doc1 200
        expect POST /odb/docs 201 "{\"after\":$i}"
    done
    timed_health
    assert_eq "$HEALTH" 200 "/health after the restart"

    set_phase up_again
    sleep 3
    touch "$T/stop"
    wait "${loaders[@]}"

    local workers_after
    workers_after=$(children_of "$SUP" | tr '\n' ' ')

    echo "phase up:       $(counts up)"
    echo "phase stopping: $(counts stopping)"
    echo "phase down:     $(counts down)"
    echo "phase up_again: $(counts up_again)"

    # Every request, in every phase: no 500, no hang, no bad 503 body.
    local slow
    slow=$(cat "$T"/load.* | awk -v m="$MAX_MS" '$4 > m' | head -n 5)
    [ -z "$slow" ] || fail "requests slower than $MAX_MS ms: $slow"
    for p in up stopping down up_again; do
        [ "$(phase_bad $p)" = 0 ] || fail "phase $p: unexpected answers: $(counts $p); e.g. $(cat "$T"/other.* "$T"/bad503.* 2>/dev/null | head -c 600)"
    done
    [ "$(phase_field up 503)" = 0 ] || fail "503 while the server was up: $(counts up)"
    [ "$(phase_field up_again 503)" = 0 ] || fail "503 after the restart: $(counts up_again)"
    [ "$(phase_total down)" -ge 8 ] || fail "too few requests while down: $(counts down)"
    [ "$(phase_field down 503)" = "$(phase_total down)" ] || fail "not all 503 while down: $(counts down)"
    [ "$(phase_total up_again)" -ge 8 ] || fail "too few requests after the restart: $(counts up_again)"

    assert_eq "$workers_after" "$workers_before" "worker pids"
    kill -0 "$SUP" || fail "the supervisor died"
    if grep -qiE 'segfault|abort|respawn|died|exited' "$T/api.log"; then
        echo "api.log mentions:" >&2
        grep -iE 'segfault|abort|respawn|died|exited' "$T/api.log" | head -n 5 >&2
    fi
}

# The replica set is down when the workers start: they serve 503 (never a
# crash, never a 401 that would count as a failed login), and once it is up
# they find it, create the admin of the empty users collection and serve.
case_server_down_at_start() {
    MONGO_PORT=$(free_port)
    MONGO_URI="mongodb://127.0.0.1:$MONGO_PORT/?replicaSet=rs0"
    : >"$T/jongodb.log"
    cat >"$T/c.conf" <<CONF
plugin_dir = "$RESTFCGI_PLUGIN_DIR";
store = { plugin = "mongo"; uri = "$MONGO_URI";
          server_selection_timeout_ms = 1000; socket_timeout_ms = 2000; connect_timeout_ms = 500; };
$(default_auth)
CONF
    start_server api -c "$T/c.conf" --listen "unix:$T/s.sock" --workers 2 --threads 2
    SUP=$LAST_PID
    wait_socket "$T/s.sock"
    S="unix:$T/s.sock"
    wait_for fcgi -s "$S" -u /ping || fail "no worker answers"
    local workers_before i
    workers_before=$(children_of "$SUP" | tr '\n' ' ')
    for i in $(seq 6); do
        expect GET / 503
        is_error 503
    done
    expect GET /health 503
    jongodb_on_port
    local t0=$SECONDS
    while :; do
        api GET /
        [ "$STATUS" = 200 ] && break
        [ "$STATUS" = 503 ] || fail "after the start of the server: $STATUS $(head -c 300 "$T/b")"
        [ $((SECONDS - t0)) -lt 15 ] || fail "still 503 15 s after the server started"
        sleep 0.2
    done
    echo "the admin logged in $((SECONDS - t0)) s after the server started"
    for i in $(seq 10); do expect GET / 200; done
    expect PUT /late 201
    expect GET /late 200
    assert_eq "$(children_of "$SUP" | tr '\n' ' ')" "$workers_before" "worker pids"
    grep -q "users initialised after the store came back" "$T/api.log" ||
        fail "no worker says it initialised the users late: $(tail -n 5 "$T/api.log")"
}

run_case "$@"

# Crash consistency through a real front server: concurrent POST, PUT and
# PATCH (If-Match chains, tests/tools/crash_writes.py) while single workers
# and then the whole node (every restfcgi process of it: the supervisor and
# its workers, or all that spawn-fcgi started) are killed with SIGKILL at
# random moments and the node is started again, several times. Afterwards
# every acknowledged write is there with its last acknowledged ETag and
# content (or, after it, one of the writes that got no answer), nothing else
# is, and on sqlite every crash image and the final file pass
# PRAGMA integrity_check.
#   CRASH_SEED=N    replays a kill schedule (each run prints its seed)
#   CRASH_ROUNDS=N  rounds (default 5): 1 or 2 worker kills, a node kill,
#                   and in one round of three a second as the node starts
. "$(dirname "$0")/../lib.sh"
need curl

PY=$(command -v /usr/bin/python3 || command -v python3) # not a slow pyenv shim
WRITES="$RESTFCGI_SRC/tests/tools/crash_writes.py"
export RESTFCGI="$RESTFCGI_BIN" PLUGIN_DIR="$RESTFCGI_PLUGIN_DIR" BCRYPT_COST=4 RUN="$T"
export WORKERS=3 THREADS=4
export CRASH_AUTH="Basic $(printf 'admin:%s' "$RESTFCGI_ADMIN_PASSWORD" | base64 -w0)"
SEED=${CRASH_SEED:-$((RANDOM * 32768 + RANDOM))}
ROUNDS=${CRASH_ROUNDS:-5}
RANDOM=$SEED # the kill schedule below is this seed's
KILLS=0      # SIGKILLs sent: single workers and whole nodes
NODE_KILLS=0

# say WHAT: progress on stderr, with the seconds since the case started.
say() { echo "[${SECONDS}s] $*" >&2; }

# alive PID: running (not gone, not a zombie nobody reaped yet).
alive() { [ -r "/proc/$1/stat" ] && ! grep -q '^[0-9]* ([^)]*) Z' "/proc/$1/stat" 2>/dev/null; }
gone() { ! alive "$1"; }

# The restfcgi processes examples/run recorded (a supervisor, or the
# workers spawn-fcgi started), those still alive.
recorded() {
    local p
    for p in $(awk '$1 == "restfcgi" {print $2}' "$T/pids"); do alive "$p" && echo "$p"; done
}

# workers: the processes that serve requests: a supervisor's children, or
# the recorded processes themselves.
workers() {
    local p kids
    for p in $(recorded); do
        kids=$(pgrep -P "$p")
        if [ -n "$kids" ]; then echo "$kids"; else echo "$p"; fi
    done
}

# nap LO_MS HI_MS: sleeps a random time (drawn here, not in a subshell,
# which would reseed RANDOM and lose the replay).
nap() { local ms=$(($1 + RANDOM % ($2 - $1 + 1))); sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"; }

kill_worker() {
    local all=($(workers))
    [ ${#all[@]} -gt 0 ] || fail "no worker left to kill"
    local victim=${all[RANDOM % ${#all[@]}]}
    kill -KILL "$victim" 2>/dev/null && KILLS=$((KILLS + 1)) && say "killed worker $victim"
}

# Every restfcgi process of the node runs with -c $T/restfcgi.conf.
no_process_of_node() { ! pgrep -f -- "-c $T/restfcgi.conf" >/dev/null; }

# kill_node: every process of the node at once with SIGKILL (the
# supervisor first, so that it respawns nothing), then nothing of it runs.
kill_node() {
    local sups=($(recorded)) pids
    pids=$(for p in "${sups[@]}"; do echo "$p"; pgrep -P "$p"; done)
    [ -n "$pids" ] || fail "no node to kill"
    kill -KILL $pids 2>/dev/null
    KILLS=$((KILLS + 1))
    NODE_KILLS=$((NODE_KILLS + 1))
    for p in $pids; do
        wait_for gone "$p" || fail "process $p of the node outlived SIGKILL"
    done
    # A worker forked as its supervisor died gets SIGTERM (PDEATHSIG): gone too.
    wait_for no_process_of_node ||
        fail "restfcgi processes outlived their node: $(pgrep -a -f -- "-c $T/restfcgi.conf")"
    awk -v dead=" $(echo $pids) " '!(index(dead, " " $2 " "))' "$T/pids" >"$T/pids.new"
    mv "$T/pids.new" "$T/pids"
    say "killed the node:" $pids
}

# launch_node: the node again, as examples/run started it (examples/lib.sh).
launch_node() {
    (
        . "$RESTFCGI_SRC/examples/lib.sh"
        if [ "$NODE" = supervisor ]; then
            listen_workers "unix:$T/restfcgi.sock" "$T/restfcgi.conf"
        else
            spawn_fcgi "$T/restfcgi.sock" "$T/restfcgi.conf"
        fi
    ) >>"$T/restart.log" 2>&1 || fail "the node did not start again: $(tail -n 5 "$T/restart.log")"
}

# await_node: the front answers through the node.
await_node() {
    for _ in $(seq 300); do
        [ "$(http_status "$URL/ping" -m 5)" = 200 ] && say "the node answers again" && return 0
        sleep 0.1
    done
    fail "the front never answered through the restarted node"
}

# integrity FILE...: "FILE RESULT" lines, RESULT what PRAGMA integrity_check
# says of the sqlite file and the -wal beside it ("ok" when all is well).
integrity() {
    "$PY" - "$@" <<'PY'
import sqlite3, sys
for f in sys.argv[1:]:
    db = sqlite3.connect(f)
    db.execute("PRAGMA synchronous=OFF")  # a checker's checkpoint needs no fsync
    print(f, ";".join(r[0] for r in db.execute("PRAGMA integrity_check")))
    db.close()
PY
}

# crash_image: a copy of the sqlite files as the killed node left them,
# checked later (opening the real file now would checkpoint its WAL).
crash_image() {
    [ "$STORE" = sqlite ] || return 0
    local dir=$T/crash$NODE_KILLS
    mkdir -p "$dir"
    cp "$T/data/restfcgi.sqlite" "$dir/"
    [ -f "$T/data/restfcgi.sqlite-wal" ] && cp "$T/data/restfcgi.sqlite-wal" "$dir/"
    return 0
}

# crash_run FRONT-EXAMPLE NODE-KIND: the whole test on the current $STORE.
crash_run() {
    NODE=$2
    echo "seed $SEED (CRASH_SEED=$SEED replays this kill schedule), $ROUNDS rounds" >&2
    start_example "$1"
    say "$1 answers on $URL"
    local auth=(-H "Authorization: $CRASH_AUTH")
    assert_eq "$(http_status "$URL/crashdb" -X PUT "${auth[@]}")" 201 "PUT /crashdb"
    assert_eq "$(http_status "$URL/crashdb/docs" -X PUT "${auth[@]}")" 201 "PUT /crashdb/docs"

    "$PY" "$WRITES" load "$URL" /crashdb/docs "$T/stop" "$T/journal.json" 8 "$SEED" \
        >"$T/load.out" 2>"$T/load.err" &
    local client=$!
    sleep 1
    for round in $(seq "$ROUNDS"); do
        local n=$((1 + RANDOM % 2)) # not inside $(...): a subshell reseeds RANDOM
        for _ in $(seq "$n"); do
            nap 500 3000
            kill_worker
        done
        nap 300 3000
        kill_node
        crash_image
        nap 0 500
        launch_node
        if [ $((RANDOM % 3)) = 0 ]; then
            # Once in a while again as it starts: a crash during recovery.
            nap 0 300
            kill_node
            crash_image
            launch_node
        fi
        await_node
    done
    sleep 2
    touch "$T/stop"
    wait "$client"
    local load_status=$?
    say "writers stopped"
    cat "$T/load.out" >&2
    head -n 20 "$T/load.err" >&2
    "$PY" "$WRITES" verify "$URL" /crashdb/docs "$T/journal.json" >"$T/verify.out" 2>&1
    local verify_status=$?
    say "store read back"
    cat "$T/verify.out" >&2
    echo "figures: $(grep -o 'acknowledged [0-9]*' "$T/load.out"), $(grep -o 'unknown [0-9]*' "$T/load.out" | head -n1), kills $KILLS ($NODE_KILLS of the whole node)" >&2
    [ "$load_status" = 0 ] || fail "the writers saw lost or changed acknowledged writes (seed $SEED)"
    [ "$verify_status" = 0 ] || fail "the store does not hold what was acknowledged (seed $SEED)"
    grep -q 'acknowledged [1-9][0-9][0-9]' "$T/load.out" || fail "too few acknowledged writes to judge"
    grep -q 'unknown [1-9]' "$T/load.out" || fail "no write was cut by a kill: the kills missed the load"

    if [ "$STORE" = sqlite ]; then
        kill_node
        integrity "$T"/crash*/restfcgi.sqlite "$T/data/restfcgi.sqlite" >"$T/integrity.out" ||
            fail "integrity_check could not run: $(cat "$T/integrity.out")"
        # One crash image per node kill but the last, and the file itself.
        assert_eq "$(wc -l <"$T/integrity.out")" "$NODE_KILLS" "files checked"
        while read -r file result; do
            assert_eq "$result" ok "PRAGMA integrity_check of $file"
        done <"$T/integrity.out"
        say "integrity_check: ok for the $((NODE_KILLS - 1)) crash images and the file after the last kill"
    fi
}

case_sqlite_nginx_spawn_fcgi_sigkill_workers_and_node() {
    need nginx; need spawn-fcgi
    export STORE=sqlite
    crash_run nginx/fastcgi spawn-fcgi
}

case_sqlite_haproxy_supervisor_sigkill_workers_and_node() {
    need haproxy
    export STORE=sqlite
    crash_run haproxy/fcgi-app supervisor
}

case_mongo_haproxy_supervisor_sigkill_workers_and_node() {
    need haproxy
    start_jongodb # never killed: it keeps its data in memory only
    export STORE=mongo MONGO_URI="$MONGO_URI&w=majority"
    crash_run haproxy/fcgi-app supervisor
}

# The writes above are acknowledged under the URI's write concern only if
# the store sends it: with one the server cannot satisfy (w=5 on a one-node
# set) every kind of write must fail, where w=majority succeeds.
case_mongo_writes_use_the_uri_write_concern() {
    start_jongodb
    local w
    for w in majority 5; do
        printf 'plugin_dir = "%s";\nstore = { plugin = "mongo"; uri = "%s"; };\nauth = { bcrypt_cost = 4; };\n' \
            "$RESTFCGI_PLUGIN_DIR" "$MONGO_URI&w=$w" >"$T/w$w.conf"
        start_server "w$w" -c "$T/w$w.conf" --listen "unix:$T/w$w.sock" --workers 1
        wait_socket "$T/w$w.sock"
    done
    # via W METHOD URI [BODY]: the status through the node with w=W.
    via() {
        local args=(-s "unix:$T/w$1.sock" --status-only -m "$2" -u "$3" -H "$ADMIN_AUTH")
        [ -n "${4:-}" ] && args+=(-H "Content-Type: application/json" -d "$4")
        fcgi "${args[@]}"
    }
    assert_eq "$(via majority PUT /wcdb)" 201 "PUT /wcdb, w=majority"
    assert_eq "$(via majority PUT /wcdb/c)" 201 "PUT /wcdb/c, w=majority"
    assert_eq "$(via majority POST /wcdb/c '{"_id":"d"}')" 201 "POST, w=majority"
    assert_eq "$(via majority PATCH /wcdb/c/d '{"$set":{"v":0}}')" 200 "PATCH, w=majority"
    local st req
    for req in "PUT /wcdb2" "PUT /wcdb/c2" "POST /wcdb/c {\"_id\":\"e\"}" "PUT /wcdb/c/d {\"v\":1}" \
        "PATCH /wcdb/c/d {\"\$set\":{\"v\":2}}" "PUT /wcdb/c/_indexes/v {\"keys\":{\"v\":1}}" \
        "DELETE /wcdb/c/d"; do
        set -- $req
        st=$(via 5 "$1" "$2" "${3:-}")
        case $st in
        [45]??) ;;
        2??) fail "$req succeeded with w=5: the URI's write concern was not sent" ;;
        *) fail "$req with w=5: no answer ($st)" ;;
        esac
    done
}

run_case "$@"

# The supervisor of --listen --workers N: respawn, graceful stop, reload.
. "$(dirname "$0")/../lib.sh"

start() {
    write_config "$T/c.conf" "$@"
    start_server sup -c "$T/c.conf" --listen "unix:$T/s.sock" --workers 2 --threads 2
    SUP=$LAST_PID
    wait_socket "$T/s.sock"
    S="unix:$T/s.sock"
    wait_for worker_count_is 2 || fail "two workers never ran"
    # Serving, not just forked (a worker still starting, e.g. under valgrind,
    # is not yet stopping gracefully).
    wait_for workers_ready 2 || fail "two workers never got ready"
}

ping_status() { fcgi -s "$S" --status-only -u "${1:-/ping}"; }
worker_count_is() { [ "$(children_of "$SUP" | wc -l)" -eq "$1" ]; }
workers_ready() { [ "$(grep -c "worker ready" "$T/sup.log")" -ge "$1" ]; }
answers() { [ "$(ping_status "$1")" = "$2" ]; }

case_respawn_after_sigkill() {
    start
    victim=$(children_of "$SUP" | head -n1)
    kill -KILL "$victim"
    # Respawned within a second: poll 10 x 100 ms.
    for _ in $(seq 10); do
        now=$(children_of "$SUP")
        [ "$(echo "$now" | wc -l)" -eq 2 ] && ! echo "$now" | grep -qx "$victim" && break
        sleep 0.1
    done
    now=$(children_of "$SUP")
    assert_eq "$(echo "$now" | wc -l)" 2 "worker count a second after SIGKILL"
    echo "$now" | grep -qx "$victim" && fail "the killed worker is still listed"
    for _ in 1 2 3 4; do assert_eq "$(ping_status)" 200 "ping after respawn"; done
    assert_contains "$(cat "$T/sup.log")" "killed by signal 9; respawning" "supervisor log"
}

case_graceful_stop() {
    start
    # A request in flight: its body arrives in pieces over ~1.5 s.
    fcgi -s "$S" --status-only -m POST -u /ping --body-size 30 --body-byte a --chunk 2 --delay-ms 100 \
        >"$T/slow.out" 2>"$T/slow.err" &
    slow=$!
    sleep 0.4
    kill -TERM "$SUP"
    wait "$slow"
    assert_eq "$?" 0 "the in-flight request completed (client exit)"
    assert_eq "$(cat "$T/slow.out")" 405 "the in-flight request got its answer"
    for _ in $(seq 50); do kill -0 "$SUP" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$SUP" 2>/dev/null && fail "supervisor still running 5 s after SIGTERM"
    wait "$SUP"
    assert_eq "$?" 0 "supervisor exit status"
    [ -e "$T/s.sock" ] && fail "socket file left behind"
    true
}

case_reload_on_sighup() {
    start
    old=$(children_of "$SUP")
    assert_eq "$(ping_status /ping)" 200 "before reload"
    write_config "$T/c.conf" 'base_path = "/api";'
    kill -HUP "$SUP"
    wait_for answers /api/ping 200 || fail "new config never served"
    # Old workers finish and go; two new ones stay.
    for _ in $(seq 50); do
        now=$(children_of "$SUP")
        [ -z "$(comm -12 <(echo "$old") <(echo "$now"))" ] && break
        sleep 0.1
    done
    assert_eq "$(comm -12 <(echo "$old") <(echo "$now"))" "" "old workers gone after reload"
    assert_eq "$(echo "$now" | wc -l)" 2 "worker count after reload"
    for _ in 1 2 3 4; do assert_eq "$(ping_status /ping)" 404 "old path after reload"; done
}

case_reload_refuses_bad_config() {
    start
    old=$(children_of "$SUP")
    printf 'workers = 2;\nbogus = 1;\n' >"$T/c.conf"
    kill -HUP "$SUP"
    wait_for grep -q "reload refused" "$T/sup.log" || fail "no refusal logged"
    assert_contains "$(cat "$T/sup.log")" "$T/c.conf:2: unknown key 'bogus'" "reason logged"
    assert_eq "$(children_of "$SUP")" "$old" "workers unchanged"
    assert_eq "$(ping_status)" 200 "still serving"
}

# Workers that die right after starting are respawned with back-off, not
# in a tight loop: for 2 s every new worker is killed as soon as it shows.
case_respawn_backoff() {
    write_config "$T/c.conf"
    start_server sup -c "$T/c.conf" --listen "unix:$T/s.sock" --workers 1
    SUP=$LAST_PID
    wait_socket "$T/s.sock"
    end=$(($(date +%s%N) + 2000000000))
    while [ "$(date +%s%N)" -lt "$end" ]; do
        for w in $(children_of "$SUP"); do kill -KILL "$w" 2>/dev/null; done
        sleep 0.02
    done
    n=$(grep -c "killed by signal 9; respawning" "$T/sup.log")
    [ "$n" -ge 3 ] || fail "the dying worker was not respawned ($n respawns)"
    [ "$n" -le 12 ] || fail "no back-off: $n respawns in 2 s"
    kill -0 "$SUP" || fail "supervisor died"
    # Left alone, a worker runs again within the back-off ceiling (5 s).
    wait_for worker_count_is 1 || fail "no worker after the kills stopped"
}

# A worker stops by itself when its supervisor is killed outright.
case_workers_follow_supervisor() {
    start
    workers=$(children_of "$SUP")
    kill -KILL "$SUP"
    for _ in $(seq 50); do
        alive=0
        for w in $workers; do kill -0 "$w" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    assert_eq "$alive" 0 "workers gone 5 s after their supervisor was killed"
}

run_case "$@"

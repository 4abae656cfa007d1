# Worker processes started by spawn-fcgi (-F 3) share the memory token
# manager's table: a token issued by one verifies on the others, and a
# revocation reaches all of them at once.
. "$(dirname "$0")/lib.sh"
need spawn-fcgi

# spawn N: N restfcgi processes on $T/s.sock, their stderr in $T/workers.log.
spawn() {
    write_config "$T/c.conf" 'threads = 1; log_level = "debug";'
    spawn-fcgi -s "$T/s.sock" -F "$1" -- /bin/bash -c \
        "exec \"$RESTFCGI_BIN\" -c \"$T/c.conf\" 2>>\"$T/workers.log\"" >"$T/spawn.out" ||
        fail "spawn-fcgi failed"
    PIDS+=($(sed -n 's/.*PID: \([0-9]*\).*/\1/p' "$T/spawn.out"))
    S="unix:$T/s.sock"
    wait_for fcgi -s "$S" -u /ping || fail "no worker answers"
}

# served_by PATH STATUS: the distinct pids that answered PATH with STATUS.
served_by() {
    grep -F " $1 -> $2 " "$T/workers.log" | sed -n 's/^[^[]*\[\([0-9]*\)\].*/\1/p' | sort -u | wc -l
}

case_memory_token_shared_by_spawn_fcgi_workers() {
    spawn 3
    assert_eq "${#PIDS[@]}" 3 "three processes"
    expect GET /roles/admin 200
    token=$(header Auth-Token)
    issuer=$(grep -F " /roles/admin -> 200 " "$T/workers.log" | sed -n 's/^[^[]*\[\([0-9]*\)\].*/\1/p')
    for i in $(seq 30); do
        as admin "$token" GET /tokens/admin
        assert_eq "$STATUS" 200 "token request $i"
        assert_eq "$(header Auth-Token)" "$token" "the same token on every process"
    done
    n=$(served_by /tokens/admin 200)
    [ "$n" -ge 2 ] || fail "the token was verified by $n process(es) only; need others than $issuer"
    as admin "$token" DELETE /tokens/admin
    assert_eq "$STATUS" 204 "revocation"
    for i in $(seq 30); do
        # A fresh address each: five failures would lock one out (429).
        as admin "$token" GET /roles/admin '' -p "REMOTE_ADDR=10.2.0.$i"
        assert_eq "$STATUS" 401 "revoked token, request $i"
    done
    n=$(served_by /roles/admin 401)
    [ "$n" -ge 2 ] || fail "the revocation was seen by $n process(es) only"
    echo "token verified on $(served_by /tokens/admin 200) processes, revocation on $n"
    no_secret_in_logs "$token" "$RESTFCGI_ADMIN_PASSWORD"
}

# lighttpd's max-procs and mod_fcgid hand every process a socket of its own:
# processes started with one config file are still one node, while a
# process with another config file is another node (tokens: 401).
case_memory_token_shared_across_sockets_of_one_config() {
    write_config "$T/c.conf" 'threads = 1;'
    write_config "$T/other.conf" 'threads = 1;'
    local n conf
    for n in 1 2 3; do
        conf="$T/c.conf"
        [ "$n" = 3 ] && conf="$T/other.conf"
        spawn-fcgi -s "$T/s$n.sock" -- "$RESTFCGI_BIN" -c "$conf" >"$T/spawn$n.out" 2>>"$T/workers.log" ||
            fail "spawn-fcgi $n failed"
        PIDS+=($(sed -n 's/.*PID: \([0-9]*\).*/\1/p' "$T/spawn$n.out"))
        wait_for fcgi -s "unix:$T/s$n.sock" -u /ping || fail "process $n never answered"
    done
    S="unix:$T/s1.sock" expect GET /roles/admin 200
    token=$(header Auth-Token)
    S="unix:$T/s2.sock" as admin "$token" GET /roles/admin
    assert_eq "$STATUS" 200 "token of socket 1 on socket 2 (same config)"
    S="unix:$T/s3.sock" as admin "$token" GET /roles/admin
    assert_eq "$STATUS" 401 "token of one node on a process of another config"
}

run_case "$@"

# The three-node cluster of examples/cluster/cluster (jongodb rs0, three
# lighttpd + restfcgi nodes, HAProxy) with both token managers: jwt tokens
# work on every node through round-robin; memory tokens reproduce the
# seed's failure without stickiness and work with HAProxy's cookie; a node
# killed under load is taken out by the health checks; restarted nodes.
. "$(dirname "$0")/../lib.sh"
need haproxy
need lighttpd
need curl
need jq
[ -x "${JONGODB_BIN:-}" ] || skip "jongodb is not installed (scripts/install-deps --test)"

export RESTFCGI="$RESTFCGI_BIN" PLUGIN_DIR="$RESTFCGI_PLUGIN_DIR" BCRYPT_COST=4 RUN="$T" JONGODB_BIN
CLUSTER="$RESTFCGI_SRC/examples/cluster/cluster"

start_cluster() {
    export PORT
    PORT=$(free_port)
    AT_EXIT+=("'$CLUSTER' stop")
    "$CLUSTER" start "$1" >"$T/cluster.out" 2>&1 ||
        fail "cluster start $1: $(cat "$T/cluster.out"; tail -n 20 "$T"/*.log "$T"/node*/*.log 2>/dev/null)"
    URL="http://127.0.0.1:$PORT"
    assert_contains "$(cat "$T/cluster.out")" "answers on $URL" "the cluster's URL printed"
}
node_url() { echo "http://127.0.0.1:$(sed -n "s/^node$1 //p" "$T/nodes")"; }

# status URL [curl args]: the status; the body in $T/b, headers in $T/h.
status() { local url=$1; shift; curl -s -o "$T/b" -D "$T/h" -w '%{http_code}' "$@" "$url"; }
token_of() { sed -n 's/^Auth-Token: *\([^\r]*\).*/\1/Ip' "$T/h" | head -n1; }
bearer() { echo "Authorization: Bearer $1"; }

# login URL: a Basic login as the admin; prints the token.
login() {
    local s
    s=$(status "$1/roles/admin" -H "$ADMIN_AUTH" "${@:2}")
    [ "$s" = 200 ] || fail "login at $1: $s $(cat "$T/b")"
    token_of
}

case_jwt_tokens_work_on_every_node() {
    start_cluster jwt
    token=$(login "$URL")
    for n in 1 2 3; do
        assert_eq "$(status "$(node_url $n)/roles/admin" -H "$(bearer "$token")")" 200 "token on node $n"
    done
    for i in $(seq 9); do
        assert_eq "$(status "$URL/roles/admin" -H "$(bearer "$token")")" 200 "round-robin request $i"
    done
    # One replica set: written on node 1, read on nodes 2 and 3.
    assert_eq "$(status "$(node_url 1)/shared" -X PUT -H "$(bearer "$token")")" 201 "db on node 1"
    assert_eq "$(status "$(node_url 1)/shared/c" -X PUT -H "$(bearer "$token")")" 201 "coll on node 1"
    assert_eq "$(status "$(node_url 1)/shared/c" -X POST -H "$(bearer "$token")" \
        -H 'Content-Type: application/json' -d '{"_id":"x","v":42}')" 201 "document on node 1"
    for n in 2 3; do
        assert_eq "$(status "$(node_url $n)/shared/c/x" -H "$(bearer "$token")")" 200 "read on node $n"
        jq -e '.v == 42' "$T/b" >/dev/null || fail "node $n read: $(cat "$T/b")"
    done
}

# The seed's failure: memory tokens are known only to the node that issued
# them; without stickiness the other nodes answer 401.
case_memory_without_stickiness_fails() {
    start_cluster memory
    token=$(login "$(node_url 1)")
    assert_eq "$(status "$(node_url 1)/roles/admin" -H "$(bearer "$token")")" 200 "on the issuing node"
    for n in 2 3; do
        assert_eq "$(status "$(node_url $n)/roles/admin" -H "$(bearer "$token")" -H 'No-Auth-Challenge: 1')" 401 "node $n"
        jq -e '."http status code" == 401' "$T/b" >/dev/null || fail "node $n: not the JSON error"
    done
    # Through HAProxy without its cookie: round-robin, two requests in three fail.
    local ok=0 denied=0 s
    for i in $(seq 9); do
        s=$(status "$URL/roles/admin" -H "$(bearer "$token")" -H 'No-Auth-Challenge: 1')
        case $s in 200) ok=$((ok + 1)) ;; 401) denied=$((denied + 1)) ;; *) fail "request $i: $s" ;; esac
    done
    echo "without stickiness: $ok of 9 requests 200, $denied 401"
    [ "$denied" -ge 3 ] && [ "$ok" -ge 1 ] || fail "expected 401s from the other nodes: $ok ok, $denied 401"
}

case_memory_with_stickiness_works() {
    start_cluster memory
    token=$(login "$URL" -c "$T/jar")
    grep -q RESTFCGI_NODE "$T/jar" || fail "HAProxy set no cookie: $(cat "$T/jar")"
    for i in $(seq 15); do
        assert_eq "$(status "$URL/roles/admin" -b "$T/jar" -H "$(bearer "$token")")" 200 "sticky request $i"
    done
}

# Node 2 killed (SIGKILL) under load: HAProxy's checks (every 500 ms, out
# after 2 failures) take it out; after that window no client sees an error.
case_node_loss_under_load() {
    start_cluster jwt
    token=$(login "$URL")
    python3 "$RESTFCGI_SRC/tests/tools/load.py" "$URL/roles/admin" 8 8 "$T/load.txt" \
        "$(bearer "$token")" >"$T/load.out" &
    local load=$! t_kill window=3
    sleep 2.5
    t_kill=$(date +%s.%N)
    "$CLUSTER" kill-node 2
    wait "$load" || fail "the load generator failed"
    read -r total ok failed <"$T/load.out"
    # Failed requests before the kill, within the window after it, after it.
    read -r before between after < <(awk -v k="$t_kill" -v w="$window" '
        $2 < 200 || $2 > 299 { if ($1 < k) b++; else if ($1 <= k + w) i++; else a++ }
        END { print b + 0, i + 0, a + 0 }' "$T/load.txt")
    echo "node 2 killed under load (8 threads, 8 s): $total requests, $ok ok, $failed failed:" \
        "$before before the kill, $between within ${window}s after it, $after later"
    [ "$total" -gt 100 ] || fail "too little load: $total requests"
    assert_eq "$before" 0 "failed requests before the kill"
    assert_eq "$after" 0 "failed requests after the health-check window"
    # Back: node 2 restarted serves again once HAProxy's checks see it.
    "$CLUSTER" start-node 2 || fail "start-node 2"
    assert_eq "$(status "$(node_url 2)/roles/admin" -H "$(bearer "$token")")" 200 "the restarted node"
}

# restart_after_login VARIANT: a cluster, a login on node 1, node 1 killed
# and started again; the token in $token.
restart_after_login() {
    start_cluster "$1"
    token=$(login "$(node_url 1)")
    "$CLUSTER" kill-node 1
    "$CLUSTER" start-node 1 || fail "start-node 1"
}

# Restarted, a memory node has lost its tokens: 401, never 500.
case_memory_node_restart_loses_tokens() {
    restart_after_login memory
    assert_eq "$(status "$(node_url 1)/roles/admin" -H "$(bearer "$token")" -H 'No-Auth-Challenge: 1')" 401 "old token"
    jq -e '."http status code" == 401' "$T/b" >/dev/null || fail "not the JSON error: $(cat "$T/b")"
    login "$(node_url 1)" >/dev/null
}

case_jwt_node_restart_keeps_tokens() {
    restart_after_login jwt
    assert_eq "$(status "$(node_url 1)/roles/admin" -H "$(bearer "$token")")" 200 "token after the restart"
}

# The replica set gone: every node's /health is 503, HAProxy takes them
# all out and answers 503 itself; back when the store is.
case_store_down_takes_nodes_out() {
    start_cluster jwt
    local pid
    pid=$(awk '$1 == "jongodb" {print $2}' "$T/pids")
    kill -KILL "$pid"
    for n in 1 2 3; do
        wait_for test "$(status "$(node_url $n)/health")" = 503 || fail "node $n /health: $(cat "$T/b")"
    done
    wait_for test "$(status "$URL/ping")" = 503 || fail "HAProxy still routes to nodes without a store"
    grep -q '"http status code"' "$T/b" && fail "the 503 came from a node, not HAProxy"
    true
}

run_case "$@"

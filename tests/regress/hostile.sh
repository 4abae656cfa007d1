# The hostile input corpus (issue 9): malformed and malicious requests kept
# as data in tests/regress/hostile/*.req, one case per file, run through the
# in-tree FastCGI client against a real restfcgi (2 workers, sqlite store).
# Every entry asserts its exact status and the JSON error body (hostile.py);
# each case also asserts no data change (a dump of every sqlite file before
# and after), no worker replaced (pids before and after), and lib.sh fails it
# on any sanitizer report. Slow-loris clients through real nginx and lighttpd
# are the last two cases.
. "$(dirname "$0")/../conformance/lib.sh"
need python3

HERE=$(cd "$(dirname "$0")" && pwd)
CORPUS=$HERE/hostile
DRIVER=$HERE/hostile.py
PY=/usr/bin/python3
export FCGI_CLIENT

# The limits the main server runs with: small, so that "at" and "one past"
# cost little; limits_default.req checks the shipped defaults.
export MAX_BODY=65536 MAX_DEPTH=16 MAX_PAGESIZE=50 MAX_URL=2048 MAX_HEADERS=4096 MAX_PARAMS=12
LIMITS="limits = { max_body = $MAX_BODY; max_depth = $MAX_DEPTH; default_pagesize = 20; max_pagesize = $MAX_PAGESIZE; query_time_ms = 3000; max_url = $MAX_URL; max_headers = $MAX_HEADERS; max_params = $MAX_PARAMS; };"
export HOSTILE_USERS="admin:$RESTFCGI_ADMIN_PASSWORD alice:alice-pw-1 bob:bob-pw-22"

# Basic credentials with userids at and past RESTFCGI_USERID_MAX (255).
B64_USERID_255=$(printf '%0255d:pw' 0 | base64 -w0)
B64_USERID_256=$(printf '%0256d:pw' 0 | base64 -w0)
B64_BAD_UTF8_USER=$(printf 'adm\xffin:pw' | base64 -w0)
B64_SQL_USER=$(printf "admin' OR '1'='1:x' OR '1'='1" | base64 -w0)
B64_JSON_USER=$(printf 'admin","roles":["admin"],"x":"y:pw' | base64 -w0)
export B64_BAD_UTF8_USER B64_SQL_USER B64_JSON_USER

export B64_USERID_255 B64_USERID_256

as_user() { local u=$1 pw=$2; shift 2; API_AUTH=$(basic_auth "$u" "$pw") api "$@"; }

# The data every category attacks: two databases, documents owned by alice
# and bob with a secret field, an aggregation, an index, two users and
# permissions with the mongo rules (readFilter, writeFilter, mergeRequest,
# projectResponse).
seed() {
    expect PUT /hostile 201
    # Stored aggregations, some reaching other collections (refused when run).
    expect PUT /hostile/docs 201 '{"aggrs":[{"uri":"byowner","stages":[{"$match":{"owner":{"$var":"o"}}}]},{"uri":"out","stages":[{"$out":"users"}]},{"uri":"merge","stages":[{"$merge":{"into":{"db":"restfcgi","coll":"users"}}}]},{"uri":"look","stages":[{"$lookup":{"from":"secret","localField":"a","foreignField":"_id","as":"s"}}]},{"uri":"union","stages":[{"$facet":{"x":[{"$unionWith":"users"}]}}]},{"uri":"label","stages":[{"$project":{"label":{"$var":"l"}}},{"$sort":{"_id":1}}]}]}'
    expect PUT /hostile/secret 201
    expect PUT /other 201
    expect PUT /other/c 201
    expect PUT /hostile/docs/_indexes/byname 201 '{"keys":{"name":1}}'
    expect POST /hostile/docs 201 '{"_id":"a","owner":"alice","name":"apple","secret":"s-a","n":1,"tags":["x","y"],"sub":{"k":1}}'
    expect POST /hostile/docs 201 '{"_id":"b","owner":"bob","name":"banana","secret":"s-b","n":2,"public":true}'
    expect POST /hostile/docs 201 '{"_id":{"$oid":"5f0000000000000000000001"},"owner":"alice","name":"cherry","n":{"$numberLong":"9007199254740993"}}'
    expect POST /hostile/docs 201 '{"_id":7,"owner":"bob","name":"date","n":-0.5}'
    expect POST /hostile/secret 201 '{"_id":"k","v":"top secret"}'
    expect POST /other/c 201 '{"_id":"o","v":1}'
    expect PUT /restfcgi/acl 201
    local u
    for u in alice:alice-pw-1 bob:bob-pw-22; do
        expect POST /restfcgi/users 201 "{\"_id\":\"${u%%:*}\",\"password\":\"${u#*:}\",\"roles\":[\"user\"]}"
    done
    expect POST /restfcgi/acl 201 '{"_id":"own-docs","roles":["user"],"priority":10,"predicate":"path-prefix(\"/hostile/docs\") and (method(GET) or method(POST) or method(PATCH) or method(PUT))","mongo":{"readFilter":{"owner":"@user._id"},"writeFilter":{"owner":"@user._id"},"mergeRequest":{"owner":"@user._id"},"projectResponse":{"secret":0}}}'
    expect POST /restfcgi/acl 201 '{"_id":"own-dir","roles":["user"],"priority":20,"predicate":"path-template(\"/other/{who}\") and equals(@user._id, ${who}) and method(GET)"}'
    expect POST /restfcgi/acl 201 '{"_id":"public","roles":["$unauthenticated"],"priority":30,"predicate":"path(\"/hostile/docs\") and method(GET)","mongo":{"readFilter":{"public":true},"projectResponse":{"secret":0,"owner":0}}}'
    # The ACL is re-read every 2 s.
    for _ in $(seq 100); do
        as_user alice alice-pw-1 GET /hostile/docs
        [ "$STATUS" = 200 ] && break
        sleep 0.1
    done
    assert_eq "$STATUS" 200 "alice reads her documents once the ACL is loaded"
    # Tokens and a stored password hash, for the entries that replay them.
    ALICE_TOKEN=$(header Auth-Token)
    as_user bob bob-pw-22 GET /roles/bob
    BOB_TOKEN=$(header Auth-Token)
    ALICE_HASH=$("$PY" -c '
import re, sqlite3, sys
db = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
for (doc,) in db.execute("select doc from docs"):
    m = re.search(rb"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}", doc)
    if m and b"_id\x00\x06\x00\x00\x00alice\x00" in doc:
        print(m.group().decode())
' "$T/data/restfcgi.sqlite") || fail "alice's hash"
    [ -n "$ALICE_TOKEN" ] && [ -n "$BOB_TOKEN" ] && [ -n "$ALICE_HASH" ] || fail "tokens and hash"
    export ALICE_TOKEN BOB_TOKEN ALICE_HASH
}

snapshot() { "$PY" "$DRIVER" snapshot "$T/data" >"$1" || fail "snapshot of $T/data"; }

# attack FILE...: each file through the driver; then the data, the workers
# and the server's liveness are as before.
attack() {
    local before_pids after_pids f rc=0
    snapshot "$T/before.dump"
    before_pids=$(children_of "$LAST_PID")
    [ -n "$before_pids" ] || fail "no workers"
    for f in "$@"; do
        "$PY" "$DRIVER" run "$CORPUS/$f" "$S" || rc=1
    done
    snapshot "$T/after.dump"
    after_pids=$(children_of "$LAST_PID")
    [ "$rc" = 0 ] || fail "entries failed (above)"
    diff -u "$T/before.dump" "$T/after.dump" >"$T/dump.diff" ||
        fail "the data changed: $(head -c 3000 "$T/dump.diff")"
    assert_eq "$after_pids" "$before_pids" "worker pids (a crashed worker is respawned)"
    expect GET /ping 200
    # An error-level line (a worker that died, a store that failed) is a
    # finding too; hostile input is a client's problem, logged at debug.
    ! grep -E "\] error |Sanitizer|runtime error" "$T/api.log" | head -n 5 | grep . ||
        fail "the server logged errors (above)"
}

# The main server: sqlite, memory tokens, the small limits, 2 workers.
main_server() {
    API_WORKERS=2 start_api "$LIMITS auth = { bcrypt_cost = 4; brute_force = { max_failures = 5; window_s = 10; }; };"
    seed
}

# jwt_server RS256|ES256: the jwt token manager with a fresh key pair (and
# another key of the same kind the server does not know), one worker (the
# brute-force counts are per process), a 4 s lockout window; the tokens of
# jwt.req in JWT_* variables.
jwt_server() {
    local alg=$1 kind
    "$PY" -c 'import jwt, cryptography' 2>/dev/null ||
        skip "PyJWT or cryptography missing for $PY (python3-jwt python3-cryptography)"
    need openssl
    case $alg in RS256) kind=(-algorithm RSA -pkeyopt rsa_keygen_bits:2048) ;;
                 ES256) kind=(-algorithm EC -pkeyopt ec_paramgen_curve:P-256) ;; esac
    openssl genpkey "${kind[@]}" -out "$T/key.pem" 2>/dev/null &&
        openssl pkey -in "$T/key.pem" -pubout -out "$T/key.pub" &&
        openssl genpkey "${kind[@]}" -out "$T/other.pem" 2>/dev/null || fail "openssl keys"
    API_WORKERS=1 start_api "$LIMITS auth = { bcrypt_cost = 4; brute_force = { max_failures = 5; window_s = 4; };
        token_manager = { plugin = \"jwt\"; algorithm = \"$alg\"; private_key_file = \"$T/key.pem\";
            public_key_file = \"$T/key.pub\"; issuer = \"hostile-idp\"; audience = \"hostile-api\"; }; };"
    seed
    "$PY" "$HERE/hostile_tokens.py" "$alg" "$T/key.pem" "$T/key.pub" "$T/other.pem" hostile-idp hostile-api \
        >"$T/tokens" || fail "hostile_tokens.py"
    local line
    while IFS= read -r line; do export "${line?}"; done <"$T/tokens"
}

case_count() {
    "$PY" "$DRIVER" count "$CORPUS"/*.req | tee "$T/count"
    local total
    total=$(sed -n 's/^total: //p' "$T/count")
    [ "$total" -ge 300 ] || fail "the corpus has $total entries, fewer than 300"
}

case_limits() { main_server; attack limits.req; }
case_nesting() { main_server; attack nesting.req; }
case_utf8() { main_server; attack utf8.req; }
case_percent() { main_server; attack percent.req; }
case_traversal() { main_server; attack traversal.req; }
case_dup_params() { main_server; attack dup_params.req; }
case_numbers() { main_server; attack numbers.req; }
case_operators() { main_server; attack operators.req; }
case_injection() { main_server; attack injection.req; }
case_content_types() { main_server; attack content_types.req; }
case_methods() { main_server; attack methods.req; }
case_basic_auth() { main_server; attack basic_auth.req; }
case_acl() { main_server; attack acl.req; }
case_jwt_rs256() { jwt_server RS256; attack jwt.req; }
case_jwt_es256() { jwt_server ES256; attack jwt.req; }
case_brute_force() { jwt_server RS256; attack brute_force.req; }

# The shipped defaults (no limits group): at and one past each.
case_limits_default() {
    API_WORKERS=2 start_api
    seed
    attack limits_default.req
}

# Slow-loris through a real front (examples/run): 40 clients trickle their
# headers or bodies a byte every 0.4 s for 20 s while two normal clients go
# on; the front buffers unfinished requests, so the workers keep answering
# (each normal request 200 within 3 s), none is replaced, and no unfinished
# request reaches restfcgi. The fronts' own timeouts (nginx
# client_header_timeout/client_body_timeout, lighttpd max-read-idle: 60 s by
# default) decide when they drop the slow ones; slowloris.py prints how many
# they dropped within the 20 s.
slowloris_through() {
    local example=$1 before after
    need curl
    export RESTFCGI="$RESTFCGI_BIN" PLUGIN_DIR="$RESTFCGI_PLUGIN_DIR" BCRYPT_COST=4 RUN="$T" PORT
    PORT=$(free_port)
    AT_EXIT+=("'$RESTFCGI_SRC/examples/run' stop $example")
    "$RESTFCGI_SRC/examples/run" start "$example" >"$T/run.out" 2>&1 ||
        fail "examples/run start $example: $(cat "$T/run.out")"
    URL=$(sed -n 's/.* answers on \([^ ]*\) .*/\1/p' "$T/run.out")
    [ -n "$URL" ] || fail "no URL printed: $(cat "$T/run.out")"
    before=$(awk '$1 == "restfcgi" {print $2}' "$T/pids" | sort)
    [ -n "$before" ] || fail "no restfcgi workers in $T/pids"
    "$PY" "$HERE/slowloris.py" "$URL" "$ADMIN_AUTH" 20 40 || fail "slow-loris through $example"
    after=$(awk '$1 == "restfcgi" {print $2}' "$T/pids" | sort)
    assert_eq "$after" "$before" "the workers"
    local pid
    for pid in $before; do kill -0 "$pid" || fail "worker $pid is gone"; done
    assert_eq "$(http_status "$URL/roles/admin" -H "$ADMIN_AUTH" -m 10)" 200 "a request after the slow clients"
}

case_slowloris_nginx() { need nginx; need spawn-fcgi; slowloris_through nginx/fastcgi; }
case_slowloris_lighttpd() { need lighttpd; need spawn-fcgi; slowloris_through lighttpd/spawn-fcgi; }

run_case "$@"

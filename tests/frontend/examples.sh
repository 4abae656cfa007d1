# Every example of examples/ started by examples/run with its real front
# server on a free loopback port, then what a user does through it: log in
# with Basic, use the token (Bearer and Basic userid:token), write and read
# a document, revoke the token; a body past the front's limit gets the
# front's 413, and with the workers gone the front answers 502/503.
. "$(dirname "$0")/../lib.sh"
need curl
need jq

export RESTFCGI="$RESTFCGI_BIN" PLUGIN_DIR="$RESTFCGI_PLUGIN_DIR" BCRYPT_COST=4 RUN="$T"
export MAX_BODY=65536

# req METHOD PATH [curl args]: STATUS, headers in $T/h, body in $T/b.
req() {
    local method=$1 path=$2
    shift 2
    STATUS=$(curl -s -o "$T/b" -D "$T/h" -w '%{http_code}' -X "$method" "$@" "$URL$path")
}
header() { sed -n "s/^$1: *\([^\r]*\).*/\1/Ip" "$T/h" | head -n1; }
expect() {
    local want=$1; shift
    req "$@"
    [ "$STATUS" = "$want" ] || fail "$EXAMPLE: $1 $2: expected $want, got $STATUS: $(head -c 300 "$T/b")"
}

# The user's session through the front.
check_session() {
    expect 200 GET /ping
    jq -e '.message' "$T/b" >/dev/null || fail "$EXAMPLE: /ping body: $(cat "$T/b")"
    expect 401 GET / -H "No-Auth-Challenge: 1"
    jq -e '."http status code" == 401' "$T/b" >/dev/null || fail "$EXAMPLE: 401 body is not the JSON error"

    expect 200 GET /roles/admin -H "$ADMIN_AUTH"
    local token
    token=$(header Auth-Token)
    [ -n "$token" ] || fail "$EXAMPLE: no Auth-Token after a Basic login"
    # Several requests: through every process the front uses.
    for i in $(seq 8); do
        expect 200 GET /roles/admin -H "Authorization: Bearer $token"
        expect 200 GET /roles/admin -H "$(basic_auth admin "$token")"
    done
    expect 201 PUT /exdb -H "$ADMIN_AUTH"
    expect 201 PUT /exdb/things -H "Authorization: Bearer $token"
    expect 201 POST /exdb/things -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d '{"_id":"d1","name":"first"}'
    header Location | grep -q "/exdb/things/d1$" || fail "$EXAMPLE: Location: $(header Location)"
    expect 200 GET /exdb/things/d1 -H "Authorization: Bearer $token"
    jq -e '.name == "first" and ._id == "d1"' "$T/b" >/dev/null || fail "$EXAMPLE: read back: $(cat "$T/b")"

    if [ "${TOKENS:-memory}" = memory ]; then
        expect 204 DELETE /tokens/admin -H "Authorization: Bearer $token"
        for i in $(seq 4); do
            expect 401 GET /roles/admin -H "Authorization: Bearer $token" -H "No-Auth-Challenge: 1"
        done
    fi

    # Past the limit: the front's own 413, not restfcgi's JSON.
    head -c $((MAX_BODY + 1)) /dev/zero | tr '\0' ' ' >"$T/big"
    expect 413 POST /exdb/things -H "$ADMIN_AUTH" -H 'Content-Type: application/json' \
        --data-binary @"$T/big"
    grep -q '"http status code"' "$T/b" && fail "$EXAMPLE: 413 came from restfcgi, not the front"
    true
}

# The workers examples/run started itself (spawn-fcgi, restfcgi --listen)
# killed: the front answers 502 or 503, never hangs.
check_dead_backend() {
    local pid
    for pid in $(awk '$1 == "restfcgi" {print $2}' "$T/pids"); do kill -KILL "$pid"; done
    sleep 0.5
    req GET /ping -m 20
    case $STATUS in 502 | 503) ;; *) fail "$EXAMPLE: with the workers dead: $STATUS" ;; esac
}

case_lighttpd_spawn_fcgi() { need lighttpd; need spawn-fcgi; start_example lighttpd/spawn-fcgi; check_session; check_dead_backend; }
case_lighttpd_bin_path() { need lighttpd; start_example lighttpd/bin-path; check_session; }
case_nginx_fastcgi() { need nginx; need spawn-fcgi; start_example nginx/fastcgi; check_session; check_dead_backend; }
case_nginx_keepalive() { need nginx; need spawn-fcgi; start_example nginx/keepalive; check_session; check_dead_backend; }
case_apache_proxy_fcgi() { need apache2; need spawn-fcgi; start_example apache/proxy_fcgi; check_session; check_dead_backend; }
case_apache_proxy_fcgi_tcp() { need apache2; start_example apache/proxy_fcgi_tcp; check_session; check_dead_backend; }
case_apache_fcgid() {
    need apache2
    [ -f /usr/lib/apache2/modules/mod_fcgid.so ] || skip "mod_fcgid is not installed (libapache2-mod-fcgid)"
    start_example apache/fcgid
    check_session
}
case_haproxy_fcgi_app() { need haproxy; start_example haproxy/fcgi-app; check_session; check_dead_backend; }

# Mounted under /api (base_path): what lies outside is not the API's.
case_apache_base_path() {
    need apache2; need spawn-fcgi
    start_example apache/proxy_fcgi
    assert_contains "$URL" "/api" "the API's URL"
    expect 200 GET /roles/admin -H "$ADMIN_AUTH"
    assert_eq "$(header Auth-Token-Location)" "/api/tokens/admin" "Auth-Token-Location under the prefix"
    STATUS=$(curl -s -o /dev/null -w '%{http_code}' "${URL%/api}/roles/admin")
    assert_eq "$STATUS" 404 "outside /api: Apache's own 404"
}

run_case "$@"

# Authentication mechanisms: Basic password, Basic token, Bearer, the token
# headers, /tokens and /roles, challenges, malformed headers, brute force.
. "$(dirname "$0")/lib.sh"

case_anonymous_requests_are_challenged() {
    start_api
    anon GET /
    assert_eq "$STATUS" 401 "GET / without credentials"
    is_error 401
    assert_eq "$(header WWW-Authenticate)" 'Basic realm="restfcgi"' "challenge"
    anon GET / '' -H "No-Auth-Challenge: true"
    assert_eq "$STATUS" 401 "with No-Auth-Challenge"
    assert_eq "$(header WWW-Authenticate)" "" "no challenge when asked"
    anon GET '/?noauthchallenge'
    assert_eq "$STATUS" 401 "with ?noauthchallenge"
    assert_eq "$(header WWW-Authenticate)" "" "no challenge with the query parameter"
    # Liveness and health need no credentials.
    anon GET /ping
    assert_eq "$STATUS" 200 "/ping"
    anon GET /health
    assert_eq "$STATUS" 200 "/health"
}

case_password_login_hands_back_a_token() {
    start_api
    expect GET / 200
    token=$(header Auth-Token)
    [ ${#token} -eq 43 ] || fail "a 256-bit token is 43 base64url characters: '$token'"
    assert_eq "$(header Auth-Token-Location)" /tokens/admin "token location"
    until=$(header Auth-Token-Valid-Until)
    [[ $until =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$ ]] ||
        fail "Auth-Token-Valid-Until is not ISO-8601 UTC: $until"
    # About ttl (15 minutes) from now.
    left=$(( $(date -u -d "$until" +%s) - $(date -u +%s) ))
    [ "$left" -gt 840 ] && [ "$left" -le 901 ] || fail "token valid for $left s, not 15 min"
    # Repeated password logins reuse the token instead of minting one each.
    expect GET / 200
    assert_eq "$(header Auth-Token)" "$token" "the same token on the next login"
    no_secret_in_logs "$token" "$RESTFCGI_ADMIN_PASSWORD"
}

case_token_in_basic_and_bearer() {
    start_api
    expect GET / 200
    token=$(header Auth-Token)
    as admin "$token" GET /
    assert_eq "$STATUS" 200 "Basic admin:token"
    assert_eq "$(header Auth-Token)" "$token" "the same token back"
    API_AUTH="Authorization: Bearer $token" api GET /
    assert_eq "$STATUS" 200 "Bearer token"
    expect POST /restfcgi/users 201 '{"_id":"bob","password":"bob-pw","roles":["user"]}'
    as bob "$token" GET /
    assert_eq "$STATUS" 401 "another user's token"
    as admin "${token%?}" GET /
    assert_eq "$STATUS" 401 "a truncated token"
    as admin "x$token" GET /
    assert_eq "$STATUS" 401 "a longer token"
    no_secret_in_logs "$token" bob-pw
}

case_tokens_resource() {
    start_api
    expect GET /tokens/admin 200
    token=$(header Auth-Token)
    jq_true ".auth_token == \"$token\" and (.auth_token_valid_until | test(\"Z$\"))"
    expect POST /restfcgi/users 201 '{"_id":"bob","password":"bob-pw","roles":["user"]}'
    as bob bob-pw GET /tokens/admin
    assert_eq "$STATUS" 403 "another user's tokens"
    as bob bob-pw GET /tokens/bob
    assert_eq "$STATUS" 200 "own tokens"
    bob_token=$(header Auth-Token)
    anon GET /tokens/admin
    assert_eq "$STATUS" 401 "tokens without credentials"
    # Revocation: the token stops working, the password still does.
    as admin "$token" DELETE /tokens/admin
    assert_eq "$STATUS" 204 "revoke"
    assert_eq "$(header Auth-Token)" "" "no token handed back after a revocation"
    as admin "$token" GET /
    assert_eq "$STATUS" 401 "revoked token"
    expect GET / 200
    [ "$(header Auth-Token)" != "$token" ] || fail "the revoked token was handed out again"
    as bob "$bob_token" GET /roles/bob
    assert_eq "$STATUS" 200 "bob's token survives the admin's revocation"
    # The root role may revoke another user's tokens.
    expect DELETE /tokens/bob 204
    as bob "$bob_token" GET /roles/bob
    assert_eq "$STATUS" 401 "bob's token revoked by the admin"
}

case_roles_resource() {
    start_api
    expect GET /roles/admin 200
    jq_true '. == {"authenticated": true, "roles": ["admin"]}'
    expect GET /roles/someone 403
    anon GET /roles/admin
    assert_eq "$STATUS" 401 "roles without credentials"
    expect POST /restfcgi/users 201 '{"_id":"carol","password":"pw1","roles":["r1","r2"]}'
    as carol pw1 GET /roles/carol
    assert_eq "$STATUS" 200 "carol's roles"
    jq_true '.roles == ["r1","r2"]'
}

case_malformed_authorization_headers() {
    start_api
    expect GET / 200 # the admin exists
    big=$(head -c 100000 /dev/zero | tr '\0' 'A')
    local i=0
    while IFS= read -r h; do
        # One address each: the brute-force guard would answer 429 after 5.
        api GET / '' -H "Authorization: $h" -p REMOTE_ADDR=10.1.0.$((++i))
        assert_eq "$STATUS" 401 "Authorization: ${h:0:40}"
        is_error 401
    done <<EOF2
Basic !!!!
Basic $(printf 'nocolon' | base64 -w0)
Basic $(printf ':password' | base64 -w0)
Basic $(printf 'admin:' | base64 -w0)
Basic $(printf 'admin:wrong' | base64 -w0)
Basic $(printf 'nobody:pw' | base64 -w0)
Basic YWRtaW46eA
Basic YWRtaW46eA===
Basic
Bearer
Bearer a b
Digest username="admin"
Basic $big
Bearer $big
EOF2
    API_AUTH="" api GET / '' -H "$(printf 'Authorization: Basic %s' "$(printf 'admin:%s' "$RESTFCGI_ADMIN_PASSWORD" | base64 -w0)")"
    assert_eq "$STATUS" 200 "the right password still works"
    no_secret_in_logs "$RESTFCGI_ADMIN_PASSWORD" wrong
}

case_brute_force_guard() {
    # The window outlasts the four requests also when TEST_TIME_SCALE says
    # everything is slower (under valgrind).
    local window=$((2 * ${TEST_TIME_SCALE:-1}))
    start_api "auth = { bcrypt_cost = 4; brute_force = { max_failures = 3; window_s = $window; }; };"
    for i in 1 2 3; do
        as admin "wrong$i" GET / '' -p REMOTE_ADDR=10.0.0.7
        assert_eq "$STATUS" 401 "failure $i"
    done
    as admin "$RESTFCGI_ADMIN_PASSWORD" GET / '' -p REMOTE_ADDR=10.0.0.7
    assert_eq "$STATUS" 429 "locked out, even with the right password"
    is_error 429
    [ -n "$(header Retry-After)" ] || fail "429 without Retry-After"
    as admin "$RESTFCGI_ADMIN_PASSWORD" GET / '' -p REMOTE_ADDR=10.0.0.8
    assert_eq "$STATUS" 200 "another address is not locked out"
    sleep "$window.2"
    as admin "$RESTFCGI_ADMIN_PASSWORD" GET / '' -p REMOTE_ADDR=10.0.0.7
    assert_eq "$STATUS" 200 "after the window"
}

run_case "$@"

# The jwt token manager through HTTP: logins hand back JWTs, Bearer and
# Basic userid:jwt authenticate, tokens minted by PyJWT with the same key are
# accepted and hostile ones are 401; swapping memory for jwt is a config line
# and a SIGHUP.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
SECRET=jwt-test-secret-0123456789abcdef-xyz
JWT_CONF="auth = { bcrypt_cost = 4; token_manager = { plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"$SECRET\"; issuer = \"idp\"; audience = \"api\"; }; };"

need_pyjwt() {
    "$PY" -c 'import jwt' 2>/dev/null || skip "PyJWT missing for $PY (python3-jwt)"
}

# pyjwt ALG SUB EXP-OFFSET [AUD]: a token minted by PyJWT with the secret.
pyjwt() {
    "$PY" - "$SECRET" "$@" <<'PYEOF'
import sys, time, jwt
secret, alg, sub, off = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
aud = sys.argv[5] if len(sys.argv) > 5 else "api"
now = int(time.time())
claims = {"iss": "idp", "aud": aud, "sub": sub, "iat": now, "exp": now + off, "roles": ["admin"]}
if alg == "none":
    print(jwt.encode(claims, None, algorithm="none"))
else:
    print(jwt.encode(claims, secret, algorithm=alg))
PYEOF
}

case_login_gives_a_jwt_that_authenticates() {
    need_pyjwt
    start_api "$JWT_CONF"
    expect GET / 200
    token=$(header Auth-Token)
    assert_eq "$(tr -cd . <<<"$token" | wc -c)" 2 "a JWT has three parts"
    "$PY" -c 'import sys, jwt; c = jwt.decode(sys.argv[1], sys.argv[2], algorithms=["HS256"], audience="api", issuer="idp"); assert c["sub"] == "admin" and c["roles"] == ["admin"], c' \
        "$token" "$SECRET" || fail "PyJWT does not accept the token restfcgi issued"
    API_AUTH="Authorization: Bearer $token" api GET /
    assert_eq "$STATUS" 200 "Bearer JWT"
    as admin "$token" GET /roles/admin
    assert_eq "$STATUS" 200 "Basic admin:jwt"
    add_user bob bob-pw user
    as bob "$token" GET /roles/bob
    assert_eq "$STATUS" 401 "the admin's JWT as bob's password"
    expect DELETE /tokens/admin 405
    no_secret_in_logs "$token" "$SECRET"
}

case_foreign_and_hostile_jwts() {
    need_pyjwt
    start_api "$JWT_CONF"
    API_AUTH="Authorization: Bearer $(pyjwt HS256 admin 300)" api GET /
    assert_eq "$STATUS" 200 "a PyJWT token with the same key, issuer and audience"
    local i=0
    for t in "$(pyjwt none admin 300)" "$(pyjwt HS256 admin -120)" "$(pyjwt HS256 admin 300 other)" \
             "$(pyjwt HS512 admin 300)" "$(pyjwt HS256 admin 300 | sed 's/.$//')" "a.b.c" "x"; do
        API_AUTH="Authorization: Bearer $t" api GET / '' -p "REMOTE_ADDR=10.3.0.$((++i))"
        assert_eq "$STATUS" 401 "hostile token $i"
        is_error 401
    done
}

case_memory_to_jwt_with_a_reload() {
    need_pyjwt
    start_api
    expect GET / 200
    memory_token=$(header Auth-Token)
    assert_eq "${#memory_token}" 43 "a memory token first"
    # One line of config, then SIGHUP: new workers with the jwt manager.
    printf '%s\n' "$JWT_CONF" >>"$T/c.conf"
    sed -i 's/^auth = { bcrypt_cost = 4; };$//' "$T/c.conf"
    kill -HUP "$LAST_PID"
    for _ in $(seq 50); do
        api GET /
        [ "$(header Auth-Token | tr -cd . | wc -c)" = 2 ] && break
        sleep 0.1
    done
    assert_eq "$(header Auth-Token | tr -cd . | wc -c)" 2 "a JWT after the reload"
    as admin "$memory_token" GET /roles/admin '' -p REMOTE_ADDR=10.4.0.1
    assert_eq "$STATUS" 401 "the memory token after the switch"
}

run_case "$@"

# The jwt token manager and PyJWT agree, both ways (SPEC §5: a JWT minted
# elsewhere with the same key, issuer and audience is accepted), and the
# tokens that must not pass do not: alg none, another key, expired, another
# audience. The plugin is driven by tm_tool, which loads it as the server does.
. "$(dirname "$0")/../lib.sh"

# Debian's python3 has python3-jwt; a pyenv python3 first in PATH may not.
PY=/usr/bin/python3
ISS=interop-idp
AUD=interop-api

need_tools() {
    [ -n "${TM_TOOL:-}" ] && [ -x "$TM_TOOL" ] || skip "tm_tool is not built (TM_TOOL)"
    [ -x "$PY" ] || skip "$PY is not installed"
    "$PY" -c 'import jwt, cryptography' 2>/dev/null ||
        skip "PyJWT or cryptography missing for $PY (python3-jwt python3-cryptography)"
    need openssl
}

# jwt_config ALG KEY_SETTINGS...: $T/jwt.conf for the jwt manager, in $CONF.
jwt_config() {
    local alg=$1; shift
    CONF=$T/jwt.conf
    cat >"$CONF" <<CONF
auth = { token_manager = { plugin = "jwt"; algorithm = "$alg"; issuer = "$ISS";
                           audience = "$AUD"; $* }; };
CONF
}

# An HS secret in $T/NAME.secret (no line end, as PyJWT gets it).
make_secret() { "$PY" -c 'import secrets; print(secrets.token_urlsafe(48), end="")' >"$T/$1.secret"; }

# make_key NAME rsa|ec: $T/NAME.pem (private) and $T/NAME.pub.
make_key() {
    case $2 in
        rsa) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/$1.pem" 2>/dev/null ;;
        ec) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/$1.pem" 2>/dev/null ;;
    esac || fail "openssl genpkey $2"
    openssl pkey -in "$T/$1.pem" -pubout -out "$T/$1.pub" || fail "openssl pkey -pubout"
}

# pyjwt_mint ALG KEYFILE CLAIMS_JSON [HEADERS_JSON]: a token from PyJWT on
# stdout; exp, nbf and iat in CLAIMS_JSON are seconds from now.
pyjwt_mint() {
    "$PY" - "$@" <<'PY'
import json, sys, time, jwt
alg, keyfile, claims = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
headers = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
key = None if alg == "none" else open(keyfile, "rb").read()
now = int(time.time())
for k in ("exp", "nbf", "iat"):
    if k in claims:
        claims[k] += now
print(jwt.encode(claims, key, algorithm=alg, headers=headers))
PY
}

# The claims of a token for alice that PyJWT mints, valid for ten minutes.
alice_claims() {
    printf '{"iss":"%s","aud":"%s","sub":"alice","iat":0,"exp":600,"roles":["admin","user"]%s}' \
        "$ISS" "$AUD" "${1:+,$1}"
}

# tm_verify TOKEN [USERID]: tm_tool's answer in OUT, ERR and RC.
tm_verify() {
    OUT=$("$TM_TOOL" -c "$CONF" -p "$RESTFCGI_PLUGIN_DIR" verify "$@" 2>"$T/verify.err")
    RC=$?
    ERR=$(cat "$T/verify.err")
    cat "$T/verify.err" >>"$T/tm_tool.err" # where lib.sh looks for sanitizer reports
}

expect_accepted() { # TOKEN USERID EXPECTED_OUTPUT
    tm_verify "$1" "$2"
    assert_eq "$RC" 0 "tm_tool verify exit code (stderr: $ERR)"
    assert_eq "$OUT" "$3" "tm_tool verify output"
    tm_verify "$1" # Bearer: any user
    assert_eq "$RC" 0 "tm_tool verify without a user"
}

expect_rejected() { # TOKEN REASON
    tm_verify "$1"
    assert_eq "$RC" 1 "tm_tool verify exit code for a token that must fail"
    assert_contains "$ERR" "$2" "the reason"
    assert_not_contains "$ERR" "$1" "the message quotes the token"
}

# pyjwt_check ALG KEYFILE TOKEN: PyJWT verifies a token tm_tool issued for
# alice with the roles admin and user.
pyjwt_check() {
    "$PY" - "$@" "$ISS" "$AUD" <<'PY' || fail "PyJWT refused or misread the token"
import re, sys, time, jwt
alg, keyfile, token, iss, aud = sys.argv[1:6]
c = jwt.decode(token, open(keyfile, "rb").read(), algorithms=[alg], audience=aud, issuer=iss,
               options={"require": ["exp", "iat", "sub", "jti", "iss", "aud"]})
h = jwt.get_unverified_header(token)
assert h["alg"] == alg, h
assert c["sub"] == "alice", c
assert c["roles"] == ["admin", "user"], c
assert re.fullmatch("[0-9a-f]{32}", c["jti"]), c
assert c["exp"] - c["iat"] == 15 * 60, c
assert abs(c["iat"] - time.time()) < 60, c
print(h.get("kid", ""))
PY
}

tm_issue() { "$TM_TOOL" -c "$CONF" -p "$RESTFCGI_PLUGIN_DIR" issue "$@" 2>>"$T/tm_tool.err"; }

case_pyjwt_hs256_token_is_accepted() {
    need_tools
    make_secret s
    jwt_config HS256 "secret_file = \"$T/s.secret\";"
    token=$(pyjwt_mint HS256 "$T/s.secret" "$(alice_claims)") || fail "PyJWT encode"
    expect_accepted "$token" alice "alice admin,user"
    tm_verify "$token" bob
    assert_eq "$RC" 1 "another user's token"
    assert_contains "$ERR" "another user" "the reason"
    # aud may be a list holding ours; no roles claim is no roles.
    token=$(pyjwt_mint HS256 "$T/s.secret" \
        "{\"iss\":\"$ISS\",\"aud\":[\"x\",\"$AUD\"],\"sub\":\"bob\",\"exp\":60}") || fail "PyJWT encode"
    expect_accepted "$token" bob "bob"
}

case_pyjwt_rs256_token_is_accepted() {
    need_tools
    make_key rsa rsa
    # A node that only verifies: the public key alone.
    jwt_config RS256 "public_key_file = \"$T/rsa.pub\";"
    token=$(pyjwt_mint RS256 "$T/rsa.pem" "$(alice_claims)") || fail "PyJWT encode"
    expect_accepted "$token" alice "alice admin,user"
}

case_pyjwt_es256_token_is_accepted() {
    need_tools
    make_key ec ec
    jwt_config ES256 "private_key_file = \"$T/ec.pem\";"
    for _ in 1 2 3 4 5 6 7 8; do # r and s of any length
        token=$(pyjwt_mint ES256 "$T/ec.pem" "$(alice_claims)") || fail "PyJWT encode"
        expect_accepted "$token" alice "alice admin,user"
    done
}

case_issued_hs256_token_verifies_in_pyjwt() {
    need_tools
    make_secret s
    jwt_config HS256 "secret_file = \"$T/s.secret\"; kid = \"2025-01\";"
    token=$(tm_issue alice admin user) || fail "tm_tool issue"
    kid=$(pyjwt_check HS256 "$T/s.secret" "$token")
    assert_eq "$kid" "2025-01" "kid in the header"
}

case_issued_rs256_token_verifies_in_pyjwt() {
    need_tools
    make_key rsa rsa
    jwt_config RS256 "private_key_file = \"$T/rsa.pem\";"
    token=$(tm_issue alice admin user) || fail "tm_tool issue"
    pyjwt_check RS256 "$T/rsa.pub" "$token" >/dev/null
}

case_issued_es256_token_verifies_in_pyjwt() {
    need_tools
    make_key ec ec
    jwt_config ES256 "private_key_file = \"$T/ec.pem\"; public_key_file = \"$T/ec.pub\";"
    for _ in 1 2 3 4 5 6 7 8; do
        token=$(tm_issue alice admin user) || fail "tm_tool issue"
        pyjwt_check ES256 "$T/ec.pub" "$token" >/dev/null
    done
}

case_pyjwt_alg_none_is_rejected() {
    need_tools
    make_secret s
    jwt_config HS256 "secret_file = \"$T/s.secret\";"
    token=$(pyjwt_mint none "" "$(alice_claims)") || fail "PyJWT encode"
    assert_eq "${token##*.}" "" "PyJWT's alg none has an empty signature"
    expect_rejected "$token" "algorithm mismatch"
}

case_pyjwt_wrong_key_is_rejected() {
    need_tools
    make_secret s
    make_secret other
    jwt_config HS256 "secret_file = \"$T/s.secret\";"
    token=$(pyjwt_mint HS256 "$T/other.secret" "$(alice_claims)") || fail "PyJWT encode"
    expect_rejected "$token" "bad signature"
    # HS512 with the right secret is still the wrong algorithm.
    token=$(pyjwt_mint HS512 "$T/s.secret" "$(alice_claims)") || fail "PyJWT encode"
    expect_rejected "$token" "algorithm mismatch"
    make_key rsa rsa
    make_key rsa2 rsa
    jwt_config RS256 "public_key_file = \"$T/rsa.pub\";"
    token=$(pyjwt_mint RS256 "$T/rsa2.pem" "$(alice_claims)") || fail "PyJWT encode"
    expect_rejected "$token" "bad signature"
}

case_pyjwt_expired_token_is_rejected() {
    need_tools
    make_secret s
    jwt_config HS256 "secret_file = \"$T/s.secret\"; leeway = 30;"
    token=$(pyjwt_mint HS256 "$T/s.secret" \
        "{\"iss\":\"$ISS\",\"aud\":\"$AUD\",\"sub\":\"alice\",\"iat\":-700,\"exp\":-100}") ||
        fail "PyJWT encode"
    expect_rejected "$token" "token expired"
    # Within the leeway it still passes.
    token=$(pyjwt_mint HS256 "$T/s.secret" \
        "{\"iss\":\"$ISS\",\"aud\":\"$AUD\",\"sub\":\"alice\",\"exp\":-10}") || fail "PyJWT encode"
    expect_accepted "$token" alice "alice"
}

case_pyjwt_wrong_audience_is_rejected() {
    need_tools
    make_secret s
    jwt_config HS256 "secret_file = \"$T/s.secret\";"
    token=$(pyjwt_mint HS256 "$T/s.secret" \
        "{\"iss\":\"$ISS\",\"aud\":\"another-api\",\"sub\":\"alice\",\"exp\":600}") ||
        fail "PyJWT encode"
    expect_rejected "$token" "audience mismatch"
    token=$(pyjwt_mint HS256 "$T/s.secret" \
        "{\"iss\":\"another-idp\",\"aud\":\"$AUD\",\"sub\":\"alice\",\"exp\":600}") ||
        fail "PyJWT encode"
    expect_rejected "$token" "issuer mismatch"
}

case_pyjwt_previous_key_by_kid() {
    need_tools
    make_secret new
    make_secret old
    jwt_config HS256 "secret_file = \"$T/new.secret\"; kid = \"new\";
        previous_keys = ( { kid = \"old\"; secret_file = \"$T/old.secret\"; } );"
    token=$(pyjwt_mint HS256 "$T/old.secret" "$(alice_claims)" '{"kid":"old"}') || fail "PyJWT encode"
    expect_accepted "$token" alice "alice admin,user"
    token=$(pyjwt_mint HS256 "$T/old.secret" "$(alice_claims)" '{"kid":"older"}') || fail "PyJWT encode"
    expect_rejected "$token" "unknown key id"
    token=$(pyjwt_mint HS256 "$T/old.secret" "$(alice_claims)") || fail "PyJWT encode"
    expect_rejected "$token" "bad signature" # no kid: the current key
}

run_case "$@"

#!/usr/bin/env python3
"""hostile_tokens.py ALG PRIVATE_PEM PUBLIC_PEM OTHER_PEM ISS AUD: the JWTs
tests/regress/hostile/jwt.req replays, as NAME=VALUE lines (JWT_*).
ALG is the server's (RS256 or ES256); PRIVATE_PEM its key; OTHER_PEM a key of
the same kind the server does not know. Tokens that PyJWT will not make
(alg none with a signature, HMAC keyed with the public key, malformed
parts) are put together by hand."""
import base64
import hashlib
import hmac
import json
import sys
import time

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

alg, priv_file, pub_file, other_file, iss, aud = sys.argv[1:7]
priv = open(priv_file, "rb").read()
pub = open(pub_file, "rb").read()
other = open(other_file, "rb").read()
now = int(time.time())
out = {}


def b64(data):
    if isinstance(data, (dict, list)):
        data = json.dumps(data, separators=(",", ":")).encode()
    elif isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**kw):
    c = {"iss": iss, "aud": aud, "sub": "admin", "iat": now, "exp": now + 600,
         "jti": "0123456789abcdef0123456789abcdef", "roles": ["admin"]}
    for k, v in kw.items():
        if v is None:
            c.pop(k, None)
        else:
            c[k] = v
    return c


def signed(c, key=priv, algorithm=alg, headers=None):
    return jwt.encode(c, key, algorithm=algorithm, headers=headers)


def raw_signed(header, payload_text, key=priv, algorithm=alg):
    """A token over a header and payload given as text, signed with key."""
    signing_input = (b64(header) + "." + b64(payload_text)).encode()
    algo = jwt.get_algorithm_by_name(algorithm)
    sig = algo.sign(signing_input, algo.prepare_key(key))
    return signing_input.decode() + "." + b64(sig)


def hmac_token(secret, digest=hashlib.sha256, name="HS256", header_extra=None):
    header = {"alg": name, "typ": "JWT", **(header_extra or {})}
    signing_input = b64(header) + "." + b64(claims())
    sig = hmac.new(secret, signing_input.encode(), digest).digest()
    return signing_input + "." + b64(sig)


good = signed(claims())
h, p, s = good.split(".")
out["JWT_GOOD"] = good
# alg none in four spellings, with and without a signature.
for name, spelling in (("NONE", "none"), ("NONE_CAP", "None"), ("NONE_UPPER", "NONE"),
                       ("NONE_MIXED", "nOnE")):
    out[f"JWT_{name}"] = b64({"alg": spelling, "typ": "JWT"}) + "." + p + "."
out["JWT_NONE_WITH_SIG"] = b64({"alg": "none", "typ": "JWT"}) + "." + p + "." + s
out["JWT_NONE_NO_DOT"] = b64({"alg": "none"}) + "." + p
out["JWT_ALG_EMPTY"] = b64({"alg": ""}) + "." + p + "."
out["JWT_ALG_MISSING"] = b64({"typ": "JWT"}) + "." + p + "." + s
out["JWT_ALG_NULL"] = b64({"alg": None}) + "." + p + "." + s
out["JWT_ALG_ARRAY"] = b64({"alg": [alg, "none"]}) + "." + p + "." + s
out["JWT_ALG_SPACE"] = b64({"alg": alg + " "}) + "." + p + "." + s
out["JWT_ALG_LOWER"] = b64({"alg": alg.lower()}) + "." + p + "." + s
# Key confusion: HMAC keyed with the public key the server verifies with.
out["JWT_HS256_PUBKEY"] = hmac_token(pub)
out["JWT_HS256_PUBKEY_NO_NL"] = hmac_token(pub.rstrip(b"\n"))
pub_der = serialization.load_pem_public_key(pub).public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
out["JWT_HS256_PUBKEY_DER"] = hmac_token(pub_der)
out["JWT_HS384_PUBKEY"] = hmac_token(pub, hashlib.sha384, "HS384")
out["JWT_HS512_PUBKEY"] = hmac_token(pub, hashlib.sha512, "HS512")
out["JWT_HS256_EMPTY_KEY"] = hmac_token(b"")
# The right key, another algorithm of its family.
family = {"RS256": ["RS384", "RS512", "PS256"], "ES256": ["ES384", "ES512"]}[alg]
for other_alg in family:
    try:
        out[f"JWT_{other_alg}_SAME_KEY"] = signed(claims(), algorithm=other_alg)
    except Exception:  # ES384 needs a P-384 key: sign ES256, relabel
        out[f"JWT_{other_alg}_SAME_KEY"] = b64({"alg": other_alg, "typ": "JWT"}) + "." + p + "." + s
out["JWT_OTHER_KEY"] = signed(claims(), key=other)
out["JWT_OTHER_FAMILY"] = jwt.encode(
    claims(), ec.generate_private_key(ec.SECP256R1()) if alg == "RS256" else
    open(other_file, "rb").read(), algorithm="ES256" if alg == "RS256" else "ES256")
# Time claims.
out["JWT_EXPIRED"] = signed(claims(exp=now - 3600))
out["JWT_EXPIRED_PAST_LEEWAY"] = signed(claims(exp=now - 120))
out["JWT_NOT_YET_VALID"] = signed(claims(nbf=now + 3600))
out["JWT_NO_EXP"] = signed(claims(exp=None))
out["JWT_EXP_STRING"] = signed(claims(exp=str(now + 600)))
out["JWT_EXP_NULL"] = raw_signed({"alg": alg, "typ": "JWT"}, json.dumps(claims(exp=None) | {"exp": None}))
out["JWT_EXP_BOOL"] = signed(claims(exp=True))
out["JWT_NBF_STRING"] = signed(claims(nbf="0"))
out["JWT_EXP_NEGATIVE"] = signed(claims(exp=-1))
# Issuer and audience.
out["JWT_WRONG_ISS"] = signed(claims(iss="evil-idp"))
out["JWT_NO_ISS"] = signed(claims(iss=None))
out["JWT_ISS_PREFIX"] = signed(claims(iss=iss + "x"))
out["JWT_ISS_CASE"] = signed(claims(iss=iss.upper()))
out["JWT_WRONG_AUD"] = signed(claims(aud="other-api"))
out["JWT_NO_AUD"] = signed(claims(aud=None))
out["JWT_AUD_LIST_OTHERS"] = signed(claims(aud=["a", "b"]))
out["JWT_AUD_EMPTY_LIST"] = signed(claims(aud=[]))
out["JWT_AUD_OBJECT"] = signed(claims(aud={"aud": aud}))
# Subject and roles.
out["JWT_NO_SUB"] = signed(claims(sub=None))
out["JWT_SUB_EMPTY"] = signed(claims(sub=""))
out["JWT_SUB_NUMBER"] = signed(claims(sub=1))
out["JWT_SUB_LONG"] = signed(claims(sub="a" * 300))
out["JWT_SUB_NUL"] = signed(claims(sub="admin\u0000x"))
out["JWT_SUB_OBJECT"] = signed(claims(sub={"$ne": None}))
out["JWT_ROLES_STRING"] = signed(claims(roles="admin"))
out["JWT_ROLES_OBJECTS"] = signed(claims(roles=[{"$ne": None}]))
out["JWT_ROLES_NESTED"] = signed(claims(roles=[["admin"]]))
# Signatures and encodings.
flipped = s[:-5] + ("A" if s[-5] != "A" else "B") + s[-4:]
out["JWT_BAD_SIG"] = h + "." + p + "." + flipped
out["JWT_TRUNC_SIG"] = h + "." + p + "." + s[:-10]
out["JWT_NO_SIG"] = h + "." + p + "."
out["JWT_EMPTY_SIG_SEGMENT_TWO_DOTS"] = h + "." + p + ".."
out["JWT_TWO_PARTS"] = h + "." + p
out["JWT_FOUR_PARTS"] = good + ".x"
out["JWT_FIVE_PARTS_JWE"] = h + ".." + p + ".." + s
out["JWT_DOTS"] = ".."
out["JWT_PADDED"] = h + "==." + p + "." + s
out["JWT_STD_B64_SIG"] = h + "." + p + "." + s.replace("-", "+").replace("_", "/") + "+/"
out["JWT_GARBAGE_B64"] = "!!!.@@@.###"
out["JWT_SPACE_INSIDE"] = h + "." + p[:10] + " " + p[10:] + "." + s
out["JWT_PAYLOAD_SWAPPED"] = h + "." + b64(claims(sub="root", roles=["admin", "root"])) + "." + s
out["JWT_HEADER_NOT_JSON"] = b64("not json") + "." + p + "." + s
out["JWT_HEADER_ARRAY"] = b64([alg]) + "." + p + "." + s
out["JWT_PAYLOAD_NOT_JSON"] = raw_signed({"alg": alg, "typ": "JWT"}, "not json")
out["JWT_PAYLOAD_ARRAY"] = raw_signed({"alg": alg, "typ": "JWT"}, json.dumps([claims()]))
out["JWT_PAYLOAD_TRAILING"] = raw_signed({"alg": alg, "typ": "JWT"}, json.dumps(claims()) + "{}")
out["JWT_PAYLOAD_DUP_SUB"] = raw_signed(
    {"alg": alg, "typ": "JWT"}, json.dumps(claims())[:-1] + ',"sub":"root"}')
out["JWT_PAYLOAD_DEEP"] = raw_signed({"alg": alg, "typ": "JWT"},
                                     json.dumps(claims())[:-1] + ',"x":' + "[" * 5000 + "]" * 5000 + "}")
out["JWT_HEADER_DUP_ALG"] = raw_signed({"alg": alg}, json.dumps(claims())).replace(
    b64({"alg": alg}), b64('{"alg":"%s","alg":"none"}' % alg), 1)
# Header tricks: kid paths, embedded and remote keys, critical extensions.
attacker = ec.generate_private_key(ec.SECP256R1())
attacker_pem = attacker.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(attacker.public_key()))
out["JWT_KID_TRAVERSAL"] = hmac_token(b"", header_extra={"kid": "../../../../../dev/null"})
out["JWT_KID_SQL"] = signed(claims(), key=other, headers={"kid": "x' UNION SELECT 'key"})
out["JWT_EMBEDDED_JWK"] = jwt.encode(claims(), attacker_pem, algorithm="ES256", headers={"jwk": jwk})
out["JWT_JKU"] = jwt.encode(claims(), attacker_pem, algorithm="ES256",
                            headers={"jku": "http://127.0.0.1:1/keys.json"})
out["JWT_X5U"] = signed(claims(), key=other, headers={"x5u": "http://127.0.0.1:1/cert.pem"})
out["JWT_CRIT_UNKNOWN"] = signed(claims(), headers={"crit": ["exp"]})
# Sizes: past RESTFCGI_TOKEN_MAX (8191) with a valid signature, and garbage.
out["JWT_HUGE_SIGNED"] = signed(claims(pad="x" * 9000))
out["JWT_HUGE_GARBAGE"] = "A" * 8000 + "." + "B" * 100 + "." + "C" * 100
# A token the server must accept, for the Basic userid:token entries.
out["JWT_GOOD_BOB"] = signed(claims(sub="bob", roles=["user"]))

for name, value in out.items():
    assert "\n" not in value and "'" not in value, name
    print(f"{name}={value}")

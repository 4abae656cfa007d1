/*
 * jwt_mint.c: new tokens, signed by libjwt with the current key: iss and
 * aud when configured, sub, iat, exp = iat + ttl, a random jti, roles, and
 * the current kid in the header. Every node holding the key verifies them.
 */
#include <errno.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "tm_jwt.h"

#define JTI_BYTES 16 /* 128 random bits */

/* {"roles":[...]} for jwt_add_grants_json; NULL when out of memory. */
static char *roles_json(const struct restfcgi_account *acct)
{
    size_t cap = sizeof "{\"roles\":[]}";
    for (uint32_t i = 0; i < acct->nroles; i++)
        cap += 6 * strnlen(acct->roles[i], RESTFCGI_ROLE_MAX) + 3;
    char *json = malloc(cap), *o = json;
    if (!json)
        return NULL;
    o = stpcpy(o, "{\"roles\":[");
    for (uint32_t i = 0; i < acct->nroles; i++) {
        if (i)
            *o++ = ',';
        tmjwt_json_quote(acct->roles[i], o);
        o += strlen(o);
    }
    strcpy(o, "]}");
    return json;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* The current signing key for libjwt: the secret, or the private PEM. */
static int set_key(const struct jwt_tm *tm, jwt_t *jwt)
{
    const struct tmjwt_key *k = &tm->keys[0];
    if (tm->alg->family == TMJWT_HMAC)
        return jwt_set_alg(jwt, (jwt_alg_t)tm->alg->libjwt_alg, k->secret, (int)k->secret_len);
    return jwt_set_alg(jwt, (jwt_alg_t)tm->alg->libjwt_alg, tm->private_pem,
                       (int)tm->private_pem_len);
}

static int add_claims(const struct jwt_tm *tm, jwt_t *jwt, const struct restfcgi_account *acct,
                      int64_t iat, const char *jti)
{
    char *roles = roles_json(acct);
    int e = roles ? 0 : ENOMEM;
    if (!e && tm->keys[0].kid)
        e = jwt_add_header(jwt, "kid", tm->keys[0].kid);
    if (!e && tm->issuer)
        e = jwt_add_grant(jwt, "iss", tm->issuer);
    if (!e && tm->audience)
        e = jwt_add_grant(jwt, "aud", tm->audience);
    if (!e)
        e = jwt_add_grant(jwt, "sub", acct->userid);
    if (!e)
        e = jwt_add_grant_int(jwt, "iat", (long)iat);
    if (!e)
        e = jwt_add_grant_int(jwt, "exp", (long)(iat + tm->ttl_s));
    if (!e)
        e = jwt_add_grant(jwt, "jti", jti);
    if (!e)
        e = jwt_add_grants_json(jwt, roles);
    free(roles);
    return e;
}

bool tmjwt_mint(const struct jwt_tm *tm, const struct restfcgi_account *acct,
                struct restfcgi_token *out, struct restfcgi_error *err)
{
    unsigned char raw[JTI_BYTES];
    char jti[2 * JTI_BYTES + 1];
    if (tm->alg->family != TMJWT_HMAC && !tm->private_pem)
        return tmjwt_internal(err, "jwt token manager has no private_key_file: it only verifies");
    if (!acct->userid[0] || acct->nroles > RESTFCGI_ROLES_MAX)
        return tmjwt_internal(err, "cannot issue a token for this account");
    if (!tm->host->random_bytes(raw, sizeof raw))
        return tmjwt_internal(err, "no random bytes for a token id");
    hex(raw, sizeof raw, jti);
    int64_t iat = tm->host->now_ms() / 1000;
    jwt_t *jwt = NULL;
    char *text = NULL;
    if (jwt_new(&jwt) == 0 && set_key(tm, jwt) == 0 && add_claims(tm, jwt, acct, iat, jti) == 0)
        text = jwt_encode_str(jwt);
    jwt_free(jwt);
    size_t len = text ? strlen(text) : 0;
    const char *why = !text ? "cannot sign a token" : len > RESTFCGI_TOKEN_MAX ? "token too long" : NULL;
    if (!why) {
        memcpy(out->value, text, len + 1);
        out->valid_until_ms = (iat + tm->ttl_s) * 1000;
    }
    free(text);
    return !why || tmjwt_internal(err, why);
}

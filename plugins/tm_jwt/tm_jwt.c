/*
 * tm_jwt: signed JSON Web Tokens (RFC 7519), stateless: any node with the
 * key verifies a token, so a cluster needs no sticky sessions, and nothing
 * can be revoked before it expires.
 *
 * Verify trusts nothing of the token before its header says the configured
 * algorithm (libjwt 1.10 would follow the token's alg, allowing "none" and
 * HS256 keyed with an RSA public key); the signature is then checked with
 * OpenSSL and the keys parsed in init, the claims with jwt_claims.c.
 */
#include "sha256_md.h"
#include <stdlib.h>
#include <string.h>

#include "tm_jwt.h"

static bool tm_init(const struct restfcgi_host *host, const restfcgi_conf *conf, void **state,
                    struct restfcgi_error *err)
{
    *state = NULL;
    struct jwt_tm *tm = calloc(1, sizeof *tm);
    if (!tm)
        return tmjwt_internal(err, "out of memory");
    tm->host = host;
    tm->sha256 = sha256_md_fetch();
    if (!tm->sha256) {
        tmjwt_free(tm);
        return tmjwt_internal(err, "no SHA-256 in OpenSSL");
    }
    if (!tmjwt_configure(tm, conf, err)) {
        tmjwt_free(tm);
        return false;
    }
    *state = tm;
    return true;
}

/* Keys were loaded in init; the cache is per process already (fork copies it). */
static bool tm_worker_init(void *state, struct restfcgi_error *err)
{
    (void)state, (void)err;
    return true;
}

static void tm_cleanup(void *state) { tmjwt_free(state); }

static bool tm_issue(void *state, const struct restfcgi_account *acct, struct restfcgi_token *out,
                     struct restfcgi_error *err)
{
    return tmjwt_mint(state, acct, out, err);
}

/* Size and bytes, before anything is decoded. */
static bool plausible(const char *token, size_t len, struct restfcgi_error *err)
{
    if (len == 0)
        return tmjwt_unauthorized(err, "empty token");
    if (len > RESTFCGI_TOKEN_MAX)
        return tmjwt_unauthorized(err, "token too long");
    if (memchr(token, '\0', len))
        return tmjwt_unauthorized(err, "NUL byte in token");
    return true;
}

/* header.payload.signature: three base64url parts, the first two non-empty. */
struct parts {
    const char *part[3];
    size_t len[3];
};

static bool split(const char *token, size_t len, struct parts *p, struct restfcgi_error *err)
{
    const char *end = token + len, *at = token;
    for (int i = 0; i < 3; i++) {
        const char *dot = i < 2 ? memchr(at, '.', (size_t)(end - at)) : end;
        if (!dot)
            return tmjwt_unauthorized(err, "not a JWT: it needs three parts");
        p->part[i] = at;
        p->len[i] = (size_t)(dot - at);
        at = dot + 1;
    }
    if (memchr(p->part[2], '.', p->len[2]))
        return tmjwt_unauthorized(err, "not a JWT: it needs three parts");
    if (p->len[0] == 0 || p->len[1] == 0)
        return tmjwt_unauthorized(err, "not a JWT: empty header or claims");
    return true;
}

/* Header, then the signature with the key the header names, then claims;
 * buf holds the decoded parts (they are never longer than the token). */
static bool check_parts(const struct jwt_tm *tm, const char *token, const struct parts *p,
                        unsigned char *buf, int64_t now_ms, struct tmjwt_verified *v,
                        struct restfcgi_error *err)
{
    size_t hlen, clen, slen;
    unsigned char *claims = buf + tmjwt_b64url_max(p->len[0]);
    unsigned char *sig = claims + tmjwt_b64url_max(p->len[1]);
    if (!tmjwt_b64url_decode(p->part[0], p->len[0], buf, &hlen))
        return tmjwt_unauthorized(err, "bad base64url in token header");
    const struct tmjwt_key *key = tmjwt_check_header(tm, (const char *)buf, hlen, err);
    if (!key)
        return false;
    if (!tmjwt_b64url_decode(p->part[2], p->len[2], sig, &slen) ||
        !tmjwt_signature_ok(tm->alg, key, token, p->len[0] + 1 + p->len[1], sig, slen))
        return tmjwt_unauthorized(err, "bad signature");
    if (!tmjwt_b64url_decode(p->part[1], p->len[1], claims, &clen))
        return tmjwt_unauthorized(err, "bad base64url in token claims");
    return tmjwt_check_claims(tm, (const char *)claims, clen, now_ms, v, err);
}

static bool verify_uncached(const struct jwt_tm *tm, const char *token, size_t len,
                            int64_t now_ms, struct tmjwt_verified *v, struct restfcgi_error *err)
{
    struct parts p;
    if (!split(token, len, &p, err))
        return false;
    unsigned char *buf = malloc(len + 9);
    if (!buf)
        return tmjwt_internal(err, "out of memory");
    bool ok = check_parts(tm, token, &p, buf, now_ms, v, err);
    free(buf);
    return ok;
}

/* Any user's token: the cache first, every check on a miss. */
static bool verify_token(struct jwt_tm *tm, const char *token, size_t len,
                         struct tmjwt_verified *v, struct restfcgi_error *err)
{
    unsigned char hash[TMJWT_HASH_LEN];
    if (!plausible(token, len, err))
        return false;
    if (!sha256(tm->sha256, token, len, hash))
        return tmjwt_internal(err, "no SHA-256 from OpenSSL");
    int64_t now_ms = tm->host->now_ms();
    if (tmjwt_cache_get(tm->cache, hash, v)) {
        if (tmjwt_check_exp(tm, v->exp_ms, now_ms, err))
            return true;
        tmjwt_cache_drop(tm->cache, hash);
        return false;
    }
    if (!verify_uncached(tm, token, len, now_ms, v, err))
        return false;
    tmjwt_cache_put(tm->cache, hash, v);
    return true;
}

static bool verify_user(struct jwt_tm *tm, const char *userid, const char *token, size_t len,
                        struct tmjwt_verified *v, struct restfcgi_error *err)
{
    if (!verify_token(tm, token, len, v, err))
        return false;
    if (userid && strcmp(v->acct.userid, userid) != 0)
        return tmjwt_unauthorized(err, "the token belongs to another user");
    return true;
}

static bool tm_verify(void *state, const char *userid, const char *token, size_t len,
                      struct restfcgi_account *acct, int64_t *valid_until_ms,
                      struct restfcgi_error *err)
{
    struct tmjwt_verified v;
    if (!verify_user(state, userid, token, len, &v, err))
        return false;
    *acct = v.acct;
    *valid_until_ms = v.exp_ms;
    return true;
}

/* Stateless sliding expiry: the same token while more than half of the ttl
 * remains (clients keep one token, and nodes mint less), else a new one for
 * the token's account. A node that only verifies hands the same one back. */
static bool tm_touch(void *state, const struct restfcgi_account *acct, const char *token,
                     size_t len, struct restfcgi_token *out, struct restfcgi_error *err)
{
    struct jwt_tm *tm = state;
    struct tmjwt_verified v;
    if (!verify_user(tm, acct->userid, token, len, &v, err))
        return false;
    bool can_mint = tm->alg->family == TMJWT_HMAC || tm->private_pem;
    if (v.exp_ms - tm->host->now_ms() > tm->ttl_s * 500 || !can_mint) {
        memcpy(out->value, token, len);
        out->value[len] = '\0';
        out->valid_until_ms = v.exp_ms;
        return true;
    }
    return tmjwt_mint(tm, &v.acct, out, err);
}

static bool tm_revoke(void *state, const char *userid, struct restfcgi_error *err)
{
    (void)state, (void)userid;
    err->domain = RESTFCGI_ERR_AUTH;
    err->code = 405;
    snprintf(err->message, sizeof err->message,
             "jwt tokens cannot be revoked; they expire after their ttl");
    return false;
}

static const struct restfcgi_token_manager_ops ops = {
    .life = {.struct_size = sizeof ops, .init = tm_init, .worker_init = tm_worker_init,
             .cleanup = tm_cleanup},
    .issue = tm_issue,
    .verify = tm_verify,
    .touch = tm_touch,
    .revoke = tm_revoke,
};

static const struct restfcgi_plugin descriptor = {
    .abi_major = RESTFCGI_PLUGIN_ABI_MAJOR,
    .abi_minor = RESTFCGI_PLUGIN_ABI_MINOR,
    .struct_size = sizeof descriptor,
    .kind = RESTFCGI_PLUGIN_TOKEN_MANAGER,
    .name = TM_NAME,
    .version = "0.1.0",
    .ops = &ops,
};

RESTFCGI_PLUGIN_EXPORT const struct restfcgi_plugin *restfcgi_plugin_tm_jwt(void);
RESTFCGI_PLUGIN_EXPORT const struct restfcgi_plugin *restfcgi_plugin_tm_jwt(void)
{
    return &descriptor;
}

/*
 * jwt_claims.c: the rules of verify for the header and the claims (SPEC §5).
 * Each failure has its short reason for the debug log; none quotes the
 * token. A member we rely on that appears twice is refused: parsers differ
 * on which one wins, and a token must mean one thing.
 */
#include <math.h>
#include <string.h>

#include "tm_jwt.h"

struct header {
    struct tmjwt_jval alg, kid;
    bool crit, twice;
};

/* Remembers a member the first time, notes a second one. */
static bool remember(struct tmjwt_jval *slot, const struct tmjwt_jval *val, bool *twice)
{
    if (slot->text) {
        *twice = true;
        return false;
    }
    *slot = *val;
    return true;
}

static bool header_member(void *ctx, const char *key, const struct tmjwt_jval *val)
{
    struct header *h = ctx;
    if (strcmp(key, "alg") == 0)
        return remember(&h->alg, val, &h->twice);
    if (strcmp(key, "kid") == 0)
        return remember(&h->kid, val, &h->twice);
    if (strcmp(key, "crit") == 0)
        h->crit = true;
    return true;
}

/* The token's kid picks a key; without one, the current key verifies. */
static const struct tmjwt_key *key_by_kid(const struct jwt_tm *tm, const struct tmjwt_jval *kid)
{
    char name[TMJWT_KID_MAX + 1];
    if (!kid->text)
        return &tm->keys[0];
    if (!tmjwt_json_string(kid, name, sizeof name))
        return NULL;
    for (size_t i = 0; i < tm->nkeys; i++)
        if (tm->keys[i].kid && strcmp(tm->keys[i].kid, name) == 0)
            return &tm->keys[i];
    return NULL;
}

const struct tmjwt_key *tmjwt_check_header(const struct jwt_tm *tm, const char *json, size_t len,
                                           struct restfcgi_error *err)
{
    struct header h = {0};
    char alg[8];
    if (!tmjwt_json_object(json, len, header_member, &h)) {
        tmjwt_unauthorized(err, h.twice ? "duplicate header parameter" : "malformed token header");
        return NULL;
    }
    /* Before any key is used: libjwt would follow whatever alg says. */
    if (!h.alg.text || !tmjwt_json_string(&h.alg, alg, sizeof alg) ||
        strcmp(alg, tm->alg->name) != 0) {
        tmjwt_unauthorized(err, "algorithm mismatch");
        return NULL;
    }
    if (h.crit) { /* we implement no extension a token could make critical */
        tmjwt_unauthorized(err, "unsupported critical header parameter");
        return NULL;
    }
    const struct tmjwt_key *key = key_by_kid(tm, &h.kid);
    if (!key)
        tmjwt_unauthorized(err, "unknown key id");
    return key;
}

struct claims {
    struct tmjwt_jval exp, nbf, iat, iss, aud, sub, roles;
    bool twice;
};

static bool claim_member(void *ctx, const char *key, const struct tmjwt_jval *val)
{
    struct claims *c = ctx;
    static const struct {
        const char *name;
        size_t offset;
    } known[] = {
        {"exp", offsetof(struct claims, exp)}, {"nbf", offsetof(struct claims, nbf)},
        {"iat", offsetof(struct claims, iat)}, {"iss", offsetof(struct claims, iss)},
        {"aud", offsetof(struct claims, aud)}, {"sub", offsetof(struct claims, sub)},
        {"roles", offsetof(struct claims, roles)},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(key, known[i].name) == 0)
            return remember((struct tmjwt_jval *)((char *)c + known[i].offset), val, &c->twice);
    return true;
}

/* A NumericDate in milliseconds, within years 1970 to 9999. */
static bool numeric_date_ms(const struct tmjwt_jval *val, int64_t *ms)
{
    double s;
    if (!tmjwt_json_number(val, &s) || s < 0 || s > (double)TMJWT_EXP_MAX)
        return false;
    *ms = (int64_t)floor(s * 1000);
    return true;
}

bool tmjwt_check_exp(const struct jwt_tm *tm, int64_t exp_ms, int64_t now_ms,
                     struct restfcgi_error *err)
{
    if (exp_ms + tm->leeway_s * 1000 <= now_ms)
        return tmjwt_unauthorized(err, "token expired");
    return true;
}

static bool times(const struct jwt_tm *tm, const struct claims *c, int64_t now_ms,
                  int64_t *exp_ms, struct restfcgi_error *err)
{
    double nbf, iat;
    if (!c->exp.text)
        return tmjwt_unauthorized(err, "token has no exp");
    if (!numeric_date_ms(&c->exp, exp_ms))
        return tmjwt_unauthorized(err, "exp is not a valid date");
    if (!tmjwt_check_exp(tm, *exp_ms, now_ms, err))
        return false;
    if (c->nbf.text && !tmjwt_json_number(&c->nbf, &nbf))
        return tmjwt_unauthorized(err, "nbf is not a number");
    /* In doubles: any finite nbf compares, however far in the past or future. */
    if (c->nbf.text && (nbf - (double)tm->leeway_s) * 1000 > (double)now_ms)
        return tmjwt_unauthorized(err, "token not yet valid");
    if (c->iat.text && !tmjwt_json_number(&c->iat, &iat))
        return tmjwt_unauthorized(err, "iat is not a number");
    return true;
}

static bool issuer(const struct jwt_tm *tm, const struct claims *c, struct restfcgi_error *err)
{
    char iss[TMJWT_CLAIM_MAX + 1];
    if (tm->issuer && (!c->iss.text || !tmjwt_json_string(&c->iss, iss, sizeof iss) ||
                       strcmp(iss, tm->issuer) != 0))
        return tmjwt_unauthorized(err, "issuer mismatch");
    return true;
}

struct audience_search {
    const char *want;
    bool found;
};

/* Every element must be a string; one of them ours. */
static bool audience_element(void *ctx, const struct tmjwt_jval *val)
{
    struct audience_search *a = ctx;
    char aud[TMJWT_CLAIM_MAX + 1];
    if (val->type != TMJWT_JSTRING)
        return false;
    if (tmjwt_json_string(val, aud, sizeof aud) && strcmp(aud, a->want) == 0)
        a->found = true;
    return true;
}

/* aud is one string or an array of strings (RFC 7519 §4.1.3). */
static bool audience(const struct jwt_tm *tm, const struct claims *c, struct restfcgi_error *err)
{
    char aud[TMJWT_CLAIM_MAX + 1];
    struct audience_search a = {tm->audience, false};
    if (!tm->audience)
        return true;
    if (c->aud.text && c->aud.type == TMJWT_JSTRING)
        a.found = tmjwt_json_string(&c->aud, aud, sizeof aud) && strcmp(aud, tm->audience) == 0;
    else if (c->aud.text && !tmjwt_json_array(&c->aud, audience_element, &a))
        a.found = false;
    return a.found || tmjwt_unauthorized(err, "audience mismatch");
}

static bool subject(const struct claims *c, struct restfcgi_account *acct,
                    struct restfcgi_error *err)
{
    if (!c->sub.text)
        return tmjwt_unauthorized(err, "token has no sub");
    if (!tmjwt_json_string(&c->sub, acct->userid, sizeof acct->userid) || !acct->userid[0])
        return tmjwt_unauthorized(err, "sub is not a valid user id");
    return true;
}

static bool role_element(void *ctx, const struct tmjwt_jval *val)
{
    struct restfcgi_account *acct = ctx;
    if (acct->nroles == RESTFCGI_ROLES_MAX)
        return false;
    if (!tmjwt_json_string(val, acct->roles[acct->nroles], sizeof acct->roles[0]))
        return false;
    acct->nroles++;
    return true;
}

/* Absent is no roles; else at most RESTFCGI_ROLES_MAX short strings. */
static bool roles(const struct claims *c, struct restfcgi_account *acct,
                  struct restfcgi_error *err)
{
    if (!c->roles.text)
        return true;
    if (!tmjwt_json_array(&c->roles, role_element, acct))
        return tmjwt_unauthorized(err, acct->nroles == RESTFCGI_ROLES_MAX
                                           ? "too many roles"
                                           : "roles is not an array of short strings");
    return true;
}

bool tmjwt_check_claims(const struct jwt_tm *tm, const char *json, size_t len, int64_t now_ms,
                        struct tmjwt_verified *out, struct restfcgi_error *err)
{
    struct claims c = {0};
    memset(out, 0, sizeof *out);
    if (!tmjwt_json_object(json, len, claim_member, &c))
        return tmjwt_unauthorized(err, c.twice ? "duplicate claim" : "malformed token claims");
    return times(tm, &c, now_ms, &out->exp_ms, err) && issuer(tm, &c, err) &&
           audience(tm, &c, err) && subject(&c, &out->acct, err) && roles(&c, &out->acct, err);
}

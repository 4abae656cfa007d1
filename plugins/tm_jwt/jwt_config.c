/*
 * jwt_config.c: the auth.token_manager group of the jwt manager (SPEC §3).
 * Default-free where it matters: no algorithm or no key refuses to start,
 * rather than issuing tokens anybody could forge.
 */
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#include "tm_jwt.h"

#define GROUP "auth.token_manager"
#define DEFAULT_TTL_MIN 15
#define DEFAULT_LEEWAY_S 30

/* An optional string: absent leaves *out NULL; present must be 1..max bytes. */
static bool optional_string(const struct restfcgi_host *host, const restfcgi_conf *group,
                            const char *what, const char *key, size_t max, const char **out,
                            struct restfcgi_error *err)
{
    *out = NULL;
    int r = host->conf_string(group, key, out, err);
    if (r == RESTFCGI_CONF_WRONG_TYPE)
        return false;
    if (r == RESTFCGI_CONF_FOUND && (**out == '\0' || strlen(*out) > max))
        return host->conf_fail(group, err, "%s.%s must be 1 to %zu bytes", what, key, max);
    return true;
}

static bool copy_string(const char *s, char **out, struct restfcgi_error *err)
{
    *out = NULL;
    if (s && !(*out = strdup(s)))
        return tmjwt_internal(err, "out of memory");
    return true;
}

static bool algorithm(struct jwt_tm *tm, const restfcgi_conf *conf, struct restfcgi_error *err)
{
    const char *name = NULL;
    int r = tm->host->conf_string(conf, "algorithm", &name, err);
    if (r == RESTFCGI_CONF_WRONG_TYPE)
        return false;
    if (r == RESTFCGI_CONF_ABSENT || !(tm->alg = tmjwt_alg_find(name)))
        return tm->host->conf_fail(conf, err,
                                   GROUP ".algorithm must be one of HS256, HS384, HS512, RS256, "
                                         "RS384, RS512, ES256, ES384, ES512");
    return true;
}

static bool durations(struct jwt_tm *tm, const restfcgi_conf *conf, struct restfcgi_error *err)
{
    int64_t ttl = DEFAULT_TTL_MIN, leeway = DEFAULT_LEEWAY_S;
    if (tm->host->conf_int(conf, "ttl", &ttl, err) == RESTFCGI_CONF_WRONG_TYPE ||
        tm->host->conf_int(conf, "leeway", &leeway, err) == RESTFCGI_CONF_WRONG_TYPE)
        return false;
    if (ttl < 1 || ttl > 525600)
        return tm->host->conf_fail(conf, err, GROUP ".ttl must be 1 to 525600 minutes");
    if (leeway < 0 || leeway > 3600)
        return tm->host->conf_fail(conf, err, GROUP ".leeway must be 0 to 3600 seconds");
    tm->ttl_s = ttl * 60;
    tm->leeway_s = leeway;
    return true;
}

/* iss and aud of issued tokens, required on verify when configured. */
static bool claims(struct jwt_tm *tm, const restfcgi_conf *conf, struct restfcgi_error *err)
{
    const char *iss, *aud;
    return optional_string(tm->host, conf, GROUP, "issuer", TMJWT_CLAIM_MAX, &iss, err) &&
           optional_string(tm->host, conf, GROUP, "audience", TMJWT_CLAIM_MAX, &aud, err) &&
           copy_string(iss, &tm->issuer, err) && copy_string(aud, &tm->audience, err);
}

/* Which of secret, secret_file, private_key_file, public_key_file are set. */
struct key_names {
    const char *secret, *secret_file, *private_key_file, *public_key_file;
};

static bool key_names(const struct restfcgi_host *host, const restfcgi_conf *group,
                      struct key_names *k, struct restfcgi_error *err)
{
    memset(k, 0, sizeof *k);
    return host->conf_string(group, "secret", &k->secret, err) != RESTFCGI_CONF_WRONG_TYPE &&
           host->conf_string(group, "secret_file", &k->secret_file, err) != RESTFCGI_CONF_WRONG_TYPE &&
           host->conf_string(group, "private_key_file", &k->private_key_file, err) !=
               RESTFCGI_CONF_WRONG_TYPE &&
           host->conf_string(group, "public_key_file", &k->public_key_file, err) !=
               RESTFCGI_CONF_WRONG_TYPE;
}

/* A secret for RS/ES or a PEM for HS is a mistake worth refusing: the
 * operator believes the tokens are protected by a key that is not used. */
static bool family_keys(const struct restfcgi_host *host, const restfcgi_conf *group,
                        const char *what, const struct tmjwt_alg *alg, const struct key_names *k,
                        struct restfcgi_error *err)
{
    if (alg->family == TMJWT_HMAC && (k->private_key_file || k->public_key_file))
        return host->conf_fail(group, err, "%s.%s is for RS and ES algorithms, not %s", what,
                               k->private_key_file ? "private_key_file" : "public_key_file",
                               alg->name);
    if (alg->family != TMJWT_HMAC && (k->secret || k->secret_file))
        return host->conf_fail(group, err, "%s.%s is for HS algorithms, not %s", what,
                               k->secret ? "secret" : "secret_file", alg->name);
    return true;
}

/* RS/ES: the private key to issue (kept as PEM for libjwt), the public key to
 * verify, derived from the private one when not given. */
static bool current_pem_keys(struct jwt_tm *tm, const restfcgi_conf *conf,
                             const struct key_names *k, struct restfcgi_error *err)
{
    struct tmjwt_key *key = &tm->keys[0];
    if (!k->private_key_file && !k->public_key_file)
        return tm->host->conf_fail(conf, err,
                                   GROUP " needs private_key_file or public_key_file for %s",
                                   tm->alg->name);
    EVP_PKEY *priv = NULL;
    if (k->private_key_file &&
        !(priv = tmjwt_load_pem(tm->host, conf, GROUP ".private_key_file", k->private_key_file,
                                true, tm->alg, &tm->private_pem, &tm->private_pem_len, err)))
        return false;
    if (k->public_key_file)
        key->pub = tmjwt_load_pem(tm->host, conf, GROUP ".public_key_file", k->public_key_file,
                                  false, tm->alg, NULL, NULL, err);
    else if (!(key->pub = tmjwt_public_of(priv)))
        tmjwt_internal(err, "cannot derive the public key from " GROUP ".private_key_file");
    bool ok = key->pub != NULL;
    if (ok && priv && EVP_PKEY_eq(key->pub, priv) != 1)
        ok = tm->host->conf_fail(conf, err,
                                 GROUP ".public_key_file does not match " GROUP ".private_key_file");
    EVP_PKEY_free(priv);
    return ok;
}

static bool current_key(struct jwt_tm *tm, const restfcgi_conf *conf, struct restfcgi_error *err)
{
    struct key_names k;
    const char *kid;
    if (!key_names(tm->host, conf, &k, err) ||
        !family_keys(tm->host, conf, GROUP, tm->alg, &k, err) ||
        !optional_string(tm->host, conf, GROUP, "kid", TMJWT_KID_MAX, &kid, err) ||
        !copy_string(kid, &tm->keys[0].kid, err))
        return false;
    tm->nkeys = 1;
    if (tm->alg->family == TMJWT_HMAC)
        return tmjwt_load_secret(tm->host, conf, GROUP, k.secret, k.secret_file, &tm->keys[0], err);
    return current_pem_keys(tm, conf, &k, err);
}

static bool kid_taken(const struct jwt_tm *tm, const char *kid)
{
    for (size_t i = 0; i < tm->nkeys; i++)
        if (tm->keys[i].kid && strcmp(tm->keys[i].kid, kid) == 0)
            return true;
    return false;
}

/* previous_keys[i]: verify-only, same algorithm, chosen by the header's kid. */
static bool previous_key(struct jwt_tm *tm, const restfcgi_conf *item, size_t i,
                         struct restfcgi_error *err)
{
    static const char *const known[] = {"kid", "secret", "secret_file", "public_key_file", NULL};
    const struct restfcgi_host *host = tm->host;
    char what[64], pem_what[96];
    snprintf(what, sizeof what, GROUP ".previous_keys[%zu]", i);
    snprintf(pem_what, sizeof pem_what, "%s.public_key_file", what);
    struct key_names k;
    const char *kid;
    if (!host->conf_check_keys(item, known, err) || !key_names(host, item, &k, err) ||
        !family_keys(host, item, what, tm->alg, &k, err) ||
        !optional_string(host, item, what, "kid", TMJWT_KID_MAX, &kid, err))
        return false;
    if (!kid)
        return host->conf_fail(item, err, "%s needs a kid", what);
    if (kid_taken(tm, kid))
        return host->conf_fail(item, err, "%s.kid is used by another key", what);
    struct tmjwt_key *key = &tm->keys[tm->nkeys];
    if (tm->alg->family != TMJWT_HMAC && !k.public_key_file)
        return host->conf_fail(item, err, "%s needs public_key_file for %s", what, tm->alg->name);
    bool ok = tm->alg->family == TMJWT_HMAC
                  ? tmjwt_load_secret(host, item, what, k.secret, k.secret_file, key, err)
                  : (key->pub = tmjwt_load_pem(host, item, pem_what, k.public_key_file, false,
                                               tm->alg, NULL, NULL, err)) != NULL;
    tm->nkeys++; /* so that tmjwt_free releases what was loaded */
    return ok && copy_string(kid, &key->kid, err);
}

static bool previous_keys(struct jwt_tm *tm, const restfcgi_conf *conf, struct restfcgi_error *err)
{
    const restfcgi_conf *list;
    int r = tm->host->conf_group(conf, "previous_keys", 0, &list, err);
    if (r != RESTFCGI_CONF_FOUND)
        return r == RESTFCGI_CONF_ABSENT;
    size_t n = tm->host->conf_length(conf, "previous_keys");
    if (n > TMJWT_PREVIOUS_MAX)
        return tm->host->conf_fail(list, err, GROUP ".previous_keys holds at most %d keys",
                                   TMJWT_PREVIOUS_MAX);
    for (size_t i = 0; i < n; i++) {
        const restfcgi_conf *item;
        if (tm->host->conf_group(list, NULL, i, &item, err) != RESTFCGI_CONF_FOUND ||
            !previous_key(tm, item, i, err))
            return false;
    }
    return true;
}

bool tmjwt_configure(struct jwt_tm *tm, const restfcgi_conf *conf, struct restfcgi_error *err)
{
    static const char *const known[] = {"plugin", "algorithm", "secret", "secret_file",
                                        "private_key_file", "public_key_file", "issuer",
                                        "audience", "ttl", "leeway", "kid", "previous_keys", NULL};
    if (!tm->host->conf_check_keys(conf, known, err) || !algorithm(tm, conf, err) ||
        !durations(tm, conf, err) || !claims(tm, conf, err) || !current_key(tm, conf, err) ||
        !previous_keys(tm, conf, err))
        return false;
    if (!(tm->cache = tmjwt_cache_new()))
        return tmjwt_internal(err, "out of memory");
    return true;
}

void tmjwt_free(struct jwt_tm *tm)
{
    if (!tm)
        return;
    for (size_t i = 0; i < sizeof tm->keys / sizeof tm->keys[0]; i++)
        tmjwt_key_free(&tm->keys[i]);
    if (tm->private_pem)
        OPENSSL_clear_free(tm->private_pem, tm->private_pem_len + 1);
    free(tm->issuer);
    free(tm->audience);
    tmjwt_cache_free(tm->cache);
    EVP_MD_free(tm->sha256);
    free(tm);
}

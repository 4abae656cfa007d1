/*
 * tm_jwt.h: the parts of the jwt token manager, shared between its files.
 *
 *   jwt_keys.c       algorithms, secrets and PEM keys (loaded once in init)
 *   jwt_config.c     the configuration group: keys, claims, ttl, rotation
 *   jwt_base64.c     strict base64url
 *   jwt_json.c       a small strict JSON reader for headers and claims
 *   jwt_signature.c  signature checks with OpenSSL and the preloaded keys
 *   jwt_claims.c     the header and claim rules of verify
 *   jwt_cache.c      the per-process cache of verified tokens
 *   jwt_mint.c       new tokens, signed by libjwt
 *   tm_jwt.c         the plugin's ops table
 */
#ifndef TM_JWT_H
#define TM_JWT_H

#include <openssl/evp.h>
#include <stdio.h>

#include "restfcgi_plugin.h"

#define TM_NAME "jwt"
#define TMJWT_PREVIOUS_MAX 16      /* previous_keys entries */
#define TMJWT_KID_MAX 255          /* bytes of a key id */
#define TMJWT_CLAIM_MAX 1023       /* bytes of issuer and audience */
#define TMJWT_SECRET_MIN 32        /* bytes of an HS secret */
#define TMJWT_RSA_BITS_MIN 2048
#define TMJWT_EXP_MAX 253402300799 /* 9999-12-31T23:59:59Z, in seconds */

enum tmjwt_family { TMJWT_HMAC, TMJWT_RSA, TMJWT_EC };

/* One of the nine algorithms of SPEC §3. */
struct tmjwt_alg {
    const char *name; /* as in the token header: "HS256" */
    enum tmjwt_family family;
    const char *digest; /* OpenSSL digest name */
    const char *curve;  /* EC: the curve the algorithm names, as OpenSSL names it */
    size_t ec_half;     /* EC: bytes of r and of s in the signature */
    int libjwt_alg;     /* jwt_alg_t, for minting */
};

/* A key that verifies: the current one or a previous one (by kid). */
struct tmjwt_key {
    char *kid;             /* NULL: none */
    unsigned char *secret; /* HMAC */
    size_t secret_len;
    EVP_PKEY *pub; /* RSA, EC */
};

struct tmjwt_cache;

struct jwt_tm {
    const struct restfcgi_host *host;
    EVP_MD *sha256; /* the verification cache's key digest (sha256_md.h) */
    const struct tmjwt_alg *alg;
    /* keys[0] is the current key, the rest are previous_keys. */
    struct tmjwt_key keys[1 + TMJWT_PREVIOUS_MAX];
    size_t nkeys;
    /* RS/ES: the private key as read, for libjwt; NULL when the node only
     * verifies (public_key_file alone). */
    unsigned char *private_pem;
    size_t private_pem_len;
    char *issuer, *audience; /* NULL: not configured */
    int64_t ttl_s, leeway_s;
    struct tmjwt_cache *cache;
};

/* What verify learnt from a token. */
struct tmjwt_verified {
    struct restfcgi_account acct;
    int64_t exp_ms;
};

/* Every token that does not verify is a 401, whatever the reason. */
static inline bool tmjwt_unauthorized(struct restfcgi_error *err, const char *why)
{
    err->domain = RESTFCGI_ERR_AUTH;
    err->code = 401;
    snprintf(err->message, sizeof err->message, "%s", why);
    return false;
}

static inline bool tmjwt_internal(struct restfcgi_error *err, const char *why)
{
    err->domain = RESTFCGI_ERR_INTERNAL;
    err->code = 500;
    snprintf(err->message, sizeof err->message, "%s", why);
    return false;
}

/* jwt_keys.c */
const struct tmjwt_alg *tmjwt_alg_find(const char *name);
/* Reads a whole small file; NULL with errno set (EFBIG when too large). */
unsigned char *tmjwt_read_file(const char *path, size_t max, size_t *len);
/* An HS secret from the config value or file, at least TMJWT_SECRET_MIN bytes;
 * what names the key in messages ("auth.token_manager.secret"). */
bool tmjwt_load_secret(const struct restfcgi_host *host, const restfcgi_conf *group,
                       const char *what, const char *value, const char *file,
                       struct tmjwt_key *key, struct restfcgi_error *err);
/* A PEM key of the algorithm's family (RSA of 2048 bits or more, EC on the
 * algorithm's curve); private loads a private key, else a public one. */
EVP_PKEY *tmjwt_load_pem(const struct restfcgi_host *host, const restfcgi_conf *group,
                         const char *what, const char *path, bool private,
                         const struct tmjwt_alg *alg, unsigned char **pem, size_t *pem_len,
                         struct restfcgi_error *err);
/* The public half of a private key, as its own EVP_PKEY. */
EVP_PKEY *tmjwt_public_of(EVP_PKEY *private);
void tmjwt_key_free(struct tmjwt_key *key);

/* jwt_config.c */
bool tmjwt_configure(struct jwt_tm *tm, const restfcgi_conf *conf, struct restfcgi_error *err);
void tmjwt_free(struct jwt_tm *tm);

/* jwt_base64.c */
/* Strict decoding: the url alphabet only, no padding, no spare bits set.
 * out holds at least tmjwt_b64url_max(len) bytes. */
bool tmjwt_b64url_decode(const char *in, size_t len, unsigned char *out, size_t *outlen);
static inline size_t tmjwt_b64url_max(size_t len) { return len / 4 * 3 + 3; }

/* jwt_json.c */
enum tmjwt_jtype { TMJWT_JSTRING, TMJWT_JNUMBER, TMJWT_JLITERAL, TMJWT_JARRAY, TMJWT_JOBJECT };
/* A member value as it stands in the JSON text, already checked. */
struct tmjwt_jval {
    enum tmjwt_jtype type;
    const char *text;
    size_t len;
};
/* Calls member() for each member of the object that is the whole text;
 * key is decoded (keys longer than 63 bytes are truncated, which no name
 * member() looks for can match). False on bad JSON or when member() says so. */
typedef bool (*tmjwt_member_fn)(void *ctx, const char *key, const struct tmjwt_jval *val);
bool tmjwt_json_object(const char *text, size_t len, tmjwt_member_fn member, void *ctx);
/* A string value decoded into out (cap bytes with the NUL); false when it
 * is not a string, longer than cap - 1 bytes, or holds a NUL or control
 * character. */
bool tmjwt_json_string(const struct tmjwt_jval *val, char *out, size_t cap);
/* A number value as a finite double. */
bool tmjwt_json_number(const struct tmjwt_jval *val, double *out);
/* Calls element() for each element of an array value. */
typedef bool (*tmjwt_element_fn)(void *ctx, const struct tmjwt_jval *val);
bool tmjwt_json_array(const struct tmjwt_jval *val, tmjwt_element_fn element, void *ctx);
/* s as a JSON string with quotes; out holds 6 * strlen(s) + 3 bytes. */
void tmjwt_json_quote(const char *s, char *out);

/* jwt_signature.c */
/* Does sig sign input under key, with the configured algorithm? */
bool tmjwt_signature_ok(const struct tmjwt_alg *alg, const struct tmjwt_key *key,
                        const char *input, size_t input_len, const unsigned char *sig,
                        size_t sig_len);

/* jwt_claims.c */
/* The key the header names (alg must be the configured one); 401 else. */
const struct tmjwt_key *tmjwt_check_header(const struct jwt_tm *tm, const char *json, size_t len,
                                           struct restfcgi_error *err);
/* The claims, by the rules of verify, at now_ms. */
bool tmjwt_check_claims(const struct jwt_tm *tm, const char *json, size_t len, int64_t now_ms,
                        struct tmjwt_verified *out, struct restfcgi_error *err);
/* exp with the leeway, for fresh and cached tokens alike. */
bool tmjwt_check_exp(const struct jwt_tm *tm, int64_t exp_ms, int64_t now_ms,
                     struct restfcgi_error *err);

/* jwt_cache.c */
#define TMJWT_HASH_LEN 32
struct tmjwt_cache *tmjwt_cache_new(void);
void tmjwt_cache_free(struct tmjwt_cache *c);
bool tmjwt_cache_get(struct tmjwt_cache *c, const unsigned char hash[TMJWT_HASH_LEN],
                     struct tmjwt_verified *out);
void tmjwt_cache_put(struct tmjwt_cache *c, const unsigned char hash[TMJWT_HASH_LEN],
                     const struct tmjwt_verified *v);
void tmjwt_cache_drop(struct tmjwt_cache *c, const unsigned char hash[TMJWT_HASH_LEN]);

/* jwt_mint.c */
bool tmjwt_mint(const struct jwt_tm *tm, const struct restfcgi_account *acct,
                struct restfcgi_token *out, struct restfcgi_error *err);

#endif

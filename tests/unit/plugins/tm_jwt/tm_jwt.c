#include "../../../../plugins/tm_jwt/jwt_base64.c"
#include "../../../../plugins/tm_jwt/jwt_cache.c"
#include "../../../../plugins/tm_jwt/jwt_claims.c"
#include "../../../../plugins/tm_jwt/jwt_config.c"
#include "../../../../plugins/tm_jwt/jwt_json.c"
#include "../../../../plugins/tm_jwt/jwt_keys.c"
#include "../../../../plugins/tm_jwt/jwt_mint.c"
#include "../../../../plugins/tm_jwt/jwt_signature.c"
#include "../../../../plugins/tm_jwt/tm_jwt.c"

#include <dirent.h>
#include <libconfig.h>
#include <pthread.h>
#include <openssl/hmac.h>
#include <stdarg.h>

#include "check.h"
#include "host.h"

/*
 * The jwt token manager through its plugin ops, with the real host services
 * but a clock the cases can move. Hostile tokens are built here by hand
 * (base64url of JSON, HMAC or a signature from OpenSSL), independently of
 * the plugin's code; issued tokens are read back with libjwt.
 */

#define SECRET "0123456789abcdef0123456789abcdef" /* 32 bytes, the minimum */
#define OTHER_SECRET "fedcba9876543210fedcba9876543210"
#define HS256_CONF                                                                       \
    "plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; issuer = \"idp\"; " \
    "audience = \"api\";"
#define TOKEN_CAP (RESTFCGI_TOKEN_MAX + 64)

static int64_t clock_shift_ms;
static int64_t shifted_now_ms(void) { return host_now_ms() + clock_shift_ms; }
static long long now_s(void) { return (long long)(shifted_now_ms() / 1000); }

static struct restfcgi_host test_host;
static struct restfcgi_error start_err;

/* init with the config text; the tree is gone before the plugin is used,
 * as init must have copied what it keeps. NULL with start_err on refusal. */
static void *start(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void *start(const char *fmt, ...)
{
    char text[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    config_t conf;
    config_init(&conf);
    if (config_read_string(&conf, text) != CONFIG_TRUE) {
        fprintf(stderr, "bad test config: %s\n", config_error_text(&conf));
        abort();
    }
    test_host = *host_services();
    test_host.now_ms = shifted_now_ms;
    memset(&start_err, 0, sizeof start_err);
    void *state = NULL;
    if (!ops.life.init(&test_host, (const restfcgi_conf *)config_root_setting(&conf), &state,
                       &start_err))
        state = NULL;
    config_destroy(&conf);
    if (state)
        CHECK(ops.life.worker_init(state, &start_err));
    return state;
}

static void stop(void *s) { ops.life.cleanup(s); }

/* --- files ------------------------------------------------------------- */

static char tmp_dir[64];

static void remove_tmp_dir(void)
{
    DIR *d = opendir(tmp_dir);
    struct dirent *e;
    char path[sizeof tmp_dir + sizeof e->d_name + 2];
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", tmp_dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(tmp_dir);
}

static const char *tmp_path(const char *name)
{
    static char paths[16][128];
    static int next;
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/unit-tm-jwt.XXXXXX");
        if (!mkdtemp(tmp_dir))
            abort();
        atexit(remove_tmp_dir);
    }
    char *p = paths[next++ % 16];
    snprintf(p, 128, "%s/%s", tmp_dir, name);
    return p;
}

static const char *write_file(const char *name, const void *data, size_t len)
{
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
        abort();
    return path;
}

/* "RSA" (2048 bits) or a curve ("P-256"); *pub gets the public PEM file. */
static EVP_PKEY *gen_key(const char *kind, const char *name, const char **priv, const char **pub)
{
    EVP_PKEY *k = strcmp(kind, "RSA") == 0 ? EVP_RSA_gen(2048) : EVP_EC_gen(kind);
    char file[64];
    if (!k)
        abort();
    for (int private = 1; private >= 0; private--) {
        BIO *b = BIO_new(BIO_s_mem());
        char *data;
        if (private ? !PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)
                    : !PEM_write_bio_PUBKEY(b, k))
            abort();
        long len = BIO_get_mem_data(b, &data);
        snprintf(file, sizeof file, "%s.%s.pem", name, private ? "key" : "pub");
        *(private ? priv : pub) = write_file(file, data, (size_t)len);
        BIO_free(b);
    }
    return k;
}

static char *slurp(const char *path, size_t *len)
{
    char *s = (char *)tmjwt_read_file(path, 1 << 20, len);
    if (!s)
        abort();
    return s;
}

/* --- tokens by hand --------------------------------------------------- */

static void b64u(const void *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    for (int i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    while (len > 0 && out[len - 1] == '=')
        len--;
    out[len] = '\0';
}

/* JWS r || s from OpenSSL's DER. */
static size_t der_to_raw(const unsigned char *der, size_t len, size_t half, unsigned char *out)
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(es, &r, &s);
    BN_bn2binpad(r, out, (int)half);
    BN_bn2binpad(s, out + half, (int)half);
    ECDSA_SIG_free(es);
    return 2 * half;
}

/*
 * b64u(header).b64u(claims).signature: sig_alg "HS256|HS384|HS512" with
 * (key, keylen), "RS256" or "ES256" with pkey, "none" for an empty one.
 */
static void forge(char *out, const char *header, const char *claims, const char *sig_alg,
                  const void *key, size_t keylen, EVP_PKEY *pkey)
{
    unsigned char sig[1024];
    size_t siglen = 0;
    b64u(header, strlen(header), out);
    strcat(out, ".");
    b64u(claims, strlen(claims), out + strlen(out));
    size_t input_len = strlen(out);
    const EVP_MD *md = strstr(sig_alg, "384") ? EVP_sha384() : strstr(sig_alg, "512") ? EVP_sha512()
                                                                                     : EVP_sha256();
    if (sig_alg[0] == 'H') {
        unsigned int n = 0;
        HMAC(md, key, (int)keylen, (unsigned char *)out, input_len, sig, &n);
        siglen = n;
    } else if (sig_alg[0] == 'R' || sig_alg[0] == 'E') {
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        siglen = sizeof sig;
        if (EVP_DigestSignInit(ctx, NULL, md, NULL, pkey) != 1 ||
            EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)out, input_len) != 1)
            abort();
        EVP_MD_CTX_free(ctx);
        if (sig_alg[0] == 'E') {
            unsigned char der[256];
            memcpy(der, sig, siglen);
            siglen = der_to_raw(der, siglen, (size_t)(EVP_PKEY_get_bits(pkey) + 7) / 8, sig);
        }
    }
    strcat(out, ".");
    b64u(sig, siglen, out + strlen(out));
}

/* The usual claims of a token for alice valid for ten minutes, plus extra. */
static const char *claims_with(const char *extra)
{
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"iss\":\"idp\",\"aud\":\"api\",\"sub\":\"alice\",\"iat\":%lld,\"exp\":%lld,"
             "\"roles\":[\"user\",\"admin\"]%s%s}",
             now_s(), now_s() + 600, extra[0] ? "," : "", extra);
    return buf;
}

#define HS256_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* Verify as anyone; 0 when accepted, else the error code (checked to be an
 * AUTH error whose message does not quote the token). */
static int verify_code(void *s, const char *userid, const char *token)
{
    struct restfcgi_account acct;
    struct restfcgi_error err = {0};
    int64_t until = 0;
    if (ops.verify(s, userid, token, strlen(token), &acct, &until, &err))
        return 0;
    CHECK_INT(err.domain, RESTFCGI_ERR_AUTH);
    CHECK(err.message[0] != '\0');
    CHECK(!token[0] || strstr(err.message, token) == NULL);
    return err.code;
}

static int forged_code(void *s, const char *header, const char *claims)
{
    char token[TOKEN_CAP];
    forge(token, header, claims, "HS256", SECRET, strlen(SECRET), NULL);
    return verify_code(s, NULL, token);
}

static struct restfcgi_account account(const char *userid, int nroles)
{
    struct restfcgi_account a = {0};
    snprintf(a.userid, sizeof a.userid, "%s", userid);
    for (int i = 0; i < nroles; i++)
        snprintf(a.roles[a.nroles++], sizeof a.roles[0], "role%d", i);
    return a;
}

/* --- issue and verify ----------------------------------------------------- */

/* Issues for alice with two roles, verifies as anyone and as alice, and
 * checks the claims with libjwt, which knows nothing of the plugin. */
static void round_trip(void *s, const void *key, size_t keylen)
{
    struct restfcgi_account a = account("alice", 2), got;
    struct restfcgi_token t;
    struct restfcgi_error err = {0};
    int64_t until = 0;
    CHECK(ops.issue(s, &a, &t, &err));
    CHECK(ops.verify(s, NULL, t.value, strlen(t.value), &got, &until, &err));
    CHECK_STR(got.userid, "alice");
    CHECK_INT(got.nroles, 2);
    CHECK_STR(got.roles[1], "role1");
    CHECK_INT(until, t.valid_until_ms);
    CHECK(until > shifted_now_ms() + 14 * 60000 && until <= shifted_now_ms() + 15 * 60000);
    CHECK(ops.verify(s, "alice", t.value, strlen(t.value), &got, &until, &err));
    jwt_t *j = NULL;
    CHECK_INT(jwt_decode(&j, t.value, key, (int)keylen), 0);
    if (!j)
        return;
    CHECK_STR(jwt_get_grant(j, "sub"), "alice");
    CHECK_INT(jwt_get_grant_int(j, "exp") - jwt_get_grant_int(j, "iat"), 15 * 60);
    CHECK_INT(jwt_get_grant_int(j, "exp") * 1000, t.valid_until_ms);
    CHECK_INT(strlen(jwt_get_grant(j, "jti")), 32);
    char *roles = jwt_get_grants_json(j, "roles");
    CHECK_STR(roles, "[\"role0\",\"role1\"]");
    free(roles);
    jwt_free(j);
    struct restfcgi_token t2;
    CHECK(ops.issue(s, &a, &t2, &err));
    CHECK(strcmp(t.value, t2.value) != 0); /* another jti */
}

TEST_CASE(hs256_issue_then_verify)
{
    void *s = start(HS256_CONF " kid = \"k1\";");
    CHECK(s != NULL);
    round_trip(s, SECRET, strlen(SECRET));
    struct restfcgi_token t;
    struct restfcgi_error err = {0};
    struct restfcgi_account a = account("alice", 0);
    CHECK(ops.issue(s, &a, &t, &err));
    jwt_t *j = NULL;
    CHECK_INT(jwt_decode(&j, t.value, (const unsigned char *)SECRET, (int)strlen(SECRET)), 0);
    CHECK_STR(jwt_get_grant(j, "iss"), "idp");
    CHECK_STR(jwt_get_grant(j, "aud"), "api");
    CHECK_STR(jwt_get_header(j, "kid"), "k1");
    CHECK_STR(jwt_get_header(j, "alg"), "HS256");
    jwt_free(j);
    stop(s);
}

TEST_CASE(hs512_issue_then_verify)
{
    void *s = start("plugin = \"jwt\"; algorithm = \"HS512\"; secret = \"" SECRET "\";");
    CHECK(s != NULL);
    round_trip(s, SECRET, strlen(SECRET));
    stop(s);
}

TEST_CASE(secret_file_is_read_without_its_line_end)
{
    const char *path = write_file("secret", SECRET "\n", strlen(SECRET) + 1);
    void *s = start("plugin = \"jwt\"; algorithm = \"HS384\"; secret_file = \"%s\";", path);
    CHECK(s != NULL);
    round_trip(s, SECRET, strlen(SECRET));
    stop(s);
}

TEST_CASE(rs256_issue_then_verify)
{
    const char *priv, *pub;
    EVP_PKEY *k = gen_key("RSA", "rsa", &priv, &pub);
    size_t publen;
    char *pubpem = slurp(pub, &publen);
    /* The public key derived from the private one. */
    void *s = start("plugin = \"jwt\"; algorithm = \"RS256\"; private_key_file = \"%s\";", priv);
    CHECK(s != NULL);
    round_trip(s, pubpem, publen);
    /* A node with the public key only verifies, and cannot issue. */
    struct restfcgi_account a = account("alice", 1), got;
    struct restfcgi_token t, t2;
    struct restfcgi_error err = {0};
    int64_t until = 0;
    CHECK(ops.issue(s, &a, &t, &err));
    void *v = start("plugin = \"jwt\"; algorithm = \"RS256\"; public_key_file = \"%s\";", pub);
    CHECK(v != NULL);
    CHECK(ops.verify(v, "alice", t.value, strlen(t.value), &got, &until, &err));
    CHECK(!ops.issue(v, &a, &t2, &err));
    CHECK_INT(err.code, 500);
    CHECK(strstr(err.message, "private_key_file") != NULL);
    stop(v);
    stop(s);
    free(pubpem);
    EVP_PKEY_free(k);
}

TEST_CASE(es256_384_512_issue_then_verify)
{
    static const char *const algs[][2] = {{"ES256", "P-256"}, {"ES384", "P-384"}, {"ES512", "P-521"}};
    for (int i = 0; i < 3; i++) {
        const char *priv, *pub;
        EVP_PKEY *k = gen_key(algs[i][1], algs[i][0], &priv, &pub);
        size_t publen;
        char *pubpem = slurp(pub, &publen);
        void *s = start("plugin = \"jwt\"; algorithm = \"%s\"; private_key_file = \"%s\"; "
                        "public_key_file = \"%s\";",
                        algs[i][0], priv, pub);
        CHECK(s != NULL);
        round_trip(s, pubpem, publen);
        /* Many signatures: r or s with leading zero bytes must verify too. */
        struct restfcgi_account a = account("alice", 0), got;
        struct restfcgi_token t;
        struct restfcgi_error err = {0};
        int64_t until = 0;
        int ok = 0;
        for (int n = 0; n < 300; n++)
            ok += ops.issue(s, &a, &t, &err) &&
                  ops.verify(s, "alice", t.value, strlen(t.value), &got, &until, &err);
        CHECK_INT(ok, 300);
        /* Signed outside libjwt. */
        char token[TOKEN_CAP], header[64];
        snprintf(header, sizeof header, "{\"alg\":\"%s\"}", algs[i][0]);
        forge(token, header, claims_with(""), algs[i][0], NULL, 0, k);
        CHECK_INT(verify_code(s, "alice", token), 0);
        /* r || s with a byte more or less, and the DER form, are refused. */
        unsigned char sig[300];
        size_t siglen;
        char *dot = strrchr(token, '.') + 1;
        CHECK(tmjwt_b64url_decode(dot, strlen(dot), sig, &siglen));
        for (int delta = -1; delta <= 1; delta += 2) {
            char evil[TOKEN_CAP];
            sig[siglen] = 0;
            snprintf(evil, sizeof evil, "%.*s", (int)(dot - token), token);
            b64u(sig, (size_t)((int)siglen + delta), evil + strlen(evil));
            CHECK_INT(verify_code(s, "alice", evil), 401);
        }
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(sig, (int)siglen / 2, NULL),
                       BN_bin2bn(sig + siglen / 2, (int)siglen / 2, NULL));
        unsigned char *der = NULL;
        int derlen = i2d_ECDSA_SIG(es, &der);
        char evil[TOKEN_CAP];
        snprintf(evil, sizeof evil, "%.*s", (int)(dot - token), token);
        b64u(der, (size_t)derlen, evil + strlen(evil));
        CHECK_INT(verify_code(s, "alice", evil), 401);
        OPENSSL_free(der);
        ECDSA_SIG_free(es);
        stop(s);
        free(pubpem);
        EVP_PKEY_free(k);
    }
}

/* --- tokens that are refused -------------------------------------------- */

TEST_CASE(another_users_token_is_401)
{
    void *s = start(HS256_CONF);
    struct restfcgi_account a = account("alice", 1);
    struct restfcgi_token t;
    struct restfcgi_error err = {0};
    CHECK(ops.issue(s, &a, &t, &err));
    CHECK_INT(verify_code(s, "bob", t.value), 401);
    CHECK_INT(verify_code(s, "alice", t.value), 0);
    CHECK_INT(verify_code(s, "bob", t.value), 401); /* from the cache now */
    CHECK_INT(verify_code(s, "alic", t.value), 401);
    stop(s);
}

TEST_CASE(tampered_payload_is_401)
{
    void *s = start(HS256_CONF);
    char token[TOKEN_CAP], evil[TOKEN_CAP];
    forge(token, HS256_HEADER, claims_with(""), "HS256", SECRET, strlen(SECRET), NULL);
    CHECK_INT(verify_code(s, NULL, token), 0);
    /* Alice's signature over claims that say bob. */
    char bob[4096];
    snprintf(bob, sizeof bob, "{\"iss\":\"idp\",\"aud\":\"api\",\"sub\":\"bob\",\"exp\":%lld}",
             now_s() + 600);
    forge(evil, HS256_HEADER, bob, "none", NULL, 0, NULL);
    strcat(evil, strrchr(token, '.') + 1);
    CHECK_INT(verify_code(s, NULL, evil), 401);
    /* One character of the claims changed. */
    snprintf(evil, sizeof evil, "%s", token);
    char *c = strchr(evil, '.') + 5;
    *c = *c == 'A' ? 'B' : 'A';
    CHECK_INT(verify_code(s, NULL, evil), 401);
    stop(s);
}

TEST_CASE(tampered_signature_is_401)
{
    void *s = start(HS256_CONF);
    struct restfcgi_account a = account("alice", 1);
    struct restfcgi_token t;
    struct restfcgi_error err = {0};
    CHECK(ops.issue(s, &a, &t, &err));
    char evil[TOKEN_CAP];
    snprintf(evil, sizeof evil, "%s", t.value);
    char *c = strrchr(evil, '.') + 3;
    *c = *c == 'A' ? 'B' : 'A';
    CHECK_INT(verify_code(s, NULL, evil), 401);
    /* Signed with another secret. */
    forge(evil, HS256_HEADER, claims_with(""), "HS256", OTHER_SECRET, strlen(OTHER_SECRET), NULL);
    CHECK_INT(verify_code(s, NULL, evil), 401);
    /* The same bytes spelt another way: the last character's spare bits. */
    snprintf(evil, sizeof evil, "%s", t.value);
    char *last = evil + strlen(evil) - 1;
    *last = (char)(*last == 'A' ? 'B' : *last == 'g' ? 'h' : *last == 'w' ? 'x' : *last == 'Q' ? 'R' : '!');
    CHECK_INT(verify_code(s, NULL, evil), 401);
    /* A signature one byte short, and one byte long. */
    snprintf(evil, sizeof evil, "%s", t.value);
    evil[strlen(evil) - 2] = '\0';
    CHECK_INT(verify_code(s, NULL, evil), 401);
    snprintf(evil, sizeof evil, "%sAA", t.value);
    CHECK_INT(verify_code(s, NULL, evil), 401);
    stop(s);
}

TEST_CASE(truncated_and_empty_tokens_are_401)
{
    void *s = start(HS256_CONF);
    struct restfcgi_account a = account("alice", 1), got;
    struct restfcgi_token t;
    struct restfcgi_error err = {0};
    int64_t until = 0;
    CHECK(ops.issue(s, &a, &t, &err));
    size_t len = strlen(t.value);
    for (size_t cut = 1; cut < len; cut += 7)
        CHECK(!ops.verify(s, NULL, t.value, len - cut, &got, &until, &err) && err.code == 401);
    CHECK(!ops.verify(s, NULL, t.value, 0, &got, &until, &err));
    CHECK_INT(err.code, 401);
    CHECK_STR(err.message, "empty token");
    CHECK_INT(verify_code(s, NULL, ""), 401);
    /* Only the signature cut off. */
    char evil[TOKEN_CAP];
    snprintf(evil, sizeof evil, "%s", t.value);
    strrchr(evil, '.')[1] = '\0';
    CHECK_INT(verify_code(s, NULL, evil), 401);
    stop(s);
}

TEST_CASE(garbage_is_401)
{
    void *s = start(HS256_CONF);
    static const char *const garbage[] = {
        "a.b.c", "...", "..", ".", "abc", "a.b", "a.b.c.d", "!!!.???.###", "eyJhbGciOiJIUzI1NiJ9..",
        "eyJhbGciOiJIUzI1NiJ9.e30.", "e30.e30.e30", "bnVsbA.bnVsbA.AAAA", "W10.W10.AAAA",
        "eyJhbGciOiJIUzI1NiJ9=.e30.AAAA", /* padding */
        "eyJhbGciOiJIUzI1NiJ9.e30.A",     /* 6 bits cannot make a byte */
        "eyJhbGciOiJIUzI1NiJ9.e31.AAAA",  /* spare bits set */
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage[0]; i++)
        CHECK_INT(verify_code(s, NULL, garbage[i]), 401);
    struct restfcgi_account acct;
    struct restfcgi_error err = {0};
    int64_t until = 0;
    /* A NUL inside, and a token longer than RESTFCGI_TOKEN_MAX. */
    char nul[] = "eyJhbGciOiJIUzI1NiJ9\0.e30.AAAA";
    CHECK(!ops.verify(s, NULL, nul, sizeof nul - 1, &acct, &until, &err));
    CHECK_STR(err.message, "NUL byte in token");
    char *huge = malloc(RESTFCGI_TOKEN_MAX + 2);
    memset(huge, 'A', RESTFCGI_TOKEN_MAX + 1);
    huge[RESTFCGI_TOKEN_MAX + 1] = '\0';
    huge[10] = huge[20] = '.';
    CHECK(!ops.verify(s, NULL, huge, strlen(huge), &acct, &until, &err));
    CHECK_INT(err.code, 401);
    CHECK_STR(err.message, "token too long");
    free(huge);
    stop(s);
}

TEST_CASE(malformed_json_is_401)
{
    void *s = start(HS256_CONF);
    char exp[64];
    snprintf(exp, sizeof exp, "\"exp\":%lld", now_s() + 600);
    static const char *const headers[] = {
        "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",         /* twice */
        "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}",          /* an extension we do not know */
        "{\"alg\":\"HS256\"} x",                           /* trailing bytes */
        "{\"alg\":\"HS256\",}",                            /* trailing comma */
        "[\"alg\",\"HS256\"]",                             /* not an object */
        "{\"alg\":\"HS256\\u0000\"}",                      /* NUL in alg */
        "{\"alg\":\"HS256\",\"x\":\"\xc0\xaf\"}",          /* overlong UTF-8 */
        "{\"alg\":\"HS256\",\"x\":\"\\ud800\"}",           /* lone surrogate */
        "{\"alg\":\"HS256\",\"x\":[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}", /* too deep */
        "{\"alg\":\"HS256\",\"x\":01}",                    /* leading zero */
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        CHECK_INT(forged_code(s, headers[i], claims_with("")), 401);
    /* The same header well formed passes, and unknown members are ignored. */
    CHECK_INT(forged_code(s, "{ \"alg\" : \"HS256\", \"x\": [1, {\"y\": null}], \"typ\":\"JWT\" }",
                          claims_with("\"other\":{\"a\":[true,false,-1.5e3]}")),
              0);
    CHECK_INT(forged_code(s, HS256_HEADER, claims_with("\"sub\":\"alice\"")), 401); /* sub twice */
    CHECK_INT(forged_code(s, HS256_HEADER, "{\"sub\":\"alice\",\"exp\":1e400}"), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, "{\"sub\":\"alice\",\"exp\":\"2000000000\"}"), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, "{\"sub\":\"alice\"}"), 401); /* no exp */
    stop(s);
}

TEST_CASE(expired_beyond_leeway_is_401_within_is_accepted)
{
    void *s = start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; leeway = 30;");
    char claims[256], token[TOKEN_CAP];
    snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%lld}", now_s() - 20);
    forge(token, HS256_HEADER, claims, "HS256", SECRET, strlen(SECRET), NULL);
    CHECK_INT(verify_code(s, NULL, token), 0);
    snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%lld}", now_s() - 40);
    forge(token, HS256_HEADER, claims, "HS256", SECRET, strlen(SECRET), NULL);
    CHECK_INT(verify_code(s, NULL, token), 401);
    /* An issued token, cached, then the clock moves past exp + leeway. */
    struct restfcgi_account a = account("alice", 1), got;
    struct restfcgi_token t;
    struct restfcgi_error err = {0};
    int64_t until = 0;
    CHECK(ops.issue(s, &a, &t, &err));
    CHECK_INT(verify_code(s, NULL, t.value), 0);
    clock_shift_ms = 15 * 60000 + 20000;
    CHECK_INT(verify_code(s, NULL, t.value), 0);
    clock_shift_ms = 15 * 60000 + 31000;
    CHECK(!ops.verify(s, NULL, t.value, strlen(t.value), &got, &until, &err));
    CHECK_STR(err.message, "token expired");
    clock_shift_ms = 0;
    CHECK_INT(verify_code(s, NULL, t.value), 0); /* verified afresh */
    /* A fractional exp is a number too. */
    snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%lld.75}", now_s() + 60);
    forge(token, HS256_HEADER, claims, "HS256", SECRET, strlen(SECRET), NULL);
    CHECK(ops.verify(s, NULL, token, strlen(token), &got, &until, &err));
    CHECK_INT(until % 1000, 750);
    stop(s);
}

TEST_CASE(nbf_in_the_future_is_401)
{
    void *s = start(HS256_CONF);
    char extra[64];
    snprintf(extra, sizeof extra, "\"nbf\":%lld", now_s() + 60);
    CHECK_INT(forged_code(s, HS256_HEADER, claims_with(extra)), 401);
    snprintf(extra, sizeof extra, "\"nbf\":%lld", now_s() + 20); /* within the leeway */
    CHECK_INT(forged_code(s, HS256_HEADER, claims_with(extra)), 0);
    snprintf(extra, sizeof extra, "\"nbf\":%lld", now_s() - 20);
    CHECK_INT(forged_code(s, HS256_HEADER, claims_with(extra)), 0);
    CHECK_INT(forged_code(s, HS256_HEADER, claims_with("\"nbf\":-1e9")), 0); /* 1938 */
    CHECK_INT(forged_code(s, HS256_HEADER, claims_with("\"nbf\":\"soon\"")), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, claims_with("\"nbf\":1e300")), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, claims_with("\"iat\":\"today\"")), 401);
    stop(s);
}

TEST_CASE(issuer_and_audience_are_required_when_configured)
{
    void *s = start(HS256_CONF);
    char claims[512];
    long long exp = now_s() + 600;
#define CLAIMS(fmt) (snprintf(claims, sizeof claims, "{\"sub\":\"alice\",\"exp\":%lld," fmt "}", exp), claims)
    CHECK_INT(forged_code(s, HS256_HEADER, CLAIMS("\"iss\":\"idp\",\"aud\":\"api\"")), 0);
    CHECK_INT(forged_code(s, HS256_HEADER, CLAIMS("\"iss\":\"other\",\"aud\":\"api\"")), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, CLAIMS("\"aud\":\"api\"")), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, CLAIMS("\"iss\":\"idp\",\"aud\":\"apix\"")), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, CLAIMS("\"iss\":\"idp\"")), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, CLAIMS("\"iss\":[\"idp\"],\"aud\":\"api\"")), 401);
    /* aud as an array that holds ours. */
    CHECK_INT(forged_code(s, HS256_HEADER, CLAIMS("\"iss\":\"idp\",\"aud\":[\"x\",\"api\"]")), 0);
    CHECK_INT(forged_code(s, HS256_HEADER, CLAIMS("\"iss\":\"idp\",\"aud\":[\"x\",\"y\"]")), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, CLAIMS("\"iss\":\"idp\",\"aud\":[]")), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, CLAIMS("\"iss\":\"idp\",\"aud\":[\"api\",1]")), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, CLAIMS("\"iss\":\"id\\u0070\",\"aud\":\"api\"")), 0);
    stop(s);
    /* Without issuer and audience configured, any are accepted. */
    s = start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\";");
    CHECK_INT(forged_code(s, HS256_HEADER, CLAIMS("\"iss\":\"other\",\"aud\":\"x\"")), 0);
#undef CLAIMS
    stop(s);
}

TEST_CASE(alg_none_is_401)
{
    void *s = start(HS256_CONF);
    char token[TOKEN_CAP];
    static const char *const nones[] = {"{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"None\"}",
                                        "{\"alg\":\"NONE\"}", "{\"typ\":\"JWT\"}", "{\"alg\":null}"};
    for (size_t i = 0; i < sizeof nones / sizeof nones[0]; i++) {
        forge(token, nones[i], claims_with(""), "none", NULL, 0, NULL);
        struct restfcgi_account acct;
        struct restfcgi_error err = {0};
        int64_t until = 0;
        CHECK(!ops.verify(s, NULL, token, strlen(token), &acct, &until, &err));
        CHECK_INT(err.code, 401);
        CHECK_STR(err.message, "algorithm mismatch");
        /* With a valid HMAC in the signature place as well. */
        forge(token, nones[i], claims_with(""), "HS256", SECRET, strlen(SECRET), NULL);
        CHECK_INT(verify_code(s, NULL, token), 401);
    }
    stop(s);
}

/* Configured RS256; the token says HS256 and is keyed with the public key
 * PEM, which anybody has: libjwt 1.10 alone would accept it. */
TEST_CASE(algorithm_confusion_is_401)
{
    const char *priv, *pub;
    EVP_PKEY *k = gen_key("RSA", "confusion", &priv, &pub);
    size_t publen;
    char *pem = slurp(pub, &publen);
    void *s = start("plugin = \"jwt\"; algorithm = \"RS256\"; public_key_file = \"%s\";", pub);
    CHECK(s != NULL);
    char token[TOKEN_CAP];
    forge(token, HS256_HEADER, claims_with(""), "HS256", pem, publen, NULL);
    struct restfcgi_account acct;
    struct restfcgi_error err = {0};
    int64_t until = 0;
    CHECK(!ops.verify(s, NULL, token, strlen(token), &acct, &until, &err));
    CHECK_INT(err.code, 401);
    CHECK_STR(err.message, "algorithm mismatch");
    /* Header says RS256, signature is that HMAC. */
    forge(token, "{\"alg\":\"RS256\"}", claims_with(""), "HS256", pem, publen, NULL);
    CHECK_INT(verify_code(s, NULL, token), 401);
    /* RS384 or ES256 are not RS256 either; the real one passes. */
    forge(token, "{\"alg\":\"RS384\"}", claims_with(""), "RS384", NULL, 0, k);
    CHECK_INT(verify_code(s, NULL, token), 401);
    forge(token, "{\"alg\":\"RS256\"}", claims_with(""), "RS256", NULL, 0, k);
    CHECK_INT(verify_code(s, NULL, token), 0);
    stop(s);
    free(pem);
    EVP_PKEY_free(k);
}

TEST_CASE(hs256_token_for_hs512_is_401)
{
    void *s = start("plugin = \"jwt\"; algorithm = \"HS512\"; secret = \"" SECRET "\";");
    char token[TOKEN_CAP];
    forge(token, HS256_HEADER, claims_with(""), "HS256", SECRET, strlen(SECRET), NULL);
    CHECK_INT(verify_code(s, NULL, token), 401);
    forge(token, "{\"alg\":\"HS512\"}", claims_with(""), "HS256", SECRET, strlen(SECRET), NULL);
    CHECK_INT(verify_code(s, NULL, token), 401);
    forge(token, "{\"alg\":\"HS512\"}", claims_with(""), "HS512", SECRET, strlen(SECRET), NULL);
    CHECK_INT(verify_code(s, NULL, token), 0);
    stop(s);
}

TEST_CASE(previous_keys_verify_by_kid)
{
    void *old = start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" OTHER_SECRET "\"; "
                      "kid = \"2024\";");
    void *cur = start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; "
                      "kid = \"2025\"; previous_keys = ( { kid = \"2024\"; secret = \"" OTHER_SECRET
                      "\"; } );");
    void *none = start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; kid = \"2025\";");
    CHECK(old && cur && none);
    struct restfcgi_account a = account("alice", 1);
    struct restfcgi_token t_old, t_cur;
    struct restfcgi_error err = {0};
    CHECK(ops.issue(old, &a, &t_old, &err));
    CHECK(ops.issue(cur, &a, &t_cur, &err));
    CHECK_INT(verify_code(cur, "alice", t_old.value), 0);
    CHECK_INT(verify_code(cur, "alice", t_cur.value), 0);
    CHECK_INT(verify_code(none, "alice", t_old.value), 401);
    char token[TOKEN_CAP];
    /* An unknown kid, and the old key under the new kid. */
    forge(token, "{\"alg\":\"HS256\",\"kid\":\"2023\"}", claims_with(""), "HS256", OTHER_SECRET,
          strlen(OTHER_SECRET), NULL);
    CHECK_INT(verify_code(cur, NULL, token), 401);
    forge(token, "{\"alg\":\"HS256\",\"kid\":\"2025\"}", claims_with(""), "HS256", OTHER_SECRET,
          strlen(OTHER_SECRET), NULL);
    CHECK_INT(verify_code(cur, NULL, token), 401);
    forge(token, "{\"alg\":\"HS256\",\"kid\":7}", claims_with(""), "HS256", SECRET, strlen(SECRET),
          NULL);
    CHECK_INT(verify_code(cur, NULL, token), 401);
    /* No kid: the current key. */
    forge(token, HS256_HEADER, claims_with(""), "HS256", SECRET, strlen(SECRET), NULL);
    CHECK_INT(verify_code(cur, NULL, token), 0);
    forge(token, HS256_HEADER, claims_with(""), "HS256", OTHER_SECRET, strlen(OTHER_SECRET), NULL);
    CHECK_INT(verify_code(cur, NULL, token), 401);
    stop(old);
    stop(cur);
    stop(none);
}

TEST_CASE(previous_rsa_key_verifies_by_kid)
{
    const char *priv1, *pub1, *priv2, *pub2;
    EVP_PKEY *k1 = gen_key("RSA", "old", &priv1, &pub1), *k2 = gen_key("RSA", "new", &priv2, &pub2);
    void *old = start("plugin = \"jwt\"; algorithm = \"RS256\"; private_key_file = \"%s\"; kid = \"a\";",
                      priv1);
    void *cur = start("plugin = \"jwt\"; algorithm = \"RS256\"; private_key_file = \"%s\"; "
                      "kid = \"b\"; previous_keys = ( { kid = \"a\"; public_key_file = \"%s\"; } );",
                      priv2, pub1);
    CHECK(old && cur);
    struct restfcgi_account a = account("alice", 1);
    struct restfcgi_token t;
    struct restfcgi_error err = {0};
    CHECK(ops.issue(old, &a, &t, &err));
    CHECK_INT(verify_code(cur, "alice", t.value), 0);
    stop(old);
    stop(cur);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
}

TEST_CASE(roles_must_be_a_short_array_of_strings)
{
    void *s = start(HS256_CONF);
    char claims[8192], token[TOKEN_CAP];
    struct restfcgi_account acct;
    struct restfcgi_error err = {0};
    int64_t until = 0;
    long long exp = now_s() + 600;
    static const char *const bad[] = {"\"user\"", "{\"user\":1}", "[\"user\",1]", "[null]", "1", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(claims, sizeof claims, "{\"iss\":\"idp\",\"aud\":\"api\",\"sub\":\"alice\",\"exp\":%lld,\"roles\":%s}",
                 exp, bad[i]);
        CHECK_INT(forged_code(s, HS256_HEADER, claims), 401);
    }
    /* 32 roles pass, 33 do not; a role of 63 bytes passes, 64 does not. */
    for (int n = 32; n <= 33; n++) {
        int o = snprintf(claims, sizeof claims,
                         "{\"iss\":\"idp\",\"aud\":\"api\",\"sub\":\"alice\",\"exp\":%lld,\"roles\":[", exp);
        for (int i = 0; i < n; i++)
            o += snprintf(claims + o, sizeof claims - (size_t)o, "%s\"r%d\"", i ? "," : "", i);
        snprintf(claims + o, sizeof claims - (size_t)o, "]}");
        forge(token, HS256_HEADER, claims, "HS256", SECRET, strlen(SECRET), NULL);
        bool ok = ops.verify(s, NULL, token, strlen(token), &acct, &until, &err);
        CHECK(ok == (n == 32));
        if (ok)
            CHECK_STR(acct.roles[31], "r31");
        else
            CHECK_STR(err.message, "too many roles");
    }
    char role[70];
    memset(role, 'r', 63);
    role[63] = '\0';
    snprintf(claims, sizeof claims, "{\"iss\":\"idp\",\"aud\":\"api\",\"sub\":\"alice\",\"exp\":%lld,\"roles\":[\"%s\"]}", exp, role);
    CHECK_INT(forged_code(s, HS256_HEADER, claims), 0);
    strcat(role, "r");
    snprintf(claims, sizeof claims, "{\"iss\":\"idp\",\"aud\":\"api\",\"sub\":\"alice\",\"exp\":%lld,\"roles\":[\"%s\"]}", exp, role);
    CHECK_INT(forged_code(s, HS256_HEADER, claims), 401);
    /* No roles claim: an account without roles. */
    snprintf(claims, sizeof claims, "{\"iss\":\"idp\",\"aud\":\"api\",\"sub\":\"alice\",\"exp\":%lld}", exp);
    forge(token, HS256_HEADER, claims, "HS256", SECRET, strlen(SECRET), NULL);
    CHECK(ops.verify(s, NULL, token, strlen(token), &acct, &until, &err));
    CHECK_INT(acct.nroles, 0);
    stop(s);
}

TEST_CASE(sub_must_be_a_user_id)
{
    void *s = start(HS256_CONF);
    char claims[1024];
    long long exp = now_s() + 600;
#define SUB(v) (snprintf(claims, sizeof claims, "{\"iss\":\"idp\",\"aud\":\"api\",\"exp\":%lld%s}", exp, v), claims)
    CHECK_INT(forged_code(s, HS256_HEADER, SUB("")), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, SUB(",\"sub\":\"\"")), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, SUB(",\"sub\":42")), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, SUB(",\"sub\":null")), 401);
    CHECK_INT(forged_code(s, HS256_HEADER, SUB(",\"sub\":\"al\\nice\"")), 401);
    char sub[300] = ",\"sub\":\"";
    memset(sub + 8, 'u', 255);
    strcpy(sub + 8 + 255, "\"");
    CHECK_INT(forged_code(s, HS256_HEADER, SUB(sub)), 0);
    strcpy(sub + 8 + 255, "u\"");
    CHECK_INT(forged_code(s, HS256_HEADER, SUB(sub)), 401);
    /* Escapes are decoded. */
    char token[TOKEN_CAP];
    forge(token, HS256_HEADER, SUB(",\"sub\":\"\\u00e9l\\u00E8ve \\ud83d\\ude00\\\"\\\\\""), "HS256",
          SECRET, strlen(SECRET), NULL);
    CHECK_INT(verify_code(s, "\xc3\xa9l\xc3\xa8ve \xf0\x9f\x98\x80\"\\", token), 0);
#undef SUB
    stop(s);
}

TEST_CASE(revoke_is_405)
{
    void *s = start(HS256_CONF);
    struct restfcgi_error err = {0};
    CHECK(!ops.revoke(s, "alice", &err));
    CHECK_INT(err.domain, RESTFCGI_ERR_AUTH);
    CHECK_INT(err.code, 405);
    CHECK_STR(err.message, "jwt tokens cannot be revoked; they expire after their ttl");
    stop(s);
}

TEST_CASE(touch_keeps_a_fresh_token_and_renews_an_old_one)
{
    void *s = start(HS256_CONF);
    struct restfcgi_account a = account("alice", 2);
    struct restfcgi_token t, back;
    struct restfcgi_error err = {0};
    CHECK(ops.issue(s, &a, &t, &err));
    CHECK(ops.touch(s, &a, t.value, strlen(t.value), &back, &err));
    CHECK_STR(back.value, t.value);
    CHECK_INT(back.valid_until_ms, t.valid_until_ms);
    /* Past half the ttl: a new token for the same account, later expiry. */
    clock_shift_ms = 8 * 60000;
    CHECK(ops.touch(s, &a, t.value, strlen(t.value), &back, &err));
    CHECK(strcmp(back.value, t.value) != 0);
    CHECK(back.valid_until_ms > t.valid_until_ms);
    struct restfcgi_account got;
    int64_t until = 0;
    CHECK(ops.verify(s, "alice", back.value, strlen(back.value), &got, &until, &err));
    CHECK_INT(got.nroles, 2);
    CHECK_STR(got.roles[0], "role0");
    clock_shift_ms = 0;
    /* Another user's token, or a bad one, is not touched. */
    struct restfcgi_account b = account("bob", 0);
    CHECK(!ops.touch(s, &b, t.value, strlen(t.value), &back, &err));
    CHECK_INT(err.code, 401);
    CHECK(!ops.touch(s, &a, "x.y.z", 5, &back, &err));
    CHECK_INT(err.code, 401);
    stop(s);
}

TEST_CASE(verified_tokens_are_cached)
{
    void *s = start(HS256_CONF);
    struct jwt_tm *tm = s;
    struct restfcgi_account a = account("alice", 1);
    struct restfcgi_token t;
    struct restfcgi_error err = {0};
    unsigned char hash[TMJWT_HASH_LEN];
    struct tmjwt_verified v;
    CHECK(ops.issue(s, &a, &t, &err));
    SHA256((const unsigned char *)t.value, strlen(t.value), hash);
    CHECK(!tmjwt_cache_get(tm->cache, hash, &v));
    CHECK_INT(verify_code(s, NULL, t.value), 0);
    CHECK(tmjwt_cache_get(tm->cache, hash, &v));
    CHECK_STR(v.acct.userid, "alice");
    CHECK_INT(v.exp_ms, t.valid_until_ms);
    /* A failed token is not cached. */
    char token[TOKEN_CAP];
    forge(token, HS256_HEADER, claims_with(""), "HS256", OTHER_SECRET, strlen(OTHER_SECRET), NULL);
    SHA256((const unsigned char *)token, strlen(token), hash);
    CHECK_INT(verify_code(s, NULL, token), 401);
    CHECK(!tmjwt_cache_get(tm->cache, hash, &v));
    stop(s);
}

/* Worker threads verify at once: good tokens pass and bad ones fail while
 * they share the cache (ASan and the mutex would tell). */
struct hammer {
    void *s;
    struct restfcgi_token good[40];
    char bad[TOKEN_CAP];
    int ok, refused;
};

static void *hammer_thread(void *arg)
{
    struct hammer *h = arg;
    struct restfcgi_account acct;
    struct restfcgi_error err;
    int64_t until = 0;
    for (int i = 0; i < 4000; i++) {
        const char *t = i % 5 == 4 ? h->bad : h->good[i % 40].value;
        bool ok = ops.verify(h->s, i % 3 ? NULL : "alice", t, strlen(t), &acct, &until, &err);
        if (ok && strcmp(acct.userid, "alice") == 0 && acct.nroles == 1)
            __atomic_add_fetch(&h->ok, 1, __ATOMIC_RELAXED);
        else if (!ok && err.code == 401)
            __atomic_add_fetch(&h->refused, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

TEST_CASE(threads_verify_at_once)
{
    static struct hammer h;
    h.s = start(HS256_CONF);
    struct restfcgi_account a = account("alice", 1);
    struct restfcgi_error err = {0};
    for (int i = 0; i < 40; i++)
        CHECK(ops.issue(h.s, &a, &h.good[i], &err));
    forge(h.bad, HS256_HEADER, claims_with(""), "HS256", OTHER_SECRET, strlen(OTHER_SECRET), NULL);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, hammer_thread, &h);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    CHECK_INT(h.ok, 4 * 3200);
    CHECK_INT(h.refused, 4 * 800);
    stop(h.s);
}

/* --- configuration ----------------------------------------------------- */

/* Refused with a CONFIG error whose message names what, and no secret. */
static void refused(const char *what, void *s)
{
    CHECK(s == NULL);
    if (s)
        stop(s);
    CHECK_INT(start_err.domain, RESTFCGI_ERR_CONFIG);
    if (!strstr(start_err.message, what)) {
        fprintf(stderr, "expected \"%s\" in: %s\n", what, start_err.message);
        check_failures++;
    }
    CHECK(strstr(start_err.message, "0123456789abcdef") == NULL);
    CHECK(strstr(start_err.message, "fedcba98") == NULL);
}

TEST_CASE(config_is_checked)
{
    refused("secret or secret_file", start("plugin = \"jwt\"; algorithm = \"HS256\";"));
    refused("algorithm must be one of", start("plugin = \"jwt\"; secret = \"" SECRET "\";"));
    refused("algorithm must be one of",
            start("plugin = \"jwt\"; algorithm = \"none\"; secret = \"" SECRET "\";"));
    refused("algorithm must be one of",
            start("plugin = \"jwt\"; algorithm = \"hs256\"; secret = \"" SECRET "\";"));
    refused("secret must be at least 32 bytes",
            start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"0123456789abcdef0123456789abcde\";"));
    refused("unknown key 'secrets'",
            start("plugin = \"jwt\"; algorithm = \"HS256\"; secrets = \"" SECRET "\";"));
    refused("not both", start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; "
                              "secret_file = \"/nonexistent\";"));
    refused("secret_file: cannot read /nonexistent/secret",
            start("plugin = \"jwt\"; algorithm = \"HS256\"; secret_file = \"/nonexistent/secret\";"));
    const char *short_file = write_file("short", "0123456789\n", 11);
    refused("secret_file must be at least 32 bytes",
            start("plugin = \"jwt\"; algorithm = \"HS256\"; secret_file = \"%s\";", short_file));
    refused("ttl must be 1 to 525600",
            start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; ttl = 0;"));
    refused("leeway must be 0 to 3600",
            start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; leeway = 3601;"));
    refused("'ttl' must be an integer",
            start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; ttl = \"15\";"));
    refused("issuer must be 1 to",
            start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; issuer = \"\";"));
    refused("private_key_file is for RS and ES",
            start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; "
                  "private_key_file = \"/x\";"));
    refused("needs private_key_file or public_key_file for RS256",
            start("plugin = \"jwt\"; algorithm = \"RS256\";"));
    refused("secret is for HS algorithms",
            start("plugin = \"jwt\"; algorithm = \"RS256\"; secret = \"" SECRET "\";"));
    refused("private_key_file: cannot read /nonexistent.pem",
            start("plugin = \"jwt\"; algorithm = \"ES256\"; private_key_file = \"/nonexistent.pem\";"));
    const char *junk = write_file("junk.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 58);
    refused("is not an unencrypted PEM private key",
            start("plugin = \"jwt\"; algorithm = \"ES256\"; private_key_file = \"%s\";", junk));
    /* The wrong family, the wrong curve, a public key that is not the pair's. */
    const char *rsa_priv, *rsa_pub, *p384_priv, *p384_pub, *ec_priv, *ec_pub;
    EVP_PKEY *k1 = gen_key("RSA", "cfg-rsa", &rsa_priv, &rsa_pub);
    EVP_PKEY *k2 = gen_key("P-384", "cfg-p384", &p384_priv, &p384_pub);
    EVP_PKEY *k3 = gen_key("P-256", "cfg-p256", &ec_priv, &ec_pub);
    refused("private_key_file: ", start("plugin = \"jwt\"; algorithm = \"ES256\"; private_key_file = \"%s\";", rsa_priv));
    CHECK(strstr(start_err.message, "is not an EC key") != NULL);
    refused("is an EC key on another curve",
            start("plugin = \"jwt\"; algorithm = \"ES256\"; public_key_file = \"%s\";", p384_pub));
    refused("is not an RSA key",
            start("plugin = \"jwt\"; algorithm = \"RS256\"; public_key_file = \"%s\";", ec_pub));
    refused("is not an unencrypted PEM public key",
            start("plugin = \"jwt\"; algorithm = \"ES256\"; public_key_file = \"%s\";", ec_priv));
    const char *p384b_priv, *p384b_pub;
    EVP_PKEY *k4 = gen_key("P-384", "cfg-p384b", &p384b_priv, &p384b_pub);
    void *ok = start("plugin = \"jwt\"; algorithm = \"ES384\"; private_key_file = \"%s\"; "
                     "public_key_file = \"%s\";", p384_priv, p384_pub);
    CHECK(ok != NULL);
    stop(ok);
    refused("public_key_file does not match",
            start("plugin = \"jwt\"; algorithm = \"ES384\"; private_key_file = \"%s\"; "
                  "public_key_file = \"%s\";", p384_priv, p384b_pub));
    /* previous_keys */
    refused("previous_keys[0] needs a kid",
            start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; "
                  "previous_keys = ( { secret = \"" OTHER_SECRET "\"; } );"));
    refused("previous_keys[1].kid is used by another key",
            start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; kid = \"a\"; "
                  "previous_keys = ( { kid = \"b\"; secret = \"" OTHER_SECRET "\"; }, "
                  "{ kid = \"a\"; secret = \"" OTHER_SECRET "\"; } );"));
    refused("previous_keys[0].secret must be at least 32 bytes",
            start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; "
                  "previous_keys = ( { kid = \"b\"; secret = \"short\"; } );"));
    refused("unknown key 'private_key_file'",
            start("plugin = \"jwt\"; algorithm = \"RS256\"; private_key_file = \"%s\"; "
                  "previous_keys = ( { kid = \"b\"; private_key_file = \"%s\"; } );", rsa_priv, rsa_priv));
    refused("previous_keys[0].public_key_file: ",
            start("plugin = \"jwt\"; algorithm = \"RS256\"; private_key_file = \"%s\"; "
                  "previous_keys = ( { kid = \"b\"; public_key_file = \"%s\"; } );", rsa_priv, ec_pub));
    refused("previous_keys[0] needs public_key_file",
            start("plugin = \"jwt\"; algorithm = \"RS256\"; private_key_file = \"%s\"; "
                  "previous_keys = ( { kid = \"b\"; } );", rsa_priv));
    EVP_PKEY_free(k1);
    EVP_PKEY_free(k2);
    EVP_PKEY_free(k3);
    EVP_PKEY_free(k4);
}

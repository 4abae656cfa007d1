/* libFuzzer target: credentials. The first byte picks what the rest is:
 *   0  an Authorization header value: auth_header_parse, then the secret
 *      verified as a token by the jwt token manager (HS256 and ES256)
 *   1  a token's header and claims JSON, separated by a NUL byte (or claims
 *      alone under {"alg":"HS256"}): signed here with the fixed HS256 test
 *      key, so verify gets past the signature to the claim rules, then touch
 *   2  a raw token, verified and touched as the user "alice" by both
 *   3  JSON for the plugin's own reader and base64url for its decoder
 * The clock is fixed, so a token's exp and nbf mean the same every run. */
#include "jwt_base64.c"
#include "jwt_cache.c"
#include "jwt_claims.c"
#include "jwt_config.c"
#include "jwt_json.c"
#include "jwt_keys.c"
#include "jwt_mint.c"
#include "jwt_signature.c"
#include "tm_jwt.c"

#include <libconfig.h>
#include <openssl/pem.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "arena.h"
#include "auth_header.h"
#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECRET "fuzz-secret-0123456789abcdef-0123456789"
#define NOW_MS 1700000000000LL /* 2023-11-14T22:13:20Z */

static int64_t fixed_now_ms(void) { return NOW_MS; }
static struct restfcgi_host fuzz_host;
static void *hs_tm, *es_tm;

static void *start(const char *text)
{
    config_t conf;
    config_init(&conf);
    if (config_read_string(&conf, text) != CONFIG_TRUE)
        abort();
    void *state = NULL;
    struct restfcgi_error err = {0};
    if (!ops.life.init(&fuzz_host, (const restfcgi_conf *)config_root_setting(&conf), &state, &err) ||
        !ops.life.worker_init(state, &err)) {
        fprintf(stderr, "auth_fuzz: %s\n", err.message);
        abort();
    }
    config_destroy(&conf);
    return state;
}

/* An ES256 token manager on a key made now (its PEM in a file removed once read). */
static void *start_es256(void)
{
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char path[] = "/tmp/auth_fuzz_keyXXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!key || !f || !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
        abort();
    fclose(f);
    EVP_PKEY_free(key);
    char text[512];
    snprintf(text, sizeof text,
             "plugin = \"jwt\"; algorithm = \"ES256\"; private_key_file = \"%s\"; kid = \"es\";",
             path);
    void *state = start(text);
    unlink(path);
    return state;
}

static void init(void)
{
    fuzz_host = *host_services();
    fuzz_host.now_ms = fixed_now_ms;
    hs_tm = start("plugin = \"jwt\"; algorithm = \"HS256\"; secret = \"" SECRET "\"; "
                  "issuer = \"idp\"; audience = \"api\"; kid = \"k1\"; leeway = 30; "
                  "previous_keys = ({ kid = \"k0\"; secret = \"" SECRET "-old\"; });");
    es_tm = start_es256();
}

static void b64url(const unsigned char *in, size_t len, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16 | (i + 1 < len ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < len ? in[i + 2] : 0);
        out[o++] = abc[w >> 18 & 63];
        out[o++] = abc[w >> 12 & 63];
        if (i + 1 < len)
            out[o++] = abc[w >> 6 & 63];
        if (i + 2 < len)
            out[o++] = abc[w & 63];
    }
    out[o] = '\0';
}

static void verify(void *tm, const char *userid, const char *token, size_t len)
{
    struct restfcgi_account acct;
    struct restfcgi_error err = {0};
    int64_t until;
    if (!ops.verify(tm, userid, token, len, &acct, &until, &err))
        return;
    struct restfcgi_token *out = malloc(sizeof *out);
    if (out && len <= RESTFCGI_TOKEN_MAX)
        ops.touch(tm, &acct, token, len, out, &err);
    free(out);
}

static void header_value(const char *v, size_t len)
{
    struct arena arena;
    arena_init(&arena, 1024);
    struct auth_header h;
    struct restfcgi_error err = {0};
    if (auth_header_parse((struct sv){v, len}, &arena, &h, &err)) {
        char userid[RESTFCGI_USERID_MAX + 1] = "";
        if (h.scheme == AUTH_BASIC) {
            memcpy(userid, h.userid.ptr, h.userid.len);
            userid[h.userid.len] = '\0';
        }
        const char *who = h.scheme == AUTH_BASIC ? userid : NULL;
        verify(hs_tm, who, h.secret.ptr, h.secret.len);
        verify(es_tm, who, h.secret.ptr, h.secret.len);
    }
    arena_destroy(&arena);
}

/* header.claims signed with the current HS256 key. */
static void signed_token(const char *v, size_t len)
{
    static const char dflt[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    const char *nul = memchr(v, '\0', len);
    const char *hdr = nul ? v : dflt, *claims = nul ? nul + 1 : v;
    size_t hlen = nul ? (size_t)(nul - v) : strlen(dflt);
    size_t clen = nul ? len - hlen - 1 : len;
    char *token = malloc((hlen + clen) / 3 * 4 + 64 + 8);
    if (!token)
        return;
    b64url((const unsigned char *)hdr, hlen, token);
    size_t n = strlen(token);
    token[n++] = '.';
    b64url((const unsigned char *)claims, clen, token + n);
    n += strlen(token + n);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, SECRET, strlen(SECRET),
                  (const unsigned char *)token, n, mac, sizeof mac, &mac_len)) {
        token[n++] = '.';
        b64url(mac, mac_len, token + n);
        n += strlen(token + n);
        verify(hs_tm, NULL, token, n);
    }
    free(token);
}

/* Every value read as the claim rules read them: string, number, array. */
static bool element(void *ctx, const struct tmjwt_jval *val)
{
    (void)ctx;
    char s[64];
    double d;
    tmjwt_json_string(val, s, sizeof s);
    tmjwt_json_number(val, &d);
    if (val->type == TMJWT_JARRAY)
        tmjwt_json_array(val, element, NULL);
    return true;
}

static bool member(void *ctx, const char *key, const struct tmjwt_jval *val)
{
    (void)key;
    return element(ctx, val);
}

static void readers(const char *v, size_t len)
{
    tmjwt_json_object(v, len, member, NULL);
    unsigned char *out = malloc(tmjwt_b64url_max(len));
    size_t n;
    if (out)
        tmjwt_b64url_decode(v, len, out, &n);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!hs_tm)
        init();
    if (size < 1)
        return 0;
    const char *v = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] & 3) {
    case 0:
        header_value(v, len);
        break;
    case 1:
        signed_token(v, len);
        break;
    case 2:
        verify(hs_tm, "alice", v, len);
        verify(es_tm, "alice", v, len);
        break;
    case 3:
        readers(v, len);
        break;
    }
    return 0;
}

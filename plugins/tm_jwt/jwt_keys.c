/*
 * jwt_keys.c: the algorithms, and the key material they need, loaded once
 * in init (the parent process) so that no request reads a file or parses a
 * PEM. Messages name the configuration key and the file, never a secret.
 */
#include <errno.h>
#include <fcntl.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tm_jwt.h"

#define SECRET_FILE_MAX 65536
#define PEM_FILE_MAX 1048576

static const struct tmjwt_alg algorithms[] = {
    {"HS256", TMJWT_HMAC, "SHA256", NULL, 0, JWT_ALG_HS256},
    {"HS384", TMJWT_HMAC, "SHA384", NULL, 0, JWT_ALG_HS384},
    {"HS512", TMJWT_HMAC, "SHA512", NULL, 0, JWT_ALG_HS512},
    {"RS256", TMJWT_RSA, "SHA256", NULL, 0, JWT_ALG_RS256},
    {"RS384", TMJWT_RSA, "SHA384", NULL, 0, JWT_ALG_RS384},
    {"RS512", TMJWT_RSA, "SHA512", NULL, 0, JWT_ALG_RS512},
    {"ES256", TMJWT_EC, "SHA256", "prime256v1", 32, JWT_ALG_ES256},
    {"ES384", TMJWT_EC, "SHA384", "secp384r1", 48, JWT_ALG_ES384},
    {"ES512", TMJWT_EC, "SHA512", "secp521r1", 66, JWT_ALG_ES512},
};

/* Exact, case-sensitive: the header's alg must be spelt the same way. */
const struct tmjwt_alg *tmjwt_alg_find(const char *name)
{
    for (size_t i = 0; i < sizeof algorithms / sizeof algorithms[0]; i++)
        if (strcmp(algorithms[i].name, name) == 0)
            return &algorithms[i];
    return NULL;
}

/* NUL-terminated for the PEM reader's convenience; the NUL is not counted. */
unsigned char *tmjwt_read_file(const char *path, size_t max, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    unsigned char *buf = NULL;
    if (fstat(fd, &st) != 0)
        goto out;
    if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
        errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf)
        goto out;
    size_t n = 0;
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            int e = r < 0 ? errno : EIO;
            OPENSSL_clear_free(buf, (size_t)st.st_size + 1);
            buf = NULL;
            errno = e;
            goto out;
        }
        n += (size_t)r;
    }
    buf[n] = '\0';
    *len = n;
out:;
    int e = errno;
    close(fd);
    errno = e;
    return buf;
}

/* The secret of a file, without the line end an editor or `echo` leaves. */
static unsigned char *secret_from_file(const char *path, size_t *len)
{
    unsigned char *s = tmjwt_read_file(path, SECRET_FILE_MAX, len);
    while (s && *len > 0 && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
        s[--*len] = '\0';
    return s;
}

bool tmjwt_load_secret(const struct restfcgi_host *host, const restfcgi_conf *group,
                       const char *what, const char *value, const char *file,
                       struct tmjwt_key *key, struct restfcgi_error *err)
{
    if (value && file)
        return host->conf_fail(group, err, "%s: give secret or secret_file, not both", what);
    if (!value && !file)
        return host->conf_fail(group, err, "%s needs secret or secret_file", what);
    size_t len = 0;
    unsigned char *s;
    if (value) {
        len = strlen(value);
        s = (unsigned char *)strdup(value);
    } else {
        s = secret_from_file(file, &len);
        if (!s)
            return host->conf_fail(group, err, "%s.secret_file: cannot read %s: %s", what, file,
                                   strerror(errno));
    }
    if (!s)
        return tmjwt_internal(err, "out of memory");
    if (len < TMJWT_SECRET_MIN) {
        OPENSSL_clear_free(s, len + 1);
        return host->conf_fail(group, err, "%s.%s must be at least %d bytes", what,
                               value ? "secret" : "secret_file", TMJWT_SECRET_MIN);
    }
    key->secret = s;
    key->secret_len = len;
    return true;
}

/* Never prompt on a terminal for a passphrase: encrypted keys are refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static EVP_PKEY *parse_pem(const unsigned char *pem, size_t len, bool private)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return NULL;
    EVP_PKEY *k = private ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
                          : PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    return k;
}

/* RSA of TMJWT_RSA_BITS_MIN bits or more for RS*, EC on the named curve for
 * ES*; NULL when the key fits, else what is wrong. */
static const char *family_mismatch(EVP_PKEY *k, const struct tmjwt_alg *alg)
{
    if (alg->family == TMJWT_RSA) {
        if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA)
            return "is not an RSA key";
        if (EVP_PKEY_get_bits(k) < TMJWT_RSA_BITS_MIN)
            return "is an RSA key under 2048 bits";
        return NULL;
    }
    char curve[64];
    if (EVP_PKEY_get_base_id(k) != EVP_PKEY_EC)
        return "is not an EC key";
    if (!EVP_PKEY_get_utf8_string_param(k, "group", curve, sizeof curve, NULL) ||
        strcmp(curve, alg->curve) != 0)
        return "is an EC key on another curve";
    return NULL;
}

EVP_PKEY *tmjwt_load_pem(const struct restfcgi_host *host, const restfcgi_conf *group,
                         const char *what, const char *path, bool private,
                         const struct tmjwt_alg *alg, unsigned char **pem, size_t *pem_len,
                         struct restfcgi_error *err)
{
    size_t len = 0;
    unsigned char *text = tmjwt_read_file(path, PEM_FILE_MAX, &len);
    if (!text) {
        host->conf_fail(group, err, "%s: cannot read %s: %s", what, path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *k = parse_pem(text, len, private);
    ERR_clear_error();
    const char *wrong = k ? family_mismatch(k, alg) : NULL;
    if (!k || wrong) {
        EVP_PKEY_free(k);
        OPENSSL_clear_free(text, len + 1);
        if (!k)
            host->conf_fail(group, err, "%s: %s is not an unencrypted PEM %s key", what, path,
                            private ? "private" : "public");
        else
            host->conf_fail(group, err, "%s: %s %s (%s needs %s)", what, path, wrong, alg->name,
                            alg->family == TMJWT_RSA ? "RSA of 2048 bits or more"
                                                     : alg->curve);
        return NULL;
    }
    if (pem) {
        *pem = text;
        *pem_len = len;
    } else {
        OPENSSL_clear_free(text, len + 1);
    }
    return k;
}

/* Through DER: the result holds the public half only. */
EVP_PKEY *tmjwt_public_of(EVP_PKEY *private)
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(private, &der);
    if (len <= 0)
        return NULL;
    const unsigned char *p = der;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, len);
    OPENSSL_free(der);
    return pub;
}

void tmjwt_key_free(struct tmjwt_key *key)
{
    free(key->kid);
    if (key->secret)
        OPENSSL_clear_free(key->secret, key->secret_len + 1);
    EVP_PKEY_free(key->pub);
    memset(key, 0, sizeof *key);
}

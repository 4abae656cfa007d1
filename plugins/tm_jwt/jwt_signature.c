/*
 * jwt_signature.c: JWS signatures (RFC 7518 §3) checked with OpenSSL and the
 * keys parsed once in init. The algorithm is always the configured one, never
 * the token's word for it; the caller has checked that they agree.
 */
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <string.h>

#include "tm_jwt.h"

/* Compared in constant time: the expected MAC is a secret until sent. */
static bool hmac_ok(const struct tmjwt_alg *alg, const struct tmjwt_key *key, const char *input,
                    size_t input_len, const unsigned char *sig, size_t sig_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, alg->digest, NULL, key->secret, key->secret_len,
                   (const unsigned char *)input, input_len, mac, sizeof mac, &mac_len))
        return false;
    bool ok = mac_len == sig_len && CRYPTO_memcmp(mac, sig, mac_len) == 0;
    OPENSSL_cleanse(mac, sizeof mac);
    return ok;
}

static bool pkey_ok(const struct tmjwt_alg *alg, EVP_PKEY *pub, const char *input,
                    size_t input_len, const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit_ex(ctx, NULL, alg->digest, NULL, NULL, pub, NULL) == 1 &&
              EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)input, input_len) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error(); /* a bad signature leaves errors on this thread's queue */
    return ok;
}

/* RSASSA-PKCS1-v1_5: the signature is exactly as long as the modulus. */
static bool rsa_ok(const struct tmjwt_alg *alg, const struct tmjwt_key *key, const char *input,
                   size_t input_len, const unsigned char *sig, size_t sig_len)
{
    return sig_len == (size_t)EVP_PKEY_get_size(key->pub) &&
           pkey_ok(alg, key->pub, input, input_len, sig, sig_len);
}

/* JWS ECDSA signatures are r || s of fixed width; OpenSSL wants DER. */
static bool ec_ok(const struct tmjwt_alg *alg, const struct tmjwt_key *key, const char *input,
                  size_t input_len, const unsigned char *sig, size_t sig_len)
{
    if (sig_len != 2 * alg->ec_half)
        return false;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)alg->ec_half, NULL);
    BIGNUM *s = BN_bin2bn(sig + alg->ec_half, (int)alg->ec_half, NULL);
    unsigned char *der = NULL;
    int der_len = -1;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        der_len = i2d_ECDSA_SIG(es, &der);
    }
    bool ok = der_len > 0 && pkey_ok(alg, key->pub, input, input_len, der, (size_t)der_len);
    OPENSSL_free(der);
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return ok;
}

bool tmjwt_signature_ok(const struct tmjwt_alg *alg, const struct tmjwt_key *key,
                        const char *input, size_t input_len, const unsigned char *sig,
                        size_t sig_len)
{
    switch (alg->family) {
    case TMJWT_HMAC:
        return key->secret && hmac_ok(alg, key, input, input_len, sig, sig_len);
    case TMJWT_RSA:
        return key->pub && rsa_ok(alg, key, input, input_len, sig, sig_len);
    case TMJWT_EC:
        return key->pub && ec_ok(alg, key, input, input_len, sig, sig_len);
    }
    return false;
}

/* sha256_md.h: SHA-256 with the algorithm fetched once by its owner.
 * OpenSSL 3's SHA256() and EVP_sha256() fetch the implementation on every
 * call, a measurable part of checking a token on each request (perf). The
 * owner (a plugin's state, the users table) fetches it at init and frees
 * it at cleanup, while OpenSSL and the plugin are still loaded. */
#ifndef RESTFCGI_SHA256_MD_H
#define RESTFCGI_SHA256_MD_H

#include <openssl/evp.h>
#include <stddef.h>

static inline EVP_MD *sha256_md_fetch(void) { return EVP_MD_fetch(NULL, "SHA256", NULL); }

/* out = SHA-256(data) with md from sha256_md_fetch; false when OpenSSL fails. */
static inline int sha256(const EVP_MD *md, const void *data, size_t len, unsigned char out[32])
{
    return md && EVP_Digest(data, len, out, NULL, md, NULL);
}

#endif

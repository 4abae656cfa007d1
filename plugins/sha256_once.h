/* sha256_once.h: SHA-256 with the algorithm fetched once per process.
 * OpenSSL 3's SHA256() and EVP_sha256() fetch the implementation on every
 * call, a measurable part of checking a token on each request (perf). */
#ifndef RESTFCGI_SHA256_ONCE_H
#define RESTFCGI_SHA256_ONCE_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stddef.h>

static EVP_MD *sha256_once_md;
static pthread_once_t sha256_once_done = PTHREAD_ONCE_INIT;

static void sha256_once_fetch(void) { sha256_once_md = EVP_MD_fetch(NULL, "SHA256", NULL); }

/* The fetched SHA-256, for EVP_DigestInit_ex. */
static inline const EVP_MD *sha256_md(void)
{
    pthread_once(&sha256_once_done, sha256_once_fetch);
    return sha256_once_md;
}

/* out = SHA-256(data); false only when OpenSSL fails. */
static inline int sha256(const void *data, size_t len, unsigned char out[32])
{
    return EVP_Digest(data, len, out, NULL, sha256_md(), NULL);
}

#endif

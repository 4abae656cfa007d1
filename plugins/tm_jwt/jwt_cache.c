/*
 * jwt_cache.c: tokens this process verified, so that a client sending the
 * same token with every request costs a hash and a lookup instead of a
 * signature check. Keyed by the SHA-256 of the whole token (base64url is
 * decoded strictly, so a token has one spelling); direct-mapped, a newer
 * token simply takes the slot. Only tokens that passed every check enter,
 * and the caller still checks exp on a hit. Per process: after fork each
 * worker has its own copy, filled by its own verifications.
 */
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tm_jwt.h"

#define CACHE_SLOTS 1024 /* about 2.4 MB per process */

struct cache_slot {
    bool used;
    unsigned char hash[TMJWT_HASH_LEN];
    struct tmjwt_verified v;
};

struct tmjwt_cache {
    pthread_mutex_t lock;
    struct cache_slot slots[CACHE_SLOTS];
};

struct tmjwt_cache *tmjwt_cache_new(void)
{
    struct tmjwt_cache *c = calloc(1, sizeof *c);
    if (c && pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c);
        return NULL;
    }
    return c;
}

void tmjwt_cache_free(struct tmjwt_cache *c)
{
    if (!c)
        return;
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static struct cache_slot *slot_of(struct tmjwt_cache *c, const unsigned char *hash)
{
    uint32_t i = (uint32_t)hash[0] | (uint32_t)hash[1] << 8 | (uint32_t)hash[2] << 16;
    return &c->slots[i % CACHE_SLOTS];
}

bool tmjwt_cache_get(struct tmjwt_cache *c, const unsigned char hash[TMJWT_HASH_LEN],
                     struct tmjwt_verified *out)
{
    pthread_mutex_lock(&c->lock);
    struct cache_slot *s = slot_of(c, hash);
    bool hit = s->used && CRYPTO_memcmp(s->hash, hash, TMJWT_HASH_LEN) == 0;
    if (hit)
        *out = s->v;
    pthread_mutex_unlock(&c->lock);
    return hit;
}

void tmjwt_cache_put(struct tmjwt_cache *c, const unsigned char hash[TMJWT_HASH_LEN],
                     const struct tmjwt_verified *v)
{
    pthread_mutex_lock(&c->lock);
    struct cache_slot *s = slot_of(c, hash);
    s->used = true;
    memcpy(s->hash, hash, TMJWT_HASH_LEN);
    s->v = *v;
    pthread_mutex_unlock(&c->lock);
}

void tmjwt_cache_drop(struct tmjwt_cache *c, const unsigned char hash[TMJWT_HASH_LEN])
{
    pthread_mutex_lock(&c->lock);
    struct cache_slot *s = slot_of(c, hash);
    if (s->used && CRYPTO_memcmp(s->hash, hash, TMJWT_HASH_LEN) == 0)
        s->used = false;
    pthread_mutex_unlock(&c->lock);
}

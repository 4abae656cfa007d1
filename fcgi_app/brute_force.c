#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "brute_force.h"

/* A fixed table: an address hashes to one slot of a small bucket; a full
 * bucket reuses its oldest slot, so memory stays bounded under a flood of
 * addresses (an attacker with many addresses gets no more per address). */
#define BF_BUCKETS 512
#define BF_WAYS 4
#define BF_ADDR_MAX 46 /* an IPv6 address in text */

struct bf_slot {
    char addr[BF_ADDR_MAX];
    uint8_t len;
    uint32_t failures;
    int64_t window_start_ms;
};

struct brute_force {
    pthread_mutex_t lock;
    int64_t max_failures, window_ms;
    struct bf_slot slots[BF_BUCKETS][BF_WAYS];
};

struct brute_force *brute_force_new(int64_t max_failures, int64_t window_s)
{
    struct brute_force *bf = calloc(1, sizeof *bf);
    if (!bf)
        return NULL;
    pthread_mutex_init(&bf->lock, NULL);
    bf->max_failures = max_failures;
    bf->window_ms = window_s * 1000;
    return bf;
}

void brute_force_free(struct brute_force *bf)
{
    if (!bf)
        return;
    pthread_mutex_destroy(&bf->lock);
    free(bf);
}

/* The slot of addr, or NULL; with create, a fresh or the oldest one. */
static struct bf_slot *find(struct brute_force *bf, struct sv addr, bool create)
{
    if (addr.len > BF_ADDR_MAX)
        addr.len = BF_ADDR_MAX;
    struct bf_slot *bucket = bf->slots[sv_hash(addr) % BF_BUCKETS], *oldest = &bucket[0];
    for (int i = 0; i < BF_WAYS; i++) {
        if (bucket[i].len == addr.len && bucket[i].failures &&
            memcmp(bucket[i].addr, addr.ptr, addr.len) == 0)
            return &bucket[i];
        /* An unused slot first, else the one whose window began first. */
        if (oldest->failures &&
            (!bucket[i].failures || bucket[i].window_start_ms < oldest->window_start_ms))
            oldest = &bucket[i];
    }
    if (!create)
        return NULL;
    memset(oldest, 0, sizeof *oldest);
    memcpy(oldest->addr, addr.ptr, addr.len);
    oldest->len = (uint8_t)addr.len;
    return oldest;
}

bool brute_force_blocked(struct brute_force *bf, struct sv addr, int64_t now_ms,
                         int64_t *retry_after_s)
{
    pthread_mutex_lock(&bf->lock);
    struct bf_slot *s = find(bf, addr, false);
    bool blocked = false;
    *retry_after_s = 0;
    if (s && now_ms - s->window_start_ms >= bf->window_ms)
        s->failures = 0; /* the window has passed */
    else if (s && s->failures >= bf->max_failures) {
        blocked = true;
        *retry_after_s = (s->window_start_ms + bf->window_ms - now_ms + 999) / 1000;
    }
    pthread_mutex_unlock(&bf->lock);
    return blocked;
}

void brute_force_failed(struct brute_force *bf, struct sv addr, int64_t now_ms)
{
    pthread_mutex_lock(&bf->lock);
    struct bf_slot *s = find(bf, addr, true);
    if (s->failures == 0 || now_ms - s->window_start_ms >= bf->window_ms) {
        s->failures = 0;
        s->window_start_ms = now_ms;
    }
    s->failures++;
    pthread_mutex_unlock(&bf->lock);
}

void brute_force_succeeded(struct brute_force *bf, struct sv addr)
{
    pthread_mutex_lock(&bf->lock);
    struct bf_slot *s = find(bf, addr, false);
    if (s)
        s->failures = 0;
    pthread_mutex_unlock(&bf->lock);
}

/* token_table.c: see token_table.h. Layout of the shared segment: a header,
 * the hash buckets, then the slots; links are slot indexes (-1: none). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "token_table.h"

#define TABLE_MAGIC 0x72667463746b6e31ULL /* "rfctktn1" */
#define NONE (-1)

struct slot {
    int32_t bucket_next; /* chain of one hash bucket, or the free list */
    int32_t lru_prev, lru_next;
    bool used;
    uint8_t hash[TOKEN_HASH_LEN];
    int64_t expires_ms;
    struct restfcgi_account acct;
};

#define MAX_PROCS 1024 /* attached processes the table keeps track of */

struct header {
    uint64_t magic;
    _Atomic uint32_t ready; /* set last by the creator */
    uint32_t capacity, nbuckets;
    bool dead; /* unlinked: attachers must create a new one */
    pthread_mutex_t lock;
    /* Slots from fresh on have never been used: memory is touched only as
     * the table fills. Freed slots go to the free list. */
    int32_t free_head, fresh, lru_head, lru_tail; /* head: most recently used */
    uint32_t used;
    uint32_t nprocs;
    pid_t procs[MAX_PROCS]; /* attached processes; a killed one is pruned later */
};

struct token_table {
    char name[96];
    struct header *h;
    int32_t *buckets;
    struct slot *slots;
    size_t size;
};

static bool fail(struct restfcgi_error *err, const char *what, int e)
{
    err->domain = RESTFCGI_ERR_PLUGIN;
    err->code = 0;
    snprintf(err->message, sizeof err->message, "memory token manager: %s: %s", what, strerror(e));
    return false;
}

static size_t table_size(uint32_t capacity, uint32_t nbuckets)
{
    return sizeof(struct header) + nbuckets * sizeof(int32_t) + capacity * sizeof(struct slot);
}

static void bind_views(struct token_table *t)
{
    t->buckets = (int32_t *)(t->h + 1);
    t->slots = (struct slot *)(t->buckets + t->h->nbuckets);
}

/* Every slot free, every bucket empty: the state after creation, and after
 * a process died holding the lock. */
static void reset(struct token_table *t)
{
    struct header *h = t->h;
    for (uint32_t i = 0; i < h->nbuckets; i++)
        t->buckets[i] = NONE;
    for (int32_t i = 0; i < h->fresh; i++)
        explicit_bzero(&t->slots[i], sizeof t->slots[i]);
    h->free_head = NONE;
    h->fresh = 0;
    h->lru_head = h->lru_tail = NONE;
    h->used = 0;
}

/* The attached processes, so that the table goes with the last one even
 * when others were killed without detaching: dead ones are pruned here. */
static void procs_prune(struct header *h)
{
    uint32_t kept = 0;
    for (uint32_t i = 0; i < h->nprocs; i++)
        if (kill(h->procs[i], 0) == 0 || errno != ESRCH)
            h->procs[kept++] = h->procs[i];
    h->nprocs = kept;
}

static void procs_add(struct header *h, pid_t pid)
{
    procs_prune(h);
    if (h->nprocs < MAX_PROCS)
        h->procs[h->nprocs++] = pid;
}

static void procs_remove(struct header *h, pid_t pid)
{
    for (uint32_t i = 0; i < h->nprocs; i++)
        if (h->procs[i] == pid) {
            h->procs[i] = h->procs[--h->nprocs];
            break;
        }
    procs_prune(h);
}

static void lock(struct token_table *t)
{
    int rc = pthread_mutex_lock(&t->h->lock);
    if (rc == EOWNERDEAD) {
        /* A process died mid-update: the links cannot be trusted. Users
         * log in again; nobody is let in by a half-written entry. */
        reset(t);
        pthread_mutex_consistent(&t->h->lock);
    }
}

static void unlock(struct token_table *t)
{
    pthread_mutex_unlock(&t->h->lock);
}

static bool create(struct token_table *t, int fd, uint32_t capacity, struct restfcgi_error *err)
{
    uint32_t nbuckets = 1;
    while (nbuckets < capacity)
        nbuckets <<= 1;
    t->size = table_size(capacity, nbuckets);
    if (ftruncate(fd, (off_t)t->size) != 0)
        return fail(err, "ftruncate", errno);
    void *p = mmap(NULL, t->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return fail(err, "mmap", errno);
    t->h = p;
    t->h->magic = TABLE_MAGIC;
    t->h->capacity = capacity;
    t->h->nbuckets = nbuckets;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&t->h->lock, &a);
    pthread_mutexattr_destroy(&a);
    bind_views(t);
    reset(t);
    atomic_store_explicit(&t->h->ready, 1, memory_order_release);
    return true;
}

static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

/* Maps a table another process created, once its creator has finished. */
static bool open_existing(struct token_table *t, int fd, struct restfcgi_error *err)
{
    struct stat st;
    for (int i = 0; i < 200; i++) {
        if (fstat(fd, &st) != 0)
            return fail(err, "fstat", errno);
        if ((size_t)st.st_size >= sizeof(struct header))
            break;
        pause_ms(5);
    }
    if ((size_t)st.st_size < sizeof(struct header))
        return fail(err, "the shared table was never sized", EPROTO);
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return fail(err, "mmap", errno);
    t->h = p;
    t->size = (size_t)st.st_size;
    for (int i = 0; i < 200 && !atomic_load_explicit(&t->h->ready, memory_order_acquire); i++)
        pause_ms(5);
    if (!atomic_load_explicit(&t->h->ready, memory_order_acquire) || t->h->magic != TABLE_MAGIC ||
        t->size < table_size(t->h->capacity, t->h->nbuckets)) {
        munmap(p, t->size);
        t->h = NULL;
        return fail(err, "the shared table is not one of ours", EPROTO);
    }
    bind_views(t);
    return true;
}

struct token_table *token_table_attach(const char *name, uint32_t capacity,
                                       struct restfcgi_error *err)
{
    struct token_table *t = calloc(1, sizeof *t);
    if (!t) {
        fail(err, "calloc", ENOMEM);
        return NULL;
    }
    snprintf(t->name, sizeof t->name, "/restfcgi-tm-%s", name);
    for (int attempt = 0; attempt < 20; attempt++) {
        bool created = true;
        int fd = shm_open(t->name, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd < 0 && errno == EEXIST) {
            created = false;
            fd = shm_open(t->name, O_RDWR, 0600);
            if (fd < 0 && errno == ENOENT)
                continue; /* removed in between: create it */
        }
        if (fd < 0) {
            fail(err, "shm_open", errno);
            free(t);
            return NULL;
        }
        bool ok = created ? create(t, fd, capacity, err) : open_existing(t, fd, err);
        close(fd);
        if (!ok) {
            if (created)
                shm_unlink(t->name);
            free(t);
            return NULL;
        }
        lock(t);
        bool dead = t->h->dead;
        if (!dead)
            procs_add(t->h, getpid());
        unlock(t);
        if (!dead)
            return t;
        munmap(t->h, t->size); /* its last user is removing it: start over */
    }
    fail(err, "could not attach the shared table", EAGAIN);
    free(t);
    return NULL;
}

void token_table_detach(struct token_table *t)
{
    if (!t)
        return;
    lock(t);
    procs_remove(t->h, getpid());
    if (t->h->nprocs == 0) {
        t->h->dead = true;
        shm_unlink(t->name);
    }
    unlock(t);
    munmap(t->h, t->size);
    free(t);
}

static uint32_t bucket_of(const struct token_table *t, const uint8_t hash[TOKEN_HASH_LEN])
{
    uint32_t b;
    memcpy(&b, hash, sizeof b);
    return b & (t->h->nbuckets - 1);
}

static void lru_unlink(struct token_table *t, int32_t i)
{
    struct slot *s = &t->slots[i];
    if (s->lru_prev != NONE)
        t->slots[s->lru_prev].lru_next = s->lru_next;
    else
        t->h->lru_head = s->lru_next;
    if (s->lru_next != NONE)
        t->slots[s->lru_next].lru_prev = s->lru_prev;
    else
        t->h->lru_tail = s->lru_prev;
}

static void lru_push_head(struct token_table *t, int32_t i)
{
    struct slot *s = &t->slots[i];
    s->lru_prev = NONE;
    s->lru_next = t->h->lru_head;
    if (t->h->lru_head != NONE)
        t->slots[t->h->lru_head].lru_prev = i;
    t->h->lru_head = i;
    if (t->h->lru_tail == NONE)
        t->h->lru_tail = i;
}

/* Frees slot i: out of its bucket chain and the LRU list, onto the free list. */
static void slot_free(struct token_table *t, int32_t i)
{
    struct slot *s = &t->slots[i];
    int32_t *link = &t->buckets[bucket_of(t, s->hash)];
    while (*link != NONE && *link != i)
        link = &t->slots[*link].bucket_next;
    if (*link == i)
        *link = s->bucket_next;
    lru_unlink(t, i);
    explicit_bzero(s, sizeof *s);
    s->bucket_next = t->h->free_head;
    t->h->free_head = i;
    t->h->used--;
}

bool token_table_put(struct token_table *t, const uint8_t hash[TOKEN_HASH_LEN],
                     const struct restfcgi_account *acct, int64_t expires_ms,
                     struct restfcgi_error *err)
{
    lock(t);
    if (t->h->free_head == NONE && t->h->fresh < (int32_t)t->h->capacity) {
        t->slots[t->h->fresh].bucket_next = NONE;
        t->h->free_head = t->h->fresh++;
    }
    if (t->h->free_head == NONE && t->h->lru_tail != NONE)
        slot_free(t, t->h->lru_tail); /* full: the least recently used goes */
    int32_t i = t->h->free_head;
    if (i == NONE) {
        unlock(t);
        err->domain = RESTFCGI_ERR_INTERNAL;
        err->code = 500;
        snprintf(err->message, sizeof err->message, "memory token manager: no capacity");
        return false;
    }
    struct slot *s = &t->slots[i];
    t->h->free_head = s->bucket_next;
    s->used = true;
    memcpy(s->hash, hash, TOKEN_HASH_LEN);
    s->expires_ms = expires_ms;
    s->acct = *acct;
    uint32_t b = bucket_of(t, hash);
    s->bucket_next = t->buckets[b];
    t->buckets[b] = i;
    lru_push_head(t, i);
    t->h->used++;
    unlock(t);
    return true;
}

bool token_table_get(struct token_table *t, const uint8_t hash[TOKEN_HASH_LEN], int64_t now_ms,
                     int64_t extend_ms, struct restfcgi_account *acct, int64_t *expires_ms)
{
    bool found = false;
    lock(t);
    int32_t i = t->buckets[bucket_of(t, hash)];
    while (i != NONE) {
        struct slot *s = &t->slots[i];
        int32_t next = s->bucket_next;
        if (s->expires_ms <= now_ms) {
            slot_free(t, i);
        } else if (CRYPTO_memcmp(s->hash, hash, TOKEN_HASH_LEN) == 0) {
            if (extend_ms > 0) {
                s->expires_ms = now_ms + extend_ms;
                lru_unlink(t, i);
                lru_push_head(t, i);
            }
            *acct = s->acct;
            *expires_ms = s->expires_ms;
            found = true;
            break;
        }
        i = next;
    }
    unlock(t);
    return found;
}

size_t token_table_revoke(struct token_table *t, const char *userid)
{
    size_t n = 0;
    lock(t);
    for (int32_t i = 0; i < t->h->fresh; i++) {
        if (t->slots[i].used && strcmp(t->slots[i].acct.userid, userid) == 0) {
            slot_free(t, i);
            n++;
        }
    }
    unlock(t);
    return n;
}

size_t token_table_count(struct token_table *t)
{
    lock(t);
    size_t n = t->h->used;
    unlock(t);
    return n;
}

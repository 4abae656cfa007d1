/* Unit tests of fcgi_app/arena.c: the per-request bump allocator. */
#include "../../../fcgi_app/arena.c"

#include "check.h"

/* Under ASan, a malloc of an impossible size must return NULL as in
 * production instead of aborting: the huge-size case tests that path. */
__attribute__((visibility("default"), used)) const char *__asan_default_options(void);
__attribute__((visibility("default"), used)) const char *__asan_default_options(void)
{
    return "allocator_may_return_null=1";
}

static bool aligned(const void *p) { return (uintptr_t)p % alignof(max_align_t) == 0; }

/* How many chunks the arena holds now. */
static size_t nchunks(const struct arena *a)
{
    size_t n = 0;
    for (const struct arena_chunk *c = a->head; c; c = c->next)
        n++;
    return n;
}

TEST_CASE(alignment)
{
    struct arena a;
    arena_init(&a, 256);
    /* Every size from 0 to 100, odd ones included, comes back aligned. */
    for (size_t size = 0; size <= 100; size++) {
        unsigned char *p = arena_alloc(&a, size);
        CHECK(p != NULL);
        CHECK(aligned(p));
        if (p && size)
            memset(p, 0x5a, size); /* ASan checks the bounds */
    }
    /* Also right after a string of an odd length. */
    char *s = arena_strndup(&a, "abc", 3);
    long double *ld = arena_alloc(&a, sizeof(long double));
    CHECK(s != NULL);
    CHECK(aligned(ld));
    if (ld)
        *ld = 1.5L;
    arena_destroy(&a);
}

TEST_CASE(zero_chunk_size_gets_default)
{
    struct arena a;
    arena_init(&a, 0);
    CHECK_INT(a.chunk_size, 16384);
    CHECK(a.head == NULL);
    CHECK_INT(a.total, 0);
    void *p = arena_alloc(&a, 1);
    CHECK(p != NULL && aligned(p));
    CHECK_INT(a.total, alignof(max_align_t));
    arena_destroy(&a);
    CHECK(a.head == NULL);
}

TEST_CASE(big_allocation_larger_than_chunk)
{
    struct arena a;
    arena_init(&a, 128);
    char *small = arena_alloc(&a, 16);
    CHECK(small != NULL);
    memset(small, 's', 16);
    char *big = arena_alloc(&a, 10000);
    CHECK(big != NULL);
    CHECK(aligned(big));
    if (big) {
        memset(big, 'b', 10000); /* the whole of it is usable */
        CHECK(big[0] == 'b' && big[9999] == 'b');
    }
    /* The big one sits behind the current chunk, whose room is still used. */
    char *after = arena_alloc(&a, 16);
    CHECK(after == small + 16);
    CHECK_INT(nchunks(&a), 2);
    CHECK(small[0] == 's' && small[15] == 's');
    /* A big allocation into an empty arena works too. */
    struct arena b;
    arena_init(&b, 64);
    char *first = arena_alloc(&b, 1000);
    CHECK(first != NULL);
    if (first)
        memset(first, 1, 1000);
    char *next = arena_alloc(&b, 8);
    CHECK(next != NULL && aligned(next));
    if (next)
        memset(next, 2, 8);
    arena_destroy(&b);
    arena_destroy(&a);
}

TEST_CASE(many_small_allocations_across_chunks)
{
    struct arena a;
    arena_init(&a, 128);
    enum { N = 1000 };
    unsigned char *ptrs[N];
    for (int i = 0; i < N; i++) {
        size_t size = (size_t)i % 37 + 1;
        ptrs[i] = arena_alloc(&a, size);
        CHECK(ptrs[i] != NULL);
        CHECK(aligned(ptrs[i]));
        if (ptrs[i])
            memset(ptrs[i], i & 0xff, size);
    }
    CHECK(nchunks(&a) > 1);
    /* Nothing was overwritten by a later allocation. */
    for (int i = 0; i < N; i++) {
        size_t size = (size_t)i % 37 + 1;
        bool same = true;
        for (size_t j = 0; ptrs[i] && j < size; j++)
            same = same && ptrs[i][j] == (unsigned char)(i & 0xff);
        CHECK(same);
    }
    arena_destroy(&a);
}

TEST_CASE(reset_then_reuse)
{
    struct arena a;
    arena_init(&a, 256);
    char *p = arena_alloc(&a, 64);
    CHECK(arena_alloc(&a, 4096) != NULL); /* a chunk of its own */
    for (int i = 0; i < 20; i++)
        CHECK(arena_alloc(&a, 64) != NULL); /* more default chunks */
    CHECK(nchunks(&a) > 2);
    CHECK(a.total > 0);
    arena_reset(&a);
    CHECK_INT(a.total, 0);
    CHECK_INT(nchunks(&a), 1); /* one default-sized chunk kept */
    char *q = arena_alloc(&a, 64);
    CHECK(q != NULL);
    if (q)
        memset(q, 'q', 64);
    CHECK_INT(nchunks(&a), 1); /* served from the kept chunk, no malloc */
    CHECK_INT(a.total, 64);
    /* Reset twice in a row, and reset of an arena holding only a big chunk. */
    arena_reset(&a);
    arena_reset(&a);
    CHECK_INT(nchunks(&a), 1);
    arena_destroy(&a);

    arena_init(&a, 64);
    CHECK(arena_alloc(&a, 1000) != NULL);
    arena_reset(&a);
    CHECK_INT(nchunks(&a), 0); /* the big chunk is not kept */
    CHECK(arena_alloc(&a, 8) != NULL);
    arena_destroy(&a);
    (void)p;
}

TEST_CASE(strndup_copies_embedded_bytes)
{
    struct arena a;
    arena_init(&a, 0);
    char *s = arena_strndup(&a, "ab\0cd", 5);
    CHECK(s != NULL);
    CHECK(s && memcmp(s, "ab\0cd", 5) == 0);
    CHECK(s && s[5] == '\0'); /* a NUL is added */
    /* Only len bytes are read: the source need not be terminated. */
    char src[3] = {'x', 'y', 'z'};
    char *t = arena_strndup(&a, src, 2);
    CHECK_STR(t, "xy");
    char *e = arena_strndup(&a, NULL, 0);
    CHECK_STR(e, "");
    CHECK(arena_strndup(&a, "x", SIZE_MAX) == NULL);
    arena_destroy(&a);
}

TEST_CASE(sprintf_formats)
{
    struct arena a;
    arena_init(&a, 32);
    CHECK_STR(arena_sprintf(&a, "%s-%d", "x", 42), "x-42");
    CHECK_STR(arena_sprintf(&a, "%s", ""), "");
    /* Longer than the chunk size. */
    char *long_one = arena_sprintf(&a, "%0100d|%s", 7, "end");
    CHECK(long_one != NULL);
    CHECK(long_one && strlen(long_one) == 104);
    CHECK(long_one && strcmp(long_one + 100, "|end") == 0);
    CHECK(long_one && long_one[99] == '7' && long_one[0] == '0');
    arena_destroy(&a);
}

TEST_CASE(calloc_zeroes_and_overflow_returns_null)
{
    struct arena a;
    arena_init(&a, 64);
    /* Dirty the chunk, reset, and calloc over the same bytes. */
    unsigned char *d = arena_alloc(&a, 32);
    CHECK(d != NULL);
    if (d)
        memset(d, 0xff, 32);
    arena_reset(&a);
    int *z = arena_calloc(&a, 8, sizeof(int));
    CHECK(z != NULL);
    bool zero = z != NULL;
    for (int i = 0; z && i < 8; i++)
        zero = zero && z[i] == 0;
    CHECK(zero);
    /* n * size overflows size_t. */
    CHECK(arena_calloc(&a, SIZE_MAX / 2, 4) == NULL);
    CHECK(arena_calloc(&a, 4, SIZE_MAX / 2) == NULL);
    CHECK(arena_calloc(&a, SIZE_MAX, SIZE_MAX) == NULL);
    CHECK(arena_calloc(&a, (SIZE_MAX >> 4) + 2, 16) == NULL);
    /* Zero-sized callocs are fine. */
    CHECK(arena_calloc(&a, 0, 16) != NULL);
    CHECK(arena_calloc(&a, 16, 0) != NULL);
    arena_destroy(&a);
}

/* A size just under SIZE_MAX passes the alignment overflow check in
 * arena_alloc, but the chunk header chunk_new adds to it must not wrap the
 * malloc size round to a tiny block that is then used as a huge one. */
TEST_CASE(huge_alloc_returns_null)
{
    struct arena a;
    arena_init(&a, 64);
    /* volatile: sizes the compiler cannot see (it warns on constant ones). */
    volatile size_t max = SIZE_MAX, align = alignof(max_align_t);
    CHECK(arena_alloc(&a, max) == NULL);
    CHECK(arena_alloc(&a, max - align + 1) == NULL);
    CHECK(arena_alloc(&a, max - 64) == NULL); /* malloc itself refuses */
    /* need + sizeof(struct arena_chunk) wraps past SIZE_MAX here. */
    CHECK(arena_alloc(&a, max - align) == NULL);
    CHECK(arena_alloc(&a, max - 40) == NULL);
    arena_destroy(&a);
}

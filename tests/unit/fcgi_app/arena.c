/* Unit tests of fcgi_app/arena.c: the per-request allocator. */
#include "../../../fcgi_app/arena.c"

#include "check.h"

TEST_CASE(alignment_and_chunks)
{
    struct arena a;
    arena_init(&a, 128);
    for (int i = 1; i < 200; i++) {
        unsigned char *p = arena_alloc(&a, (size_t)i % 37 + 1);
        CHECK(p != NULL);
        CHECK((uintptr_t)p % alignof(max_align_t) == 0);
        memset(p, 0xab, (size_t)i % 37 + 1); /* ASan checks the bounds */
    }
    char *big = arena_alloc(&a, 10000); /* bigger than a chunk */
    CHECK(big != NULL);
    memset(big, 1, 10000);
    char *after = arena_alloc(&a, 16); /* still from the current small chunk */
    CHECK(after != NULL);
    arena_destroy(&a);
}

TEST_CASE(reset_reuses)
{
    struct arena a;
    arena_init(&a, 256);
    char *p = arena_alloc(&a, 64);
    arena_alloc(&a, 4096);
    arena_reset(&a);
    CHECK_INT(a.total, 0);
    char *q = arena_alloc(&a, 64);
    CHECK(p == q); /* the default-sized chunk is kept */
    arena_destroy(&a);
}

TEST_CASE(strings)
{
    struct arena a;
    arena_init(&a, 0);
    char *s = arena_strndup(&a, "ab\0cd", 5);
    CHECK(s && memcmp(s, "ab\0cd", 6) == 0);
    char *f = arena_sprintf(&a, "%s-%d", "x", 42);
    CHECK_STR(f, "x-42");
    CHECK(arena_calloc(&a, SIZE_MAX / 2, 4) == NULL);
    int *z = arena_calloc(&a, 8, sizeof(int));
    CHECK(z && z[0] == 0 && z[7] == 0);
    arena_destroy(&a);
}

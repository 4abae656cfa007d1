/* arena.h: a per-request bump allocator; everything a request allocates is
 * released at once when its response ends (h2o's mem pool idea). */
#ifndef RESTFCGI_ARENA_H
#define RESTFCGI_ARENA_H

#include <stddef.h>

#include "sv.h"

struct arena_chunk;

struct arena {
    struct arena_chunk *head;
    size_t total;      /* bytes handed out since the last reset */
    size_t chunk_size; /* default chunk payload */
};

void arena_init(struct arena *a, size_t chunk_size);
/* Frees every chunk but the first, which is kept for the next request. */
void arena_reset(struct arena *a);
void arena_destroy(struct arena *a);

/* Aligned to max_align_t; NULL only when malloc fails. */
void *arena_alloc(struct arena *a, size_t size);
void *arena_calloc(struct arena *a, size_t n, size_t size);
/* Copies len bytes and adds a NUL (views stay length-delimited). */
char *arena_strndup(struct arena *a, const char *s, size_t len);
char *arena_sprintf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif

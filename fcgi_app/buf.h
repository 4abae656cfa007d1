/* buf.h: a growable byte buffer that remembers an allocation failure
 * instead of reporting it at every append (the response becomes a 500). */
#ifndef RESTFCGI_BUF_H
#define RESTFCGI_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct buf {
    char *ptr;
    size_t len, cap;
    bool failed; /* an allocation failed: the response becomes a 500 */
};

/* Room for `more` bytes past len; false (and failed set) when it cannot. */
bool buf_grow(struct buf *b, size_t more);

static inline bool buf_reserve(struct buf *b, size_t more)
{
    if (b->failed)
        return false;
    return b->cap - b->len >= more || buf_grow(b, more);
}

static inline void buf_append(struct buf *b, const void *data, size_t len)
{
    if (!buf_reserve(b, len))
        return;
    if (len)
        memcpy(b->ptr + b->len, data, len);
    b->len += len;
}

static inline void buf_clear(struct buf *b)
{
    b->len = 0;
    b->failed = false;
}

void buf_free(struct buf *b);

#endif

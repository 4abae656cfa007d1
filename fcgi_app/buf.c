#include <stdint.h>
#include <stdlib.h>

#include "buf.h"

bool buf_grow(struct buf *b, size_t more)
{
    if (b->failed)
        return false;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *p = realloc(b->ptr, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->ptr = p;
    b->cap = cap;
    return true;
}

void buf_free(struct buf *b)
{
    free(b->ptr);
    *b = (struct buf){0};
}

/* sv.h: string views (pointer + length) for everything that came from a
 * client; compared by length, never as C strings, so %00 cannot cut them. */
#ifndef RESTFCGI_SV_H
#define RESTFCGI_SV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sv {
    const char *ptr;
    size_t len;
};

#define SV_LIT(s) ((struct sv){(s), sizeof(s) - 1})

static inline struct sv sv_from_cstr(const char *s) { return (struct sv){s, s ? strlen(s) : 0}; }

static inline bool sv_eq(struct sv a, struct sv b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool sv_eq_cstr(struct sv a, const char *b) { return sv_eq(a, sv_from_cstr(b)); }

static inline bool sv_starts_with(struct sv a, struct sv prefix)
{
    return a.len >= prefix.len && (prefix.len == 0 || memcmp(a.ptr, prefix.ptr, prefix.len) == 0);
}

/* FNV-1a: a cheap hash for fixed tables keyed by a view. */
static inline uint32_t sv_hash(struct sv s)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < s.len; i++)
        h = (h ^ (unsigned char)s.ptr[i]) * 16777619u;
    return h;
}

#endif

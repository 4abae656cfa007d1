/* mql_json.h: helpers of the query-engine unit tests. Documents are
 * written as JSON with single quotes; results are compared as canonical
 * Extended JSON, so types count (1 is an int32, 1.0 a double). */
#ifndef MQL_JSON_H
#define MQL_JSON_H

#include <bson/bson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* libbson reads {"$type": "date"} as legacy binary Extended JSON, so the
 * $type operator is written '$TYPE' to libbson and renamed back here (the
 * server's json.c does the same for request bodies). */
__attribute__((unused)) static void rename_type(const bson_t *in, bson_t *out)
{
    bson_iter_t it;
    bson_iter_init(&it, in);
    while (bson_iter_next(&it)) {
        const char *key = strcmp(bson_iter_key(&it), "$TYPE") ? bson_iter_key(&it) : "$type";
        bson_t sub, child;
        const uint8_t *data;
        uint32_t len;
        if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
            bson_iter_document(&it, &len, &data);
            bson_init_static(&sub, data, len);
            bson_append_document_begin(out, key, -1, &child);
            rename_type(&sub, &child);
            bson_append_document_end(out, &child);
        } else if (BSON_ITER_HOLDS_ARRAY(&it)) {
            bson_iter_array(&it, &len, &data);
            bson_init_static(&sub, data, len);
            bson_append_array_begin(out, key, -1, &child);
            rename_type(&sub, &child);
            bson_append_array_end(out, &child);
        } else {
            bson_append_value(out, key, -1, bson_iter_value(&it));
        }
    }
}

__attribute__((unused)) static bson_t *J(const char *json)
{
    char *s = bson_strdup(json);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    for (char *p = s; (p = strstr(p, "\"$type\"")); p += 7)
        memcpy(p + 2, "TYPE", 4);
    bson_error_t e;
    bson_t *b = bson_new_from_json((const uint8_t *)s, -1, &e);
    if (!b) {
        fprintf(stderr, "bad test JSON %s: %s\n", json, e.message);
        abort();
    }
    bson_free(s);
    bson_t *renamed = bson_new();
    rename_type(b, renamed);
    bson_destroy(b);
    return renamed;
}

/* A document n levels deep below the top one, {"a": {"a": ... {"a": leaf}}}
 * (arrays: {"a": [[ ... [leaf]]]}), written as raw BSON so that any depth is
 * quick to build; leaf is an int32. The caller destroys it. */
__attribute__((unused)) static bson_t *deep_doc(size_t n, bool arrays, int32_t leaf)
{
    size_t size = 12 + 8 * n, at = 0;
    uint8_t *b = bson_malloc(size);
    for (size_t k = 0; k < n; k++) {
        uint32_t len = (uint32_t)(size - 8 * k);
        memcpy(b + at, &len, 4); /* little-endian hosts */
        b[at + 4] = arrays ? 0x04 : 0x03;
        b[at + 5] = arrays && k ? '0' : 'a';
        b[at + 6] = 0;
        at += 7;
    }
    uint32_t inner = 12;
    memcpy(b + at, &inner, 4);
    b[at + 4] = 0x10;
    b[at + 5] = arrays && n ? '0' : 'a';
    b[at + 6] = 0;
    memcpy(b + at + 7, &leaf, 4);
    b[at + 11] = 0;
    at += 12;
    memset(b + at, 0, n);
    bson_t *d = bson_new_from_data(b, size);
    bson_free(b);
    if (!d)
        abort();
    return d;
}

/* "a.a.a...a" with n components. */
__attribute__((unused)) static char *deep_path(size_t n)
{
    char *p = bson_malloc(2 * n + 1);
    for (size_t i = 0; i < n; i++) {
        p[2 * i] = 'a';
        p[2 * i + 1] = '.';
    }
    p[2 * n - 1] = '\0';
    return p;
}

/* A few rotating buffers for strings the CHECKs compare. */
__attribute__((unused)) static char *slot(void)
{
    static char bufs[4][16384];
    static int next;
    return bufs[next++ % 4];
}

__attribute__((unused)) static const char *canon_of(const bson_t *b)
{
    char *s = bson_as_canonical_extended_json(b, NULL), *out = slot();
    snprintf(out, 16384, "%s", s);
    bson_free(s);
    return out;
}

#endif

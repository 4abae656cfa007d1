/*
 * mql_value.c: BSON values in MongoDB's order: comparison, equality, the
 * order-preserving key encoding the sqlite store indexes by, and dotted-path
 * lookups (see mql.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mql.h"

int mql_type_rank(bson_type_t t)
{
    switch (t) {
    case BSON_TYPE_MINKEY: return 1;
    case BSON_TYPE_EOD:
    case BSON_TYPE_UNDEFINED:
    case BSON_TYPE_NULL: return 2;
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_DECIMAL128: return 3;
    case BSON_TYPE_UTF8:
    case BSON_TYPE_SYMBOL: return 4;
    case BSON_TYPE_DOCUMENT: return 5;
    case BSON_TYPE_ARRAY: return 6;
    case BSON_TYPE_BINARY: return 7;
    case BSON_TYPE_OID: return 8;
    case BSON_TYPE_BOOL: return 9;
    case BSON_TYPE_DATE_TIME: return 10;
    case BSON_TYPE_TIMESTAMP: return 11;
    case BSON_TYPE_REGEX: return 12;
    case BSON_TYPE_DBPOINTER: return 13;
    case BSON_TYPE_CODE: return 14;
    case BSON_TYPE_CODEWSCOPE: return 15;
    case BSON_TYPE_MAXKEY: return 16;
    }
    return 16;
}

/* Decimal128 through its string form: exact enough for ordering against
 * the other numbers, which is all this store promises for it. */
static double decimal_to_double(const bson_decimal128_t *d)
{
    char s[BSON_DECIMAL128_STRING];
    bson_decimal128_to_string(d, s);
    if (!strcmp(s, "NaN") || !strcmp(s, "-NaN"))
        return NAN;
    if (!strcmp(s, "Infinity"))
        return INFINITY;
    if (!strcmp(s, "-Infinity"))
        return -INFINITY;
    return strtod(s, NULL);
}

static bool is_integer(bson_type_t t)
{
    return t == BSON_TYPE_INT32 || t == BSON_TYPE_INT64;
}

static int64_t as_int(const bson_value_t *v)
{
    return v->value_type == BSON_TYPE_INT32 ? v->value.v_int32 : v->value.v_int64;
}

static double as_double(const bson_value_t *v)
{
    switch (v->value_type) {
    case BSON_TYPE_INT32: return v->value.v_int32;
    case BSON_TYPE_INT64: return (double)v->value.v_int64;
    case BSON_TYPE_DOUBLE: return v->value.v_double;
    case BSON_TYPE_DECIMAL128: return decimal_to_double(&v->value.v_decimal128);
    default: return 0;
    }
}

/* Numbers by value; NaN below every other number, as MongoDB sorts it.
 * long double holds every int64 exactly on x86-64, so mixed int64/double
 * comparisons are exact there. */
static int compare_numbers(const bson_value_t *a, const bson_value_t *b)
{
    if (is_integer(a->value_type) && is_integer(b->value_type)) {
        int64_t x = as_int(a), y = as_int(b);
        return (x > y) - (x < y);
    }
    long double x = is_integer(a->value_type) ? (long double)as_int(a) : (long double)as_double(a);
    long double y = is_integer(b->value_type) ? (long double)as_int(b) : (long double)as_double(b);
    bool nx = isnan(x), ny = isnan(y);
    if (nx || ny)
        return ny - nx;
    return (x > y) - (x < y);
}

static int compare_bytes(const void *a, size_t la, const void *b, size_t lb)
{
    int c = memcmp(a, b, la < lb ? la : lb);
    if (c)
        return c < 0 ? -1 : 1;
    return (la > lb) - (la < lb);
}

static void string_of(const bson_value_t *v, const char **s, size_t *len)
{
    if (v->value_type == BSON_TYPE_SYMBOL) {
        *s = v->value.v_symbol.symbol;
        *len = v->value.v_symbol.len;
    } else {
        *s = v->value.v_utf8.str;
        *len = v->value.v_utf8.len;
    }
}

/* Documents and arrays element by element: the type of each value, then the
 * field name (documents only), then the value; the shorter one first. */
static int compare_containers(const bson_value_t *a, const bson_value_t *b, bool names)
{
    bson_t da, db;
    bson_iter_t ia, ib;
    if (!bson_init_static(&da, a->value.v_doc.data, a->value.v_doc.data_len) ||
        !bson_init_static(&db, b->value.v_doc.data, b->value.v_doc.data_len) ||
        !bson_iter_init(&ia, &da) || !bson_iter_init(&ib, &db))
        return 0;
    for (;;) {
        bool ha = bson_iter_next(&ia), hb = bson_iter_next(&ib);
        if (!ha || !hb)
            return ha - hb;
        int ra = mql_type_rank(bson_iter_type(&ia)), rb = mql_type_rank(bson_iter_type(&ib));
        if (ra != rb)
            return ra < rb ? -1 : 1;
        if (names) {
            int c = compare_bytes(bson_iter_key(&ia), bson_iter_key_len(&ia), bson_iter_key(&ib),
                                  bson_iter_key_len(&ib));
            if (c)
                return c;
        }
        int c = mql_value_compare(bson_iter_value(&ia), bson_iter_value(&ib));
        if (c)
            return c;
    }
}

int mql_value_compare(const bson_value_t *a, const bson_value_t *b)
{
    int ra = mql_type_rank(a->value_type), rb = mql_type_rank(b->value_type);
    if (ra != rb)
        return ra < rb ? -1 : 1;
    switch (a->value_type) {
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_DECIMAL128: return compare_numbers(a, b);
    case BSON_TYPE_UTF8:
    case BSON_TYPE_SYMBOL: {
        const char *sa, *sb;
        size_t la, lb;
        string_of(a, &sa, &la);
        string_of(b, &sb, &lb);
        return compare_bytes(sa, la, sb, lb);
    }
    case BSON_TYPE_DOCUMENT: return compare_containers(a, b, true);
    case BSON_TYPE_ARRAY: return compare_containers(a, b, false);
    case BSON_TYPE_BINARY: {
        /* Length first, then subtype, then bytes: MongoDB's order. */
        uint32_t la = a->value.v_binary.data_len, lb = b->value.v_binary.data_len;
        if (la != lb)
            return la < lb ? -1 : 1;
        if (a->value.v_binary.subtype != b->value.v_binary.subtype)
            return a->value.v_binary.subtype < b->value.v_binary.subtype ? -1 : 1;
        return compare_bytes(a->value.v_binary.data, la, b->value.v_binary.data, lb);
    }
    case BSON_TYPE_OID: return compare_bytes(a->value.v_oid.bytes, 12, b->value.v_oid.bytes, 12);
    case BSON_TYPE_BOOL: return (int)a->value.v_bool - (int)b->value.v_bool;
    case BSON_TYPE_DATE_TIME: {
        int64_t x = a->value.v_datetime, y = b->value.v_datetime;
        return (x > y) - (x < y);
    }
    case BSON_TYPE_TIMESTAMP: {
        uint64_t x = (uint64_t)a->value.v_timestamp.timestamp << 32 | a->value.v_timestamp.increment;
        uint64_t y = (uint64_t)b->value.v_timestamp.timestamp << 32 | b->value.v_timestamp.increment;
        return (x > y) - (x < y);
    }
    case BSON_TYPE_REGEX: {
        int c = strcmp(a->value.v_regex.regex, b->value.v_regex.regex);
        if (!c)
            c = strcmp(a->value.v_regex.options, b->value.v_regex.options);
        return (c > 0) - (c < 0);
    }
    case BSON_TYPE_CODE:
        return compare_bytes(a->value.v_code.code, a->value.v_code.code_len, b->value.v_code.code,
                             b->value.v_code.code_len);
    case BSON_TYPE_CODEWSCOPE:
        return compare_bytes(a->value.v_codewscope.code, a->value.v_codewscope.code_len,
                             b->value.v_codewscope.code, b->value.v_codewscope.code_len);
    case BSON_TYPE_DBPOINTER: {
        int c = compare_bytes(a->value.v_dbpointer.collection, a->value.v_dbpointer.collection_len,
                              b->value.v_dbpointer.collection, b->value.v_dbpointer.collection_len);
        return c ? c : compare_bytes(a->value.v_dbpointer.oid.bytes, 12, b->value.v_dbpointer.oid.bytes, 12);
    }
    default: return 0; /* MinKey, MaxKey, null, undefined: one value each */
    }
}

bool mql_value_equal(const bson_value_t *a, const bson_value_t *b)
{
    return mql_value_compare(a, b) == 0;
}

/* ---- keys ---- */

void mql_key_push_bytes(struct mql_key *key, const void *data, size_t len)
{
    if (key->len + len > key->cap) {
        size_t cap = key->cap ? key->cap : 32;
        while (cap < key->len + len)
            cap *= 2;
        key->data = bson_realloc(key->data, cap);
        key->cap = cap;
    }
    if (len)
        memcpy(key->data + key->len, data, len);
    key->len += len;
}

void mql_key_push(struct mql_key *key, uint8_t byte)
{
    mql_key_push_bytes(key, &byte, 1);
}

void mql_key_copy(struct mql_key *dst, const struct mql_key *src)
{
    *dst = (struct mql_key){0};
    mql_key_push_bytes(dst, src->data, src->len);
}

void mql_key_free(struct mql_key *key)
{
    bson_free(key->data);
    *key = (struct mql_key){0};
}

static void push_be64(struct mql_key *key, uint64_t x)
{
    uint8_t b[8];
    for (int i = 7; i >= 0; i--, x >>= 8)
        b[i] = (uint8_t)x;
    mql_key_push_bytes(key, b, 8);
}

/* Bytes with 0x00 escaped as 0x00 0xff and ended by 0x00 0x00, so a string
 * sorts before every longer string it begins. */
static void push_escaped(struct mql_key *key, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        mql_key_push(key, (uint8_t)s[i]);
        if (!s[i])
            mql_key_push(key, 0xff);
    }
    mql_key_push(key, 0);
    mql_key_push(key, 0);
}

/* A double's bits flipped so that unsigned big-endian order is numeric
 * order; NaN first, -0 as 0. */
static void push_number(struct mql_key *key, const bson_value_t *v)
{
    double d = as_double(v);
    if (isnan(d)) {
        push_be64(key, 0);
        return;
    }
    if (d == 0)
        d = 0;
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    bits = (bits & (1ULL << 63)) ? ~bits : bits | (1ULL << 63);
    push_be64(key, bits);
}

static void push_container(struct mql_key *key, const bson_value_t *v, bool names)
{
    bson_t d;
    bson_iter_t it;
    if (bson_init_static(&d, v->value.v_doc.data, v->value.v_doc.data_len) && bson_iter_init(&it, &d)) {
        while (bson_iter_next(&it)) {
            /* The type byte comes first so that, as in compare_containers,
             * the type of an element outranks its name. */
            mql_key_push(key, (uint8_t)(0x10 + mql_type_rank(bson_iter_type(&it))));
            if (names)
                push_escaped(key, bson_iter_key(&it), bson_iter_key_len(&it));
            mql_key_append(key, bson_iter_value(&it));
        }
    }
    mql_key_push(key, 0); /* below every type byte: shorter first */
}

void mql_key_append(struct mql_key *key, const bson_value_t *v)
{
    mql_key_push(key, (uint8_t)(0x10 + mql_type_rank(v->value_type)));
    switch (v->value_type) {
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
    case BSON_TYPE_DOUBLE:
    case BSON_TYPE_DECIMAL128: push_number(key, v); break;
    case BSON_TYPE_UTF8:
    case BSON_TYPE_SYMBOL: {
        const char *s;
        size_t len;
        string_of(v, &s, &len);
        push_escaped(key, s, len);
        break;
    }
    case BSON_TYPE_DOCUMENT: push_container(key, v, true); break;
    case BSON_TYPE_ARRAY: push_container(key, v, false); break;
    case BSON_TYPE_BINARY:
        push_be64(key, v->value.v_binary.data_len);
        mql_key_push(key, (uint8_t)v->value.v_binary.subtype);
        mql_key_push_bytes(key, v->value.v_binary.data, v->value.v_binary.data_len);
        break;
    case BSON_TYPE_OID: mql_key_push_bytes(key, v->value.v_oid.bytes, 12); break;
    case BSON_TYPE_BOOL: mql_key_push(key, v->value.v_bool ? 1 : 0); break;
    case BSON_TYPE_DATE_TIME: push_be64(key, (uint64_t)v->value.v_datetime ^ (1ULL << 63)); break;
    case BSON_TYPE_TIMESTAMP:
        push_be64(key, (uint64_t)v->value.v_timestamp.timestamp << 32 | v->value.v_timestamp.increment);
        break;
    case BSON_TYPE_REGEX:
        push_escaped(key, v->value.v_regex.regex, strlen(v->value.v_regex.regex));
        push_escaped(key, v->value.v_regex.options, strlen(v->value.v_regex.options));
        break;
    case BSON_TYPE_CODE: push_escaped(key, v->value.v_code.code, v->value.v_code.code_len); break;
    case BSON_TYPE_CODEWSCOPE:
        push_escaped(key, v->value.v_codewscope.code, v->value.v_codewscope.code_len);
        break;
    case BSON_TYPE_DBPOINTER:
        push_escaped(key, v->value.v_dbpointer.collection, v->value.v_dbpointer.collection_len);
        mql_key_push_bytes(key, v->value.v_dbpointer.oid.bytes, 12);
        break;
    default: break; /* the type byte is the whole key */
    }
}

/* ---- paths ---- */

/* Index of a path step used on an array: decimal digits only, no sign, no
 * leading zero (MongoDB's rule), within the array's reach. */
static bool array_index(const char *s, size_t len, uint32_t *out)
{
    if (!len || len > 9 || (len > 1 && s[0] == '0'))
        return false;
    uint32_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        n = n * 10 + (uint32_t)(s[i] - '0');
    }
    *out = n;
    return true;
}

/* The element of a document or array named by step, into *out. */
static bool step_into(const bson_value_t *container, const char *step, size_t len, bson_value_t *out)
{
    bson_t d;
    bson_iter_t it;
    if (!bson_init_static(&d, container->value.v_doc.data, container->value.v_doc.data_len) ||
        !bson_iter_init(&it, &d))
        return false;
    if (container->value_type == BSON_TYPE_ARRAY) {
        uint32_t want, i = 0;
        if (!array_index(step, len, &want))
            return false;
        while (bson_iter_next(&it))
            if (i++ == want) {
                *out = *bson_iter_value(&it);
                return true;
            }
        return false;
    }
    if (!bson_iter_find_w_len(&it, step, (int)len))
        return false;
    *out = *bson_iter_value(&it);
    return true;
}

bool mql_path_get(const bson_t *doc, const char *path, bson_value_t *out)
{
    bson_value_t cur = {.value_type = BSON_TYPE_DOCUMENT};
    cur.value.v_doc.data = (uint8_t *)bson_get_data(doc);
    cur.value.v_doc.data_len = doc->len;
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        if (cur.value_type != BSON_TYPE_DOCUMENT && cur.value_type != BSON_TYPE_ARRAY)
            return false;
        bson_value_t next;
        if (!step_into(&cur, path, len, &next))
            return false;
        cur = next;
        if (!dot)
            break;
        path = dot + 1;
    }
    *out = cur;
    return true;
}

/* ---- paths with array traversal ---- */

bool mql_path_parse(const char *path, struct mql_path *out)
{
    *out = (struct mql_path){0};
    out->text = bson_strdup(path);
    size_t n = 1;
    for (const char *p = path; *p; p++)
        n += *p == '.';
    out->steps = bson_malloc(n * sizeof *out->steps);
    out->lens = bson_malloc(n * sizeof *out->lens);
    const char *s = out->text;
    for (size_t i = 0; i < n; i++) {
        const char *dot = strchr(s, '.');
        size_t len = dot ? (size_t)(dot - s) : strlen(s);
        out->steps[i] = s;
        out->lens[i] = len;
        s += len + 1;
    }
    out->n = n;
    return true;
}

void mql_path_free(struct mql_path *p)
{
    bson_free(p->text);
    bson_free(p->steps);
    bson_free(p->lens);
    *p = (struct mql_path){0};
}

static bool visit(const bson_value_t *cur, const struct mql_path *p, size_t i, mql_visit_fn fn, void *ctx)
{
    if (i == p->n)
        return fn(ctx, cur);
    if (cur->value_type == BSON_TYPE_DOCUMENT) {
        bson_value_t next;
        if (step_into(cur, p->steps[i], p->lens[i], &next))
            return visit(&next, p, i + 1, fn, ctx);
        return fn(ctx, NULL);
    }
    if (cur->value_type != BSON_TYPE_ARRAY)
        return fn(ctx, NULL);
    /* An array met before the end: a numeric step picks that element;
     * otherwise the path goes on inside every document element. */
    bson_value_t next;
    if (step_into(cur, p->steps[i], p->lens[i], &next))
        return visit(&next, p, i + 1, fn, ctx);
    bool tried = false;
    bson_t d;
    bson_iter_t it;
    if (bson_init_static(&d, cur->value.v_doc.data, cur->value.v_doc.data_len) && bson_iter_init(&it, &d)) {
        while (bson_iter_next(&it)) {
            if (bson_iter_type(&it) != BSON_TYPE_DOCUMENT)
                continue;
            tried = true;
            if (visit(bson_iter_value(&it), p, i, fn, ctx))
                return true;
        }
    }
    return tried ? false : fn(ctx, NULL);
}

bool mql_path_visit(const bson_t *doc, const struct mql_path *p, mql_visit_fn fn, void *ctx)
{
    bson_value_t root = {.value_type = BSON_TYPE_DOCUMENT};
    root.value.v_doc.data = (uint8_t *)bson_get_data(doc);
    root.value.v_doc.data_len = doc->len;
    return visit(&root, p, 0, fn, ctx);
}

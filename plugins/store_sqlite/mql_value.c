/*
 * mql_value.c: BSON values in MongoDB's order: comparison, equality, the
 * order-preserving key encoding the sqlite store indexes by, and dotted-path
 * lookups (see mql.h).
 */
#include <math.h>
#include <stdio.h>
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

/* ---- numbers ----
 *
 * int32, int64 and double compare exactly with integer and double
 * arithmetic. A decimal128 compares exactly with everything through an exact
 * decimal form of both sides (after a quick test on their nearest doubles,
 * which settles every pair whose doubles differ: rounding is monotonic). */

static bool is_integer(bson_type_t t)
{
    return t == BSON_TYPE_INT32 || t == BSON_TYPE_INT64;
}

static int64_t as_int(const bson_value_t *v)
{
    return v->value_type == BSON_TYPE_INT32 ? v->value.v_int32 : v->value.v_int64;
}

/* The nearest double of a decimal128 (NaN, and +-Infinity past the range
 * of doubles). */
static double decimal_to_double(const bson_decimal128_t *d)
{
    char s[BSON_DECIMAL128_STRING];
    bson_decimal128_to_string(d, s);
    if (strstr(s, "NaN"))
        return NAN;
    if (!strcmp(s, "Infinity"))
        return INFINITY;
    if (!strcmp(s, "-Infinity"))
        return -INFINITY;
    return strtod(s, NULL);
}

/* The nearest double of any number. */
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

bool mql_is_nan(const bson_value_t *v)
{
    return (v->value_type == BSON_TYPE_DOUBLE || v->value_type == BSON_TYPE_DECIMAL128) &&
           isnan(as_double(v));
}

/* x against the double y, exactly (NaN below every number). */
static int compare_int_double(int64_t x, double y)
{
    if (isnan(y))
        return 1;
    if (y >= 9223372036854775808.0)
        return -1;
    if (y < -9223372036854775808.0)
        return 1;
    double t = trunc(y); /* -2^63 <= t < 2^63: exact as an int64 */
    int64_t i = (int64_t)t;
    if (x != i)
        return x < i ? -1 : 1;
    double frac = y - t; /* exact */
    return (frac < 0) - (frac > 0);
}

static int compare_doubles(double x, double y)
{
    bool nx = isnan(x), ny = isnan(y);
    if (nx || ny)
        return ny - nx;
    return (x > y) - (x < y);
}

/* A number as an exact decimal: for finite non-zero values
 * sign * 0.D1D2...Dn * 10^exp with D1 and Dn not '0'. A double needs at most
 * 767 significant digits, a decimal128 34, an int64 19. */
enum { XN_NAN, XN_NEG_INF, XN_FINITE, XN_POS_INF };

struct xnum {
    int cls;
    int sign; /* finite: -1, 0 or 1 */
    int exp;
    size_t n;
    char d[800];
};

/* x = sign * digits * 10^e, from len decimal digits. */
static void xnum_set(struct xnum *x, int sign, const char *digits, size_t len, long e)
{
    x->cls = XN_FINITE;
    while (len && *digits == '0')
        digits++, len--;
    if (len > sizeof x->d)
        len = sizeof x->d; /* not reached: every source has fewer digits */
    x->exp = (int)(e + (long)len);
    while (len && digits[len - 1] == '0')
        len--;
    x->sign = len ? sign : 0;
    memcpy(x->d, digits, len);
    x->n = len;
}

static void xnum_of_int(int64_t v, struct xnum *x)
{
    char buf[24];
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    int len = snprintf(buf, sizeof buf, "%llu", (unsigned long long)m);
    xnum_set(x, v < 0 ? -1 : 1, buf, (size_t)len, 0);
}

static void xnum_of_double(double v, struct xnum *x)
{
    if (isnan(v)) {
        x->cls = XN_NAN;
        return;
    }
    if (isinf(v)) {
        x->cls = v > 0 ? XN_POS_INF : XN_NEG_INF;
        return;
    }
    if (v == 0) {
        xnum_set(x, 0, "", 0, 0);
        return;
    }
    /* glibc prints the exact binary value: D.DDD...e+XX with 767 digits. */
    char buf[820], digits[800];
    snprintf(buf, sizeof buf, "%.766e", fabs(v));
    size_t n = 0;
    const char *p = buf;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9' && n < sizeof digits)
            digits[n++] = *p;
    long e = *p == 'e' ? strtol(p + 1, NULL, 10) : 0;
    xnum_set(x, v < 0 ? -1 : 1, digits, n, e - (long)(n - 1));
}

static void xnum_of_decimal(const bson_decimal128_t *dec, struct xnum *x)
{
    char s[BSON_DECIMAL128_STRING], digits[BSON_DECIMAL128_STRING];
    bson_decimal128_to_string(dec, s);
    const char *p = s;
    int sign = 1;
    if (*p == '-' || *p == '+')
        sign = *p++ == '-' ? -1 : 1;
    if (strstr(p, "NaN")) {
        x->cls = XN_NAN;
        return;
    }
    if (!strcmp(p, "Infinity")) {
        x->cls = sign < 0 ? XN_NEG_INF : XN_POS_INF;
        return;
    }
    size_t n = 0;
    long frac = 0;
    bool dot = false;
    for (; *p && *p != 'E' && *p != 'e'; p++) {
        if (*p == '.') {
            dot = true;
        } else if (*p >= '0' && *p <= '9' && n < sizeof digits) {
            digits[n++] = *p;
            frac += dot;
        }
    }
    long e = (*p == 'E' || *p == 'e') ? strtol(p + 1, NULL, 10) : 0;
    xnum_set(x, sign, digits, n, e - frac);
}

static void xnum_of(const bson_value_t *v, struct xnum *x)
{
    switch (v->value_type) {
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64: xnum_of_int(as_int(v), x); break;
    case BSON_TYPE_DECIMAL128: xnum_of_decimal(&v->value.v_decimal128, x); break;
    default: xnum_of_double(as_double(v), x); break;
    }
}

static int xnum_compare(const struct xnum *a, const struct xnum *b)
{
    if (a->cls != b->cls || a->cls != XN_FINITE)
        return (a->cls > b->cls) - (a->cls < b->cls);
    if (a->sign != b->sign)
        return (a->sign > b->sign) - (a->sign < b->sign);
    if (!a->sign)
        return 0;
    int c;
    if (a->exp != b->exp) {
        c = a->exp > b->exp ? 1 : -1;
    } else {
        c = memcmp(a->d, b->d, a->n < b->n ? a->n : b->n);
        if (!c)
            c = (a->n > b->n) - (a->n < b->n);
        c = (c > 0) - (c < 0);
    }
    return c * a->sign;
}

/* Numbers by value, exactly; NaN equal to NaN and below every other
 * number, as MongoDB sorts it. */
static int compare_numbers(const bson_value_t *a, const bson_value_t *b)
{
    bson_type_t ta = a->value_type, tb = b->value_type;
    if (ta != BSON_TYPE_DECIMAL128 && tb != BSON_TYPE_DECIMAL128) {
        if (is_integer(ta) && is_integer(tb)) {
            int64_t x = as_int(a), y = as_int(b);
            return (x > y) - (x < y);
        }
        if (is_integer(ta))
            return compare_int_double(as_int(a), b->value.v_double);
        if (is_integer(tb))
            return -compare_int_double(as_int(b), a->value.v_double);
        return compare_doubles(a->value.v_double, b->value.v_double);
    }
    double x = as_double(a), y = as_double(b);
    if (!isnan(x) && !isnan(y) && x != y)
        return x < y ? -1 : 1;
    struct xnum *xa = bson_malloc(sizeof *xa), *xb = bson_malloc(sizeof *xb);
    xnum_of(a, xa);
    xnum_of(b, xb);
    int c = xnum_compare(xa, xb);
    bson_free(xa);
    bson_free(xb);
    return c;
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

static int compare_at(const bson_value_t *a, const bson_value_t *b, size_t depth);

/* Documents and arrays element by element: the type of each value, then the
 * field name (documents only), then the value; the shorter one first. Past
 * MQL_MAX_NESTING levels the rest counts as equal (bounded recursion). */
static int compare_containers(const bson_value_t *a, const bson_value_t *b, bool names, size_t depth)
{
    if (depth > MQL_MAX_NESTING)
        return 0;
    /* Iterators straight on the bytes: no bson_t in the (recursive) frame. */
    bson_iter_t ia, ib;
    if (!bson_iter_init_from_data(&ia, a->value.v_doc.data, a->value.v_doc.data_len) ||
        !bson_iter_init_from_data(&ib, b->value.v_doc.data, b->value.v_doc.data_len))
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
        int c = compare_at(bson_iter_value(&ia), bson_iter_value(&ib), depth + 1);
        if (c)
            return c;
    }
}

static int compare_at(const bson_value_t *a, const bson_value_t *b, size_t depth)
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
    case BSON_TYPE_DOCUMENT: return compare_containers(a, b, true, depth);
    case BSON_TYPE_ARRAY: return compare_containers(a, b, false, depth);
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

int mql_value_compare(const bson_value_t *a, const bson_value_t *b)
{
    return compare_at(a, b, 1);
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
static void push_double(struct mql_key *key, double d)
{
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

/* The byte that follows the double of a number no double equals: above
 * every byte that can follow a complete value (0x00 ends a container, 0x11
 * to 0x20 start the next value), so such a number sorts after its double
 * and before the next one. */
#define KEY_INEXACT 0xe0

/* Numbers are keyed by the largest double not above them (8 bytes, as
 * push_double). When that double is the number itself (every int32 and
 * double, every int64 up to 2^53, most decimals) that is the whole key, so
 * 1, 1L, 1.0 and 1.00 encode alike. Otherwise KEY_INEXACT follows, then
 * the exact value, which orders the numbers between two doubles: the
 * decimal exponent (2 bytes, biased) and the digits (1 to 10) of
 * 0.D1D2...Dn * 10^exp, ended by 0; all complemented when negative. */
static void push_number(struct mql_key *key, const bson_value_t *v)
{
    struct xnum *x = NULL, *y = NULL;
    double d;
    int c = 0; /* the number against d */
    switch (v->value_type) {
    case BSON_TYPE_INT32: d = v->value.v_int32; break;
    case BSON_TYPE_DOUBLE: d = v->value.v_double; break;
    case BSON_TYPE_INT64:
        d = (double)v->value.v_int64;
        c = compare_int_double(v->value.v_int64, d);
        if (c) {
            x = bson_malloc(sizeof *x);
            xnum_of_int(v->value.v_int64, x);
        }
        break;
    case BSON_TYPE_DECIMAL128:
        x = bson_malloc(sizeof *x);
        y = bson_malloc(sizeof *y);
        xnum_of_decimal(&v->value.v_decimal128, x);
        d = decimal_to_double(&v->value.v_decimal128);
        xnum_of_double(d, y);
        c = x->cls == XN_NAN ? 0 : xnum_compare(x, y);
        break;
    default: d = 0; break;
    }
    if (c < 0)
        d = nextafter(d, -INFINITY); /* d was the nearest double, above */
    push_double(key, d);
    if (c) {
        uint8_t neg = x->sign < 0 ? 0xff : 0;
        uint16_t e = (uint16_t)(x->exp + 0x8000);
        mql_key_push(key, KEY_INEXACT);
        mql_key_push(key, (uint8_t)((e >> 8) ^ neg));
        mql_key_push(key, (uint8_t)((e & 0xff) ^ neg));
        for (size_t i = 0; i < x->n; i++)
            mql_key_push(key, (uint8_t)((x->d[i] - '0' + 1) ^ neg));
        mql_key_push(key, neg);
    }
    bson_free(x);
    bson_free(y);
}

static bool key_append_at(struct mql_key *key, const bson_value_t *v, size_t depth);

static bool push_container(struct mql_key *key, const bson_value_t *v, bool names, size_t depth)
{
    bson_iter_t it;
    if (depth > MQL_MAX_NESTING)
        return false;
    if (bson_iter_init_from_data(&it, v->value.v_doc.data, v->value.v_doc.data_len)) {
        while (bson_iter_next(&it)) {
            /* The type byte comes first so that, as in compare_containers,
             * the type of an element outranks its name. */
            mql_key_push(key, (uint8_t)(0x10 + mql_type_rank(bson_iter_type(&it))));
            if (names)
                push_escaped(key, bson_iter_key(&it), bson_iter_key_len(&it));
            if (!key_append_at(key, bson_iter_value(&it), depth + 1))
                return false;
        }
    }
    mql_key_push(key, 0); /* below every type byte: shorter first */
    return true;
}

static bool key_append_at(struct mql_key *key, const bson_value_t *v, size_t depth)
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
    case BSON_TYPE_DOCUMENT: return push_container(key, v, true, depth);
    case BSON_TYPE_ARRAY: return push_container(key, v, false, depth);
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
    return true;
}

bool mql_key_append(struct mql_key *key, const bson_value_t *v)
{
    return key_append_at(key, v, 1);
}

/* ---- depth ---- */

size_t mql_doc_depth(const bson_t *doc, size_t limit)
{
    size_t cap = 16, top = 0, max = 1;
    bson_iter_t *stack = bson_malloc(cap * sizeof *stack);
    if (!bson_iter_init(&stack[0], doc)) {
        bson_free(stack);
        return 1;
    }
    for (;;) {
        if (!bson_iter_next(&stack[top])) {
            if (top == 0)
                break;
            top--;
            continue;
        }
        if (!BSON_ITER_HOLDS_DOCUMENT(&stack[top]) && !BSON_ITER_HOLDS_ARRAY(&stack[top]))
            continue;
        if (top + 2 > max) {
            max = top + 2;
            if (max > limit)
                break;
        }
        if (top + 1 == cap) {
            cap *= 2;
            stack = bson_realloc(stack, cap * sizeof *stack);
        }
        if (bson_iter_recurse(&stack[top], &stack[top + 1]))
            top++;
    }
    bson_free(stack);
    return max > limit ? limit + 1 : max;
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
    if (container->value_type != BSON_TYPE_DOCUMENT && container->value_type != BSON_TYPE_ARRAY)
        return false;
    bson_iter_t it;
    if (!bson_iter_init_from_data(&it, container->value.v_doc.data, container->value.v_doc.data_len))
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
    bson_iter_t it;
    if (bson_iter_init_from_data(&it, cur->value.v_doc.data, cur->value.v_doc.data_len)) {
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

bool mql_path_step(const bson_value_t *container, const char *step, size_t len, bson_value_t *out)
{
    return step_into(container, step, len, out);
}

bool mql_path_visit(const bson_t *doc, const struct mql_path *p, mql_visit_fn fn, void *ctx)
{
    /* visit() recurses at most twice per step: bound the steps. */
    if (p->n > MQL_MAX_NESTING)
        return fn(ctx, NULL);
    bson_value_t root = {.value_type = BSON_TYPE_DOCUMENT};
    root.value.v_doc.data = (uint8_t *)bson_get_data(doc);
    root.value.v_doc.data_len = doc->len;
    return visit(&root, p, 0, fn, ctx);
}

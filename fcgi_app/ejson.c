/* ejson.c: relaxed Extended JSON as libbson 1.23 writes it ("{ "a" : 1 }",
 * nested empties "{  }" and "[  ]"), for the values a response carries.
 * Whatever is unusual (corrupt BSON, invalid UTF-8 or NUL in a string,
 * DBPointer, code with scope, dates past year 9999, nesting past
 * EJSON_MAX_DEPTH) is handed back to libbson for the whole document, so
 * its output for those stays its own by construction. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>

#include "ejson.h"

/* Deeper documents go to libbson, which has its own cut-off (200). */
#define EJSON_MAX_DEPTH 100

/* The last millisecond of year 9999: later dates go to libbson. */
#define EJSON_MAX_ISO_DATE 253402300799999LL

#define PUT_LIT(b, s) buf_append((b), (s), sizeof(s) - 1)

/* Bytes of a string: 0 as they are, 1 escaped, 2 the start or rest of a
 * multi-byte character (the string must be valid UTF-8). */
static const unsigned char byte_class[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};

/* One escaped byte as bson_utf8_escape_for_json writes it. */
static void put_escape(struct buf *b, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', 0};
    switch (c) {
    case '"':
    case '\\':
        e[1] = (char)c;
        break;
    case '\b':
        e[1] = 'b';
        break;
    case '\f':
        e[1] = 'f';
        break;
    case '\n':
        e[1] = 'n';
        break;
    case '\r':
        e[1] = 'r';
        break;
    case '\t':
        e[1] = 't';
        break;
    default:
        memcpy(e, "\\u00", 4);
        e[4] = hex[c >> 4];
        e[5] = hex[c & 15];
        buf_append(b, e, 6);
        return;
    }
    buf_append(b, e, 2);
}

/* A quoted, escaped string; false when it holds a NUL or is not valid
 * UTF-8, whose output is libbson's to decide. */
static bool put_string(struct buf *b, const char *s, size_t len)
{
    bool checked = false;
    size_t run = 0;
    if (!buf_reserve(b, len + 2))
        return true;
    b->ptr[b->len++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char cls = byte_class[(unsigned char)s[i]];
        if (!cls)
            continue;
        if (cls == 2) {
            /* allow_null false: the two-byte NUL (C0 80) is libbson's too. */
            if (!checked && !bson_utf8_validate(s, len, false))
                return false;
            checked = true;
            continue;
        }
        if (!s[i])
            return false;
        buf_append(b, s + run, i - run);
        put_escape(b, (unsigned char)s[i]);
        run = i + 1;
    }
    buf_append(b, s + run, len - run);
    buf_append(b, "\"", 1);
    return true;
}

static void put_int(struct buf *b, int64_t v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        *--p = '-';
    buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* Fractions m / 2^k (k <= 10, odd m) below 1e15 whose exact decimal
 * expansion has at most 20 digits: "%.20g" prints that expansion as it is
 * (no rounding, fixed notation as the value is above 1e-4, no trailing
 * zero as the last digit is odd), so printf is not needed. False: others. */
static bool put_dyadic(struct buf *b, double v)
{
    double scaled = v * 1024;
    if (!(scaled > -1e18 && scaled < 1e18) || scaled != (double)(int64_t)scaled)
        return false;
    int64_t m = (int64_t)scaled;
    int k = 10;
    while (k > 0 && m % 2 == 0) {
        m /= 2;
        k--;
    }
    unsigned __int128 n = m < 0 ? (uint64_t)0 - (uint64_t)m : (uint64_t)m;
    for (int i = 0; i < k; i++)
        n *= 5; /* n = |v| * 10^k, exactly */
    if (k == 0 || n >= (unsigned __int128)10000000000 * 10000000000)
        return false;
    char tmp[32], *p = tmp + sizeof tmp;
    int digits = 0;
    while (n || digits <= k) {
        if (digits == k)
            *--p = '.';
        *--p = (char)('0' + (int)(n % 10));
        n /= 10;
        digits++;
    }
    if (m < 0)
        *--p = '-';
    buf_append(b, p, (size_t)(tmp + sizeof tmp - p));
    return true;
}

/* "%.20g", with ".0" when that looks like an integer; NaN and the
 * infinities as $numberDouble. Integers below 1e15 and short binary
 * fractions skip printf: "%.20g" prints them digit for digit. */
static void put_double(struct buf *b, double v)
{
    if (v != v) {
        PUT_LIT(b, "{ \"$numberDouble\" : \"NaN\" }");
    } else if (v * 0 != 0) {
        if (v > 0)
            PUT_LIT(b, "{ \"$numberDouble\" : \"Infinity\" }");
        else
            PUT_LIT(b, "{ \"$numberDouble\" : \"-Infinity\" }");
    } else if (v > -1e15 && v < 1e15 && v == (double)(int64_t)v) {
        if (v == 0 && signbit(v))
            buf_append(b, "-", 1);
        put_int(b, (int64_t)v);
        buf_append(b, ".0", 2);
    } else if (!put_dyadic(b, v)) {
        char tmp[40];
        int n = snprintf(tmp, sizeof tmp, "%.20g", v);
        if (n <= 0 || (size_t)n >= sizeof tmp)
            n = 0;
        buf_append(b, tmp, (size_t)n);
        if (strspn(tmp, "0123456789-") == (size_t)n)
            buf_append(b, ".0", 2);
    }
}

static void put_2digits(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
}

/* "YYYY-MM-DDTHH:MM:SS[.mmm]Z" for 0 <= ms <= EJSON_MAX_ISO_DATE, as
 * gmtime_r and strftime give it (days to a civil date: H. Hinnant's
 * algorithm, exact for the Gregorian calendar). */
static void put_iso_date(struct buf *b, int64_t ms)
{
    int64_t secs = ms / 1000, days = secs / 86400;
    int msec = (int)(ms % 1000), sod = (int)(secs % 86400);
    int64_t z = days + 719468, era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int day = (int)(doy - (153 * mp + 2) / 5 + 1), month = (int)(mp < 10 ? mp + 3 : mp - 9);
    int year = (int)(yoe + era * 400) + (month <= 2);
    char t[24] = "0000-00-00T00:00:00.000";
    put_2digits(t, year / 100);
    put_2digits(t + 2, year % 100);
    put_2digits(t + 5, month);
    put_2digits(t + 8, day);
    put_2digits(t + 11, sod / 3600);
    put_2digits(t + 14, sod / 60 % 60);
    put_2digits(t + 17, sod % 60);
    if (msec) {
        t[20] = (char)('0' + msec / 100);
        put_2digits(t + 21, msec % 100);
        buf_append(b, t, 23);
    } else {
        buf_append(b, t, 19);
    }
    buf_append(b, "Z", 1);
}

static void put_base64(struct buf *b, const uint8_t *d, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!buf_reserve(b, (len + 2) / 3 * 4))
        return;
    char *o = b->ptr + b->len;
    size_t i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (uint32_t)d[i + 1] << 8 | d[i + 2];
        *o++ = tab[v >> 18];
        *o++ = tab[v >> 12 & 63];
        *o++ = tab[v >> 6 & 63];
        *o++ = tab[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < len ? (uint32_t)d[i + 1] << 8 : 0);
        *o++ = tab[v >> 18];
        *o++ = tab[v >> 12 & 63];
        *o++ = i + 1 < len ? tab[v >> 6 & 63] : '=';
        *o++ = '=';
    }
    b->len = (size_t)(o - b->ptr);
}

static bool put_elements(struct buf *b, bson_iter_t *it, bool array, int depth);

/* The value under the iterator; false: libbson writes the document. */
static bool put_value(struct buf *b, bson_iter_t *it, int depth)
{
    uint32_t len;
    switch (bson_iter_type(it)) {
    case BSON_TYPE_DOUBLE:
        put_double(b, bson_iter_double(it));
        return true;
    case BSON_TYPE_UTF8: {
        const char *s = bson_iter_utf8(it, &len);
        return put_string(b, s, len);
    }
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY: {
        bson_iter_t child;
        bson_t sub;
        const uint8_t *data = NULL;
        bool array = bson_iter_type(it) == BSON_TYPE_ARRAY;
        if (array)
            bson_iter_array(it, &len, &data);
        else
            bson_iter_document(it, &len, &data);
        /* bson_iter_recurse does not check the closing NUL; libbson's
         * writer does, and writes nothing for such a value. */
        if (depth >= EJSON_MAX_DEPTH || !data || !bson_init_static(&sub, data, len) ||
            !bson_iter_init(&child, &sub))
            return false;
        buf_append(b, array ? "[ " : "{ ", 2);
        if (!put_elements(b, &child, array, depth + 1))
            return false;
        buf_append(b, array ? " ]" : " }", 2);
        return true;
    }
    case BSON_TYPE_BINARY: {
        bson_subtype_t sub;
        const uint8_t *data = NULL;
        char hex[3];
        bson_iter_binary(it, &sub, &len, &data);
        PUT_LIT(b, "{ \"$binary\" : { \"base64\" : \"");
        put_base64(b, data, data ? len : 0);
        PUT_LIT(b, "\", \"subType\" : \"");
        snprintf(hex, sizeof hex, "%02x", (unsigned)sub & 0xff);
        buf_append(b, hex, 2);
        PUT_LIT(b, "\" } }");
        return true;
    }
    case BSON_TYPE_UNDEFINED:
        PUT_LIT(b, "{ \"$undefined\" : true }");
        return true;
    case BSON_TYPE_OID: {
        char hex[25];
        bson_oid_to_string(bson_iter_oid(it), hex);
        PUT_LIT(b, "{ \"$oid\" : \"");
        buf_append(b, hex, 24);
        PUT_LIT(b, "\" }");
        return true;
    }
    case BSON_TYPE_BOOL:
        if (bson_iter_bool(it))
            PUT_LIT(b, "true");
        else
            PUT_LIT(b, "false");
        return true;
    case BSON_TYPE_DATE_TIME: {
        int64_t ms = bson_iter_date_time(it);
        if (ms > EJSON_MAX_ISO_DATE)
            return false;
        if (ms < 0) {
            PUT_LIT(b, "{ \"$date\" : { \"$numberLong\" : \"");
            put_int(b, ms);
            PUT_LIT(b, "\" } }");
        } else {
            PUT_LIT(b, "{ \"$date\" : \"");
            put_iso_date(b, ms);
            PUT_LIT(b, "\" }");
        }
        return true;
    }
    case BSON_TYPE_NULL:
        PUT_LIT(b, "null");
        return true;
    case BSON_TYPE_REGEX: {
        const char *options = NULL;
        const char *pattern = bson_iter_regex(it, &options);
        PUT_LIT(b, "{ \"$regularExpression\" : { \"pattern\" : ");
        if (!put_string(b, pattern, strlen(pattern)))
            return false;
        PUT_LIT(b, ", \"options\" : \"");
        /* The options libbson knows, in its order; others are dropped. */
        for (const char *o = "ilmsux"; *o; o++)
            if (strchr(options, *o))
                buf_append(b, o, 1);
        PUT_LIT(b, "\" } }");
        return true;
    }
    case BSON_TYPE_CODE: {
        const char *code = bson_iter_code(it, &len);
        PUT_LIT(b, "{ \"$code\" : ");
        if (!put_string(b, code, len))
            return false;
        PUT_LIT(b, " }");
        return true;
    }
    case BSON_TYPE_SYMBOL: {
        const char *sym = bson_iter_symbol(it, &len);
        PUT_LIT(b, "{ \"$symbol\" : ");
        if (!put_string(b, sym, len))
            return false;
        PUT_LIT(b, " }");
        return true;
    }
    case BSON_TYPE_INT32:
        put_int(b, bson_iter_int32(it));
        return true;
    case BSON_TYPE_TIMESTAMP: {
        uint32_t t, i;
        bson_iter_timestamp(it, &t, &i);
        PUT_LIT(b, "{ \"$timestamp\" : { \"t\" : ");
        put_int(b, t);
        PUT_LIT(b, ", \"i\" : ");
        put_int(b, i);
        PUT_LIT(b, " } }");
        return true;
    }
    case BSON_TYPE_INT64:
        put_int(b, bson_iter_int64(it));
        return true;
    case BSON_TYPE_MAXKEY:
        PUT_LIT(b, "{ \"$maxKey\" : 1 }");
        return true;
    case BSON_TYPE_MINKEY:
        PUT_LIT(b, "{ \"$minKey\" : 1 }");
        return true;
    case BSON_TYPE_DECIMAL128: {
        bson_decimal128_t d;
        char s[BSON_DECIMAL128_STRING];
        if (!bson_iter_decimal128(it, &d))
            return false;
        bson_decimal128_to_string(&d, s);
        PUT_LIT(b, "{ \"$numberDecimal\" : \"");
        buf_append(b, s, strlen(s));
        PUT_LIT(b, "\" }");
        return true;
    }
    default: /* DBPointer, code with scope, anything newer */
        return false;
    }
}

/* Plain ASCII: valid UTF-8 as libbson checks every key, printed or not. */
static bool ascii_key(const char *k)
{
    for (; *k; k++)
        if ((unsigned char)*k >= 0x80)
            return false;
    return true;
}

/* The elements of a document or array, ", " between them. */
static bool put_elements(struct buf *b, bson_iter_t *it, bool array, int depth)
{
    bool first = true;
    while (bson_iter_next(it)) {
        const char *key = bson_iter_key(it);
        if (!first)
            buf_append(b, ", ", 2);
        first = false;
        if (array) {
            if (!ascii_key(key))
                return false;
        } else {
            if (!put_string(b, key, strlen(key)))
                return false;
            buf_append(b, " : ", 3);
        }
        if (!put_value(b, it, depth))
            return false;
    }
    /* Stopped by corrupt bytes or an unknown type rather than the end. */
    return it->err_off == 0;
}

bool ejson_append(struct buf *out, const bson_t *doc)
{
    size_t start = out->len;
    bson_iter_t it;
    if (out->failed)
        return false;
    if (doc->len == 5) {
        PUT_LIT(out, "{ }");
        return !out->failed;
    }
    if (bson_iter_init(&it, doc)) {
        buf_append(out, "{ ", 2);
        if (put_elements(out, &it, false, 0)) {
            buf_append(out, " }", 2);
            if (!out->failed)
                return true;
        }
    }
    if (out->failed)
        return false;
    /* Something unusual: libbson's own answer, whatever it is. */
    out->len = start;
    size_t len = 0;
    char *json = bson_as_relaxed_extended_json(doc, &len);
    if (!json)
        return false;
    buf_append(out, json, len);
    bson_free(json);
    return !out->failed;
}

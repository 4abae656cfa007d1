/*
 * jwt_json.c: just enough JSON (RFC 8259) to read a JWT header and claims,
 * strictly: one object, valid UTF-8, no trailing bytes, bounded nesting.
 * A token with text that another parser might read differently is refused
 * rather than interpreted.
 */
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tm_jwt.h"

#define JSON_DEPTH_MAX 16
#define JSON_KEY_MAX 64

struct jreader {
    const char *p, *end;
};

static void skip_ws(struct jreader *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static bool take(struct jreader *r, char c)
{
    skip_ws(r);
    if (r->p < r->end && *r->p == c) {
        r->p++;
        return true;
    }
    return false;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool hex4(const char *p, const char *end, uint32_t *out)
{
    if (end - p < 4)
        return false;
    *out = 0;
    for (int i = 0; i < 4; i++) {
        int d = hex_digit(p[i]);
        if (d < 0)
            return false;
        *out = *out << 4 | (uint32_t)d;
    }
    return true;
}

/* Length of the valid UTF-8 sequence at p (no overlong forms, no
 * surrogates, at most U+10FFFF), 0 when invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    size_t n = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
                           : p[0] >= 0xe0 && p[0] <= 0xef ? 3
                           : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    if (n == 0 || (size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] > 0x9f) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] > 0x8f))
        return 0;
    return n;
}

static size_t put_utf8(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* One escape after the backslash at *pp: its code point, surrogate pairs
 * joined; lone surrogates are invalid. */
static bool escape(const char **pp, const char *end, uint32_t *cp)
{
    const char *p = *pp + 1;
    if (p >= end)
        return false;
    static const char simple[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
    for (const char *s = simple; *s; s += 2)
        if (*p == s[0]) {
            *cp = (unsigned char)s[1];
            *pp = p + 1;
            return true;
        }
    if (*p != 'u' || !hex4(p + 1, end, cp))
        return false;
    p += 5;
    if (*cp >= 0xdc00 && *cp <= 0xdfff)
        return false;
    if (*cp >= 0xd800 && *cp <= 0xdbff) {
        uint32_t lo;
        if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !hex4(p + 2, end, &lo) || lo < 0xdc00 ||
            lo > 0xdfff)
            return false;
        *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
        p += 6;
    }
    *pp = p;
    return true;
}

/*
 * Walks the string whose opening quote is at r->p, leaving r->p after the
 * closing one. With out, decodes into it (cap bytes with the NUL); *fits is
 * false when it did not fit (the prefix that fitted is kept, NUL-terminated),
 * *plain false when it holds a NUL or a control character.
 */
static bool walk_string(struct jreader *r, char *out, size_t cap, bool *fits, bool *plain)
{
    const char *p = r->p + 1;
    size_t o = 0;
    *fits = *plain = true;
    while (p < r->end && *p != '"') {
        char buf[4];
        size_t n;
        unsigned char c = (unsigned char)*p;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            uint32_t cp;
            if (!escape(&p, r->end, &cp))
                return false;
            if (cp < 0x20 || cp == 0x7f)
                *plain = false;
            n = put_utf8(cp, buf);
        } else {
            n = utf8_len((const unsigned char *)p, (const unsigned char *)r->end);
            if (n == 0)
                return false;
            if (c == 0x7f)
                *plain = false;
            memcpy(buf, p, n);
            p += n;
        }
        if (out && *fits && o + n < cap) {
            memcpy(out + o, buf, n);
            o += n;
        } else {
            *fits = false;
        }
    }
    if (p >= r->end)
        return false;
    if (out)
        out[o] = '\0';
    r->p = p + 1;
    return true;
}

static bool scan_digits(struct jreader *r)
{
    const char *start = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return r->p > start;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool scan_number(struct jreader *r)
{
    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p < r->end && *r->p == '0')
        r->p++;
    else if (!scan_digits(r))
        return false;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (!scan_digits(r))
            return false;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (!scan_digits(r))
            return false;
    }
    return true;
}

static bool scan_literal(struct jreader *r)
{
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(r->end - r->p) >= n && memcmp(r->p, words[i], n) == 0) {
            r->p += n;
            return true;
        }
    }
    return false;
}

static bool scan_value(struct jreader *r, int depth, struct tmjwt_jval *v);

/* The members or elements after the opening bracket, up to the closing one. */
static bool scan_container(struct jreader *r, int depth, char close)
{
    r->p++;
    if (take(r, close))
        return true;
    do {
        struct tmjwt_jval v;
        if (close == '}') {
            bool fits, plain;
            skip_ws(r);
            if (r->p >= r->end || *r->p != '"' || !walk_string(r, NULL, 0, &fits, &plain) ||
                !take(r, ':'))
                return false;
        }
        if (!scan_value(r, depth + 1, &v))
            return false;
    } while (take(r, ','));
    return take(r, close);
}

/* One value of any type, checked; v gets its type and its text. */
static bool scan_value(struct jreader *r, int depth, struct tmjwt_jval *v)
{
    bool fits, plain, ok;
    if (depth > JSON_DEPTH_MAX)
        return false;
    skip_ws(r);
    if (r->p >= r->end)
        return false;
    v->text = r->p;
    switch (*r->p) {
    case '"':
        v->type = TMJWT_JSTRING;
        ok = walk_string(r, NULL, 0, &fits, &plain);
        break;
    case '{':
        v->type = TMJWT_JOBJECT;
        ok = scan_container(r, depth, '}');
        break;
    case '[':
        v->type = TMJWT_JARRAY;
        ok = scan_container(r, depth, ']');
        break;
    case '-':
    case '0' ... '9':
        v->type = TMJWT_JNUMBER;
        ok = scan_number(r);
        break;
    default:
        v->type = TMJWT_JLITERAL;
        ok = scan_literal(r);
    }
    v->len = (size_t)(r->p - v->text);
    return ok;
}

bool tmjwt_json_object(const char *text, size_t len, tmjwt_member_fn member, void *ctx)
{
    struct jreader r = {text, text + len};
    if (!take(&r, '{'))
        return false;
    if (!take(&r, '}')) {
        do {
            char key[JSON_KEY_MAX];
            bool fits, plain;
            struct tmjwt_jval v;
            skip_ws(&r);
            if (r.p >= r.end || *r.p != '"' || !walk_string(&r, key, sizeof key, &fits, &plain) ||
                !plain || !take(&r, ':') || !scan_value(&r, 1, &v) || !member(ctx, key, &v))
                return false;
        } while (take(&r, ','));
        if (!take(&r, '}'))
            return false;
    }
    skip_ws(&r);
    return r.p == r.end;
}

bool tmjwt_json_string(const struct tmjwt_jval *val, char *out, size_t cap)
{
    struct jreader r = {val->text, val->text + val->len};
    bool fits, plain;
    return val->type == TMJWT_JSTRING && walk_string(&r, out, cap, &fits, &plain) && fits && plain;
}

/* strtod in the C locale, whatever locale the host process chose. */
static locale_t c_locale;
static void make_c_locale(void) { c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0); }

bool tmjwt_json_number(const struct tmjwt_jval *val, double *out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    char buf[64];
    if (val->type != TMJWT_JNUMBER || val->len >= sizeof buf)
        return false;
    pthread_once(&once, make_c_locale);
    if (!c_locale)
        return false;
    memcpy(buf, val->text, val->len);
    buf[val->len] = '\0';
    *out = strtod_l(buf, NULL, c_locale);
    return isfinite(*out);
}

bool tmjwt_json_array(const struct tmjwt_jval *val, tmjwt_element_fn element, void *ctx)
{
    if (val->type != TMJWT_JARRAY)
        return false;
    /* Already checked by scan_value: only the walk is left. */
    struct jreader r = {val->text + 1, val->text + val->len};
    if (take(&r, ']'))
        return true;
    do {
        struct tmjwt_jval v;
        if (!scan_value(&r, 1, &v) || !element(ctx, &v))
            return false;
    } while (take(&r, ','));
    return take(&r, ']');
}

void tmjwt_json_quote(const char *s, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char)*p;
        } else if (*p < 0x20) {
            memcpy(out + o, "\\u00", 4);
            out[o + 4] = hex[*p >> 4];
            out[o + 5] = hex[*p & 15];
            o += 6;
        } else {
            out[o++] = (char)*p;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

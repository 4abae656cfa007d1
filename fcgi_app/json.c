#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

static bool bad_request(struct restfcgi_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static bool bad_request(struct restfcgi_error *err, const char *fmt, ...)
{
    err->domain = RESTFCGI_ERR_REQUEST;
    err->code = 400;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

/* A strict JSON syntax check (RFC 8259) before libbson converts the text:
 * libbson accepts bare NaN/Infinity and ignores text after the first value,
 * and neither may pass silently. Iterative, so depth costs no stack. */
struct scan {
    const char *start, *p, *end;
    int64_t depth, max_depth;
    const char *what;
    struct restfcgi_error *err;
};

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool fail_at(struct scan *s, const char *why)
{
    return bad_request(s->err, "%s is not valid JSON: %s at offset %td", s->what, why,
                       s->p - s->start);
}

static bool scan_string(struct scan *s)
{
    s->p++; /* the opening quote */
    while (s->p < s->end) {
        unsigned char c = (unsigned char)*s->p;
        if (c == '"') {
            s->p++;
            return true;
        }
        if (c < 0x20)
            return fail_at(s, "control character in a string");
        if (c == '\\') {
            s->p++;
            if (s->p >= s->end)
                break;
            char e = *s->p;
            if (e == 'u') {
                for (int i = 1; i <= 4; i++) {
                    char h = s->p + i < s->end ? s->p[i] : 0;
                    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
                        return fail_at(s, "bad \\u escape");
                }
                s->p += 4;
            } else if (!strchr("\"\\/bfnrt", e) || e == '\0') {
                return fail_at(s, "bad escape");
            }
        }
        s->p++;
    }
    return fail_at(s, "unterminated string");
}

static bool scan_number(struct scan *s)
{
    const char *p = s->p;
    if (p < s->end && *p == '-')
        p++;
    if (p >= s->end || *p < '0' || *p > '9')
        return fail_at(s, "unexpected character");
    if (*p == '0')
        p++;
    else
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    if (p < s->end && *p == '.') {
        p++;
        if (p >= s->end || *p < '0' || *p > '9')
            return fail_at(s, "bad number");
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < s->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= s->end || *p < '0' || *p > '9')
            return fail_at(s, "bad number");
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    s->p = p;
    return true;
}

static bool scan_word(struct scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fail_at(s, "unexpected character");
    s->p += n;
    return true;
}

/* One JSON value; containers tracked on an explicit stack of '{'/'['. */
static bool scan_value(struct scan *s)
{
    char stack[1024];
    size_t top = 0;
    bool need_value = true;
    for (;;) {
        skip_ws(s);
        if (need_value) {
            if (s->p >= s->end)
                return fail_at(s, "unexpected end");
            char c = *s->p;
            if (c == '{' || c == '[') {
                if (++s->depth > s->max_depth)
                    return bad_request(s->err, "%s nests deeper than the limit of %lld", s->what,
                                       (long long)s->max_depth);
                if (top == sizeof stack)
                    return fail_at(s, "nesting too deep");
                stack[top++] = c;
                s->p++;
                skip_ws(s);
                if (s->p < s->end && *s->p == (c == '{' ? '}' : ']')) {
                    s->p++;
                    top--;
                    s->depth--;
                    need_value = false;
                    goto after_value;
                }
                if (c == '{') {
                    if (s->p >= s->end || *s->p != '"')
                        return fail_at(s, "expected a key");
                    if (!scan_string(s))
                        return false;
                    skip_ws(s);
                    if (s->p >= s->end || *s->p != ':')
                        return fail_at(s, "expected ':'");
                    s->p++;
                }
                continue;
            }
            bool ok = c == '"'   ? scan_string(s)
                      : c == 't' ? scan_word(s, "true")
                      : c == 'f' ? scan_word(s, "false")
                      : c == 'n' ? scan_word(s, "null")
                                 : scan_number(s);
            if (!ok)
                return false;
            need_value = false;
        }
    after_value:
        skip_ws(s);
        if (top == 0)
            return true;
        if (s->p >= s->end)
            return fail_at(s, "unexpected end");
        char open = stack[top - 1];
        char c = *s->p;
        if (c == ',') {
            s->p++;
            if (open == '{') {
                skip_ws(s);
                if (s->p >= s->end || *s->p != '"')
                    return fail_at(s, "expected a key");
                if (!scan_string(s))
                    return false;
                skip_ws(s);
                if (s->p >= s->end || *s->p != ':')
                    return fail_at(s, "expected ':'");
                s->p++;
            }
            need_value = true;
            continue;
        }
        if (c == (open == '{' ? '}' : ']')) {
            s->p++;
            top--;
            s->depth--;
            continue;
        }
        return fail_at(s, "expected ',' or a closing bracket");
    }
}

bool json_parse(struct sv text, int64_t max_depth, bool allow_array, const char *what,
                bson_t *out, bool *is_array, struct restfcgi_error *err)
{
    bson_init(out);
    if (is_array)
        *is_array = false;
    if (!bson_utf8_validate(text.ptr, text.len, false))
        return bad_request(err, "%s is not valid UTF-8", what);
    struct scan s = {text.ptr, text.ptr, text.ptr + text.len, 0, max_depth, what, err};
    skip_ws(&s);
    char first = s.p < s.end ? *s.p : 0;
    if (first != '{' && !(allow_array && first == '['))
        return bad_request(err, "%s must be a JSON %s", what,
                           allow_array ? "object or array" : "object");
    if (!scan_value(&s))
        return false;
    skip_ws(&s);
    if (s.p != s.end)
        return fail_at(&s, "text after the value");
    bson_error_t berr;
    bson_destroy(out);
    /* libbson reads a top-level array as a document with keys "0", "1", ... */
    if (!bson_init_from_json(out, text.ptr, (ssize_t)text.len, &berr)) {
        bson_init(out);
        return bad_request(err, "%s is not valid Extended JSON: %s", what, berr.message);
    }
    if (is_array)
        *is_array = first == '[';
    return true;
}

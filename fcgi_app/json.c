#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_error.h"
#include "json.h"

/* A strict JSON syntax check (RFC 8259) before libbson converts the text:
 * libbson accepts bare NaN/Infinity and ignores text after the first value,
 * and neither may pass silently. Iterative, so depth costs no stack. */
struct scan {
    const char *start, *p, *end;
    int64_t depth, max_depth;
    const char *what;
    struct restfcgi_error *err;
    /* "$type" keys (offset of the key, offset of its object) and objects
     * holding a "$binary" key, for the query-operator fix-up below. */
    struct type_key {
        size_t at, obj;
    } *types;
    size_t ntypes;
    size_t *binary_obj, nbinary;
};

/* Notes the key just scanned (from k to s->p) if it is "$type" or "$binary". */
static void note_key(struct scan *s, const char *k, size_t obj)
{
    size_t len = (size_t)(s->p - k);
    if (len == 7 && !memcmp(k, "\"$type\"", 7)) {
        s->types = bson_realloc(s->types, (s->ntypes + 1) * sizeof *s->types);
        s->types[s->ntypes++] = (struct type_key){(size_t)(k - s->start), obj};
    } else if (len == 9 && !memcmp(k, "\"$binary\"", 9)) {
        s->binary_obj = bson_realloc(s->binary_obj, (s->nbinary + 1) * sizeof *s->binary_obj);
        s->binary_obj[s->nbinary++] = obj;
    }
}

static void skip_ws(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static bool fail_at(struct scan *s, const char *why)
{
    return client_error(s->err, 400, "%s is not valid JSON: %s at offset %td", s->what, why,
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

/* The string value of an Extended JSON wrapper key, checked here because
 * libbson 1.23 reads a malformed one silently: {"$oid": "zz..."} as the zero
 * ObjectId, a bad "$numberDecimal" as NaN, "$numberDouble": "1x" as 1. */
static bool wrapper_value_ok(const char *key, size_t klen, const char *v, size_t n,
                             bool in_binary)
{
    /* {"$binary": {"base64": ..., "subType": "1ff"}} would be subtype 0x1f. */
    if (in_binary && klen == 9 && !memcmp(key, "\"subType\"", 9)) {
        for (size_t i = 0; i < n; i++)
            if (!v[i] || !strchr("0123456789abcdefABCDEF", v[i]))
                return false;
        return n >= 1 && n <= 2;
    }
    /* Unknown regular expression flags would be dropped. */
    if (klen == 10 && !memcmp(key, "\"$options\"", 10)) {
        for (size_t i = 0; i < n; i++)
            if (!v[i] || !strchr("imxslu", v[i]))
                return false;
        return true;
    }
    if (klen == 6 && !memcmp(key, "\"$oid\"", 6)) {
        if (n != 24)
            return false;
        for (size_t i = 0; i < n; i++)
            if (!v[i] || !strchr("0123456789abcdefABCDEF", v[i]))
                return false;
        return true;
    }
    if (klen == 16 && !memcmp(key, "\"$numberDecimal\"", 16)) {
        /* A terminated copy: libbson's "NaN"/"Inf" check reads past len. */
        char text[64];
        bson_decimal128_t d;
        if (n >= sizeof text)
            return false;
        memcpy(text, v, n);
        text[n] = '\0';
        return bson_decimal128_from_string(text, &d);
    }
    if (klen == 15 && !memcmp(key, "\"$numberDouble\"", 15)) {
        if ((n == 8 && !memcmp(v, "Infinity", 8)) || (n == 9 && !memcmp(v, "-Infinity", 9)) ||
            (n == 3 && !memcmp(v, "NaN", 3)))
            return true;
        /* A JSON number, nothing else (no hex, no "inf", no trailing text). */
        size_t i = n && v[0] == '-', digits = 0;
        while (i < n && v[i] >= '0' && v[i] <= '9')
            i++, digits++;
        if (i < n && v[i] == '.')
            for (i++; i < n && v[i] >= '0' && v[i] <= '9'; i++)
                digits++;
        if (digits && i < n && (v[i] == 'e' || v[i] == 'E')) {
            i += i + 1 < n && (v[i + 1] == '+' || v[i + 1] == '-') ? 2 : 1;
            if (i >= n || v[i] < '0' || v[i] > '9')
                return false;
            while (i < n && v[i] >= '0' && v[i] <= '9')
                i++;
        }
        return digits && i == n;
    }
    return true;
}

/* One JSON value; containers tracked on an explicit stack of '{'/'['. */
static bool scan_value(struct scan *s)
{
    char stack[1024];
    size_t obj[1024]; /* offset of each open container */
    size_t top = 0;
    bool need_value = true;
    bool binary[1024]; /* the container is the value of a "$binary" key */
    const char *key = NULL; /* the key of the value being scanned, quotes included */
    size_t klen = 0;
    for (;;) {
        skip_ws(s);
        if (need_value) {
            if (s->p >= s->end)
                return fail_at(s, "unexpected end");
            char c = *s->p;
            if (c == '{' || c == '[') {
                if (++s->depth > s->max_depth)
                    return client_error(s->err, 400, "%s nests deeper than the limit of %lld", s->what,
                                       (long long)s->max_depth);
                if (top == sizeof stack)
                    return fail_at(s, "nesting too deep");
                binary[top] = key && klen == 9 && !memcmp(key, "\"$binary\"", 9);
                key = NULL;
                obj[top] = (size_t)(s->p - s->start);
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
                    const char *k = s->p;
                    if (!scan_string(s))
                        return false;
                    note_key(s, k, obj[top - 1]);
                    key = k;
                    klen = (size_t)(s->p - k);
                    skip_ws(s);
                    if (s->p >= s->end || *s->p != ':')
                        return fail_at(s, "expected ':'");
                    s->p++;
                }
                continue;
            }
            const char *v = s->p + 1;
            bool ok = c == '"'   ? scan_string(s)
                      : c == 't' ? scan_word(s, "true")
                      : c == 'f' ? scan_word(s, "false")
                      : c == 'n' ? scan_word(s, "null")
                                 : scan_number(s);
            if (!ok)
                return false;
            if (c == '"' && key && !wrapper_value_ok(key, klen, v, (size_t)(s->p - 1 - v),
                                                    top > 0 && binary[top - 1]))
                return client_error(s->err, 400, "%s holds an invalid %.*s value", s->what,
                                    (int)klen, key);
            key = NULL;
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
                const char *k = s->p;
                if (!scan_string(s))
                    return false;
                note_key(s, k, obj[top - 1]);
                key = k;
                klen = (size_t)(s->p - k);
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

/* libbson reads {"$type": ...} as the legacy Extended JSON binary form
 * ({"$binary": "...", "$type": "00"}) and refuses the query and update
 * operator ({"$type": "date"}, {"$type": 2}). So every "$type" key outside
 * an object with "$binary" is renamed to TYPE_STANDIN before libbson reads
 * the text, and renamed back after. */
#define TYPE_STANDIN "$__restfcgi_type_operator"

static bool type_is_operator(const struct scan *s, size_t i)
{
    for (size_t j = 0; j < s->nbinary; j++)
        if (s->binary_obj[j] == s->types[i].obj)
            return false;
    return true;
}

/* The text with the operator "$type" keys renamed; NULL when there are none. */
static char *hide_type_operators(const struct scan *s, size_t *len)
{
    size_t n = 0;
    for (size_t i = 0; i < s->ntypes; i++)
        n += type_is_operator(s, i);
    if (!n)
        return NULL;
    size_t total = (size_t)(s->end - s->start), standin = strlen("\"" TYPE_STANDIN "\"");
    char *out = bson_malloc(total + n * standin + 1), *o = out;
    size_t from = 0;
    for (size_t i = 0; i < s->ntypes; i++) {
        if (!type_is_operator(s, i))
            continue;
        memcpy(o, s->start + from, s->types[i].at - from);
        o += s->types[i].at - from;
        memcpy(o, "\"" TYPE_STANDIN "\"", standin);
        o += standin;
        from = s->types[i].at + 7;
    }
    memcpy(o, s->start + from, total - from);
    o += total - from;
    *o = '\0';
    *len = (size_t)(o - out);
    return out;
}

static void restore_type_operators(const bson_t *in, bson_t *out)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, in))
        return;
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (!strcmp(key, TYPE_STANDIN))
            key = "$type";
        if (BSON_ITER_HOLDS_DOCUMENT(&it) || BSON_ITER_HOLDS_ARRAY(&it)) {
            const uint8_t *data;
            uint32_t len;
            bson_t sub, child;
            if (BSON_ITER_HOLDS_DOCUMENT(&it))
                bson_iter_document(&it, &len, &data);
            else
                bson_iter_array(&it, &len, &data);
            if (!bson_init_static(&sub, data, len))
                continue;
            if (BSON_ITER_HOLDS_DOCUMENT(&it)) {
                bson_append_document_begin(out, key, -1, &child);
                restore_type_operators(&sub, &child);
                bson_append_document_end(out, &child);
            } else {
                bson_append_array_begin(out, key, -1, &child);
                restore_type_operators(&sub, &child);
                bson_append_array_end(out, &child);
            }
        } else {
            bson_append_value(out, key, -1, bson_iter_value(&it));
        }
    }
}

static void scan_free(struct scan *s)
{
    bson_free(s->types);
    bson_free(s->binary_obj);
}

bool json_parse(struct sv text, int64_t max_depth, bool allow_array, const char *what,
                bson_t *out, bool *is_array, struct restfcgi_error *err)
{
    bson_init(out);
    if (is_array)
        *is_array = false;
    if (!bson_utf8_validate(text.ptr, text.len, false))
        return client_error(err, 400, "%s is not valid UTF-8", what);
    struct scan s = {text.ptr, text.ptr, text.ptr + text.len, 0, max_depth, what, err, NULL, 0, NULL, 0};
    skip_ws(&s);
    char first = s.p < s.end ? *s.p : 0;
    if (first != '{' && !(allow_array && first == '['))
        return client_error(err, 400, "%s must be a JSON %s", what,
                           allow_array ? "object or array" : "object");
    bool ok = scan_value(&s);
    skip_ws(&s);
    if (ok && s.p != s.end)
        ok = fail_at(&s, "text after the value");
    size_t hidden_len = 0;
    char *hidden = ok ? hide_type_operators(&s, &hidden_len) : NULL;
    scan_free(&s);
    if (!ok)
        return false;
    bson_error_t berr;
    bson_destroy(out);
    /* libbson reads a top-level array as a document with keys "0", "1", ... */
    ok = hidden ? bson_init_from_json(out, hidden, (ssize_t)hidden_len, &berr)
                : bson_init_from_json(out, text.ptr, (ssize_t)text.len, &berr);
    bson_free(hidden);
    if (!ok) {
        bson_init(out);
        return client_error(err, 400, "%s is not valid Extended JSON: %s", what, berr.message);
    }
    if (hidden) {
        bson_t restored = BSON_INITIALIZER;
        restore_type_operators(out, &restored);
        bson_destroy(out);
        bson_steal(out, &restored);
    }
    if (is_array)
        *is_array = first == '[';
    return true;
}

bool json_read_file(const char *path, size_t max_bytes, int64_t max_depth, bson_t *out,
                    struct restfcgi_error *err)
{
    bson_init(out);
    FILE *f = fopen(path, "r");
    char *text = f ? malloc(max_bytes + 1) : NULL;
    size_t n = text ? fread(text, 1, max_bytes + 1, f) : 0;
    if (f)
        fclose(f);
    bool ok = text && n <= max_bytes;
    if (ok)
        ok = json_parse((struct sv){text, n}, max_depth, true, "the file", out, NULL, err);
    else if (!f || !text)
        client_error(err, 0, "cannot read the file");
    else
        client_error(err, 0, "the file is larger than %zu bytes", max_bytes);
    free(text);
    if (!ok) {
        char msg[sizeof err->message];
        snprintf(msg, sizeof msg, "%s", err->message);
        err->domain = RESTFCGI_ERR_CONFIG;
        err->code = 0;
        snprintf(err->message, sizeof err->message, "%.100s:0: %.140s", path, msg);
    }
    return ok;
}

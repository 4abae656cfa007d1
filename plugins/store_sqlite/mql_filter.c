/*
 * mql_filter.c: MongoDB query filters compiled into a small tree and
 * matched against bson documents (see mql.h for the subset).
 *
 * A field condition is a path and a list of operators, all of which must
 * hold. Each operator is "positive" (some value reachable at the path
 * satisfies it) or its negation ($ne, $nin, $not, $exists: false), which is
 * how MongoDB gives {a: {$ne: 1}} its meaning over arrays: no element is 1.
 * Regular expressions run on POSIX extended ones (glibc), translated from
 * PCRE where the translation is exact and refused elsewhere (see below).
 */
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mql.h"

#define MAX_DEPTH 64 /* nesting of $and/$or/$nor/$elemMatch/$not */

enum op_kind {
    OP_EQ,
    OP_GT,
    OP_GTE,
    OP_LT,
    OP_LTE,
    OP_IN,
    OP_EXISTS,
    OP_TYPE,
    OP_REGEX,
    OP_SIZE,
    OP_ELEM_OPS, /* $elemMatch: {$gt: 1, ...}: conditions on each element */
    OP_ELEM_DOC, /* $elemMatch: {field: ...}: a query on document elements */
    OP_ALLOF,    /* the operators of a $not */
    OP_NEVER,    /* $all: [] */
};

struct node;

struct op {
    enum op_kind kind;
    bool negate;
    bson_value_t v; /* operand: points into the filter's copy */
    bson_value_t *vals; /* $in */
    size_t nvals;
    struct mre **res; /* $in's regular expressions; one for OP_REGEX */
    size_t nres;
    int64_t size;
    uint8_t types[256]; /* $type: the bson types wanted */
    struct op *ops;     /* OP_ELEM_OPS, OP_ALLOF */
    size_t nops;
    struct node *sub; /* OP_ELEM_DOC */
};

/* A regular expression: compiled, and as given (a stored regex equal to it
 * matches too, as in MongoDB). */
struct mre {
    regex_t re;
    char *pattern, *options;
};

enum node_kind { N_AND, N_OR, N_NOR, N_FIELD };

struct node {
    enum node_kind kind;
    struct node *kids;
    size_t nkids;
    struct mql_path path;
    struct op *ops;
    size_t nops;
};

struct mql_filter {
    bson_t *spec;
    struct node root;
};

__attribute__((format(printf, 3, 4))) static bool fail(struct restfcgi_error *err, int code,
                                                       const char *fmt, ...)
{
    err->domain = RESTFCGI_ERR_REQUEST;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

/* ---- freeing ---- */

static void node_clear(struct node *n);

static void op_clear(struct op *o)
{
    bson_free(o->vals);
    for (size_t i = 0; i < o->nres; i++) {
        regfree(&o->res[i]->re);
        bson_free(o->res[i]->pattern);
        bson_free(o->res[i]->options);
        bson_free(o->res[i]);
    }
    bson_free(o->res);
    for (size_t i = 0; i < o->nops; i++)
        op_clear(&o->ops[i]);
    bson_free(o->ops);
    if (o->sub) {
        node_clear(o->sub);
        bson_free(o->sub);
    }
}

static void node_clear(struct node *n)
{
    for (size_t i = 0; i < n->nkids; i++)
        node_clear(&n->kids[i]);
    bson_free(n->kids);
    for (size_t i = 0; i < n->nops; i++)
        op_clear(&n->ops[i]);
    bson_free(n->ops);
    mql_path_free(&n->path);
}

void mql_filter_free(mql_filter *f)
{
    if (!f)
        return;
    node_clear(&f->root);
    bson_destroy(f->spec);
    bson_free(f);
}

/* ---- compiling ---- */

static struct op *op_add(struct op **ops, size_t *n, enum op_kind kind)
{
    *ops = bson_realloc(*ops, (*n + 1) * sizeof **ops);
    struct op *o = &(*ops)[(*n)++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    return o;
}

static bool value_doc(const bson_value_t *v, bson_t *out)
{
    return (v->value_type == BSON_TYPE_DOCUMENT || v->value_type == BSON_TYPE_ARRAY) &&
           bson_init_static(out, v->value.v_doc.data, v->value.v_doc.data_len);
}

/* True when v is a document whose first field is an operator ($gt, ...). */
static bool is_operator_doc(const bson_value_t *v)
{
    bson_t d;
    bson_iter_t it;
    return v->value_type == BSON_TYPE_DOCUMENT && value_doc(v, &d) && bson_iter_init(&it, &d) &&
           bson_iter_next(&it) && bson_iter_key(&it)[0] == '$';
}

/* ---- regular expressions ----
 *
 * MongoDB's are PCRE (UTF-8 mode); this store runs them on glibc's POSIX
 * extended expressions in the C locale (bytes). pcre_to_ere translates what
 * it can map exactly and refuses the rest (400), so that an answer never
 * silently differs:
 *  - escapes \d \D \w \W \s \S (also in brackets, where negated ones are
 *    refused), \t \n \r \f \e \a \xHH \x{H...}, \b \B, \A and \z (without m),
 *    and a backslash before any other non-alphanumeric character (a
 *    literal); other escapes (backreferences, \Q, \p, \v, \h, \Z, ...) are
 *    refused;
 *  - bracket expressions are rebuilt from their members (so ] \ [ ^ - are
 *    literals as PCRE reads them); only ASCII members;
 *  - '.' and negated classes match one UTF-8 character, '.' not a newline
 *    unless s; with m (REG_NEWLINE) a negated class still matches a newline
 *    it does not name, as in PCRE;
 *  - without m, '$' also matches before a final newline (allowed where
 *    nothing can follow it) and '^' only where nothing can precede it
 *    (glibc's would match after any newline the pattern consumed);
 *  - lazy quantifiers are kept as greedy ones (the same strings match),
 *    possessive ones are refused, as are (? groups other than (?: and {,n};
 *  - a non-ASCII character is one atom (a quantifier repeats all of it);
 *    with i only ASCII patterns (glibc folds ASCII only).
 * Known difference left: with m, glibc's ^ also matches after a newline
 * that ends the subject (PCRE's does not). */

struct rbuf {
    char *p;
    size_t len, cap;
};

static void rb_add(struct rbuf *b, const void *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        while (b->len + n + 1 > b->cap)
            b->cap = b->cap ? 2 * b->cap : 64;
        b->p = bson_realloc(b->p, b->cap);
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void rb_str(struct rbuf *b, const char *s) { rb_add(b, s, strlen(s)); }

static void rb_ch(struct rbuf *b, unsigned char c) { rb_add(b, &c, 1); }

/* A literal byte outside brackets. */
static void rb_lit(struct rbuf *b, unsigned char c)
{
    if (strchr("^.[]$()|*+?{}\\", c))
        rb_ch(b, '\\');
    rb_ch(b, c);
}

/* A code point as one atom: ASCII literal, or its UTF-8 bytes grouped. */
static void rb_codepoint(struct rbuf *b, uint32_t cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        rb_lit(b, (unsigned char)cp);
        return;
    }
    if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | cp >> 6);
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | cp >> 12);
        u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | cp >> 18);
        u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    rb_ch(b, '(');
    rb_add(b, u, n);
    rb_ch(b, ')');
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* \xHH (up to two digits) or \x{H...} at re + *i (after the x). */
static bool parse_hex(const char *re, size_t *i, uint32_t *out)
{
    uint32_t v = 0;
    size_t j = *i;
    if (re[j] == '{') {
        size_t k = j + 1;
        for (; hexval(re[k]) >= 0 && k - j <= 6; k++)
            v = v * 16 + (uint32_t)hexval(re[k]);
        if (re[k] != '}' || k == j + 1 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
            return false;
        *i = k + 1;
    } else {
        for (int n = 0; n < 2 && hexval(re[j]) >= 0; n++, j++)
            v = v * 16 + (uint32_t)hexval(re[j]);
        *i = j;
    }
    *out = v;
    return true;
}

/* A bracket expression being rebuilt: ASCII members and named classes. */
struct rclass {
    bool neg;
    bool bytes[128];
    char names[128]; /* "[:alpha:]..." */
};

static bool class_name(struct rclass *c, const char *name, size_t len)
{
    static const char *const known[] = {"alnum", "alpha", "blank", "cntrl", "digit", "graph",
                                        "lower", "print", "punct", "space", "upper", "xdigit"};
    if (len == 4 && !memcmp(name, "word", 4)) {
        c->bytes['_'] = true;
        name = "alnum";
        len = 5;
    } else if (len == 5 && !memcmp(name, "ascii", 5)) {
        for (int b = 1; b < 128; b++)
            c->bytes[b] = true;
        return true;
    }
    for (size_t k = 0; k < sizeof known / sizeof *known; k++) {
        if (strlen(known[k]) == len && !memcmp(known[k], name, len)) {
            if (strlen(c->names) + len + 5 >= sizeof c->names)
                return false;
            strcat(c->names, "[:");
            strncat(c->names, name, len);
            strcat(c->names, ":]");
            return true;
        }
    }
    return false;
}

/* One member of a PCRE class at re + *i: a byte (*byte >= 0) or a named
 * class (*byte = -1). False: not mappable. */
static bool class_atom(struct rclass *c, const char *re, size_t *i, int *byte)
{
    unsigned char ch = (unsigned char)re[*i];
    *byte = -1;
    if (ch == '[' && re[*i + 1] == ':') {
        const char *end = strstr(re + *i + 2, ":]");
        if (!end || re[*i + 2] == '^')
            return false;
        bool ok = class_name(c, re + *i + 2, (size_t)(end - (re + *i + 2)));
        *i = (size_t)(end - re) + 2;
        return ok;
    }
    if (ch >= 0x80 || ch == 0)
        return false;
    if (ch != '\\') {
        *byte = ch;
        (*i)++;
        return true;
    }
    char d = re[*i + 1];
    *i += 2;
    switch (d) {
    case 'd': return class_name(c, "digit", 5);
    case 'w': return class_name(c, "word", 4);
    case 's': return class_name(c, "space", 5);
    case 't': *byte = '\t'; return true;
    case 'n': *byte = '\n'; return true;
    case 'r': *byte = '\r'; return true;
    case 'f': *byte = '\f'; return true;
    case 'e': *byte = 0x1b; return true;
    case 'a': *byte = 0x07; return true;
    case 'b': *byte = 0x08; return true;
    case 'x': {
        uint32_t v;
        if (!parse_hex(re, i, &v) || v == 0 || v >= 0x80)
            return false;
        *byte = (int)v;
        return true;
    }
    default:
        if (!d || (d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z') ||
            (unsigned char)d >= 0x80)
            return false;
        *byte = (unsigned char)d;
        return true;
    }
}

/* Emits the members of c as an ERE bracket list (without the brackets),
 * with extra (raw bytes: a range) before the literals that must come last. */
static void class_emit(struct rbuf *b, const struct rclass *c, const char *extra)
{
    if (c->bytes[']'])
        rb_ch(b, ']');
    rb_str(b, c->names);
    for (int x = 1; x < 128; x++) {
        if (!c->bytes[x] || strchr("]^-[", x))
            continue;
        int y = x;
        while (y + 1 < 128 && c->bytes[y + 1] && !strchr("]^-[", y + 1))
            y++;
        rb_ch(b, (unsigned char)x);
        if (y > x + 1)
            rb_ch(b, '-');
        if (y > x)
            rb_ch(b, (unsigned char)y);
        x = y;
    }
    rb_str(b, extra);
    if (c->bytes['['])
        rb_ch(b, '[');
    if (c->bytes['^'])
        rb_ch(b, '^');
    if (c->bytes['-'])
        rb_ch(b, '-');
}

/* A class as one atom: a bracket for a positive one (a lone '^' as a
 * literal); a negated one matches one UTF-8 character it does not name. */
static void class_atom_emit(struct rbuf *b, const struct rclass *c, bool multiline)
{
    bool only_caret = c->bytes['^'] && !c->names[0];
    for (int x = 1; x < 128 && only_caret; x++)
        only_caret = x == '^' || !c->bytes[x];
    if (!c->neg) {
        if (only_caret) {
            rb_str(b, "\\^");
            return;
        }
        rb_ch(b, '[');
        class_emit(b, c, "");
        rb_ch(b, ']');
        return;
    }
    bool newline = c->bytes['\n'] || strstr(c->names, "[:space:]") || strstr(c->names, "[:cntrl:]");
    rb_str(b, "([^");
    class_emit(b, c, "\x80-\xbf");
    rb_str(b, "][\x80-\xbf]*");
    if (multiline && !newline)
        rb_str(b, "|\n");
    rb_ch(b, ')');
}

/* PCRE class at re + *i (at its '['). */
static bool class_parse(const char *re, size_t *i, struct rclass *c)
{
    memset(c, 0, sizeof *c);
    size_t j = *i + 1;
    if (re[j] == '^') {
        c->neg = true;
        j++;
    }
    for (bool first = true;; first = false) {
        if (!re[j])
            return false;
        if (re[j] == ']' && !first)
            break;
        int lo, hi;
        if (!class_atom(c, re, &j, &lo))
            return false;
        if (lo >= 0 && re[j] == '-' && re[j + 1] && re[j + 1] != ']') {
            j++;
            if (!class_atom(c, re, &j, &hi) || hi < 0 || hi < lo)
                return false;
            for (int x = lo; x <= hi; x++)
                c->bytes[x] = true;
        } else if (lo >= 0) {
            c->bytes[lo] = true;
        }
    }
    *i = j + 1;
    return true;
}

/* Nothing can follow a '$' at re + i but closing parentheses and the end
 * (or a top-level alternative). */
static bool dollar_ends(const char *re, size_t i, int depth)
{
    while (re[i] == ')')
        i++, depth--;
    return !re[i] || (re[i] == '|' && depth == 0);
}

static char *pcre_to_ere(const char *re, bool dotall, bool multiline, bool icase,
                         const char **why)
{
    struct rbuf b = {0};
    int depth = 0;
    bool quantifiable = false; /* the last atom may take a quantifier */
    /* Nothing can come before this point in its alternative (glibc's '^'
     * elsewhere also matches after a newline the pattern consumed), and
     * the same for each open group. */
    bool alt_start = true, *group_start = bson_malloc(strlen(re) + 1);
    rb_str(&b, "");
    for (size_t i = 0; re[i];) {
        unsigned char c = (unsigned char)re[i];
        bool atom = true;
        if (icase && c >= 0x80) {
            *why = "with option i only ASCII patterns are supported";
            goto refuse;
        }
        if (c == '\\') {
            char d = re[i + 1];
            i += 2;
            switch (d) {
            case 'd': rb_str(&b, "[0-9]"); break;
            case 'w': rb_str(&b, "[[:alnum:]_]"); break;
            case 's': rb_str(&b, "[[:space:]]"); break;
            case 'D':
            case 'W':
            case 'S': {
                struct rclass k = {.neg = true};
                class_name(&k, d == 'D' ? "digit" : d == 'W' ? "word" : "space", d == 'W' ? 4 : 5);
                class_atom_emit(&b, &k, multiline);
                break;
            }
            case 't': rb_lit(&b, '\t'); break;
            case 'n': rb_lit(&b, '\n'); break;
            case 'r': rb_lit(&b, '\r'); break;
            case 'f': rb_lit(&b, '\f'); break;
            case 'e': rb_lit(&b, 0x1b); break;
            case 'a': rb_lit(&b, 0x07); break;
            case 'b':
            case 'B':
                rb_ch(&b, '\\');
                rb_ch(&b, (unsigned char)d);
                atom = false;
                break;
            case 'A':
            case 'z':
                if (multiline) {
                    *why = "\\A and \\z are not supported with option m";
                    goto refuse;
                }
                if (d == 'A' && !alt_start) {
                    *why = "\\A is supported only where nothing can precede it";
                    goto refuse;
                }
                if (d == 'z' && !dollar_ends(re, i, depth)) {
                    *why = "\\z is supported only where nothing can follow it";
                    goto refuse;
                }
                rb_ch(&b, d == 'A' ? '^' : '$');
                atom = false;
                if (d == 'A') {
                    quantifiable = false;
                    continue; /* still at the start */
                }
                break;
            case 'x': {
                uint32_t v;
                if (!parse_hex(re, &i, &v) || v == 0) {
                    *why = "this \\x escape is not supported";
                    goto refuse;
                }
                if (icase && v >= 0x80) {
                    *why = "with option i only ASCII patterns are supported";
                    goto refuse;
                }
                rb_codepoint(&b, v);
                break;
            }
            default:
                if (!d || (d >= '0' && d <= '9') || (d >= 'a' && d <= 'z') || (d >= 'A' && d <= 'Z')) {
                    *why = "this escape sequence is not supported";
                    goto refuse;
                }
                if ((unsigned char)d >= 0x80) {
                    i--; /* an escaped non-ASCII character: itself */
                    continue;
                }
                rb_lit(&b, (unsigned char)d);
                break;
            }
        } else if (c == '.') {
            rb_str(&b, dotall ? (multiline ? "([^\x80-\xbf][\x80-\xbf]*|\n)" : "([^\x80-\xbf][\x80-\xbf]*)")
                              : "([^\n\x80-\xbf][\x80-\xbf]*)");
            i++;
        } else if (c == '[') {
            struct rclass k;
            if (!class_parse(re, &i, &k)) {
                *why = "this bracket expression is not supported (only ASCII members, no negated "
                       "classes inside)";
                goto refuse;
            }
            class_atom_emit(&b, &k, multiline);
        } else if (c == '(') {
            if (re[i + 1] == '?') {
                if (re[i + 2] != ':') {
                    *why = "(? groups other than (?: are not supported";
                    goto refuse;
                }
                i += 2;
            }
            rb_ch(&b, '(');
            group_start[depth++] = alt_start;
            i++;
            quantifiable = false;
            continue; /* alt_start stays */
        } else if (c == '|') {
            rb_ch(&b, c);
            i++;
            alt_start = depth == 0 || group_start[depth - 1];
            quantifiable = false;
            continue;
        } else if (c == ')') {
            rb_ch(&b, c);
            depth -= depth > 0;
            i++;
        } else if (c == '^') {
            if (!multiline && !alt_start) {
                *why = "'^' is supported only where nothing can precede it (or with option m)";
                goto refuse;
            }
            rb_ch(&b, c);
            i++;
            quantifiable = false;
            continue; /* still at the start */
        } else if (c == '$') {
            if (multiline) {
                rb_ch(&b, '$');
            } else if (dollar_ends(re, i + 1, depth)) {
                rb_str(&b, "(\n?$)"); /* PCRE: also before a final newline */
            } else {
                *why = "'$' is supported only where nothing can follow it (or with option m)";
                goto refuse;
            }
            i++;
            atom = false;
        } else if (c == '*' || c == '+' || c == '?' || c == '{') {
            size_t j = i + 1;
            if (c == '{') {
                while (re[j] >= '0' && re[j] <= '9')
                    j++;
                if (j == i + 1 && re[j] == ',') {
                    *why = "{,n} is not supported";
                    goto refuse;
                }
                if (j > i + 1 && re[j] == ',')
                    for (j++; re[j] >= '0' && re[j] <= '9';)
                        j++;
                if (j == i + 1 || re[j] != '}') {
                    rb_lit(&b, '{'); /* not a quantifier: a literal, as PCRE */
                    i++;
                    quantifiable = true;
                    alt_start = false;
                    continue;
                }
                j++;
            }
            if (!quantifiable) {
                *why = "a quantifier does not follow a repeatable item";
                goto refuse;
            }
            rb_add(&b, re + i, j - i);
            i = j;
            if (re[i] == '?') {
                i++; /* lazy: the same strings match */
            } else if (re[i] == '+') {
                *why = "possessive quantifiers are not supported";
                goto refuse;
            }
            atom = false;
        } else if (c >= 0x80) {
            /* a UTF-8 character: one atom */
            size_t j = i + 1;
            while ((re[j] & 0xc0) == 0x80)
                j++;
            rb_ch(&b, '(');
            rb_add(&b, re + i, j - i);
            rb_ch(&b, ')');
            i = j;
        } else {
            rb_lit(&b, c);
            i++;
        }
        quantifiable = atom;
        alt_start = false;
    }
    bson_free(group_start);
    return b.p;
refuse:
    bson_free(group_start);
    bson_free(b.p);
    return NULL;
}

static bool regex_compile(const char *pattern, const char *options, struct mre **out,
                          struct restfcgi_error *err)
{
    int flags = REG_EXTENDED | REG_NOSUB;
    bool dotall = false, multiline = false, icase = false;
    for (const char *p = options; *p; p++) {
        switch (*p) {
        case 'i': icase = true; flags |= REG_ICASE; break;
        case 'm': multiline = true; flags |= REG_NEWLINE; break;
        case 's': dotall = true; break;
        case 'u': break;
        default: return fail(err, 400, "$regex: option '%c' is not supported (use i, m, s)", *p);
        }
    }
    const char *why = NULL;
    char *ere = pcre_to_ere(pattern, dotall, multiline, icase, &why);
    if (!ere)
        return fail(err, 400, "$regex: unsupported regular expression /%s/: %s", pattern, why);
    struct mre *re = bson_malloc0(sizeof *re);
    int rc = regcomp(&re->re, ere, flags);
    bson_free(ere);
    if (rc) {
        char msg[128];
        regerror(rc, &re->re, msg, sizeof msg);
        bson_free(re);
        return fail(err, 400, "$regex: invalid regular expression /%s/: %s", pattern, msg);
    }
    re->pattern = bson_strdup(pattern);
    re->options = bson_strdup(options);
    *out = re;
    return true;
}

static bool add_regex(struct op *o, const char *pattern, const char *options, struct restfcgi_error *err)
{
    struct mre *re = NULL;
    if (!regex_compile(pattern, options, &re, err))
        return false;
    o->res = bson_realloc(o->res, (o->nres + 1) * sizeof *o->res);
    o->res[o->nres++] = re;
    return true;
}

static bool as_count(const bson_value_t *v, int64_t *out)
{
    switch (v->value_type) {
    case BSON_TYPE_INT32: *out = v->value.v_int32; return true;
    case BSON_TYPE_INT64: *out = v->value.v_int64; return true;
    case BSON_TYPE_DOUBLE:
        if (!(v->value.v_double >= -9e15 && v->value.v_double <= 9e15) ||
            v->value.v_double != (double)(int64_t)v->value.v_double)
            return false;
        *out = (int64_t)v->value.v_double;
        return true;
    default: return false;
    }
}

static bool truthy(const bson_value_t *v)
{
    switch (v->value_type) {
    case BSON_TYPE_BOOL: return v->value.v_bool;
    case BSON_TYPE_INT32: return v->value.v_int32 != 0;
    case BSON_TYPE_INT64: return v->value.v_int64 != 0;
    case BSON_TYPE_DOUBLE: return v->value.v_double != 0;
    case BSON_TYPE_NULL:
    case BSON_TYPE_UNDEFINED: return false;
    default: return true;
    }
}

static const struct {
    const char *name;
    int type; /* a bson_type_t, or -2 for "number" */
} type_aliases[] = {
    {"double", BSON_TYPE_DOUBLE},   {"string", BSON_TYPE_UTF8},      {"object", BSON_TYPE_DOCUMENT},
    {"array", BSON_TYPE_ARRAY},     {"binData", BSON_TYPE_BINARY},   {"undefined", BSON_TYPE_UNDEFINED},
    {"objectId", BSON_TYPE_OID},    {"bool", BSON_TYPE_BOOL},        {"date", BSON_TYPE_DATE_TIME},
    {"null", BSON_TYPE_NULL},       {"regex", BSON_TYPE_REGEX},      {"dbPointer", BSON_TYPE_DBPOINTER},
    {"javascript", BSON_TYPE_CODE}, {"symbol", BSON_TYPE_SYMBOL},    {"javascriptWithScope", BSON_TYPE_CODEWSCOPE},
    {"int", BSON_TYPE_INT32},       {"timestamp", BSON_TYPE_TIMESTAMP}, {"long", BSON_TYPE_INT64},
    {"decimal", BSON_TYPE_DECIMAL128}, {"minKey", BSON_TYPE_MINKEY}, {"maxKey", BSON_TYPE_MAXKEY},
    {"number", -2},
};

static bool add_type(struct op *o, const bson_value_t *v, struct restfcgi_error *err)
{
    int64_t code;
    int t = -1;
    if (v->value_type == BSON_TYPE_UTF8) {
        for (size_t i = 0; i < sizeof type_aliases / sizeof *type_aliases; i++)
            if (!strcmp(v->value.v_utf8.str, type_aliases[i].name))
                t = type_aliases[i].type;
        if (t == -1)
            return fail(err, 400, "$type: unknown type name '%s'", v->value.v_utf8.str);
    } else if (as_count(v, &code)) {
        bool known = code == -1 || code == 127;
        for (size_t i = 0; i < sizeof type_aliases / sizeof *type_aliases; i++)
            known = known || type_aliases[i].type == code;
        if (!known)
            return fail(err, 400, "$type: unknown type code %lld", (long long)code);
        t = code == -1 ? BSON_TYPE_MINKEY : (int)code;
    } else {
        return fail(err, 400, "$type needs a type name or number, or an array of them");
    }
    if (t == -2) {
        o->types[BSON_TYPE_INT32] = o->types[BSON_TYPE_INT64] = 1;
        o->types[BSON_TYPE_DOUBLE] = o->types[BSON_TYPE_DECIMAL128] = 1;
    } else {
        o->types[(uint8_t)t] = 1;
    }
    return true;
}

static bool compile_doc(struct node *n, const bson_t *doc, int depth, struct restfcgi_error *err);
static bool compile_ops(struct op **ops, size_t *nops, const bson_t *doc, int depth,
                        struct restfcgi_error *err);

/* $elemMatch: {$gt: 1} tests each element itself; {a: 1} queries document
 * elements. */
static bool compile_elem_match(struct op *o, const bson_value_t *v, int depth, struct restfcgi_error *err)
{
    bson_t d;
    if (v->value_type != BSON_TYPE_DOCUMENT || !value_doc(v, &d))
        return fail(err, 400, "$elemMatch needs a document");
    bson_iter_t it;
    const char *first = bson_iter_init(&it, &d) && bson_iter_next(&it) ? bson_iter_key(&it) : "";
    bool ops = first[0] == '$' && strcmp(first, "$and") && strcmp(first, "$or") &&
               strcmp(first, "$nor") && strcmp(first, "$where") && strcmp(first, "$comment");
    if (ops) {
        o->kind = OP_ELEM_OPS;
        return compile_ops(&o->ops, &o->nops, &d, depth + 1, err);
    }
    o->kind = OP_ELEM_DOC;
    o->sub = bson_malloc0(sizeof *o->sub);
    return compile_doc(o->sub, &d, depth + 1, err);
}

/* The operators of one field: {$gt: 1, $lt: 5, $regex: ...}. */
static bool compile_ops(struct op **ops, size_t *nops, const bson_t *doc, int depth,
                        struct restfcgi_error *err)
{
    bson_iter_t it;
    if (depth > MAX_DEPTH)
        return fail(err, 400, "filter nested deeper than %d levels", MAX_DEPTH);
    if (!bson_iter_init(&it, doc))
        return fail(err, 400, "invalid filter document");
    bool has_regex = bson_iter_init_find(&it, doc, "$regex");
    bson_iter_init(&it, doc);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        const bson_value_t *v = bson_iter_value(&it);
        static const struct {
            const char *name;
            enum op_kind kind;
            bool negate;
        } cmp[] = {{"$eq", OP_EQ, false}, {"$ne", OP_EQ, true},   {"$gt", OP_GT, false},
                   {"$gte", OP_GTE, false}, {"$lt", OP_LT, false}, {"$lte", OP_LTE, false}};
        bool done = false;
        for (size_t i = 0; i < sizeof cmp / sizeof *cmp && !done; i++) {
            if (strcmp(k, cmp[i].name))
                continue;
            struct op *o = op_add(ops, nops, cmp[i].kind);
            o->negate = cmp[i].negate;
            o->v = *v;
            done = true;
        }
        if (done)
            continue;
        if (!strcmp(k, "$in") || !strcmp(k, "$nin")) {
            bson_t arr;
            bson_iter_t ai;
            if (v->value_type != BSON_TYPE_ARRAY || !value_doc(v, &arr) || !bson_iter_init(&ai, &arr))
                return fail(err, 400, "%s needs an array", k);
            struct op *o = op_add(ops, nops, OP_IN);
            o->negate = k[1] == 'n';
            while (bson_iter_next(&ai)) {
                const bson_value_t *e = bson_iter_value(&ai);
                if (e->value_type == BSON_TYPE_REGEX) {
                    if (!add_regex(o, e->value.v_regex.regex, e->value.v_regex.options, err))
                        return false;
                } else if (is_operator_doc(e)) {
                    return fail(err, 400, "%s: operators are not allowed inside the array", k);
                } else {
                    o->vals = bson_realloc(o->vals, (o->nvals + 1) * sizeof *o->vals);
                    o->vals[o->nvals++] = *e;
                }
            }
        } else if (!strcmp(k, "$exists")) {
            struct op *o = op_add(ops, nops, OP_EXISTS);
            o->negate = !truthy(v);
        } else if (!strcmp(k, "$type")) {
            struct op *o = op_add(ops, nops, OP_TYPE);
            if (v->value_type == BSON_TYPE_ARRAY) {
                bson_t arr;
                bson_iter_t ai;
                if (!value_doc(v, &arr) || !bson_iter_init(&ai, &arr))
                    return fail(err, 400, "$type needs a type");
                while (bson_iter_next(&ai))
                    if (!add_type(o, bson_iter_value(&ai), err))
                        return false;
            } else if (!add_type(o, v, err)) {
                return false;
            }
        } else if (!strcmp(k, "$regex")) {
            const char *options = "";
            bson_iter_t oi;
            if (bson_iter_init_find(&oi, doc, "$options")) {
                if (!BSON_ITER_HOLDS_UTF8(&oi))
                    return fail(err, 400, "$options needs a string");
                options = bson_iter_utf8(&oi, NULL);
            }
            struct op *o = op_add(ops, nops, OP_REGEX);
            if (v->value_type == BSON_TYPE_REGEX) {
                if (*options && *v->value.v_regex.options)
                    return fail(err, 400, "$regex: options given twice");
                if (!add_regex(o, v->value.v_regex.regex, *options ? options : v->value.v_regex.options, err))
                    return false;
            } else if (v->value_type == BSON_TYPE_UTF8) {
                if (!add_regex(o, v->value.v_utf8.str, options, err))
                    return false;
            } else {
                return fail(err, 400, "$regex needs a string or a regular expression");
            }
        } else if (!strcmp(k, "$options")) {
            if (!has_regex)
                return fail(err, 400, "$options needs a $regex");
        } else if (!strcmp(k, "$size")) {
            struct op *o = op_add(ops, nops, OP_SIZE);
            if (!as_count(v, &o->size) || o->size < 0)
                return fail(err, 400, "$size needs a non-negative whole number");
        } else if (!strcmp(k, "$all")) {
            bson_t arr;
            bson_iter_t ai;
            if (v->value_type != BSON_TYPE_ARRAY || !value_doc(v, &arr) || !bson_iter_init(&ai, &arr))
                return fail(err, 400, "$all needs an array");
            size_t before = *nops;
            /* $all is the $and of its elements' conditions on the field. */
            while (bson_iter_next(&ai)) {
                const bson_value_t *e = bson_iter_value(&ai);
                bson_t ed;
                bson_iter_t ei;
                if (e->value_type == BSON_TYPE_DOCUMENT && value_doc(e, &ed) && bson_iter_init(&ei, &ed) &&
                    bson_iter_next(&ei) && !strcmp(bson_iter_key(&ei), "$elemMatch")) {
                    struct op *o = op_add(ops, nops, OP_ELEM_DOC);
                    if (!compile_elem_match(o, bson_iter_value(&ei), depth, err))
                        return false;
                } else if (is_operator_doc(e)) {
                    return fail(err, 400, "$all: only $elemMatch may appear inside the array");
                } else if (e->value_type == BSON_TYPE_REGEX) {
                    struct op *o = op_add(ops, nops, OP_REGEX);
                    if (!add_regex(o, e->value.v_regex.regex, e->value.v_regex.options, err))
                        return false;
                } else {
                    op_add(ops, nops, OP_EQ)->v = *e;
                }
            }
            if (*nops == before)
                op_add(ops, nops, OP_NEVER);
        } else if (!strcmp(k, "$elemMatch")) {
            struct op *o = op_add(ops, nops, OP_ELEM_DOC);
            if (!compile_elem_match(o, v, depth, err))
                return false;
        } else if (!strcmp(k, "$not")) {
            struct op *o = op_add(ops, nops, OP_ALLOF);
            o->negate = true;
            bson_t d;
            if (v->value_type == BSON_TYPE_REGEX) {
                struct op *r = op_add(&o->ops, &o->nops, OP_REGEX);
                if (!add_regex(r, v->value.v_regex.regex, v->value.v_regex.options, err))
                    return false;
            } else if (is_operator_doc(v) && value_doc(v, &d)) {
                if (!compile_ops(&o->ops, &o->nops, &d, depth + 1, err))
                    return false;
            } else {
                return fail(err, 400, "$not needs a regular expression or a document of operators");
            }
        } else if (!strcmp(k, "$where")) {
            return fail(err, 403, "$where is not allowed");
        } else if (k[0] == '$') {
            return fail(err, 400, "unsupported query operator %s", k);
        } else {
            return fail(err, 400, "unknown operator '%s' among query operators", k);
        }
    }
    return true;
}

static bool compile_field(struct node *n, const char *path, const bson_value_t *v, int depth,
                          struct restfcgi_error *err)
{
    n->kind = N_FIELD;
    mql_path_parse(path, &n->path);
    bson_t d;
    if (is_operator_doc(v) && value_doc(v, &d))
        return compile_ops(&n->ops, &n->nops, &d, depth + 1, err);
    if (v->value_type == BSON_TYPE_REGEX) {
        struct op *o = op_add(&n->ops, &n->nops, OP_REGEX);
        return add_regex(o, v->value.v_regex.regex, v->value.v_regex.options, err);
    }
    op_add(&n->ops, &n->nops, OP_EQ)->v = *v;
    return true;
}

static struct node *kid_add(struct node *n)
{
    n->kids = bson_realloc(n->kids, (n->nkids + 1) * sizeof *n->kids);
    struct node *k = &n->kids[n->nkids++];
    memset(k, 0, sizeof *k);
    return k;
}

/* A query document: the AND of its fields and logical operators. */
static bool compile_doc(struct node *n, const bson_t *doc, int depth, struct restfcgi_error *err)
{
    bson_iter_t it;
    n->kind = N_AND;
    if (depth > MAX_DEPTH)
        return fail(err, 400, "filter nested deeper than %d levels", MAX_DEPTH);
    if (!bson_iter_init(&it, doc))
        return fail(err, 400, "invalid filter document");
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        const bson_value_t *v = bson_iter_value(&it);
        if (!strcmp(k, "$and") || !strcmp(k, "$or") || !strcmp(k, "$nor")) {
            bson_t arr, d;
            bson_iter_t ai;
            if (v->value_type != BSON_TYPE_ARRAY || !value_doc(v, &arr) || !bson_iter_init(&ai, &arr))
                return fail(err, 400, "%s needs a non-empty array of documents", k);
            struct node *logic = kid_add(n);
            logic->kind = k[1] == 'a' ? N_AND : k[1] == 'o' ? N_OR : N_NOR;
            while (bson_iter_next(&ai)) {
                if (!BSON_ITER_HOLDS_DOCUMENT(&ai) || !value_doc(bson_iter_value(&ai), &d))
                    return fail(err, 400, "%s needs a non-empty array of documents", k);
                if (!compile_doc(kid_add(logic), &d, depth + 1, err))
                    return false;
            }
            if (!logic->nkids)
                return fail(err, 400, "%s needs a non-empty array of documents", k);
        } else if (!strcmp(k, "$where")) {
            return fail(err, 403, "$where is not allowed");
        } else if (!strcmp(k, "$comment")) {
            continue;
        } else if (k[0] == '$') {
            return fail(err, 400, "unsupported query operator %s", k);
        } else if (!compile_field(kid_add(n), k, v, depth, err)) {
            return false;
        }
    }
    return true;
}

mql_filter *mql_filter_compile(const bson_t *filter, struct restfcgi_error *err)
{
    mql_filter *f = bson_malloc0(sizeof *f);
    f->spec = bson_copy(filter);
    if (!compile_doc(&f->root, f->spec, 0, err)) {
        mql_filter_free(f);
        return NULL;
    }
    return f;
}

/* ---- matching ---- */

static bool node_match(const struct node *n, const bson_t *doc);
static bool ops_hold_on(const struct op *ops, size_t n, const bson_value_t *v, bool expand);

/* A string matches by the expression (all of it, NUL bytes included: glibc's
 * REG_STARTEND); a stored regular expression by equality, as MongoDB. */
static bool regex_match(const struct mre *re, const bson_value_t *v)
{
    regmatch_t m[1] = {{0, 0}};
    switch (v->value_type) {
    case BSON_TYPE_UTF8:
        m[0].rm_eo = (regoff_t)v->value.v_utf8.len;
        return regexec(&re->re, v->value.v_utf8.str, 1, m, REG_STARTEND) == 0;
    case BSON_TYPE_SYMBOL:
        m[0].rm_eo = (regoff_t)v->value.v_symbol.len;
        return regexec(&re->re, v->value.v_symbol.symbol, 1, m, REG_STARTEND) == 0;
    case BSON_TYPE_REGEX:
        return !strcmp(v->value.v_regex.regex, re->pattern) &&
               !strcmp(v->value.v_regex.options, re->options);
    default: return false;
    }
}

/* Comparison operators only see values of the operand's type bracket
 * (numbers with numbers, strings with strings), except MinKey/MaxKey. */
static bool bracket_compare(const bson_value_t *v, const bson_value_t *operand, int *c)
{
    if (operand->value_type != BSON_TYPE_MINKEY && operand->value_type != BSON_TYPE_MAXKEY &&
        mql_type_rank(v->value_type) != mql_type_rank(operand->value_type))
        return false;
    *c = mql_value_compare(v, operand);
    return true;
}

/* $gt $gte $lt $lte: NaN is the smallest number when sorting, but MongoDB's
 * matcher orders nothing against it: $gte/$lte hold for NaN on NaN only,
 * $gt/$lt never. */
static bool range_match(const struct op *o, const bson_value_t *v)
{
    int c;
    if (!bracket_compare(v, &o->v, &c))
        return false;
    if (mql_type_rank(v->value_type) == mql_type_rank(BSON_TYPE_DOUBLE) &&
        mql_type_rank(o->v.value_type) == mql_type_rank(BSON_TYPE_DOUBLE) &&
        (mql_is_nan(v) || mql_is_nan(&o->v)))
        return (o->kind == OP_GTE || o->kind == OP_LTE) && mql_is_nan(v) && mql_is_nan(&o->v);
    switch (o->kind) {
    case OP_GT: return c > 0;
    case OP_GTE: return c >= 0;
    case OP_LT: return c < 0;
    default: return c <= 0;
    }
}

/* One operator on one value (no array expansion). */
static bool scalar_match(const struct op *o, const bson_value_t *v)
{
    switch (o->kind) {
    case OP_EQ: return mql_value_equal(v, &o->v);
    case OP_GT:
    case OP_GTE:
    case OP_LT:
    case OP_LTE: return range_match(o, v);
    case OP_IN:
        for (size_t i = 0; i < o->nvals; i++)
            if (mql_value_equal(v, &o->vals[i]))
                return true;
        for (size_t i = 0; i < o->nres; i++)
            if (regex_match(o->res[i], v))
                return true;
        return false;
    case OP_REGEX: return o->nres && regex_match(o->res[0], v);
    case OP_TYPE: return o->types[(uint8_t)v->value_type] != 0;
    default: return false;
    }
}

/* A missing field is null to equality ({a: null}, $in [null], $gte null). */
static bool missing_match(const struct op *o)
{
    bool null_operand = o->v.value_type == BSON_TYPE_NULL;
    switch (o->kind) {
    case OP_EQ:
    case OP_GTE:
    case OP_LTE: return null_operand;
    case OP_IN:
        for (size_t i = 0; i < o->nvals; i++)
            if (o->vals[i].value_type == BSON_TYPE_NULL)
                return true;
        return false;
    default: return false;
    }
}

/* A positive operator on the value at the end of a path (NULL: missing):
 * most operators see an array and each of its elements (expand), except on
 * an element of $elemMatch, which they see as it is (MongoDB's
 * matchesSingleElement: {$elemMatch: {$gt: 5}} does not look into [[6]]). */
static bool leaf_match(const struct op *o, const bson_value_t *v, bool expand)
{
    bson_t d;
    bson_iter_t it;
    switch (o->kind) {
    case OP_NEVER: return false;
    case OP_EXISTS: return v != NULL;
    case OP_ALLOF: return v && ops_hold_on(o->ops, o->nops, v, expand);
    case OP_SIZE: {
        if (!v || v->value_type != BSON_TYPE_ARRAY || !value_doc(v, &d))
            return false;
        return (int64_t)bson_count_keys(&d) == o->size;
    }
    case OP_ELEM_OPS:
    case OP_ELEM_DOC:
        if (!v || v->value_type != BSON_TYPE_ARRAY || !value_doc(v, &d) || !bson_iter_init(&it, &d))
            return false;
        while (bson_iter_next(&it)) {
            const bson_value_t *e = bson_iter_value(&it);
            if (o->kind == OP_ELEM_OPS) {
                if (ops_hold_on(o->ops, o->nops, e, false))
                    return true;
            } else {
                bson_t ed;
                if (e->value_type == BSON_TYPE_DOCUMENT && value_doc(e, &ed) && node_match(o->sub, &ed))
                    return true;
            }
        }
        return false;
    default: break;
    }
    if (!v)
        return missing_match(o);
    if (scalar_match(o, v))
        return true;
    if (expand && v->value_type == BSON_TYPE_ARRAY && value_doc(v, &d) && bson_iter_init(&it, &d))
        while (bson_iter_next(&it))
            if (scalar_match(o, bson_iter_value(&it)))
                return true;
    return false;
}

/* Every operator (with its negation) holds on the one value v: the
 * conditions of $elemMatch on an element, and those of $not. */
static bool ops_hold_on(const struct op *ops, size_t n, const bson_value_t *v, bool expand)
{
    for (size_t i = 0; i < n; i++)
        if (leaf_match(&ops[i], v, expand) == ops[i].negate)
            return false;
    return true;
}

struct visit_ctx {
    const struct op *op;
    bool matched;
};

static bool visit_leaf(void *ctx, const bson_value_t *v)
{
    struct visit_ctx *c = ctx;
    c->matched = leaf_match(c->op, v, true);
    return c->matched;
}

/* A positive operator on a field: some value reachable at the path. */
static bool op_on_field(const struct op *o, const bson_t *doc, const struct mql_path *p)
{
    if (o->kind == OP_ALLOF) {
        for (size_t i = 0; i < o->nops; i++)
            if (op_on_field(&o->ops[i], doc, p) == o->ops[i].negate)
                return false;
        return true;
    }
    struct visit_ctx c = {o, false};
    mql_path_visit(doc, p, visit_leaf, &c);
    return c.matched;
}

static bool node_match(const struct node *n, const bson_t *doc)
{
    switch (n->kind) {
    case N_FIELD:
        for (size_t i = 0; i < n->nops; i++)
            if (op_on_field(&n->ops[i], doc, &n->path) == n->ops[i].negate)
                return false;
        return true;
    case N_AND:
        for (size_t i = 0; i < n->nkids; i++)
            if (!node_match(&n->kids[i], doc))
                return false;
        return true;
    case N_OR:
        for (size_t i = 0; i < n->nkids; i++)
            if (node_match(&n->kids[i], doc))
                return true;
        return false;
    case N_NOR:
        for (size_t i = 0; i < n->nkids; i++)
            if (node_match(&n->kids[i], doc))
                return false;
        return true;
    }
    return false;
}

bool mql_filter_match(const mql_filter *f, const bson_t *doc)
{
    return node_match(&f->root, doc);
}

/* ---- planning help ---- */

static bool node_equality(const struct node *n, const char *path, bson_value_t *out)
{
    for (size_t i = 0; i < n->nkids; i++) {
        const struct node *k = &n->kids[i];
        if (k->kind == N_AND && node_equality(k, path, out))
            return true;
        if (k->kind != N_FIELD || strcmp(k->path.text, path))
            continue;
        for (size_t j = 0; j < k->nops; j++) {
            const struct op *o = &k->ops[j];
            if (o->kind == OP_EQ && !o->negate && o->v.value_type != BSON_TYPE_ARRAY &&
                o->v.value_type != BSON_TYPE_REGEX) {
                *out = o->v;
                return true;
            }
        }
    }
    return false;
}

bool mql_filter_equality(const mql_filter *f, const char *path, bson_value_t *out)
{
    return node_equality(&f->root, path, out);
}

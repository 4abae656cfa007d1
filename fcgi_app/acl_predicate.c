#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl_predicate.h"

enum node_kind {
    N_TRUE,
    N_FALSE,
    N_AND,
    N_OR,
    N_NOT,
    N_PATH,
    N_PATH_PREFIX,
    N_PATH_TEMPLATE,
    N_METHOD,
    N_QPARAMS,
    N_EQUALS,
};

enum val_kind { V_STR, V_USER_ID, V_USER_ROLES, V_USER_FIELD, V_NOW, V_VAR };

/* One argument of a call. */
struct item {
    enum val_kind kind;
    struct sv str;    /* the string; the field or capture name of a variable */
    size_t seg, nseg; /* path arguments: their segments in acl_pred.segs */
    bool wildcard;    /* a path-template whose last segment is '*' */
};

struct seg {
    struct sv s; /* the literal, or the capture's name */
    bool capture;
};

struct node {
    enum node_kind kind;
    int left, right;    /* and/or: both operands; not: left */
    size_t item, nitem; /* calls: their arguments in acl_pred.items */
};

/* Indices rather than pointers between the arrays, which grow while parsing;
 * every string points into buf, allocated once at the text's length (what
 * is copied out of the text never exceeds it). */
struct acl_pred {
    char *buf;
    size_t buf_used, buf_cap;
    struct node nodes[ACL_PRED_MAX_NODES];
    size_t nnodes;
    struct item *items;
    size_t nitems, citems;
    struct seg *segs;
    size_t nsegs, csegs;
    size_t ncaptures;
    int root;
};

/* The predicates, their key=value parameter and their number of arguments. */
static const struct {
    const char *name;
    enum node_kind kind;
    const char *key;
    size_t min, max;
    bool vars; /* arguments may be variables */
} calls[] = {
    {"path", N_PATH, "path", 1, 1, false},
    {"path-prefix", N_PATH_PREFIX, "path", 1, SIZE_MAX, false},
    {"path-template", N_PATH_TEMPLATE, "value", 1, 1, false},
    {"method", N_METHOD, "value", 1, SIZE_MAX, false},
    {"qparams-contain", N_QPARAMS, "value", 1, SIZE_MAX, false},
    {"equals", N_EQUALS, "value", 2, 2, true},
};

struct parser {
    const char *s;
    size_t len, pos;
    struct acl_pred *p;
    int depth;
    char *err;
    size_t errlen;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Predicate names, keys, capture and field names. */
static bool is_name_char(char c)
{
    return is_alpha(c) || is_digit(c) || c == '_' || c == '-';
}

static bool is_bare_char(char c)
{
    unsigned char u = (unsigned char)c;
    return u > 0x20 && u != 0x7f && !strchr("(),={}'\"", c);
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool sv_eq_nocase(struct sv a, struct sv b)
{
    if (a.len != b.len)
        return false;
    for (size_t i = 0; i < a.len; i++)
        if (lower(a.ptr[i]) != lower(b.ptr[i]))
            return false;
    return true;
}

static bool all_name_chars(struct sv s)
{
    for (size_t i = 0; i < s.len; i++)
        if (!is_name_char(s.ptr[i]))
            return false;
    return s.len > 0;
}

/* The variable syntax, shared by predicates and filter strings: s must be
 * exactly one reference. */
static bool ref_parse(struct sv s, enum val_kind *kind, struct sv *name)
{
    static const struct sv user = SV_LIT("@user.");
    *name = (struct sv){NULL, 0};
    if (sv_eq_cstr(s, "@now")) {
        *kind = V_NOW;
        return true;
    }
    if (sv_eq_cstr(s, "@user._id")) {
        *kind = V_USER_ID;
        return true;
    }
    if (sv_eq_cstr(s, "@user.roles")) {
        *kind = V_USER_ROLES;
        return true;
    }
    if (sv_starts_with(s, user)) {
        /* A dotted field path: name parts separated by single dots. */
        struct sv f = {s.ptr + user.len, s.len - user.len};
        if (f.len == 0 || f.ptr[0] == '.' || f.ptr[f.len - 1] == '.')
            return false;
        for (size_t i = 0; i < f.len; i++) {
            if (f.ptr[i] == '.' ? f.ptr[i + 1] == '.' : !is_name_char(f.ptr[i]))
                return false;
        }
        *kind = V_USER_FIELD;
        *name = f;
        return true;
    }
    if (s.len >= 3 && s.ptr[0] == '$' && s.ptr[1] == '{' && s.ptr[s.len - 1] == '}') {
        struct sv n = {s.ptr + 2, s.len - 3};
        if (!all_name_chars(n))
            return false;
        *kind = V_VAR;
        *name = n;
        return true;
    }
    return false;
}

__attribute__((format(printf, 3, 4))) static bool fail(struct parser *ps, size_t off,
                                                       const char *fmt, ...)
{
    if (ps->err && ps->errlen > 0) {
        int n = snprintf(ps->err, ps->errlen, "at offset %zu: ", off);
        if (n >= 0 && (size_t)n < ps->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return false;
}

static void skip_ws(struct parser *ps)
{
    while (ps->pos < ps->len && is_space(ps->s[ps->pos]))
        ps->pos++;
}

static bool at(struct parser *ps, char c)
{
    return ps->pos < ps->len && ps->s[ps->pos] == c;
}

/* A name at pos (a letter, then letters, digits, '_', '-'); empty if none. */
static struct sv read_name(struct parser *ps)
{
    size_t b = ps->pos;
    if (b < ps->len && is_alpha(ps->s[b])) {
        while (ps->pos < ps->len && is_name_char(ps->s[ps->pos]))
            ps->pos++;
    }
    return (struct sv){ps->s + b, ps->pos - b};
}

/* Consumes keyword kw (any case) when it is the next whole name. */
static bool eat_keyword(struct parser *ps, const char *kw)
{
    size_t b = ps->pos;
    if (sv_eq_nocase(read_name(ps), sv_from_cstr(kw)))
        return true;
    ps->pos = b;
    return false;
}

static char *buf_put(struct parser *ps, const char *src, size_t n)
{
    struct acl_pred *p = ps->p;
    if (n > p->buf_cap - p->buf_used)
        return NULL; /* cannot happen: copies never exceed the text */
    char *out = p->buf + p->buf_used;
    if (n > 0)
        memcpy(out, src, n);
    p->buf_used += n;
    return out;
}

static bool grow(void **arr, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap * 2 : 8;
    while (c < need)
        c *= 2;
    void *a = realloc(*arr, c * size);
    if (!a)
        return false;
    *arr = a;
    *cap = c;
    return true;
}

static int new_node(struct parser *ps, size_t off, enum node_kind kind)
{
    struct acl_pred *p = ps->p;
    if (p->nnodes >= ACL_PRED_MAX_NODES) {
        fail(ps, off, "more than %d nodes", ACL_PRED_MAX_NODES);
        return -1;
    }
    p->nodes[p->nnodes] = (struct node){.kind = kind, .left = -1, .right = -1};
    return (int)p->nnodes++;
}

/* One value; *bare tells a bare word, which may turn out to be a key. */
static bool parse_value(struct parser *ps, struct item *it, bool *bare)
{
    skip_ws(ps);
    size_t off = ps->pos;
    *it = (struct item){.kind = V_STR};
    *bare = false;
    if (off >= ps->len)
        return fail(ps, off, "expected a value");
    char q = ps->s[off];
    if (q == '\'' || q == '"') {
        struct acl_pred *p = ps->p;
        char *out = p->buf + p->buf_used;
        size_t n = 0;
        ps->pos++;
        for (;;) {
            if (ps->pos >= ps->len)
                return fail(ps, off, "unterminated string");
            char c = ps->s[ps->pos++];
            if (c == q)
                break;
            if (c == '\\') {
                if (ps->pos >= ps->len)
                    return fail(ps, off, "unterminated string");
                c = ps->s[ps->pos++];
            }
            out[n++] = c; /* n < the bytes consumed: within buf */
        }
        p->buf_used += n;
        it->str = (struct sv){out, n};
        return true;
    }
    size_t end = off;
    if (q == '$') {
        /* "${name}": up to the first '}' */
        while (end < ps->len && ps->s[end] != '}' &&
               (end == off + 1 ? ps->s[end] == '{' : is_bare_char(ps->s[end])))
            end++;
        if (end < ps->len && ps->s[end] == '}')
            end++;
    } else if (q == '@') {
        end++;
        while (end < ps->len && (is_name_char(ps->s[end]) || ps->s[end] == '.'))
            end++;
    }
    if (q == '$' || q == '@') {
        struct sv name;
        if (!ref_parse((struct sv){ps->s + off, end - off}, &it->kind, &name))
            return fail(ps, off, "unknown variable");
        it->str.ptr = buf_put(ps, name.ptr, name.len);
        it->str.len = name.len;
        ps->pos = end;
        return true;
    }
    while (end < ps->len && is_bare_char(ps->s[end]))
        end++;
    if (end == off)
        return fail(ps, off, "expected a value");
    it->str.ptr = buf_put(ps, ps->s + off, end - off);
    it->str.len = end - off;
    ps->pos = end;
    *bare = true;
    return true;
}

/* Splits a path argument into segments, once: empty ones dropped, '.' and
 * '..' refused; in a template '{name}' captures and a final '*' is the
 * wildcard. */
static bool parse_path(struct parser *ps, struct item *it, size_t off, bool tmpl)
{
    struct acl_pred *p = ps->p;
    const char *s = it->str.ptr;
    size_t n = it->str.len, i = 0;
    it->seg = p->nsegs;
    it->nseg = 0;
    while (i < n) {
        if (s[i] == '/') {
            i++;
            continue;
        }
        size_t b = i;
        while (i < n && s[i] != '/')
            i++;
        struct seg sg = {{s + b, i - b}, false};
        if (it->wildcard)
            return fail(ps, off, "'*' must be the last segment of a template");
        if (sv_eq_cstr(sg.s, ".") || sv_eq_cstr(sg.s, ".."))
            return fail(ps, off, "'.' and '..' are not allowed in paths");
        if (tmpl && sv_eq_cstr(sg.s, "*")) {
            it->wildcard = true;
            continue;
        }
        if (tmpl && (memchr(sg.s.ptr, '{', sg.s.len) || memchr(sg.s.ptr, '}', sg.s.len))) {
            struct sv name = {sg.s.ptr + 1, sg.s.len - 2};
            if (sg.s.len < 3 || sg.s.ptr[0] != '{' || sg.s.ptr[sg.s.len - 1] != '}' ||
                !all_name_chars(name))
                return fail(ps, off, "a template segment is a literal or one whole {name}");
            for (size_t k = it->seg; k < p->nsegs; k++)
                if (p->segs[k].capture && sv_eq(p->segs[k].s, name))
                    return fail(ps, off, "duplicate capture {%.*s}", (int)name.len, name.ptr);
            if (p->ncaptures >= ACL_VARS_MAX)
                return fail(ps, off, "more than %d captures", ACL_VARS_MAX);
            p->ncaptures++;
            sg = (struct seg){name, true};
        }
        if (!grow((void **)&p->segs, &p->csegs, p->nsegs + 1, sizeof *p->segs))
            return fail(ps, off, "out of memory");
        p->segs[p->nsegs++] = sg;
        it->nseg++;
    }
    return true;
}

/* Checks one argument of call c and appends it. */
static bool add_arg(struct parser *ps, size_t c, struct item *it, size_t off)
{
    struct acl_pred *p = ps->p;
    if (!calls[c].vars && it->kind != V_STR)
        return fail(ps, off, "%s takes strings, not variables", calls[c].name);
    switch (calls[c].kind) {
    case N_PATH:
    case N_PATH_PREFIX:
    case N_PATH_TEMPLATE:
        if (!parse_path(ps, it, off, calls[c].kind == N_PATH_TEMPLATE))
            return false;
        break;
    case N_METHOD:
    case N_QPARAMS:
        if (it->str.len == 0)
            return fail(ps, off, "empty %s", calls[c].kind == N_METHOD ? "method" : "name");
        break;
    default:
        break;
    }
    if (!grow((void **)&p->items, &p->citems, p->nitems + 1, sizeof *p->items))
        return fail(ps, off, "out of memory");
    p->items[p->nitems++] = *it;
    return true;
}

/* name '(' args ')', name already read at off. */
static int parse_call(struct parser *ps, struct sv name, size_t off)
{
    struct acl_pred *p = ps->p;
    size_t c = 0, ncalls = sizeof calls / sizeof calls[0];
    while (c < ncalls && !sv_eq_nocase(name, sv_from_cstr(calls[c].name)))
        c++;
    if (c == ncalls) {
        int shown = name.len > 40 ? 40 : (int)name.len;
        fail(ps, off, "unknown predicate '%.*s'", shown, name.ptr);
        return -1;
    }
    skip_ws(ps);
    if (!at(ps, '(')) {
        fail(ps, ps->pos, "expected '(' after %s", calls[c].name);
        return -1;
    }
    ps->pos++;
    size_t first = p->nitems;
    bool named = false, positional = false;
    skip_ws(ps);
    if (at(ps, ')'))
        ps->pos++;
    else {
        for (;;) {
            struct item it;
            bool bare;
            skip_ws(ps);
            size_t aoff = ps->pos;
            if (!parse_value(ps, &it, &bare))
                return -1;
            skip_ws(ps);
            if (bare && at(ps, '=')) {
                if (named || positional) {
                    fail(ps, aoff, "%s",
                         named ? "only one key=value argument"
                               : "positional and key=value arguments do not mix");
                    return -1;
                }
                if (!sv_eq_nocase(it.str, sv_from_cstr(calls[c].key))) {
                    fail(ps, aoff, "%s has no parameter of that name (%s)", calls[c].name,
                         calls[c].key);
                    return -1;
                }
                named = true;
                ps->pos++;
                skip_ws(ps);
                if (at(ps, '{')) {
                    /* An array value: {v, v, ...} */
                    ps->pos++;
                    for (;;) {
                        skip_ws(ps);
                        aoff = ps->pos;
                        if (!parse_value(ps, &it, &bare) || !add_arg(ps, c, &it, aoff))
                            return -1;
                        skip_ws(ps);
                        if (at(ps, '}'))
                            break;
                        if (!at(ps, ',')) {
                            fail(ps, ps->pos, "expected ',' or '}'");
                            return -1;
                        }
                        ps->pos++;
                    }
                    ps->pos++;
                } else {
                    aoff = ps->pos;
                    if (!parse_value(ps, &it, &bare) || !add_arg(ps, c, &it, aoff))
                        return -1;
                }
            } else {
                if (named) {
                    fail(ps, aoff, "positional and key=value arguments do not mix");
                    return -1;
                }
                positional = true;
                if (!add_arg(ps, c, &it, aoff))
                    return -1;
            }
            skip_ws(ps);
            if (at(ps, ')')) {
                ps->pos++;
                break;
            }
            if (!at(ps, ',')) {
                fail(ps, ps->pos, "expected ',' or ')'");
                return -1;
            }
            ps->pos++;
        }
    }
    size_t n = p->nitems - first;
    if (n < calls[c].min || n > calls[c].max) {
        if (calls[c].min == calls[c].max)
            fail(ps, off, "%s takes %zu argument%s, not %zu", calls[c].name, calls[c].min,
                 calls[c].min == 1 ? "" : "s", n);
        else
            fail(ps, off, "%s takes at least %zu argument%s", calls[c].name, calls[c].min,
                 calls[c].min == 1 ? "" : "s");
        return -1;
    }
    int node = new_node(ps, off, calls[c].kind);
    if (node >= 0) {
        p->nodes[node].item = first;
        p->nodes[node].nitem = n;
    }
    return node;
}

static int parse_or(struct parser *ps);

static int parse_term(struct parser *ps)
{
    skip_ws(ps);
    size_t off = ps->pos;
    if (at(ps, '(')) {
        if (++ps->depth > ACL_PRED_MAX_DEPTH) {
            fail(ps, off, "nested deeper than %d", ACL_PRED_MAX_DEPTH);
            return -1;
        }
        ps->pos++;
        int e = parse_or(ps);
        if (e < 0)
            return -1;
        skip_ws(ps);
        if (!at(ps, ')')) {
            fail(ps, ps->pos, "expected ')'");
            return -1;
        }
        ps->pos++;
        ps->depth--;
        return e;
    }
    struct sv name = read_name(ps);
    if (name.len == 0) {
        fail(ps, off, "expected a predicate");
        return -1;
    }
    if (sv_eq_nocase(name, SV_LIT("not"))) {
        if (++ps->depth > ACL_PRED_MAX_DEPTH) {
            fail(ps, off, "nested deeper than %d", ACL_PRED_MAX_DEPTH);
            return -1;
        }
        int operand = parse_term(ps);
        if (operand < 0)
            return -1;
        ps->depth--;
        int n = new_node(ps, off, N_NOT);
        if (n >= 0)
            ps->p->nodes[n].left = operand;
        return n;
    }
    if (sv_eq_nocase(name, SV_LIT("true")))
        return new_node(ps, off, N_TRUE);
    if (sv_eq_nocase(name, SV_LIT("false")))
        return new_node(ps, off, N_FALSE);
    if (sv_eq_nocase(name, SV_LIT("and")) || sv_eq_nocase(name, SV_LIT("or"))) {
        fail(ps, off, "expected a predicate");
        return -1;
    }
    return parse_call(ps, name, off);
}

/* term ('and' term)*: and binds tighter than or. */
static int parse_and(struct parser *ps)
{
    int left = parse_term(ps);
    while (left >= 0) {
        skip_ws(ps);
        size_t off = ps->pos;
        if (!eat_keyword(ps, "and"))
            break;
        int right = parse_term(ps);
        if (right < 0)
            return -1;
        int n = new_node(ps, off, N_AND);
        if (n >= 0) {
            ps->p->nodes[n].left = left;
            ps->p->nodes[n].right = right;
        }
        left = n;
    }
    return left;
}

static int parse_or(struct parser *ps)
{
    int left = parse_and(ps);
    while (left >= 0) {
        skip_ws(ps);
        size_t off = ps->pos;
        if (!eat_keyword(ps, "or"))
            break;
        int right = parse_and(ps);
        if (right < 0)
            return -1;
        int n = new_node(ps, off, N_OR);
        if (n >= 0) {
            ps->p->nodes[n].left = left;
            ps->p->nodes[n].right = right;
        }
        left = n;
    }
    return left;
}

struct acl_pred *acl_pred_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct parser ps = {.s = text, .len = len, .err = err, .errlen = errlen};
    struct acl_pred *p = NULL;
    const char *nul;
    if (err && errlen > 0)
        err[0] = '\0';
    if (!text) {
        fail(&ps, 0, "no predicate");
        goto fail;
    }
    if (len > ACL_PRED_MAX_TEXT) {
        fail(&ps, ACL_PRED_MAX_TEXT, "longer than %d bytes", ACL_PRED_MAX_TEXT);
        goto fail;
    }
    if ((nul = memchr(text, '\0', len)) != NULL) {
        fail(&ps, (size_t)(nul - text), "NUL byte");
        goto fail;
    }
    p = calloc(1, sizeof *p);
    if (!p || !(p->buf = malloc(len + 1))) {
        fail(&ps, 0, "out of memory");
        goto fail;
    }
    p->buf_cap = len + 1;
    ps.p = p;
    p->root = parse_or(&ps);
    if (p->root < 0)
        goto fail;
    skip_ws(&ps);
    if (ps.pos < len) {
        fail(&ps, ps.pos, "%s",
             at(&ps, ')') ? "unbalanced ')'" : "expected 'and', 'or' or the end");
        goto fail;
    }
    return p;
fail:
    acl_pred_free(p);
    return NULL;
}

void acl_pred_free(struct acl_pred *p)
{
    if (!p)
        return;
    free(p->buf);
    free(p->items);
    free(p->segs);
    free(p);
}

bool acl_vars_get(const struct acl_vars *vars, struct sv name, struct sv *value)
{
    for (size_t i = vars ? vars->n : 0; i > 0; i--) {
        if (sv_eq(vars->v[i - 1].name, name)) {
            *value = vars->v[i - 1].value;
            return true;
        }
    }
    *value = (struct sv){NULL, 0};
    return false;
}

/* The first n segments of it against the request's first n. */
static bool segs_equal(const struct acl_pred *p, const struct item *it, const struct acl_request *r)
{
    for (size_t k = 0; k < it->nseg; k++)
        if (!sv_eq(p->segs[it->seg + k].s, r->segments[k]))
            return false;
    return true;
}

static bool template_match(const struct acl_pred *p, const struct item *it,
                           const struct acl_request *r, struct acl_vars *v)
{
    if (it->wildcard ? r->nsegments < it->nseg : r->nsegments != it->nseg)
        return false;
    for (size_t k = 0; k < it->nseg; k++) {
        const struct seg *sg = &p->segs[it->seg + k];
        if (sg->capture ? r->segments[k].len == 0 : !sv_eq(sg->s, r->segments[k]))
            return false;
    }
    for (size_t k = 0; k < it->nseg; k++) {
        const struct seg *sg = &p->segs[it->seg + k];
        if (!sg->capture)
            continue;
        if (v->n >= ACL_VARS_MAX)
            return false; /* cannot happen: captures are counted at parse time */
        v->v[v->n++] = (struct acl_var){sg->s, r->segments[k]};
    }
    return true;
}

/* One side of equals: nothing (unresolved), one string, or the roles. */
struct side {
    enum { SIDE_NONE, SIDE_ONE, SIDE_ROLES } kind;
    struct sv one;
    char num[24];
};

static void resolve(const struct item *it, const struct acl_request *r, const struct acl_vars *v,
                    struct side *out)
{
    out->kind = SIDE_NONE;
    out->one = (struct sv){NULL, 0};
    switch (it->kind) {
    case V_STR:
        out->kind = SIDE_ONE;
        out->one = it->str;
        break;
    case V_USER_ID:
        if (r->userid.len > 0) {
            out->kind = SIDE_ONE;
            out->one = r->userid;
        }
        break;
    case V_USER_ROLES:
        out->kind = SIDE_ROLES;
        break;
    case V_USER_FIELD:
        if (r->userid.len > 0 && r->user_field && r->user_field(r->user_ctx, it->str, &out->one))
            out->kind = SIDE_ONE;
        break;
    case V_NOW: {
        int n = snprintf(out->num, sizeof out->num, "%" PRId64, r->now_ms);
        out->kind = SIDE_ONE;
        out->one = (struct sv){out->num, (size_t)n};
        break;
    }
    case V_VAR:
        if (acl_vars_get(v, it->str, &out->one))
            out->kind = SIDE_ONE;
        break;
    }
}

static bool any_role(const struct acl_request *r, struct sv s)
{
    for (size_t i = 0; i < r->nroles; i++)
        if (r->roles[i] && sv_eq(sv_from_cstr(r->roles[i]), s))
            return true;
    return false;
}

static bool equals(const struct item *a, const struct item *b, const struct acl_request *r,
                   const struct acl_vars *v)
{
    struct side x, y;
    resolve(a, r, v, &x);
    resolve(b, r, v, &y);
    if (x.kind == SIDE_NONE || y.kind == SIDE_NONE)
        return false;
    if (x.kind == SIDE_ROLES && y.kind == SIDE_ROLES) {
        for (size_t i = 0; i < r->nroles; i++)
            if (r->roles[i])
                return true;
        return false;
    }
    if (x.kind == SIDE_ROLES)
        return any_role(r, y.one);
    if (y.kind == SIDE_ROLES)
        return any_role(r, x.one);
    return sv_eq(x.one, y.one);
}

static bool has_param(const struct acl_request *r, struct sv name)
{
    for (size_t i = 0; i < r->nparams; i++)
        if (sv_eq(r->params[i].name, name))
            return true;
    return false;
}

/* A node that comes out false takes back the captures made below it, so
 * only templates that made the predicate true leave variables behind. */
static bool eval_node(const struct acl_pred *p, int i, const struct acl_request *r,
                      struct acl_vars *v)
{
    const struct node *n = &p->nodes[i];
    const struct item *it = n->nitem ? &p->items[n->item] : NULL;
    size_t mark = v->n;
    bool ok = false;
    switch (n->kind) {
    case N_TRUE:
        ok = true;
        break;
    case N_FALSE:
        break;
    case N_AND:
        ok = eval_node(p, n->left, r, v) && eval_node(p, n->right, r, v);
        break;
    case N_OR:
        ok = eval_node(p, n->left, r, v) || eval_node(p, n->right, r, v);
        break;
    case N_NOT:
        ok = !eval_node(p, n->left, r, v);
        break;
    case N_PATH:
        for (size_t k = 0; k < n->nitem && !ok; k++)
            ok = r->nsegments == it[k].nseg && segs_equal(p, &it[k], r);
        break;
    case N_PATH_PREFIX:
        for (size_t k = 0; k < n->nitem && !ok; k++)
            ok = r->nsegments >= it[k].nseg && segs_equal(p, &it[k], r);
        break;
    case N_PATH_TEMPLATE:
        ok = template_match(p, &it[0], r, v);
        break;
    case N_METHOD:
        for (size_t k = 0; k < n->nitem && !ok; k++)
            ok = sv_eq_nocase(it[k].str, r->method);
        break;
    case N_QPARAMS:
        ok = true;
        for (size_t k = 0; k < n->nitem && ok; k++)
            ok = has_param(r, it[k].str);
        break;
    case N_EQUALS:
        ok = equals(&it[0], &it[1], r, v);
        break;
    }
    if (!ok)
        v->n = mark;
    return ok;
}

bool acl_pred_eval(const struct acl_pred *p, const struct acl_request *r, struct acl_vars *vars)
{
    struct acl_vars local;
    if (!vars)
        vars = &local;
    vars->n = 0;
    if (!p || !r)
        return false;
    return eval_node(p, p->root, r, vars);
}

bool acl_pred_ref(struct sv s, const struct acl_request *r, const struct acl_vars *vars,
                  struct acl_ref *out)
{
    enum val_kind kind;
    struct sv name;
    *out = (struct acl_ref){.kind = ACL_REF_UNDEFINED};
    if (!ref_parse(s, &kind, &name))
        return false;
    bool authenticated = r && r->userid.len > 0;
    switch (kind) {
    case V_USER_ID:
        if (authenticated) {
            out->kind = ACL_REF_STRING;
            out->value = r->userid;
        }
        break;
    case V_USER_ROLES:
        out->kind = ACL_REF_ROLES;
        break;
    case V_USER_FIELD:
        if (authenticated) {
            out->kind = ACL_REF_USER_FIELD;
            out->value = name;
        }
        break;
    case V_NOW:
        out->kind = ACL_REF_NOW;
        out->now_ms = r ? r->now_ms : 0;
        break;
    case V_VAR:
        if (acl_vars_get(vars, name, &out->value))
            out->kind = ACL_REF_STRING;
        break;
    case V_STR:
        break;
    }
    return true;
}

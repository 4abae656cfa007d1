#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "acl_predicate.h"

#define ARGS_MAX 8
#define SEGS_MAX 32

enum node_kind { N_AND, N_OR, N_NOT, N_TRUE, N_FALSE, N_PATH, N_PREFIX, N_TEMPLATE,
                 N_METHOD, N_QPARAMS, N_EQUALS };
enum value_kind { V_STRING, V_USER_ID, V_USER_ROLES, V_NOW, V_VAR };

struct value {
    enum value_kind kind;
    char *text; /* V_STRING: the string; V_VAR: the name */
    size_t len;
    struct sv segs[SEGS_MAX]; /* a path argument, split; views into text */
    size_t nsegs;
    bool rest;                /* a template ending in "/ *": more segments allowed */
};

struct node {
    enum node_kind kind;
    int a, b; /* children (index), -1 none */
    struct value args[ARGS_MAX];
    size_t nargs;
};

struct acl_pred {
    struct node nodes[ACL_PRED_NODES_MAX];
    size_t n;
    int root;
};

struct parser {
    const char *s;
    size_t len, pos;
    struct acl_pred *p;
    char *err;
    size_t errlen;
    bool failed;
};

static bool fail(struct parser *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct parser *ps, const char *fmt, ...)
{
    if (ps->failed)
        return false;
    ps->failed = true;
    int n = snprintf(ps->err, ps->errlen, "at offset %zu: ", ps->pos);
    if (n > 0 && (size_t)n < ps->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return false;
}

static void skip_ws(struct parser *ps)
{
    while (ps->pos < ps->len && isspace((unsigned char)ps->s[ps->pos]))
        ps->pos++;
}

static bool peek(struct parser *ps, char c)
{
    skip_ws(ps);
    return ps->pos < ps->len && ps->s[ps->pos] == c;
}

static bool expect(struct parser *ps, char c)
{
    if (!peek(ps, c))
        return fail(ps, "'%c' expected", c);
    ps->pos++;
    return true;
}

static bool word_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' || c == '/' ||
           c == '@' || c == '*';
}

/* A bare word at pos (without consuming it); its length. */
static size_t word_len(struct parser *ps)
{
    skip_ws(ps);
    size_t n = 0;
    while (ps->pos + n < ps->len && word_char(ps->s[ps->pos + n]))
        n++;
    return n;
}

static bool word_is(struct parser *ps, size_t n, const char *w)
{
    return n == strlen(w) && strncasecmp(ps->s + ps->pos, w, n) == 0;
}

static int new_node(struct parser *ps, enum node_kind kind)
{
    if (ps->p->n == ACL_PRED_NODES_MAX) {
        fail(ps, "more than %d nodes", ACL_PRED_NODES_MAX);
        return -1;
    }
    struct node *nd = &ps->p->nodes[ps->p->n];
    memset(nd, 0, sizeof *nd);
    nd->kind = kind;
    nd->a = nd->b = -1;
    return (int)ps->p->n++;
}

static char *copy(const char *s, size_t n)
{
    char *c = malloc(n + 1);
    if (c) {
        memcpy(c, s, n);
        c[n] = '\0';
    }
    return c;
}

/* A quoted string with \-escapes, into v. */
static bool quoted(struct parser *ps, struct value *v)
{
    char q = ps->s[ps->pos++];
    char *buf = malloc(ps->len - ps->pos + 1);
    size_t n = 0;
    if (!buf)
        return fail(ps, "out of memory");
    while (ps->pos < ps->len && ps->s[ps->pos] != q) {
        if (ps->s[ps->pos] == '\\' && ps->pos + 1 < ps->len)
            ps->pos++;
        buf[n++] = ps->s[ps->pos++];
    }
    if (ps->pos == ps->len) {
        free(buf);
        return fail(ps, "unterminated string");
    }
    ps->pos++;
    buf[n] = '\0';
    v->kind = V_STRING;
    v->text = buf;
    v->len = n;
    return true;
}

static bool value(struct parser *ps, struct value *v)
{
    skip_ws(ps);
    if (ps->pos == ps->len)
        return fail(ps, "a value expected");
    char c = ps->s[ps->pos];
    if (c == '\'' || c == '"')
        return quoted(ps, v);
    if (c == '$') {
        size_t start = ps->pos;
        if (ps->pos + 1 >= ps->len || ps->s[ps->pos + 1] != '{')
            return fail(ps, "'${name}' expected");
        ps->pos += 2;
        size_t n = 0;
        while (ps->pos + n < ps->len && (isalnum((unsigned char)ps->s[ps->pos + n]) ||
                                         ps->s[ps->pos + n] == '_' || ps->s[ps->pos + n] == '-'))
            n++;
        if (n == 0 || ps->pos + n >= ps->len || ps->s[ps->pos + n] != '}') {
            ps->pos = start;
            return fail(ps, "'${name}' expected");
        }
        v->kind = V_VAR;
        v->text = copy(ps->s + ps->pos, n);
        v->len = n;
        ps->pos += n + 1;
        return v->text || fail(ps, "out of memory");
    }
    size_t n = word_len(ps);
    if (n == 0)
        return fail(ps, "a value expected");
    if (word_is(ps, n, "@user._id") || word_is(ps, n, "@user.userid"))
        v->kind = V_USER_ID;
    else if (word_is(ps, n, "@user.roles"))
        v->kind = V_USER_ROLES;
    else if (word_is(ps, n, "@now"))
        v->kind = V_NOW;
    else if (ps->s[ps->pos] == '@')
        return fail(ps, "unknown variable '%.*s'", (int)(n > 40 ? 40 : n), ps->s + ps->pos);
    else
        v->kind = V_STRING;
    v->text = copy(ps->s + ps->pos, n);
    v->len = n;
    ps->pos += n;
    return v->text || fail(ps, "out of memory");
}

/* Splits a path argument; '.' and '..' segments are refused. */
static bool split_path(struct parser *ps, struct value *v, bool template)
{
    if (v->kind != V_STRING || v->len == 0 || v->text[0] != '/')
        return fail(ps, "a path must be a string starting with '/'");
    size_t i = 0;
    while (i < v->len) {
        while (i < v->len && v->text[i] == '/')
            i++;
        size_t start = i;
        while (i < v->len && v->text[i] != '/')
            i++;
        if (i == start)
            break;
        struct sv seg = {v->text + start, i - start};
        if (sv_eq_cstr(seg, ".") || sv_eq_cstr(seg, ".."))
            return fail(ps, "'.' and '..' are not allowed in a path");
        if (template && sv_eq_cstr(seg, "*") && i == v->len) {
            v->rest = true;
            break;
        }
        if (v->nsegs == SEGS_MAX)
            return fail(ps, "a path of more than %d segments", SEGS_MAX);
        v->segs[v->nsegs++] = seg;
    }
    return true;
}

static const struct {
    const char *name;
    enum node_kind kind;
    size_t min, max;
} calls[] = {
    {"path", N_PATH, 1, 1},          {"path-prefix", N_PREFIX, 1, ARGS_MAX},
    {"path-template", N_TEMPLATE, 1, 1}, {"method", N_METHOD, 1, ARGS_MAX},
    {"qparams-contain", N_QPARAMS, 1, ARGS_MAX}, {"equals", N_EQUALS, 2, 2},
    {"true", N_TRUE, 0, 0},          {"false", N_FALSE, 0, 0},
};

/* Arguments: value, key=value, or key={v1, v2} lists. */
static bool arguments(struct parser *ps, struct node *nd)
{
    if (peek(ps, ')'))
        return true;
    do {
        size_t n = word_len(ps);
        size_t save = ps->pos;
        ps->pos += n;
        if (!(n > 0 && peek(ps, '=')))
            ps->pos = save;
        else
            ps->pos++;
        bool list = peek(ps, '{');
        if (list)
            ps->pos++;
        do {
            if (nd->nargs == ARGS_MAX)
                return fail(ps, "more than %d arguments", ARGS_MAX);
            if (!value(ps, &nd->args[nd->nargs++]))
                return false;
        } while (list && peek(ps, ',') && ++ps->pos);
        if (list && !expect(ps, '}'))
            return false;
    } while (peek(ps, ',') && ++ps->pos);
    return true;
}

static int expr(struct parser *ps, int depth);

static int call(struct parser *ps)
{
    size_t n = word_len(ps);
    size_t at = ps->pos;
    size_t i = 0;
    while (i < sizeof calls / sizeof calls[0] && !word_is(ps, n, calls[i].name))
        i++;
    if (i == sizeof calls / sizeof calls[0]) {
        fail(ps, n ? "unknown predicate '%.*s'" : "a predicate expected%.*s", (int)(n > 40 ? 40 : n),
             ps->s + ps->pos);
        return -1;
    }
    ps->pos += n;
    int id = new_node(ps, calls[i].kind);
    if (id < 0)
        return -1;
    struct node *nd = &ps->p->nodes[id];
    bool parens = peek(ps, '(');
    if (!parens && calls[i].min > 0) {
        fail(ps, "'(' expected");
        return -1;
    }
    if (parens && (!expect(ps, '(') || !arguments(ps, nd) || !expect(ps, ')')))
        return -1;
    if (nd->nargs < calls[i].min || nd->nargs > calls[i].max) {
        ps->pos = at;
        fail(ps, "%s takes %zu to %zu arguments, not %zu", calls[i].name, calls[i].min,
             calls[i].max, nd->nargs);
        return -1;
    }
    for (size_t k = 0; k < nd->nargs; k++) {
        bool path = nd->kind == N_PATH || nd->kind == N_PREFIX || nd->kind == N_TEMPLATE;
        if (path && !split_path(ps, &nd->args[k], nd->kind == N_TEMPLATE))
            return -1;
        if ((nd->kind == N_METHOD || nd->kind == N_QPARAMS) && nd->args[k].kind != V_STRING) {
            fail(ps, "%s takes names", calls[i].name);
            return -1;
        }
    }
    return id;
}

static int term(struct parser *ps, int depth)
{
    if (depth > ACL_PRED_DEPTH_MAX) {
        fail(ps, "nested deeper than %d", ACL_PRED_DEPTH_MAX);
        return -1;
    }
    size_t n = word_len(ps);
    if (word_is(ps, n, "not")) {
        ps->pos += n;
        int child = term(ps, depth + 1);
        int id = child < 0 ? -1 : new_node(ps, N_NOT);
        if (id >= 0)
            ps->p->nodes[id].a = child;
        return id;
    }
    if (peek(ps, '(')) {
        ps->pos++;
        int id = expr(ps, depth + 1);
        return id >= 0 && expect(ps, ')') ? id : -1;
    }
    return call(ps);
}

/* and binds tighter than or. */
static int conjunction(struct parser *ps, int depth)
{
    int left = term(ps, depth);
    while (left >= 0) {
        size_t n = word_len(ps);
        if (!word_is(ps, n, "and"))
            break;
        ps->pos += n;
        int right = term(ps, depth);
        int id = right < 0 ? -1 : new_node(ps, N_AND);
        if (id < 0)
            return -1;
        ps->p->nodes[id].a = left;
        ps->p->nodes[id].b = right;
        left = id;
    }
    return left;
}

static int expr(struct parser *ps, int depth)
{
    int left = conjunction(ps, depth);
    while (left >= 0) {
        size_t n = word_len(ps);
        if (!word_is(ps, n, "or"))
            break;
        ps->pos += n;
        int right = conjunction(ps, depth);
        int id = right < 0 ? -1 : new_node(ps, N_OR);
        if (id < 0)
            return -1;
        ps->p->nodes[id].a = left;
        ps->p->nodes[id].b = right;
        left = id;
    }
    return left;
}

struct acl_pred *acl_pred_parse(const char *text, size_t len, char *err, size_t errlen)
{
    struct parser ps = {.s = text, .len = len, .err = err, .errlen = errlen};
    if (len > ACL_PRED_TEXT_MAX) {
        snprintf(err, errlen, "at offset 0: longer than %d bytes", ACL_PRED_TEXT_MAX);
        return NULL;
    }
    if (memchr(text, '\0', len)) {
        snprintf(err, errlen, "at offset %zu: NUL byte", (size_t)((const char *)memchr(text, '\0', len) - text));
        return NULL;
    }
    ps.p = calloc(1, sizeof *ps.p);
    if (!ps.p) {
        snprintf(err, errlen, "at offset 0: out of memory");
        return NULL;
    }
    ps.p->root = expr(&ps, 0);
    skip_ws(&ps);
    if (ps.p->root >= 0 && ps.pos != ps.len)
        fail(&ps, "unexpected '%.20s'", ps.s + ps.pos);
    if (ps.failed || ps.p->root < 0) {
        if (!ps.failed)
            fail(&ps, "a predicate expected");
        acl_pred_free(ps.p);
        return NULL;
    }
    return ps.p;
}

void acl_pred_free(struct acl_pred *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        for (size_t k = 0; k < p->nodes[i].nargs; k++)
            free(p->nodes[i].args[k].text);
    }
    free(p);
}

/* ---- evaluation ---- */

static bool path_equals(const struct value *v, const struct acl_request *r, bool prefix)
{
    if (prefix ? r->nsegments < v->nsegs : r->nsegments != v->nsegs)
        return false;
    for (size_t i = 0; i < v->nsegs; i++) {
        if (!sv_eq(v->segs[i], r->segments[i]))
            return false;
    }
    return true;
}

static bool template_matches(const struct value *v, const struct acl_request *r,
                             struct acl_vars *vars)
{
    if (v->rest ? r->nsegments < v->nsegs : r->nsegments != v->nsegs)
        return false;
    struct acl_vars found = vars ? *vars : (struct acl_vars){0};
    for (size_t i = 0; i < v->nsegs; i++) {
        struct sv t = v->segs[i];
        if (t.len > 2 && t.ptr[0] == '{' && t.ptr[t.len - 1] == '}') {
            if (r->segments[i].len == 0)
                return false;
            if (found.n < ACL_VARS_MAX)
                found.v[found.n++] = (struct acl_var){{t.ptr + 1, t.len - 2}, r->segments[i]};
        } else if (!sv_eq(t, r->segments[i])) {
            return false;
        }
    }
    if (vars)
        *vars = found;
    return true;
}

/* Calls fn with each string the value stands for; true when one returns true. */
typedef bool (*each_fn)(struct sv s, const void *ctx);
static bool each_string(const struct value *v, const struct acl_request *r,
                        const struct acl_vars *vars, each_fn fn, const void *ctx)
{
    switch (v->kind) {
    case V_STRING:
        return fn((struct sv){v->text, v->len}, ctx);
    case V_USER_ID:
        return r->userid.len > 0 && fn(r->userid, ctx);
    case V_USER_ROLES:
        for (size_t i = 0; i < r->nroles; i++) {
            if (fn(sv_from_cstr(r->roles[i]), ctx))
                return true;
        }
        return false;
    case V_NOW: {
        char buf[24];
        int n = snprintf(buf, sizeof buf, "%" PRId64, r->now_ms);
        return fn((struct sv){buf, (size_t)n}, ctx);
    }
    case V_VAR:
        for (size_t i = 0; vars && i < vars->n; i++) {
            if (sv_eq(vars->v[i].name, (struct sv){v->text, v->len}))
                return fn(vars->v[i].value, ctx);
        }
        return false; /* an unknown variable never equals anything */
    }
    return false;
}

struct equals_ctx {
    const struct value *other;
    const struct acl_request *r;
    const struct acl_vars *vars;
};

static bool same(struct sv s, const void *ctx) { return sv_eq(s, *(const struct sv *)ctx); }

static bool other_side_has(struct sv s, const void *ctx)
{
    const struct equals_ctx *e = ctx;
    return each_string(e->other, e->r, e->vars, same, &s);
}

static bool has_param(const struct acl_request *r, struct sv name)
{
    for (size_t i = 0; i < r->nparams; i++) {
        if (sv_eq(r->params[i].name, name))
            return true;
    }
    return false;
}

static bool eval(const struct acl_pred *p, int id, const struct acl_request *r,
                 struct acl_vars *vars)
{
    const struct node *nd = &p->nodes[id];
    switch (nd->kind) {
    case N_AND:
        return eval(p, nd->a, r, vars) && eval(p, nd->b, r, vars);
    case N_OR: {
        size_t keep = vars->n;
        if (eval(p, nd->a, r, vars))
            return true;
        vars->n = keep; /* captures of a failed branch do not count */
        return eval(p, nd->b, r, vars);
    }
    case N_NOT: {
        struct acl_vars scratch = *vars;
        return !eval(p, nd->a, r, &scratch);
    }
    case N_TRUE:
        return true;
    case N_FALSE:
        return false;
    case N_PATH:
        return path_equals(&nd->args[0], r, false);
    case N_PREFIX:
        for (size_t i = 0; i < nd->nargs; i++) {
            if (path_equals(&nd->args[i], r, true))
                return true;
        }
        return false;
    case N_TEMPLATE:
        return template_matches(&nd->args[0], r, vars);
    case N_METHOD:
        for (size_t i = 0; i < nd->nargs; i++) {
            const struct value *v = &nd->args[i];
            if (v->len == r->method.len && strncasecmp(v->text, r->method.ptr, v->len) == 0)
                return true;
        }
        return false;
    case N_QPARAMS:
        for (size_t i = 0; i < nd->nargs; i++) {
            if (!has_param(r, (struct sv){nd->args[i].text, nd->args[i].len}))
                return false;
        }
        return true;
    case N_EQUALS: {
        struct equals_ctx e = {&nd->args[1], r, vars};
        return each_string(&nd->args[0], r, vars, other_side_has, &e);
    }
    }
    return false;
}

bool acl_pred_eval(const struct acl_pred *p, const struct acl_request *r, struct acl_vars *vars)
{
    struct acl_vars local = {0};
    return eval(p, p->root, r, vars ? vars : &local);
}

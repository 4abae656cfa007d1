/*
 * mql_filter.c: MongoDB query filters compiled into a small tree and
 * matched against bson documents (see mql.h for the subset).
 *
 * A field condition is a path and a list of operators, all of which must
 * hold. Each operator is "positive" (some value reachable at the path
 * satisfies it) or its negation ($ne, $nin, $not, $exists: false), which is
 * how MongoDB gives {a: {$ne: 1}} its meaning over arrays: no element is 1.
 * Regular expressions are POSIX extended (glibc), with \d and (?: ) mapped.
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
    regex_t **res; /* $in's regular expressions; one for OP_REGEX */
    size_t nres;
    int64_t size;
    uint8_t types[256]; /* $type: the bson types wanted */
    struct op *ops;     /* OP_ELEM_OPS, OP_ALLOF */
    size_t nops;
    struct node *sub; /* OP_ELEM_DOC */
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
        regfree(o->res[i]);
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

/* PCRE to POSIX extended: \d and \D (also in brackets) and (?: ) groups;
 * glibc already knows \w \W \s \S \b \B. Other PCRE-only syntax fails in
 * regcomp and is refused as an invalid expression. */
static char *pcre_to_ere(const char *re)
{
    size_t n = strlen(re);
    char *out = bson_malloc(n * 6 + 1), *o = out;
    bool bracket = false;
    for (size_t i = 0; i < n; i++) {
        char c = re[i];
        if (c == '\\' && i + 1 < n) {
            char d = re[++i];
            if (d == 'd' || d == 'D') {
                const char *rep = bracket ? "0-9" : d == 'd' ? "[0-9]" : "[^0-9]";
                if (bracket && d == 'D') {
                    /* [^\D] style is rare; keep it unsupported rather than wrong */
                    bson_free(out);
                    return NULL;
                }
                o += sprintf(o, "%s", rep);
            } else {
                *o++ = '\\';
                *o++ = d;
            }
            continue;
        }
        if (!bracket && c == '(' && re[i + 1] == '?' && re[i + 2] == ':') {
            *o++ = '(';
            i += 2;
            continue;
        }
        if (!bracket && c == '[') {
            bracket = true;
            *o++ = c;
            if (re[i + 1] == '^')
                *o++ = re[++i];
            if (re[i + 1] == ']')
                *o++ = re[++i];
            continue;
        }
        if (bracket && c == ']')
            bracket = false;
        *o++ = c;
    }
    *o = '\0';
    return out;
}

static bool regex_compile(const char *pattern, const char *options, regex_t **out,
                          struct restfcgi_error *err)
{
    int flags = REG_EXTENDED | REG_NOSUB;
    for (const char *p = options; *p; p++) {
        switch (*p) {
        case 'i': flags |= REG_ICASE; break;
        case 'm': flags |= REG_NEWLINE; break;
        case 's':
        case 'u': break;
        default: return fail(err, 400, "$regex: option '%c' is not supported (use i, m, s)", *p);
        }
    }
    char *ere = pcre_to_ere(pattern);
    if (!ere)
        return fail(err, 400, "$regex: unsupported regular expression /%s/", pattern);
    regex_t *re = bson_malloc(sizeof *re);
    int rc = regcomp(re, ere, flags);
    bson_free(ere);
    if (rc) {
        char msg[128];
        regerror(rc, re, msg, sizeof msg);
        bson_free(re);
        return fail(err, 400, "$regex: invalid regular expression /%s/: %s", pattern, msg);
    }
    *out = re;
    return true;
}

static bool add_regex(struct op *o, const char *pattern, const char *options, struct restfcgi_error *err)
{
    regex_t *re = NULL;
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
static bool ops_hold_on(const struct op *ops, size_t n, const bson_value_t *v);

static bool regex_match(const regex_t *re, const bson_value_t *v)
{
    if (v->value_type == BSON_TYPE_UTF8)
        return regexec(re, v->value.v_utf8.str, 0, NULL, 0) == 0;
    if (v->value_type == BSON_TYPE_SYMBOL)
        return regexec(re, v->value.v_symbol.symbol, 0, NULL, 0) == 0;
    return false;
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

/* One operator on one value (no array expansion). */
static bool scalar_match(const struct op *o, const bson_value_t *v)
{
    int c;
    switch (o->kind) {
    case OP_EQ: return mql_value_equal(v, &o->v);
    case OP_GT: return bracket_compare(v, &o->v, &c) && c > 0;
    case OP_GTE: return bracket_compare(v, &o->v, &c) && c >= 0;
    case OP_LT: return bracket_compare(v, &o->v, &c) && c < 0;
    case OP_LTE: return bracket_compare(v, &o->v, &c) && c <= 0;
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
 * most operators see an array and each of its elements. */
static bool leaf_match(const struct op *o, const bson_value_t *v)
{
    bson_t d;
    bson_iter_t it;
    switch (o->kind) {
    case OP_NEVER: return false;
    case OP_EXISTS: return v != NULL;
    case OP_ALLOF: return v && ops_hold_on(o->ops, o->nops, v);
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
                if (ops_hold_on(o->ops, o->nops, e))
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
    if (v->value_type == BSON_TYPE_ARRAY && value_doc(v, &d) && bson_iter_init(&it, &d))
        while (bson_iter_next(&it))
            if (scalar_match(o, bson_iter_value(&it)))
                return true;
    return false;
}

/* Every operator (with its negation) holds on the one value v: the
 * conditions of $elemMatch on an element, and those of $not. */
static bool ops_hold_on(const struct op *ops, size_t n, const bson_value_t *v)
{
    for (size_t i = 0; i < n; i++)
        if (leaf_match(&ops[i], v) == ops[i].negate)
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
    c->matched = leaf_match(c->op, v);
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

/*
 * mql_expr.c: the expression engine shared by pipeline updates and
 * aggregation (see mql_expr.h).
 *
 * Memory comes from bson_malloc, which aborts on exhaustion like libbson's
 * own appends.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mql_expr.h"


bool mqx_fail(struct restfcgi_error *err, int code,
                                                       const char *fmt, ...)
{
    err->domain = code >= 500 ? RESTFCGI_ERR_INTERNAL : RESTFCGI_ERR_REQUEST;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

/* Puts the operator or stage an error of another part of the engine came
 * from in front of its message; the domain and code stay (403 for $where). */
bool mqx_prefix_error(struct restfcgi_error *err, const char *what)
{
    char msg[sizeof err->message];
    size_t n = strlen(what);
    if (n + 2 >= sizeof msg)
        return false;
    memcpy(msg, what, n);
    memcpy(msg + n, ": ", 2);
    size_t rest = strnlen(err->message, sizeof err->message - 1);
    if (rest > sizeof msg - n - 3)
        rest = sizeof msg - n - 3;
    memcpy(msg + n + 2, err->message, rest);
    msg[n + 2 + rest] = '\0';
    memcpy(err->message, msg, sizeof msg);
    if (!err->domain)
        err->domain = RESTFCGI_ERR_REQUEST;
    if (!err->code)
        err->code = 400;
    return false;
}

const char *mqx_type_name(bson_type_t t)
{
    switch (t) {
    case BSON_TYPE_DOUBLE: return "double";
    case BSON_TYPE_UTF8: return "string";
    case BSON_TYPE_DOCUMENT: return "object";
    case BSON_TYPE_ARRAY: return "array";
    case BSON_TYPE_BINARY: return "binData";
    case BSON_TYPE_UNDEFINED: return "undefined";
    case BSON_TYPE_OID: return "objectId";
    case BSON_TYPE_BOOL: return "bool";
    case BSON_TYPE_DATE_TIME: return "date";
    case BSON_TYPE_NULL: return "null";
    case BSON_TYPE_REGEX: return "regex";
    case BSON_TYPE_DBPOINTER: return "dbPointer";
    case BSON_TYPE_CODE: return "javascript";
    case BSON_TYPE_SYMBOL: return "symbol";
    case BSON_TYPE_CODEWSCOPE: return "javascriptWithScope";
    case BSON_TYPE_INT32: return "int";
    case BSON_TYPE_TIMESTAMP: return "timestamp";
    case BSON_TYPE_INT64: return "long";
    case BSON_TYPE_DECIMAL128: return "decimal";
    case BSON_TYPE_MINKEY: return "minKey";
    case BSON_TYPE_MAXKEY: return "maxKey";
    default: return "unknown";
    }
}

/* A read-only view of a document or array value. */
bool mqx_value_doc(const bson_value_t *v, bson_t *out)
{
    return (v->value_type == BSON_TYPE_DOCUMENT || v->value_type == BSON_TYPE_ARRAY) &&
           bson_init_static(out, v->value.v_doc.data, v->value.v_doc.data_len);
}

bool mqx_iter_doc(const bson_iter_t *it, bson_t *out)
{
    uint32_t len;
    const uint8_t *data;
    if (BSON_ITER_HOLDS_DOCUMENT(it))
        bson_iter_document(it, &len, &data);
    else if (BSON_ITER_HOLDS_ARRAY(it))
        bson_iter_array(it, &len, &data);
    else
        return false;
    return bson_init_static(out, data, len);
}

/* The key of array element i; buf needs 16 bytes. */
const char *mqx_index_key(uint32_t i, char *buf, int *len)
{
    const char *key;
    *len = (int)bson_uint32_to_string(i, &key, buf, 16);
    return key;
}

/* An integral number (int32, int64, or a double with an integral value). */
bool mqx_as_int64(const bson_value_t *v, int64_t *out)
{
    switch (v->value_type) {
    case BSON_TYPE_INT32: *out = v->value.v_int32; return true;
    case BSON_TYPE_INT64: *out = v->value.v_int64; return true;
    case BSON_TYPE_DOUBLE: {
        double d = v->value.v_double;
        if (!(d >= -9.2e18 && d <= 9.2e18) || d != (double)(int64_t)d)
            return false;
        *out = (int64_t)d;
        return true;
    }
    default: return false;
    }
}

bool mqx_depth_check(const bson_t *in, const bson_t *out, const char *where,
                     struct restfcgi_error *err)
{
    size_t d = mql_doc_depth(out, MQL_MAX_DEPTH);
    if (d <= MQL_MAX_DEPTH)
        return true;
    size_t was = mql_doc_depth(in, MQL_MAX_NESTING);
    if (mql_doc_depth(out, was) <= was)
        return true;
    return mqx_fail(err, 400, "%s would nest the document deeper than the limit of %d levels",
                    where, MQL_MAX_DEPTH);
}

/* A stable merge sort of pointers. */
void mqx_merge_sort(void **v, size_t n, sort_cmp_fn cmp, void *ctx)
{
    if (n < 2)
        return;
    void **tmp = bson_malloc(n * sizeof *tmp);
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n;
            size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = cmp(v[j], v[i], ctx) < 0 ? v[j++] : v[i++];
            while (i < mid)
                tmp[k++] = v[i++];
            while (j < hi)
                tmp[k++] = v[j++];
        }
        memcpy(v, tmp, n * sizeof *v);
    }
    bson_free(tmp);
}

/* ---- expressions: literals, "$field.path", $$NOW/$$ROOT/$$CURRENT/$$REMOVE,
 * {$literal: v}, and documents and arrays of those ---- */


/* A field path after its "$": non-empty components not starting with '$',
 * at most MQL_MAX_NESTING of them (the walks along it recurse). */
static bool fieldpath_ok(const char *s, size_t len)
{
    if (len == 0)
        return false;
    size_t start = 0, n = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (i == start || s[start] == '$' || ++n > MQL_MAX_NESTING)
                return false;
            start = i + 1;
        }
    }
    return true;
}

static bool var_is(const char *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

static bool expr_check(const bson_value_t *e, const char *where, struct restfcgi_error *err,
                       size_t depth);

bool mqx_expr_check(const bson_value_t *e, const char *where, struct restfcgi_error *err)
{
    return expr_check(e, where, err, 1);
}

/* depth bounds the recursion here and in mqx_expr_append, which follows the
 * same (checked) expression. */
static bool expr_check(const bson_value_t *e, const char *where, struct restfcgi_error *err,
                       size_t depth)
{
    bson_t d;
    bson_iter_t it;
    if (depth > MQL_MAX_NESTING)
        return mqx_fail(err, 400, "%s: an expression nested deeper than %d levels", where,
                        MQL_MAX_NESTING);
    switch (e->value_type) {
    case BSON_TYPE_UTF8: {
        const char *s = e->value.v_utf8.str;
        size_t len = e->value.v_utf8.len;
        if (len == 0 || s[0] != '$')
            return true;
        if (strlen(s) != len)
            return mqx_fail(err, 400, "%s: a field path may not contain a NUL byte", where);
        if (s[1] != '$') {
            if (!fieldpath_ok(s + 1, len - 1))
                return mqx_fail(err, 400, "%s: invalid field path '%s'", where, s);
            return true;
        }
        const char *name = s + 2, *dot = strchr(name, '.');
        size_t nl = dot ? (size_t)(dot - name) : strlen(name);
        if (!var_is(name, nl, "NOW") && !var_is(name, nl, "ROOT") && !var_is(name, nl, "CURRENT") &&
            !var_is(name, nl, "REMOVE"))
            return mqx_fail(err, 400, "%s: unsupported variable '$$%.*s'", where, (int)nl, name);
        if (dot && !fieldpath_ok(dot + 1, strlen(dot + 1)))
            return mqx_fail(err, 400, "%s: invalid field path '%s'", where, s);
        return true;
    }
    case BSON_TYPE_DOCUMENT: {
        if (!mqx_value_doc(e, &d) || !bson_iter_init(&it, &d))
            return mqx_fail(err, 400, "%s: invalid BSON in an expression", where);
        if (!bson_iter_next(&it))
            return true;
        const char *k = bson_iter_key(&it);
        if (k[0] == '$') {
            if (strcmp(k, "$literal") != 0)
                return mqx_fail(err, 400, "%s: unsupported expression operator %s", where, k);
            if (bson_iter_next(&it))
                return mqx_fail(err, 400,
                            "%s: an expression must have exactly one field, $literal; found %s",
                            where, bson_iter_key(&it));
            return true;
        }
        do {
            k = bson_iter_key(&it);
            if (k[0] == '$')
                return mqx_fail(err, 400, "%s: the field name '%s' of an object may not start with '$'",
                            where, k);
            if (strchr(k, '.'))
                return mqx_fail(err, 400, "%s: the field name '%s' of an object may not contain '.'",
                            where, k);
            bson_value_t v = *bson_iter_value(&it);
            if (!expr_check(&v, where, err, depth + 1))
                return false;
        } while (bson_iter_next(&it));
        return true;
    }
    case BSON_TYPE_ARRAY:
        if (!mqx_value_doc(e, &d) || !bson_iter_init(&it, &d))
            return mqx_fail(err, 400, "%s: invalid BSON in an expression", where);
        while (bson_iter_next(&it)) {
            bson_value_t v = *bson_iter_value(&it);
            if (!expr_check(&v, where, err, depth + 1))
                return false;
        }
        return true;
    default: return true;
    }
}

static bool fp_append(bson_t *dst, const char *key, int keylen, const bson_t *doc,
                      const char *path);

/* Aggregation field paths map over arrays: each document element gives its
 * value (missing ones are left out); other elements are skipped. */
static void fp_array(bson_t *dst, const bson_t *arr, const char *path)
{
    bson_iter_t it;
    uint32_t i = 0;
    if (!bson_iter_init(&it, arr))
        return;
    while (bson_iter_next(&it)) {
        bson_t sub;
        char buf[16];
        int kl;
        if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !mqx_iter_doc(&it, &sub))
            continue;
        const char *k = mqx_index_key(i, buf, &kl);
        if (fp_append(dst, k, kl, &sub, path))
            i++;
    }
}

/* Appends the value of path in doc under key; false when it is missing. */
static bool fp_append(bson_t *dst, const char *key, int keylen, const bson_t *doc, const char *path)
{
    const char *dot = strchr(path, '.');
    int clen = dot ? (int)(dot - path) : (int)strlen(path);
    bson_iter_t it;
    bson_t sub, child;
    if (!bson_iter_init_find_w_len(&it, doc, path, clen))
        return false;
    if (!dot) {
        bson_append_iter(dst, key, keylen, &it);
        return true;
    }
    if (BSON_ITER_HOLDS_DOCUMENT(&it) && mqx_iter_doc(&it, &sub))
        return fp_append(dst, key, keylen, &sub, dot + 1);
    if (BSON_ITER_HOLDS_ARRAY(&it) && mqx_iter_doc(&it, &sub)) {
        bson_append_array_begin(dst, key, keylen, &child);
        fp_array(&child, &sub, dot + 1);
        bson_append_array_end(dst, &child);
        return true;
    }
    return false;
}

/* Appends the value of a "$..." string expression; false when missing. */
static bool ref_append(bson_t *dst, const char *key, int keylen, const char *s,
                       const struct xctx *x)
{
    if (s[1] != '$')
        return fp_append(dst, key, keylen, x->root, s + 1);
    const char *name = s + 2, *dot = strchr(name, '.');
    size_t nl = dot ? (size_t)(dot - name) : strlen(name);
    if (var_is(name, nl, "NOW")) {
        if (dot)
            return false;
        bson_append_date_time(dst, key, keylen, x->now_ms);
        return true;
    }
    if (var_is(name, nl, "ROOT") || var_is(name, nl, "CURRENT")) {
        if (!dot) {
            bson_append_document(dst, key, keylen, x->root);
            return true;
        }
        return fp_append(dst, key, keylen, x->root, dot + 1);
    }
    return false; /* $$REMOVE */
}

/* Appends the value of a checked expression under key; false when it
 * evaluates to missing (nothing appended). */
bool mqx_expr_append(bson_t *dst, const char *key, int keylen, const bson_value_t *e,
                        const struct xctx *x)
{
    bson_t d, child;
    bson_iter_t it;
    switch (e->value_type) {
    case BSON_TYPE_UTF8:
        if (e->value.v_utf8.len > 0 && e->value.v_utf8.str[0] == '$')
            return ref_append(dst, key, keylen, e->value.v_utf8.str, x);
        break;
    case BSON_TYPE_DOCUMENT:
        if (!mqx_value_doc(e, &d) || !bson_iter_init(&it, &d))
            break;
        if (bson_iter_next(&it) && strcmp(bson_iter_key(&it), "$literal") == 0) {
            bson_append_iter(dst, key, keylen, &it);
            return true;
        }
        bson_append_document_begin(dst, key, keylen, &child);
        if (bson_iter_init(&it, &d)) {
            while (bson_iter_next(&it)) {
                bson_value_t v = *bson_iter_value(&it);
                mqx_expr_append(&child, bson_iter_key(&it), (int)bson_iter_key_len(&it), &v, x);
            }
        }
        bson_append_document_end(dst, &child);
        return true;
    case BSON_TYPE_ARRAY: {
        if (!mqx_value_doc(e, &d) || !bson_iter_init(&it, &d))
            break;
        uint32_t i = 0;
        bson_append_array_begin(dst, key, keylen, &child);
        while (bson_iter_next(&it)) {
            char buf[16];
            int kl;
            const char *k = mqx_index_key(i++, buf, &kl);
            bson_value_t v = *bson_iter_value(&it);
            if (!mqx_expr_append(&child, k, kl, &v, x))
                bson_append_null(&child, k, kl);
        }
        bson_append_array_end(dst, &child);
        return true;
    }
    default: break;
    }
    bson_append_value(dst, key, keylen, e);
    return true;
}

/* ---- $addFields/$set: a tree of the fields to set. A document value whose
 * first field does not start with '$' nests (and merges into an existing
 * document, as MongoDB); anything else is an expression. Expressions read the
 * stage's input document, not the one being built. ---- */

struct afnode {
    char *name;
    bool leaf;
    size_t depth; /* the root is 0 */
    bson_value_t e; /* leaf: the expression, a view into the stage */
    struct afnode **kids;
    size_t n, cap;
};

static struct afnode *af_new(const char *name, size_t len)
{
    struct afnode *a = bson_malloc0(sizeof *a);
    a->name = bson_strndup(name ? name : "", len);
    return a;
}

void mqx_af_free(struct afnode *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        mqx_af_free(a->kids[i]);
    bson_free(a->kids);
    bson_free(a->name);
    bson_free(a);
}

static struct afnode *af_find(const struct afnode *a, const char *name, size_t len, size_t *at)
{
    for (size_t i = 0; i < a->n; i++) {
        if (strlen(a->kids[i]->name) == len && memcmp(a->kids[i]->name, name, len) == 0) {
            if (at)
                *at = i;
            return a->kids[i];
        }
    }
    return NULL;
}

static struct afnode *af_push(struct afnode *a, const char *name, size_t len)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 4;
        a->kids = bson_realloc(a->kids, a->cap * sizeof *a->kids);
    }
    a->kids[a->n] = af_new(name, len);
    a->kids[a->n]->depth = a->depth + 1;
    return a->kids[a->n++];
}

static bool plain_subdoc(const bson_value_t *v, bool *empty)
{
    bson_t d;
    bson_iter_t it;
    *empty = false;
    if (v->value_type != BSON_TYPE_DOCUMENT || !mqx_value_doc(v, &d) || !bson_iter_init(&it, &d))
        return false;
    if (!bson_iter_next(&it)) {
        *empty = true;
        return false;
    }
    return bson_iter_key(&it)[0] != '$';
}

static bool af_add(struct afnode *a, const char *path, const bson_value_t *v, const char *where,
                   struct restfcgi_error *err)
{
    const char *p = path;
    struct afnode *cur = a;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        if (len == 0)
            return mqx_fail(err, 400, "%s: the field path '%s' contains an empty field name", where,
                        path);
        if (p[0] == '$')
            return mqx_fail(err, 400, "%s: the field name '%s' may not start with '$'", where, path);
        /* Each level of the tree is a level of the documents it builds. */
        if (cur->depth >= MQL_MAX_DEPTH)
            return mqx_fail(err, 400, "%s: the field '%.40s...' nests deeper than the limit of %d levels",
                            where, path, MQL_MAX_DEPTH);
        struct afnode *k = af_find(cur, p, len, NULL);
        if (k && k->leaf)
            return mqx_fail(err, 400, "%s: path collision at '%s'", where, path);
        if (!dot) {
            bool empty;
            if (plain_subdoc(v, &empty)) {
                bson_t d;
                bson_iter_t it;
                if (!k)
                    k = af_push(cur, p, len);
                if (!mqx_value_doc(v, &d) || !bson_iter_init(&it, &d))
                    return mqx_fail(err, 400, "%s: invalid BSON", where);
                while (bson_iter_next(&it)) {
                    bson_value_t sub = *bson_iter_value(&it);
                    if (!af_add(k, bson_iter_key(&it), &sub, where, err))
                        return false;
                }
                return true;
            }
            if (empty)
                return mqx_fail(err, 400,
                            "%s: an empty object is not a valid value for '%s' (use {$literal: {}})",
                            where, path);
            if (k)
                return mqx_fail(err, 400, "%s: path collision at '%s'", where, path);
            if (!mqx_expr_check(v, where, err))
                return false;
            k = af_push(cur, p, len);
            k->leaf = true;
            k->e = *v;
            return true;
        }
        if (!k)
            k = af_push(cur, p, len);
        cur = k;
        p = dot + 1;
    }
}

static void af_apply_value(bson_t *dst, const char *key, int keylen, const struct afnode *a,
                           const bson_value_t *v, const bson_t *skel, const struct xctx *x);

/* What an inclusion projection keeps of v for the subtree a: the documents
 * on a's paths, without their fields (arrays keep their document elements). */
static bool skeleton_append(bson_t *dst, const char *key, int keylen, const struct afnode *a,
                            const bson_value_t *v)
{
    bson_t in, child;
    bson_iter_t it;
    if (v->value_type == BSON_TYPE_DOCUMENT && mqx_value_doc(v, &in) && bson_iter_init(&it, &in)) {
        bson_append_document_begin(dst, key, keylen, &child);
        while (bson_iter_next(&it)) {
            const struct afnode *c = af_find(a, bson_iter_key(&it), bson_iter_key_len(&it), NULL);
            if (c && !c->leaf) {
                bson_value_t ev = *bson_iter_value(&it);
                skeleton_append(&child, bson_iter_key(&it), (int)bson_iter_key_len(&it), c, &ev);
            }
        }
        bson_append_document_end(dst, &child);
        return true;
    }
    if (v->value_type == BSON_TYPE_ARRAY && mqx_value_doc(v, &in) && bson_iter_init(&it, &in)) {
        uint32_t i = 0;
        bson_append_array_begin(dst, key, keylen, &child);
        while (bson_iter_next(&it)) {
            char buf[16];
            int kl;
            const char *k = mqx_index_key(i, buf, &kl);
            bson_value_t ev = *bson_iter_value(&it);
            if (skeleton_append(&child, k, kl, a, &ev))
                i++;
        }
        bson_append_array_end(dst, &child);
        return true;
    }
    return false;
}

/* Appends to dst the fields of in (NULL: none) with the tree a applied.
 * skel (projection only) is the original document at this level, for the
 * subtrees in lacks. */
void mqx_af_apply_doc(bson_t *dst, const bson_t *in, const struct afnode *a, const bson_t *skel,
                         const struct xctx *x)
{
    bool *done = bson_malloc0(a->n + 1);
    bson_iter_t it, s;
    if (in && bson_iter_init(&it, in)) {
        while (bson_iter_next(&it)) {
            const char *k = bson_iter_key(&it);
            uint32_t kl = bson_iter_key_len(&it);
            size_t ci;
            const struct afnode *c = af_find(a, k, kl, &ci);
            if (!c) {
                bson_append_iter(dst, NULL, 0, &it);
                continue;
            }
            if (done[ci])
                continue;
            done[ci] = true;
            if (c->leaf) {
                mqx_expr_append(dst, k, (int)kl, &c->e, x);
                continue;
            }
            bson_value_t v = *bson_iter_value(&it);
            bson_t sk;
            const bson_t *skp = NULL;
            if (skel && v.value_type == BSON_TYPE_DOCUMENT &&
                bson_iter_init_find_w_len(&s, skel, k, (int)kl) && BSON_ITER_HOLDS_DOCUMENT(&s) &&
                mqx_iter_doc(&s, &sk))
                skp = &sk;
            af_apply_value(dst, k, (int)kl, c, &v, skp, x);
        }
    }
    for (size_t i = 0; i < a->n; i++) {
        const struct afnode *c = a->kids[i];
        if (done[i])
            continue;
        if (c->leaf) {
            mqx_expr_append(dst, c->name, -1, &c->e, x);
            continue;
        }
        bson_t sk = BSON_INITIALIZER;
        bson_iter_t sv;
        bool have = false;
        if (skel && bson_iter_init_find(&s, skel, c->name)) {
            bson_value_t ov = *bson_iter_value(&s);
            have = skeleton_append(&sk, "v", 1, c, &ov) && bson_iter_init_find(&sv, &sk, "v");
        }
        if (have) {
            bson_value_t v = *bson_iter_value(&sv);
            af_apply_value(dst, c->name, -1, c, &v, NULL, x);
        } else {
            af_apply_value(dst, c->name, -1, c, NULL, NULL, x);
        }
        bson_destroy(&sk);
    }
    bson_free(done);
}

/* Applies the subtree a to the value v (NULL: missing): into a document,
 * into each element of an array, and a new document in place of anything
 * else. */
static void af_apply_value(bson_t *dst, const char *key, int keylen, const struct afnode *a,
                           const bson_value_t *v, const bson_t *skel, const struct xctx *x)
{
    bson_t in, child;
    bson_iter_t it;
    if (v && v->value_type == BSON_TYPE_ARRAY && mqx_value_doc(v, &in) && bson_iter_init(&it, &in)) {
        uint32_t i = 0;
        bson_append_array_begin(dst, key, keylen, &child);
        while (bson_iter_next(&it)) {
            char buf[16];
            int kl;
            const char *k = mqx_index_key(i++, buf, &kl);
            bson_value_t ev = *bson_iter_value(&it);
            af_apply_value(&child, k, kl, a, &ev, NULL, x);
        }
        bson_append_array_end(dst, &child);
        return;
    }
    bool doc = v && v->value_type == BSON_TYPE_DOCUMENT && mqx_value_doc(v, &in);
    bson_append_document_begin(dst, key, keylen, &child);
    mqx_af_apply_doc(&child, doc ? &in : NULL, a, doc ? skel : NULL, x);
    bson_append_document_end(dst, &child);
}

/* An $addFields/$set stage. */
struct afnode *mqx_addfields_compile(const bson_value_t *spec, const char *where,
                                        struct restfcgi_error *err)
{
    bson_t d;
    bson_iter_t it;
    if (spec->value_type != BSON_TYPE_DOCUMENT || !mqx_value_doc(spec, &d) || !bson_iter_init(&it, &d)) {
        mqx_fail(err, 400, "%s takes a document, not a %s", where, mqx_type_name(spec->value_type));
        return NULL;
    }
    struct afnode *a = af_new(NULL, 0);
    while (bson_iter_next(&it)) {
        bson_value_t v = *bson_iter_value(&it);
        if (!af_add(a, bson_iter_key(&it), &v, where, err)) {
            mqx_af_free(a);
            return NULL;
        }
    }
    if (!a->n) {
        mqx_af_free(a);
        mqx_fail(err, 400, "%s needs at least one field", where);
        return NULL;
    }
    return a;
}

/* ---- $unset and $project ---- */

bool mqx_plain_path_ok(const char *s)
{
    return s[0] != '$' && fieldpath_ok(s, strlen(s));
}

/* Paths a and b (dotted) where one is the other or a prefix of it. */
static bool paths_overlap(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;
    if (memcmp(a, b, n) != 0)
        return false;
    return la == lb || (la < lb ? b[la] == '.' : a[lb] == '.');
}


void mqx_proj_free(struct proj *pr)
{
    mql_projection_free(pr->p);
    if (pr->spec)
        bson_destroy(pr->spec);
    mqx_af_free(pr->computed);
    memset(pr, 0, sizeof *pr);
}

struct strlist {
    char **v;
    size_t n, cap;
};

static void strlist_add(struct strlist *l, const char *s)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = bson_realloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = bson_strdup(s);
}

static void strlist_free(struct strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        bson_free(l->v[i]);
    bson_free(l->v);
}

struct proj_parse {
    bson_t *flags;
    struct afnode *computed;
    struct strlist incl, comp;
    size_t excl;
    int id; /* -1 not given, 0 excluded, 1 included */
};

static bool proj_flatten(struct proj_parse *pp, const bson_t *spec, const char *prefix,
                         const char *where, struct restfcgi_error *err)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, spec))
        return mqx_fail(err, 400, "%s: invalid BSON", where);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (!mqx_plain_path_ok(k))
            return mqx_fail(err, 400, "%s: invalid field name '%s'", where, k);
        char *full = prefix ? bson_strdup_printf("%s.%s", prefix, k) : bson_strdup(k);
        if (!mqx_plain_path_ok(full)) { /* nested past MQL_MAX_NESTING */
            bson_free(full);
            return mqx_fail(err, 400, "%s: the specification nests deeper than %d levels", where,
                            MQL_MAX_NESTING);
        }
        bson_value_t v = *bson_iter_value(&it);
        bool ok = true, empty, truthy = false, flag = true;
        switch (v.value_type) {
        case BSON_TYPE_BOOL: truthy = v.value.v_bool; break;
        case BSON_TYPE_INT32: truthy = v.value.v_int32 != 0; break;
        case BSON_TYPE_INT64: truthy = v.value.v_int64 != 0; break;
        case BSON_TYPE_DOUBLE: truthy = v.value.v_double != 0; break;
        default: flag = false; break;
        }
        if (flag) {
            if (strcmp(full, "_id") == 0) {
                pp->id = truthy;
            } else {
                BSON_APPEND_INT32(pp->flags, full, truthy);
                if (truthy)
                    strlist_add(&pp->incl, full);
                else
                    pp->excl++;
            }
        } else if (plain_subdoc(&v, &empty)) {
            bson_t sub;
            ok = mqx_value_doc(&v, &sub) && proj_flatten(pp, &sub, full, where, err);
        } else if (empty) {
            ok = mqx_fail(err, 400, "%s: an empty object is not a valid value for '%s'", where, full);
        } else if (v.value_type == BSON_TYPE_DECIMAL128) {
            ok = mqx_fail(err, 400, "%s: use 0, 1, true or false for '%s'", where, full);
        } else {
            ok = af_add(pp->computed, full, &v, where, err);
            if (ok)
                strlist_add(&pp->comp, full);
        }
        bson_free(full);
        if (!ok)
            return false;
    }
    return true;
}

/* {a: 1, "b.c": 1} (inclusion, _id kept unless "_id": 0), {a: 0}
 * (exclusion), and with inclusion fields computed from expressions. */
bool mqx_proj_compile(struct proj *pr, const bson_value_t *specv, const char *where,
                         struct restfcgi_error *err)
{
    bson_t spec;
    memset(pr, 0, sizeof *pr);
    if (specv->value_type != BSON_TYPE_DOCUMENT || !mqx_value_doc(specv, &spec))
        return mqx_fail(err, 400, "%s takes a document, not a %s", where,
                    mqx_type_name(specv->value_type));
    struct proj_parse pp = {.flags = bson_new(), .computed = af_new(NULL, 0), .id = -1};
    bool ok = proj_flatten(&pp, &spec, NULL, where, err);
    if (ok && pp.excl && (pp.incl.n || pp.comp.n))
        ok = mqx_fail(err, 400,
                  "%s: cannot mix exclusions with inclusions or computed fields (other than _id)",
                  where);
    if (ok && !pp.excl && !pp.incl.n && !pp.comp.n && pp.id < 0)
        ok = mqx_fail(err, 400, "%s needs at least one field", where);
    bool id_computed = af_find(pp.computed, "_id", 3, NULL) != NULL;
    if (ok && id_computed && pp.id >= 0)
        ok = mqx_fail(err, 400, "%s: path collision at '_id'", where);
    for (size_t i = 0; ok && i < pp.comp.n; i++)
        for (size_t j = 0; ok && j < pp.incl.n; j++)
            if (paths_overlap(pp.comp.v[i], pp.incl.v[j]))
                ok = mqx_fail(err, 400, "%s: path collision at '%s'", where, pp.comp.v[i]);
    if (ok) {
        pr->exclusion = pp.excl || (!pp.incl.n && !pp.comp.n && pp.id == 0);
        if (pp.id == 0 || id_computed)
            BSON_APPEND_INT32(pp.flags, "_id", 0);
        if (pr->exclusion || pp.incl.n) {
            pr->spec = pp.flags;
            pp.flags = NULL;
            if (!(pr->p = mql_projection_compile(pr->spec, err)))
                ok = mqx_prefix_error(err, where);
        } else {
            pr->keep_id = pp.id != 0 && !id_computed;
        }
        if (ok && pp.comp.n) {
            pr->computed = pp.computed;
            pp.computed = NULL;
        }
    }
    if (pp.flags)
        bson_destroy(pp.flags);
    mqx_af_free(pp.computed);
    strlist_free(&pp.incl);
    strlist_free(&pp.comp);
    if (!ok)
        mqx_proj_free(pr);
    return ok;
}

/* out: uninitialised on entry, initialised on return. */
void mqx_proj_apply(const struct proj *pr, const bson_t *doc, const struct xctx *x, bson_t *out)
{
    bson_t base;
    bson_iter_t it;
    if (pr->p) {
        mql_projection_apply(pr->p, doc, &base);
    } else {
        bson_init(&base);
        if (pr->keep_id && bson_iter_init_find(&it, doc, "_id"))
            bson_append_iter(&base, NULL, 0, &it);
    }
    if (!pr->computed) {
        bson_steal(out, &base);
        return;
    }
    bson_init(out);
    mqx_af_apply_doc(out, &base, pr->computed, doc, x);
    bson_destroy(&base);
}

/* $unset: a path or an array of paths, an exclusion projection. */
bool mqx_unset_compile(struct proj *pr, const bson_value_t *v, const char *where,
                          struct restfcgi_error *err)
{
    memset(pr, 0, sizeof *pr);
    pr->exclusion = true;
    pr->spec = bson_new();
    bson_t arr;
    bson_iter_t it;
    bool ok = true;
    if (v->value_type == BSON_TYPE_UTF8) {
        if (!mqx_plain_path_ok(v->value.v_utf8.str))
            ok = mqx_fail(err, 400, "%s: invalid field path '%s'", where, v->value.v_utf8.str);
        else
            BSON_APPEND_INT32(pr->spec, v->value.v_utf8.str, 0);
    } else if (v->value_type == BSON_TYPE_ARRAY && mqx_value_doc(v, &arr) && bson_iter_init(&it, &arr)) {
        size_t n = 0;
        while (ok && bson_iter_next(&it)) {
            n++;
            if (!BSON_ITER_HOLDS_UTF8(&it))
                ok = mqx_fail(err, 400, "%s takes a string or an array of strings, not an array with a %s",
                          where, mqx_type_name(bson_iter_type(&it)));
            else if (!mqx_plain_path_ok(bson_iter_utf8(&it, NULL)))
                ok = mqx_fail(err, 400, "%s: invalid field path '%s'", where, bson_iter_utf8(&it, NULL));
            else
                BSON_APPEND_INT32(pr->spec, bson_iter_utf8(&it, NULL), 0);
        }
        if (ok && !n)
            ok = mqx_fail(err, 400, "%s takes a non-empty array", where);
    } else {
        ok = mqx_fail(err, 400, "%s takes a string or an array of strings, not a %s", where,
                  mqx_type_name(v->value_type));
    }
    if (ok && !(pr->p = mql_projection_compile(pr->spec, err)))
        ok = mqx_prefix_error(err, where);
    if (!ok)
        mqx_proj_free(pr);
    return ok;
}

/* ===================== end of the shared part ===================== */


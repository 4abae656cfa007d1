/*
 * mql_expr.h: the expression engine shared by pipeline updates
 * (mql_update.c) and aggregation (mql_aggregate.c): expressions (literals,
 * "$field.path", $$NOW/$$ROOT/$$CURRENT/$$REMOVE, {$literal: v}), $set /
 * $addFields trees, $project and $unset, and a few bson helpers. Internal to
 * the query engine; names start with mqx_.
 */
#ifndef RESTFCGI_MQL_EXPR_H
#define RESTFCGI_MQL_EXPR_H

#include "mql.h"

/* Fills err (domain from code: 400 REQUEST, 500 INTERNAL); returns false. */
__attribute__((format(printf, 3, 4))) bool mqx_fail(struct restfcgi_error *err, int code,
                                                    const char *fmt, ...);
/* Puts "what: " in front of err's message; keeps its domain and code. */
bool mqx_prefix_error(struct restfcgi_error *err, const char *what);
/* MongoDB's name of a bson type ("string", "objectId", ...). */
const char *mqx_type_name(bson_type_t t);
/* A document or array value (or iterator) as a static bson_t. */
bool mqx_value_doc(const bson_value_t *v, bson_t *out);
bool mqx_iter_doc(const bson_iter_t *it, bson_t *out);
/* An integral number (int32, int64, or a double with an integral value). */
bool mqx_as_int64(const bson_value_t *v, int64_t *out);
/* The key of array element i ("0", "1", ...), in buf when needed. */
const char *mqx_index_key(uint32_t i, char *buf, int *len);

/* A document a stage or an update made from in: refused (400 naming the
 * limit and where) when it nests deeper than MQL_MAX_DEPTH and deeper than
 * in (so documents stored before the limit stay workable). */
bool mqx_depth_check(const bson_t *in, const bson_t *out, const char *where,
                     struct restfcgi_error *err);

typedef int (*sort_cmp_fn)(const void *a, const void *b, void *ctx);
/* A stable sort of n pointers. */
void mqx_merge_sort(void **v, size_t n, sort_cmp_fn cmp, void *ctx);

/* What expressions read: the current document and the time. */
struct xctx {
    const bson_t *root; /* the document the expressions read */
    int64_t now_ms;
};

/* Checks an expression; where names the stage or operator for errors. */
bool mqx_expr_check(const bson_value_t *e, const char *where, struct restfcgi_error *err);
/* Appends the value of a checked expression under key; false when it
 * evaluates to missing (nothing appended). */
bool mqx_expr_append(bson_t *dst, const char *key, int keylen, const bson_value_t *e,
                     const struct xctx *x);

/* A compiled $set/$addFields specification. */
struct afnode;
struct afnode *mqx_addfields_compile(const bson_value_t *spec, const char *where,
                                     struct restfcgi_error *err);
void mqx_af_apply_doc(bson_t *dst, const bson_t *in, const struct afnode *a, const bson_t *skel,
                      const struct xctx *x);
void mqx_af_free(struct afnode *a);

/* A dotted path with non-empty components that do not start with '$'. */
bool mqx_plain_path_ok(const char *s);

/* A compiled $project or $unset. */
struct proj {
    bson_t *spec;           /* the flags handed to mql_projection (kept alive with it) */
    mql_projection *p;      /* NULL: an inclusion with computed fields only */
    struct afnode *computed; /* inclusion only; NULL when none */
    bool exclusion;
    bool keep_id; /* no mql_projection: copy _id */
};
bool mqx_proj_compile(struct proj *pr, const bson_value_t *specv, const char *where,
                      struct restfcgi_error *err);
bool mqx_unset_compile(struct proj *pr, const bson_value_t *v, const char *where,
                       struct restfcgi_error *err);
/* out: uninitialised on entry, initialised on return. */
void mqx_proj_apply(const struct proj *pr, const bson_t *doc, const struct xctx *x, bson_t *out);
void mqx_proj_free(struct proj *pr);

#endif

/*
 * mql_aggregate.c: aggregation pipelines (see mql.h).
 *
 * The stages are compiled once per run and documents are pushed through
 * them one at a time: a stage hands each of its results straight to the
 * next, so everything before the first $sort, $group or $count streams.
 * Those three hold what reaches them and hand it on when the input ends
 * (their "flush"), in stage order. A $limit that has let its last document
 * through tells the stages before it to stop, and when nothing before it
 * holds documents, no more input is read.
 *
 * Group output order is the order in which each group key first appeared
 * in the input (MongoDB promises no order). $group and $sort count the
 * documents they hold against max_docs: for $sort the buffered documents (a
 * $sort right before a $limit keeps only the best limit of them, as
 * MongoDB's top-k sort), for $group the groups plus the values its $push
 * accumulators hold.
 *
 * The expression, $addFields, $project and $unset code below the "shared"
 * line is kept identical to mql_update.c's: the two files share no symbols,
 * so that each can be unit-tested on its own.
 *
 * Memory comes from bson_malloc, which aborts on exhaustion like libbson's
 * own appends, so no path here returns the 500 of mql.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mql.h"

#include "mql_expr.h"

/* ---- stages ---- */

#define MAX_STAGES 1000

enum stage_kind { S_MATCH, S_PROJECT, S_ADDFIELDS, S_GROUP, S_SORT, S_SKIP, S_LIMIT, S_UNWIND, S_COUNT };

enum acc_op { A_SUM, A_AVG, A_MIN, A_MAX, A_FIRST, A_LAST, A_PUSH, A_COUNT };

static const char *const acc_name[] = {"$sum",   "$avg",  "$min",  "$max",
                                       "$first", "$last", "$push", "$count"};

static const char *const unsupported_acc[] = {"$addToSet", "$mergeObjects", "$stdDevPop",
                                              "$stdDevSamp", "$top", "$topN", "$bottom",
                                              "$bottomN", "$firstN", "$lastN", "$maxN", "$minN",
                                              "$accumulator", "$median", "$percentile"};

struct acc {
    const char *name; /* output field, a view into the pipeline */
    enum acc_op op;
    bson_value_t arg;
};

/* The state of one accumulator in one group. */
struct accst {
    int64_t isum;        /* $sum/$avg: the integers, exactly, until they overflow */
    long double dsum;    /* the doubles, and the integers past an overflow */
    bool any_double, overflow, wide; /* wide: an int64 was summed */
    int64_t count;       /* $avg: numbers seen; $count: documents */
    bool has;
    bson_value_t v;      /* $min $max $first $last: an owned copy */
    bson_t *arr;         /* $push */
    uint32_t n;
};

struct group {
    struct group *next; /* in its hash bucket */
    uint64_t hash;
    char *key;          /* mql_key_append's encoding of the _id */
    size_t keylen;
    bson_t *id;         /* {"_id": value}; a pointer: bson_t wants 128-byte alignment */
    struct accst st[];
};

struct stage {
    enum stage_kind kind;
    const char *name;
    /* $match */
    mql_filter *filter;
    bson_t *filter_spec;
    /* $project, $unset */
    struct proj pr;
    /* $addFields, $set */
    struct afnode *af;
    /* $sort */
    mql_sort *sort;
    bson_t *sort_spec;
    /* $skip, $limit */
    int64_t n;
    /* $unwind */
    const char *path;       /* after the '$' */
    const char *index_field;
    bool preserve;
    /* $count */
    const char *count_name;
    /* $group */
    bson_value_t gid;
    struct acc *accs;
    size_t nacc;

    /* run state */
    int64_t seen;           /* $skip/$limit: documents passed; $count: counted */
    bson_t **buf;           /* $sort */
    size_t nbuf, cap, topk;
    struct group **table;   /* $group */
    size_t nbuckets;
    struct group **order;
    size_t ngroups, ocap;
    size_t held;            /* $group: groups plus $push values */
};

static void acc_state_free(const struct stage *s, struct accst *st)
{
    for (size_t i = 0; i < s->nacc; i++) {
        if (st[i].has)
            bson_value_destroy(&st[i].v);
        if (st[i].arr)
            bson_destroy(st[i].arr);
    }
}

static void stage_free(struct stage *s)
{
    mql_filter_free(s->filter);
    if (s->filter_spec)
        bson_destroy(s->filter_spec);
    mqx_proj_free(&s->pr);
    mqx_af_free(s->af);
    mql_sort_free(s->sort);
    if (s->sort_spec)
        bson_destroy(s->sort_spec);
    bson_free(s->accs);
    for (size_t i = 0; i < s->nbuf; i++)
        bson_destroy(s->buf[i]);
    bson_free(s->buf);
    for (size_t i = 0; i < s->ngroups; i++) {
        struct group *g = s->order[i];
        acc_state_free(s, g->st);
        bson_destroy(g->id);
        bson_free(g->key);
        bson_free(g);
    }
    bson_free(s->order);
    bson_free(s->table);
    memset(s, 0, sizeof *s);
}

static bool stage_doc(const bson_value_t *v, bson_t *out, const char *name,
                      struct restfcgi_error *err)
{
    if (v->value_type != BSON_TYPE_DOCUMENT || !mqx_value_doc(v, out))
        return mqx_fail(err, 400, "%s takes a document, not a %s", name, mqx_type_name(v->value_type));
    return true;
}

static bool compile_match(struct stage *s, const bson_value_t *v, struct restfcgi_error *err)
{
    bson_t d;
    if (!stage_doc(v, &d, s->name, err))
        return false;
    s->filter_spec = bson_copy(&d);
    if (!(s->filter = mql_filter_compile(s->filter_spec, err)))
        return mqx_prefix_error(err, s->name);
    return true;
}

static bool compile_sort(struct stage *s, const bson_value_t *v, struct restfcgi_error *err)
{
    bson_t d;
    if (!stage_doc(v, &d, s->name, err))
        return false;
    if (bson_empty(&d))
        return mqx_fail(err, 400, "$sort needs at least one field");
    s->sort_spec = bson_copy(&d);
    if (!(s->sort = mql_sort_compile(s->sort_spec, err)))
        return mqx_prefix_error(err, s->name);
    return true;
}

static bool compile_skip_limit(struct stage *s, const bson_value_t *v, struct restfcgi_error *err)
{
    if (!mqx_as_int64(v, &s->n))
        return mqx_fail(err, 400, "%s takes a non-negative integer, not a %s", s->name,
                    v->value_type == BSON_TYPE_DOUBLE ? "fraction" : mqx_type_name(v->value_type));
    if (s->n < 0)
        return mqx_fail(err, 400, "%s takes a non-negative integer, not %lld", s->name,
                    (long long)s->n);
    if (s->kind == S_LIMIT && s->n == 0)
        return mqx_fail(err, 400, "the $limit must be positive");
    return true;
}

static bool unwind_path(struct stage *s, const bson_value_t *v, struct restfcgi_error *err)
{
    if (v->value_type != BSON_TYPE_UTF8)
        return mqx_fail(err, 400, "$unwind: the path must be a string, not a %s",
                    mqx_type_name(v->value_type));
    const char *p = v->value.v_utf8.str;
    if (p[0] != '$' || strlen(p) != v->value.v_utf8.len || !mqx_plain_path_ok(p + 1))
        return mqx_fail(err, 400, "$unwind: the path '%s' must be a field path starting with '$'", p);
    s->path = p + 1;
    return true;
}

static bool compile_unwind(struct stage *s, const bson_value_t *v, struct restfcgi_error *err)
{
    bson_t d;
    bson_iter_t it;
    if (v->value_type == BSON_TYPE_UTF8)
        return unwind_path(s, v, err);
    if (v->value_type != BSON_TYPE_DOCUMENT || !mqx_value_doc(v, &d) || !bson_iter_init(&it, &d))
        return mqx_fail(err, 400, "$unwind takes a path or a document, not a %s",
                    mqx_type_name(v->value_type));
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        bson_value_t ov = *bson_iter_value(&it);
        if (!strcmp(k, "path")) {
            if (!unwind_path(s, &ov, err))
                return false;
        } else if (!strcmp(k, "preserveNullAndEmptyArrays")) {
            if (ov.value_type != BSON_TYPE_BOOL)
                return mqx_fail(err, 400, "$unwind: preserveNullAndEmptyArrays must be a boolean");
            s->preserve = ov.value.v_bool;
        } else if (!strcmp(k, "includeArrayIndex")) {
            if (ov.value_type != BSON_TYPE_UTF8 || !mqx_plain_path_ok(ov.value.v_utf8.str))
                return mqx_fail(err, 400, "$unwind: includeArrayIndex must be a field name not starting "
                            "with '$'");
            size_t n = 1;
            for (const char *c = ov.value.v_utf8.str; *c; c++)
                n += *c == '.';
            if (n > MQL_MAX_DEPTH) /* each component may add a level */
                return mqx_fail(err, 400, "$unwind: includeArrayIndex has more than the limit of %d "
                                "components", MQL_MAX_DEPTH);
            s->index_field = ov.value.v_utf8.str;
        } else {
            return mqx_fail(err, 400, "$unwind: unrecognized option '%s'", k);
        }
    }
    if (!s->path)
        return mqx_fail(err, 400, "$unwind needs a path");
    return true;
}

static bool compile_count(struct stage *s, const bson_value_t *v, struct restfcgi_error *err)
{
    const char *n = v->value_type == BSON_TYPE_UTF8 ? v->value.v_utf8.str : NULL;
    if (!n || !n[0] || strlen(n) != v->value.v_utf8.len)
        return mqx_fail(err, 400, "$count takes a non-empty string");
    if (n[0] == '$')
        return mqx_fail(err, 400, "$count: the field name '%s' cannot start with '$'", n);
    if (strchr(n, '.'))
        return mqx_fail(err, 400, "$count: the field name '%s' cannot contain '.'", n);
    s->count_name = n;
    return true;
}

static bool compile_group(struct stage *s, const bson_value_t *v, struct restfcgi_error *err)
{
    bson_t d, ad;
    bson_iter_t it, a;
    bool have_id = false;
    size_t cap = 0;
    if (!stage_doc(v, &d, s->name, err) || !bson_iter_init(&it, &d))
        return false;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        bson_value_t fv = *bson_iter_value(&it);
        if (!strcmp(k, "_id")) {
            if (!mqx_expr_check(&fv, "$group", err))
                return false;
            s->gid = fv;
            have_id = true;
            continue;
        }
        if (!k[0] || k[0] == '$' || strchr(k, '.'))
            return mqx_fail(err, 400, "$group: the field name '%s' cannot be empty, start with '$' or "
                        "contain '.'", k);
        for (size_t i = 0; i < s->nacc; i++)
            if (!strcmp(s->accs[i].name, k))
                return mqx_fail(err, 400, "$group: duplicate field '%s'", k);
        if (fv.value_type != BSON_TYPE_DOCUMENT || !mqx_value_doc(&fv, &ad) || !bson_iter_init(&a, &ad) ||
            !bson_iter_next(&a))
            return mqx_fail(err, 400, "$group: the field '%s' must be an accumulator object like {$sum: "
                        "...}", k);
        const char *op = bson_iter_key(&a);
        int found = -1;
        for (size_t i = 0; i < sizeof acc_name / sizeof *acc_name; i++)
            if (!strcmp(acc_name[i], op))
                found = (int)i;
        if (found < 0) {
            for (size_t i = 0; i < sizeof unsupported_acc / sizeof *unsupported_acc; i++)
                if (!strcmp(unsupported_acc[i], op))
                    return mqx_fail(err, 400, "$group: unsupported accumulator %s", op);
            return mqx_fail(err, 400, "$group: unknown group operator '%s'", op);
        }
        bson_value_t arg = *bson_iter_value(&a);
        if (bson_iter_next(&a))
            return mqx_fail(err, 400, "$group: the field '%s' must have exactly one accumulator", k);
        if (found == A_COUNT) {
            bson_t e;
            if (arg.value_type != BSON_TYPE_DOCUMENT || !mqx_value_doc(&arg, &e) || !bson_empty(&e))
                return mqx_fail(err, 400, "$group: $count takes no arguments, i.e. $count: {}");
        } else if (arg.value_type == BSON_TYPE_ARRAY) {
            return mqx_fail(err, 400, "$group: the %s accumulator is a unary operator", op);
        } else if (!mqx_expr_check(&arg, "$group", err)) {
            return false;
        }
        if (s->nacc == cap) {
            cap = cap ? 2 * cap : 4;
            s->accs = bson_realloc(s->accs, cap * sizeof *s->accs);
        }
        s->accs[s->nacc++] = (struct acc){k, (enum acc_op)found, arg};
    }
    if (!have_id)
        return mqx_fail(err, 400, "$group: a group specification must include an _id");
    return true;
}

static bool stage_compile(struct stage *s, bson_iter_t *spec, struct restfcgi_error *err)
{
    const char *name = bson_iter_key(spec);
    bson_value_t v = *bson_iter_value(spec);
    s->name = name;
    if (!strcmp(name, "$match")) {
        s->kind = S_MATCH;
        return compile_match(s, &v, err);
    }
    if (!strcmp(name, "$project")) {
        s->kind = S_PROJECT;
        return mqx_proj_compile(&s->pr, &v, name, err);
    }
    if (!strcmp(name, "$unset")) {
        s->kind = S_PROJECT;
        return mqx_unset_compile(&s->pr, &v, name, err);
    }
    if (!strcmp(name, "$addFields") || !strcmp(name, "$set")) {
        s->kind = S_ADDFIELDS;
        return (s->af = mqx_addfields_compile(&v, name, err)) != NULL;
    }
    if (!strcmp(name, "$group")) {
        s->kind = S_GROUP;
        return compile_group(s, &v, err);
    }
    if (!strcmp(name, "$sort")) {
        s->kind = S_SORT;
        return compile_sort(s, &v, err);
    }
    if (!strcmp(name, "$skip") || !strcmp(name, "$limit")) {
        s->kind = name[1] == 's' ? S_SKIP : S_LIMIT;
        return compile_skip_limit(s, &v, err);
    }
    if (!strcmp(name, "$unwind")) {
        s->kind = S_UNWIND;
        return compile_unwind(s, &v, err);
    }
    if (!strcmp(name, "$count")) {
        s->kind = S_COUNT;
        return compile_count(s, &v, err);
    }
    return mqx_fail(err, 400, "unsupported aggregation stage %s", name);
}

static bool stages_build(const bson_t *pipeline, struct stage **out, size_t *n,
                         struct restfcgi_error *err)
{
    bson_iter_t it, st;
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    if (!bson_iter_init(&it, pipeline))
        return mqx_fail(err, 400, "the pipeline is not valid BSON");
    while (bson_iter_next(&it)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &st) || !bson_iter_next(&st))
            return mqx_fail(err, 400, "stage %s of the pipeline is not a document with one field",
                        bson_iter_key(&it));
        bson_iter_t one = st;
        if (bson_iter_next(&one))
            return mqx_fail(err, 400, "stage %s of the pipeline has more than one field (%s, %s)",
                        bson_iter_key(&it), bson_iter_key(&st), bson_iter_key(&one));
        /* Each stage is a level of push()'s recursion; MongoDB's limit. */
        if (*n == MAX_STAGES)
            return mqx_fail(err, 400, "the pipeline has more than %d stages", MAX_STAGES);
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            *out = bson_realloc(*out, cap * sizeof **out);
        }
        struct stage *s = &(*out)[(*n)++];
        memset(s, 0, sizeof *s);
        if (!stage_compile(s, &st, err))
            return false;
    }
    /* A $sort right before a $limit only needs the best limit documents. */
    for (size_t i = 0; i + 1 < *n; i++)
        if ((*out)[i].kind == S_SORT && (*out)[i + 1].kind == S_LIMIT)
            (*out)[i].topk = (size_t)(*out)[i + 1].n;
    return true;
}

static void stages_free(struct stage *st, size_t n)
{
    for (size_t i = 0; i < n; i++)
        stage_free(&st[i]);
    bson_free(st);
}

/* ---- running ---- */

struct run {
    struct stage *st;
    size_t n;
    mql_emit_fn emit;
    void *emit_ctx;
    int64_t now_ms;
    size_t max_docs;
    struct restfcgi_error *err;
};

/* What pushing a document downstream gave: carry on, no more documents
 * wanted (a $limit is full), or an error (err set). */
enum { PUSH_OK, PUSH_FULL, PUSH_ERR };

static int push(struct run *r, size_t i, const bson_t *doc);

/* The value at a dotted path through documents only, as $unwind reads it. */
static bool doc_path_find(const bson_t *doc, const char *path, bson_iter_t *out)
{
    bson_t cur;
    if (!bson_init_static(&cur, bson_get_data(doc), doc->len))
        return false;
    const char *p = path;
    for (;;) {
        const char *dot = strchr(p, '.');
        int len = dot ? (int)(dot - p) : (int)strlen(p);
        if (!bson_iter_init_find_w_len(out, &cur, p, len))
            return false;
        if (!dot)
            return true;
        if (!BSON_ITER_HOLDS_DOCUMENT(out) || !mqx_iter_doc(out, &cur))
            return false;
        p = dot + 1;
    }
}

/* Copies doc (NULL: none) to dst with the value at path set to v (NULL:
 * removed): in place when the field exists, else appended, documents
 * created on the way. */
static void set_at(bson_t *dst, const bson_t *doc, const char *path, const bson_value_t *v)
{
    const char *dot = strchr(path, '.');
    size_t clen = dot ? (size_t)(dot - path) : strlen(path);
    bool done = false;
    bson_iter_t it;
    bson_t sub, child;
    if (doc && bson_iter_init(&it, doc)) {
        while (bson_iter_next(&it)) {
            if (done || bson_iter_key_len(&it) != clen || memcmp(bson_iter_key(&it), path, clen)) {
                bson_append_iter(dst, NULL, 0, &it);
                continue;
            }
            done = true;
            if (!dot) {
                if (v)
                    bson_append_value(dst, path, (int)clen, v);
                continue;
            }
            bool isdoc = BSON_ITER_HOLDS_DOCUMENT(&it) && mqx_iter_doc(&it, &sub);
            if (!v && !isdoc) {
                bson_append_iter(dst, NULL, 0, &it);
                continue;
            }
            bson_append_document_begin(dst, path, (int)clen, &child);
            set_at(&child, isdoc ? &sub : NULL, dot + 1, v);
            bson_append_document_end(dst, &child);
        }
    }
    if (done || !v)
        return;
    if (!dot) {
        bson_append_value(dst, path, (int)clen, v);
        return;
    }
    bson_append_document_begin(dst, path, (int)clen, &child);
    set_at(&child, NULL, dot + 1, v);
    bson_append_document_end(dst, &child);
}

/* Pushes doc with the unwound path set to v (NULL: removed) and the index
 * field, if any, set to idx (negative: null). */
static int unwind_one(struct run *r, size_t i, const bson_t *doc, const bson_value_t *v,
                      int64_t idx)
{
    const struct stage *s = &r->st[i];
    bson_t a = BSON_INITIALIZER, b = BSON_INITIALIZER;
    set_at(&a, doc, s->path, v);
    const bson_t *res = &a;
    if (s->index_field) {
        bson_value_t iv = {.value_type = BSON_TYPE_NULL};
        if (idx >= 0) {
            iv.value_type = BSON_TYPE_INT64;
            iv.value.v_int64 = idx;
        }
        set_at(&b, &a, s->index_field, &iv);
        res = &b;
    }
    int rc = push(r, i + 1, res);
    bson_destroy(&a);
    bson_destroy(&b);
    return rc;
}

static int push_unwind(struct run *r, size_t i, const bson_t *doc)
{
    const struct stage *s = &r->st[i];
    bson_iter_t it;
    bson_t arr;
    if (!doc_path_find(doc, s->path, &it) || BSON_ITER_HOLDS_NULL(&it) ||
        BSON_ITER_HOLDS_UNDEFINED(&it)) {
        if (!s->preserve)
            return PUSH_OK;
        if (!s->index_field)
            return push(r, i + 1, doc);
        bson_t out = BSON_INITIALIZER;
        bson_value_t iv = {.value_type = BSON_TYPE_NULL};
        set_at(&out, doc, s->index_field, &iv);
        int rc = push(r, i + 1, &out);
        bson_destroy(&out);
        return rc;
    }
    if (!BSON_ITER_HOLDS_ARRAY(&it) || !mqx_iter_doc(&it, &arr)) {
        /* Not an array: the document passes as if it were a one-element one. */
        if (!s->index_field)
            return push(r, i + 1, doc);
        return unwind_one(r, i, doc, bson_iter_value(&it), -1);
    }
    if (bson_empty(&arr))
        return s->preserve ? unwind_one(r, i, doc, NULL, -1) : PUSH_OK;
    bson_iter_t e;
    int64_t idx = 0;
    int rc = PUSH_OK;
    if (!bson_iter_init(&e, &arr))
        return PUSH_OK;
    while (rc == PUSH_OK && bson_iter_next(&e)) {
        bson_value_t ev = *bson_iter_value(&e);
        rc = unwind_one(r, i, doc, &ev, idx++);
    }
    return rc;
}

static int sort_cmp(const void *a, const void *b, void *ctx)
{
    return mql_sort_compare(ctx, a, b);
}

/* Sorts the buffer (stably) and keeps its best topk. */
static void sort_trim(struct stage *s)
{
    mqx_merge_sort((void **)s->buf, s->nbuf, sort_cmp, s->sort);
    while (s->topk && s->nbuf > s->topk)
        bson_destroy(s->buf[--s->nbuf]);
}

static int push_sort(struct run *r, struct stage *s, const bson_t *doc)
{
    if (s->nbuf == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->buf = bson_realloc(s->buf, s->cap * sizeof *s->buf);
    }
    s->buf[s->nbuf++] = bson_copy(doc);
    if (s->topk && s->topk < r->max_docs) {
        size_t threshold = 2 * s->topk < r->max_docs ? 2 * s->topk : r->max_docs;
        if (s->nbuf >= threshold)
            sort_trim(s);
    }
    if (s->nbuf > r->max_docs) {
        mqx_fail(r->err, 400, "too many documents for $sort (more than %zu held in memory)",
             r->max_docs);
        return PUSH_ERR;
    }
    return PUSH_OK;
}

static uint64_t hash_bytes(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ULL;
    return h;
}

static bool too_many_group(struct run *r, struct stage *s)
{
    if (++s->held <= r->max_docs)
        return false;
    mqx_fail(r->err, 400, "too many documents for $group (more than %zu held in memory)", r->max_docs);
    return true;
}

static void group_insert(struct stage *s, struct group *g)
{
    if (s->ngroups >= s->nbuckets) {
        size_t nb = s->nbuckets ? 2 * s->nbuckets : 64;
        struct group **t = bson_malloc0(nb * sizeof *t);
        for (size_t i = 0; i < s->ngroups; i++) {
            struct group *o = s->order[i];
            o->next = t[o->hash & (nb - 1)];
            t[o->hash & (nb - 1)] = o;
        }
        bson_free(s->table);
        s->table = t;
        s->nbuckets = nb;
    }
    g->next = s->table[g->hash & (s->nbuckets - 1)];
    s->table[g->hash & (s->nbuckets - 1)] = g;
    if (s->ngroups == s->ocap) {
        s->ocap = s->ocap ? 2 * s->ocap : 64;
        s->order = bson_realloc(s->order, s->ocap * sizeof *s->order);
    }
    s->order[s->ngroups++] = g;
}

/* $sum/$avg: numbers only (MongoDB ignores the rest). */
static bool sum_add(struct accst *a, const bson_value_t *v, const char *opn,
                    struct restfcgi_error *err)
{
    int64_t x, sum;
    switch (v->value_type) {
    case BSON_TYPE_INT32: x = v->value.v_int32; break;
    case BSON_TYPE_INT64:
        x = v->value.v_int64;
        a->wide = true;
        break;
    case BSON_TYPE_DOUBLE:
        a->dsum += v->value.v_double;
        a->any_double = true;
        a->count++;
        return true;
    case BSON_TYPE_DECIMAL128:
        return mqx_fail(err, 400, "$group: %s of decimal128 values is not supported", opn);
    default: return true;
    }
    a->count++;
    if (__builtin_add_overflow(a->isum, x, &sum)) {
        a->dsum += (long double)a->isum + (long double)x;
        a->isum = 0;
        a->overflow = true;
    } else {
        a->isum = sum;
    }
    return true;
}

static void keep_value(struct accst *a, const bson_value_t *v)
{
    bson_value_t null = {.value_type = BSON_TYPE_NULL};
    if (a->has)
        bson_value_destroy(&a->v);
    bson_value_copy(v ? v : &null, &a->v);
    a->has = true;
}

static bool acc_add(struct run *r, struct stage *s, struct accst *a, const struct acc *spec,
                    const bson_t *doc)
{
    struct xctx x = {doc, r->now_ms};
    if (spec->op == A_COUNT) {
        a->count++;
        return true;
    }
    if (spec->op == A_PUSH) {
        char buf[16];
        int kl;
        const char *k = mqx_index_key(a->n, buf, &kl);
        if (!a->arr)
            a->arr = bson_new();
        if (mqx_expr_append(a->arr, k, kl, &spec->arg, &x)) {
            a->n++;
            if (too_many_group(r, s))
                return false;
        }
        return true;
    }
    bson_t tmp = BSON_INITIALIZER;
    bson_iter_t it;
    bool has = mqx_expr_append(&tmp, "v", 1, &spec->arg, &x) && bson_iter_init_find(&it, &tmp, "v");
    const bson_value_t *v = has ? bson_iter_value(&it) : NULL;
    bool ok = true;
    switch (spec->op) {
    case A_SUM:
    case A_AVG:
        if (v)
            ok = sum_add(a, v, acc_name[spec->op], r->err);
        break;
    case A_MIN:
    case A_MAX:
        /* Missing, null and undefined values are ignored, as MongoDB. */
        if (v && v->value_type != BSON_TYPE_NULL && v->value_type != BSON_TYPE_UNDEFINED) {
            int c = a->has ? mql_value_compare(v, &a->v) : 0;
            if (!a->has || (spec->op == A_MIN ? c < 0 : c > 0))
                keep_value(a, v);
        }
        break;
    case A_FIRST:
        if (!a->has)
            keep_value(a, v);
        break;
    case A_LAST: keep_value(a, v); break;
    default: break;
    }
    bson_destroy(&tmp);
    return ok;
}

static int push_group(struct run *r, struct stage *s, const bson_t *doc)
{
    struct xctx x = {doc, r->now_ms};
    bson_t key = BSON_INITIALIZER;
    bson_iter_t it, gi;
    if (!mqx_expr_append(&key, "_id", 3, &s->gid, &x))
        bson_append_null(&key, "_id", 3);
    bson_iter_init_find(&it, &key, "_id");
    bson_value_t kv = *bson_iter_value(&it);
    struct mql_key ks = {0};
    mql_key_append(&ks, &kv);
    uint64_t h = hash_bytes((const char *)ks.data, ks.len);
    struct group *g = s->nbuckets ? s->table[h & (s->nbuckets - 1)] : NULL;
    for (; g; g = g->next)
        if (g->hash == h && g->keylen == ks.len && !memcmp(g->key, ks.data, ks.len) &&
            bson_iter_init_find(&gi, g->id, "_id") && mql_value_equal(bson_iter_value(&gi), &kv))
            break;
    if (!g) {
        if (too_many_group(r, s)) {
            mql_key_free(&ks);
            bson_destroy(&key);
            return PUSH_ERR;
        }
        g = bson_malloc0(sizeof *g + s->nacc * sizeof *g->st);
        g->hash = h;
        g->keylen = ks.len;
        g->key = (char *)ks.data;
        ks = (struct mql_key){0};
        g->id = bson_copy(&key);
        group_insert(s, g);
    }
    mql_key_free(&ks);
    bson_destroy(&key);
    for (size_t i = 0; i < s->nacc; i++)
        if (!acc_add(r, s, &g->st[i], &s->accs[i], doc))
            return PUSH_ERR;
    return PUSH_OK;
}

static void append_count(bson_t *dst, const char *name, int64_t n)
{
    if (n <= INT32_MAX)
        bson_append_int32(dst, name, -1, (int32_t)n);
    else
        bson_append_int64(dst, name, -1, n);
}

/* $sum as MongoDB types it: int32 while the integers fit, int64 past that
 * or once an int64 is summed, double with any double or an int64 overflow. */
static void append_acc(bson_t *dst, const struct acc *spec, const struct accst *a)
{
    bson_t arr = BSON_INITIALIZER;
    switch (spec->op) {
    case A_SUM:
        if (a->any_double || a->overflow)
            bson_append_double(dst, spec->name, -1, (double)(a->dsum + (long double)a->isum));
        else if (!a->wide && a->isum >= INT32_MIN && a->isum <= INT32_MAX)
            bson_append_int32(dst, spec->name, -1, (int32_t)a->isum);
        else
            bson_append_int64(dst, spec->name, -1, a->isum);
        break;
    case A_AVG:
        if (!a->count)
            bson_append_null(dst, spec->name, -1);
        else
            bson_append_double(dst, spec->name, -1,
                               (double)((a->dsum + (long double)a->isum) / (long double)a->count));
        break;
    case A_COUNT: append_count(dst, spec->name, a->count); break;
    case A_PUSH: bson_append_array(dst, spec->name, -1, a->arr ? a->arr : &arr); break;
    default:
        if (a->has)
            bson_append_value(dst, spec->name, -1, &a->v);
        else
            bson_append_null(dst, spec->name, -1);
        break;
    }
    bson_destroy(&arr);
}

static int push(struct run *r, size_t i, const bson_t *doc)
{
    if (i == r->n)
        return r->emit(r->emit_ctx, doc, r->err) ? PUSH_OK : PUSH_ERR;
    struct stage *s = &r->st[i];
    struct xctx x = {doc, r->now_ms};
    bson_t out;
    int rc;
    switch (s->kind) {
    case S_MATCH: return mql_filter_match(s->filter, doc) ? push(r, i + 1, doc) : PUSH_OK;
    case S_PROJECT:
        mqx_proj_apply(&s->pr, doc, &x, &out);
        rc = mqx_depth_check(doc, &out, "$project", r->err) ? push(r, i + 1, &out) : PUSH_ERR;
        bson_destroy(&out);
        return rc;
    case S_ADDFIELDS:
        bson_init(&out);
        mqx_af_apply_doc(&out, doc, s->af, NULL, &x);
        rc = mqx_depth_check(doc, &out, s->name, r->err) ? push(r, i + 1, &out) : PUSH_ERR;
        bson_destroy(&out);
        return rc;
    case S_SKIP:
        if (s->seen < s->n) {
            s->seen++;
            return PUSH_OK;
        }
        return push(r, i + 1, doc);
    case S_LIMIT:
        if (s->seen >= s->n)
            return PUSH_FULL;
        s->seen++;
        rc = push(r, i + 1, doc);
        return rc == PUSH_OK && s->seen >= s->n ? PUSH_FULL : rc;
    case S_UNWIND: return push_unwind(r, i, doc);
    case S_SORT: return push_sort(r, s, doc);
    case S_GROUP: return push_group(r, s, doc);
    case S_COUNT: s->seen++; return PUSH_OK;
    }
    return PUSH_OK;
}

/* Hands on what stage i holds once its input has ended. */
static bool flush(struct run *r, size_t i)
{
    struct stage *s = &r->st[i];
    int rc = PUSH_OK;
    switch (s->kind) {
    case S_SORT:
        sort_trim(s);
        for (size_t k = 0; rc == PUSH_OK && k < s->nbuf; k++)
            rc = push(r, i + 1, s->buf[k]);
        break;
    case S_GROUP:
        for (size_t k = 0; rc == PUSH_OK && k < s->ngroups; k++) {
            struct group *g = s->order[k];
            bson_t out;
            bson_copy_to(g->id, &out);
            for (size_t a = 0; a < s->nacc; a++)
                append_acc(&out, &s->accs[a], &g->st[a]);
            static const bson_t empty = BSON_INITIALIZER;
            rc = mqx_depth_check(&empty, &out, "$group", r->err) ? push(r, i + 1, &out) : PUSH_ERR;
            bson_destroy(&out);
        }
        break;
    case S_COUNT:
        if (s->seen) {
            bson_t out = BSON_INITIALIZER;
            append_count(&out, s->count_name, s->seen);
            rc = push(r, i + 1, &out);
            bson_destroy(&out);
        }
        break;
    default: break;
    }
    return rc != PUSH_ERR;
}

/* ---- the API ---- */

bool mql_aggregate_check(const bson_t *pipeline, struct restfcgi_error *err)
{
    struct stage *st;
    size_t n;
    bool ok = stages_build(pipeline, &st, &n, err);
    stages_free(st, n);
    return ok;
}

bool mql_aggregate_run(const bson_t *pipeline, mql_next_fn next, void *next_ctx, mql_emit_fn emit,
                       void *emit_ctx, int64_t now_ms, size_t max_docs,
                       struct restfcgi_error *err)
{
    struct run r = {.emit = emit, .emit_ctx = emit_ctx, .now_ms = now_ms, .max_docs = max_docs,
                    .err = err};
    bool ok = stages_build(pipeline, &r.st, &r.n, err);
    while (ok) {
        err->domain = RESTFCGI_ERR_NONE;
        err->code = 0;
        err->message[0] = '\0';
        const bson_t *doc = next(next_ctx, err);
        if (!doc) {
            ok = err->domain == RESTFCGI_ERR_NONE && err->code == 0;
            break;
        }
        int rc = push(&r, 0, doc);
        if (rc == PUSH_ERR)
            ok = false;
        if (rc != PUSH_OK)
            break;
    }
    for (size_t i = 0; ok && i < r.n; i++)
        ok = flush(&r, i);
    stages_free(r.st, r.n);
    return ok;
}

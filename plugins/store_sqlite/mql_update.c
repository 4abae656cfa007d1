/*
 * mql_update.c: update operators and pipeline-style updates (see mql.h).
 *
 * Operator updates are parsed into a plan: one item per operator and path,
 * validated, checked for conflicts and sorted by path, component by
 * component. The plan is applied to a small mutable tree built lazily over
 * the document: only the documents and arrays on an updated path are
 * expanded, everything else stays a view into the original bytes (or into
 * the update's). Applying the items in path order makes the fields an update
 * adds appear in lexicographic order of their paths, as MongoDB does;
 * existing fields keep their place.
 *
 * Pipeline updates run their stages one after the other over whole
 * documents. The expression, $addFields, $project and $unset code below the
 * "shared" line is kept identical to mql_aggregate.c's: the two files share
 * no symbols, so that each can be unit-tested on its own.
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

/* ---- pipeline-style updates ---- */

enum ustage_kind { US_ADDFIELDS, US_PROJECT, US_REPLACE };

struct ustage {
    enum ustage_kind kind;
    const char *name;
    struct afnode *af;    /* $set/$addFields */
    struct proj pr;       /* $project, $unset */
    bson_value_t newroot; /* $replaceRoot, $replaceWith */
};

struct upipe {
    struct ustage *st;
    size_t n;
};

static void upipe_free(struct upipe *up)
{
    for (size_t i = 0; i < up->n; i++) {
        mqx_af_free(up->st[i].af);
        mqx_proj_free(&up->st[i].pr);
    }
    bson_free(up->st);
    memset(up, 0, sizeof *up);
}

static bool ustage_compile(struct ustage *s, const char *name, bson_iter_t *spec,
                           struct restfcgi_error *err)
{
    bson_value_t v = *bson_iter_value(spec);
    s->name = name;
    if (!strcmp(name, "$set") || !strcmp(name, "$addFields")) {
        s->kind = US_ADDFIELDS;
        return (s->af = mqx_addfields_compile(&v, name, err)) != NULL;
    }
    if (!strcmp(name, "$project")) {
        s->kind = US_PROJECT;
        return mqx_proj_compile(&s->pr, &v, name, err);
    }
    if (!strcmp(name, "$unset")) {
        s->kind = US_PROJECT;
        return mqx_unset_compile(&s->pr, &v, name, err);
    }
    if (!strcmp(name, "$replaceWith")) {
        s->kind = US_REPLACE;
        s->newroot = v;
        return mqx_expr_check(&v, name, err);
    }
    if (!strcmp(name, "$replaceRoot")) {
        bson_t d;
        bson_iter_t it;
        bool found = false;
        s->kind = US_REPLACE;
        if (v.value_type != BSON_TYPE_DOCUMENT || !mqx_value_doc(&v, &d) || !bson_iter_init(&it, &d))
            return mqx_fail(err, 400, "$replaceRoot takes a document, not a %s",
                        mqx_type_name(v.value_type));
        while (bson_iter_next(&it)) {
            if (strcmp(bson_iter_key(&it), "newRoot") != 0)
                return mqx_fail(err, 400, "$replaceRoot: unrecognized option '%s'", bson_iter_key(&it));
            s->newroot = *bson_iter_value(&it);
            found = true;
        }
        if (!found)
            return mqx_fail(err, 400, "$replaceRoot needs newRoot");
        return mqx_expr_check(&s->newroot, name, err);
    }
    if (name[0] == '$')
        return mqx_fail(err, 400, "%s is not allowed to be used within an update", name);
    return mqx_fail(err, 400, "unrecognized pipeline stage name '%s'", name);
}

static bool upipe_build(const bson_t *pipeline, struct upipe *up, struct restfcgi_error *err)
{
    bson_iter_t it, st;
    size_t cap = 0;
    memset(up, 0, sizeof *up);
    if (!bson_iter_init(&it, pipeline))
        return mqx_fail(err, 400, "the update pipeline is not valid BSON");
    while (bson_iter_next(&it)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &st) || !bson_iter_next(&st))
            return mqx_fail(err, 400, "stage %s of the update pipeline is not a document with one field",
                        bson_iter_key(&it));
        bson_iter_t one = st;
        if (bson_iter_next(&one))
            return mqx_fail(err, 400, "stage %s of the update pipeline has more than one field (%s, %s)",
                        bson_iter_key(&it), bson_iter_key(&st), bson_iter_key(&one));
        if (up->n == cap) {
            cap = cap ? 2 * cap : 4;
            up->st = bson_realloc(up->st, cap * sizeof *up->st);
        }
        struct ustage *s = &up->st[up->n++];
        memset(s, 0, sizeof *s);
        if (!ustage_compile(s, bson_iter_key(&st), &st, err))
            return false;
    }
    if (!up->n)
        return mqx_fail(err, 400, "the update pipeline is empty");
    return true;
}

/* out: uninitialised on entry, initialised on return. */
static bool ustage_apply(const struct ustage *s, const bson_t *in, int64_t now_ms, bson_t *out,
                         struct restfcgi_error *err)
{
    struct xctx x = {in, now_ms};
    switch (s->kind) {
    case US_ADDFIELDS:
        bson_init(out);
        mqx_af_apply_doc(out, in, s->af, NULL, &x);
        return true;
    case US_PROJECT: mqx_proj_apply(&s->pr, in, &x, out); return true;
    case US_REPLACE: {
        bson_t tmp = BSON_INITIALIZER, d;
        bson_iter_t it;
        bool have = mqx_expr_append(&tmp, "v", 1, &s->newroot, &x) && bson_iter_init_find(&it, &tmp, "v");
        bool ok = have && BSON_ITER_HOLDS_DOCUMENT(&it) && mqx_iter_doc(&it, &d);
        if (ok)
            bson_copy_to(&d, out);
        else
            bson_init(out);
        if (!ok)
            mqx_fail(err, 400, "%s: the new root must evaluate to a document, not %s", s->name,
                 have ? mqx_type_name(bson_iter_type(&it)) : "missing");
        bson_destroy(&tmp);
        return ok;
    }
    }
    bson_init(out);
    return true;
}

static bool same_bytes(const bson_iter_t *a, const bson_iter_t *b)
{
    if (bson_iter_type(a) != bson_iter_type(b))
        return false;
    bson_t x = BSON_INITIALIZER, y = BSON_INITIALIZER;
    bson_append_iter(&x, "", 0, a);
    bson_append_iter(&y, "", 0, b);
    bool same = x.len == y.len && memcmp(bson_get_data(&x), bson_get_data(&y), x.len) == 0;
    bson_destroy(&x);
    bson_destroy(&y);
    return same;
}

/* As MongoDB's replacement of the document by the pipeline's result: an
 * _id the result lacks is kept (first), a different one is refused. */
static bool upipe_apply(const bson_t *doc, const bson_t *pipeline, int64_t now_ms, bson_t *out,
                        struct restfcgi_error *err)
{
    struct upipe up;
    bson_t cur, next;
    bool ok = upipe_build(pipeline, &up, err);
    bson_copy_to(doc, &cur);
    for (size_t i = 0; ok && i < up.n; i++) {
        ok = ustage_apply(&up.st[i], &cur, now_ms, &next, err) &&
             mqx_depth_check(&cur, &next, up.st[i].name, err);
        bson_destroy(&cur);
        bson_steal(&cur, &next);
    }
    upipe_free(&up);
    bson_iter_t oi, ni;
    if (ok && bson_iter_init_find(&oi, doc, "_id")) {
        if (!bson_iter_init_find(&ni, &cur, "_id")) {
            bson_t fixed = BSON_INITIALIZER;
            bson_append_iter(&fixed, NULL, 0, &oi);
            bson_concat(&fixed, &cur);
            bson_destroy(&cur);
            bson_steal(&cur, &fixed);
        } else if (mql_value_compare(bson_iter_value(&oi), bson_iter_value(&ni)) != 0) {
            ok = mqx_fail(err, 400,
                      "After applying the update, the (immutable) field '_id' was found to have "
                      "been altered");
        }
    }
    if (ok) {
        bson_destroy(out);
        bson_steal(out, &cur);
    } else {
        bson_destroy(&cur);
    }
    return ok;
}

/* ---- operator updates: the plan ---- */

enum uop {
    U_SET,
    U_SETONINSERT,
    U_UNSET,
    U_INC,
    U_MUL,
    U_MIN,
    U_MAX,
    U_CURRENTDATE,
    U_RENAME,
    U_PUSH,
    U_ADDTOSET,
    U_PULL,
    U_POP,
};

static const char *const uop_name[] = {"$set",  "$setOnInsert", "$unset", "$inc",
                                       "$mul",  "$min",         "$max",   "$currentDate",
                                       "$rename", "$push",      "$addToSet", "$pull",
                                       "$pop"};

/* A dotted path split into components. */
struct path {
    char *buf;
    char **comp;
    size_t n;
    const char *dotted; /* as written, a view into the update */
};

static bool path_split(const char *s, struct path *p)
{
    size_t len = strlen(s), n = 1;
    memset(p, 0, sizeof *p);
    p->dotted = s;
    p->buf = bson_malloc(len + 1);
    memcpy(p->buf, s, len + 1);
    for (size_t i = 0; i < len; i++)
        n += s[i] == '.';
    p->comp = bson_malloc(n * sizeof *p->comp);
    for (char *c = p->buf;;) {
        p->comp[p->n++] = c;
        char *dot = strchr(c, '.');
        if (!dot)
            break;
        *dot = '\0';
        c = dot + 1;
    }
    for (size_t i = 0; i < p->n; i++)
        if (!p->comp[i][0])
            return false;
    return true;
}

static void path_free(struct path *p)
{
    bson_free(p->buf);
    bson_free(p->comp);
}

/* Component by component, so that "a.b" sorts before "a-c" like MongoDB's
 * tree of fields. */
static int path_cmp(const struct path *a, const struct path *b)
{
    for (size_t i = 0; i < a->n && i < b->n; i++) {
        int c = strcmp(a->comp[i], b->comp[i]);
        if (c)
            return c;
    }
    return (a->n > b->n) - (a->n < b->n);
}

/* a equals b or is a prefix of it. */
static bool path_prefix(const struct path *a, const struct path *b)
{
    if (a->n > b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->comp[i], b->comp[i]) != 0)
            return false;
    return true;
}

static bool path_parse(const char *opn, const char *s, struct path *p, struct restfcgi_error *err)
{
    if (!path_split(s, p))
        return mqx_fail(err, 400, "%s: the path '%s' contains an empty field name", opn, s);
    /* Each component may add a level to the document. */
    if (p->n > MQL_MAX_DEPTH)
        return mqx_fail(err, 400, "%s: the path '%.40s...' has %zu components, more than the limit of "
                        "%d", opn, s, p->n, MQL_MAX_DEPTH);
    for (size_t i = 0; i < p->n; i++)
        if (p->comp[i][0] == '$')
            return mqx_fail(err, 400, "%s: the path '%s' is not supported (positional operators and "
                        "$-prefixed field names cannot be updated)", opn, s);
    return true;
}

enum { PULL_EQ, PULL_DOC, PULL_WRAP };

struct uitem {
    enum uop op;
    struct path path; /* where the operator writes; $rename: the target */
    struct path from; /* $rename: the source */
    bson_value_t arg; /* the operand ($push/$addToSet with $each: the array) */
    bool each;
    bool has_position, has_slice;
    int64_t position, slice;
    int sort_dir;     /* $push $sort 1 or -1: whole elements */
    mql_sort *sort;   /* $push $sort on fields of document elements */
    bson_t *sort_spec;
    int pull_kind;
    mql_filter *pull;
    bson_t *pull_spec;
    bool timestamp;   /* $currentDate */
    bool pop_first;   /* $pop -1 */
};

struct uplan {
    struct uitem *items;
    size_t n;
};

static void plan_free(struct uplan *pl)
{
    for (size_t i = 0; i < pl->n; i++) {
        struct uitem *it = &pl->items[i];
        path_free(&it->path);
        path_free(&it->from);
        mql_sort_free(it->sort);
        mql_filter_free(it->pull);
        if (it->sort_spec)
            bson_destroy(it->sort_spec);
        if (it->pull_spec)
            bson_destroy(it->pull_spec);
    }
    bson_free(pl->items);
    memset(pl, 0, sizeof *pl);
}

static bool is_number(bson_type_t t)
{
    return t == BSON_TYPE_INT32 || t == BSON_TYPE_INT64 || t == BSON_TYPE_DOUBLE ||
           t == BSON_TYPE_DECIMAL128;
}

/* $push and $addToSet: a document with $each holds modifiers; anything else
 * (a document without $each too) is the value to add. */
static bool parse_each(struct uitem *it, struct restfcgi_error *err)
{
    const char *opn = uop_name[it->op];
    bson_t d;
    bson_iter_t i;
    if (it->arg.value_type != BSON_TYPE_DOCUMENT || !mqx_value_doc(&it->arg, &d) ||
        !bson_iter_init_find(&i, &d, "$each") || !bson_iter_init(&i, &d))
        return true;
    it->each = true;
    while (bson_iter_next(&i)) {
        const char *k = bson_iter_key(&i);
        bson_value_t v = *bson_iter_value(&i);
        if (!strcmp(k, "$each")) {
            if (v.value_type != BSON_TYPE_ARRAY)
                return mqx_fail(err, 400, "%s: the argument to $each in '%s' must be an array, not a %s",
                            opn, it->path.dotted, mqx_type_name(v.value_type));
            it->arg = v;
        } else if (it->op == U_PUSH && !strcmp(k, "$position")) {
            if (!mqx_as_int64(&v, &it->position))
                return mqx_fail(err, 400, "$push: $position in '%s' must be an integer", it->path.dotted);
            it->has_position = true;
        } else if (it->op == U_PUSH && !strcmp(k, "$slice")) {
            if (!mqx_as_int64(&v, &it->slice))
                return mqx_fail(err, 400, "$push: $slice in '%s' must be an integer", it->path.dotted);
            it->has_slice = true;
        } else if (it->op == U_PUSH && !strcmp(k, "$sort")) {
            int64_t dir;
            bson_t spec;
            if (mqx_as_int64(&v, &dir)) {
                if (dir != 1 && dir != -1)
                    return mqx_fail(err, 400, "$push: $sort in '%s' must be 1, -1 or a document",
                                it->path.dotted);
                it->sort_dir = (int)dir;
            } else if (v.value_type == BSON_TYPE_DOCUMENT && mqx_value_doc(&v, &spec) &&
                       !bson_empty(&spec)) {
                it->sort_spec = bson_copy(&spec);
                if (!(it->sort = mql_sort_compile(it->sort_spec, err)))
                    return mqx_prefix_error(err, "$push: $sort");
            } else {
                return mqx_fail(err, 400, "$push: $sort in '%s' must be 1, -1 or a non-empty document",
                            it->path.dotted);
            }
        } else {
            return mqx_fail(err, 400, "%s: unrecognized clause %s in '%s'", opn, k, it->path.dotted);
        }
    }
    return true;
}

/* $pull, as MongoDB's PullNode: a document whose first field is a query
 * operator ({$gte: 5}, {$in: [...]}), like a regular expression, is a
 * condition on each element itself: it is compiled as {"": condition} and
 * each element is matched wrapped as {"": element}. Any other document
 * ({score: {$lt: 5}}, {$or: [...]}, {}) is a query that only document
 * elements can match. Anything else removes the elements equal to it. */
static bool parse_pull(struct uitem *it, struct restfcgi_error *err)
{
    bson_t d;
    bson_iter_t i;
    static const char *const toplevel[] = {"$and", "$or", "$nor", "$where", "$expr",
                                           "$text", "$comment", "$jsonSchema"};
    if (it->arg.value_type == BSON_TYPE_REGEX) {
        it->pull_kind = PULL_WRAP;
    } else if (it->arg.value_type == BSON_TYPE_DOCUMENT && mqx_value_doc(&it->arg, &d)) {
        it->pull_kind = PULL_DOC;
        if (bson_iter_init(&i, &d) && bson_iter_next(&i) && bson_iter_key(&i)[0] == '$') {
            it->pull_kind = PULL_WRAP;
            for (size_t k = 0; k < sizeof toplevel / sizeof *toplevel; k++)
                if (!strcmp(bson_iter_key(&i), toplevel[k]))
                    it->pull_kind = PULL_DOC;
        }
    } else {
        it->pull_kind = PULL_EQ;
        return true;
    }
    it->pull_spec = bson_new();
    if (it->pull_kind == PULL_WRAP)
        bson_append_value(it->pull_spec, "", 0, &it->arg);
    else
        bson_concat(it->pull_spec, &d);
    if (!(it->pull = mql_filter_compile(it->pull_spec, err)))
        return mqx_prefix_error(err, "$pull");
    return true;
}

static bool item_init(struct uitem *it, bson_iter_t *f, struct restfcgi_error *err)
{
    const char *opn = uop_name[it->op];
    const char *field = bson_iter_key(f);
    int64_t n;
    it->arg = *bson_iter_value(f);
    if (!path_parse(opn, field, &it->path, err))
        return false;
    switch (it->op) {
    case U_INC:
    case U_MUL:
        if (!is_number(it->arg.value_type))
            return mqx_fail(err, 400, "%s: cannot %s '%s' by a non-numeric argument (%s)", opn,
                        it->op == U_INC ? "increment" : "multiply", field,
                        mqx_type_name(it->arg.value_type));
        if (it->arg.value_type == BSON_TYPE_DECIMAL128)
            return mqx_fail(err, 400, "%s: decimal128 arithmetic is not supported ('%s')", opn, field);
        break;
    case U_CURRENTDATE:
        if (it->arg.value_type == BSON_TYPE_BOOL)
            break;
        {
            bson_t d;
            bson_iter_t i;
            const char *t = NULL;
            if (it->arg.value_type == BSON_TYPE_DOCUMENT && mqx_value_doc(&it->arg, &d) &&
                bson_iter_init(&i, &d) && bson_iter_next(&i) && !strcmp(bson_iter_key(&i), "$type") &&
                BSON_ITER_HOLDS_UTF8(&i))
                t = bson_iter_utf8(&i, NULL);
            if (!t || bson_iter_next(&i) || (strcmp(t, "date") && strcmp(t, "timestamp")))
                return mqx_fail(err, 400, "$currentDate: '%s' takes true or {$type: \"date\"} or "
                            "{$type: \"timestamp\"}", field);
            it->timestamp = !strcmp(t, "timestamp");
        }
        break;
    case U_RENAME:
        it->from = it->path;
        memset(&it->path, 0, sizeof it->path);
        if (it->arg.value_type != BSON_TYPE_UTF8)
            return mqx_fail(err, 400, "$rename: the new name of '%s' must be a string, not a %s", field,
                        mqx_type_name(it->arg.value_type));
        if (strlen(it->arg.value.v_utf8.str) != it->arg.value.v_utf8.len)
            return mqx_fail(err, 400, "$rename: the new name of '%s' contains a NUL byte", field);
        if (!path_parse(opn, it->arg.value.v_utf8.str, &it->path, err))
            return false;
        if (path_prefix(&it->from, &it->path) || path_prefix(&it->path, &it->from))
            return mqx_fail(err, 400, "$rename: the source '%s' and the target '%s' must differ and not "
                        "be on the same path", field, it->path.dotted);
        if (!strcmp(it->from.comp[0], "_id") || !strcmp(it->path.comp[0], "_id"))
            return mqx_fail(err, 400, "Performing an update on the path '_id' would modify the "
                        "immutable field '_id' ($rename)");
        break;
    case U_UNSET:
        if (!strcmp(it->path.comp[0], "_id"))
            return mqx_fail(err, 400, "Performing an update on the path '_id' would modify the "
                        "immutable field '_id' ($unset)");
        break;
    case U_PUSH:
    case U_ADDTOSET: return parse_each(it, err);
    case U_PULL: return parse_pull(it, err);
    case U_POP:
        if (!mqx_as_int64(&it->arg, &n) || (n != 1 && n != -1))
            return mqx_fail(err, 400, "$pop: '%s' takes 1 or -1", field);
        it->pop_first = n == -1;
        break;
    default: break;
    }
    return true;
}

static int path_ref_cmp(const void *a, const void *b)
{
    return path_cmp(*(const struct path *const *)a, *(const struct path *const *)b);
}

static int item_cmp(const void *a, const void *b)
{
    return path_cmp(&((const struct uitem *)a)->path, &((const struct uitem *)b)->path);
}

/* Two operators on one path, or on a path and its prefix, conflict. After a
 * sort component by component a conflict always shows between neighbours. */
static bool plan_conflicts(const struct uplan *pl, struct restfcgi_error *err)
{
    size_t n = 0;
    const struct path **refs = bson_malloc((2 * pl->n + 1) * sizeof *refs);
    for (size_t i = 0; i < pl->n; i++) {
        refs[n++] = &pl->items[i].path;
        if (pl->items[i].op == U_RENAME)
            refs[n++] = &pl->items[i].from;
    }
    qsort(refs, n, sizeof *refs, path_ref_cmp);
    bool ok = true;
    for (size_t i = 1; ok && i < n; i++)
        if (path_prefix(refs[i - 1], refs[i]))
            ok = mqx_fail(err, 400, "Updating the path '%s' would create a conflict at '%s'",
                      refs[i]->dotted, refs[i - 1]->dotted);
    bson_free(refs);
    return ok;
}

static int uop_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof uop_name / sizeof *uop_name; i++)
        if (!strcmp(uop_name[i], name))
            return (int)i;
    return -1;
}

static bool plan_build(const bson_t *update, struct uplan *pl, struct restfcgi_error *err)
{
    bson_iter_t top, f;
    size_t cap = 0;
    memset(pl, 0, sizeof *pl);
    if (!bson_iter_init(&top, update))
        return mqx_fail(err, 400, "the update is not valid BSON");
    if (bson_empty(update))
        return mqx_fail(err, 400, "the update document is empty");
    while (bson_iter_next(&top)) {
        const char *opn = bson_iter_key(&top);
        if (opn[0] != '$')
            return mqx_fail(err, 400, "the update contains the field '%s', which is not an update "
                        "operator (replacement documents are not updates)", opn);
        int op = uop_lookup(opn);
        if (op < 0)
            return mqx_fail(err, 400, "unknown update operator %s", opn);
        if (!BSON_ITER_HOLDS_DOCUMENT(&top) || !bson_iter_recurse(&top, &f))
            return mqx_fail(err, 400, "%s takes a document of fields, like {%s: {<field>: ...}}, not a %s",
                        opn, opn, mqx_type_name(bson_iter_type(&top)));
        bool any = false;
        while (bson_iter_next(&f)) {
            any = true;
            if (pl->n == cap) {
                cap = cap ? 2 * cap : 8;
                pl->items = bson_realloc(pl->items, cap * sizeof *pl->items);
            }
            struct uitem *it = &pl->items[pl->n++];
            memset(it, 0, sizeof *it);
            it->op = (enum uop)op;
            if (!item_init(it, &f, err))
                return false;
        }
        if (!any)
            return mqx_fail(err, 400, "'%s' is empty. You must specify a field like so: {%s: {<field>: "
                        "...}}", opn, opn);
    }
    if (!plan_conflicts(pl, err))
        return false;
    qsort(pl->items, pl->n, sizeof *pl->items, item_cmp);
    return true;
}

/* ---- operator updates: the document tree ---- */

enum { N_VAL, N_DOC, N_ARR };

typedef struct unode unode;
struct unode {
    const char *key; /* field name in a document (not NUL-terminated at keylen) */
    uint32_t keylen;
    int kind;
    bson_value_t v; /* N_VAL: a view into the document or the update, or a scalar */
    unode **kids;
    size_t n, cap;
};

static unode *node_val(const bson_value_t *v)
{
    unode *n = bson_malloc0(sizeof *n);
    n->kind = N_VAL;
    n->v = *v;
    return n;
}

static unode *node_container(int kind)
{
    unode *n = bson_malloc0(sizeof *n);
    n->kind = kind;
    return n;
}

static void node_free(unode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++)
        node_free(n->kids[i]);
    bson_free(n->kids);
    bson_free(n);
}

static void node_insert(unode *c, size_t at, unode *k)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 8;
        c->kids = bson_realloc(c->kids, c->cap * sizeof *c->kids);
    }
    memmove(c->kids + at + 1, c->kids + at, (c->n - at) * sizeof *c->kids);
    c->kids[at] = k;
    c->n++;
}

static unode *node_detach(unode *c, size_t at)
{
    unode *k = c->kids[at];
    memmove(c->kids + at, c->kids + at + 1, (c->n - at - 1) * sizeof *c->kids);
    c->n--;
    return k;
}

/* Turns a document or array value into a container of value nodes. */
static void node_expand(unode *n)
{
    bson_t b;
    bson_iter_t it;
    if (n->kind != N_VAL || !mqx_value_doc(&n->v, &b))
        return;
    n->kind = n->v.value_type == BSON_TYPE_DOCUMENT ? N_DOC : N_ARR;
    if (!bson_iter_init(&it, &b))
        return;
    while (bson_iter_next(&it)) {
        unode *k = node_val(bson_iter_value(&it));
        k->key = bson_iter_key(&it);
        k->keylen = bson_iter_key_len(&it);
        node_insert(n, n->n, k);
    }
}

static void node_write(bson_t *dst, const char *key, uint32_t keylen, const unode *n);

static void node_write_kids(bson_t *dst, const unode *n)
{
    for (size_t i = 0; i < n->n; i++) {
        if (n->kind == N_ARR) {
            char buf[16];
            int kl;
            const char *k = mqx_index_key((uint32_t)i, buf, &kl);
            node_write(dst, k, (uint32_t)kl, n->kids[i]);
        } else {
            node_write(dst, n->kids[i]->key, n->kids[i]->keylen, n->kids[i]);
        }
    }
}

static void node_write(bson_t *dst, const char *key, uint32_t keylen, const unode *n)
{
    bson_t child;
    if (n->kind == N_VAL) {
        bson_append_value(dst, key, (int)keylen, &n->v);
    } else if (n->kind == N_DOC) {
        bson_append_document_begin(dst, key, (int)keylen, &child);
        node_write_kids(&child, n);
        bson_append_document_end(dst, &child);
    } else {
        bson_append_array_begin(dst, key, (int)keylen, &child);
        node_write_kids(&child, n);
        bson_append_array_end(dst, &child);
    }
}

/* The value of a node; an expanded one is written to scratch. The caller
 * destroys scratch. */
static void node_value(const unode *n, bson_t *scratch, bson_value_t *out)
{
    bson_init(scratch);
    if (n->kind == N_VAL) {
        *out = n->v;
        return;
    }
    node_write_kids(scratch, n);
    memset(out, 0, sizeof *out);
    out->value_type = n->kind == N_DOC ? BSON_TYPE_DOCUMENT : BSON_TYPE_ARRAY;
    out->value.v_doc.data = (uint8_t *)bson_get_data(scratch);
    out->value.v_doc.data_len = scratch->len;
}

static bson_type_t node_type(const unode *n)
{
    return n->kind == N_VAL ? n->v.value_type
                            : n->kind == N_DOC ? BSON_TYPE_DOCUMENT : BSON_TYPE_ARRAY;
}

/* Array indexes as MongoDB reads them in update paths: digits, no leading
 * zero. */
static bool parse_index(const char *s, size_t *out)
{
    size_t v = 0;
    if (!*s || (s[0] == '0' && s[1]))
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000)
            return false;
        v = v * 10 + (size_t)(*s - '0');
    }
    *out = v;
    return true;
}

static unode *child_get(const unode *c, const char *key, size_t *at)
{
    size_t i, kl;
    if (c->kind == N_ARR) {
        if (!parse_index(key, &i) || i >= c->n)
            return NULL;
        if (at)
            *at = i;
        return c->kids[i];
    }
    kl = strlen(key);
    for (i = 0; i < c->n; i++) {
        if (c->kids[i]->keylen == kl && memcmp(c->kids[i]->key, key, kl) == 0) {
            if (at)
                *at = i;
            return c->kids[i];
        }
    }
    return NULL;
}

#define MAX_PADDING 1500000

/* Puts k at key in the container c: in place of an existing field or
 * element, else appended (arrays padded with nulls up to the index). Takes
 * k, freeing it on failure. */
static bool child_set(unode *c, const char *key, unode *k, const char *opn, const struct path *p,
                      struct restfcgi_error *err)
{
    size_t at;
    if (c->kind == N_ARR) {
        if (!parse_index(key, &at)) {
            node_free(k);
            return mqx_fail(err, 400, "%s: cannot create field '%s' in an array (path '%s')", opn, key,
                        p->dotted);
        }
        if (at >= c->n) {
            if (at - c->n > MAX_PADDING) {
                node_free(k);
                return mqx_fail(err, 400, "%s: cannot pad the array on '%s' with more than %d nulls",
                            opn, p->dotted, MAX_PADDING);
            }
            bson_value_t null = {.value_type = BSON_TYPE_NULL};
            while (c->n < at)
                node_insert(c, c->n, node_val(&null));
            node_insert(c, c->n, k);
            return true;
        }
        node_free(c->kids[at]);
        c->kids[at] = k;
        return true;
    }
    if (child_get(c, key, &at)) {
        k->key = c->kids[at]->key;
        k->keylen = c->kids[at]->keylen;
        node_free(c->kids[at]);
        c->kids[at] = k;
        return true;
    }
    k->key = key;
    k->keylen = (uint32_t)strlen(key);
    node_insert(c, c->n, k);
    return true;
}

enum { WALK_FIND, WALK_STRICT, WALK_CREATE };

/* Finds the container of the path's last component: 1 with *parent set, 0
 * when the path does not exist (WALK_FIND: also when it runs into a scalar;
 * WALK_STRICT: only when a step is missing), -1 on error. WALK_CREATE
 * creates missing documents. no_arrays ($rename) refuses to go through an
 * array. */
static int walk(unode *root, const struct path *p, int mode, const char *no_arrays,
                const char *opn, unode **parent, struct restfcgi_error *err)
{
    unode *cur = root;
    for (size_t i = 0; i + 1 < p->n; i++) {
        const char *c = p->comp[i];
        unode *k = child_get(cur, c, NULL);
        if (!k) {
            if (mode != WALK_CREATE)
                return 0;
            k = node_container(N_DOC);
            if (!child_set(cur, c, k, opn, p, err))
                return -1;
        } else {
            node_expand(k);
            if (k->kind == N_VAL) {
                if (mode == WALK_FIND)
                    return 0;
                mqx_fail(err, 400, "%s: cannot create field '%s' in the path '%s': '%s' is of type %s, "
                     "not a document", opn, p->comp[i + 1], p->dotted, c, mqx_type_name(k->v.value_type));
                return -1;
            }
        }
        if (no_arrays && k->kind == N_ARR) {
            mqx_fail(err, 400, "$rename: the %s field cannot be an array element ('%s' goes through the "
                 "array '%s')", no_arrays, p->dotted, c);
            return -1;
        }
        cur = k;
    }
    *parent = cur;
    return 1;
}

/* Arithmetic as MongoDB's: int32 widens to int64 on overflow, any double
 * gives a double, an int64 overflow fails. */
static bool arith(bool mul, const bson_value_t *a, const bson_value_t *b, bson_value_t *out)
{
    memset(out, 0, sizeof *out);
    if (a->value_type == BSON_TYPE_DOUBLE || b->value_type == BSON_TYPE_DOUBLE) {
        double x = a->value_type == BSON_TYPE_DOUBLE ? a->value.v_double
                   : a->value_type == BSON_TYPE_INT64 ? (double)a->value.v_int64
                                                      : (double)a->value.v_int32;
        double y = b->value_type == BSON_TYPE_DOUBLE ? b->value.v_double
                   : b->value_type == BSON_TYPE_INT64 ? (double)b->value.v_int64
                                                      : (double)b->value.v_int32;
        out->value_type = BSON_TYPE_DOUBLE;
        out->value.v_double = mul ? x * y : x + y;
        return true;
    }
    int64_t x = a->value_type == BSON_TYPE_INT64 ? a->value.v_int64 : a->value.v_int32;
    int64_t y = b->value_type == BSON_TYPE_INT64 ? b->value.v_int64 : b->value.v_int32, r;
    if (mul ? __builtin_mul_overflow(x, y, &r) : __builtin_add_overflow(x, y, &r))
        return false;
    if (a->value_type == BSON_TYPE_INT32 && b->value_type == BSON_TYPE_INT32 && r >= INT32_MIN &&
        r <= INT32_MAX) {
        out->value_type = BSON_TYPE_INT32;
        out->value.v_int32 = (int32_t)r;
    } else {
        out->value_type = BSON_TYPE_INT64;
        out->value.v_int64 = r;
    }
    return true;
}

/* The values an item adds: the $each array's elements, or the operand. */
static size_t item_values(const struct uitem *it, bson_value_t **out)
{
    bson_t d;
    bson_iter_t i;
    size_t n = 0, cap = 8;
    *out = bson_malloc(cap * sizeof **out);
    if (!it->each) {
        (*out)[n++] = it->arg;
        return n;
    }
    if (mqx_value_doc(&it->arg, &d) && bson_iter_init(&i, &d)) {
        while (bson_iter_next(&i)) {
            if (n == cap) {
                cap *= 2;
                *out = bson_realloc(*out, cap * sizeof **out);
            }
            (*out)[n++] = *bson_iter_value(&i);
        }
    }
    return n;
}

struct sort_elem {
    unode *node;
    bson_value_t v;
    bson_t scratch;
    bson_t doc; /* the element as a document for a field sort ({} for others) */
};

static int push_sort_cmp(const void *a, const void *b, void *ctx)
{
    const struct uitem *it = ctx;
    const struct sort_elem *x = a, *y = b;
    if (it->sort)
        return mql_sort_compare(it->sort, &x->doc, &y->doc);
    return it->sort_dir * mql_value_compare(&x->v, &y->v);
}

static void push_sort(unode *arr, const struct uitem *it)
{
    struct sort_elem *e = bson_malloc0((arr->n + 1) * sizeof *e);
    void **ptrs = bson_malloc((arr->n + 1) * sizeof *ptrs);
    static const uint8_t empty_doc[5] = {5, 0, 0, 0, 0};
    for (size_t i = 0; i < arr->n; i++) {
        e[i].node = arr->kids[i];
        node_value(arr->kids[i], &e[i].scratch, &e[i].v);
        if (e[i].v.value_type != BSON_TYPE_DOCUMENT || !mqx_value_doc(&e[i].v, &e[i].doc))
            bson_init_static(&e[i].doc, empty_doc, sizeof empty_doc);
        ptrs[i] = &e[i];
    }
    mqx_merge_sort(ptrs, arr->n, push_sort_cmp, (void *)it);
    for (size_t i = 0; i < arr->n; i++)
        arr->kids[i] = ((struct sort_elem *)ptrs[i])->node;
    for (size_t i = 0; i < arr->n; i++)
        bson_destroy(&e[i].scratch);
    bson_free(ptrs);
    bson_free(e);
}

static bool node_equals(const unode *n, const bson_value_t *v)
{
    bson_t s;
    bson_value_t nv;
    node_value(n, &s, &nv);
    bool eq = mql_value_equal(&nv, v);
    bson_destroy(&s);
    return eq;
}

static bool pull_matches(const struct uitem *it, const unode *n)
{
    bson_t s, d;
    bson_value_t v;
    bool m = false;
    node_value(n, &s, &v);
    switch (it->pull_kind) {
    case PULL_EQ: m = mql_value_equal(&v, &it->arg); break;
    case PULL_DOC:
        m = v.value_type == BSON_TYPE_DOCUMENT && mqx_value_doc(&v, &d) && mql_filter_match(it->pull, &d);
        break;
    case PULL_WRAP: {
        bson_t w = BSON_INITIALIZER;
        bson_append_value(&w, "", 0, &v);
        m = mql_filter_match(it->pull, &w);
        bson_destroy(&w);
        break;
    }
    }
    bson_destroy(&s);
    return m;
}

/* The array at the item's path for $push/$addToSet (created when missing),
 * NULL with err set when something else is there. */
static unode *array_for_add(unode *parent, const struct uitem *it, struct restfcgi_error *err)
{
    const char *opn = uop_name[it->op], *last = it->path.comp[it->path.n - 1];
    unode *cur = child_get(parent, last, NULL);
    if (!cur) {
        cur = node_container(N_ARR);
        return child_set(parent, last, cur, opn, &it->path, err) ? cur : NULL;
    }
    node_expand(cur);
    if (cur->kind != N_ARR) {
        mqx_fail(err, 400, "%s: the field '%s' must be an array but is of type %s", opn, it->path.dotted,
             mqx_type_name(node_type(cur)));
        return NULL;
    }
    return cur;
}

static bool apply_push(unode *arr, const struct uitem *it)
{
    bson_value_t *vals;
    size_t n = item_values(it, &vals), at = arr->n;
    if (it->has_position) {
        int64_t p = it->position;
        if (p < 0)
            p = (int64_t)arr->n + p < 0 ? 0 : (int64_t)arr->n + p;
        at = (uint64_t)p < arr->n ? (size_t)p : arr->n;
    }
    for (size_t i = 0; i < n; i++)
        node_insert(arr, at + i, node_val(&vals[i]));
    bson_free(vals);
    if (it->sort || it->sort_dir)
        push_sort(arr, it);
    if (it->has_slice) {
        uint64_t keep = it->slice < 0 ? (uint64_t)0 - (uint64_t)it->slice : (uint64_t)it->slice;
        if (keep < arr->n) {
            size_t drop = arr->n - (size_t)keep;
            if (it->slice >= 0) {
                while (arr->n > keep)
                    node_free(node_detach(arr, arr->n - 1));
            } else {
                for (size_t i = 0; i < drop; i++)
                    node_free(node_detach(arr, 0));
            }
        }
    }
    return true;
}

static void apply_add_to_set(unode *arr, const struct uitem *it)
{
    bson_value_t *vals;
    size_t n = item_values(it, &vals);
    for (size_t i = 0; i < n; i++) {
        bool found = false;
        for (size_t j = 0; !found && j < arr->n; j++)
            found = node_equals(arr->kids[j], &vals[i]);
        if (!found)
            node_insert(arr, arr->n, node_val(&vals[i]));
    }
    bson_free(vals);
}

static bool apply_item(unode *root, const struct uitem *it, int64_t now_ms, bool inserting,
                       struct restfcgi_error *err)
{
    const char *opn = uop_name[it->op];
    const struct path *p = &it->path;
    const char *last = p->comp[p->n - 1];
    unode *parent, *cur, *arr;
    bson_value_t v;
    int w;
    size_t at;

    if (it->op == U_SETONINSERT && !inserting)
        return true;
    switch (it->op) {
    case U_UNSET:
    case U_PULL:
    case U_POP:
        w = walk(root, p, WALK_FIND, NULL, opn, &parent, err);
        if (w <= 0)
            return w == 0;
        if (!(cur = child_get(parent, last, &at)))
            return true;
        if (it->op == U_UNSET) {
            /* An array element is set to null, a field removed, as MongoDB. */
            if (parent->kind == N_ARR) {
                v.value_type = BSON_TYPE_NULL;
                node_free(cur);
                parent->kids[at] = node_val(&v);
            } else {
                node_free(node_detach(parent, at));
            }
            return true;
        }
        node_expand(cur);
        if (cur->kind != N_ARR)
            return mqx_fail(err, 400, "%s: cannot apply to the non-array field '%s' (type %s)", opn,
                        p->dotted, mqx_type_name(node_type(cur)));
        if (it->op == U_POP) {
            if (cur->n)
                node_free(node_detach(cur, it->pop_first ? 0 : cur->n - 1));
            return true;
        }
        for (size_t i = cur->n; i-- > 0;)
            if (pull_matches(it, cur->kids[i]))
                node_free(node_detach(cur, i));
        return true;
    case U_RENAME: {
        unode *src, *sp;
        const char *from_last = it->from.comp[it->from.n - 1];
        w = walk(root, &it->from, WALK_STRICT, "source", opn, &sp, err);
        if (w <= 0)
            return w == 0;
        if (!(src = child_get(sp, from_last, &at)))
            return true;
        src = node_detach(sp, at);
        if (walk(root, p, WALK_CREATE, "destination", opn, &parent, err) < 0) {
            node_free(src);
            return false;
        }
        return child_set(parent, last, src, opn, p, err);
    }
    default: break;
    }

    w = walk(root, p, WALK_CREATE, NULL, opn, &parent, err);
    if (w < 0)
        return false;
    cur = child_get(parent, last, NULL);
    switch (it->op) {
    case U_SET:
    case U_SETONINSERT: return child_set(parent, last, node_val(&it->arg), opn, p, err);
    case U_INC:
    case U_MUL:
        if (!cur) {
            if (it->op == U_INC) {
                v = it->arg;
            } else {
                memset(&v, 0, sizeof v);
                v.value_type = it->arg.value_type; /* zero of the multiplier's type */
            }
        } else if (cur->kind != N_VAL || !is_number(cur->v.value_type)) {
            return mqx_fail(err, 400, "Cannot apply %s to a value of non-numeric type: the field '%s' "
                        "has type %s", opn, p->dotted, mqx_type_name(node_type(cur)));
        } else if (cur->v.value_type == BSON_TYPE_DECIMAL128) {
            return mqx_fail(err, 400, "%s: decimal128 arithmetic is not supported ('%s')", opn,
                        p->dotted);
        } else if (!arith(it->op == U_MUL, &cur->v, &it->arg, &v)) {
            return mqx_fail(err, 400, "Failed to apply %s to the field '%s': the result overflows a "
                        "64-bit integer", opn, p->dotted);
        }
        return child_set(parent, last, node_val(&v), opn, p, err);
    case U_MIN:
    case U_MAX:
        if (cur) {
            bson_t s;
            node_value(cur, &s, &v);
            int c = mql_value_compare(&it->arg, &v);
            bson_destroy(&s);
            if (it->op == U_MIN ? c >= 0 : c <= 0)
                return true;
        }
        return child_set(parent, last, node_val(&it->arg), opn, p, err);
    case U_CURRENTDATE:
        memset(&v, 0, sizeof v);
        if (it->timestamp) {
            /* Seconds, and the milliseconds (+1) as the increment, so that
             * later updates get larger timestamps. */
            v.value_type = BSON_TYPE_TIMESTAMP;
            v.value.v_timestamp.timestamp = (uint32_t)(now_ms / 1000);
            v.value.v_timestamp.increment = (uint32_t)(now_ms % 1000) + 1;
        } else {
            v.value_type = BSON_TYPE_DATE_TIME;
            v.value.v_datetime = now_ms;
        }
        return child_set(parent, last, node_val(&v), opn, p, err);
    case U_PUSH:
        if (!(arr = array_for_add(parent, it, err)))
            return false;
        return apply_push(arr, it);
    case U_ADDTOSET:
        if (!(arr = array_for_add(parent, it, err)))
            return false;
        apply_add_to_set(arr, it);
        return true;
    default: return true;
    }
}

/* ---- the API ---- */

bool mql_update_check(const bson_t *update, bool is_pipeline, struct restfcgi_error *err)
{
    if (is_pipeline) {
        struct upipe up;
        bool ok = upipe_build(update, &up, err);
        upipe_free(&up);
        return ok;
    }
    struct uplan pl;
    bool ok = plan_build(update, &pl, err);
    plan_free(&pl);
    return ok;
}

bool mql_update_apply(const bson_t *doc, const bson_t *update, bool is_pipeline, int64_t now_ms,
                      bool inserting, bson_t *out, struct restfcgi_error *err)
{
    bson_init(out);
    if (is_pipeline)
        return upipe_apply(doc, update, now_ms, out, err);
    struct uplan pl;
    unode *root = NULL;
    bool ok = plan_build(update, &pl, err);
    if (ok) {
        bson_value_t dv = {.value_type = BSON_TYPE_DOCUMENT};
        dv.value.v_doc.data = (uint8_t *)bson_get_data(doc);
        dv.value.v_doc.data_len = doc->len;
        root = node_val(&dv);
        node_expand(root);
        for (size_t i = 0; ok && i < pl.n; i++)
            ok = apply_item(root, &pl.items[i], now_ms, inserting, err);
    }
    if (ok) {
        node_write_kids(out, root);
        ok = mqx_depth_check(doc, out, "the update", err);
    }
    if (ok) {
        /* _id may be set to what it is (or created when the document has
         * none), never changed: MongoDB compares the bytes here. */
        bson_iter_t oi, ni;
        if (bson_iter_init_find(&oi, doc, "_id") &&
            (!bson_iter_init_find(&ni, out, "_id") || !same_bytes(&oi, &ni)))
            ok = mqx_fail(err, 400, "Performing an update on the path '_id' would modify the immutable "
                      "field '_id'");
    }
    node_free(root);
    plan_free(&pl);
    if (!ok)
        bson_reinit(out);
    return ok;
}

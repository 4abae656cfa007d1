/*
 * mql_sort.c: sort specifications ({"a": 1, "b.c": -1}) and the comparison
 * of two documents by them, in MongoDB's order (see mql.h).
 */
#include <stdio.h>
#include <string.h>

#include "mql.h"

struct sort_field {
    struct mql_path path;
    int dir; /* 1 or -1 */
};

struct mql_sort {
    struct sort_field *fields;
    size_t n;
};

void mql_sort_free(mql_sort *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        mql_path_free(&s->fields[i].path);
    bson_free(s->fields);
    bson_free(s);
}

static bool direction(const bson_value_t *v, int *dir)
{
    double d;
    switch (v->value_type) {
    case BSON_TYPE_INT32: d = v->value.v_int32; break;
    case BSON_TYPE_INT64: d = (double)v->value.v_int64; break;
    case BSON_TYPE_DOUBLE: d = v->value.v_double; break;
    default: return false;
    }
    if (d != 1 && d != -1)
        return false;
    *dir = (int)d;
    return true;
}

mql_sort *mql_sort_compile(const bson_t *sort, struct restfcgi_error *err)
{
    bson_iter_t it;
    mql_sort *s = bson_malloc0(sizeof *s);
    if (!bson_iter_init(&it, sort)) {
        mql_sort_free(s);
        err->domain = RESTFCGI_ERR_REQUEST;
        err->code = 400;
        snprintf(err->message, sizeof err->message, "invalid sort document");
        return NULL;
    }
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        int dir;
        if (!*k || k[0] == '$' || !direction(bson_iter_value(&it), &dir)) {
            err->domain = RESTFCGI_ERR_REQUEST;
            err->code = 400;
            snprintf(err->message, sizeof err->message,
                     "sort: '%s' needs 1 (ascending) or -1 (descending)", k);
            mql_sort_free(s);
            return NULL;
        }
        s->fields = bson_realloc(s->fields, (s->n + 1) * sizeof *s->fields);
        s->fields[s->n].dir = dir;
        mql_path_parse(k, &s->fields[s->n].path);
        s->n++;
    }
    return s;
}

struct sort_key {
    int dir;
    bool have;
    bool empty; /* best is an empty array: below null, above MinKey */
    bson_value_t best;
};

static const bson_value_t null_value = {.value_type = BSON_TYPE_NULL};

/* mql_value_compare, with the empty array of a sort key ranked as MongoDB
 * sorts it (as undefined: after MinKey, before null and everything else). */
static int key_compare(const bson_value_t *a, bool ea, const bson_value_t *b, bool eb)
{
    if (!ea && !eb)
        return mql_value_compare(a, b);
    if (ea && eb)
        return 0;
    if (ea)
        return b->value_type == BSON_TYPE_MINKEY ? 1 : -1;
    return a->value_type == BSON_TYPE_MINKEY ? -1 : 1;
}

static void consider(struct sort_key *k, const bson_value_t *v, bool empty)
{
    if (!k->have || key_compare(v, empty, &k->best, k->empty) * k->dir < 0) {
        k->best = *v;
        k->empty = empty;
        k->have = true;
    }
}

/* An array sorts by its smallest element ascending and its largest
 * descending; a missing field as null; an empty array below null (so
 * first ascending and last descending), as MongoDB. */
static bool visit_sort(void *ctx, const bson_value_t *v)
{
    struct sort_key *k = ctx;
    bson_t d;
    bson_iter_t it;
    if (!v) {
        consider(k, &null_value, false);
    } else if (v->value_type == BSON_TYPE_ARRAY &&
               bson_init_static(&d, v->value.v_doc.data, v->value.v_doc.data_len) &&
               bson_iter_init(&it, &d)) {
        bool any = false;
        while (bson_iter_next(&it)) {
            consider(k, bson_iter_value(&it), false);
            any = true;
        }
        if (!any)
            consider(k, v, true);
    } else {
        consider(k, v, false);
    }
    return false;
}

int mql_sort_compare(const mql_sort *s, const bson_t *a, const bson_t *b)
{
    for (size_t i = 0; i < s->n; i++) {
        struct sort_key ka = {.dir = s->fields[i].dir}, kb = {.dir = s->fields[i].dir};
        mql_path_visit(a, &s->fields[i].path, visit_sort, &ka);
        mql_path_visit(b, &s->fields[i].path, visit_sort, &kb);
        int c = key_compare(ka.have ? &ka.best : &null_value, ka.have && ka.empty,
                            kb.have ? &kb.best : &null_value, kb.have && kb.empty);
        if (c)
            return c * s->fields[i].dir;
    }
    return 0;
}

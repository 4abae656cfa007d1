/*
 * mql_projection.c: inclusion and exclusion projections ({"a": 1, "b.c": 1}
 * or {"a": 0}) over bson documents, as MongoDB's find (see mql.h).
 * Projection operators ($slice, $elemMatch, positional "a.$") and computed
 * fields are outside the subset and refused with 400.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mql.h"

struct pnode {
    char *name;
    bool leaf;
    struct pnode *kids;
    size_t n;
};

struct mql_projection {
    bool inclusion;
    struct pnode root;
};

static void pnode_clear(struct pnode *p)
{
    for (size_t i = 0; i < p->n; i++)
        pnode_clear(&p->kids[i]);
    bson_free(p->kids);
    bson_free(p->name);
}

void mql_projection_free(mql_projection *p)
{
    if (!p)
        return;
    pnode_clear(&p->root);
    bson_free(p);
}

__attribute__((format(printf, 2, 3))) static mql_projection *refuse(struct restfcgi_error *err,
                                                                    const char *fmt, ...)
{
    err->domain = RESTFCGI_ERR_REQUEST;
    err->code = 400;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return NULL;
}

static struct pnode *kid(const struct pnode *p, const char *name, size_t len)
{
    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->kids[i].name) == len && !memcmp(p->kids[i].name, name, len))
            return &p->kids[i];
    return NULL;
}

/* Adds a dotted path as a leaf; false when it collides with another path
 * (one is a prefix of the other, or the same path twice). */
static bool add_path(struct pnode *root, const char *path)
{
    struct pnode *p = root;
    for (;;) {
        const char *dot = strchr(path, '.');
        size_t len = dot ? (size_t)(dot - path) : strlen(path);
        struct pnode *k = kid(p, path, len);
        if (k && (k->leaf || !dot))
            return false;
        if (!k) {
            p->kids = bson_realloc(p->kids, (p->n + 1) * sizeof *p->kids);
            k = &p->kids[p->n++];
            memset(k, 0, sizeof *k);
            k->name = bson_strndup(path, len);
        }
        if (!dot) {
            k->leaf = true;
            return true;
        }
        p = k;
        path = dot + 1;
    }
}

static bool flag(const bson_value_t *v, bool *on)
{
    switch (v->value_type) {
    case BSON_TYPE_BOOL: *on = v->value.v_bool; return true;
    case BSON_TYPE_INT32: *on = v->value.v_int32 != 0; return true;
    case BSON_TYPE_INT64: *on = v->value.v_int64 != 0; return true;
    case BSON_TYPE_DOUBLE: *on = v->value.v_double != 0; return true;
    default: return false;
    }
}

mql_projection *mql_projection_compile(const bson_t *keys, struct restfcgi_error *err)
{
    bson_iter_t it;
    int id = -1, mode = -1; /* -1 unset, 0 exclusion, 1 inclusion */
    if (!bson_iter_init(&it, keys))
        return refuse(err, "invalid projection document");
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        bool on;
        if (!*k || k[0] == '$' || strstr(k, ".$") || strstr(k, "..") || k[strlen(k) - 1] == '.')
            return refuse(err, "projection: field '%s' is not supported", k);
        size_t steps = 1;
        for (const char *c = k; *c; c++)
            steps += *c == '.';
        if (steps > MQL_MAX_NESTING)
            return refuse(err, "projection: the path '%.40s...' has more than %d components", k,
                          MQL_MAX_NESTING);
        if (!flag(bson_iter_value(&it), &on))
            return refuse(err, "projection: '%s' must be 1 or 0 (projection operators and "
                               "computed fields are not supported)", k);
        if (!strcmp(k, "_id")) {
            id = on;
            continue;
        }
        if (mode >= 0 && mode != on)
            return refuse(err, on ? "projection: cannot include '%s' in an exclusion projection"
                                  : "projection: cannot exclude '%s' in an inclusion projection", k);
        mode = on;
    }
    mql_projection *p = bson_malloc0(sizeof *p);
    p->inclusion = mode == 1 || (mode == -1 && id == 1);
    bson_iter_init(&it, keys);
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (!strcmp(k, "_id"))
            continue;
        if (!add_path(&p->root, k)) {
            mql_projection_free(p);
            return refuse(err, "projection: path collision at '%s'", k);
        }
    }
    /* _id comes with an inclusion unless excluded (or only some of its
     * fields are asked for: {"_id.x": 1}), and goes in an exclusion only
     * when asked to. */
    if ((p->inclusion && (id == 1 || (id == -1 && !kid(&p->root, "_id", 3)))) ||
        (!p->inclusion && id == 0)) {
        if (!add_path(&p->root, "_id")) {
            mql_projection_free(p);
            return refuse(err, "projection: path collision at '_id'");
        }
    }
    return p;
}

static void project_doc(const struct pnode *p, bool inclusion, const bson_t *in, bson_t *out,
                        size_t depth);

/* Past MQL_MAX_NESTING levels a document or array counts as a leaf the
 * projection does not name (bounded recursion). */
static void project_array(const struct pnode *p, bool inclusion, const bson_t *in, bson_t *out,
                          size_t depth)
{
    bson_iter_t it;
    uint32_t i = 0;
    if (!bson_iter_init(&it, in))
        return;
    while (bson_iter_next(&it)) {
        const char *key;
        char buf[16];
        bson_t sub, child;
        const bson_value_t *v = bson_iter_value(&it);
        if ((v->value_type == BSON_TYPE_DOCUMENT || v->value_type == BSON_TYPE_ARRAY) &&
            depth < MQL_MAX_NESTING) {
            if (!bson_init_static(&sub, v->value.v_doc.data, v->value.v_doc.data_len))
                continue;
            bson_uint32_to_string(i++, &key, buf, sizeof buf);
            if (v->value_type == BSON_TYPE_DOCUMENT) {
                bson_append_document_begin(out, key, -1, &child);
                project_doc(p, inclusion, &sub, &child, depth + 1);
                bson_append_document_end(out, &child);
            } else {
                bson_append_array_begin(out, key, -1, &child);
                project_array(p, inclusion, &sub, &child, depth + 1);
                bson_append_array_end(out, &child);
            }
        } else if (!inclusion) {
            /* an inclusion of sub-fields drops the scalars of an array */
            bson_uint32_to_string(i++, &key, buf, sizeof buf);
            bson_append_value(out, key, -1, v);
        }
    }
}

static void project_doc(const struct pnode *p, bool inclusion, const bson_t *in, bson_t *out,
                        size_t depth)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, in))
        return;
    while (bson_iter_next(&it)) {
        const struct pnode *k = kid(p, bson_iter_key(&it), bson_iter_key_len(&it));
        const bson_value_t *v = bson_iter_value(&it);
        bson_t sub, child;
        if (!k) {
            if (!inclusion)
                bson_append_iter(out, NULL, 0, &it);
            continue;
        }
        if (k->leaf) {
            if (inclusion)
                bson_append_iter(out, NULL, 0, &it);
            continue;
        }
        if (depth >= MQL_MAX_NESTING) {
            if (!inclusion)
                bson_append_iter(out, NULL, 0, &it);
        } else if (v->value_type == BSON_TYPE_DOCUMENT &&
                   bson_init_static(&sub, v->value.v_doc.data, v->value.v_doc.data_len)) {
            bson_append_document_begin(out, bson_iter_key(&it), (int)bson_iter_key_len(&it), &child);
            project_doc(k, inclusion, &sub, &child, depth + 1);
            bson_append_document_end(out, &child);
        } else if (v->value_type == BSON_TYPE_ARRAY &&
                   bson_init_static(&sub, v->value.v_doc.data, v->value.v_doc.data_len)) {
            bson_append_array_begin(out, bson_iter_key(&it), (int)bson_iter_key_len(&it), &child);
            project_array(k, inclusion, &sub, &child, depth + 1);
            bson_append_array_end(out, &child);
        } else if (!inclusion) {
            bson_append_iter(out, NULL, 0, &it);
        }
    }
}

void mql_projection_apply(const mql_projection *p, const bson_t *doc, bson_t *out)
{
    bson_init(out);
    project_doc(&p->root, p->inclusion, doc, out, 1);
}

/* mg_index.c: the indexes of a collection (listIndexes, createIndexes,
 * dropIndexes where the server has it). */
#include <stdlib.h>
#include <string.h>

#include "mg.h"

/* Calls fn for every index of db.coll; a namespace MongoDB has not made yet
 * (a collection with no document) has only the _id index. */
typedef bool (*index_fn)(void *ctx, const bson_t *index, struct restfcgi_error *err);

static bool each_index(struct store *s, mongoc_client_t *c, const char *db, const char *coll,
                       index_fn fn, void *ctx, struct restfcgi_error *err)
{
    mongoc_collection_t *mc = mongoc_client_get_collection(c, db, coll);
    mongoc_cursor_t *cur = mongoc_collection_find_indexes_with_opts(mc, NULL);
    const bson_t *doc;
    bool ok = true, any = false;
    while (ok && mongoc_cursor_next(cur, &doc)) {
        any = true;
        ok = fn(ctx, doc, err);
    }
    bson_error_t e;
    if (ok && mongoc_cursor_error(cur, &e)) {
        if ((e.domain == MONGOC_ERROR_SERVER || e.domain == MONGOC_ERROR_QUERY) && e.code == 26)
            any = false; /* NamespaceNotFound */
        else
            ok = mg_fail(s, &e, "listing indexes", err);
    }
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(mc);
    if (ok && !any) {
        bson_t *id_index = BCON_NEW("key", "{", "_id", BCON_INT32(1), "}", "name", "_id_");
        ok = fn(ctx, id_index, err);
        bson_destroy(id_index);
    }
    return ok;
}

/* The ABI's shape: {"_id": name, "key": {...}[, "unique": true]}. */
static bool shape(const bson_t *index, bson_t *out)
{
    bson_iter_t name, key, uniq;
    if (!bson_iter_init_find(&name, index, "name") || !BSON_ITER_HOLDS_UTF8(&name) ||
        !bson_iter_init_find(&key, index, "key") || !BSON_ITER_HOLDS_DOCUMENT(&key))
        return false;
    bson_init(out);
    uint32_t len;
    const char *n = bson_iter_utf8(&name, &len);
    bson_append_utf8(out, "_id", 3, n, (int)len);
    bson_append_iter(out, "key", 3, &key);
    if (bson_iter_init_find(&uniq, index, "unique") && bson_iter_as_bool(&uniq) &&
        strcmp(n, "_id_") != 0)
        BSON_APPEND_BOOL(out, "unique", true);
    return true;
}

/* The indexes in the order both stores list them: _id_, then by name. */
struct index_list {
    bson_t **docs;
    size_t n;
};

static bool collect_index(void *vctx, const bson_t *index, struct restfcgi_error *err)
{
    struct index_list *l = vctx;
    bson_t out;
    if (!shape(index, &out))
        return true;
    bson_t **more = realloc(l->docs, (l->n + 1) * sizeof *more);
    if (!more) {
        bson_destroy(&out);
        return mg_error(err, 500, "out of memory");
    }
    l->docs = more;
    l->docs[l->n++] = bson_copy(&out);
    bson_destroy(&out);
    return true;
}

static const char *index_name(const bson_t *doc)
{
    bson_iter_t it;
    return bson_iter_init_find(&it, doc, "_id") ? bson_iter_utf8(&it, NULL) : "";
}

static int by_name(const void *a, const void *b)
{
    const char *x = index_name(*(bson_t *const *)a), *y = index_name(*(bson_t *const *)b);
    bool xid = strcmp(x, "_id_") == 0, yid = strcmp(y, "_id_") == 0;
    if (xid != yid)
        return xid ? -1 : 1;
    return strcmp(x, y);
}

bool mg_index_list(void *state, const char *db, const char *coll, restfcgi_emit_fn emit,
                   void *ctx, struct restfcgi_error *err)
{
    struct store *s = state;
    mongoc_client_t *c = mg_client(s, err);
    if (!c)
        return false;
    struct index_list l = {0};
    bool ok = mg_exists(s, c, db, coll, err) && each_index(s, c, db, coll, collect_index, &l, err);
    mg_release(s, c);
    if (ok && l.n)
        qsort(l.docs, l.n, sizeof *l.docs, by_name);
    for (size_t i = 0; i < l.n; i++) {
        ok = ok && emit(ctx, bson_get_data(l.docs[i]), l.docs[i]->len, err);
        bson_destroy(l.docs[i]);
    }
    free(l.docs);
    return ok;
}

struct find_ctx {
    const char *name;
    bool found;
};

static bool find_name(void *vctx, const bson_t *index, struct restfcgi_error *err)
{
    (void)err;
    struct find_ctx *fc = vctx;
    bson_iter_t it;
    if (bson_iter_init_find(&it, index, "name") && BSON_ITER_HOLDS_UTF8(&it) &&
        strcmp(bson_iter_utf8(&it, NULL), fc->name) == 0)
        fc->found = true;
    return true;
}

static bool index_exists(struct store *s, mongoc_client_t *c, const char *db, const char *coll,
                         const char *name, bool *found, struct restfcgi_error *err)
{
    struct find_ctx fc = {.name = name};
    bool ok = each_index(s, c, db, coll, find_name, &fc, err);
    *found = fc.found;
    return ok;
}

/* What store_sqlite can index is what both stores accept: ascending and
 * descending keys (text, hashed and geo indexes are 400 on both). */
static bool check_keys(const bson_t *keys, struct restfcgi_error *err)
{
    bson_iter_t it;
    int n = 0;
    if (!bson_iter_init(&it, keys))
        return mg_error(err, 400, "index keys are not a document");
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (!*k || *k == '$')
            return mg_error(err, 400, "invalid index key field '%s'", k);
        if (!BSON_ITER_HOLDS_NUMBER(&it) ||
            (bson_iter_as_double(&it) != 1 && bson_iter_as_double(&it) != -1))
            return mg_error(err, 400, "index key '%s' must be 1 or -1 (text, hashed and geo "
                                      "indexes are not supported)", k);
        n++;
    }
    if (n == 0)
        return mg_error(err, 400, "index keys must name at least one field");
    if (n > 32)
        return mg_error(err, 400, "an index has at most 32 fields");
    return true;
}

bool mg_index_create(void *state, const char *db, const char *coll, const char *name,
                     struct restfcgi_bson kv, bool unique, struct restfcgi_error *err)
{
    struct store *s = state;
    bson_t keys;
    if (!mg_view(kv, &keys))
        return mg_error(err, 400, "index keys are not a document");
    if (!check_keys(&keys, err))
        return false;
    if (strcmp(name, "_id_") == 0)
        return mg_error(err, 406, "the index _id_ exists");
    mongoc_client_t *c = mg_client(s, err);
    if (!c)
        return false;
    bool found = false;
    bool ok = mg_exists(s, c, db, coll, err) && index_exists(s, c, db, coll, name, &found, err);
    if (ok && found)
        ok = mg_error(err, 406, "the index %s exists", name);
    if (ok) {
        bson_t cmd = BSON_INITIALIZER, list, index;
        BSON_APPEND_UTF8(&cmd, "createIndexes", coll);
        BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &list);
        BSON_APPEND_DOCUMENT_BEGIN(&list, "0", &index);
        BSON_APPEND_DOCUMENT(&index, "key", &keys);
        BSON_APPEND_UTF8(&index, "name", name);
        if (unique)
            BSON_APPEND_BOOL(&index, "unique", true);
        bson_append_document_end(&list, &index);
        bson_append_array_end(&cmd, &list);
        bson_error_t e;
        ok = mongoc_client_write_command_with_opts(c, db, &cmd, NULL, NULL, &e) ||
             mg_fail(s, &e, "creating an index", err);
        bson_destroy(&cmd);
    }
    mg_release(s, c);
    return ok;
}

bool mg_index_drop(void *state, const char *db, const char *coll, const char *name,
                   struct restfcgi_error *err)
{
    struct store *s = state;
    if (strcmp(name, "_id_") == 0)
        return mg_error(err, 400, "the _id_ index cannot be dropped");
    mongoc_client_t *c = mg_client(s, err);
    if (!c)
        return false;
    bool found = false;
    struct mg_caps caps;
    bool ok = mg_exists(s, c, db, coll, err) && index_exists(s, c, db, coll, name, &found, err);
    if (ok && !found)
        ok = mg_error(err, 404, "index %s does not exist", name);
    if (ok)
        ok = mg_caps(s, c, &caps, err);
    if (ok && !caps.drop_indexes)
        ok = mg_error(err, 501, "the store's server does not support dropIndexes");
    if (ok) {
        bson_t *cmd = BCON_NEW("dropIndexes", BCON_UTF8(coll), "index", BCON_UTF8(name));
        bson_error_t e;
        ok = mongoc_client_write_command_with_opts(c, db, cmd, NULL, NULL, &e) ||
             mg_fail(s, &e, "dropping an index", err);
        bson_destroy(cmd);
    }
    mg_release(s, c);
    return ok;
}

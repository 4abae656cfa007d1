/* sq_index.c: secondary indexes: their definitions, their entries kept in
 * step with every write, and the choice of the candidate documents a query
 * reads (by _id, by an index whose first field the filter pins, or a scan). */
#include <string.h>

#include "sq.h"

void sq_indexes_free(struct sq_indexes *ix)
{
    for (size_t i = 0; i < ix->n; i++) {
        bson_free(ix->list[i].name);
        bson_free(ix->list[i].first_path);
        bson_destroy(ix->list[i].keys);
    }
    bson_free(ix->list);
    memset(ix, 0, sizeof *ix);
}

bool sq_indexes_load(sqlite3 *db, int64_t coll, struct sq_indexes *ix, struct restfcgi_error *err)
{
    memset(ix, 0, sizeof *ix);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, "SELECT name, keys, uniq FROM idx WHERE coll = ?1 ORDER BY name",
                           -1, &st, NULL) != SQLITE_OK)
        return sq_db_error(err, db, "reading indexes");
    sqlite3_bind_int64(st, 1, coll);
    int rc;
    bool ok = true;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bson_t keys;
        bson_iter_t it;
        if (!bson_init_static(&keys, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1)) ||
            !bson_iter_init(&it, &keys) || !bson_iter_next(&it)) {
            ok = sq_error(err, 500, "index %s has corrupt keys", (const char *)sqlite3_column_text(st, 0));
            break;
        }
        ix->list = bson_realloc(ix->list, (ix->n + 1) * sizeof *ix->list);
        struct sq_index *x = &ix->list[ix->n++];
        x->name = bson_strdup((const char *)sqlite3_column_text(st, 0));
        x->first_path = bson_strdup(bson_iter_key(&it));
        x->keys = bson_copy(&keys);
        x->unique = sqlite3_column_int(st, 2) != 0;
    }
    if (ok && rc != SQLITE_DONE)
        ok = sq_db_error(err, db, "reading indexes");
    sqlite3_finalize(st);
    if (!ok)
        sq_indexes_free(ix);
    return ok;
}

struct values {
    bson_value_t *v;
    size_t n;
};

static void values_push(struct values *vs, const bson_value_t *v)
{
    vs->v = bson_realloc(vs->v, (vs->n + 1) * sizeof *vs->v);
    vs->v[vs->n++] = *v;
}

/* Every value the matcher can reach at the path is indexed, so that an
 * equality on the path finds its documents through the index: arrays met
 * on the way are entered, an array at the end gives its elements
 * (multikey), and a missing field or an empty array gives null. */
static bool visit_value(void *ctx, const bson_value_t *v)
{
    static const bson_value_t null_value = {.value_type = BSON_TYPE_NULL};
    struct values *vs = ctx;
    bson_t arr;
    bson_iter_t it;
    size_t before = vs->n;
    if (v && v->value_type == BSON_TYPE_ARRAY &&
        bson_init_static(&arr, v->value.v_doc.data, v->value.v_doc.data_len) && bson_iter_init(&it, &arr)) {
        while (bson_iter_next(&it))
            values_push(vs, bson_iter_value(&it));
    } else if (v) {
        values_push(vs, v);
    }
    if (vs->n == before)
        values_push(vs, &null_value);
    return false;
}

static size_t values_at(const bson_t *doc, const char *path, bson_value_t **vals)
{
    struct values vs = {0};
    struct mql_path p;
    mql_path_parse(path, &p);
    mql_path_visit(doc, &p, visit_value, &vs);
    mql_path_free(&p);
    *vals = vs.v;
    return vs.n;
}

void sq_keys_free(struct sq_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        mql_key_free(&k->list[i]);
    bson_free(k->list);
    memset(k, 0, sizeof *k);
}

/* The distinct keys of doc in index x: one field of a compound index may be
 * an array (one key per element); two arrays are refused as MongoDB does. */
bool sq_index_keys(const struct sq_index *x, const bson_t *doc, struct sq_keys *out,
                   struct restfcgi_error *err)
{
    bson_iter_t it;
    memset(out, 0, sizeof *out);
    out->list = bson_malloc0(sizeof *out->list);
    out->n = 1;
    bool array_seen = false;
    bson_iter_init(&it, x->keys);
    while (bson_iter_next(&it)) {
        bson_value_t *vals;
        size_t n = values_at(doc, bson_iter_key(&it), &vals);
        if (n > 1 && array_seen) {
            bson_free(vals);
            sq_keys_free(out);
            return sq_error(err, 400, "index %s cannot index two array fields of one document",
                            x->name);
        }
        array_seen = array_seen || n > 1;
        struct mql_key *next = bson_malloc0(out->n * n * sizeof *next);
        for (size_t k = 0; k < out->n; k++) {
            for (size_t j = 0; j < n; j++) {
                struct mql_key *dst = &next[k * n + j];
                mql_key_copy(dst, &out->list[k]);
                mql_key_append(dst, &vals[j]);
            }
        }
        size_t total = out->n * n;
        sq_keys_free(out);
        out->list = next;
        out->n = total;
        bson_free(vals);
    }
    /* Equal elements of one array give one entry. */
    size_t kept = 0;
    for (size_t i = 0; i < out->n; i++) {
        bool dup = false;
        for (size_t j = 0; j < kept && !dup; j++)
            dup = out->list[j].len == out->list[i].len &&
                  memcmp(out->list[j].data, out->list[i].data, out->list[i].len) == 0;
        if (dup)
            mql_key_free(&out->list[i]);
        else
            out->list[kept++] = out->list[i];
    }
    out->n = kept;
    return true;
}

/* Adds (add) or removes the entries of document k in every index. */
bool sq_index_entries(struct sq_coll *c, const struct mql_key *k, const bson_t *doc, bool add,
                      struct restfcgi_error *err)
{
    sqlite3_stmt *st = NULL;
    if (!add) {
        static const char *const sql[] = {"DELETE FROM ikeys WHERE coll = ?1 AND k = ?2",
                                          "DELETE FROM ukeys WHERE coll = ?1 AND k = ?2"};
        for (int i = 0; i < 2; i++) {
            if (sqlite3_prepare_v2(c->db, sql[i], -1, &st, NULL) != SQLITE_OK)
                return sq_db_error(err, c->db, "removing index entries");
            sqlite3_bind_int64(st, 1, c->id);
            sqlite3_bind_blob(st, 2, k->data, (int)k->len, SQLITE_STATIC);
            int rc = sqlite3_step(st);
            sqlite3_finalize(st);
            if (rc != SQLITE_DONE)
                return sq_db_error(err, c->db, "removing index entries");
        }
        return true;
    }
    for (size_t i = 0; i < c->ix.n; i++) {
        const struct sq_index *x = &c->ix.list[i];
        struct sq_keys keys;
        if (!sq_index_keys(x, doc, &keys, err))
            return false;
        const char *sql = x->unique ? "INSERT INTO ukeys(coll, name, key, k) VALUES(?1, ?2, ?3, ?4)"
                                    : "INSERT INTO ikeys(coll, name, key, k) VALUES(?1, ?2, ?3, ?4)";
        bool ok = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL) == SQLITE_OK;
        for (size_t j = 0; ok && j < keys.n; j++) {
            sqlite3_bind_int64(st, 1, c->id);
            sqlite3_bind_text(st, 2, x->name, -1, SQLITE_STATIC);
            sqlite3_bind_blob(st, 3, keys.list[j].data, (int)keys.list[j].len, SQLITE_STATIC);
            sqlite3_bind_blob(st, 4, k->data, (int)k->len, SQLITE_STATIC);
            int rc = sqlite3_step(st);
            sqlite3_reset(st);
            if (rc == SQLITE_CONSTRAINT) {
                sq_error(err, 409, "duplicate key in unique index %s", x->name);
                ok = false;
            } else if (rc != SQLITE_DONE) {
                sq_db_error(err, c->db, "writing index entries");
                ok = false;
            }
        }
        if (!st)
            sq_db_error(err, c->db, "writing index entries");
        sqlite3_finalize(st);
        st = NULL;
        sq_keys_free(&keys);
        if (!ok)
            return false;
    }
    return true;
}

/* The candidates of a query, in _id order (descending unless ascending):
 * the one document of an _id equality, the documents an index lists for a
 * pinned first field, or every document. Every candidate still goes through
 * the filter: the plan only narrows what is read. */
bool sq_candidates(struct sq_coll *c, const mql_filter *f, bool ascending, sqlite3_stmt **out,
                   struct restfcgi_error *err)
{
    *out = NULL;
    bson_value_t v;
    struct mql_key key = {0}, end = {0};
    const char *sql;
    const struct sq_index *use = NULL;
    if (f && mql_filter_equality(f, "_id", &v)) {
        mql_key_append(&key, &v);
        sql = ascending ? "SELECT k, doc FROM docs WHERE coll = ?1 AND k = ?2"
                        : "SELECT k, doc FROM docs WHERE coll = ?1 AND k = ?2";
    } else {
        for (size_t i = 0; f && i < c->ix.n && !use; i++) {
            if (mql_filter_equality(f, c->ix.list[i].first_path, &v))
                use = &c->ix.list[i];
        }
        if (use) {
            /* Every key of the index that starts with the value's encoding. */
            mql_key_append(&key, &v);
            mql_key_copy(&end, &key);
            mql_key_push(&end, 0xff);
            sql = use->unique
                      ? (ascending ? "SELECT k, doc FROM docs WHERE coll = ?1 AND k IN (SELECT k FROM "
                                     "ukeys WHERE coll = ?1 AND name = ?3 AND key >= ?2 AND key < ?4) "
                                     "ORDER BY k"
                                   : "SELECT k, doc FROM docs WHERE coll = ?1 AND k IN (SELECT k FROM "
                                     "ukeys WHERE coll = ?1 AND name = ?3 AND key >= ?2 AND key < ?4) "
                                     "ORDER BY k DESC")
                      : (ascending ? "SELECT k, doc FROM docs WHERE coll = ?1 AND k IN (SELECT k FROM "
                                     "ikeys WHERE coll = ?1 AND name = ?3 AND key >= ?2 AND key < ?4) "
                                     "ORDER BY k"
                                   : "SELECT k, doc FROM docs WHERE coll = ?1 AND k IN (SELECT k FROM "
                                     "ikeys WHERE coll = ?1 AND name = ?3 AND key >= ?2 AND key < ?4) "
                                     "ORDER BY k DESC");
        } else {
            sql = ascending ? "SELECT k, doc FROM docs WHERE coll = ?1 ORDER BY k"
                            : "SELECT k, doc FROM docs WHERE coll = ?1 ORDER BY k DESC";
        }
    }
    bool ok = sqlite3_prepare_v2(c->db, sql, -1, out, NULL) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(*out, 1, c->id);
        if (key.len)
            sqlite3_bind_blob(*out, 2, key.data, (int)key.len, SQLITE_TRANSIENT);
        if (use) {
            sqlite3_bind_text(*out, 3, use->name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_blob(*out, 4, end.data, (int)end.len, SQLITE_TRANSIENT);
        }
    } else {
        sq_db_error(err, c->db, "planning a query");
    }
    c->plan_index = use ? use->name : key.len ? "_id_" : NULL;
    mql_key_free(&key);
    mql_key_free(&end);
    return ok;
}

bool sq_index_list(void *state, const char *dbname, const char *coll, restfcgi_emit_fn emit,
                   void *ctx, struct restfcgi_error *err)
{
    struct sq_coll c;
    if (!sq_coll_open(state, dbname, coll, false, &c, err))
        return false;
    /* The _id index every collection has, first, as MongoDB lists it. */
    bson_t out = BSON_INITIALIZER, key;
    BSON_APPEND_UTF8(&out, "_id", "_id_");
    bson_append_document_begin(&out, "key", 3, &key);
    BSON_APPEND_INT32(&key, "_id", 1);
    bson_append_document_end(&out, &key);
    bool ok = emit(ctx, bson_get_data(&out), out.len, err);
    bson_destroy(&out);
    for (size_t i = 0; ok && i < c.ix.n; i++) {
        bson_init(&out);
        BSON_APPEND_UTF8(&out, "_id", c.ix.list[i].name);
        BSON_APPEND_DOCUMENT(&out, "key", c.ix.list[i].keys);
        if (c.ix.list[i].unique)
            BSON_APPEND_BOOL(&out, "unique", true);
        ok = emit(ctx, bson_get_data(&out), out.len, err);
        bson_destroy(&out);
    }
    return sq_coll_close(&c, false, ok, err);
}

/* Keys as MongoDB takes them for ordinary indexes: fields to 1 or -1. */
static bool keys_valid(const bson_t *keys, struct restfcgi_error *err)
{
    bson_iter_t it;
    size_t n = 0;
    if (!bson_iter_init(&it, keys))
        return sq_error(err, 400, "index keys are not a document");
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (!*k || k[0] == '$')
            return sq_error(err, 400, "invalid index key field '%s'", k);
        if (!BSON_ITER_HOLDS_NUMBER(&it) ||
            (bson_iter_as_double(&it) != 1.0 && bson_iter_as_double(&it) != -1.0))
            return sq_error(err, 400, "index key '%s' must be 1 or -1 (text, hashed and geo "
                                      "indexes are not supported by the sqlite store)", k);
        n++;
    }
    if (n == 0)
        return sq_error(err, 400, "index keys must name at least one field");
    if (n > 32)
        return sq_error(err, 400, "an index has at most 32 fields");
    return true;
}

bool sq_index_create(void *state, const char *dbname, const char *coll, const char *name,
                     struct restfcgi_bson keys, bool unique, struct restfcgi_error *err)
{
    struct sq_coll c;
    bson_t k;
    if (!sq_view(keys, &k) || !keys_valid(&k, err))
        return err->code ? false : sq_error(err, 400, "index keys are not a document");
    if (strcmp(name, "_id_") == 0)
        return sq_error(err, 406, "the index _id_ exists");
    if (!sq_coll_open(state, dbname, coll, true, &c, err))
        return false;
    bool ok = true;
    for (size_t i = 0; i < c.ix.n; i++) {
        if (strcmp(c.ix.list[i].name, name) == 0)
            ok = sq_error(err, 406, "the index %s exists", name);
    }
    sqlite3_stmt *st = NULL;
    if (ok && sqlite3_prepare_v2(c.db, "INSERT INTO idx(coll, name, keys, uniq) VALUES(?1, ?2, ?3, ?4)",
                                 -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, c.id);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, bson_get_data(&k), (int)k.len, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, unique);
        ok = sqlite3_step(st) == SQLITE_DONE || sq_db_error(err, c.db, "creating an index");
    } else if (ok) {
        ok = sq_db_error(err, c.db, "creating an index");
    }
    sqlite3_finalize(st);
    st = NULL;
    /* Entries for the documents already there; a unique clash undoes it all. */
    if (ok) {
        sq_indexes_free(&c.ix);
        struct sq_indexes only = {0};
        only.list = bson_malloc0(sizeof *only.list);
        only.n = 1;
        only.list[0].name = bson_strdup(name);
        bson_iter_t it;
        bson_iter_init(&it, &k);
        bson_iter_next(&it);
        only.list[0].first_path = bson_strdup(bson_iter_key(&it));
        only.list[0].keys = bson_copy(&k);
        only.list[0].unique = unique;
        c.ix = only;
        ok = sqlite3_prepare_v2(c.db, "SELECT k, doc FROM docs WHERE coll = ?1", -1, &st, NULL) ==
             SQLITE_OK;
        if (ok)
            sqlite3_bind_int64(st, 1, c.id);
        int rc = SQLITE_DONE;
        while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            struct mql_key key = {0};
            bson_t doc;
            mql_key_push_bytes(&key, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
            ok = bson_init_static(&doc, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1)) &&
                 sq_index_entries(&c, &key, &doc, true, err);
            mql_key_free(&key);
        }
        if (ok && rc != SQLITE_DONE)
            ok = sq_db_error(err, c.db, "building an index");
        if (!ok && err->code == 409)
            snprintf(err->message, sizeof err->message,
                     "cannot create unique index %s: existing documents have duplicate keys", name);
        sqlite3_finalize(st);
    }
    return sq_coll_close(&c, true, ok, err);
}

bool sq_index_drop(void *state, const char *dbname, const char *coll, const char *name,
                   struct restfcgi_error *err)
{
    struct sq_coll c;
    if (strcmp(name, "_id_") == 0)
        return sq_error(err, 400, "the _id_ index cannot be dropped");
    if (!sq_coll_open(state, dbname, coll, true, &c, err))
        return false;
    bool found = false, ok = true;
    for (size_t i = 0; i < c.ix.n; i++)
        found = found || strcmp(c.ix.list[i].name, name) == 0;
    if (!found)
        ok = sq_error(err, 404, "index %s does not exist", name);
    static const char *const sql[] = {"DELETE FROM idx WHERE coll = ?1 AND name = ?2",
                                      "DELETE FROM ikeys WHERE coll = ?1 AND name = ?2",
                                      "DELETE FROM ukeys WHERE coll = ?1 AND name = ?2"};
    for (int i = 0; ok && i < 3; i++) {
        sqlite3_stmt *st = NULL;
        ok = sqlite3_prepare_v2(c.db, sql[i], -1, &st, NULL) == SQLITE_OK;
        if (ok) {
            sqlite3_bind_int64(st, 1, c.id);
            sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
            ok = sqlite3_step(st) == SQLITE_DONE;
        }
        if (!ok)
            sq_db_error(err, c.db, "dropping an index");
        sqlite3_finalize(st);
    }
    return sq_coll_close(&c, true, ok, err);
}

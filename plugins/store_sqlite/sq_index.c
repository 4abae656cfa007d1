/* sq_index.c: secondary indexes: their definitions, their entries kept in
 * step with every write, and the choice of the candidate documents a query
 * reads (by _id, by an index whose first field the filter pins, or a scan). */
#include <stdlib.h>
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
    if (sq_prepare(db, "SELECT name, keys, uniq FROM idx WHERE coll = ?1 ORDER BY name", &st) != SQLITE_OK)
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
    sq_done(st);
    if (!ok)
        sq_indexes_free(ix);
    return ok;
}

/* ---- the keys of a document ----
 *
 * As MongoDB's key generator: every field of the index is walked down its
 * path; an array met before the end of a path is entered (a numeric step
 * picks one element, else each document element in turn), and the fields
 * that meet the same array there are taken from the same element, so
 * {"a.b": 1, "a.c": 1} indexes the pairs of each element of a. An array at
 * the end of a path gives one key per element (multikey); a missing field
 * gives null, an empty array a marker of its own (MongoDB's undefined),
 * below null, that no query looks up. Two different arrays (parallel
 * arrays) in the keys of one document are refused, as MongoDB does. */

/* The key byte of an empty array at the end of a path: below every type
 * byte, so no value's key range holds it. */
#define KEY_EMPTY_ARRAY 0x10

struct kfield {
    struct mql_path p;
    bson_value_t cur; /* where the walk is (before step) */
    size_t step;
    bool missing;
};

struct kgen {
    const struct sq_index *x;
    struct kfield *f;
    size_t n;
    /* the array expansions on the way to the current element, as bitmasks
     * of the fields that went through each */
    uint64_t *exp;
    size_t nexp;
    struct sq_keys *out;
    size_t cap;
    struct restfcgi_error *err;
};

static bool is_doc_or_array(const bson_value_t *v)
{
    return v->value_type == BSON_TYPE_DOCUMENT || v->value_type == BSON_TYPE_ARRAY;
}

/* Walks field f through documents (and numeric array steps) until its path
 * ends, goes missing, or meets an array it must enter. */
static void kfield_advance(struct kfield *f)
{
    while (!f->missing && f->step < f->p.n) {
        bson_value_t next;
        if (!is_doc_or_array(&f->cur)) {
            f->missing = true;
        } else if (mql_path_step(&f->cur, f->p.steps[f->step], f->p.lens[f->step], &next)) {
            f->cur = next;
            f->step++;
        } else if (f->cur.value_type == BSON_TYPE_ARRAY) {
            return; /* to be entered element by element */
        } else {
            f->missing = true;
        }
    }
}

static bool kfield_at_array(const struct kfield *f)
{
    return !f->missing && f->step < f->p.n && f->cur.value_type == BSON_TYPE_ARRAY;
}

static bool parallel(struct kgen *g)
{
    return sq_error(g->err, 400, "index %s cannot index parallel arrays (two different arrays "
                                 "in the keys of one document)", g->x->name);
}

static void keys_push(struct kgen *g, struct mql_key *k)
{
    if (g->out->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 16;
        g->out->list = bson_realloc(g->out->list, g->cap * sizeof *g->out->list);
    }
    g->out->list[g->out->n++] = *k;
}

/* Appends the key part of field f's final value v (element of a multikey
 * array, or the value): null when missing. */
static bool key_part(struct kgen *g, struct mql_key *k, const bson_value_t *v)
{
    static const bson_value_t null_value = {.value_type = BSON_TYPE_NULL};
    if (!mql_key_append(k, v ? v : &null_value))
        return sq_error(g->err, 400, "index %s: a value nested deeper than %d levels cannot be "
                                     "indexed", g->x->name, MQL_MAX_NESTING);
    return true;
}

/* Every field at the end of its path: the keys of this combination. */
static bool kgen_leaf(struct kgen *g)
{
    size_t multi = g->n; /* the field whose array gives several keys */
    for (size_t i = 0; i < g->n; i++) {
        const struct kfield *f = &g->f[i];
        bson_t d;
        if (f->missing || f->cur.value_type != BSON_TYPE_ARRAY ||
            !bson_init_static(&d, f->cur.value.v_doc.data, f->cur.value.v_doc.data_len) ||
            bson_count_keys(&d) < 2)
            continue;
        if (multi != g->n)
            return parallel(g);
        /* An array at the end of one field and another met on the way to
         * the element this is in, by other fields only, are parallel. */
        for (size_t e = 0; e < g->nexp; e++)
            if (!(g->exp[e] >> i & 1))
                return parallel(g);
        multi = i;
    }
    bson_iter_t it;
    bson_t arr;
    bool more = true;
    if (multi < g->n) {
        const bson_value_t *a = &g->f[multi].cur;
        if (!bson_init_static(&arr, a->value.v_doc.data, a->value.v_doc.data_len) ||
            !bson_iter_init(&it, &arr) || !bson_iter_next(&it))
            return true;
    }
    while (more) {
        struct mql_key k = {0};
        for (size_t i = 0; i < g->n; i++) {
            const struct kfield *f = &g->f[i];
            bool ok;
            if (i == multi) {
                ok = key_part(g, &k, bson_iter_value(&it));
            } else if (f->missing) {
                ok = key_part(g, &k, NULL);
            } else if (f->cur.value_type == BSON_TYPE_ARRAY) {
                /* [] or [v]: a marker, or v */
                bson_t d;
                bson_iter_t one;
                if (bson_init_static(&d, f->cur.value.v_doc.data, f->cur.value.v_doc.data_len) &&
                    bson_iter_init(&one, &d) && bson_iter_next(&one)) {
                    ok = key_part(g, &k, bson_iter_value(&one));
                } else {
                    mql_key_push(&k, KEY_EMPTY_ARRAY);
                    ok = true;
                }
            } else {
                ok = key_part(g, &k, &f->cur);
            }
            if (!ok) {
                mql_key_free(&k);
                return false;
            }
        }
        keys_push(g, &k);
        more = multi < g->n && bson_iter_next(&it);
    }
    return true;
}

static bool kgen_walk(struct kgen *g, size_t depth)
{
    if (depth > MQL_MAX_NESTING)
        return sq_error(g->err, 400, "index %s: the document nests deeper than %d levels", g->x->name,
                        MQL_MAX_NESTING);
    size_t first = g->n;
    uint64_t mask = 0;
    for (size_t i = 0; i < g->n; i++) {
        kfield_advance(&g->f[i]);
        if (!kfield_at_array(&g->f[i]))
            continue;
        if (first == g->n)
            first = i;
        /* Fields at another array wait for the next level. */
        if (g->f[i].cur.value.v_doc.data == g->f[first].cur.value.v_doc.data)
            mask |= 1ULL << i;
    }
    if (first == g->n)
        return kgen_leaf(g);
    bson_t arr;
    bson_iter_t it;
    const bson_value_t a = g->f[first].cur;
    size_t docs = 0;
    if (!bson_init_static(&arr, a.value.v_doc.data, a.value.v_doc.data_len) || !bson_iter_init(&it, &arr))
        return sq_error(g->err, 500, "a stored document is corrupt");
    while (bson_iter_next(&it))
        docs += bson_iter_type(&it) == BSON_TYPE_DOCUMENT;
    /* Two arrays of several elements each on the paths of different
     * fields are parallel; nested ones on the path of the same fields are
     * not. */
    bool multi = docs > 1;
    if (multi) {
        for (size_t e = 0; e < g->nexp; e++)
            if ((mask & g->exp[e]) != mask)
                return parallel(g);
        g->exp = bson_realloc(g->exp, (g->nexp + 1) * sizeof *g->exp);
        g->exp[g->nexp++] = mask;
    }
    /* The fields at this array go on in each document element. */
    struct kfield *saved = bson_malloc(g->n * sizeof *saved);
    memcpy(saved, g->f, g->n * sizeof *saved);
    bool ok = true;
    bson_iter_init(&it, &arr);
    while (ok && bson_iter_next(&it)) {
        if (bson_iter_type(&it) != BSON_TYPE_DOCUMENT)
            continue;
        memcpy(g->f, saved, g->n * sizeof *saved);
        for (size_t i = 0; i < g->n; i++)
            if (mask >> i & 1)
                g->f[i].cur = *bson_iter_value(&it);
        ok = kgen_walk(g, depth + 1);
    }
    if (ok && !docs) {
        memcpy(g->f, saved, g->n * sizeof *saved);
        for (size_t i = 0; i < g->n; i++)
            if (mask >> i & 1)
                g->f[i].missing = true;
        ok = kgen_walk(g, depth + 1);
    }
    if (multi)
        g->nexp--;
    memcpy(g->f, saved, g->n * sizeof *saved);
    bson_free(saved);
    return ok;
}

void sq_keys_free(struct sq_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        mql_key_free(&k->list[i]);
    bson_free(k->list);
    memset(k, 0, sizeof *k);
}

static int key_order(const void *a, const void *b)
{
    const struct mql_key *x = a, *y = b;
    int c = memcmp(x->data, y->data, x->len < y->len ? x->len : y->len);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* The distinct keys of doc in index x (sorted). */
bool sq_index_keys(const struct sq_index *x, const bson_t *doc, struct sq_keys *out,
                   struct restfcgi_error *err)
{
    struct kgen g = {.x = x, .out = out, .err = err};
    bson_iter_t it;
    memset(out, 0, sizeof *out);
    g.f = bson_malloc0(((size_t)bson_count_keys(x->keys) + 1) * sizeof *g.f);
    bson_value_t root = {.value_type = BSON_TYPE_DOCUMENT};
    root.value.v_doc.data = (uint8_t *)bson_get_data(doc);
    root.value.v_doc.data_len = doc->len;
    bool ok = bson_iter_init(&it, x->keys);
    while (ok && bson_iter_next(&it)) {
        struct kfield *f = &g.f[g.n++];
        mql_path_parse(bson_iter_key(&it), &f->p);
        f->cur = root;
    }
    if (g.n > 64)
        ok = sq_error(err, 400, "index %s has more than 64 fields", x->name);
    ok = ok && kgen_walk(&g, 1);
    for (size_t i = 0; i < g.n; i++)
        mql_path_free(&g.f[i].p);
    bson_free(g.f);
    bson_free(g.exp);
    if (!ok) {
        sq_keys_free(out);
        return false;
    }
    /* Equal elements of one array give one entry: sort, then drop
     * neighbours that repeat (O(n log n)). */
    if (out->n > 1)
        qsort(out->list, out->n, sizeof *out->list, key_order);
    size_t kept = 0;
    for (size_t i = 0; i < out->n; i++) {
        if (kept && key_order(&out->list[kept - 1], &out->list[i]) == 0)
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
            if (sq_prepare(c->db, sql[i], &st) != SQLITE_OK)
                return sq_db_error(err, c->db, "removing index entries");
            sqlite3_bind_int64(st, 1, c->id);
            sqlite3_bind_blob(st, 2, k->data, (int)k->len, SQLITE_STATIC);
            int rc = sqlite3_step(st);
            sq_done(st);
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
        bool ok = sq_prepare(c->db, sql, &st) == SQLITE_OK;
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
        sq_done(st);
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
    /* A value too deep to key (never stored) plans a scan. */
    if (f && mql_filter_equality(f, "_id", &v) && mql_key_append(&key, &v)) {
        sql = "SELECT k, doc FROM docs WHERE coll = ?1 AND k = ?2";
    } else {
        mql_key_free(&key);
        for (size_t i = 0; f && i < c->ix.n && !use; i++) {
            if (mql_filter_equality(f, c->ix.list[i].first_path, &v)) {
                if (mql_key_append(&key, &v))
                    use = &c->ix.list[i];
                else
                    mql_key_free(&key);
            }
        }
        if (use) {
            /* Every key of the index that starts with the value's encoding. */
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
    bool ok = sq_prepare(c->db, sql, out) == SQLITE_OK;
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
    if (ok && sq_prepare(c.db, "INSERT INTO idx(coll, name, keys, uniq) VALUES(?1, ?2, ?3, ?4)", &st) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, c.id);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, bson_get_data(&k), (int)k.len, SQLITE_STATIC);
        sqlite3_bind_int(st, 4, unique);
        ok = sqlite3_step(st) == SQLITE_DONE || sq_db_error(err, c.db, "creating an index");
    } else if (ok) {
        ok = sq_db_error(err, c.db, "creating an index");
    }
    sq_done(st);
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
        ok = sq_prepare(c.db, "SELECT k, doc FROM docs WHERE coll = ?1", &st) ==
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
        sq_done(st);
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
        ok = sq_prepare(c.db, sql[i], &st) == SQLITE_OK;
        if (ok) {
            sqlite3_bind_int64(st, 1, c.id);
            sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
            ok = sqlite3_step(st) == SQLITE_DONE;
        }
        if (!ok)
            sq_db_error(err, c.db, "dropping an index");
        sq_done(st);
    }
    return sq_coll_close(&c, true, ok, err);
}

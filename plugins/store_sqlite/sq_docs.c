/* sq_docs.c: documents: find, count, insert, replace, update, remove. Reads
 * run in one read transaction (one snapshot: the index list and the index
 * entries agree); writes are one BEGIN IMMEDIATE transaction with their
 * index entries, so a conditional write (_etag in the filter) checks and
 * writes atomically. */
#include <stdlib.h>
#include <string.h>

#include "sq.h"

/* Matches a sort other than by _id may hold in memory (as MongoDB's
 * in-memory sort limit); past it the query is a 400. */
#define SORT_MAX_DOCS 200000

/* How often a long scan looks at the clock. */
#define TIME_CHECK_EVERY 256

static bool view_filter(struct restfcgi_bson v, mql_filter **f, struct restfcgi_error *err)
{
    bson_t b;
    *f = NULL;
    if (!v.len)
        bson_init(&b);
    else if (!sq_view(v, &b))
        return sq_error(err, 400, "the filter is not a BSON document");
    *f = mql_filter_compile(&b, err);
    return *f != NULL;
}

/* A sort on _id alone (or none) is the order of the docs table. */
static bool sort_by_id(const bson_t *sort, bool *ascending)
{
    bson_iter_t it;
    *ascending = false;
    if (!sort || bson_empty(sort))
        return true;
    if (!bson_iter_init(&it, sort) || !bson_iter_next(&it) || strcmp(bson_iter_key(&it), "_id") != 0)
        return false;
    *ascending = bson_iter_as_int64(&it) > 0;
    return !bson_iter_next(&it);
}

struct timer {
    const struct restfcgi_host *host;
    int64_t deadline; /* 0: none */
    unsigned ticks;
};

static bool timer_ok(struct timer *t, struct restfcgi_error *err)
{
    if (!t->deadline || ++t->ticks % TIME_CHECK_EVERY)
        return true;
    if (t->host->monotonic_ms() <= t->deadline)
        return true;
    return sq_error(err, 408, "the query ran past its time limit");
}

/* For sqlite3_progress_handler: SQLite's own steps over skipped documents
 * (OFFSET) never come back to timer_ok. */
static int past_deadline(void *timer)
{
    const struct timer *t = timer;
    return t->host->monotonic_ms() > t->deadline;
}

struct sorted {
    bson_t **docs;
    size_t n, cap;
};

static int sorted_cmp(const void *a, const void *b, void *sort)
{
    return mql_sort_compare(sort, *(bson_t *const *)a, *(bson_t *const *)b);
}

static bool emit_projected(const mql_projection *p, const bson_t *doc, restfcgi_emit_fn emit,
                           void *ctx, struct restfcgi_error *err)
{
    if (!p)
        return emit(ctx, bson_get_data(doc), doc->len, err);
    bson_t out;
    mql_projection_apply(p, doc, &out);
    bool ok = emit(ctx, bson_get_data(&out), out.len, err);
    bson_destroy(&out);
    return ok;
}

bool sq_find(void *state, const char *dbname, const char *coll, const struct restfcgi_find *q,
             restfcgi_emit_fn emit, void *ctx, struct restfcgi_error *err)
{
    struct store *s = state;
    struct sq_coll c;
    mql_filter *f = NULL;
    mql_sort *sort = NULL;
    mql_projection *proj = NULL;
    sqlite3_stmt *st = NULL;
    struct sorted all = {0};
    bson_t sort_doc, proj_doc;
    bool ok = false, ascending = false;
    struct timer t = {s->host, q->max_time_ms ? s->host->monotonic_ms() + q->max_time_ms : 0, 0};
    if (!sq_coll_open(s, dbname, coll, false, &c, err))
        return false;
    if (!view_filter(q->filter, &f, err))
        goto done;
    if (q->sort.len) {
        if (!sq_view(q->sort, &sort_doc) || !(sort = mql_sort_compile(&sort_doc, err)))
            goto done;
    }
    if (q->projection.len) {
        if (!sq_view(q->projection, &proj_doc) || !(proj = mql_projection_compile(&proj_doc, err)))
            goto done;
    }
    bool in_order = sort_by_id(q->sort.len ? &sort_doc : NULL, &ascending);
    /* No filter (an empty document is 5 bytes) and _id order: the page
     * starts skip documents into the table, and SQLite skips them. */
    int64_t sql_skip = in_order && q->filter.len <= 5 && q->skip > 0 ? q->skip : 0;
    if (sql_skip ? !sq_scan_from(&c, ascending, sql_skip, &st, err)
                 : !sq_candidates(&c, f, ascending, &st, err))
        goto done;
    int64_t skipped = sql_skip, emitted = 0, read = 0;
    int rc;
    ok = true;
    if (sql_skip && t.deadline)
        sqlite3_progress_handler(c.db, 10000, past_deadline, &t);
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        bson_t doc;
        read++;
        if (!bson_init_static(&doc, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1))) {
            ok = sq_error(err, 500, "a stored document is corrupt");
            break;
        }
        if (!timer_ok(&t, err)) {
            ok = false;
            break;
        }
        if (!mql_filter_match(f, &doc))
            continue;
        if (!in_order) {
            /* Any other sort: every match in memory, then sorted; bounded. */
            if (all.n == SORT_MAX_DOCS) {
                ok = sq_error(err, 400, "more than %d documents to sort in memory: narrow the "
                                        "filter or sort by _id", SORT_MAX_DOCS);
                break;
            }
            if (all.n == all.cap) {
                all.cap = all.cap ? all.cap * 2 : 64;
                all.docs = bson_realloc(all.docs, all.cap * sizeof *all.docs);
            }
            all.docs[all.n++] = bson_copy(&doc);
            continue;
        }
        if (skipped < q->skip) {
            skipped++;
            continue;
        }
        /* Where this page starts and ends, for the next deep page. */
        bool last = q->limit && emitted + 1 >= q->limit;
        if (sql_skip && (emitted == 0 || last))
            sq_skip_note(&c, ascending, q->skip + emitted, sqlite3_column_blob(st, 0),
                         (size_t)sqlite3_column_bytes(st, 0));
        ok = emit_projected(proj, &doc, emit, ctx, err);
        emitted++;
        if (last)
            break;
    }
    if (sql_skip && t.deadline)
        sqlite3_progress_handler(c.db, 0, NULL, NULL);
    if (ok && rc == SQLITE_INTERRUPT && sql_skip && t.deadline)
        ok = sq_error(err, 408, "the query ran past its time limit");
    if (ok && rc != SQLITE_ROW && rc != SQLITE_DONE)
        ok = sq_db_error(err, c.db, "reading documents");
    if (ok && !in_order) {
        /* qsort is not stable; MongoDB's order of ties is unspecified too.
         * No match leaves all.docs NULL, which qsort_r may not be given. */
        if (all.n > 1)
            qsort_r(all.docs, all.n, sizeof *all.docs, sorted_cmp, sort);
        for (size_t i = (size_t)(q->skip < (int64_t)all.n ? q->skip : (int64_t)all.n);
             ok && i < all.n && (!q->limit || (int64_t)i - q->skip < q->limit); i++)
            ok = emit_projected(proj, all.docs[i], emit, ctx, err);
    }
    /* What the query cost, for operators and for the tests that check that
     * an indexed query reads only its matches. */
    s->host->log(RESTFCGI_LOG_DEBUG, "store_sqlite",
                 "find %s.%s: plan %s%s, %lld candidates read, %lld skipped by SQLite", dbname,
                 coll, c.plan_index ? "index " : "scan", c.plan_index ? c.plan_index : "",
                 (long long)read, (long long)sql_skip);
done:
    for (size_t i = 0; i < all.n; i++)
        bson_destroy(all.docs[i]);
    bson_free(all.docs);
    sq_done(st);
    mql_filter_free(f);
    mql_sort_free(sort);
    mql_projection_free(proj);
    return sq_coll_close(&c, false, ok, err);
}

bool sq_count(void *state, const char *dbname, const char *coll, struct restfcgi_bson filter,
              int64_t max_time_ms, int64_t *count, struct restfcgi_error *err)
{
    struct store *s = state;
    struct sq_coll c;
    mql_filter *f = NULL;
    sqlite3_stmt *st = NULL;
    bool ok = false;
    struct timer t = {s->host, max_time_ms ? s->host->monotonic_ms() + max_time_ms : 0, 0};
    *count = 0;
    if (!sq_coll_open(s, dbname, coll, false, &c, err))
        return false;
    if (!view_filter(filter, &f, err) || !sq_candidates(&c, f, false, &st, err))
        goto done;
    int rc;
    ok = true;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        bson_t doc;
        ok = timer_ok(&t, err);
        if (ok && bson_init_static(&doc, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1)) &&
            mql_filter_match(f, &doc))
            (*count)++;
    }
    if (ok && rc != SQLITE_DONE)
        ok = sq_db_error(err, c.db, "counting documents");
done:
    sq_done(st);
    mql_filter_free(f);
    return sq_coll_close(&c, false, ok, err);
}

/* The stored key of a document's _id; 400 when it has none. */
static bool doc_key(const bson_t *doc, struct mql_key *k, struct restfcgi_error *err)
{
    bson_iter_t it;
    memset(k, 0, sizeof *k);
    if (!bson_iter_init_find(&it, doc, "_id"))
        return sq_error(err, 400, "the document has no _id");
    if (BSON_ITER_HOLDS_ARRAY(&it) || BSON_ITER_HOLDS_REGEX(&it))
        return sq_error(err, 400, "an _id may not be an array or a regular expression");
    if (!mql_key_append(k, bson_iter_value(&it))) {
        mql_key_free(k);
        return sq_error(err, 400, "the _id nests deeper than %d levels", MQL_MAX_NESTING);
    }
    return true;
}

/* MongoDB's largest document (BSONObjectTooLarge, which the mongo store
 * answers with 413): the same limit on both stores. */
#define SQ_MAX_DOC_BYTES (16 * 1024 * 1024)

/* Every document written: no larger than MongoDB allows, no deeper than the
 * recursive code (comparison, keys, sort) walks. Updates keep to
 * MQL_MAX_DEPTH already. */
static bool storable(const bson_t *doc, struct restfcgi_error *err)
{
    if (doc->len > SQ_MAX_DOC_BYTES)
        return sq_error(err, 413, "the document is %u bytes, more than the %d a document may have",
                        doc->len, SQ_MAX_DOC_BYTES);
    if (mql_doc_depth(doc, MQL_MAX_NESTING) > MQL_MAX_NESTING)
        return sq_error(err, 400, "the document nests deeper than the limit of %d levels",
                        MQL_MAX_NESTING);
    return true;
}

/* Inserts doc (in an open write) with its index entries. */
static bool insert_doc(struct sq_coll *c, const bson_t *doc, struct restfcgi_error *err)
{
    struct mql_key k;
    if (!storable(doc, err))
        return false;
    if (!doc_key(doc, &k, err))
        return false;
    sqlite3_stmt *st = NULL;
    bool ok = sq_prepare(c->db, "INSERT INTO docs(coll, k, doc) VALUES(?1, ?2, ?3)", &st) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(st, 1, c->id);
        sqlite3_bind_blob(st, 2, k.data, (int)k.len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, bson_get_data(doc), (int)doc->len, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_CONSTRAINT)
            ok = sq_error(err, 409, "duplicate key: a document with this _id exists");
        else if (rc != SQLITE_DONE)
            ok = sq_db_error(err, c->db, "inserting");
    } else {
        sq_db_error(err, c->db, "inserting");
    }
    sq_done(st);
    ok = ok && sq_index_entries(c, &k, doc, true, err);
    mql_key_free(&k);
    return ok;
}

/* Replaces the stored document k with doc, and its index entries. */
static bool rewrite_doc(struct sq_coll *c, const struct mql_key *k, const bson_t *doc,
                        struct restfcgi_error *err)
{
    sqlite3_stmt *st = NULL;
    if (!storable(doc, err))
        return false;
    bool ok = sq_prepare(c->db, "UPDATE docs SET doc = ?3 WHERE coll = ?1 AND k = ?2", &st) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(st, 1, c->id);
        sqlite3_bind_blob(st, 2, k->data, (int)k->len, SQLITE_STATIC);
        sqlite3_bind_blob(st, 3, bson_get_data(doc), (int)doc->len, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    if (!ok)
        sq_db_error(err, c->db, "writing a document");
    sq_done(st);
    return ok && sq_index_entries(c, k, doc, false, err) && sq_index_entries(c, k, doc, true, err);
}

static bool delete_doc(struct sq_coll *c, const struct mql_key *k, struct restfcgi_error *err)
{
    sqlite3_stmt *st = NULL;
    bool ok = sq_prepare(c->db, "DELETE FROM docs WHERE coll = ?1 AND k = ?2", &st) == SQLITE_OK;
    if (ok) {
        sqlite3_bind_int64(st, 1, c->id);
        sqlite3_bind_blob(st, 2, k->data, (int)k->len, SQLITE_STATIC);
        ok = sqlite3_step(st) == SQLITE_DONE;
    }
    if (!ok)
        sq_db_error(err, c->db, "deleting a document");
    sq_done(st);
    return ok && sq_index_entries(c, k, NULL, false, err);
}

/* The matches of a write, read before anything changes: keys and copies. */
struct matches {
    struct mql_key *keys;
    bson_t **docs;
    size_t n;
};

static void matches_free(struct matches *m)
{
    for (size_t i = 0; i < m->n; i++) {
        mql_key_free(&m->keys[i]);
        bson_destroy(m->docs[i]);
    }
    bson_free(m->keys);
    bson_free(m->docs);
    memset(m, 0, sizeof *m);
}

static bool collect(struct sq_coll *c, const mql_filter *f, bool multi, struct matches *m,
                    struct restfcgi_error *err)
{
    sqlite3_stmt *st = NULL;
    memset(m, 0, sizeof *m);
    if (!sq_candidates(c, f, false, &st, err))
        return false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        bson_t doc;
        if (!bson_init_static(&doc, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1)) ||
            !mql_filter_match(f, &doc))
            continue;
        m->keys = bson_realloc(m->keys, (m->n + 1) * sizeof *m->keys);
        m->docs = bson_realloc(m->docs, (m->n + 1) * sizeof *m->docs);
        m->keys[m->n] = (struct mql_key){0};
        mql_key_push_bytes(&m->keys[m->n], sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0));
        m->docs[m->n] = bson_copy(&doc);
        m->n++;
        if (!multi)
            break;
    }
    bool ok = rc == SQLITE_ROW || rc == SQLITE_DONE || sq_db_error(err, c->db, "reading documents");
    sq_done(st);
    return ok;
}

bool sq_insert(void *state, const char *dbname, const char *coll, struct restfcgi_bson doc,
               struct restfcgi_error *err)
{
    struct sq_coll c;
    bson_t d;
    if (!sq_view(doc, &d))
        return sq_error(err, 400, "the document is not BSON");
    if (!sq_coll_open(state, dbname, coll, true, &c, err))
        return false;
    bool ok = insert_doc(&c, &d, err);
    return sq_coll_close(&c, true, ok, err);
}

bool sq_replace(void *state, const char *dbname, const char *coll, struct restfcgi_bson filter,
                struct restfcgi_bson doc, bool upsert, struct restfcgi_write_result *res,
                struct restfcgi_error *err)
{
    struct sq_coll c;
    struct matches m = {0};
    mql_filter *f = NULL;
    bson_t d;
    memset(res, 0, sizeof *res);
    if (!sq_view(doc, &d))
        return sq_error(err, 400, "the document is not BSON");
    if (!sq_coll_open(state, dbname, coll, true, &c, err))
        return false;
    bool ok = view_filter(filter, &f, err) && collect(&c, f, false, &m, err);
    bson_t with_id = BSON_INITIALIZER;
    if (ok && m.n) {
        /* The replacement keeps the matched _id: one without an _id gets it
         * (first), one with another _id is refused. */
        bson_iter_t it;
        struct mql_key k = {0};
        const bson_t *next = &d;
        if (!bson_iter_init_find(&it, &d, "_id")) {
            if (bson_iter_init_find(&it, m.docs[0], "_id"))
                bson_append_iter(&with_id, NULL, 0, &it);
            bson_concat(&with_id, &d);
            next = &with_id;
        } else if (!doc_key(&d, &k, err)) {
            ok = false;
        } else if (k.len != m.keys[0].len || memcmp(k.data, m.keys[0].data, k.len) != 0) {
            ok = sq_error(err, 400, "the replacement changes the _id of the document, which is "
                                    "immutable");
        }
        mql_key_free(&k);
        if (ok) {
            res->matched = 1;
            res->modified = !(m.docs[0]->len == next->len &&
                              memcmp(bson_get_data(m.docs[0]), bson_get_data(next), next->len) == 0);
            ok = rewrite_doc(&c, &m.keys[0], next, err);
        }
    } else if (ok && upsert) {
        ok = insert_doc(&c, &d, err);
        res->upserted = ok;
        res->inserted = ok;
    }
    bson_destroy(&with_id);
    matches_free(&m);
    mql_filter_free(f);
    return sq_coll_close(&c, true, ok, err);
}

/* The document an upsert starts from: the filter's top-level equalities. */
static void upsert_base(const bson_t *filter, const mql_filter *f, bson_t *out)
{
    bson_iter_t it;
    bson_init(out);
    if (!bson_iter_init(&it, filter))
        return;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        bson_value_t v;
        if (k[0] != '$' && !strchr(k, '.') && mql_filter_equality(f, k, &v))
            bson_append_value(out, k, -1, &v);
    }
}

bool sq_update(void *state, const char *dbname, const char *coll, struct restfcgi_bson filter,
               struct restfcgi_bson update, bool pipeline, bool multi, bool upsert,
               struct restfcgi_write_result *res, struct restfcgi_error *err)
{
    struct store *s = state;
    struct sq_coll c;
    struct matches m = {0};
    mql_filter *f = NULL;
    bson_t u, fdoc;
    memset(res, 0, sizeof *res);
    if (!sq_view(update, &u))
        return sq_error(err, 400, "the update is not BSON");
    if (!mql_update_check(&u, pipeline, err))
        return false;
    if (!sq_coll_open(s, dbname, coll, true, &c, err))
        return false;
    int64_t now = s->host->now_ms();
    bool ok = view_filter(filter, &f, err) && collect(&c, f, multi, &m, err);
    for (size_t i = 0; ok && i < m.n; i++) {
        bson_t next;
        ok = mql_update_apply(m.docs[i], &u, pipeline, now, false, &next, err);
        if (ok) {
            res->matched++;
            bool same = next.len == m.docs[i]->len &&
                        memcmp(bson_get_data(&next), bson_get_data(m.docs[i]), next.len) == 0;
            if (!same) {
                res->modified++;
                ok = rewrite_doc(&c, &m.keys[i], &next, err);
            }
        }
        bson_destroy(&next);
    }
    if (ok && !m.n && upsert) {
        bson_t base, next;
        if (filter.len && sq_view(filter, &fdoc))
            upsert_base(&fdoc, f, &base);
        else
            bson_init(&base);
        ok = mql_update_apply(&base, &u, pipeline, now, true, &next, err);
        if (ok) {
            bson_iter_t it;
            bson_t with_id = BSON_INITIALIZER;
            /* An upserted document without _id gets an ObjectId first. */
            if (!bson_iter_init_find(&it, &next, "_id")) {
                bson_oid_t oid;
                bson_oid_init(&oid, NULL);
                BSON_APPEND_OID(&with_id, "_id", &oid);
            }
            bson_concat(&with_id, &next);
            ok = insert_doc(&c, &with_id, err);
            res->upserted = ok;
            res->inserted = ok;
            bson_destroy(&with_id);
        }
        bson_destroy(&base);
        bson_destroy(&next);
    }
    matches_free(&m);
    mql_filter_free(f);
    return sq_coll_close(&c, true, ok, err);
}

bool sq_remove(void *state, const char *dbname, const char *coll, struct restfcgi_bson filter,
               bool multi, struct restfcgi_write_result *res, struct restfcgi_error *err)
{
    struct sq_coll c;
    struct matches m = {0};
    mql_filter *f = NULL;
    memset(res, 0, sizeof *res);
    if (!sq_coll_open(state, dbname, coll, true, &c, err))
        return false;
    bool ok = view_filter(filter, &f, err) && collect(&c, f, multi, &m, err);
    for (size_t i = 0; ok && i < m.n; i++) {
        ok = delete_doc(&c, &m.keys[i], err);
        res->deleted += ok;
    }
    matches_free(&m);
    mql_filter_free(f);
    return sq_coll_close(&c, true, ok, err);
}

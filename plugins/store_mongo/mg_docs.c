/* mg_docs.c: documents: find, count, writes, aggregation. Every operation
 * first checks the collection in the catalog (404), as MongoDB would
 * otherwise answer an empty result or create the namespace. */
#include <string.h>

#include "mg.h"

/* An operation on db.coll: a client and the collection, after the check. */
struct op {
    struct store *s;
    mongoc_client_t *client;
    mongoc_collection_t *coll;
};

static bool op_open(struct op *op, void *state, const char *db, const char *coll,
                    struct restfcgi_error *err)
{
    op->s = state;
    op->coll = NULL;
    op->client = mg_client(op->s, err);
    if (!op->client)
        return false;
    if (!mg_exists(op->s, op->client, db, coll, err)) {
        mg_release(op->s, op->client);
        op->client = NULL;
        return false;
    }
    op->coll = mongoc_client_get_collection(op->client, db, coll);
    return true;
}

static void op_close(struct op *op)
{
    if (op->coll)
        mongoc_collection_destroy(op->coll);
    mg_release(op->s, op->client);
}

/* Emits every document of a cursor; false on the first failure. */
static bool drain(struct op *op, mongoc_cursor_t *cur, const char *what, restfcgi_emit_fn emit,
                  void *ctx, struct restfcgi_error *err)
{
    const bson_t *doc;
    bool ok = true;
    while (ok && mongoc_cursor_next(cur, &doc))
        ok = emit(ctx, bson_get_data(doc), doc->len, err);
    bson_error_t e;
    if (ok && mongoc_cursor_error(cur, &e))
        ok = mg_fail(op->s, &e, what, err);
    mongoc_cursor_destroy(cur);
    return ok;
}

static bool append_view(bson_t *opts, const char *key, struct restfcgi_bson v)
{
    bson_t doc;
    return v.len == 0 || (mg_view(v, &doc) && BSON_APPEND_DOCUMENT(opts, key, &doc));
}

bool mg_find(void *state, const char *db, const char *coll, const struct restfcgi_find *q,
             restfcgi_emit_fn emit, void *ctx, struct restfcgi_error *err)
{
    bson_t filter, opts = BSON_INITIALIZER;
    if (q->filter.len == 0)
        bson_init(&filter);
    else if (!mg_view(q->filter, &filter))
        return mg_error(err, 400, "the filter is not a BSON document");
    bool ok = append_view(&opts, "projection", q->projection) &&
              append_view(&opts, "hint", q->hint);
    if (ok && q->sort.len)
        ok = append_view(&opts, "sort", q->sort);
    else if (ok) {
        /* RESTHeart's default order: newest _id first. */
        bson_t sort;
        BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
        BSON_APPEND_INT32(&sort, "_id", -1);
        bson_append_document_end(&opts, &sort);
    }
    if (q->skip > 0)
        BSON_APPEND_INT64(&opts, "skip", q->skip);
    if (q->limit > 0)
        BSON_APPEND_INT64(&opts, "limit", q->limit);
    if (q->max_time_ms > 0)
        BSON_APPEND_INT64(&opts, "maxTimeMS", q->max_time_ms);
    struct op op;
    if (!ok)
        ok = mg_error(err, 400, "the query options are not BSON");
    else if ((ok = op_open(&op, state, db, coll, err))) {
        mongoc_cursor_t *cur = mongoc_collection_find_with_opts(op.coll, &filter, &opts, NULL);
        ok = drain(&op, cur, "find", emit, ctx, err);
        op_close(&op);
    }
    bson_destroy(&opts);
    return ok;
}

bool mg_count(void *state, const char *db, const char *coll, struct restfcgi_bson fv,
              int64_t max_time_ms, int64_t *count, struct restfcgi_error *err)
{
    bson_t filter, opts = BSON_INITIALIZER;
    if (fv.len == 0)
        bson_init(&filter);
    else if (!mg_view(fv, &filter))
        return mg_error(err, 400, "the filter is not a BSON document");
    if (max_time_ms > 0)
        BSON_APPEND_INT64(&opts, "maxTimeMS", max_time_ms);
    struct op op;
    bool ok = op_open(&op, state, db, coll, err);
    if (ok) {
        bson_error_t e;
        *count = mongoc_collection_count_documents(op.coll, &filter, &opts, NULL, NULL, &e);
        ok = *count >= 0 || mg_fail(op.s, &e, "count", err);
        op_close(&op);
    }
    bson_destroy(&opts);
    return ok;
}

/* MongoDB refuses these _ids; checked here too so both stores answer alike
 * whatever the server (jongodb stores them). */
static bool check_id(const bson_t *doc, struct restfcgi_error *err)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "_id") &&
        (BSON_ITER_HOLDS_ARRAY(&it) || BSON_ITER_HOLDS_REGEX(&it)))
        return mg_error(err, 400, "an _id may not be an array or a regular expression");
    return true;
}

bool mg_insert(void *state, const char *db, const char *coll, struct restfcgi_bson dv,
               struct restfcgi_error *err)
{
    bson_t doc;
    if (!mg_view(dv, &doc))
        return mg_error(err, 400, "the document is not BSON");
    if (!check_id(&doc, err))
        return false;
    struct op op;
    if (!op_open(&op, state, db, coll, err))
        return false;
    bson_error_t e;
    bool ok = mongoc_collection_insert_one(op.coll, &doc, NULL, NULL, &e) ||
              mg_fail(op.s, &e, "insert", err);
    op_close(&op);
    return ok;
}

static void write_result(const bson_t *reply, struct restfcgi_write_result *res)
{
    res->matched = mg_reply_count(reply, "matchedCount");
    res->modified = mg_reply_count(reply, "modifiedCount");
    res->deleted = mg_reply_count(reply, "deletedCount");
    res->upserted = mg_reply_count(reply, "upsertedCount") > 0;
    res->inserted = res->upserted;
}

bool mg_replace(void *state, const char *db, const char *coll, struct restfcgi_bson fv,
                struct restfcgi_bson dv, bool upsert, struct restfcgi_write_result *res,
                struct restfcgi_error *err)
{
    bson_t filter, doc;
    if (!mg_view(fv, &filter) || !mg_view(dv, &doc))
        return mg_error(err, 400, "the filter or the document is not BSON");
    if (!check_id(&doc, err))
        return false;
    struct op op;
    if (!op_open(&op, state, db, coll, err))
        return false;
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(upsert));
    bson_t reply;
    bson_error_t e;
    bool ok = mongoc_collection_replace_one(op.coll, &filter, &doc, opts, &reply, &e) ||
              mg_fail(op.s, &e, "replace", err);
    if (ok)
        write_result(&reply, res);
    bson_destroy(&reply);
    bson_destroy(opts);
    op_close(&op);
    return ok;
}

bool mg_update(void *state, const char *db, const char *coll, struct restfcgi_bson fv,
               struct restfcgi_bson uv, bool pipeline, bool multi, bool upsert,
               struct restfcgi_write_result *res, struct restfcgi_error *err)
{
    (void)pipeline; /* the driver tells an array of stages from operators */
    bson_t filter, update;
    if (fv.len == 0)
        bson_init(&filter);
    else if (!mg_view(fv, &filter))
        return mg_error(err, 400, "the filter is not BSON");
    if (!mg_view(uv, &update))
        return mg_error(err, 400, "the update is not BSON");
    struct op op;
    if (!op_open(&op, state, db, coll, err))
        return false;
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(upsert));
    bson_t reply;
    bson_error_t e;
    bool ok = (multi ? mongoc_collection_update_many(op.coll, &filter, &update, opts, &reply, &e)
                     : mongoc_collection_update_one(op.coll, &filter, &update, opts, &reply, &e)) ||
              mg_fail(op.s, &e, "update", err);
    if (ok)
        write_result(&reply, res);
    bson_destroy(&reply);
    bson_destroy(opts);
    op_close(&op);
    return ok;
}

bool mg_remove(void *state, const char *db, const char *coll, struct restfcgi_bson fv, bool multi,
               struct restfcgi_write_result *res, struct restfcgi_error *err)
{
    bson_t filter;
    if (fv.len == 0)
        bson_init(&filter);
    else if (!mg_view(fv, &filter))
        return mg_error(err, 400, "the filter is not BSON");
    struct op op;
    if (!op_open(&op, state, db, coll, err))
        return false;
    bson_t reply;
    bson_error_t e;
    bool ok = (multi ? mongoc_collection_delete_many(op.coll, &filter, NULL, &reply, &e)
                     : mongoc_collection_delete_one(op.coll, &filter, NULL, &reply, &e)) ||
              mg_fail(op.s, &e, "delete", err);
    if (ok)
        write_result(&reply, res);
    bson_destroy(&reply);
    op_close(&op);
    return ok;
}

/* Stages that read or write only the documents flowing through the
 * pipeline. The others ($out, $merge, $lookup, $unionWith, $graphLookup,
 * $changeStream, $collStats...) reach collections the ACL never checked
 * for this request, so they are refused as the sqlite store refuses them. */
static const char *const contained_stages[] = {
    "$match",   "$project",    "$addFields", "$set",         "$unset",       "$group",
    "$sort",    "$limit",      "$skip",      "$count",       "$unwind",      "$facet",
    "$bucket",  "$bucketAuto", "$sortByCount", "$replaceRoot", "$replaceWith", "$sample",
    "$redact",  "$densify",    "$fill",      "$setWindowFields"};

static bool pipeline_contained(const bson_t *pipeline, int depth, struct restfcgi_error *err)
{
    bson_iter_t it, stage;
    if (depth > 8)
        return mg_error(err, 400, "aggregation: $facet nested too deeply");
    if (!bson_iter_init(&it, pipeline))
        return mg_error(err, 400, "the pipeline is not BSON");
    while (bson_iter_next(&it)) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&it) || !bson_iter_recurse(&it, &stage) ||
            !bson_iter_next(&stage))
            return mg_error(err, 400, "aggregation: every stage must be a document");
        const char *name = bson_iter_key(&stage);
        bool known = false;
        for (size_t i = 0; i < sizeof contained_stages / sizeof *contained_stages; i++)
            known = known || !strcmp(name, contained_stages[i]);
        if (!known)
            return mg_error(err, 400, "unsupported aggregation stage %s", name);
        if (!strcmp(name, "$facet") && BSON_ITER_HOLDS_DOCUMENT(&stage)) {
            bson_iter_t facet;
            bson_iter_recurse(&stage, &facet);
            while (bson_iter_next(&facet)) {
                const uint8_t *data;
                uint32_t len;
                bson_t sub;
                if (!BSON_ITER_HOLDS_ARRAY(&facet))
                    return mg_error(err, 400, "aggregation: $facet takes pipelines");
                bson_iter_array(&facet, &len, &data);
                if (!bson_init_static(&sub, data, len) || !pipeline_contained(&sub, depth + 1, err))
                    return false;
            }
        }
    }
    return true;
}

bool mg_aggregate(void *state, const char *db, const char *coll, struct restfcgi_bson pv,
                  int64_t max_time_ms, restfcgi_emit_fn emit, void *ctx,
                  struct restfcgi_error *err)
{
    bson_t pipeline, opts = BSON_INITIALIZER;
    if (!mg_view(pv, &pipeline))
        return mg_error(err, 400, "the pipeline is not BSON");
    if (!pipeline_contained(&pipeline, 0, err))
        return false;
    if (max_time_ms > 0)
        BSON_APPEND_INT64(&opts, "maxTimeMS", max_time_ms);
    struct op op;
    bool ok = op_open(&op, state, db, coll, err);
    if (ok) {
        mongoc_cursor_t *cur =
            mongoc_collection_aggregate(op.coll, MONGOC_QUERY_NONE, &pipeline, &opts, NULL);
        ok = drain(&op, cur, "aggregate", emit, ctx, err);
        op_close(&op);
    }
    bson_destroy(&opts);
    return ok;
}

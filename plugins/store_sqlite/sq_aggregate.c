/* sq_aggregate.c: aggregation pipelines over a collection's documents. The
 * documents stream from one SELECT into mql_aggregate_run; a leading $match
 * narrows the SELECT through an index like any query. */
#include <string.h>

#include "sq.h"

/* Documents $group and $sort may hold in memory at once. */
#define AGGREGATE_MAX_DOCS 200000

struct agg_source {
    sqlite3 *db;
    sqlite3_stmt *st;
    bson_t current;
    bool have_current;
    const struct restfcgi_host *host;
    int64_t deadline;
    unsigned ticks;
};

static const bson_t *agg_next(void *ctx, struct restfcgi_error *err)
{
    struct agg_source *src = ctx;
    if (src->deadline && ++src->ticks % 256 == 0 && src->host->monotonic_ms() > src->deadline) {
        sq_error(err, 408, "the aggregation ran past its time limit");
        return NULL;
    }
    int rc = sqlite3_step(src->st);
    if (rc == SQLITE_ROW) {
        if (bson_init_static(&src->current, sqlite3_column_blob(src->st, 1),
                             (size_t)sqlite3_column_bytes(src->st, 1)))
            return &src->current;
        sq_error(err, 500, "a stored document is corrupt");
        return NULL;
    }
    if (rc != SQLITE_DONE)
        sq_db_error(err, src->db, "reading documents");
    return NULL;
}

struct agg_sink {
    restfcgi_emit_fn emit;
    void *ctx;
};

static bool agg_emit(void *ctx, const bson_t *doc, struct restfcgi_error *err)
{
    struct agg_sink *sink = ctx;
    return sink->emit(sink->ctx, bson_get_data(doc), doc->len, err);
}

/* The filter of a leading $match stage, to choose the candidates. */
static mql_filter *leading_match(const bson_t *pipeline)
{
    bson_iter_t it, stage;
    struct restfcgi_error ignored = {0};
    if (!bson_iter_init(&it, pipeline) || !bson_iter_next(&it) || !BSON_ITER_HOLDS_DOCUMENT(&it) ||
        !bson_iter_recurse(&it, &stage) || !bson_iter_next(&stage) ||
        strcmp(bson_iter_key(&stage), "$match") != 0 || !BSON_ITER_HOLDS_DOCUMENT(&stage))
        return NULL;
    uint32_t len;
    const uint8_t *data;
    bson_t m;
    bson_iter_document(&stage, &len, &data);
    if (!bson_init_static(&m, data, len))
        return NULL;
    return mql_filter_compile(&m, &ignored);
}

bool sq_aggregate(void *state, const char *dbname, const char *coll, struct restfcgi_bson pipeline,
                  int64_t max_time_ms, restfcgi_emit_fn emit, void *ctx,
                  struct restfcgi_error *err)
{
    struct store *s = state;
    struct sq_coll c;
    bson_t p;
    if (!sq_view(pipeline, &p))
        return sq_error(err, 400, "the pipeline is not BSON");
    if (!mql_aggregate_check(&p, err))
        return false;
    if (!sq_coll_open(s, dbname, coll, false, &c, err))
        return false;
    mql_filter *first = leading_match(&p);
    struct agg_source src = {.db = c.db, .host = s->host,
                             .deadline = max_time_ms ? s->host->monotonic_ms() + max_time_ms : 0};
    struct agg_sink sink = {emit, ctx};
    bool ok = sq_candidates(&c, first, true, &src.st, err) &&
              mql_aggregate_run(&p, agg_next, &src, agg_emit, &sink, s->host->now_ms(),
                                AGGREGATE_MAX_DOCS, err);
    sq_done(src.st);
    mql_filter_free(first);
    return sq_coll_close(&c, false, ok, err);
}

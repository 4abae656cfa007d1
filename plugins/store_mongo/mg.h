/* mg.h: the mongo store's internals, shared by its files (not an ABI).
 *
 * Documents of the REST collection /db/coll live in the MongoDB namespace
 * db.coll as they are. Which databases and collections exist, and their
 * properties, is a catalog: the collection _properties of the database
 * store.catalog_db (default "_restfcgi", a name the API cannot reach),
 *   {_id: "db",      db: "db",              props: {...}}
 *   {_id: "db.coll", db: "db", coll: "coll", props: {...}}
 * (database names cannot contain '.', so the first '.' separates). It works
 * on servers without listDatabases/listCollections, and MongoDB creating
 * namespaces on first write does not create REST collections.
 *
 * One mongoc_client_pool_t per worker process, made in worker_init (after
 * fork) and sized to the process's threads; each operation pops a client. */
#ifndef RESTFCGI_MG_H
#define RESTFCGI_MG_H

#include <mongoc/mongoc.h>
#include <pthread.h>

#include "restfcgi_plugin.h"

#define MG_PLUGIN "mongo"
#define MG_CATALOG_COLL "_properties"

/* Commands a server may lack (jongodb has none of these): probed once per
 * worker process, the first time the server answers. */
struct mg_caps {
    bool probed;
    bool drop;          /* drop: else a collection's documents are deleted */
    bool drop_database; /* dropDatabase: else each collection is dropped */
    bool drop_indexes;  /* dropIndexes: else dropping an index is a 501 */
    bool create;        /* create: makes the namespace on PUT (real MongoDB) */
};

struct store {
    const struct restfcgi_host *host;
    mongoc_uri_t *uri;
    char *catalog_db;
    mongoc_client_pool_t *pool; /* this worker's, from worker_init on */
    pthread_mutex_t caps_lock;
    struct mg_caps caps;
};

/* A client of this worker's pool for one operation; 503 when there is no pool. */
mongoc_client_t *mg_client(struct store *s, struct restfcgi_error *err);
void mg_release(struct store *s, mongoc_client_t *c);

/* The capabilities, probing them when not known yet (false: unreachable). */
bool mg_caps(struct store *s, mongoc_client_t *c, struct mg_caps *out, struct restfcgi_error *err);

/* A driver error as a store error (503 unreachable, 409 duplicate key, 408
 * time limit, 400 refused query ...); logs the detail of a 5xx. False. */
bool mg_fail(struct store *s, const bson_error_t *e, const char *what,
             struct restfcgi_error *err);
bool mg_error(struct restfcgi_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A counter of a write's reply ("matchedCount" ...), 0 when absent. */
int64_t mg_reply_count(const bson_t *reply, const char *key);

/* A BSON view as a bson_t (no copy); false when the bytes are not BSON. */
bool mg_view(struct restfcgi_bson v, bson_t *out);

/* 404 unless db (coll NULL) or db.coll is in the catalog. */
bool mg_exists(struct store *s, mongoc_client_t *c, const char *db, const char *coll,
               struct restfcgi_error *err);

/* Catalog (mg_catalog.c). */
bool mg_db_list(void *state, restfcgi_emit_fn emit, void *ctx, struct restfcgi_error *err);
bool mg_db_get(void *state, const char *db, restfcgi_emit_fn emit, void *ctx,
               struct restfcgi_error *err);
bool mg_db_put(void *state, const char *db, struct restfcgi_bson props, const char *if_match,
               bool *created, struct restfcgi_error *err);
bool mg_db_drop(void *state, const char *db, const char *if_match, struct restfcgi_error *err);
bool mg_coll_list(void *state, const char *db, restfcgi_emit_fn emit, void *ctx,
                  struct restfcgi_error *err);
bool mg_coll_get(void *state, const char *db, const char *coll, restfcgi_emit_fn emit, void *ctx,
                 struct restfcgi_error *err);
bool mg_coll_put(void *state, const char *db, const char *coll, struct restfcgi_bson props,
                 const char *if_match, bool *created, struct restfcgi_error *err);
bool mg_coll_drop(void *state, const char *db, const char *coll, const char *if_match,
                  struct restfcgi_error *err);

/* Documents (mg_docs.c). */
bool mg_find(void *state, const char *db, const char *coll, const struct restfcgi_find *q,
             restfcgi_emit_fn emit, void *ctx, struct restfcgi_error *err);
bool mg_count(void *state, const char *db, const char *coll, struct restfcgi_bson filter,
              int64_t max_time_ms, int64_t *count, struct restfcgi_error *err);
bool mg_insert(void *state, const char *db, const char *coll, struct restfcgi_bson doc,
               struct restfcgi_error *err);
bool mg_replace(void *state, const char *db, const char *coll, struct restfcgi_bson filter,
                struct restfcgi_bson doc, bool upsert, struct restfcgi_write_result *res,
                struct restfcgi_error *err);
bool mg_update(void *state, const char *db, const char *coll, struct restfcgi_bson filter,
               struct restfcgi_bson update, bool pipeline, bool multi, bool upsert,
               struct restfcgi_write_result *res, struct restfcgi_error *err);
bool mg_remove(void *state, const char *db, const char *coll, struct restfcgi_bson filter,
               bool multi, struct restfcgi_write_result *res, struct restfcgi_error *err);
bool mg_aggregate(void *state, const char *db, const char *coll, struct restfcgi_bson pipeline,
                  int64_t max_time_ms, restfcgi_emit_fn emit, void *ctx,
                  struct restfcgi_error *err);

/* Indexes (mg_index.c). */
bool mg_index_list(void *state, const char *db, const char *coll, restfcgi_emit_fn emit,
                   void *ctx, struct restfcgi_error *err);
bool mg_index_create(void *state, const char *db, const char *coll, const char *name,
                     struct restfcgi_bson keys, bool unique, struct restfcgi_error *err);
bool mg_index_drop(void *state, const char *db, const char *coll, const char *name,
                   struct restfcgi_error *err);

/* Deletes a collection's documents and namespace (drop, or deleteMany
 * where the server has no drop). */
bool mg_drop_namespace(struct store *s, mongoc_client_t *c, const char *db, const char *coll,
                       struct restfcgi_error *err);

#endif

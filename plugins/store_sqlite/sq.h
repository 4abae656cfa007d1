/* sq.h: the sqlite store's internals, shared by its files (not an ABI).
 *
 * One SQLite file, store.path/restfcgi.sqlite, in WAL mode:
 *   dbs(name, props)                     databases and their properties
 *   colls(id, db, name, props)           collections and their properties
 *   docs(coll, k, doc)                   documents as BSON; k = key of _id
 *   idx(coll, name, keys, uniq)          secondary indexes
 *   ikeys(coll, name, key, k)            entries of non-unique indexes
 *   ukeys(coll, name, key, k)            entries of unique indexes (key unique)
 * Keys are mql_key_append encodings, so SQLite's memcmp order of BLOBs is
 * MongoDB's order: "ORDER BY k DESC" is the default sort by _id descending.
 * Every write runs in one transaction (shared with other writes of its
 * process: sq_write.c), index entries with it; every read of a collection in one read transaction (one snapshot). */
#ifndef RESTFCGI_SQ_H
#define RESTFCGI_SQ_H

#include <bson/bson.h>
#include <pthread.h>
#include <sqlite3.h>

#include "mql.h"
#include "restfcgi_plugin.h"

struct store {
    const struct restfcgi_host *host;
    char *dir;
    char *file; /* dir/restfcgi.sqlite */
    int64_t busy_timeout_ms;
    pthread_key_t conn_key; /* this thread's struct sq_connection */
    bool key_ready;
    struct sq_writer *writer; /* the process's writes (sq_write.c) */
};

bool sq_error(struct restfcgi_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A SQLite failure as a store error: busy/locked/IO are 503, else 500. */
bool sq_db_error(struct restfcgi_error *err, sqlite3 *db, const char *what);

/* A new connection to the store (WAL, synchronous=FULL, the schema made). */
sqlite3 *sq_open(struct store *s, struct restfcgi_error *err);
/* This thread's connection, opened on first use; for reads. */
sqlite3 *sq_conn(struct store *s, struct restfcgi_error *err);
/* The thread-key destructor: closes a connection. */
void sq_conn_close(void *conn);

/* A connection with its cache of prepared statements (sq_stmt.c). */
struct sq_connection;
struct sq_connection *sq_connection_new(sqlite3 *db);
/* Its db, and the cache sq_prepare uses on this thread from now on. */
sqlite3 *sq_connection_db(struct sq_connection *c);
void sq_connection_close(struct sq_connection *c);
/* Makes c the cache sq_prepare uses on this thread; returns the one before. */
struct sq_connection *sq_connection_swap(struct sq_connection *c);
/* As sqlite3_prepare_v2, from the cache of this thread's connection when
 * db is it; every statement goes back with sq_done (reset, or finalized
 * when it was not cached). */
int sq_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **out);
void sq_done(sqlite3_stmt *st);
/* One statement without rows (BEGIN, COMMIT...), through the cache. */
int sq_exec(sqlite3 *db, const char *sql);
bool sq_schema_create(sqlite3 *db, struct restfcgi_error *err);

/* Writes (sq_write.c): sq_write_begin joins this process's group commit and
 * returns the write connection, inside a SAVEPOINT of this write; every
 * statement of the write runs between it and sq_write_end, which rolls the
 * write back when !ok and returns once the group's COMMIT did: false (503)
 * when that failed. */
struct sq_writer;
struct sq_writer *sq_writer_new(void);
void sq_writer_free(struct sq_writer *w);
sqlite3 *sq_write_begin(struct store *s, struct restfcgi_error *err);
bool sq_write_end(struct store *s, bool ok, struct restfcgi_error *err);
/* A batch (the store's batch op): this thread's writes until sq_batch_end
 * stay in one group, each still in its own SAVEPOINT, and sq_write_end
 * returns at once; sq_batch_end commits them (false, 503: none was kept). */
void sq_batch_begin(struct store *s);
bool sq_batch_end(struct store *s, struct restfcgi_error *err);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
bool sq_begin(sqlite3 *db, struct restfcgi_error *err);
bool sq_commit(sqlite3 *db, struct restfcgi_error *err);
void sq_rollback(sqlite3 *db);

/* The id of collection db.coll; 404 when the database or it is absent. */
bool sq_coll_id(sqlite3 *db, const char *dbname, const char *coll, int64_t *id,
                struct restfcgi_error *err);

/* A BSON view as a bson_t (no copy); false when the bytes are not BSON. */
bool sq_view(struct restfcgi_bson v, bson_t *out);

/* A secondary index as stored in idx. */
struct sq_index {
    char *name;
    char *first_path; /* the first key field: what a query must pin to use it */
    bson_t *keys;     /* {"a": 1, "b": -1}; a pointer: bson_t wants 128-byte alignment */
    bool unique;
};

struct sq_indexes {
    struct sq_index *list;
    size_t n;
};

/* The keys one document has in one index. */
struct sq_keys {
    struct mql_key *list;
    size_t n;
};

/* A collection opened for one operation. */
struct sq_coll {
    struct store *s;
    sqlite3 *db;
    int64_t id;
    struct sq_indexes ix;
    const char *plan_index; /* the index the last sq_candidates used, or NULL */
};

/* Opens db.coll for one operation with its indexes, in a transaction:
 * sq_write_begin for a write, a deferred BEGIN for a read (so everything a
 * read looks at is one snapshot); sq_coll_close ends a write with
 * sq_write_end, and ends a read. */
bool sq_coll_open(struct store *s, const char *dbname, const char *coll, bool write,
                  struct sq_coll *c, struct restfcgi_error *err);
bool sq_coll_close(struct sq_coll *c, bool write, bool ok, struct restfcgi_error *err);

bool sq_indexes_load(sqlite3 *db, int64_t coll, struct sq_indexes *ix, struct restfcgi_error *err);
void sq_indexes_free(struct sq_indexes *ix);
bool sq_index_keys(const struct sq_index *x, const bson_t *doc, struct sq_keys *out,
                   struct restfcgi_error *err);
void sq_keys_free(struct sq_keys *k);
bool sq_index_entries(struct sq_coll *c, const struct mql_key *k, const bson_t *doc, bool add,
                      struct restfcgi_error *err);
bool sq_candidates(struct sq_coll *c, const mql_filter *f, bool ascending, sqlite3_stmt **out,
                   struct restfcgi_error *err);
/* Every document in _id order but the first skip (sq_skip.c), for a
 * filter that matches everything: SQLite steps over them (OFFSET), from
 * the nearest position this connection remembers in the same snapshot. */
bool sq_scan_from(struct sq_coll *c, bool ascending, int64_t skip, sqlite3_stmt **out,
                  struct restfcgi_error *err);
/* Remembers that the document at position pos of that order has key. */
void sq_skip_note(struct sq_coll *c, bool ascending, int64_t pos, const void *key, size_t len);
struct sq_skip_memo;
void sq_skip_memo_free(struct sq_skip_memo *m);
/* The memo of this thread's connection when db is it, else NULL. */
struct sq_skip_memo **sq_connection_skip_memo(sqlite3 *db);

/* Aggregation (sq_aggregate.c): see struct restfcgi_store_ops. */
bool sq_aggregate(void *state, const char *dbname, const char *coll, struct restfcgi_bson pipeline,
                  int64_t max_time_ms, restfcgi_emit_fn emit, void *ctx,
                  struct restfcgi_error *err);

/* Index ops (sq_index.c): see struct restfcgi_store_ops. */
bool sq_index_list(void *state, const char *dbname, const char *coll, restfcgi_emit_fn emit,
                   void *ctx, struct restfcgi_error *err);
bool sq_index_create(void *state, const char *dbname, const char *coll, const char *name,
                     struct restfcgi_bson keys, bool unique, struct restfcgi_error *err);
bool sq_index_drop(void *state, const char *dbname, const char *coll, const char *name,
                   struct restfcgi_error *err);

/* Catalog ops (sq_catalog.c): see struct restfcgi_store_ops. */
bool sq_db_list(void *state, restfcgi_emit_fn emit, void *ctx, struct restfcgi_error *err);
bool sq_db_get(void *state, const char *name, restfcgi_emit_fn emit, void *ctx,
               struct restfcgi_error *err);
bool sq_db_put(void *state, const char *name, struct restfcgi_bson props,
               const char *if_match, bool *created, struct restfcgi_error *err);
bool sq_coll_put(void *state, const char *dbname, const char *coll, struct restfcgi_bson props,
                 const char *if_match, bool *created, struct restfcgi_error *err);
bool sq_db_drop(void *state, const char *name, const char *if_match,
                struct restfcgi_error *err);
bool sq_coll_drop(void *state, const char *dbname, const char *coll,
                  const char *if_match, struct restfcgi_error *err);
bool sq_coll_list(void *state, const char *dbname, restfcgi_emit_fn emit, void *ctx,
                  struct restfcgi_error *err);
bool sq_coll_get(void *state, const char *dbname, const char *coll, restfcgi_emit_fn emit,
                 void *ctx, struct restfcgi_error *err);

/* Document ops (sq_docs.c): see struct restfcgi_store_ops. */
bool sq_find(void *state, const char *dbname, const char *coll, const struct restfcgi_find *q,
             restfcgi_emit_fn emit, void *ctx, struct restfcgi_error *err);
bool sq_count(void *state, const char *dbname, const char *coll, struct restfcgi_bson filter,
              int64_t max_time_ms, int64_t *count, struct restfcgi_error *err);
bool sq_insert(void *state, const char *dbname, const char *coll, struct restfcgi_bson doc,
               struct restfcgi_error *err);
bool sq_replace(void *state, const char *dbname, const char *coll, struct restfcgi_bson filter,
                struct restfcgi_bson doc, bool upsert, struct restfcgi_write_result *res,
                struct restfcgi_error *err);
bool sq_update(void *state, const char *dbname, const char *coll, struct restfcgi_bson filter,
               struct restfcgi_bson update, bool pipeline, bool multi, bool upsert,
               struct restfcgi_write_result *res, struct restfcgi_error *err);
bool sq_remove(void *state, const char *dbname, const char *coll, struct restfcgi_bson filter,
               bool multi, struct restfcgi_write_result *res, struct restfcgi_error *err);

#endif

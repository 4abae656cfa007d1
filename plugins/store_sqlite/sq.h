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
 * Every write runs in one BEGIN IMMEDIATE transaction, index entries with it. */
#ifndef RESTFCGI_SQ_H
#define RESTFCGI_SQ_H

#include <bson/bson.h>
#include <pthread.h>
#include <sqlite3.h>

#include "restfcgi_plugin.h"

struct store {
    const struct restfcgi_host *host;
    char *dir;
    char *file; /* dir/restfcgi.sqlite */
    int64_t busy_timeout_ms;
    pthread_key_t conn_key; /* this thread's sqlite3 * */
    bool key_ready;
};

bool sq_error(struct restfcgi_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A SQLite failure as a store error: busy/locked/IO are 503, else 500. */
bool sq_db_error(struct restfcgi_error *err, sqlite3 *db, const char *what);

/* This thread's connection, opened (and the schema made) on first use. */
sqlite3 *sq_conn(struct store *s, struct restfcgi_error *err);
/* The thread-key destructor: closes a connection. */
void sq_conn_close(void *db);
bool sq_schema_create(sqlite3 *db, struct restfcgi_error *err);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. */
bool sq_begin(sqlite3 *db, struct restfcgi_error *err);
bool sq_commit(sqlite3 *db, struct restfcgi_error *err);
void sq_rollback(sqlite3 *db);

/* The id of collection db.coll; 404 when the database or it is absent. */
bool sq_coll_id(sqlite3 *db, const char *dbname, const char *coll, int64_t *id,
                struct restfcgi_error *err);

/* A BSON view as a bson_t (no copy); false when the bytes are not BSON. */
bool sq_view(struct restfcgi_bson v, bson_t *out);

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

#endif

/* sq_catalog.c: databases, collections and their properties. */
#include <string.h>

#include "sq.h"

/* Runs a one-row statement; the caller binds. */
static sqlite3_stmt *prepare(sqlite3 *db, const char *sql, struct restfcgi_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sq_prepare(db, sql, &st) != SQLITE_OK) {
        sq_db_error(err, db, "preparing a statement");
        return NULL;
    }
    return st;
}

/* If-Match against the _etag of a stored props document. */
static bool etag_matches(const void *props, int len, const char *if_match)
{
    if (!if_match)
        return true;
    bson_t doc;
    bson_iter_t it;
    char hex[25];
    if (!bson_init_static(&doc, props, (size_t)len) || !bson_iter_init_find(&it, &doc, "_etag") ||
        !BSON_ITER_HOLDS_OID(&it))
        return false;
    bson_oid_to_string(bson_iter_oid(&it), hex);
    return strcmp(hex, if_match) == 0;
}

static bool emit_blob(sqlite3_stmt *st, int col, restfcgi_emit_fn emit, void *ctx,
                      struct restfcgi_error *err)
{
    return emit(ctx, sqlite3_column_blob(st, col), (uint32_t)sqlite3_column_bytes(st, col), err);
}

bool sq_db_list(void *state, restfcgi_emit_fn emit, void *ctx, struct restfcgi_error *err)
{
    sqlite3 *db = sq_conn(state, err);
    sqlite3_stmt *st = db ? prepare(db, "SELECT name, props FROM dbs ORDER BY name", err) : NULL;
    if (!st)
        return false;
    bool ok = true;
    int rc;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        bson_t out = BSON_INITIALIZER, props;
        bson_append_utf8(&out, "_id", 3, (const char *)sqlite3_column_text(st, 0),
                         sqlite3_column_bytes(st, 0));
        if (bson_init_static(&props, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1)))
            BSON_APPEND_DOCUMENT(&out, "props", &props);
        ok = emit(ctx, bson_get_data(&out), out.len, err);
        bson_destroy(&out);
    }
    if (ok && rc != SQLITE_DONE)
        ok = sq_db_error(err, db, "listing databases");
    sq_done(st);
    return ok;
}

bool sq_db_get(void *state, const char *name, restfcgi_emit_fn emit, void *ctx,
               struct restfcgi_error *err)
{
    sqlite3 *db = sq_conn(state, err);
    sqlite3_stmt *st = db ? prepare(db, "SELECT props FROM dbs WHERE name = ?1", err) : NULL;
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    bool ok;
    if (rc == SQLITE_ROW)
        ok = emit_blob(st, 0, emit, ctx, err);
    else if (rc == SQLITE_DONE)
        ok = sq_error(err, 404, "database %s does not exist", name);
    else
        ok = sq_db_error(err, db, "reading a database");
    sq_done(st);
    return ok;
}

/* Creates or replaces a props row of dbs (coll NULL) or colls, in one
 * transaction with its If-Match check. */
static bool put_props(struct store *s, const char *dbname, const char *coll,
                      struct restfcgi_bson props, const char *if_match, bool *created,
                      struct restfcgi_error *err)
{
    sqlite3 *db = sq_write_begin(s, err);
    if (!db)
        return false;
    sqlite3_stmt *st = NULL;
    bool ok = false;
    if (coll) {
        /* A collection lives in an existing database. */
        st = prepare(db, "SELECT 1 FROM dbs WHERE name = ?1", err);
        if (!st)
            goto done;
        sqlite3_bind_text(st, 1, dbname, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sq_done(st);
        st = NULL;
        if (rc != SQLITE_ROW) {
            if (rc == SQLITE_DONE)
                sq_error(err, 404, "database %s does not exist", dbname);
            else
                sq_db_error(err, db, "reading a database");
            goto done;
        }
        st = prepare(db, "SELECT props FROM colls WHERE db = ?1 AND name = ?2", err);
    } else {
        st = prepare(db, "SELECT props FROM dbs WHERE name = ?1", err);
    }
    if (!st)
        goto done;
    sqlite3_bind_text(st, 1, dbname, -1, SQLITE_STATIC);
    if (coll)
        sqlite3_bind_text(st, 2, coll, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sq_db_error(err, db, "reading properties");
        goto done;
    }
    *created = rc == SQLITE_DONE;
    if (!*created && !etag_matches(sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0), if_match)) {
        sq_error(err, 412, "the ETag does not match");
        goto done;
    }
    sq_done(st);
    st = prepare(db,
                 coll ? (*created ? "INSERT INTO colls(db, name, props) VALUES(?1, ?2, ?3)"
                                  : "UPDATE colls SET props = ?3 WHERE db = ?1 AND name = ?2")
                      : (*created ? "INSERT INTO dbs(name, props) VALUES(?1, ?3)"
                                  : "UPDATE dbs SET props = ?3 WHERE name = ?1"),
                 err);
    if (!st)
        goto done;
    sqlite3_bind_text(st, 1, dbname, -1, SQLITE_STATIC);
    if (coll)
        sqlite3_bind_text(st, 2, coll, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, props.data, (int)props.len, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE) {
        sq_db_error(err, db, "writing properties");
        goto done;
    }
    ok = true;
done:
    sq_done(st);
    return sq_write_end(s, ok, err);
}

bool sq_db_put(void *state, const char *name, struct restfcgi_bson props,
               const char *if_match, bool *created, struct restfcgi_error *err)
{
    return put_props(state, name, NULL, props, if_match, created, err);
}

bool sq_coll_put(void *state, const char *dbname, const char *coll, struct restfcgi_bson props,
                 const char *if_match, bool *created, struct restfcgi_error *err)
{
    return put_props(state, dbname, coll, props, if_match, created, err);
}

/* Deletes the rows of the collections selected by where (bound to ?1, ?2). */
static bool drop_colls(sqlite3 *db, const char *where, const char *dbname, const char *coll,
                       struct restfcgi_error *err)
{
    static const char *const tables[] = {"docs", "idx", "ikeys", "ukeys"};
    char sql[256];
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE coll IN (SELECT id FROM colls WHERE %s)",
                 tables[i], where);
        sqlite3_stmt *st = prepare(db, sql, err);
        if (!st)
            return false;
        sqlite3_bind_text(st, 1, dbname, -1, SQLITE_STATIC);
        if (coll)
            sqlite3_bind_text(st, 2, coll, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sq_done(st);
        if (rc != SQLITE_DONE)
            return sq_db_error(err, db, "dropping");
    }
    snprintf(sql, sizeof sql, "DELETE FROM colls WHERE %s", where);
    sqlite3_stmt *st = prepare(db, sql, err);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, dbname, -1, SQLITE_STATIC);
    if (coll)
        sqlite3_bind_text(st, 2, coll, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sq_done(st);
    return rc == SQLITE_DONE || sq_db_error(err, db, "dropping");
}

/* Drops a database (coll NULL) or one collection, after the If-Match check. */
static bool drop(struct store *s, const char *dbname, const char *coll,
                 const char *if_match, struct restfcgi_error *err)
{
    sqlite3 *db = sq_write_begin(s, err);
    if (!db)
        return false;
    bool ok = false;
    sqlite3_stmt *st = prepare(db,
                               coll ? "SELECT props FROM colls WHERE db = ?1 AND name = ?2"
                                    : "SELECT props FROM dbs WHERE name = ?1",
                               err);
    if (!st)
        goto done;
    sqlite3_bind_text(st, 1, dbname, -1, SQLITE_STATIC);
    if (coll)
        sqlite3_bind_text(st, 2, coll, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sq_error(err, 404, coll ? "collection %s/%s does not exist" : "database %s does not exist",
                 dbname, coll ? coll : "");
        goto done;
    }
    if (rc != SQLITE_ROW) {
        sq_db_error(err, db, "reading properties");
        goto done;
    }
    if (!etag_matches(sqlite3_column_blob(st, 0), sqlite3_column_bytes(st, 0), if_match)) {
        sq_error(err, 412, "the ETag does not match");
        goto done;
    }
    if (coll) {
        ok = drop_colls(db, "db = ?1 AND name = ?2", dbname, coll, err);
    } else {
        ok = drop_colls(db, "db = ?1", dbname, NULL, err);
        if (ok) {
            sq_done(st);
            st = prepare(db, "DELETE FROM dbs WHERE name = ?1", err);
            ok = st != NULL;
            if (ok) {
                sqlite3_bind_text(st, 1, dbname, -1, SQLITE_STATIC);
                ok = sqlite3_step(st) == SQLITE_DONE || sq_db_error(err, db, "dropping");
            }
        }
    }
done:
    sq_done(st);
    return sq_write_end(s, ok, err);
}

bool sq_db_drop(void *state, const char *name, const char *if_match,
                struct restfcgi_error *err)
{
    return drop(state, name, NULL, if_match, err);
}

bool sq_coll_drop(void *state, const char *dbname, const char *coll,
                  const char *if_match, struct restfcgi_error *err)
{
    return drop(state, dbname, coll, if_match, err);
}

bool sq_coll_list(void *state, const char *dbname, restfcgi_emit_fn emit, void *ctx,
                  struct restfcgi_error *err)
{
    sqlite3 *db = sq_conn(state, err);
    if (!db)
        return false;
    /* The database must exist: an empty list and a 404 are different answers. */
    bool exists = false;
    sqlite3_stmt *st = prepare(db, "SELECT 1 FROM dbs WHERE name = ?1", err);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, dbname, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    exists = rc == SQLITE_ROW;
    sq_done(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_db_error(err, db, "reading a database");
    if (!exists)
        return sq_error(err, 404, "database %s does not exist", dbname);
    st = prepare(db, "SELECT name, props FROM colls WHERE db = ?1 ORDER BY name", err);
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, dbname, -1, SQLITE_STATIC);
    bool ok = true;
    while (ok && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        bson_t out = BSON_INITIALIZER, props;
        bson_append_utf8(&out, "_id", 3, (const char *)sqlite3_column_text(st, 0),
                         sqlite3_column_bytes(st, 0));
        if (bson_init_static(&props, sqlite3_column_blob(st, 1), (size_t)sqlite3_column_bytes(st, 1)))
            BSON_APPEND_DOCUMENT(&out, "props", &props);
        ok = emit(ctx, bson_get_data(&out), out.len, err);
        bson_destroy(&out);
    }
    if (ok && rc != SQLITE_DONE)
        ok = sq_db_error(err, db, "listing collections");
    sq_done(st);
    return ok;
}

bool sq_coll_get(void *state, const char *dbname, const char *coll, restfcgi_emit_fn emit,
                 void *ctx, struct restfcgi_error *err)
{
    sqlite3 *db = sq_conn(state, err);
    sqlite3_stmt *st =
        db ? prepare(db, "SELECT props FROM colls WHERE db = ?1 AND name = ?2", err) : NULL;
    if (!st)
        return false;
    sqlite3_bind_text(st, 1, dbname, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, coll, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    bool ok;
    if (rc == SQLITE_ROW)
        ok = emit_blob(st, 0, emit, ctx, err);
    else if (rc == SQLITE_DONE)
        ok = sq_error(err, 404, "collection %s/%s does not exist", dbname, coll);
    else
        ok = sq_db_error(err, db, "reading a collection");
    sq_done(st);
    return ok;
}

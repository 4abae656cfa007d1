/* sq_base.c: connections, transactions, errors and the schema. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sq.h"

bool sq_error(struct restfcgi_error *err, int code, const char *fmt, ...)
{
    err->domain = code >= 500 ? RESTFCGI_ERR_STORE : RESTFCGI_ERR_REQUEST;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return false;
}

bool sq_db_error(struct restfcgi_error *err, sqlite3 *db, const char *what)
{
    int rc = sqlite3_errcode(db);
    int code = 500;
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
        code = 503;
        break;
    case SQLITE_INTERRUPT:
        code = 408;
        break;
    default:
        break;
    }
    sq_error(err, code, "sqlite store: %s: %s", what, sqlite3_errmsg(db));
    err->domain = RESTFCGI_ERR_STORE;
    return false;
}

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS dbs(name TEXT PRIMARY KEY, props BLOB NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS colls(id INTEGER PRIMARY KEY, db TEXT NOT NULL,"
    " name TEXT NOT NULL, props BLOB NOT NULL, UNIQUE(db, name));"
    "CREATE TABLE IF NOT EXISTS docs(coll INTEGER NOT NULL, k BLOB NOT NULL,"
    " doc BLOB NOT NULL, PRIMARY KEY(coll, k)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS idx(coll INTEGER NOT NULL, name TEXT NOT NULL,"
    " keys BLOB NOT NULL, uniq INTEGER NOT NULL, PRIMARY KEY(coll, name)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS ikeys(coll INTEGER NOT NULL, name TEXT NOT NULL,"
    " key BLOB NOT NULL, k BLOB NOT NULL, PRIMARY KEY(coll, name, key, k)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS ukeys(coll INTEGER NOT NULL, name TEXT NOT NULL,"
    " key BLOB NOT NULL, k BLOB NOT NULL, PRIMARY KEY(coll, name, key)) WITHOUT ROWID;"
    /* Removing a document's entries looks them up by document. */
    "CREATE INDEX IF NOT EXISTS ikeys_by_doc ON ikeys(coll, k);"
    "CREATE INDEX IF NOT EXISTS ukeys_by_doc ON ukeys(coll, k);";

bool sq_schema_create(sqlite3 *db, struct restfcgi_error *err)
{
    /* Several workers may start at once: the IMMEDIATE lock serialises them. */
    if (!sq_begin(db, err))
        return false;
    if (sqlite3_exec(db, schema_sql, NULL, NULL, NULL) != SQLITE_OK) {
        sq_db_error(err, db, "creating the schema");
        sq_rollback(db);
        return false;
    }
    return sq_commit(db, err);
}

/* mkdir -p: the store directory and any parent missing. */
static bool make_dirs(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return false;
    bool ok = true;
    for (char *q = p + 1; ok && *q; q++) {
        if (*q != '/')
            continue;
        *q = '\0';
        ok = mkdir(p, 0750) == 0 || errno == EEXIST;
        *q = '/';
    }
    ok = ok && (mkdir(p, 0750) == 0 || errno == EEXIST);
    free(p);
    return ok;
}

void sq_conn_close(void *conn) { sq_connection_close(conn); }

sqlite3 *sq_open(struct store *s, struct restfcgi_error *err)
{
    sqlite3 *db = NULL;
    /* Also on every retry, so a store whose directory comes back recovers. */
    if (!make_dirs(s->dir)) {
        sq_error(err, 503, "cannot create the store directory %s: %s", s->dir, strerror(errno));
        return NULL;
    }
    int rc = sqlite3_open_v2(s->file, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        sq_error(err, 503, "cannot open the sqlite store %s: %s", s->file,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, (int)s->busy_timeout_ms);
    /* WAL lets readers in other processes go on while one writes;
     * synchronous=FULL makes every acknowledged commit survive power loss. */
    if (sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, NULL) !=
            SQLITE_OK ||
        !sq_schema_create(db, err)) {
        if (!err->code)
            sq_db_error(err, db, "setting up the connection");
        sqlite3_close_v2(db);
        return NULL;
    }
    return db;
}

sqlite3 *sq_conn(struct store *s, struct restfcgi_error *err)
{
    struct sq_connection *conn = pthread_getspecific(s->conn_key);
    if (conn)
        return sq_connection_db(conn);
    sqlite3 *db = sq_open(s, err);
    if (!db)
        return NULL;
    conn = sq_connection_new(db);
    if (!conn) {
        sqlite3_close_v2(db);
        sq_error(err, 503, "out of memory opening the sqlite store");
        return NULL;
    }
    pthread_setspecific(s->conn_key, conn);
    return sq_connection_db(conn);
}

bool sq_begin(sqlite3 *db, struct restfcgi_error *err)
{
    if (sq_exec(db, "BEGIN IMMEDIATE") != SQLITE_OK)
        return sq_db_error(err, db, "starting a write");
    return true;
}

bool sq_commit(sqlite3 *db, struct restfcgi_error *err)
{
    if (sq_exec(db, "COMMIT") != SQLITE_OK) {
        sq_db_error(err, db, "committing");
        sq_rollback(db);
        return false;
    }
    return true;
}

void sq_rollback(sqlite3 *db)
{
    if (!sqlite3_get_autocommit(db))
        sq_exec(db, "ROLLBACK");
}

bool sq_view(struct restfcgi_bson v, bson_t *out)
{
    return v.len >= 5 && bson_init_static(out, v.data, v.len);
}

bool sq_coll_id(sqlite3 *db, const char *dbname, const char *coll, int64_t *id,
                struct restfcgi_error *err)
{
    sqlite3_stmt *st = NULL;
    bool ok = false;
    if (sq_prepare(db, "SELECT id FROM colls WHERE db = ?1 AND name = ?2", &st) != SQLITE_OK) {
        sq_db_error(err, db, "looking up a collection");
        goto done;
    }
    sqlite3_bind_text(st, 1, dbname, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, coll, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        ok = true;
    } else if (rc == SQLITE_DONE) {
        sq_error(err, 404, "collection %s/%s does not exist", dbname, coll);
    } else {
        sq_db_error(err, db, "looking up a collection");
    }
done:
    sq_done(st);
    return ok;
}

bool sq_coll_open(struct store *s, const char *dbname, const char *coll, bool write,
                  struct sq_coll *c, struct restfcgi_error *err)
{
    memset(c, 0, sizeof *c);
    c->s = s;
    if (write) {
        c->db = sq_write_begin(s, err);
        if (!c->db)
            return false;
    } else {
        c->db = sq_conn(s, err);
        if (!c->db)
            return false;
        /* A read is a (deferred) transaction too: the collection, its index
         * list and the index entries the plan reads all come from one WAL
         * snapshot, so an index dropped meanwhile cannot hide documents. */
        if (sq_exec(c->db, "BEGIN") != SQLITE_OK)
            return sq_db_error(err, c->db, "starting a read");
    }
    if (sq_coll_id(c->db, dbname, coll, &c->id, err) && sq_indexes_load(c->db, c->id, &c->ix, err))
        return true;
    if (write)
        sq_write_end(s, false, err);
    else
        sq_rollback(c->db);
    return false;
}

/* Ends the operation: a write as sq_write_end; a read ends its snapshot. */
bool sq_coll_close(struct sq_coll *c, bool write, bool ok, struct restfcgi_error *err)
{
    sq_indexes_free(&c->ix);
    if (!c->db)
        return ok;
    if (write)
        return sq_write_end(c->s, ok, err);
    sq_rollback(c->db);
    return ok;
}

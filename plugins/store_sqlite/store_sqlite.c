/* store_sqlite: the embedded default store. Durable SQLite files under
 * store.path in WAL mode, so a node's worker processes read concurrently
 * and write one at a time. Each thread of a worker has its own connection,
 * opened on first use after fork (never before). The layout is in sq.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq.h"

#define STORE_NAME "sqlite"
#define DEFAULT_BUSY_TIMEOUT_MS 5000
#define DB_FILE "restfcgi.sqlite"

static void store_cleanup(void *state)
{
    struct store *s = state;
    if (!s)
        return;
    if (s->key_ready) {
        struct sq_connection *conn = pthread_getspecific(s->conn_key);
        if (conn) {
            pthread_setspecific(s->conn_key, NULL);
            sq_connection_close(conn);
        }
        pthread_key_delete(s->conn_key);
    }
    sq_writer_free(s->writer);
    free(s->dir);
    free(s->file);
    free(s);
}

static bool store_init(const struct restfcgi_host *host, const restfcgi_conf *conf, void **state,
                       struct restfcgi_error *err)
{
    static const char *const known[] = {"plugin", "path", "busy_timeout_ms", "require_at_start",
                                        NULL};
    *state = NULL;
    if (!host->conf_check_keys(conf, known, err))
        return false;
    const char *path = NULL;
    int r = host->conf_string(conf, "path", &path, err);
    if (r == RESTFCGI_CONF_WRONG_TYPE)
        return false;
    if (r == RESTFCGI_CONF_ABSENT || !*path)
        return host->conf_fail(conf, err, "store.path is required for the sqlite store");
    struct store *s = calloc(1, sizeof *s);
    if (!s)
        return sq_error(err, 500, "out of memory");
    s->host = host;
    s->busy_timeout_ms = DEFAULT_BUSY_TIMEOUT_MS;
    if (host->conf_int(conf, "busy_timeout_ms", &s->busy_timeout_ms, err) ==
        RESTFCGI_CONF_WRONG_TYPE)
        goto fail;
    if (s->busy_timeout_ms < 0 || s->busy_timeout_ms > 600000) {
        host->conf_fail(conf, err, "store.busy_timeout_ms must be 0 to 600000");
        goto fail;
    }
    s->dir = strdup(path);
    size_t flen = strlen(path) + sizeof(DB_FILE) + 2;
    s->file = malloc(flen);
    if (!s->dir || !s->file) {
        sq_error(err, 500, "out of memory");
        goto fail;
    }
    snprintf(s->file, flen, "%s/%s", path, DB_FILE);
    if (pthread_key_create(&s->conn_key, sq_conn_close) != 0) {
        sq_error(err, 500, "pthread_key_create failed");
        goto fail;
    }
    s->key_ready = true;
    s->writer = sq_writer_new();
    if (!s->writer) {
        sq_error(err, 500, "out of memory");
        goto fail;
    }
    *state = s;
    return true;
fail:
    err->domain = RESTFCGI_ERR_CONFIG;
    store_cleanup(s);
    return false;
}

static bool store_worker_init(void *state, struct restfcgi_error *err)
{
    /* Open once here so a broken path is reported when the worker starts. */
    return sq_conn(state, err) != NULL;
}

static bool store_ping(void *state, struct restfcgi_error *err)
{
    sqlite3 *db = sq_conn(state, err);
    if (!db)
        return false;
    sqlite3_stmt *st = NULL;
    int rc = sq_prepare(db, "SELECT count(*) FROM sqlite_schema", &st);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sq_done(st);
    if (rc != SQLITE_ROW)
        return sq_db_error(err, db, "ping");
    return true;
}

static bool store_batch(void *state, bool begin, struct restfcgi_error *err)
{
    if (begin) {
        sq_batch_begin(state);
        return true;
    }
    return sq_batch_end(state, err);
}

static const struct restfcgi_store_ops ops = {
    .life =
        {
            .struct_size = sizeof(struct restfcgi_store_ops),
            .init = store_init,
            .worker_init = store_worker_init,
            .cleanup = store_cleanup,
        },
    .ping = store_ping,
    .db_list = sq_db_list,
    .db_get = sq_db_get,
    .db_put = sq_db_put,
    .db_drop = sq_db_drop,
    .coll_list = sq_coll_list,
    .coll_get = sq_coll_get,
    .coll_put = sq_coll_put,
    .coll_drop = sq_coll_drop,
    .find = sq_find,
    .count = sq_count,
    .insert = sq_insert,
    .replace = sq_replace,
    .update = sq_update,
    .remove = sq_remove,
    .index_list = sq_index_list,
    .index_create = sq_index_create,
    .index_drop = sq_index_drop,
    .aggregate = sq_aggregate,
    .batch = store_batch,
};

static const struct restfcgi_plugin descriptor = {
    .abi_major = RESTFCGI_PLUGIN_ABI_MAJOR,
    .abi_minor = RESTFCGI_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct restfcgi_plugin),
    .kind = RESTFCGI_PLUGIN_STORE,
    .name = STORE_NAME,
    .version = "0.1.0",
    .ops = &ops,
};

RESTFCGI_PLUGIN_EXPORT const struct restfcgi_plugin *restfcgi_plugin_store_sqlite(void);

const struct restfcgi_plugin *restfcgi_plugin_store_sqlite(void) { return &descriptor; }

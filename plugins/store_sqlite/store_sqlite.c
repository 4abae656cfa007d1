/* store_sqlite: the embedded default store. Durable SQLite files under
 * store.path in WAL mode, so a node's worker processes read concurrently
 * and write one at a time. Each thread of a worker has its own connection,
 * opened on first use after fork (never before). */
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "restfcgi_plugin.h"

#define STORE_NAME "sqlite"
#define DEFAULT_BUSY_TIMEOUT_MS 5000
#define DB_FILE "restfcgi.sqlite"

struct store {
    const struct restfcgi_host *host;
    char *dir;
    char *file; /* dir/DB_FILE */
    int64_t busy_timeout_ms;
    pthread_key_t conn_key; /* this thread's sqlite3 * */
    bool key_ready;
};

static void set_error(struct restfcgi_error *err, int domain, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void set_error(struct restfcgi_error *err, int domain, int code, const char *fmt, ...)
{
    err->domain = domain;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static void conn_close(void *db) { sqlite3_close_v2(db); }

static void store_cleanup(void *state)
{
    struct store *s = state;
    if (!s)
        return;
    if (s->key_ready) {
        sqlite3 *db = pthread_getspecific(s->conn_key);
        if (db) {
            pthread_setspecific(s->conn_key, NULL);
            sqlite3_close_v2(db);
        }
        pthread_key_delete(s->conn_key);
    }
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
    if (r == RESTFCGI_CONF_ABSENT || !*path) {
        char at[300];
        host->conf_where(conf, at, sizeof at);
        set_error(err, RESTFCGI_ERR_CONFIG, 0, "%s: store.path is required for the sqlite store",
                  at);
        return false;
    }
    struct store *s = calloc(1, sizeof *s);
    if (!s) {
        set_error(err, RESTFCGI_ERR_PLUGIN, 0, "out of memory");
        return false;
    }
    s->host = host;
    s->busy_timeout_ms = DEFAULT_BUSY_TIMEOUT_MS;
    r = host->conf_int(conf, "busy_timeout_ms", &s->busy_timeout_ms, err);
    if (r == RESTFCGI_CONF_WRONG_TYPE)
        goto fail;
    if (s->busy_timeout_ms < 0 || s->busy_timeout_ms > 600000) {
        char at[300];
        host->conf_where(conf, at, sizeof at);
        set_error(err, RESTFCGI_ERR_CONFIG, 0, "%s: store.busy_timeout_ms must be 0 to 600000",
                  at);
        goto fail;
    }
    s->dir = strdup(path);
    size_t flen = strlen(path) + sizeof(DB_FILE) + 2;
    s->file = malloc(flen);
    if (!s->dir || !s->file) {
        set_error(err, RESTFCGI_ERR_PLUGIN, 0, "out of memory");
        goto fail;
    }
    snprintf(s->file, flen, "%s/%s", path, DB_FILE);
    if (pthread_key_create(&s->conn_key, conn_close) != 0) {
        set_error(err, RESTFCGI_ERR_PLUGIN, 0, "pthread_key_create failed");
        goto fail;
    }
    s->key_ready = true;
    *state = s;
    return true;
fail:
    store_cleanup(s);
    return false;
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

/* This thread's connection, opened and set up on first use. */
static sqlite3 *conn_get(struct store *s, struct restfcgi_error *err)
{
    sqlite3 *db = pthread_getspecific(s->conn_key);
    if (db)
        return db;
    /* Also on every retry, so a store whose directory comes back recovers. */
    if (!make_dirs(s->dir)) {
        set_error(err, RESTFCGI_ERR_STORE, 503, "cannot create the store directory %s: %s", s->dir,
                  strerror(errno));
        return NULL;
    }
    int rc = sqlite3_open_v2(s->file, &db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        set_error(err, RESTFCGI_ERR_STORE, 503, "cannot open the sqlite store %s: %s", s->file,
                  db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close_v2(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, (int)s->busy_timeout_ms);
    /* WAL lets readers in other processes go on while one writes;
     * synchronous=FULL makes every acknowledged commit survive power loss. */
    char *msg = NULL;
    rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        set_error(err, RESTFCGI_ERR_STORE, 503, "cannot set up the sqlite store %s: %s", s->file,
                  msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        sqlite3_close_v2(db);
        return NULL;
    }
    pthread_setspecific(s->conn_key, db);
    return db;
}

static bool store_worker_init(void *state, struct restfcgi_error *err)
{
    /* Open once here so a broken path is reported when the worker starts. */
    return conn_get(state, err) != NULL;
}

static bool store_ping(void *state, struct restfcgi_error *err)
{
    struct store *s = state;
    sqlite3 *db = conn_get(s, err);
    if (!db)
        return false;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        set_error(err, RESTFCGI_ERR_STORE, 503, "sqlite store %s: %s", s->file, sqlite3_errmsg(db));
        return false;
    }
    return true;
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

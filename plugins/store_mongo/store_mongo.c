/* store_mongo: documents in a MongoDB replica set through the mongo-c-driver,
 * the store a cluster of restfcgi nodes shares. store.uri is a standard
 * connection string; write concern, read preference, retryable reads and
 * writes come from it. Timeouts absent from the URI come from the config
 * keys below, so an unreachable set is a 503 within them, never a hang. The
 * layout (documents as they are, a catalog for databases and collections)
 * is in mg.h. */
#include <stdlib.h>
#include <string.h>

#include "mg.h"

#define DEFAULT_SERVER_SELECTION_MS 5000
#define DEFAULT_CONNECT_MS 2000
#define DEFAULT_SOCKET_MS 15000 /* above the default query_time_ms (10 s) */
#define DEFAULT_CATALOG_DB "_restfcgi"

static const struct restfcgi_host *log_host;

/* The driver's own warnings go to the server's log; its chatter does not. */
static void driver_log(mongoc_log_level_t level, const char *domain, const char *message,
                       void *data)
{
    (void)data;
    if (level <= MONGOC_LOG_LEVEL_WARNING && log_host)
        log_host->log(RESTFCGI_LOG_WARN, MG_PLUGIN, "driver %s: %s", domain, message);
}

static void store_cleanup(void *state)
{
    struct store *s = state;
    if (!s)
        return;
    if (s->pool)
        mongoc_client_pool_destroy(s->pool);
    mongoc_uri_destroy(s->uri);
    pthread_mutex_destroy(&s->caps_lock);
    free(s->catalog_db);
    free(s);
    /* No mongoc_cleanup(): it cannot be undone, and a reload calls init again. */
}

/* A timeout key: the URI's value wins, else the config's, else the default. */
static bool timeout_option(struct store *s, const restfcgi_conf *conf, const char *key,
                           const char *uri_key, int64_t def, struct restfcgi_error *err)
{
    int64_t v = def;
    if (s->host->conf_int(conf, key, &v, err) == RESTFCGI_CONF_WRONG_TYPE)
        return false;
    if (v < 1 || v > 600000)
        return s->host->conf_fail(conf, err, "store.%s must be 1 to 600000", key);
    if (!mongoc_uri_has_option(s->uri, uri_key))
        mongoc_uri_set_option_as_int32(s->uri, uri_key, (int32_t)v);
    return true;
}

static bool store_init(const struct restfcgi_host *host, const restfcgi_conf *conf, void **state,
                       struct restfcgi_error *err)
{
    static const char *const known[] = {"plugin",
                                        "uri",
                                        "catalog_db",
                                        "server_selection_timeout_ms",
                                        "connect_timeout_ms",
                                        "socket_timeout_ms",
                                        "require_at_start",
                                        NULL};
    *state = NULL;
    if (!host->conf_check_keys(conf, known, err))
        return false;
    const char *uri = NULL, *catalog = NULL;
    int r = host->conf_string(conf, "uri", &uri, err);
    if (r == RESTFCGI_CONF_WRONG_TYPE)
        return false;
    if (r == RESTFCGI_CONF_ABSENT || !*uri)
        return host->conf_fail(conf, err, "store.uri is required for the mongo store");
    r = host->conf_string(conf, "catalog_db", &catalog, err);
    if (r == RESTFCGI_CONF_WRONG_TYPE)
        return false;
    if (r == RESTFCGI_CONF_ABSENT)
        catalog = DEFAULT_CATALOG_DB;
    /* A leading '_' keeps it out of the API's database names. */
    if (catalog[0] != '_' || strlen(catalog) < 2 || strlen(catalog) > 48 ||
        strpbrk(catalog, "/\\. \"$*<>:|?"))
        return host->conf_fail(conf, err,
                               "store.catalog_db must be a database name of 2 to 48 "
                               "bytes starting with '_'");

    /* No /dev/shm/mongoc-PID counters file left behind by every process. */
    setenv("MONGOC_DISABLE_SHM", "1", 0);
    mongoc_init();
    log_host = host;
    mongoc_log_set_handler(driver_log, NULL);
    struct store *s = calloc(1, sizeof *s);
    if (!s)
        return mg_error(err, 500, "out of memory");
    s->host = host;
    pthread_mutex_init(&s->caps_lock, NULL);
    bson_error_t e;
    s->uri = mongoc_uri_new_with_error(uri, &e);
    if (!s->uri) {
        /* Not the driver's message: some quote the password. */
        (void)e;
        host->conf_fail(conf, err, "store.uri is not a valid MongoDB connection string "
                                   "(user names and passwords must be percent-encoded)");
        goto fail;
    }
    if (!timeout_option(s, conf, "server_selection_timeout_ms",
                        MONGOC_URI_SERVERSELECTIONTIMEOUTMS, DEFAULT_SERVER_SELECTION_MS, err) ||
        !timeout_option(s, conf, "connect_timeout_ms", MONGOC_URI_CONNECTTIMEOUTMS,
                        DEFAULT_CONNECT_MS, err) ||
        !timeout_option(s, conf, "socket_timeout_ms", MONGOC_URI_SOCKETTIMEOUTMS,
                        DEFAULT_SOCKET_MS, err))
        goto fail;
    if (!mongoc_uri_get_appname(s->uri))
        mongoc_uri_set_appname(s->uri, "restfcgi");
    s->catalog_db = strdup(catalog);
    if (!s->catalog_db) {
        mg_error(err, 500, "out of memory");
        goto fail;
    }
    *state = s;
    return true;
fail:
    err->domain = RESTFCGI_ERR_CONFIG;
    store_cleanup(s);
    return false;
}

mongoc_client_t *mg_client(struct store *s, struct restfcgi_error *err)
{
    if (!s->pool) {
        mg_error(err, 503, "the store is unavailable (no connection pool)");
        return NULL;
    }
    /* The pool holds one client per thread and no thread takes two, so
     * this never waits long; NULL only past a waitQueueTimeoutMS. */
    mongoc_client_t *c = mongoc_client_pool_pop(s->pool);
    if (!c)
        mg_error(err, 503, "the store is unavailable (no free connection)");
    return c;
}

void mg_release(struct store *s, mongoc_client_t *c)
{
    if (c)
        mongoc_client_pool_push(s->pool, c);
}

/* Runs one probe command (and destroys it): 1 the server has the command
 * (whatever it said about the missing namespace), 0 it does not
 * (CommandNotFound), -1 the server did not answer. */
static int probe(struct store *s, mongoc_client_t *c, const char *db, bson_t *cmd,
                 struct restfcgi_error *err)
{
    bson_error_t e;
    bool ok = mongoc_client_command_simple(c, db, cmd, NULL, NULL, &e);
    bson_destroy(cmd);
    if (ok)
        return 1;
    if (e.domain == MONGOC_ERROR_SERVER || e.domain == MONGOC_ERROR_QUERY)
        return e.code == 59 ? 0 : 1;
    mg_fail(s, &e, "probing the server", err);
    return -1;
}

bool mg_caps(struct store *s, mongoc_client_t *c, struct mg_caps *out, struct restfcgi_error *err)
{
    pthread_mutex_lock(&s->caps_lock);
    bool ok = true;
    if (!s->caps.probed) {
        /* On a namespace of the catalog database nobody uses: create and
         * drop it (real MongoDB), or learn the commands are missing. */
        struct mg_caps caps = {.probed = true};
        char probe_db[64];
        snprintf(probe_db, sizeof probe_db, "%s_probe", s->catalog_db);
        int r;
        ok = (r = probe(s, c, s->catalog_db, BCON_NEW("create", "_probe"), err)) >= 0;
        caps.create = r == 1;
        ok = ok && (r = probe(s, c, s->catalog_db,
                              BCON_NEW("dropIndexes", "_probe", "index", "_probe_1"), err)) >= 0;
        caps.drop_indexes = r == 1;
        ok = ok && (r = probe(s, c, s->catalog_db, BCON_NEW("drop", "_probe"), err)) >= 0;
        caps.drop = r == 1;
        ok = ok && (r = probe(s, c, probe_db, BCON_NEW("dropDatabase", BCON_INT32(1)), err)) >= 0;
        caps.drop_database = r == 1;
        if (ok) {
            s->caps = caps;
            s->host->log(RESTFCGI_LOG_INFO, MG_PLUGIN,
                         "server commands: create %s, drop %s, dropIndexes %s, dropDatabase %s",
                         caps.create ? "yes" : "no", caps.drop ? "yes" : "no",
                         caps.drop_indexes ? "yes" : "no", caps.drop_database ? "yes" : "no");
        }
    }
    *out = s->caps;
    pthread_mutex_unlock(&s->caps_lock);
    return ok;
}

static bool store_worker_init(void *state, struct restfcgi_error *err)
{
    struct store *s = state;
    bson_error_t e;
    s->pool = mongoc_client_pool_new_with_error(s->uri, &e);
    if (!s->pool)
        return mg_error(err, 500, "cannot make a connection pool: %s", e.message);
    mongoc_client_pool_set_error_api(s->pool, MONGOC_ERROR_API_VERSION_2);
    uint32_t threads = 1;
    if (s->host->struct_size >= offsetof(struct restfcgi_host, worker_threads) +
                                    sizeof s->host->worker_threads &&
        s->host->worker_threads)
        threads = s->host->worker_threads();
    mongoc_client_pool_max_size(s->pool, threads);
    /* Probe now, so the first drop does not pay for it; an unreachable
     * server is reported (the host serves 503) and probed again later. */
    mongoc_client_t *c = mg_client(s, err);
    struct mg_caps caps;
    bool ok = c && mg_caps(s, c, &caps, err);
    mg_release(s, c);
    return ok;
}

static bool store_ping(void *state, struct restfcgi_error *err)
{
    struct store *s = state;
    mongoc_client_t *c = mg_client(s, err);
    if (!c)
        return false;
    bson_t *cmd = BCON_NEW("ping", BCON_INT32(1));
    bson_error_t e;
    bool ok = mongoc_client_command_simple(c, "admin", cmd, NULL, NULL, &e) ||
              mg_fail(s, &e, "ping", err);
    bson_destroy(cmd);
    mg_release(s, c);
    return ok;
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
    .db_list = mg_db_list,
    .db_get = mg_db_get,
    .db_put = mg_db_put,
    .db_drop = mg_db_drop,
    .coll_list = mg_coll_list,
    .coll_get = mg_coll_get,
    .coll_put = mg_coll_put,
    .coll_drop = mg_coll_drop,
    .find = mg_find,
    .count = mg_count,
    .insert = mg_insert,
    .replace = mg_replace,
    .update = mg_update,
    .remove = mg_remove,
    .index_list = mg_index_list,
    .index_create = mg_index_create,
    .index_drop = mg_index_drop,
    .aggregate = mg_aggregate,
};

static const struct restfcgi_plugin descriptor = {
    .abi_major = RESTFCGI_PLUGIN_ABI_MAJOR,
    .abi_minor = RESTFCGI_PLUGIN_ABI_MINOR,
    .struct_size = sizeof(struct restfcgi_plugin),
    .kind = RESTFCGI_PLUGIN_STORE,
    .name = MG_PLUGIN,
    .version = "0.1.0",
    .ops = &ops,
};

RESTFCGI_PLUGIN_EXPORT const struct restfcgi_plugin *restfcgi_plugin_store_mongo(void);

const struct restfcgi_plugin *restfcgi_plugin_store_mongo(void) { return &descriptor; }

/*
 * restfcgi_plugin.h: the plugin ABI of restfcgi, the only restfcgi header a
 * plugin includes.
 *
 * A plugin NAME.so exports one symbol, restfcgi_plugin_NAME, a function
 * returning a const descriptor. The host loads it with
 * dlopen(RTLD_NOW | RTLD_LOCAL) and refuses another ABI major, a descriptor
 * shorter than it needs, or a kind it did not ask for.
 *
 * Tables are append-only: a new field goes at the end with a comment naming
 * the ABI minor that added it, and the host reads a field only when
 * struct_size says the plugin's table has it.
 *
 * Lifecycle: init() once in the parent (validate the config group, keep no
 * descriptors that must not cross fork), worker_init() in each worker process
 * after fork (open files, connections, pools there), per-request calls from
 * any of the worker's threads, cleanup() once per state in every process.
 */
#ifndef RESTFCGI_PLUGIN_H
#define RESTFCGI_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RESTFCGI_PLUGIN_ABI_MAJOR 1
#define RESTFCGI_PLUGIN_ABI_MINOR 2

/* Plugins are built with -fvisibility=hidden; this marks the one export. */
#define RESTFCGI_PLUGIN_EXPORT __attribute__((visibility("default")))

enum restfcgi_plugin_kind {
    RESTFCGI_PLUGIN_TOKEN_MANAGER = 1,
    RESTFCGI_PLUGIN_STORE = 2,
};

/* One error shape for host and plugins, filled by the callee on failure. */
enum restfcgi_error_domain {
    RESTFCGI_ERR_NONE = 0,
    RESTFCGI_ERR_CONFIG = 1,  /* bad configuration: refuse to start */
    RESTFCGI_ERR_PLUGIN = 2,  /* plugin could not load or initialise */
    RESTFCGI_ERR_REQUEST = 3, /* client's fault: code is the HTTP status */
    RESTFCGI_ERR_STORE = 4,   /* store failure: code is the HTTP status */
    RESTFCGI_ERR_AUTH = 5,    /* authentication failure: code is the HTTP status */
    RESTFCGI_ERR_INTERNAL = 6,
};

struct restfcgi_error {
    int domain; /* enum restfcgi_error_domain */
    int code;   /* HTTP status for REQUEST/STORE/AUTH, else 0 */
    char message[256];
};

enum restfcgi_log_level {
    RESTFCGI_LOG_ERROR = 0,
    RESTFCGI_LOG_WARN = 1,
    RESTFCGI_LOG_INFO = 2,
    RESTFCGI_LOG_DEBUG = 3,
};

/* The plugin's own configuration group; opaque to the plugin. */
typedef struct restfcgi_conf restfcgi_conf;

/* Outcome of a typed configuration lookup. */
enum restfcgi_conf_result {
    RESTFCGI_CONF_ABSENT = 0,
    RESTFCGI_CONF_FOUND = 1,
    RESTFCGI_CONF_WRONG_TYPE = -1, /* err holds "FILE:LINE: ..." */
};

/*
 * Services the host offers to plugins. Every function is thread-safe.
 * Strings returned by conf_* are borrowed and live as long as the group.
 */
struct restfcgi_host {
    uint32_t struct_size;
    uint16_t abi_major, abi_minor;
    const char *version; /* restfcgi's version string */

    /* One line to stderr, prefixed with time, pid, level and plugin name. */
    void (*log)(enum restfcgi_log_level level, const char *plugin, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* Wall clock in milliseconds since the Unix epoch. */
    int64_t (*now_ms)(void);
    /* Monotonic clock in milliseconds, for timeouts. */
    int64_t (*monotonic_ms)(void);
    /* Cryptographically secure random bytes; false if the source failed. */
    bool (*random_bytes)(void *buf, size_t len);

    /* Rejects any key of the group not in the NULL-terminated list known. */
    bool (*conf_check_keys)(const restfcgi_conf *group, const char *const *known,
                            struct restfcgi_error *err);
    int (*conf_string)(const restfcgi_conf *group, const char *key, const char **out,
                       struct restfcgi_error *err);
    int (*conf_int)(const restfcgi_conf *group, const char *key, int64_t *out,
                    struct restfcgi_error *err);
    int (*conf_bool)(const restfcgi_conf *group, const char *key, bool *out,
                     struct restfcgi_error *err);
    /* A nested group, or element i of a list when key is NULL. */
    int (*conf_group)(const restfcgi_conf *group, const char *key, size_t index,
                      const restfcgi_conf **out, struct restfcgi_error *err);
    /* Number of elements of a list or group (0 when absent). */
    size_t (*conf_length)(const restfcgi_conf *group, const char *key);
    /* "FILE:LINE" of the group, for the plugin's own messages. */
    void (*conf_where)(const restfcgi_conf *group, char *buf, size_t len);
    /* A short name ([A-Za-z0-9-], under 64 bytes) that every process of
     * this node shares (one user, one config file, whoever started them:
     * the supervisor, spawn-fcgi -F, the web server); for naming shared
     * memory. Valid from worker_init on. */
    const char *(*instance_key)(void);
    /* Fills err with a CONFIG error "FILE:LINE: message" for the group;
     * returns false. */
    bool (*conf_fail)(const restfcgi_conf *group, struct restfcgi_error *err, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
    /* ABI 1.1: how many threads of this worker process may call the plugin
     * at once (its accept loops), for sizing pools. Valid from worker_init
     * on; check struct_size before calling. */
    uint32_t (*worker_threads)(void);
};

/* The first member of every kind's ops table. */
struct restfcgi_plugin_lifecycle {
    uint32_t struct_size; /* sizeof the ops table the plugin built */
    bool (*init)(const struct restfcgi_host *host, const restfcgi_conf *conf, void **state,
                 struct restfcgi_error *err);
    bool (*worker_init)(void *state, struct restfcgi_error *err);
    void (*cleanup)(void *state);
};

/*
 * Documents cross the store ABI as BSON bytes (the format is the contract,
 * not a library's structs): a borrowed view in, a callback per document out.
 * A view with len 0 means "absent".
 */
struct restfcgi_bson {
    const uint8_t *data;
    uint32_t len;
};

/* Receives one result document (borrowed for the call); false stops the
 * operation, which then fails with the error the callee put in err. */
typedef bool (*restfcgi_emit_fn)(void *ctx, const uint8_t *bson, uint32_t len,
                                 struct restfcgi_error *err);

struct restfcgi_find {
    struct restfcgi_bson filter;     /* absent: every document */
    struct restfcgi_bson projection; /* absent: whole documents */
    struct restfcgi_bson sort;       /* absent: by _id descending */
    struct restfcgi_bson hint;       /* absent: the store chooses */
    int64_t skip;
    int64_t limit;       /* 0: no limit */
    int64_t max_time_ms; /* 0: none; past it a 408 */
};

struct restfcgi_write_result {
    int64_t matched, modified, deleted, inserted;
    bool upserted;
};

/*
 * Store plugins (kind RESTFCGI_PLUGIN_STORE). Names (db, coll, index) are
 * validated by the host: non-empty UTF-8 without NUL. Errors carry the HTTP
 * status in code: 400 bad query/update, 403 forbidden operator, 404 missing
 * database/collection/index, 406 index exists, 408 time limit, 409 duplicate
 * key, 412 etag mismatch, 503 store unreachable.
 * Databases and collections keep properties (a document with _etag);
 * conditional writes of documents put _etag in the filter, so a mismatch is
 * matched == 0 and the host tells 404 from 412 with a second read.
 */
struct restfcgi_store_ops {
    struct restfcgi_plugin_lifecycle life;
    /* Round trip to the store; false with a STORE error when unreachable. */
    bool (*ping)(void *state, struct restfcgi_error *err);

    /* Emits {"_id": name, "props": {...}} per database, by name. */
    bool (*db_list)(void *state, restfcgi_emit_fn emit, void *ctx, struct restfcgi_error *err);
    /* Emits the properties of one database (404 when absent). */
    bool (*db_get)(void *state, const char *db, restfcgi_emit_fn emit, void *ctx,
                   struct restfcgi_error *err);
    /* Creates or replaces the properties (a document with _etag, an
     * ObjectId); *created tells which. if_match (NULL: no condition) is the
     * 24-hex ObjectId the stored _etag must equal, else 412. */
    bool (*db_put)(void *state, const char *db, struct restfcgi_bson props, const char *if_match,
                   bool *created, struct restfcgi_error *err);
    /* Drops the database and everything in it (404, 412). */
    bool (*db_drop)(void *state, const char *db, const char *if_match, struct restfcgi_error *err);

    /* The same for the collections of a database (404 when it is absent). */
    bool (*coll_list)(void *state, const char *db, restfcgi_emit_fn emit, void *ctx,
                      struct restfcgi_error *err);
    bool (*coll_get)(void *state, const char *db, const char *coll, restfcgi_emit_fn emit,
                     void *ctx, struct restfcgi_error *err);
    bool (*coll_put)(void *state, const char *db, const char *coll, struct restfcgi_bson props,
                     const char *if_match, bool *created, struct restfcgi_error *err);
    bool (*coll_drop)(void *state, const char *db, const char *coll, const char *if_match,
                      struct restfcgi_error *err);

    /* Documents of db.coll (404 when the collection is absent). */
    bool (*find)(void *state, const char *db, const char *coll, const struct restfcgi_find *q,
                 restfcgi_emit_fn emit, void *ctx, struct restfcgi_error *err);
    bool (*count)(void *state, const char *db, const char *coll, struct restfcgi_bson filter,
                  int64_t max_time_ms, int64_t *count, struct restfcgi_error *err);
    /* One document with its _id (409 when the _id or a unique key exists). */
    bool (*insert)(void *state, const char *db, const char *coll, struct restfcgi_bson doc,
                   struct restfcgi_error *err);
    /* Replaces the first document matching filter with doc (same _id); with
     * upsert inserts doc when none matches (res->upserted). */
    bool (*replace)(void *state, const char *db, const char *coll, struct restfcgi_bson filter,
                    struct restfcgi_bson doc, bool upsert, struct restfcgi_write_result *res,
                    struct restfcgi_error *err);
    /* update is an operator document, or with pipeline an array of stages;
     * multi updates every match, else the first; with upsert and no match a
     * document built from the filter's equalities and the update is inserted. */
    bool (*update)(void *state, const char *db, const char *coll, struct restfcgi_bson filter,
                   struct restfcgi_bson update, bool pipeline, bool multi, bool upsert,
                   struct restfcgi_write_result *res, struct restfcgi_error *err);
    bool (*remove)(void *state, const char *db, const char *coll, struct restfcgi_bson filter,
                   bool multi, struct restfcgi_write_result *res, struct restfcgi_error *err);

    /* Emits {"_id": name, "key": {...}[, "unique": true]} per index, the
     * _id index ("_id_") first. */
    bool (*index_list)(void *state, const char *db, const char *coll, restfcgi_emit_fn emit,
                       void *ctx, struct restfcgi_error *err);
    /* 406 when the name exists; 409 when unique and existing documents clash;
     * 400 for keys the store cannot index. */
    bool (*index_create)(void *state, const char *db, const char *coll, const char *name,
                         struct restfcgi_bson keys, bool unique, struct restfcgi_error *err);
    bool (*index_drop)(void *state, const char *db, const char *coll, const char *name,
                       struct restfcgi_error *err);

    /* pipeline: an array document of stages, variables already bound. */
    bool (*aggregate)(void *state, const char *db, const char *coll, struct restfcgi_bson pipeline,
                      int64_t max_time_ms, restfcgi_emit_fn emit, void *ctx,
                      struct restfcgi_error *err);

    /* ABI 1.2, optional (absent or NULL: every write stands alone). The
     * writes of this thread between batch(state, true) and batch(state,
     * false) may be made durable together at the end; the host answers none
     * of them before batch(state, false) returned. It returns false (503)
     * when none of them was kept. Bulk POST uses it. */
    bool (*batch)(void *state, bool begin, struct restfcgi_error *err);
};

/* An authenticated account as the host and token managers see it. */
#define RESTFCGI_USERID_MAX 255 /* bytes, without the NUL */
#define RESTFCGI_ROLES_MAX 32
#define RESTFCGI_ROLE_MAX 63
struct restfcgi_account {
    char userid[RESTFCGI_USERID_MAX + 1];
    uint32_t nroles;
    char roles[RESTFCGI_ROLES_MAX][RESTFCGI_ROLE_MAX + 1];
};

/* A token as sent to the client, NUL-terminated. */
#define RESTFCGI_TOKEN_MAX 8191
struct restfcgi_token {
    char value[RESTFCGI_TOKEN_MAX + 1];
    int64_t valid_until_ms; /* Unix epoch milliseconds */
};

/*
 * Token manager plugins (kind RESTFCGI_PLUGIN_TOKEN_MANAGER). Secrets never
 * reach a log line or an error message; comparisons of secrets are
 * constant-time. A token that does not verify (unknown, expired, revoked,
 * tampered, another user's) is an AUTH error with code 401, whatever the
 * reason: the message may say which for the server's debug log, never the
 * token itself.
 */
struct restfcgi_token_manager_ops {
    struct restfcgi_plugin_lifecycle life;
    /* A new token for acct, valid for the configured ttl. */
    bool (*issue)(void *state, const struct restfcgi_account *acct, struct restfcgi_token *out,
                  struct restfcgi_error *err);
    /* Checks token (len bytes, not NUL-terminated) and fills *acct. userid
     * NULL: any account (Bearer); else the token must be that user's
     * (Basic userid:token). *valid_until_ms gets the token's expiry. */
    bool (*verify)(void *state, const char *userid, const char *token, size_t len,
                   struct restfcgi_account *acct, int64_t *valid_until_ms,
                   struct restfcgi_error *err);
    /* Sliding expiry after a request authenticated by token: out gets the
     * token to hand back (the same one, or a fresh one) and its expiry. */
    bool (*touch)(void *state, const struct restfcgi_account *acct, const char *token, size_t len,
                  struct restfcgi_token *out, struct restfcgi_error *err);
    /* Invalidates every token of userid, at once on every process of the
     * node (a stateless manager may refuse with code 405). */
    bool (*revoke)(void *state, const char *userid, struct restfcgi_error *err);
};

struct restfcgi_plugin {
    uint16_t abi_major, abi_minor;  /* RESTFCGI_PLUGIN_ABI_MAJOR/MINOR */
    uint32_t struct_size;           /* sizeof the descriptor the plugin built */
    enum restfcgi_plugin_kind kind;
    const char *name, *version;
    const void *ops;                /* struct restfcgi_<kind>_ops */
};

/* The type of the one exported symbol, restfcgi_plugin_NAME. */
typedef const struct restfcgi_plugin *(*restfcgi_plugin_entry)(void);

#ifdef __cplusplus
}
#endif

#endif

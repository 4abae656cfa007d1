/* config.h: the libconfig file of SPEC §3, validated against one schema.
 * Unknown keys and wrong types are errors reported as "FILE:LINE: message". */
#ifndef RESTFCGI_CONFIG_H
#define RESTFCGI_CONFIG_H

#include <libconfig.h>
#include <stdbool.h>
#include <stdint.h>

#include "restfcgi_plugin.h"

#define CONFIG_DEFAULT_PATH "/etc/restfcgi/restfcgi.conf"

/* Every limit is a named default here and a key under limits = { }. */
#define LIMIT_MAX_BODY_DEFAULT 16777216
#define LIMIT_MAX_DEPTH_DEFAULT 64
#define LIMIT_DEFAULT_PAGESIZE_DEFAULT 100
#define LIMIT_MAX_PAGESIZE_DEFAULT 1000
#define LIMIT_QUERY_TIME_MS_DEFAULT 10000
#define LIMIT_MAX_URL_DEFAULT 8192      /* REQUEST_URI bytes; longer gets 414 */
#define LIMIT_MAX_HEADERS_DEFAULT 32768 /* bytes of all HTTP_* params; more gets 431 */
#define LIMIT_MAX_PARAMS_DEFAULT 64     /* query parameters; more gets 400 */
#define LIMIT_IO_TIMEOUT_MS_DEFAULT 60000 /* a FastCGI connection silent this long is dropped */

struct limits {
    int64_t max_body;
    int64_t max_depth;
    int64_t default_pagesize;
    int64_t max_pagesize;
    int64_t query_time_ms;
    int64_t max_url;
    int64_t max_headers;
    int64_t max_params;
    int64_t io_timeout_ms;
};

struct cfg {
    config_t tree;      /* owns every string below and the plugin groups */
    const char *path;   /* the file read, or "<built-in defaults>" */
    const char *listen; /* NULL: none configured */
    int64_t workers;
    int64_t threads;
    const char *base_path; /* "" or "/prefix" without trailing slash */
    const char *plugin_dir;
    enum restfcgi_log_level log_level;
    struct limits limits;

    const char *store_plugin;
    const config_setting_t *store; /* the store plugin's own group */
    bool store_require_at_start;   /* store.require_at_start: exit 3 when unreachable */

    const char *realm;
    const char *root_role;
    /* Users and permissions: a store collection (db, coll) or a JSON file. */
    const char *users_db, *users_coll, *users_file;
    const char *acl_db, *acl_coll, *acl_file;
    const char *admin_userid, *admin_password_env;
    int64_t bcrypt_cost;
    int64_t brute_max_failures, brute_window_s;
    const char *tm_plugin;
    const config_setting_t *token_manager; /* the token manager's own group */
};

/* Loads path, or the built-in defaults when path is NULL. On failure writes
 * "FILE:LINE: message" to err and leaves *cfg freed. */
bool cfg_load(struct cfg *cfg, const char *path, char *err, size_t errlen);
void cfg_free(struct cfg *cfg);

/* Range checks for values that may also come from the command line. */
bool cfg_valid_workers(long n);
bool cfg_valid_threads(long n);

#endif

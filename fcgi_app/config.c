#include <stdio.h>
#include <string.h>

#include "config.h"
#include "log.h"

/* What a key may hold. PLUGIN groups are checked here only for "plugin";
 * the rest of them belongs to the plugin, which rejects what it does not know. */
enum key_type { KEY_STRING, KEY_INT, KEY_BOOL, KEY_GROUP, KEY_PLUGIN_GROUP };

struct key_spec {
    const char *name;
    enum key_type type;
    const struct key_spec *children; /* for groups, NULL-name terminated */
};

static const struct key_spec limits_keys[] = {
    {"max_body", KEY_INT, NULL},     {"max_depth", KEY_INT, NULL},
    {"default_pagesize", KEY_INT, NULL}, {"max_pagesize", KEY_INT, NULL},
    {"query_time_ms", KEY_INT, NULL}, {"max_url", KEY_INT, NULL},
    {"max_headers", KEY_INT, NULL},  {"max_params", KEY_INT, NULL},
    {"io_timeout_ms", KEY_INT, NULL},
    {NULL, 0, NULL},
};

static const struct key_spec collection_ref_keys[] = {
    {"db", KEY_STRING, NULL}, {"collection", KEY_STRING, NULL}, {"file", KEY_STRING, NULL},
    {NULL, 0, NULL},
};

static const struct key_spec admin_keys[] = {
    {"userid", KEY_STRING, NULL}, {"password_env", KEY_STRING, NULL}, {NULL, 0, NULL},
};

static const struct key_spec brute_force_keys[] = {
    {"max_failures", KEY_INT, NULL}, {"window_s", KEY_INT, NULL}, {NULL, 0, NULL},
};

static const struct key_spec auth_keys[] = {
    {"realm", KEY_STRING, NULL},
    {"users", KEY_GROUP, collection_ref_keys},
    {"acl", KEY_GROUP, collection_ref_keys},
    {"root_role", KEY_STRING, NULL},
    {"admin", KEY_GROUP, admin_keys},
    {"bcrypt_cost", KEY_INT, NULL},
    {"brute_force", KEY_GROUP, brute_force_keys},
    {"token_manager", KEY_PLUGIN_GROUP, NULL},
    {NULL, 0, NULL},
};

static const struct key_spec root_keys[] = {
    {"listen", KEY_STRING, NULL},   {"workers", KEY_INT, NULL},
    {"threads", KEY_INT, NULL},     {"base_path", KEY_STRING, NULL},
    {"plugin_dir", KEY_STRING, NULL}, {"log_level", KEY_STRING, NULL},
    {"limits", KEY_GROUP, limits_keys}, {"store", KEY_PLUGIN_GROUP, NULL},
    {"auth", KEY_GROUP, auth_keys}, {NULL, 0, NULL},
};

static const char *const type_names[] = {"a string", "an integer", "a boolean", "a group",
                                         "a group"};

static void where(const struct cfg *cfg, const config_setting_t *s, char *buf, size_t len)
{
    const char *file = s ? config_setting_source_file(s) : NULL;
    snprintf(buf, len, "%s:%u", file ? file : cfg->path, s ? config_setting_source_line(s) : 0);
}

static bool type_matches(const config_setting_t *s, enum key_type type)
{
    int t = config_setting_type(s);
    switch (type) {
    case KEY_STRING:
        return t == CONFIG_TYPE_STRING;
    case KEY_INT:
        return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
    case KEY_BOOL:
        return t == CONFIG_TYPE_BOOL;
    case KEY_GROUP:
    case KEY_PLUGIN_GROUP:
        return t == CONFIG_TYPE_GROUP;
    }
    return false;
}

/* Walks a group against its spec: every key known, every type right. */
static bool check_group(const struct cfg *cfg, const config_setting_t *group,
                        const struct key_spec *spec, const char *group_name, char *err,
                        size_t errlen)
{
    int n = config_setting_length(group);
    for (int i = 0; i < n; i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        const struct key_spec *k = spec;
        while (k->name && strcmp(k->name, name) != 0)
            k++;
        char at[300];
        where(cfg, s, at, sizeof at);
        if (!k->name) {
            snprintf(err, errlen, "%s: unknown key '%s'%s%s", at, name,
                     group_name ? " in group " : "", group_name ? group_name : "");
            return false;
        }
        if (!type_matches(s, k->type)) {
            snprintf(err, errlen, "%s: '%s' must be %s", at, name, type_names[k->type]);
            return false;
        }
        if (k->type == KEY_GROUP && !check_group(cfg, s, k->children, name, err, errlen))
            return false;
    }
    return true;
}

static const char *get_string(const config_setting_t *group, const char *key, const char *dflt)
{
    const char *v = NULL;
    if (group && config_setting_lookup_string(group, key, &v))
        return v;
    return dflt;
}

static int64_t get_int(const config_setting_t *group, const char *key, int64_t dflt)
{
    long long v;
    if (group && config_setting_lookup_int64(group, key, &v))
        return v;
    return dflt;
}

/* A plugin group absent from the file gets the built-in default group. */
static config_setting_t *ensure_plugin_group(config_setting_t *parent, const char *name,
                                             const char *plugin, const char *path_key,
                                             const char *path_value)
{
    config_setting_t *g = config_setting_get_member(parent, name);
    if (g)
        return g;
    g = config_setting_add(parent, name, CONFIG_TYPE_GROUP);
    if (!g)
        return NULL;
    config_setting_set_string(config_setting_add(g, "plugin", CONFIG_TYPE_STRING), plugin);
    if (path_key)
        config_setting_set_string(config_setting_add(g, path_key, CONFIG_TYPE_STRING),
                                  path_value);
    return g;
}

/* A plugin name becomes part of a file name: keep it to [a-z0-9_]. */
static bool plugin_name_ok(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
            return false;
    }
    return true;
}

static bool check_plugin_group(const struct cfg *cfg, const config_setting_t *g,
                               const char *what, const char **plugin, char *err, size_t errlen)
{
    char at[300];
    where(cfg, g, at, sizeof at);
    const config_setting_t *p = config_setting_get_member(g, "plugin");
    if (!p || config_setting_type(p) != CONFIG_TYPE_STRING) {
        snprintf(err, errlen, "%s: %s.plugin must be a string", at, what);
        return false;
    }
    *plugin = config_setting_get_string(p);
    if (!plugin_name_ok(*plugin)) {
        where(cfg, p, at, sizeof at);
        snprintf(err, errlen, "%s: %s.plugin '%s' is not a plugin name ([a-z0-9_])", at, what,
                 *plugin);
        return false;
    }
    return true;
}

bool cfg_valid_workers(long n) { return n >= 1 && n <= 256; }
bool cfg_valid_threads(long n) { return n >= 1 && n <= 256; }

static bool check_ranges(const struct cfg *cfg, char *err, size_t errlen)
{
    const struct limits *l = &cfg->limits;
    const struct {
        const char *name;
        int64_t value, min, max;
    } r[] = {
        {"workers", cfg->workers, 1, 256},
        {"threads", cfg->threads, 1, 256},
        {"limits.max_body", l->max_body, 0, INT64_C(1) << 31},
        {"limits.max_depth", l->max_depth, 1, 1000},
        {"limits.default_pagesize", l->default_pagesize, 1, l->max_pagesize},
        {"limits.max_pagesize", l->max_pagesize, 1, 1000000},
        {"limits.query_time_ms", l->query_time_ms, 0, INT64_C(86400000)},
        {"limits.max_url", l->max_url, 256, 1 << 20},
        {"limits.max_headers", l->max_headers, 1024, 1 << 24},
        {"limits.max_params", l->max_params, 1, 10000},
        {"limits.io_timeout_ms", l->io_timeout_ms, 0, INT64_C(86400000)},
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        if (r[i].value < r[i].min || r[i].value > r[i].max) {
            const config_setting_t *s = config_lookup(&cfg->tree, r[i].name);
            char at[300];
            where(cfg, s, at, sizeof at);
            snprintf(err, errlen, "%s: %s = %lld is out of range [%lld, %lld]", at, r[i].name,
                     (long long)r[i].value, (long long)r[i].min, (long long)r[i].max);
            return false;
        }
    }
    const char *bp = cfg->base_path;
    size_t bl = strlen(bp);
    if (bl && (bp[0] != '/' || bp[bl - 1] == '/' || strstr(bp, "//"))) {
        char at[300];
        where(cfg, config_lookup(&cfg->tree, "base_path"), at, sizeof at);
        snprintf(err, errlen, "%s: base_path must be empty or start with '/' and not end with '/'",
                 at);
        return false;
    }
    return true;
}

/* The auth group's values: ranges, and a source for users and for the ACL. */
static bool check_auth(const struct cfg *cfg, char *err, size_t errlen)
{
    const struct {
        const char *name;
        int64_t value, min, max;
    } r[] = {
        {"auth.bcrypt_cost", cfg->bcrypt_cost, 4, 31},
        {"auth.brute_force.max_failures", cfg->brute_max_failures, 1, 1000000},
        {"auth.brute_force.window_s", cfg->brute_window_s, 1, 86400},
    };
    char at[300];
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
        if (r[i].value < r[i].min || r[i].value > r[i].max) {
            where(cfg, config_lookup(&cfg->tree, r[i].name), at, sizeof at);
            snprintf(err, errlen, "%s: %s = %lld is out of range [%lld, %lld]", at, r[i].name,
                     (long long)r[i].value, (long long)r[i].min, (long long)r[i].max);
            return false;
        }
    }
    const char *groups[] = {"auth.users", "auth.acl"};
    for (size_t i = 0; i < 2; i++) {
        const config_setting_t *g = config_lookup(&cfg->tree, groups[i]);
        if (g && config_setting_get_member(g, "file") &&
            (config_setting_get_member(g, "db") || config_setting_get_member(g, "collection"))) {
            where(cfg, g, at, sizeof at);
            snprintf(err, errlen, "%s: %s takes either file or db and collection, not both", at,
                     groups[i]);
            return false;
        }
    }
    const char *names[] = {cfg->realm, cfg->root_role, cfg->admin_userid};
    for (size_t i = 0; i < 3; i++) {
        /* They reach HTTP headers and account names: printable, short. */
        size_t n = strlen(names[i]);
        bool ok = n > 0 && n <= 63;
        for (size_t j = 0; ok && j < n; j++)
            ok = names[i][j] >= 0x20 && names[i][j] < 0x7f && names[i][j] != '"';
        if (!ok) {
            where(cfg, config_lookup(&cfg->tree, "auth"), at, sizeof at);
            snprintf(err, errlen, "%s: auth realm, root_role and admin.userid must be 1 to 63 "
                     "printable ASCII characters without '\"'", at);
            return false;
        }
    }
    return true;
}

bool cfg_load(struct cfg *cfg, const char *path, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    config_init(&cfg->tree);
    cfg->path = path ? path : "<built-in defaults>";
    if (path) {
        if (!config_read_file(&cfg->tree, path)) {
            if (config_error_type(&cfg->tree) == CONFIG_ERR_FILE_IO)
                snprintf(err, errlen, "%s:0: cannot read the file", path);
            else
                snprintf(err, errlen, "%s:%d: %s",
                         config_error_file(&cfg->tree) ? config_error_file(&cfg->tree) : path,
                         config_error_line(&cfg->tree), config_error_text(&cfg->tree));
            goto fail;
        }
    }
    config_setting_t *root = config_root_setting(&cfg->tree);
    if (!check_group(cfg, root, root_keys, NULL, err, errlen))
        goto fail;

    cfg->listen = get_string(root, "listen", NULL);
    cfg->workers = get_int(root, "workers", 1);
    cfg->threads = get_int(root, "threads", 4);
    cfg->base_path = get_string(root, "base_path", "");
    cfg->plugin_dir = get_string(root, "plugin_dir", "");
    const char *level = get_string(root, "log_level", "info");
    if (!log_level_parse(level, &cfg->log_level)) {
        char at[300];
        where(cfg, config_lookup(&cfg->tree, "log_level"), at, sizeof at);
        snprintf(err, errlen, "%s: log_level must be error, warn, info or debug", at);
        goto fail;
    }

    const config_setting_t *limits = config_setting_get_member(root, "limits");
    cfg->limits = (struct limits){
        .max_body = get_int(limits, "max_body", LIMIT_MAX_BODY_DEFAULT),
        .max_depth = get_int(limits, "max_depth", LIMIT_MAX_DEPTH_DEFAULT),
        .default_pagesize = get_int(limits, "default_pagesize", LIMIT_DEFAULT_PAGESIZE_DEFAULT),
        .max_pagesize = get_int(limits, "max_pagesize", LIMIT_MAX_PAGESIZE_DEFAULT),
        .query_time_ms = get_int(limits, "query_time_ms", LIMIT_QUERY_TIME_MS_DEFAULT),
        .max_url = get_int(limits, "max_url", LIMIT_MAX_URL_DEFAULT),
        .max_headers = get_int(limits, "max_headers", LIMIT_MAX_HEADERS_DEFAULT),
        .max_params = get_int(limits, "max_params", LIMIT_MAX_PARAMS_DEFAULT),
        .io_timeout_ms = get_int(limits, "io_timeout_ms", LIMIT_IO_TIMEOUT_MS_DEFAULT),
    };
    if (!check_ranges(cfg, err, errlen))
        goto fail;

    config_setting_t *store =
        ensure_plugin_group(root, "store", "sqlite", "path", "./restfcgi-data");
    config_setting_t *auth = config_setting_get_member(root, "auth");
    if (!auth)
        auth = config_setting_add(root, "auth", CONFIG_TYPE_GROUP);
    config_setting_t *tm = auth ? ensure_plugin_group(auth, "token_manager", "memory", NULL, NULL)
                                : NULL;
    if (!store || !tm) {
        snprintf(err, errlen, "%s:0: out of memory", cfg->path);
        goto fail;
    }
    if (!check_plugin_group(cfg, store, "store", &cfg->store_plugin, err, errlen) ||
        !check_plugin_group(cfg, tm, "auth.token_manager", &cfg->tm_plugin, err, errlen))
        goto fail;
    cfg->store = store;
    cfg->token_manager = tm;
    /* The one host key inside the store group; store plugins accept it. */
    const config_setting_t *req = config_setting_get_member(store, "require_at_start");
    if (req && config_setting_type(req) != CONFIG_TYPE_BOOL) {
        char at[300];
        where(cfg, req, at, sizeof at);
        snprintf(err, errlen, "%s: 'require_at_start' must be a boolean", at);
        goto fail;
    }
    cfg->store_require_at_start = req && config_setting_get_bool(req);
    cfg->realm = get_string(auth, "realm", "restfcgi");
    cfg->root_role = get_string(auth, "root_role", "admin");
    const config_setting_t *users = config_setting_get_member(auth, "users");
    const config_setting_t *acl = config_setting_get_member(auth, "acl");
    const config_setting_t *admin = config_setting_get_member(auth, "admin");
    const config_setting_t *brute = config_setting_get_member(auth, "brute_force");
    cfg->users_file = get_string(users, "file", NULL);
    cfg->users_db = get_string(users, "db", "restfcgi");
    cfg->users_coll = get_string(users, "collection", "users");
    cfg->acl_file = get_string(acl, "file", NULL);
    cfg->acl_db = get_string(acl, "db", "restfcgi");
    cfg->acl_coll = get_string(acl, "collection", "acl");
    cfg->admin_userid = get_string(admin, "userid", "admin");
    cfg->admin_password_env = get_string(admin, "password_env", "RESTFCGI_ADMIN_PASSWORD");
    cfg->bcrypt_cost = get_int(auth, "bcrypt_cost", 12);
    cfg->brute_max_failures = get_int(brute, "max_failures", 5);
    cfg->brute_window_s = get_int(brute, "window_s", 10);
    if (!check_auth(cfg, err, errlen))
        goto fail;
    return true;

fail:
    cfg_free(cfg);
    return false;
}

void cfg_free(struct cfg *cfg)
{
    config_destroy(&cfg->tree);
}

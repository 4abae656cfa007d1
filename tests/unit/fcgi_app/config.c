/* Unit tests of fcgi_app/config.c: the libconfig file of SPEC §3, loaded
 * from files written to a temporary directory. */
#include "../../../fcgi_app/config.c"

#include <stdlib.h>
#include <unistd.h>

#include "check.h"

/* A temporary directory holding one config file. */
struct tmpconf {
    char dir[64];
    char path[128];
};

static bool tmp_write(struct tmpconf *t, const char *text)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/restfcgi_cfg_XXXXXX");
    if (!mkdtemp(t->dir)) {
        CHECK(!"mkdtemp failed");
        return false;
    }
    snprintf(t->path, sizeof t->path, "%s/restfcgi.conf", t->dir);
    FILE *f = fopen(t->path, "w");
    CHECK(f != NULL);
    if (!f)
        return false;
    fputs(text, f);
    fclose(f);
    return true;
}

static void tmp_remove(struct tmpconf *t)
{
    unlink(t->path);
    CHECK(rmdir(t->dir) == 0);
}

/* Loads text; on success the caller owns cfg and frees it with cfg_free. */
static bool load_text(struct cfg *cfg, const char *text, char *err, size_t errlen,
                      struct tmpconf *t)
{
    err[0] = '\0';
    if (!tmp_write(t, text))
        return false;
    bool ok = cfg_load(cfg, t->path, err, errlen);
    tmp_remove(t);
    if (ok)
        CHECK_STR(err, ""); /* untouched on success */
    else
        CHECK(err[0] != '\0');
    return ok;
}

/* err starts with "PATH:LINE: " followed by want (a prefix of the message). */
static void check_err_at(const char *err, const struct tmpconf *t, int line, const char *want)
{
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s:%d: %s", t->path, line, want);
    if (strncmp(err, prefix, strlen(prefix)) != 0) {
        fprintf(stderr, "  error was:     %s\n  expected start: %s\n", err, prefix);
        check_failures++;
    }
}

/* Loads text and expects a failure at line whose message starts with want. */
static void expect_error(const char *text, int line, const char *want, const char *also)
{
    struct cfg cfg;
    struct tmpconf t;
    char err[512];
    bool ok = load_text(&cfg, text, err, sizeof err, &t);
    CHECK(!ok);
    if (ok) {
        fprintf(stderr, "  loaded: %s", text);
        cfg_free(&cfg);
        return;
    }
    check_err_at(err, &t, line, want);
    if (also && !strstr(err, also)) {
        fprintf(stderr, "  error was: %s\n  missing: %s\n", err, also);
        check_failures++;
    }
}

/* Loads text and expects success; cfg is freed by the caller. */
static bool expect_ok(struct cfg *cfg, const char *text)
{
    struct tmpconf t;
    char err[512];
    bool ok = load_text(cfg, text, err, sizeof err, &t);
    if (!ok)
        fprintf(stderr, "  unexpected error: %s\n", err);
    CHECK(ok);
    return ok;
}

static void check_default_limits(const struct limits *l)
{
    CHECK_INT(l->max_body, LIMIT_MAX_BODY_DEFAULT);
    CHECK_INT(l->max_depth, LIMIT_MAX_DEPTH_DEFAULT);
    CHECK_INT(l->default_pagesize, LIMIT_DEFAULT_PAGESIZE_DEFAULT);
    CHECK_INT(l->max_pagesize, LIMIT_MAX_PAGESIZE_DEFAULT);
    CHECK_INT(l->query_time_ms, LIMIT_QUERY_TIME_MS_DEFAULT);
    CHECK_INT(l->max_url, LIMIT_MAX_URL_DEFAULT);
    CHECK_INT(l->max_headers, LIMIT_MAX_HEADERS_DEFAULT);
    CHECK_INT(l->max_params, LIMIT_MAX_PARAMS_DEFAULT);
    CHECK_INT(l->io_timeout_ms, LIMIT_IO_TIMEOUT_MS_DEFAULT);
}

TEST_CASE(defaults_without_file)
{
    struct cfg cfg;
    char err[256] = "";
    CHECK(cfg_load(&cfg, NULL, err, sizeof err));
    CHECK_INT(cfg.workers, 1);
    CHECK_INT(cfg.threads, 4);
    CHECK_STR(cfg.store_plugin, "sqlite");
    CHECK_STR(cfg.tm_plugin, "memory");
    CHECK_STR(cfg.base_path, "");
    CHECK(cfg.listen == NULL);
    CHECK_STR(cfg.realm, "restfcgi");
    CHECK_STR(cfg.root_role, "admin");
    CHECK_INT(cfg.log_level, RESTFCGI_LOG_INFO);
    check_default_limits(&cfg.limits);
    CHECK_INT(cfg.limits.max_body, 16777216);
    CHECK_INT(cfg.limits.max_url, 8192);
    CHECK_INT(cfg.limits.max_headers, 32768);
    CHECK_INT(cfg.limits.max_params, 64);
    CHECK_INT(cfg.limits.io_timeout_ms, 60000);
    /* The plugin groups exist with their plugin names. */
    CHECK(cfg.store != NULL);
    CHECK(cfg.token_manager != NULL);
    const char *s = NULL;
    CHECK(cfg.store && config_setting_lookup_string(cfg.store, "plugin", &s));
    CHECK_STR(s, "sqlite");
    CHECK(cfg.token_manager && config_setting_lookup_string(cfg.token_manager, "plugin", &s));
    CHECK_STR(s, "memory");
    cfg_free(&cfg);
}

/* SPEC §3's example, comments removed. */
static const char spec_example[] =
    "listen  = \"unix:/run/restfcgi/restfcgi.sock\";\n"
    "workers = 2;\n"
    "threads = 4;\n"
    "base_path = \"\";\n"
    "plugin_dir = \"\";\n"
    "log_level = \"info\";\n"
    "\n"
    "limits = {\n"
    "  max_body = 16777216;\n"
    "  max_depth = 64;\n"
    "  default_pagesize = 100;\n"
    "  max_pagesize = 1000;\n"
    "  query_time_ms = 10000;\n"
    "};\n"
    "\n"
    "store = {\n"
    "  plugin = \"sqlite\";\n"
    "  path = \"/var/lib/restfcgi/data\";\n"
    "};\n"
    "\n"
    "auth = {\n"
    "  realm = \"restfcgi\";\n"
    "  users = { db = \"restfcgi\"; collection = \"users\"; };\n"
    "  acl   = { db = \"restfcgi\"; collection = \"acl\"; };\n"
    "  root_role = \"admin\";\n"
    "  admin = { userid = \"admin\"; password_env = \"RESTFCGI_ADMIN_PASSWORD\"; };\n"
    "  bcrypt_cost = 12;\n"
    "  brute_force = { max_failures = 5; window_s = 10; };\n"
    "  token_manager = {\n"
    "    plugin = \"memory\";\n"
    "    ttl = 15;\n"
    "  };\n"
    "};\n";

static void check_spec_example(const struct cfg *cfg)
{
    CHECK_STR(cfg->listen, "unix:/run/restfcgi/restfcgi.sock");
    CHECK_INT(cfg->workers, 2);
    CHECK_INT(cfg->threads, 4);
    CHECK_STR(cfg->base_path, "");
    CHECK_STR(cfg->plugin_dir, "");
    CHECK_INT(cfg->log_level, RESTFCGI_LOG_INFO);
    check_default_limits(&cfg->limits);
    CHECK_STR(cfg->store_plugin, "sqlite");
    CHECK_STR(cfg->tm_plugin, "memory");
    CHECK_STR(cfg->realm, "restfcgi");
    CHECK_STR(cfg->root_role, "admin");
    const char *path = NULL;
    CHECK(cfg->store && config_setting_lookup_string(cfg->store, "path", &path));
    CHECK_STR(path, "/var/lib/restfcgi/data");
    int ttl = 0;
    CHECK(cfg->token_manager && config_setting_lookup_int(cfg->token_manager, "ttl", &ttl));
    CHECK_INT(ttl, 15);
}

TEST_CASE(spec_example_loads)
{
    struct cfg cfg;
    if (expect_ok(&cfg, spec_example)) {
        check_spec_example(&cfg);
        cfg_free(&cfg);
    }
}

TEST_CASE(spec_example_with_comments_loads)
{
    static const char text[] =
        "listen  = \"unix:/run/restfcgi/restfcgi.sock\";  # when no socket is inherited\n"
        "workers = 2;\n"
        "threads = 4;\n"
        "base_path = \"\";           # URL prefix the front server mounts the app under\n"
        "plugin_dir = \"\";          # default: beside the binary, then the install dir\n"
        "log_level = \"info\";       # error|warn|info|debug\n"
        "\n"
        "limits = {\n"
        "  max_body = 16777216;    # bytes; larger bodies get 413\n"
        "  max_depth = 64;         # JSON nesting; deeper gets 400\n"
        "  default_pagesize = 100;\n"
        "  max_pagesize = 1000;    # pagesize above it gets 400\n"
        "  query_time_ms = 10000;  # 0 = none; past it 408\n"
        "};\n"
        "\n"
        "store = {\n"
        "  plugin = \"sqlite\";                  # or \"mongo\"\n"
        "  path = \"/var/lib/restfcgi/data\";     # sqlite: directory of the database files\n"
        "  # mongo: uri = \"mongodb://h1,h2,h3/?replicaSet=rs0&w=majority\";\n"
        "};\n"
        "\n"
        "auth = {\n"
        "  realm = \"restfcgi\";\n"
        "  users = { db = \"restfcgi\"; collection = \"users\"; };  # or: file = \"users.conf\";\n"
        "  acl   = { db = \"restfcgi\"; collection = \"acl\"; };    # or: file = \"acl.conf\";\n"
        "  root_role = \"admin\";\n"
        "  admin = { userid = \"admin\"; password_env = \"RESTFCGI_ADMIN_PASSWORD\"; };\n"
        "  bcrypt_cost = 12;\n"
        "  brute_force = { max_failures = 5; window_s = 10; };   # then 429\n"
        "  token_manager = {\n"
        "    plugin = \"memory\";      # or \"jwt\"; the rest of this group is the plugin's\n"
        "    ttl = 15;               # minutes\n"
        "  };\n"
        "};\n";
    struct cfg cfg;
    if (expect_ok(&cfg, text)) {
        check_spec_example(&cfg);
        cfg_free(&cfg);
    }
}

TEST_CASE(all_limits_keys_load)
{
    struct cfg cfg;
    if (expect_ok(&cfg, "limits = {\n"
                        "  max_body = 1000; max_depth = 10; default_pagesize = 5;\n"
                        "  max_pagesize = 50; query_time_ms = 0; max_url = 300;\n"
                        "  max_headers = 2048; max_params = 7;\n"
                        "};\n"
                        "base_path = \"/api/v1\";\n"
                        "log_level = \"debug\";\n"
                        "workers = 256; threads = 1;\n")) {
        CHECK_INT(cfg.limits.max_body, 1000);
        CHECK_INT(cfg.limits.max_depth, 10);
        CHECK_INT(cfg.limits.default_pagesize, 5);
        CHECK_INT(cfg.limits.max_pagesize, 50);
        CHECK_INT(cfg.limits.query_time_ms, 0);
        CHECK_INT(cfg.limits.max_url, 300);
        CHECK_INT(cfg.limits.max_headers, 2048);
        CHECK_INT(cfg.limits.max_params, 7);
        CHECK_STR(cfg.base_path, "/api/v1");
        CHECK_INT(cfg.log_level, RESTFCGI_LOG_DEBUG);
        CHECK_INT(cfg.workers, 256);
        CHECK_INT(cfg.threads, 1);
        cfg_free(&cfg);
    }
}

TEST_CASE(empty_file_gives_defaults)
{
    struct cfg cfg;
    if (expect_ok(&cfg, "# nothing but a comment\n")) {
        CHECK_INT(cfg.workers, 1);
        CHECK_INT(cfg.threads, 4);
        CHECK_STR(cfg.store_plugin, "sqlite");
        CHECK_STR(cfg.tm_plugin, "memory");
        check_default_limits(&cfg.limits);
        cfg_free(&cfg);
    }
}

TEST_CASE(unknown_top_level_key)
{
    expect_error("workers = 2;\n"
                 "threads = 4;\n"
                 "bogus = 1;\n"
                 "log_level = \"info\";\n",
                 3, "unknown key", "'bogus'");
}

TEST_CASE(unknown_key_in_limits)
{
    expect_error("workers = 2;\n"
                 "limits = {\n"
                 "  max_body = 1000;\n"
                 "\n"
                 "  max_bodyy = 5;\n"
                 "};\n",
                 5, "unknown key 'max_bodyy'", "limits");
}

TEST_CASE(unknown_key_in_nested_auth_group)
{
    expect_error("auth = {\n"
                 "  realm = \"r\";\n"
                 "  brute_force = {\n"
                 "    max_failures = 5;\n"
                 "    window = 10;\n"
                 "  };\n"
                 "};\n",
                 5, "unknown key 'window'", NULL);
}

TEST_CASE(wrong_type)
{
    expect_error("threads = 4;\n"
                 "\n"
                 "workers = \"2\";\n",
                 3, "'workers' must be an integer", NULL);
    expect_error("base_path = 5;\n", 1, "'base_path' must be a string", NULL);
    expect_error("threads = 1;\nlimits = 5;\n", 2, "'limits' must be a group", NULL);
    expect_error("limits = {\n  max_body = 1.5;\n};\n", 2, "'max_body' must be an integer",
                 NULL);
    expect_error("store = \"sqlite\";\n", 1, "'store' must be a group", NULL);
}

TEST_CASE(syntax_error)
{
    expect_error("workers = 2;\n"
                 "threads = 4;\n"
                 "threads = ;\n",
                 3, "", NULL);
    expect_error("workers = 2;\n"
                 "limits = {\n"
                 "  max_body = 5;\n"
                 "  max_depth = = 6;\n"
                 "};\n",
                 4, "", NULL);
}

TEST_CASE(missing_file)
{
    char dir[] = "/tmp/restfcgi_cfg_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[128];
    snprintf(path, sizeof path, "%s/absent.conf", dir);
    struct cfg cfg;
    char err[256] = "";
    CHECK(!cfg_load(&cfg, path, err, sizeof err));
    char want[200];
    snprintf(want, sizeof want, "%s:0: cannot read the file", path);
    CHECK_STR(err, want);
    CHECK(rmdir(dir) == 0);
}

TEST_CASE(base_path_invalid)
{
    expect_error("workers = 1;\nbase_path = \"api\";\n", 2, "base_path", NULL);
    expect_error("base_path = \"/api/\";\n", 1, "base_path", NULL);
    expect_error("base_path = \"/\";\n", 1, "base_path", NULL);
    expect_error("base_path = \"//api\";\n", 1, "base_path", NULL);
    expect_error("base_path = \"/a//b\";\n", 1, "base_path", NULL);
}

TEST_CASE(base_path_valid)
{
    const char *ok[] = {"base_path = \"\";\n", "base_path = \"/api\";\n",
                        "base_path = \"/a/b\";\n"};
    const char *want[] = {"", "/api", "/a/b"};
    for (int i = 0; i < 3; i++) {
        struct cfg cfg;
        if (expect_ok(&cfg, ok[i])) {
            CHECK_STR(cfg.base_path, want[i]);
            cfg_free(&cfg);
        }
    }
}

TEST_CASE(default_pagesize_above_max_pagesize)
{
    expect_error("limits = {\n"
                 "  max_pagesize = 50;\n"
                 "  default_pagesize = 51;\n"
                 "};\n",
                 3, "limits.default_pagesize = 51 is out of range", NULL);
    /* Against the default max_pagesize (1000) too. */
    expect_error("limits = {\n  default_pagesize = 1001;\n};\n", 2, "limits.default_pagesize",
                 NULL);
    /* Equal is fine. */
    struct cfg cfg;
    if (expect_ok(&cfg, "limits = { max_pagesize = 50; default_pagesize = 50; };\n")) {
        CHECK_INT(cfg.limits.default_pagesize, 50);
        cfg_free(&cfg);
    }
}

TEST_CASE(workers_out_of_range)
{
    expect_error("threads = 2;\nworkers = 0;\n", 2, "workers = 0 is out of range", NULL);
    expect_error("workers = 257;\n", 1, "workers = 257 is out of range", NULL);
    expect_error("workers = -1;\n", 1, "workers", NULL);
    expect_error("threads = 0;\n", 1, "threads = 0 is out of range", NULL);
    expect_error("threads = 257;\n", 1, "threads", NULL);
    CHECK(cfg_valid_workers(1) && cfg_valid_workers(256));
    CHECK(!cfg_valid_workers(0) && !cfg_valid_workers(257));
    CHECK(cfg_valid_threads(1) && cfg_valid_threads(256));
    CHECK(!cfg_valid_threads(0) && !cfg_valid_threads(257));
}

TEST_CASE(limits_out_of_range)
{
    expect_error("limits = {\n  max_url = 255;\n};\n", 2, "limits.max_url", NULL);
    expect_error("limits = {\n  max_headers = 1023;\n};\n", 2, "limits.max_headers", NULL);
    expect_error("limits = {\n  max_params = 0;\n};\n", 2, "limits.max_params", NULL);
    expect_error("limits = {\n  io_timeout_ms = -1;\n};\n", 2, "limits.io_timeout_ms", NULL);
    expect_error("limits = {\n  max_body = -1;\n};\n", 2, "limits.max_body", NULL);
    expect_error("limits = {\n  max_depth = 0;\n};\n", 2, "limits.max_depth", NULL);
}

TEST_CASE(bad_log_level)
{
    expect_error("workers = 1;\nlog_level = \"loud\";\n", 2, "log_level", NULL);
}

TEST_CASE(plugin_name_refused)
{
    expect_error("store = {\n"
                 "  plugin = \"../evil\";\n"
                 "};\n",
                 2, "store.plugin '../evil' is not a plugin name", NULL);
    expect_error("store = { plugin = \"Sqlite\"; };\n", 1, "store.plugin", NULL);
    expect_error("store = { plugin = \"\"; };\n", 1, "store.plugin", NULL);
    expect_error("store = { plugin = \"a/b\"; };\n", 1, "store.plugin", NULL);
    expect_error("auth = {\n"
                 "  token_manager = {\n"
                 "    plugin = \"../../tmp/x\";\n"
                 "  };\n"
                 "};\n",
                 3, "auth.token_manager.plugin", NULL);
}

TEST_CASE(plugin_missing_or_not_string)
{
    expect_error("workers = 1;\nstore = {\n  path = \"/x\";\n};\n", 2, "store.plugin must be a string",
                 NULL);
    expect_error("store = {\n  plugin = 5;\n};\n", 1, "store.plugin must be a string", NULL);
}

TEST_CASE(store_group_keys_left_to_the_plugin)
{
    struct cfg cfg;
    if (expect_ok(&cfg, "store = {\n"
                        "  plugin = \"sqlite\";\n"
                        "  path = \"/x\";\n"
                        "  whatever = 5;\n"
                        "  nested = { a = 1; };\n"
                        "};\n"
                        "auth = { token_manager = { plugin = \"jwt\"; algorithm = \"HS256\"; }; };\n")) {
        CHECK_STR(cfg.store_plugin, "sqlite");
        CHECK(cfg.store != NULL);
        if (cfg.store) {
            CHECK_STR(config_setting_name(cfg.store), "store");
            CHECK(config_setting_parent(cfg.store) == config_root_setting(&cfg.tree));
            CHECK(cfg.store == config_lookup(&cfg.tree, "store"));
            int v = 0;
            CHECK(config_setting_lookup_int(cfg.store, "whatever", &v));
            CHECK_INT(v, 5);
            const char *p = NULL;
            CHECK(config_setting_lookup_string(cfg.store, "path", &p));
            CHECK_STR(p, "/x");
            CHECK_INT(config_setting_source_line(cfg.store), 1);
        }
        CHECK_STR(cfg.tm_plugin, "jwt");
        CHECK(cfg.token_manager == config_lookup(&cfg.tree, "auth.token_manager"));
        cfg_free(&cfg);
    }
}

TEST_CASE(store_defaults_when_absent)
{
    struct cfg cfg;
    if (expect_ok(&cfg, "workers = 3;\n")) {
        CHECK_INT(cfg.workers, 3);
        CHECK_STR(cfg.store_plugin, "sqlite");
        const char *p = NULL;
        CHECK(cfg.store && config_setting_lookup_string(cfg.store, "path", &p));
        CHECK_STR(p, "./restfcgi-data");
        CHECK_STR(cfg.tm_plugin, "memory");
        cfg_free(&cfg);
    }
}

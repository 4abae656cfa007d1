/* Unit tests of fcgi_app/config.c: defaults, the schema, FILE:LINE errors. */
#include "../../../fcgi_app/config.c"

#include <unistd.h>

#include "check.h"

static char dir[64];
static char file[128];

/* Writes text to a fresh file and loads it; err receives the message. */
static bool load_text(struct cfg *cfg, const char *text, char *err, size_t errlen)
{
    if (!dir[0]) {
        strcpy(dir, "/tmp/restfcgi-cfg.XXXXXX");
        if (!mkdtemp(dir))
            abort();
    }
    snprintf(file, sizeof file, "%s/c.conf", dir);
    FILE *f = fopen(file, "w");
    fputs(text, f);
    fclose(f);
    err[0] = '\0';
    bool ok = cfg_load(cfg, file, err, errlen);
    unlink(file);
    rmdir(dir);
    dir[0] = '\0';
    return ok;
}

/* err must start with "FILE:LINE: " and contain text. */
static void check_error(const char *conf, int line, const char *text)
{
    struct cfg cfg;
    char err[512], prefix[200];
    CHECK(!load_text(&cfg, conf, err, sizeof err));
    snprintf(prefix, sizeof prefix, "%s:%d: ", file, line);
    if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, text)) {
        fprintf(stderr, "expected '%s...%s', got '%s'\n", prefix, text, err);
        check_failures++;
    }
}

TEST_CASE(defaults)
{
    struct cfg cfg;
    char err[512];
    CHECK(cfg_load(&cfg, NULL, err, sizeof err));
    CHECK_INT(cfg.workers, 1);
    CHECK_INT(cfg.threads, 4);
    CHECK_STR(cfg.base_path, "");
    CHECK(cfg.listen == NULL);
    CHECK_STR(cfg.store_plugin, "sqlite");
    CHECK_STR(cfg.tm_plugin, "memory");
    CHECK_INT(cfg.limits.max_body, LIMIT_MAX_BODY_DEFAULT);
    CHECK_INT(cfg.limits.max_pagesize, 1000);
    CHECK_INT(cfg.limits.default_pagesize, 100);
    const char *path = NULL;
    CHECK(config_setting_lookup_string(cfg.store, "path", &path) && strcmp(path, "./restfcgi-data") == 0);
    cfg_free(&cfg);
}

TEST_CASE(spec_example_loads)
{
    struct cfg cfg;
    char err[512];
    const char *conf =
        "listen = \"unix:/run/restfcgi/restfcgi.sock\";\nworkers = 2;\nthreads = 4;\n"
        "base_path = \"\";\nplugin_dir = \"\";\nlog_level = \"info\";\n"
        "limits = { max_body = 16777216; max_depth = 64; default_pagesize = 100;\n"
        "  max_pagesize = 1000; query_time_ms = 10000; };\n"
        "store = { plugin = \"sqlite\"; path = \"/var/lib/restfcgi/data\"; };\n"
        "auth = { realm = \"restfcgi\"; users = { db = \"restfcgi\"; collection = \"users\"; };\n"
        "  acl = { db = \"restfcgi\"; collection = \"acl\"; }; root_role = \"admin\";\n"
        "  admin = { userid = \"admin\"; password_env = \"RESTFCGI_ADMIN_PASSWORD\"; };\n"
        "  bcrypt_cost = 12; brute_force = { max_failures = 5; window_s = 10; };\n"
        "  token_manager = { plugin = \"jwt\"; ttl = 15; algorithm = \"HS256\"; }; };\n";
    CHECK(load_text(&cfg, conf, err, sizeof err));
    if (err[0])
        fprintf(stderr, "%s\n", err);
    CHECK_INT(cfg.workers, 2);
    CHECK_STR(cfg.listen, "unix:/run/restfcgi/restfcgi.sock");
    CHECK_STR(cfg.tm_plugin, "jwt");
    /* The plugin's own keys are left for the plugin to judge. */
    CHECK(config_setting_get_member(cfg.token_manager, "algorithm") != NULL);
    cfg_free(&cfg);
}

TEST_CASE(schema_errors)
{
    check_error("workers = 1;\n\nlistne = \"x\";\n", 3, "unknown key 'listne'");
    check_error("limits = {\n  max_body = 1;\n  max_bodyy = 1;\n};\n", 3,
                "unknown key 'max_bodyy' in group limits");
    check_error("auth = {\n  admin = { userid = \"a\"; pasword_env = \"X\"; };\n};\n", 2,
                "unknown key 'pasword_env' in group admin");
    check_error("\nworkers = \"2\";\n", 2, "'workers' must be an integer");
    check_error("limits = 5;\n", 1, "'limits' must be a group");
    check_error("workers = 1;\nthreads = ;\n", 2, "syntax error");
    check_error("log_level = \"loud\";\n", 1, "log_level must be");
}

TEST_CASE(range_errors)
{
    check_error("workers = 0;\n", 1, "workers = 0 is out of range");
    check_error("workers = 257;\n", 1, "workers = 257 is out of range");
    check_error("limits = { default_pagesize = 500; max_pagesize = 100; };\n", 1,
                "limits.default_pagesize = 500 is out of range");
    check_error("base_path = \"api\";\n", 1, "base_path must be");
    check_error("base_path = \"/api/\";\n", 1, "base_path must be");
    check_error("store = { plugin = \"../evil\"; };\n", 1, "is not a plugin name");
    check_error("store = { path = \"x\"; };\n", 1, "store.plugin must be a string");
}

TEST_CASE(missing_file)
{
    struct cfg cfg;
    char err[512];
    CHECK(!cfg_load(&cfg, "/nonexistent/restfcgi.conf", err, sizeof err));
    CHECK_STR(err, "/nonexistent/restfcgi.conf:0: cannot read the file");
}

TEST_CASE(plugin_group_kept_for_plugin)
{
    struct cfg cfg;
    char err[512];
    CHECK(load_text(&cfg, "store = { plugin = \"sqlite\"; path = \"/x\"; anything = 1; };\n", err,
                    sizeof err));
    CHECK_STR(cfg.store_plugin, "sqlite");
    CHECK(config_setting_get_member(cfg.store, "anything") != NULL);
    cfg_free(&cfg);
}

/* libFuzzer target: the request pipeline as a whole (CGI params -> request
 * view -> authentication -> router -> ACL -> handler -> sqlite store ->
 * response), with the real sqlite store and memory token manager linked in.
 * Input: NUL-separated "NAME=VALUE" CGI params, then "\n\n" and the body.
 *
 * The store lives in a fresh directory (RESTFCGI_FUZZ_TMP, else /dev/shm,
 * else /tmp: no fsync cost) holding the database "shop" with documents,
 * indexes and an aggregation, the admin (admin:fuzz-admin-pw) and the user
 * bob:bob-pw whose permission has a readFilter, writeFilter, mergeRequest
 * and projectResponse. "@token@" in a param stands for a valid token of the
 * admin (taken from a login, and again whenever it stopped verifying). After an input that wrote (the WAL is no longer
 * empty), the store file is put back as it was after that setup, so an
 * input means the same alone and in a run. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "auth.h"
#include "host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const struct restfcgi_plugin *restfcgi_plugin_store_sqlite(void);
const struct restfcgi_plugin *restfcgi_plugin_tm_memory(void);

#define ADMIN_AUTH "HTTP_AUTHORIZATION=Basic YWRtaW46ZnV6ei1hZG1pbi1wdw=="

static struct cfg cfg;
static struct app app;
static char dir[256], work[300], tmpl[300];

struct body {
    const char *p;
    size_t len;
};

static long body_read(void *ctx, char *buf, size_t len)
{
    struct body *b = ctx;
    size_t n = len < b->len ? len : b->len;
    memcpy(buf, b->p, n);
    b->p += n;
    b->len -= n;
    return (long)n;
}

/* The admin's memory token, for "@token@" in an input's params. */
static char admin_token[128];
static bool want_token;

/* Keeps the status of the response (its "Status: NNN" header line), and
 * while want_token is set the Auth-Token it hands out. */
static bool keep_status(void *ctx, const void *data, size_t len)
{
    int *status = ctx;
    const char *p = data, *end = p + len;
    while (p && end - p > 11) {
        if (!*status && memcmp(p, "Status: ", 8) == 0)
            *status = atoi(p + 8);
        if (want_token && memcmp(p, "Auth-Token: ", 12) == 0) {
            size_t n = strcspn(p + 12, "\r\n");
            snprintf(admin_token, sizeof admin_token, "%.*s", (int)n, p + 12);
        }
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : NULL;
    }
    return true;
}

static int handle(char **envp, const char *body, size_t len)
{
    struct body b = {body, len};
    int status = 0;
    struct arena arena;
    arena_init(&arena, 4096);
    struct request_io io = {.envp = envp, .read = body_read, .ctx = &b, .body_ends_at_eof = true};
    struct response_sink sink = {.write = keep_status, .ctx = &status};
    bool unread;
    app_handle(&app, &arena, &io, &sink, &unread);
    arena_destroy(&arena);
    return status;
}

/* One setup request as the admin; the fuzzer is useless if it fails. */
static void setup(const char *method, const char *uri, const char *body, int want)
{
    char m[64], u[512];
    snprintf(m, sizeof m, "REQUEST_METHOD=%s", method);
    snprintf(u, sizeof u, "REQUEST_URI=%s", uri);
    char *envp[] = {m, u, ADMIN_AUTH, "CONTENT_TYPE=application/json", "REMOTE_ADDR=10.0.0.1", NULL};
    int status = handle(envp, body, strlen(body));
    if (status != want) {
        fprintf(stderr, "request_fuzz setup: %s %s gave %d, not %d\n", method, uri, status, want);
        abort();
    }
}

static void plugin_start(struct plugin *p, const struct restfcgi_plugin *desc,
                         const config_setting_t *conf)
{
    struct restfcgi_error err = {0};
    p->desc = desc;
    p->life = desc->ops;
    if (!p->life->init(host_services(), (const restfcgi_conf *)conf, &p->state, &err)) {
        fprintf(stderr, "request_fuzz: %s init: %s\n", desc->name, err.message);
        abort();
    }
}

static void store_start(void)
{
    struct restfcgi_error err = {0};
    plugin_start(&app.store, restfcgi_plugin_store_sqlite(), cfg.store);
    if (!plugin_worker_init(&app.store, &err)) {
        fprintf(stderr, "request_fuzz: store: %s\n", err.message);
        abort();
    }
}

static void store_stop(void)
{
    app.store.life->cleanup(app.store.state);
    app.store.state = NULL;
}

/* Every file of path removed (the store's directory holds no subdirectory). */
static void empty_dir(const char *path)
{
    char p[600];
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.' && snprintf(p, sizeof p, "%s/%s", path, e->d_name) > 0)
            unlink(p);
    if (d)
        closedir(d);
}

/* Every regular file of from copied into to (to emptied first). */
static void copy_dir(const char *from, const char *to)
{
    char path[600], path2[600];
    struct dirent *e;
    DIR *d;
    empty_dir(to);
    if (!(d = opendir(from)))
        abort();
    static char buf[1 << 16];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", from, e->d_name);
        snprintf(path2, sizeof path2, "%s/%s", to, e->d_name);
        int in = open(path, O_RDONLY), out = open(path2, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ssize_t n;
        if (in < 0 || out < 0)
            abort();
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                abort();
        close(in);
        close(out);
    }
    closedir(d);
}

static void remove_dir(const char *path)
{
    empty_dir(path);
    rmdir(path);
}

/* At exit: the token table's shared memory unlinked, the directory removed. */
static void teardown(void)
{
    store_stop();
    app.tm.life->cleanup(app.tm.state);
    security_free(app.sec);
    cfg_free(&cfg);
    remove_dir(work);
    remove_dir(tmpl);
    char conf[300];
    snprintf(conf, sizeof conf, "%s/restfcgi.conf", dir);
    unlink(conf);
    rmdir(dir);
}

static void init(void)
{
    const char *base = getenv("RESTFCGI_FUZZ_TMP");
    struct stat st;
    if (!base)
        base = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/request_fuzz.XXXXXX", base);
    if (!mkdtemp(dir))
        abort();
    snprintf(work, sizeof work, "%s/store", dir);
    snprintf(tmpl, sizeof tmpl, "%s/template", dir);
    char conf[300];
    snprintf(conf, sizeof conf, "%s/restfcgi.conf", dir);
    FILE *f = fopen(conf, "w");
    if (!f || mkdir(tmpl, 0700) != 0)
        abort();
    fprintf(f, "store = { plugin = \"sqlite\"; path = \"%s\"; busy_timeout_ms = 100; };\n"
               "auth = { bcrypt_cost = 4; brute_force = { max_failures = 1000000; window_s = 1; };\n"
               "         token_manager = { plugin = \"memory\"; }; };\n"
               "limits = { max_body = 65536; max_depth = 1000; query_time_ms = 1000;\n"
               "           max_pagesize = 100; };\n",
            work);
    fclose(f);
    char err[256];
    if (!cfg_load(&cfg, conf, err, sizeof err)) {
        fprintf(stderr, "request_fuzz: %s\n", err);
        abort();
    }
    setenv("RESTFCGI_ADMIN_PASSWORD", "fuzz-admin-pw", 1);
    host_set_instance(conf, -1);
    struct restfcgi_error e = {0};
    app.cfg = &cfg;
    if (!security_new(&cfg, &app.sec, &e))
        abort();
    plugin_start(&app.tm, restfcgi_plugin_tm_memory(), cfg.token_manager);
    plugin_start(&app.store, restfcgi_plugin_store_sqlite(), cfg.store);
    if (!app_worker_init(&app, &e)) {
        fprintf(stderr, "request_fuzz: %s\n", e.message);
        abort();
    }
    /* The token table stays mapped; its name goes now, so that a crash
     * leaves no shared memory behind (token_table.c names it so). */
    char shm[128];
    snprintf(shm, sizeof shm, "/restfcgi-tm-%s", host_services()->instance_key());
    shm_unlink(shm);
    setup("PUT", "/shop", "{\"owner\": \"admin\"}", 201);
    setup("PUT", "/shop/items",
          "{\"aggrs\": [{\"type\": \"pipeline\", \"uri\": \"byA\", \"stages\": ["
          "{\"$match\": {\"a\": {\"$var\": [\"a\", 1]}}}, {\"$group\": {\"_id\": \"$a\","
          " \"n\": {\"$sum\": 1}, \"tags\": {\"$push\": \"$tags\"}}}, {\"$sort\": {\"n\": -1}}]}]}",
          201);
    setup("PUT", "/shop/items/_indexes/byA", "{\"keys\": {\"a\": 1, \"b.c\": -1}}", 201);
    setup("PUT", "/shop/items/_indexes/sku", "{\"keys\": {\"sku\": 1}, \"ops\": {\"unique\": true}}",
          201);
    setup("POST", "/shop/items",
          "[{\"_id\": 1, \"a\": 1, \"sku\": \"s1\", \"owner\": \"bob\", \"secret\": 7, \"tags\": [\"x\"]},"
          " {\"_id\": {\"$oid\": \"5f0000000000000000000002\"}, \"a\": 2, \"b\": {\"c\": [1, 2]},"
          "  \"owner\": \"alice\", \"d\": {\"$date\": \"2020-01-01T00:00:00Z\"}},"
          " {\"_id\": \"k\", \"a\": 1, \"sku\": \"s3\", \"owner\": \"bob\", \"n\": null,"
          "  \"dec\": {\"$numberDecimal\": \"1.5\"}, \"l\": {\"$numberLong\": \"9007199254740993\"}}]",
          200);
    setup("PUT", "/shop/empty", "{}", 201);
    setup("POST", "/restfcgi/users", "{\"_id\": \"bob\", \"password\": \"bob-pw\", \"roles\": [\"user\"]}",
          201);
    setup("PUT", "/restfcgi/acl", "{}", 201);
    setup("POST", "/restfcgi/acl",
          "{\"_id\": \"own\", \"roles\": [\"user\"], \"priority\": 1,"
          " \"predicate\": \"path-prefix('/shop/items') or path-template('/shop/{coll}/_aggrs/{a}')\","
          " \"mongo\": {\"readFilter\": {\"owner\": \"@user._id\"}, \"writeFilter\": {\"owner\":"
          " \"@user._id\"}, \"mergeRequest\": {\"owner\": \"@user._id\", \"at\": \"@now\"},"
          " \"projectResponse\": {\"secret\": 0}}}",
          201);
    setup("POST", "/restfcgi/acl",
          "{\"_id\": \"list\", \"roles\": [\"user\", \"$unauthenticated\"], \"priority\": 2,"
          " \"predicate\": \"(path('/shop') or path('/')) and method(GET)\"}",
          201);
    /* The file as it stands now is every input's starting point. */
    store_stop();
    copy_dir(work, tmpl);
    store_start();
    atexit(teardown);
}

/* A password login of the admin; its Auth-Token becomes admin_token. */
static void admin_login(void)
{
    want_token = true;
    setup("GET", "/tokens/admin", "", 200);
    want_token = false;
}

/* Does admin_token still verify (an input may have revoked it)? */
static bool token_valid(void)
{
    struct restfcgi_account acct;
    struct restfcgi_error err = {0};
    int64_t until;
    return admin_token[0] && app_tm(&app)->verify(app.tm.state, "admin", admin_token,
                                                  strlen(admin_token), &acct, &until, &err);
}

/* Did the last input write? Every commit lands in the WAL first. */
static bool store_written(void)
{
    char wal[400];
    struct stat st;
    snprintf(wal, sizeof wal, "%s/restfcgi.sqlite-wal", work);
    return stat(wal, &st) == 0 && st.st_size > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!app.cfg)
        init();
    if (store_written()) {
        store_stop();
        copy_dir(tmpl, work);
        store_start();
    }
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    const char *sep = NULL;
    for (size_t i = 0; i + 1 < size && !sep; i++)
        if (copy[i] == '\n' && copy[i + 1] == '\n')
            sep = copy + i;
    struct body body = {"", 0};
    size_t env_len = size;
    if (sep) {
        body = (struct body){sep + 2, size - (size_t)(sep + 2 - copy)};
        env_len = (size_t)(sep - copy);
        copy[env_len] = '\0';
    }
    char *envp[65];
    size_t n = 0;
    for (char *p = copy; p < copy + env_len && n < 64; p += strlen(p) + 1) {
        if (*p)
            envp[n++] = p;
    }
    envp[n] = NULL;
    char *with_token[64] = {0};
    for (size_t i = 0; i < n; i++) {
        const char *at = strstr(envp[i], "@token@");
        if (!at)
            continue;
        if (!token_valid())
            admin_login();
        with_token[i] = malloc(strlen(envp[i]) + sizeof admin_token);
        if (!with_token[i])
            continue;
        sprintf(with_token[i], "%.*s%s%s", (int)(at - envp[i]), envp[i], admin_token, at + 7);
        envp[i] = with_token[i];
    }
    int status = handle(envp, body.p, body.len);
    for (size_t i = 0; i < n; i++)
        free(with_token[i]);
    /* RESTFCGI_FUZZ_VERBOSE=1: each input's status, to check what seeds reach.
     * RESTFCGI_FUZZ_NO_5XX=1: a 5xx is a failure too (a client's request
     * never deserves one here), kept off by default: an ACL the fuzzer
     * wrote as the admin stays loaded for up to 2 s after the reset. */
    if (getenv("RESTFCGI_FUZZ_VERBOSE"))
        fprintf(stderr, "request_fuzz: status %d\n", status);
    if (status >= 500 && getenv("RESTFCGI_FUZZ_NO_5XX")) {
        fprintf(stderr, "request_fuzz: status %d\n", status);
        abort();
    }
    free(copy);
    return 0;
}

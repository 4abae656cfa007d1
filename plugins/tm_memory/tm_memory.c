/*
 * tm_memory: random tokens shared by every worker process of one node.
 *
 * A token is 256 bits from the host's CSPRNG (OpenSSL RAND_bytes), sent as
 * 43 characters of base64url. Only its SHA-256 is kept, in the shared table
 * of token_table.c, with the account and a sliding expiry of ttl minutes.
 * Tokens are node-local by design: another node does not know them, which
 * is why a cluster of nodes needs sticky sessions (or the jwt manager).
 */
#include "sha256_md.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "token_table.h"

#define TM_NAME "memory"
#define TOKEN_BYTES 32
#define TOKEN_CHARS 43 /* base64url of 32 bytes, unpadded */
#define DEFAULT_TTL_MIN 15
#define DEFAULT_CAPACITY 10000

struct memory_tm {
    const struct restfcgi_host *host;
    int64_t ttl_ms;
    int64_t capacity;
    struct token_table *table; /* attached in worker_init, per process */
    EVP_MD *sha256;
    pid_t attached_by;
};

/* This process's pid: getpid() is a system call on each token check
 * otherwise (glibc caches it no longer); refreshed in a child after fork. */
static pid_t self_pid;
static pthread_once_t self_pid_once = PTHREAD_ONCE_INIT;
static void refresh_self_pid(void) { self_pid = getpid(); }
static void watch_self_pid(void)
{
    refresh_self_pid();
    pthread_atfork(NULL, NULL, refresh_self_pid);
}

static bool unauthorized(struct restfcgi_error *err, const char *why)
{
    err->domain = RESTFCGI_ERR_AUTH;
    err->code = 401;
    snprintf(err->message, sizeof err->message, "%s", why);
    return false;
}

static bool tm_init(const struct restfcgi_host *host, const restfcgi_conf *conf, void **state,
                    struct restfcgi_error *err)
{
    static const char *const known[] = {"plugin", "ttl", "capacity", NULL};
    *state = NULL;
    if (!host->conf_check_keys(conf, known, err))
        return false;
    int64_t ttl = DEFAULT_TTL_MIN, capacity = DEFAULT_CAPACITY;
    if (host->conf_int(conf, "ttl", &ttl, err) == RESTFCGI_CONF_WRONG_TYPE ||
        host->conf_int(conf, "capacity", &capacity, err) == RESTFCGI_CONF_WRONG_TYPE)
        return false;
    if (ttl < 1 || ttl > 525600)
        return host->conf_fail(conf, err, "auth.token_manager.ttl must be 1 to 525600 minutes");
    if (capacity < 16 || capacity > 1000000)
        return host->conf_fail(conf, err, "auth.token_manager.capacity must be 16 to 1000000");
    pthread_once(&self_pid_once, watch_self_pid);
    struct memory_tm *tm = calloc(1, sizeof *tm);
    if (!tm) {
        err->domain = RESTFCGI_ERR_INTERNAL;
        snprintf(err->message, sizeof err->message, "out of memory");
        return false;
    }
    tm->host = host;
    tm->sha256 = sha256_md_fetch();
    if (!tm->sha256) {
        free(tm);
        err->domain = RESTFCGI_ERR_INTERNAL;
        snprintf(err->message, sizeof err->message, "no SHA-256 in OpenSSL");
        return false;
    }
    tm->ttl_ms = ttl * 60000;
    tm->capacity = capacity;
    *state = tm;
    return true;
}

/* In each worker process: attach the node's table, named after the
 * listening socket every worker of the node shares. */
static bool tm_worker_init(void *state, struct restfcgi_error *err)
{
    struct memory_tm *tm = state;
    if (tm->table && tm->attached_by == self_pid)
        return true;
    tm->table = token_table_attach(tm->host->instance_key(), (uint32_t)tm->capacity, err);
    tm->attached_by = self_pid;
    return tm->table != NULL;
}

static void tm_cleanup(void *state)
{
    struct memory_tm *tm = state;
    if (!tm)
        return;
    if (tm->table && tm->attached_by == self_pid)
        token_table_detach(tm->table);
    EVP_MD_free(tm->sha256);
    free(tm);
}

static bool attached(const struct memory_tm *tm, struct restfcgi_error *err)
{
    if (tm->table && tm->attached_by == self_pid)
        return true;
    err->domain = RESTFCGI_ERR_INTERNAL;
    err->code = 500;
    snprintf(err->message, sizeof err->message, "memory token manager used before worker_init");
    return false;
}

static void base64url(const uint8_t *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = abc[v >> 18 & 63];
        out[o++] = abc[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = abc[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = abc[v & 63];
    }
    out[o] = '\0';
}

static bool tm_issue(void *state, const struct restfcgi_account *acct, struct restfcgi_token *out,
                     struct restfcgi_error *err)
{
    struct memory_tm *tm = state;
    uint8_t raw[TOKEN_BYTES], hash[TOKEN_HASH_LEN];
    if (!attached(tm, err))
        return false;
    if (!tm->host->random_bytes(raw, sizeof raw)) {
        err->domain = RESTFCGI_ERR_INTERNAL;
        err->code = 500;
        snprintf(err->message, sizeof err->message, "no random bytes for a token");
        return false;
    }
    base64url(raw, sizeof raw, out->value);
    explicit_bzero(raw, sizeof raw);
    if (!sha256(tm->sha256, out->value, TOKEN_CHARS, hash)) {
        explicit_bzero(out->value, sizeof out->value);
        err->domain = RESTFCGI_ERR_INTERNAL;
        err->code = 500;
        snprintf(err->message, sizeof err->message, "no SHA-256 from OpenSSL");
        return false;
    }
    out->valid_until_ms = tm->host->now_ms() + tm->ttl_ms;
    if (!token_table_put(tm->table, hash, acct, out->valid_until_ms, err)) {
        explicit_bzero(out->value, sizeof out->value);
        return false;
    }
    return true;
}

/* The account of a live token; extend_ms > 0 slides its expiry. */
static bool lookup(struct memory_tm *tm, const char *userid, const char *token, size_t len, int64_t extend_ms,
                   struct restfcgi_account *acct, int64_t *valid_until_ms, struct restfcgi_error *err)
{
    uint8_t hash[TOKEN_HASH_LEN];
    if (!attached(tm, err))
        return false;
    if (len != TOKEN_CHARS)
        return unauthorized(err, "not a token of this node");
    if (!sha256(tm->sha256, token, len, hash))
        return unauthorized(err, "no SHA-256 from OpenSSL");
    if (!token_table_get(tm->table, hash, tm->host->now_ms(), extend_ms, acct, valid_until_ms))
        return unauthorized(err, "unknown, expired or revoked token");
    if (userid && strcmp(acct->userid, userid) != 0) {
        memset(acct, 0, sizeof *acct);
        return unauthorized(err, "the token belongs to another user");
    }
    return true;
}

static bool tm_verify(void *state, const char *userid, const char *token, size_t len,
                      struct restfcgi_account *acct, int64_t *valid_until_ms, struct restfcgi_error *err)
{
    return lookup(state, userid, token, len, 0, acct, valid_until_ms, err);
}

static bool tm_touch(void *state, const struct restfcgi_account *acct, const char *token, size_t len,
                     struct restfcgi_token *out, struct restfcgi_error *err)
{
    struct memory_tm *tm = state;
    struct restfcgi_account found;
    if (len > RESTFCGI_TOKEN_MAX ||
        !lookup(tm, acct->userid, token, len, tm->ttl_ms, &found, &out->valid_until_ms, err))
        return false;
    memcpy(out->value, token, len);
    out->value[len] = '\0';
    return true;
}

static bool tm_revoke(void *state, const char *userid, struct restfcgi_error *err)
{
    struct memory_tm *tm = state;
    if (!attached(tm, err))
        return false;
    token_table_revoke(tm->table, userid);
    return true;
}

static const struct restfcgi_token_manager_ops ops = {
    .life = {.struct_size = sizeof ops, .init = tm_init, .worker_init = tm_worker_init,
             .cleanup = tm_cleanup},
    .issue = tm_issue,
    .verify = tm_verify,
    .touch = tm_touch,
    .revoke = tm_revoke,
};

static const struct restfcgi_plugin descriptor = {
    .abi_major = RESTFCGI_PLUGIN_ABI_MAJOR,
    .abi_minor = RESTFCGI_PLUGIN_ABI_MINOR,
    .struct_size = sizeof descriptor,
    .kind = RESTFCGI_PLUGIN_TOKEN_MANAGER,
    .name = TM_NAME,
    .version = "0.1.0",
    .ops = &ops,
};

RESTFCGI_PLUGIN_EXPORT const struct restfcgi_plugin *restfcgi_plugin_tm_memory(void);
RESTFCGI_PLUGIN_EXPORT const struct restfcgi_plugin *restfcgi_plugin_tm_memory(void)
{
    return &descriptor;
}

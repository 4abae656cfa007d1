#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "client_error.h"
#include "handlers/common.h"
#include "host.h"
#include "json.h"
#include "log.h"
#include "sha256_md.h"
#include "users.h"

#define HASH_MAX 128         /* a bcrypt hash is 60 characters */
/* bcrypt reads no more than 72 bytes of a password: a longer one would
 * let any password with the same first 72 bytes in. */
#define BCRYPT_PASSWORD_MAX 72
#define CACHE_SLOTS 4096     /* verified (user, password, hash) digests */
#define FILE_MAX (1 << 22)   /* bytes of a users file */
#define RANDOM_PASSWORD_BYTES 18

struct file_user {
    struct restfcgi_account acct;
    char hash[HASH_MAX];
};

struct users {
    int cost;
    EVP_MD *sha256;              /* for the cache's digests (sha256_md.h) */
    const char *db, *coll;       /* store source; NULL with a file */
    struct file_user *file_users; /* file source */
    size_t nfile_users;
    const char *admin_userid, *admin_password_env;
    char dummy_hash[HASH_MAX];   /* a bcrypt setting of the same cost, checked
                                    for unknown users: the same work, no match */
    unsigned char cache_key[32];
    pthread_mutex_t cache_lock;
    unsigned char cache[CACHE_SLOTS][32];
};

static bool is_bcrypt_hash(const char *s, size_t len)
{
    return len == 60 && s[0] == '$' && s[1] == '2' && (s[2] == 'a' || s[2] == 'b' || s[2] == 'y') &&
           s[3] == '$';
}

/* A bcrypt setting ("$2b$NN$" and a fresh salt) of the given cost. */
static bool bcrypt_setting(int cost, char salt[64])
{
    unsigned char rnd[16];
    return host_random_bytes(rnd, sizeof rnd) &&
           crypt_gensalt_rn("$2b$", (unsigned long)cost, (const char *)rnd, sizeof rnd, salt, 64);
}

/* bcrypt of password with a fresh salt of the configured cost. */
static bool hash_password(int cost, const char *password, char out[HASH_MAX])
{
    char salt[64];
    struct crypt_data data;
    if (!bcrypt_setting(cost, salt))
        return false;
    memset(&data, 0, sizeof data);
    const char *h = crypt_rn(password, salt, &data, sizeof data);
    bool ok = h && h[0] == '$' && strlen(h) < HASH_MAX;
    if (ok)
        strcpy(out, h);
    explicit_bzero(&data, sizeof data);
    return ok;
}

/* Constant-time check of password against a stored bcrypt hash. */
static bool password_matches(const char *password, const char *hash)
{
    struct crypt_data data;
    memset(&data, 0, sizeof data);
    const char *h = crypt_rn(password, hash, &data, sizeof data);
    size_t n = strlen(hash);
    bool ok = h && h[0] == '$' && strlen(h) == n && CRYPTO_memcmp(h, hash, n) == 0;
    explicit_bzero(&data, sizeof data);
    return ok;
}

void users_account_from_doc(const bson_t *doc, struct restfcgi_account *acct)
{
    bson_iter_t it, roles;
    memset(acct, 0, sizeof *acct);
    if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it)) {
        uint32_t n;
        const char *s = bson_iter_utf8(&it, &n);
        if (n <= RESTFCGI_USERID_MAX)
            memcpy(acct->userid, s, n);
    }
    if (!bson_iter_init_find(&it, doc, "roles") || !BSON_ITER_HOLDS_ARRAY(&it) ||
        !bson_iter_recurse(&it, &roles))
        return;
    while (bson_iter_next(&roles) && acct->nroles < RESTFCGI_ROLES_MAX) {
        uint32_t n;
        const char *s = BSON_ITER_HOLDS_UTF8(&roles) ? bson_iter_utf8(&roles, &n) : NULL;
        if (s && n > 0 && n <= RESTFCGI_ROLE_MAX && !memchr(s, '\0', n))
            memcpy(acct->roles[acct->nroles++], s, n);
    }
}

static bool file_fail(struct restfcgi_error *err, const char *path, const char *why, size_t i)
{
    err->domain = RESTFCGI_ERR_CONFIG;
    err->code = 0;
    snprintf(err->message, sizeof err->message, "%s:0: user %zu: %s", path, i, why);
    return false;
}

/* A JSON array of user documents whose passwords are bcrypt hashes. */
static bool load_file(struct users *u, const char *path, struct restfcgi_error *err)
{
    bson_t arr;
    if (!json_read_file(path, FILE_MAX, 64, &arr, err)) {
        bson_destroy(&arr);
        return false;
    }
    bool ok = true;
    uint32_t count = bson_count_keys(&arr);
    u->file_users = calloc(count ? count : 1, sizeof *u->file_users);
    bson_iter_t it;
    bson_iter_init(&it, &arr);
    for (size_t i = 0; ok && u->file_users && bson_iter_next(&it); i++) {
        bson_t doc;
        const uint8_t *data;
        uint32_t len;
        if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
            ok = file_fail(err, path, "not a JSON object", i);
            break;
        }
        bson_iter_document(&it, &len, &data);
        bson_init_static(&doc, data, len);
        struct file_user *fu = &u->file_users[u->nfile_users];
        users_account_from_doc(&doc, &fu->acct);
        bson_iter_t pw;
        uint32_t pwlen = 0;
        const char *hash = bson_iter_init_find(&pw, &doc, "password") && BSON_ITER_HOLDS_UTF8(&pw)
                               ? bson_iter_utf8(&pw, &pwlen)
                               : NULL;
        if (!fu->acct.userid[0])
            ok = file_fail(err, path, "_id must be a string of 1 to 255 bytes", i);
        else if (!hash || !is_bcrypt_hash(hash, pwlen))
            ok = file_fail(err, path, "password must be a bcrypt hash ($2b$..., see README)", i);
        else {
            memcpy(fu->hash, hash, pwlen);
            u->nfile_users++;
        }
    }
    bson_destroy(&arr);
    if (!u->file_users)
        return client_error(err, 500, "out of memory");
    return ok;
}

bool users_new(const struct cfg *cfg, struct users **out, struct restfcgi_error *err)
{
    struct users *u = calloc(1, sizeof *u);
    *out = NULL;
    if (!u)
        return client_error(err, 500, "out of memory");
    u->cost = (int)cfg->bcrypt_cost;
    u->admin_userid = cfg->admin_userid;
    u->admin_password_env = cfg->admin_password_env;
    pthread_mutex_init(&u->cache_lock, NULL);
    /* A cheap self-test (cost 4) rather than a start-up bcrypt of full cost. */
    char probe[HASH_MAX];
    u->sha256 = sha256_md_fetch();
    if (!u->sha256 || !host_random_bytes(u->cache_key, sizeof u->cache_key) ||
        !hash_password(4, "restfcgi-probe", probe) || !bcrypt_setting(u->cost, u->dummy_hash)) {
        users_free(u);
        err->domain = RESTFCGI_ERR_CONFIG;
        snprintf(err->message, sizeof err->message, "%s:0: bcrypt is not available", cfg->path);
        return false;
    }
    if (cfg->users_file) {
        if (!load_file(u, cfg->users_file, err)) {
            users_free(u);
            return false;
        }
    } else {
        u->db = cfg->users_db;
        u->coll = cfg->users_coll;
    }
    *out = u;
    return true;
}

void users_free(struct users *u)
{
    if (!u)
        return;
    free(u->file_users);
    EVP_MD_free(u->sha256);
    pthread_mutex_destroy(&u->cache_lock);
    explicit_bzero(u, sizeof *u);
    free(u);
}

bool users_is_collection(const struct users *u, const char *db, const char *coll)
{
    return u->db && strcmp(u->db, db) == 0 && strcmp(u->coll, coll) == 0;
}

/* The keyed digest of a verified triple; the key never leaves the process. */
static void cache_digest(const struct users *u, struct sv userid, const char *password,
                         const char *hash, unsigned char out[32])
{
    /* SHA-256 over a fixed-length secret prefix: nobody outside the process
     * sees a digest, so length extension has nothing to attack. */
    EVP_MD_CTX *h = EVP_MD_CTX_new();
    unsigned int n = 32;
    EVP_DigestInit_ex(h, u->sha256, NULL);
    EVP_DigestUpdate(h, u->cache_key, sizeof u->cache_key);
    EVP_DigestUpdate(h, userid.ptr, userid.len);
    EVP_DigestUpdate(h, "", 1);
    EVP_DigestUpdate(h, password, strlen(password) + 1);
    EVP_DigestUpdate(h, hash, strlen(hash));
    EVP_DigestFinal_ex(h, out, &n);
    EVP_MD_CTX_free(h);
}

static bool cache_has(struct users *u, const unsigned char d[32])
{
    uint32_t slot;
    memcpy(&slot, d, sizeof slot);
    pthread_mutex_lock(&u->cache_lock);
    bool hit = CRYPTO_memcmp(u->cache[slot % CACHE_SLOTS], d, 32) == 0;
    pthread_mutex_unlock(&u->cache_lock);
    return hit;
}

static void cache_put(struct users *u, const unsigned char d[32])
{
    uint32_t slot;
    memcpy(&slot, d, sizeof slot);
    pthread_mutex_lock(&u->cache_lock);
    memcpy(u->cache[slot % CACHE_SLOTS], d, 32);
    pthread_mutex_unlock(&u->cache_lock);
}

/* The user's stored hash and account: from the file, or one store read. */
static bool lookup(struct users *u, const struct app *app, struct sv userid, char hash[HASH_MAX],
                   struct restfcgi_account *acct, bool *found, struct restfcgi_error *err)
{
    *found = false;
    if (!u->db) {
        for (size_t i = 0; i < u->nfile_users; i++) {
            if (sv_eq_cstr(userid, u->file_users[i].acct.userid)) {
                *acct = u->file_users[i].acct;
                strcpy(hash, u->file_users[i].hash);
                *found = true;
                break;
            }
        }
        return true;
    }
    bson_t filter = BSON_INITIALIZER, doc = BSON_INITIALIZER;
    bson_append_utf8(&filter, "_id", 3, userid.ptr, (int)userid.len);
    struct restfcgi_find q = {.filter = {bson_get_data(&filter), filter.len}, .limit = 1};
    struct restfcgi_error ferr = {0};
    bool ok = app_store(app)->find(app->store.state, u->db, u->coll, &q, emit_copy, &doc, &ferr);
    if (!ok && ferr.code != 404) {
        *err = ferr;
        if (err->domain != RESTFCGI_ERR_STORE)
            client_error(err, 503, "the users collection cannot be read");
    } else if (ok && !bson_empty(&doc)) {
        bson_iter_t it;
        uint32_t n = 0;
        const char *h = bson_iter_init_find(&it, &doc, "password") && BSON_ITER_HOLDS_UTF8(&it)
                            ? bson_iter_utf8(&it, &n)
                            : NULL;
        if (h && n < HASH_MAX && is_bcrypt_hash(h, n)) {
            memcpy(hash, h, n);
            hash[n] = '\0';
            users_account_from_doc(&doc, acct);
            *found = true;
        }
    }
    bson_destroy(&filter);
    bson_destroy(&doc);
    return ok || ferr.code == 404;
}

bool users_authenticate(struct users *u, const struct app *app, struct sv userid,
                        struct sv password, struct restfcgi_account *acct,
                        struct restfcgi_error *err)
{
    char hash[HASH_MAX] = "", pw[RESTFCGI_TOKEN_MAX + 1];
    bool found;
    if (password.len > RESTFCGI_TOKEN_MAX || !lookup(u, app, userid, hash, acct, &found, err))
        return password.len > RESTFCGI_TOKEN_MAX ? client_error(err, 401, "password too long")
                                                 : false;
    memcpy(pw, password.ptr, password.len);
    pw[password.len] = '\0';
    bool ok;
    if (!found || password.len > BCRYPT_PASSWORD_MAX) {
        password_matches(pw, u->dummy_hash); /* the same work as for a known user */
        ok = false;
    } else {
        unsigned char d[32];
        cache_digest(u, userid, pw, hash, d);
        ok = cache_has(u, d);
        if (!ok && password_matches(pw, hash)) {
            cache_put(u, d);
            ok = true;
        }
    }
    explicit_bzero(pw, password.len);
    if (!ok) {
        err->domain = RESTFCGI_ERR_AUTH;
        err->code = 401;
        snprintf(err->message, sizeof err->message, "wrong userid or password");
    }
    return ok;
}

bool users_hash_field(const struct users *u, bson_t *doc, struct restfcgi_error *err)
{
    bson_iter_t it;
    if (!bson_iter_init_find(&it, doc, "password"))
        return true;
    uint32_t n = 0;
    const char *s = BSON_ITER_HOLDS_UTF8(&it) ? bson_iter_utf8(&it, &n) : NULL;
    if (!s || n == 0 || n > RESTFCGI_TOKEN_MAX || memchr(s, '\0', n))
        return client_error(err, 400, "password must be a non-empty string without NUL");
    if (n > BCRYPT_PASSWORD_MAX)
        return client_error(err, 400, "password longer than %d bytes (bcrypt reads no more)",
                            BCRYPT_PASSWORD_MAX);
    char pw[RESTFCGI_TOKEN_MAX + 1], hash[HASH_MAX];
    memcpy(pw, s, n);
    pw[n] = '\0';
    bool ok = hash_password(u->cost, pw, hash);
    explicit_bzero(pw, n);
    if (!ok)
        return client_error(err, 500, "the password could not be hashed");
    bson_t out = BSON_INITIALIZER;
    bson_copy_to_excluding_noinit(doc, &out, "password", NULL);
    BSON_APPEND_UTF8(&out, "password", hash);
    bson_destroy(doc);
    bson_steal(doc, &out);
    return true;
}

/* Creates the users collection (and its database) when absent. */
static bool ensure_collection(const struct users *u, const struct app *app,
                              struct restfcgi_error *err)
{
    const struct restfcgi_store_ops *ops = app_store(app);
    bson_t props = BSON_INITIALIZER, none = BSON_INITIALIZER;
    bson_oid_t etag;
    bool created, ok = true;
    bson_oid_init(&etag, NULL);
    BSON_APPEND_OID(&props, "_etag", &etag);
    struct restfcgi_bson view = {bson_get_data(&props), props.len};
    if (!ops->db_get(app->store.state, u->db, emit_copy, &none, err))
        ok = err->code == 404 && ops->db_put(app->store.state, u->db, view, NULL, &created, err);
    bson_reinit(&none);
    if (ok && !ops->coll_get(app->store.state, u->db, u->coll, emit_copy, &none, err))
        ok = err->code == 404 &&
             ops->coll_put(app->store.state, u->db, u->coll, view, NULL, &created, err);
    bson_destroy(&props);
    bson_destroy(&none);
    return ok;
}

bool users_worker_init(struct users *u, const struct app *app, struct restfcgi_error *err)
{
    if (!u->db)
        return true;
    int64_t n = 0;
    if (!ensure_collection(u, app, err) ||
        !app_store(app)->count(app->store.state, u->db, u->coll, (struct restfcgi_bson){0}, 0, &n,
                               err))
        return false;
    if (n > 0)
        return true;
    const char *given = getenv(u->admin_password_env);
    char password[2 * RANDOM_PASSWORD_BYTES + 1], hash[HASH_MAX];
    bool random = !given || !*given;
    if (random) {
        unsigned char rnd[RANDOM_PASSWORD_BYTES];
        if (!host_random_bytes(rnd, sizeof rnd))
            return client_error(err, 500, "no random bytes for the admin password");
        for (size_t i = 0; i < sizeof rnd; i++)
            snprintf(password + 2 * i, 3, "%02x", rnd[i]);
    }
    if (!random && strlen(given) > BCRYPT_PASSWORD_MAX)
        return client_error(err, 500, "the admin password in %s is longer than %d bytes",
                            u->admin_password_env, BCRYPT_PASSWORD_MAX);
    if (!hash_password(u->cost, random ? password : given, hash))
        return client_error(err, 500, "the admin password could not be hashed");
    bson_t doc = BSON_INITIALIZER, roles;
    bson_oid_t etag;
    bson_oid_init(&etag, NULL);
    BSON_APPEND_UTF8(&doc, "_id", u->admin_userid);
    BSON_APPEND_UTF8(&doc, "password", hash);
    BSON_APPEND_ARRAY_BEGIN(&doc, "roles", &roles);
    BSON_APPEND_UTF8(&roles, "0", app->cfg->root_role);
    bson_append_array_end(&doc, &roles);
    BSON_APPEND_OID(&doc, "_etag", &etag);
    struct restfcgi_error ierr = {0};
    bool ok = app_store(app)->insert(app->store.state, u->db, u->coll,
                                     (struct restfcgi_bson){bson_get_data(&doc), doc.len}, &ierr);
    bson_destroy(&doc);
    if (!ok && ierr.code != 409) { /* 409: another worker created it first */
        *err = ierr;
        return false;
    }
    if (ok && random)
        /* The one place a secret is printed: the operator has no other way to learn it. */
        fprintf(stderr, "restfcgi: created user '%s' with role '%s' and password %s "
                        "(shown once; set %s to choose it)\n",
                u->admin_userid, app->cfg->root_role, password, u->admin_password_env);
    else if (ok)
        log_info("created user '%s' with role '%s' (password from $%s)", u->admin_userid,
                 app->cfg->root_role, u->admin_password_env);
    explicit_bzero(password, sizeof password);
    return true;
}

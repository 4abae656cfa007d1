#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "auth.h"
#include "auth_header.h"
#include "brute_force.h"
#include "client_error.h"
#include "host.h"
#include "log.h"
#include "users.h"

/* The token last handed to a user by this process, reused while the token
 * manager still verifies it (a revocation makes it fail: a fresh one then). */
#define REUSE_SLOTS 256

struct reuse_slot {
    char userid[RESTFCGI_USERID_MAX + 1];
    char *token; /* malloc'd */
};

struct security {
    struct users *users;
    struct brute_force *bf;
    struct acl *acl;
    pthread_mutex_t reuse_lock;
    struct reuse_slot reuse[REUSE_SLOTS];
    /* The users collection (and its admin) is prepared at worker start; a
     * store unreachable then is tried again before logins, once a second. */
    _Atomic bool users_ready;
    _Atomic int64_t users_tried_ms;
    pthread_mutex_t users_lock;
};

bool security_new(const struct cfg *cfg, struct security **out, struct restfcgi_error *err)
{
    struct security *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return client_error(err, 500, "out of memory");
    pthread_mutex_init(&s->reuse_lock, NULL);
    pthread_mutex_init(&s->users_lock, NULL);
    s->bf = brute_force_new(cfg->brute_max_failures, cfg->brute_window_s);
    if (!s->bf || !users_new(cfg, &s->users, err) || !acl_new(cfg, &s->acl, err)) {
        if (!s->bf)
            client_error(err, 500, "out of memory");
        security_free(s);
        return false;
    }
    *out = s;
    return true;
}

bool security_worker_init(struct security *sec, const struct app *app, struct restfcgi_error *err)
{
    sec->users_tried_ms = host_monotonic_ms();
    sec->users_ready = users_worker_init(sec->users, app, err);
    return sec->users_ready;
}

/* One thread tries again while the others go on (their logins fail as the
 * store does, with a 503, until it is back). */
static void users_retry(struct security *sec, const struct app *app)
{
    if (sec->users_ready || host_monotonic_ms() - sec->users_tried_ms < 1000 ||
        pthread_mutex_trylock(&sec->users_lock) != 0)
        return;
    struct restfcgi_error err = {0};
    if (!sec->users_ready && host_monotonic_ms() - sec->users_tried_ms >= 1000) {
        if (security_worker_init(sec, app, &err))
            log_info("users initialised after the store came back");
    }
    pthread_mutex_unlock(&sec->users_lock);
}

void security_free(struct security *sec)
{
    if (!sec)
        return;
    users_free(sec->users);
    acl_free(sec->acl);
    brute_force_free(sec->bf);
    for (size_t i = 0; i < REUSE_SLOTS; i++) {
        if (sec->reuse[i].token) {
            explicit_bzero(sec->reuse[i].token, strlen(sec->reuse[i].token));
            free(sec->reuse[i].token);
        }
    }
    pthread_mutex_destroy(&sec->reuse_lock);
    pthread_mutex_destroy(&sec->users_lock);
    free(sec);
}

struct users *security_users(const struct security *sec) { return sec->users; }
struct acl *security_acl(const struct security *sec) { return sec->acl; }

static struct reuse_slot *reuse_slot(struct security *sec, const char *userid)
{
    return &sec->reuse[sv_hash(sv_from_cstr(userid)) % REUSE_SLOTS];
}

/* Copies the user's remembered token into out->value (false when none). */
static bool reuse_get(struct security *sec, const char *userid, struct restfcgi_token *out)
{
    pthread_mutex_lock(&sec->reuse_lock);
    struct reuse_slot *s = reuse_slot(sec, userid);
    bool found = s->token && strcmp(s->userid, userid) == 0;
    if (found)
        strcpy(out->value, s->token);
    pthread_mutex_unlock(&sec->reuse_lock);
    return found;
}

static void reuse_put(struct security *sec, const char *userid, const char *token)
{
    char *copy = strdup(token);
    if (!copy)
        return;
    pthread_mutex_lock(&sec->reuse_lock);
    struct reuse_slot *s = reuse_slot(sec, userid);
    if (s->token) {
        explicit_bzero(s->token, strlen(s->token));
        free(s->token);
    }
    strcpy(s->userid, userid);
    s->token = copy;
    pthread_mutex_unlock(&sec->reuse_lock);
}

/* After a password: the user's remembered token slid by touch, or a new one. */
static bool token_for_password_login(const struct app *app, struct principal *p,
                                     struct restfcgi_error *err)
{
    const struct restfcgi_token_manager_ops *tm = app_tm(app);
    struct restfcgi_token *known = malloc(sizeof *known);
    if (!known)
        return client_error(err, 500, "out of memory");
    struct restfcgi_error terr = {0};
    bool ok = reuse_get(app->sec, p->account.userid, known) &&
              tm->touch(app->tm.state, &p->account, known->value, strlen(known->value), &p->issued,
                        &terr);
    bool changed = ok && strcmp(p->issued.value, known->value) != 0;
    explicit_bzero(known, sizeof *known);
    free(known);
    if (!ok) {
        if (!tm->issue(app->tm.state, &p->account, &p->issued, err))
            return false;
        reuse_put(app->sec, p->account.userid, p->issued.value);
    } else if (changed) {
        reuse_put(app->sec, p->account.userid, p->issued.value);
    }
    p->has_token = true;
    return true;
}

/* Checks the credentials of h; fills p->account. */
static bool verify_credentials(const struct app *app, const struct auth_header *h,
                               struct principal *p, struct restfcgi_error *err)
{
    const struct restfcgi_token_manager_ops *tm = app_tm(app);
    int64_t until;
    if (h->scheme == AUTH_BEARER) {
        p->by_token = true;
        return tm->verify(app->tm.state, NULL, h->secret.ptr, h->secret.len, &p->account, &until,
                          err);
    }
    /* Basic: the secret is a token of that user, else a password. */
    char userid[RESTFCGI_USERID_MAX + 1];
    memcpy(userid, h->userid.ptr, h->userid.len);
    userid[h->userid.len] = '\0';
    struct restfcgi_error terr = {0};
    if (tm->verify(app->tm.state, userid, h->secret.ptr, h->secret.len, &p->account, &until,
                   &terr)) {
        p->by_token = true;
        return true;
    }
    return users_authenticate(app->sec->users, app, h->userid, h->secret, &p->account, err);
}

bool auth_authenticate(const struct app *app, const struct request *req, struct arena *arena,
                       struct principal *p, struct restfcgi_error *err)
{
    memset(p, 0, offsetof(struct principal, issued));
    p->has_token = false;
    bool present;
    struct sv value = request_header(req, "Authorization", &present);
    if (!present)
        return true;
    users_retry(app->sec, app);
    int64_t now = host_monotonic_ms(), retry;
    if (brute_force_blocked(app->sec->bf, req->remote_addr, now, &retry)) {
        client_error(err, 429, "too many failed logins from this address; retry in %lld s",
                     (long long)retry);
        return false;
    }
    struct auth_header h;
    if (!auth_header_parse(value, arena, &h, err) || !verify_credentials(app, &h, p, err)) {
        if (err->code == 401) {
            brute_force_failed(app->sec->bf, req->remote_addr, now);
            log_debug("authentication failed from %.*s: %s",
                      (int)(req->remote_addr.len > 64 ? 64 : req->remote_addr.len),
                      req->remote_addr.ptr, err->message);
        }
        return false;
    }
    brute_force_succeeded(app->sec->bf, req->remote_addr);
    p->authenticated = true;
    if (p->by_token) {
        p->token = h.secret;
        p->has_token = app_tm(app)->touch(app->tm.state, &p->account, h.secret.ptr, h.secret.len,
                                          &p->issued, err);
        return p->has_token;
    }
    return token_for_password_login(app, p, err);
}

void auth_format_time(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03dZ", (int)(ms % 1000));
}

/* The userid as a URL path segment: unreserved characters kept, the rest %XX. */
static void url_segment(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (; *s && n + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = hex[c >> 4];
            out[n++] = hex[c & 15];
        }
    }
    out[n] = '\0';
}

void auth_token_headers(const struct app *app, const struct principal *p, struct response *resp)
{
    if (!p->authenticated || !p->has_token)
        return;
    char until[32], seg[3 * RESTFCGI_USERID_MAX + 1];
    auth_format_time(p->issued.valid_until_ms, until);
    url_segment(p->account.userid, seg, sizeof seg);
    response_header(resp, "Auth-Token", "%s", p->issued.value);
    response_header(resp, "Auth-Token-Valid-Until", "%s", until);
    response_header(resp, "Auth-Token-Location", "%s/tokens/%s", app->cfg->base_path, seg);
}

void auth_challenge(const struct app *app, const struct request *req, struct response *resp,
                    const char *message)
{
    bool no_challenge, q;
    request_header(req, "No-Auth-Challenge", &no_challenge);
    request_query(req, "noauthchallenge", &q);
    response_error(resp, 401, "%s", message);
    if (!no_challenge && !q)
        response_header(resp, "WWW-Authenticate", "Basic realm=\"%s\"", app->cfg->realm);
}

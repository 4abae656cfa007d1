/* auth.h: who is asking. Basic userid:password (users.h), Basic
 * userid:token and Bearer token (the token manager plugin); a request
 * without Authorization is unauthenticated, which the ACL may still allow.
 * Every authenticated response carries the three Auth-Token headers. */
#ifndef RESTFCGI_AUTH_H
#define RESTFCGI_AUTH_H

#include "app.h"

struct principal {
    bool authenticated;
    bool by_token;                  /* a token, not a password, proved it */
    struct sv token;                /* the token presented (by_token) */
    struct restfcgi_account account; /* userid "" and no roles when anonymous */
    bool has_token;
    struct restfcgi_token issued;   /* the token to hand back (slid or issued) */
};

/* The per-process security state: users, brute-force counts, permissions,
 * and the token last handed to each user (reused while it verifies, so
 * repeated Basic logins do not fill the token manager). */
struct security;
bool security_new(const struct cfg *cfg, struct security **out, struct restfcgi_error *err);
bool security_worker_init(struct security *sec, const struct app *app, struct restfcgi_error *err);
void security_free(struct security *sec);
struct users *security_users(const struct security *sec);
struct acl *security_acl(const struct security *sec);

/* Fills p from the Authorization header, with the token to hand back.
 * False with err: 401 for bad credentials (counted against the client
 * address), 429 while the address is locked out, 503 when the users
 * cannot be read. */
bool auth_authenticate(const struct app *app, const struct request *req, struct arena *arena,
                       struct principal *p, struct restfcgi_error *err);

/* Auth-Token, Auth-Token-Valid-Until, Auth-Token-Location for p: the token
 * presented (slid by touch) or, after a password, the user's current one. */
void auth_token_headers(const struct app *app, const struct principal *p, struct response *resp);

/* A 401: WWW-Authenticate: Basic realm=... unless the client said
 * No-Auth-Challenge (header) or ?noauthchallenge. */
void auth_challenge(const struct app *app, const struct request *req, struct response *resp,
                    const char *message);

/* ISO-8601 UTC with milliseconds, as Auth-Token-Valid-Until. */
void auth_format_time(int64_t ms, char out[32]);

#endif

/* Authentication services: GET/DELETE /tokens/{userid}, GET /roles/{userid}.
 * Only the user themself (or the root role) may see or revoke the tokens;
 * they need no permission in the ACL. */
#include <string.h>

#include "../acl.h"
#include "../auth.h"
#include "common.h"
#include "handlers.h"

/* The dispatcher lets only authenticated requests reach these handlers. */
static bool own(const struct app *app, const struct request *req, const struct route *route,
                struct response *resp, bool root_may)
{
    const struct principal *p = req->principal;
    if (sv_eq_cstr(route->name, p->account.userid) || (root_may && acl_is_root(app, p)))
        return true;
    response_error(resp, 403, "these are another user's");
    return false;
}

void handle_tokens_get(const struct app *app, const struct request *req,
                       const struct route *route, struct response *resp)
{
    const struct principal *p = req->principal;
    if (!own(app, req, route, resp, false))
        return;
    char until[32];
    auth_format_time(p->issued.valid_until_ms, until);
    bson_t out = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&out, "auth_token", p->issued.value);
    BSON_APPEND_UTF8(&out, "auth_token_valid_until", until);
    response_json(resp, 200, &out);
    bson_destroy(&out);
}

void handle_tokens_delete(const struct app *app, const struct request *req,
                          const struct route *route, struct response *resp)
{
    struct restfcgi_error err = {0};
    char userid[RESTFCGI_USERID_MAX + 1];
    if (!own(app, req, route, resp, true))
        return;
    if (route->name.len > RESTFCGI_USERID_MAX || memchr(route->name.ptr, '\0', route->name.len)) {
        response_error(resp, 400, "invalid userid");
        return;
    }
    memcpy(userid, route->name.ptr, route->name.len);
    userid[route->name.len] = '\0';
    if (app_tm(app)->revoke(app->tm.state, userid, &err))
        response_empty(resp, 204);
    else
        response_error_from(resp, &err);
}

void handle_roles_get(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp)
{
    const struct principal *p = req->principal;
    if (!own(app, req, route, resp, false))
        return;
    bson_t out = BSON_INITIALIZER, roles;
    BSON_APPEND_BOOL(&out, "authenticated", true);
    BSON_APPEND_ARRAY_BEGIN(&out, "roles", &roles);
    for (uint32_t i = 0; i < p->account.nroles; i++) {
        char key[16];
        const char *kp;
        bson_uint32_to_string(i, &kp, key, sizeof key);
        BSON_APPEND_UTF8(&roles, kp, p->account.roles[i]);
    }
    bson_append_array_end(&out, &roles);
    response_json(resp, 200, &out);
    bson_destroy(&out);
}

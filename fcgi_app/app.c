#include <string.h>

#include "acl.h"
#include "app.h"
#include "auth.h"
#include "handlers/policy.h"
#include "host.h"
#include "log.h"
#include "router.h"

bool app_init(struct app *app, const struct cfg *cfg, struct restfcgi_error *err)
{
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    if (!security_new(cfg, &app->sec, err))
        return false;
    if (!plugin_load(&app->tm, RESTFCGI_PLUGIN_TOKEN_MANAGER, cfg->tm_plugin, cfg->plugin_dir,
                     (const restfcgi_conf *)cfg->token_manager, err)) {
        security_free(app->sec);
        app->sec = NULL;
        return false;
    }
    if (plugin_load(&app->store, RESTFCGI_PLUGIN_STORE, cfg->store_plugin, cfg->plugin_dir,
                    (const restfcgi_conf *)cfg->store, err))
        return true;
    plugin_unload(&app->tm);
    security_free(app->sec);
    app->sec = NULL;
    return false;
}

bool app_worker_init(struct app *app, struct restfcgi_error *err)
{
    host_set_worker_threads((uint32_t)app->cfg->threads);
    /* The token manager must work: without it nobody can log in. */
    if (!plugin_worker_init(&app->tm, err))
        return false;
    if (!plugin_worker_init(&app->store, err)) {
        if (app->cfg->store_require_at_start)
            return false;
        /* Start anyway: requests that need the store answer 503 until it is back. */
        log_warn("store unreachable at start, serving 503 until it is back: %s", err->message);
    }
    /* The admin of an empty users collection; on failure the worker serves
     * and tries again before logins (auth.c). */
    struct restfcgi_error uerr = {0};
    if (!security_worker_init(app->sec, app, &uerr))
        log_warn("users not initialised yet: %s", uerr.message);
    return true;
}

const struct restfcgi_store_ops *app_store(const struct app *app)
{
    return plugin_ops(&app->store);
}

const struct restfcgi_token_manager_ops *app_tm(const struct app *app)
{
    return plugin_ops(&app->tm);
}

void app_free(struct app *app)
{
    plugin_unload(&app->store);
    plugin_unload(&app->tm);
    security_free(app->sec);
    app->sec = NULL;
}

/* CORS as RESTHeart: every response may be read by any origin's scripts,
 * with the headers clients need exposed; the Origin is echoed so that
 * credentials (Authorization) are allowed. */
static void add_cors(const struct request *req, struct response *resp)
{
    bool found;
    struct sv origin = request_header(req, "Origin", &found);
    if (found && origin.len && origin.len < 512 && !memchr(origin.ptr, '\r', origin.len) &&
        !memchr(origin.ptr, '\n', origin.len))
        response_header(resp, "Access-Control-Allow-Origin", "%.*s", (int)origin.len, origin.ptr);
    else
        response_header(resp, "Access-Control-Allow-Origin", "*");
    response_header(resp, "Access-Control-Allow-Credentials", "true");
    response_header(resp, "Access-Control-Expose-Headers",
                    "Location, ETag, Auth-Token, Auth-Token-Valid-Until, Auth-Token-Location");
}

/* A preflight: answered for any path, before authentication. */
static void preflight(struct response *resp)
{
    response_empty(resp, 200);
    response_header(resp, "Access-Control-Allow-Methods", "GET, PUT, POST, PATCH, DELETE, OPTIONS");
    response_header(resp, "Access-Control-Allow-Headers",
                    "Accept, Accept-Encoding, Authorization, Content-Length, Content-Type, Host, "
                    "If-Match, If-None-Match, Origin, X-Requested-With, User-Agent, "
                    "No-Auth-Challenge");
    response_header(resp, "Access-Control-Max-Age", "86400");
}

/* The handler, or the 404/405 answer when the kind has none for the method. */
static handler_fn handler_for(const struct request *req, const struct route *route,
                              struct response *resp)
{
    char allow[128];
    handler_fn fn = router_handler(route->kind, req->method, allow, sizeof allow);
    if (fn)
        return fn;
    if (!allow[0]) {
        response_error(resp, 404, "no resource at this path");
        return NULL;
    }
    response_error(resp, 405, "method %.*s not allowed on this resource",
                   (int)(req->method_name.len > 32 ? 32 : req->method_name.len),
                   req->method_name.ptr);
    response_header(resp, "Allow", "%s", allow);
    return NULL;
}

static void refuse_auth(const struct app *app, const struct request *req,
                        const struct restfcgi_error *err, struct response *resp)
{
    if (err->code == 401) {
        /* The reason went to the debug log; the client learns only this. */
        auth_challenge(app, req, resp, "authentication failed");
    } else if (err->code == 429) {
        response_error_from(resp, err);
        response_header(resp, "Retry-After", "%lld", (long long)app->cfg->brute_window_s);
    } else {
        response_error_from(resp, err);
    }
}

/* Runs the handler of an allowed request under its grant's rules. */
static void run_granted(const struct app *app, struct request *req, const struct route *route,
                        handler_fn fn, struct grant *g, struct response *resp)
{
    struct shaper shaper = {0};
    struct restfcgi_error err = {0};
    req->grant = g;
    bool reads = req->method == HTTP_GET || req->method == HTTP_HEAD;
    bool carries_documents = route->kind == RES_DOCUMENT || route->kind == RES_COLLECTION ||
                             route->kind == RES_AGGR;
    if (reads && carries_documents && !policy_shape_responses(req, &shaper, resp, &err))
        response_error(resp, 500, "permission '%s' has an invalid projectResponse: %s",
                       g->permission, err.message);
    else
        fn(app, req, route, resp);
    resp->shape = NULL;
    policy_shaper_free(&shaper);
}

static void dispatch(const struct app *app, struct request *req, struct arena *arena,
                     struct principal *p, struct response *resp)
{
    struct restfcgi_error err = {0};
    struct route route;
    if (req->method == HTTP_OPTIONS) {
        preflight(resp);
        return;
    }
    if (!router_match(req, &route, &err)) {
        response_error_from(resp, &err);
        return;
    }
    handler_fn fn;
    /* Liveness and health answer anyone, without looking at credentials. */
    if (route.kind == RES_PING || route.kind == RES_HEALTH) {
        if ((fn = handler_for(req, &route, resp)))
            fn(app, req, &route, resp);
        return;
    }
    if (!auth_authenticate(app, req, arena, p, &err)) {
        refuse_auth(app, req, &err, resp);
        return;
    }
    req->principal = p;
    if (route.kind == RES_TOKENS || route.kind == RES_ROLES) {
        if (!p->authenticated)
            auth_challenge(app, req, resp, "authentication required");
        else if ((fn = handler_for(req, &route, resp)))
            fn(app, req, &route, resp);
        return;
    }
    struct grant g;
    switch (acl_authorize(app, req, &route, p, &g, &err)) {
    case ACL_ALLOW:
        log_debug("allowed by %s", g.permission);
        if ((fn = handler_for(req, &route, resp)))
            run_granted(app, req, &route, fn, &g, resp);
        break;
    case ACL_DENY:
        if (p->authenticated)
            response_error(resp, 403, "not allowed");
        else
            auth_challenge(app, req, resp, "authentication required");
        break;
    case ACL_ERROR:
        response_error_from(resp, &err);
        break;
    }
    grant_free(&g);
}

bool app_handle(const struct app *app, struct arena *arena, const struct request_io *io,
                const struct response_sink *sink, bool *body_unread)
{
    int64_t start = host_monotonic_ms();
    struct request req;
    struct response resp;
    struct restfcgi_error err = {0};
    struct principal *who = arena_alloc(arena, sizeof *who);
    response_init(&resp);
    if (!who)
        response_error(&resp, 500, "out of memory");
    else if (request_parse(&req, arena, io, app->cfg->base_path, &app->cfg->limits, &err)) {
        who->authenticated = false;
        dispatch(app, &req, arena, who, &resp);
        /* A revocation just made the token void: nothing to hand back. */
        bool revoked = req.method == HTTP_DELETE && resp.status == 204 &&
                       req.nsegments == 2 && sv_eq_cstr(req.segments[0], "tokens");
        if (req.principal && !revoked)
            auth_token_headers(app, who, &resp);
    } else
        response_error_from(&resp, &err);
    add_cors(&req, &resp);
    resp.head_only = req.method == HTTP_HEAD;
    *body_unread = req.body_unread;
    bool sent = response_send(&resp, sink);
    /* The path only: query strings may carry values nobody should log. */
    struct sv path = req.path;
    log_debug("%.*s %.*s -> %d in %lld ms", (int)(req.method_name.len > 16 ? 16 : req.method_name.len),
              req.method_name.ptr, (int)(path.len > 200 ? 200 : path.len), path.ptr, resp.status,
              (long long)(host_monotonic_ms() - start));
    response_free(&resp);
    return sent;
}

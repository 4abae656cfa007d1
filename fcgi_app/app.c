#include <string.h>

#include "app.h"
#include "host.h"
#include "log.h"
#include "router.h"

bool app_init(struct app *app, const struct cfg *cfg, struct restfcgi_error *err)
{
    memset(app, 0, sizeof *app);
    app->cfg = cfg;
    if (!plugin_load(&app->tm, RESTFCGI_PLUGIN_TOKEN_MANAGER, cfg->tm_plugin, cfg->plugin_dir,
                     (const restfcgi_conf *)cfg->token_manager, err))
        return false;
    if (plugin_load(&app->store, RESTFCGI_PLUGIN_STORE, cfg->store_plugin, cfg->plugin_dir,
                    (const restfcgi_conf *)cfg->store, err))
        return true;
    plugin_unload(&app->tm);
    return false;
}

bool app_worker_init(struct app *app, struct restfcgi_error *err)
{
    /* The token manager must work: without it nobody can log in. */
    if (!plugin_worker_init(&app->tm, err))
        return false;
    if (plugin_worker_init(&app->store, err))
        return true;
    if (app->cfg->store_require_at_start)
        return false;
    /* Start anyway: requests that need the store answer 503 until it is back. */
    log_warn("store unreachable at start, serving 503 until it is back: %s", err->message);
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

static void dispatch(const struct app *app, const struct request *req, struct response *resp)
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
    char allow[128];
    handler_fn fn = router_handler(route.kind, req->method, allow, sizeof allow);
    if (!fn) {
        if (!allow[0]) {
            response_error(resp, 404, "no resource at this path");
            return;
        }
        response_error(resp, 405, "method %.*s not allowed on this resource",
                       (int)(req->method_name.len > 32 ? 32 : req->method_name.len),
                       req->method_name.ptr);
        response_header(resp, "Allow", "%s", allow);
        return;
    }
    fn(app, req, &route, resp);
}

bool app_handle(const struct app *app, struct arena *arena, const struct request_io *io,
                const struct response_sink *sink, bool *body_unread)
{
    int64_t start = host_monotonic_ms();
    struct request req;
    struct response resp;
    struct restfcgi_error err = {0};
    response_init(&resp);
    if (request_parse(&req, arena, io, app->cfg->base_path, &app->cfg->limits, &err))
        dispatch(app, &req, &resp);
    else
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

#include <stdio.h>
#include <string.h>

#include "handlers/handlers.h"
#include "router.h"

static const char *const kind_names[] = {
    [RES_NONE] = "none",          [RES_ROOT] = "root",       [RES_DB] = "database",
    [RES_DB_META] = "db meta",    [RES_COLLECTION] = "collection",
    [RES_COLL_META] = "coll meta", [RES_SIZE] = "size",      [RES_INDEXES] = "indexes",
    [RES_INDEX] = "index",        [RES_AGGR] = "aggregation", [RES_BULK] = "bulk",
    [RES_DOCUMENT] = "document",  [RES_PING] = "ping",       [RES_HEALTH] = "health",
    [RES_TOKENS] = "tokens",      [RES_ROLES] = "roles",     [RES_METRICS] = "metrics",
};

const char *resource_kind_name(enum resource_kind kind)
{
    return (size_t)kind < sizeof kind_names / sizeof kind_names[0] ? kind_names[kind] : "none";
}

/* One row per (kind, method) served; the only place handlers are named. */
static const struct {
    enum resource_kind kind;
    enum http_method method;
    handler_fn fn;
} routes[] = {
    {RES_PING, HTTP_GET, handle_ping},
    {RES_HEALTH, HTTP_GET, handle_health},
    {RES_TOKENS, HTTP_GET, handle_tokens_get},
    {RES_TOKENS, HTTP_DELETE, handle_tokens_delete},
    {RES_ROLES, HTTP_GET, handle_roles_get},
    {RES_ROOT, HTTP_GET, handle_root_get},
    {RES_DB, HTTP_GET, handle_db_get},
    {RES_DB, HTTP_PUT, handle_db_put},
    {RES_DB, HTTP_DELETE, handle_db_delete},
    {RES_DB_META, HTTP_GET, handle_db_meta},
    {RES_COLLECTION, HTTP_PUT, handle_coll_put},
    {RES_COLLECTION, HTTP_DELETE, handle_coll_delete},
    {RES_COLL_META, HTTP_GET, handle_coll_meta},
    {RES_COLLECTION, HTTP_GET, handle_coll_get},
    {RES_COLLECTION, HTTP_POST, handle_coll_post},
    {RES_SIZE, HTTP_GET, handle_coll_size},
    {RES_BULK, HTTP_PATCH, handle_bulk_patch},
    {RES_BULK, HTTP_DELETE, handle_bulk_delete},
    {RES_INDEXES, HTTP_GET, handle_indexes_get},
    {RES_INDEX, HTTP_PUT, handle_index_put},
    {RES_INDEX, HTTP_DELETE, handle_index_delete},
    {RES_AGGR, HTTP_GET, handle_aggr_get},
    {RES_DOCUMENT, HTTP_GET, handle_doc_get},
    {RES_DOCUMENT, HTTP_PUT, handle_doc_put},
    {RES_DOCUMENT, HTTP_PATCH, handle_doc_patch},
    {RES_DOCUMENT, HTTP_DELETE, handle_doc_delete},
};

static bool not_found(struct restfcgi_error *err)
{
    err->domain = RESTFCGI_ERR_REQUEST;
    err->code = 404;
    snprintf(err->message, sizeof err->message, "no resource at this path");
    return false;
}

bool router_match(const struct request *req, struct route *route, struct restfcgi_error *err)
{
    memset(route, 0, sizeof *route);
    const struct sv *s = req->segments;
    size_t n = req->nsegments;
    if (n == 0) {
        route->kind = RES_ROOT;
        return true;
    }
    /* Service paths first. */
    if (n == 1 && sv_eq_cstr(s[0], "ping"))
        route->kind = RES_PING;
    else if (n == 1 && sv_eq_cstr(s[0], "health"))
        route->kind = RES_HEALTH;
    else if (n == 1 && sv_eq_cstr(s[0], "metrics"))
        route->kind = RES_METRICS;
    else if (n == 2 && sv_eq_cstr(s[0], "tokens"))
        route->kind = RES_TOKENS;
    else if (n == 2 && sv_eq_cstr(s[0], "roles"))
        route->kind = RES_ROLES;
    if (route->kind != RES_NONE) {
        if (n == 2)
            route->name = s[1];
        return true;
    }
    if (sv_eq_cstr(s[0], "ping") || sv_eq_cstr(s[0], "health") || sv_eq_cstr(s[0], "metrics") ||
        sv_eq_cstr(s[0], "tokens") || sv_eq_cstr(s[0], "roles"))
        return not_found(err);

    route->db = s[0];
    if (n == 1) {
        route->kind = RES_DB;
        return true;
    }
    if (n == 2) {
        route->kind = sv_eq_cstr(s[1], "_meta") ? RES_DB_META : RES_COLLECTION;
        if (route->kind == RES_COLLECTION)
            route->coll = s[1];
        return true;
    }
    route->coll = s[1];
    if (n == 3) {
        if (sv_eq_cstr(s[2], "_size"))
            route->kind = RES_SIZE;
        else if (sv_eq_cstr(s[2], "_meta"))
            route->kind = RES_COLL_META;
        else if (sv_eq_cstr(s[2], "_indexes"))
            route->kind = RES_INDEXES;
        else if (sv_eq_cstr(s[2], "*"))
            route->kind = RES_BULK;
        else {
            route->kind = RES_DOCUMENT;
            route->doc = s[2];
        }
        return true;
    }
    if (n == 4 && sv_eq_cstr(s[2], "_indexes")) {
        route->kind = RES_INDEX;
        route->name = s[3];
        return true;
    }
    if (n == 4 && sv_eq_cstr(s[2], "_aggrs")) {
        route->kind = RES_AGGR;
        route->name = s[3];
        return true;
    }
    return not_found(err);
}

handler_fn router_handler(enum resource_kind kind, enum http_method method, char *allow,
                          size_t allow_len)
{
    size_t used = 0;
    if (allow_len)
        allow[0] = '\0';
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (routes[i].kind != kind)
            continue;
        /* HEAD is GET without the body, wherever GET is served. */
        if (routes[i].method == method || (method == HTTP_HEAD && routes[i].method == HTTP_GET))
            return routes[i].fn;
        int w = snprintf(allow + used, allow_len - used, "%s%s%s", used ? ", " : "",
                         http_method_name(routes[i].method),
                         routes[i].method == HTTP_GET ? ", HEAD" : "");
        if (w > 0 && (size_t)w < allow_len - used)
            used += (size_t)w;
    }
    return NULL;
}

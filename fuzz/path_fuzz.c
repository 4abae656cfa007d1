/* libFuzzer target: URL paths. Input: one byte choosing the method and the
 * base path, then REQUEST_URI. request_parse splits and percent-decodes
 * the path and the query; the router classifies it and finds the handler;
 * the names are checked as the handlers check them; permission predicates
 * (path-template captures, path-prefix, qparams-contain, equals) are
 * evaluated against the decoded segments. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "acl_predicate.h"
#include "app.h"
#include "handlers/common.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                      "OPTIONS", "BREW"};
static const char *const predicates[] = {
    "path-template('/{db}/{coll}/{id}') and equals(${db}, 'shop')",
    "path-prefix('/shop/orders', '/a b/%41') or method(GET, PUT)",
    "path-template('/{db}/*') and qparams-contain(filter, page) and not path('/x/y')",
    "equals(@user._id, ${coll}) or path-template(value='/{x}/_aggrs/{coll}')",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct acl_pred *preds[sizeof predicates / sizeof predicates[0]];
    static struct cfg cfg;
    static bool loaded;
    if (!loaded) {
        char e[256];
        if (!cfg_load(&cfg, NULL, e, sizeof e))
            abort();
        for (size_t i = 0; i < sizeof preds / sizeof preds[0]; i++)
            if (!(preds[i] = acl_pred_parse(predicates[i], strlen(predicates[i]), e, sizeof e)))
                abort();
        loaded = true;
    }
    if (size < 1)
        return 0;
    const char *method = methods[data[0] & 7];
    const char *base = data[0] & 8 ? "/api" : "";
    static const char prefix[] = "REQUEST_URI=";
    char *uri = malloc(sizeof prefix + size);
    if (!uri)
        return 0;
    memcpy(uri, prefix, sizeof prefix - 1);
    memcpy(uri + sizeof prefix - 1, data + 1, size - 1);
    uri[sizeof prefix - 1 + size - 1] = '\0';
    char method_env[32];
    snprintf(method_env, sizeof method_env, "REQUEST_METHOD=%s", method);
    char *envp[] = {method_env, uri, NULL};
    struct arena arena;
    arena_init(&arena, 4096);
    struct request_io io = {.envp = envp};
    struct request req;
    struct restfcgi_error err = {0};
    struct route route;
    if (request_parse(&req, &arena, &io, base, &cfg.limits, &err) &&
        router_match(&req, &route, &err)) {
        char allow[128], db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1], index[NAME_MAX_LEN + 1];
        router_handler(route.kind, req.method, allow, sizeof allow);
        resource_kind_name(route.kind);
        route_db(&route, db, &err);
        route_coll(&route, db, coll, &err);
        name_check(NAME_INDEX, route.name, index, sizeof index, &err);
        static const char *const roles[] = {"user"};
        struct acl_request ar = {.method = req.method_name, .segments = req.segments,
                                 .nsegments = req.nsegments, .params = req.params,
                                 .nparams = req.nparams, .userid = SV_LIT("shop"),
                                 .roles = roles, .nroles = 1, .now_ms = 0};
        for (size_t i = 0; i < sizeof preds / sizeof preds[0]; i++) {
            struct acl_vars vars;
            struct sv v;
            if (acl_pred_eval(preds[i], &ar, &vars))
                acl_vars_get(&vars, SV_LIT("coll"), &v);
        }
    }
    arena_destroy(&arena);
    free(uri);
    return 0;
}

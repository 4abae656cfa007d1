/* Aggregations: GET /db/coll/_aggrs/name runs the pipeline the collection's
 * properties define as {"aggrs": [{"type": "pipeline", "uri": name,
 * "stages": [...]}]}, with {"$var": "x"} / {"$var": ["x", default]} bound
 * from ?avars={...}, and the page appended as $skip/$limit. */
#include <string.h>

#include "client_error.h"
#include "../json.h"
#include "../params.h"
#include "common.h"
#include "handlers.h"
#include "policy.h"

/* Depth bound of variable substitution: pipelines are stored JSON. */
#define AVARS_MAX_DEPTH 100

/* Copies src into dst (a document or an array), replacing $var documents. */
static bool bind_vars(bson_iter_t *src, bson_t *dst, bool is_array, const bson_t *avars, int depth,
                      struct restfcgi_error *err);

static bool bind_value(bson_iter_t *it, bson_t *dst, const char *key, const bson_t *avars,
                       int depth, struct restfcgi_error *err)
{
    if (depth > AVARS_MAX_DEPTH)
        return client_error(err, 400, "the aggregation nests too deep");
    bson_iter_t child;
    if (BSON_ITER_HOLDS_DOCUMENT(it) && bson_iter_recurse(it, &child)) {
        bson_iter_t peek = child;
        if (bson_iter_next(&peek) && strcmp(bson_iter_key(&peek), "$var") == 0) {
            const char *name = NULL;
            bson_iter_t dflt, arr;
            bool has_default = false;
            if (BSON_ITER_HOLDS_UTF8(&peek)) {
                name = bson_iter_utf8(&peek, NULL);
            } else if (BSON_ITER_HOLDS_ARRAY(&peek) && bson_iter_recurse(&peek, &arr) &&
                       bson_iter_next(&arr) && BSON_ITER_HOLDS_UTF8(&arr)) {
                name = bson_iter_utf8(&arr, NULL);
                dflt = arr;
                has_default = bson_iter_next(&dflt);
            }
            if (!name)
                return client_error(err, 400, "the aggregation: $var takes a name or [name, default]");
            bson_iter_t v;
            if (bson_iter_init_find(&v, avars, name))
                return bson_append_iter(dst, key, -1, &v);
            if (has_default)
                return bson_append_iter(dst, key, -1, &dflt);
            return client_error(err, 400, "the aggregation needs the variable %s in avars", name);
        }
        bson_t sub;
        bson_append_document_begin(dst, key, -1, &sub);
        bool ok = bind_vars(&child, &sub, false, avars, depth + 1, err);
        bson_append_document_end(dst, &sub);
        return ok;
    }
    if (BSON_ITER_HOLDS_ARRAY(it) && bson_iter_recurse(it, &child)) {
        bson_t sub;
        bson_append_array_begin(dst, key, -1, &sub);
        bool ok = bind_vars(&child, &sub, true, avars, depth + 1, err);
        bson_append_array_end(dst, &sub);
        return ok;
    }
    return bson_append_iter(dst, key, -1, it);
}

static bool bind_vars(bson_iter_t *src, bson_t *dst, bool is_array, const bson_t *avars, int depth,
                      struct restfcgi_error *err)
{
    (void)is_array;
    while (bson_iter_next(src)) {
        if (!bind_value(src, dst, bson_iter_key(src), avars, depth, err))
            return false;
    }
    return true;
}

/* The stages of the aggregation named uri in the collection's properties. */
static bool find_pipeline(const bson_t *props, struct sv uri, bson_t *stages,
                          struct restfcgi_error *err)
{
    bson_iter_t it, list, def;
    bson_init(stages);
    if (bson_iter_init_find(&it, props, "aggrs") && BSON_ITER_HOLDS_ARRAY(&it) &&
        bson_iter_recurse(&it, &list)) {
        while (bson_iter_next(&list)) {
            if (!BSON_ITER_HOLDS_DOCUMENT(&list) || !bson_iter_recurse(&list, &def))
                continue;
            bson_iter_t u = def, s = def;
            uint32_t n;
            const char *name;
            if (!bson_iter_find(&u, "uri") || !BSON_ITER_HOLDS_UTF8(&u))
                continue;
            name = bson_iter_utf8(&u, &n);
            if (n != uri.len || memcmp(name, uri.ptr, n) != 0)
                continue;
            if (!bson_iter_find(&s, "stages") || !BSON_ITER_HOLDS_ARRAY(&s))
                return client_error(err, 400, "aggregation %s has no stages array", name);
            uint32_t len;
            const uint8_t *data;
            bson_iter_array(&s, &len, &data);
            bson_t arr;
            bson_init_static(&arr, data, len);
            bson_destroy(stages);
            bson_copy_to(&arr, stages);
            return true;
        }
    }
    err->domain = RESTFCGI_ERR_REQUEST;
    err->code = 404;
    snprintf(err->message, sizeof err->message, "no aggregation '%.*s' in this collection",
             (int)(uri.len > 64 ? 64 : uri.len), uri.ptr);
    return false;
}

/* An avars value is data: a key or a string starting with '$' (or a
 * regular expression) anywhere in it would become an operator, a field path
 * or a variable once bound ({"o": {"$ne": null}} widens a $match, "$secret"
 * reads a field in a $project); RESTHeart refuses operators in avars too. */
static const char *avars_operator(bson_iter_t *it)
{
    while (bson_iter_next(it)) {
        bson_iter_t child;
        const char *found;
        if (bson_iter_key(it)[0] == '$')
            return bson_iter_key(it);
        if (BSON_ITER_HOLDS_UTF8(it) && bson_iter_utf8(it, NULL)[0] == '$')
            return bson_iter_utf8(it, NULL);
        /* {"$regex": ...} arrives as a regular expression value, which
         * matches as a pattern wherever an equality expected a value. */
        if (BSON_ITER_HOLDS_REGEX(it))
            return "a regular expression";
        if ((BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) &&
            bson_iter_recurse(it, &child) && (found = avars_operator(&child)))
            return found;
    }
    return NULL;
}

/* avars: a JSON object whose keys and values may not be operators. */
static bool parse_avars(const struct app *app, const struct request *req, bson_t *avars,
                        struct restfcgi_error *err)
{
    bool found;
    struct sv v = request_query(req, "avars", &found);
    if (!found) {
        bson_init(avars);
        return true;
    }
    if (!json_parse(v, app->cfg->limits.max_depth, false, "avars", avars, NULL, err))
        return false;
    if (!params_no_javascript(avars, err))
        return false;
    bson_iter_t it;
    const char *op = bson_iter_init(&it, avars) ? avars_operator(&it) : NULL;
    if (op)
        return client_error(err, 400, "avars may not hold operators or '$' strings (%.64s)", op);
    return true;
}

void handle_aggr_get(const struct app *app, const struct request *req, const struct route *route,
                     struct response *resp)
{
    char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    bson_t props = BSON_INITIALIZER, stages = BSON_INITIALIZER, avars = BSON_INITIALIZER;
    bson_t pipeline = BSON_INITIALIZER;
    struct find_params p;
    const struct restfcgi_store_ops *ops = app_store(app);
    /* params_find initialises p on every path, so it goes first. */
    bool ok = params_find(req, &app->cfg->limits, &p, &err) &&
              route_coll(route, db, coll, &err) && parse_avars(app, req, &avars, &err) &&
              ops->coll_get(app->store.state, db, coll, emit_copy, &props, &err) &&
              find_pipeline(&props, route->name, &stages, &err);
    if (ok) {
        bson_iter_t it;
        bson_iter_init(&it, &stages);
        ok = bind_vars(&it, &pipeline, true, &avars, 0, &err);
    }
    if (ok) {
        /* The page, as for documents. */
        uint32_t n = (uint32_t)bson_count_keys(&pipeline);
        char key[16];
        const char *kp;
        bson_t stage;
        bson_uint32_to_string(n, &kp, key, sizeof key);
        bson_append_document_begin(&pipeline, kp, -1, &stage);
        BSON_APPEND_INT64(&stage, "$skip", (p.page - 1) * p.pagesize);
        bson_append_document_end(&pipeline, &stage);
        if (p.pagesize > 0) {
            bson_uint32_to_string(n + 1, &kp, key, sizeof key);
            bson_append_document_begin(&pipeline, kp, -1, &stage);
            BSON_APPEND_INT64(&stage, "$limit", p.pagesize);
            bson_append_document_end(&pipeline, &stage);
        }
        bson_t allowed;
        ok = policy_pipeline(req, &pipeline, &allowed, &err);
        if (ok) {
            response_array_begin(resp, 200);
            ok = ops->aggregate(app->store.state, db, coll, bview(&allowed),
                                app->cfg->limits.query_time_ms, emit_doc_to_array, resp, &err);
        }
        if (ok)
            response_array_end(resp);
        bson_destroy(&allowed);
    }
    if (!ok)
        respond_store_error(resp, &err);
    params_find_free(&p);
    bson_destroy(&props);
    bson_destroy(&stages);
    bson_destroy(&avars);
    bson_destroy(&pipeline);
}

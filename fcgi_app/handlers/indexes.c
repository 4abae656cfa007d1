/* Indexes: GET /db/coll/_indexes, PUT and DELETE /db/coll/_indexes/name. */
#include <string.h>

#include "common.h"
#include "handlers.h"

void handle_indexes_get(const struct app *app, const struct request *req,
                        const struct route *route, struct response *resp)
{
    (void)req;
    char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    if (!route_coll(route, db, coll, &err)) {
        response_error_from(resp, &err);
        return;
    }
    response_array_begin(resp, 200);
    if (!app_store(app)->index_list(app->store.state, db, coll, emit_doc_to_array, resp, &err))
        respond_store_error(resp, &err);
    else
        response_array_end(resp);
}

/* {"keys": {...}, "ops": {"unique": bool}}: anything else is refused. */
static bool index_spec(const bson_t *body, bson_t *keys, bool *unique, struct restfcgi_error *err)
{
    bson_iter_t it, ops;
    *unique = false;
    bson_init(keys);
    err->domain = RESTFCGI_ERR_REQUEST;
    err->code = 400;
    if (!bson_iter_init_find(&it, body, "keys") || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
        snprintf(err->message, sizeof err->message, "the body needs \"keys\": {field: 1|-1, ...}");
        return false;
    }
    uint32_t len;
    const uint8_t *data;
    bson_iter_document(&it, &len, &data);
    bson_t k;
    bson_init_static(&k, data, len);
    bson_copy_to_excluding_noinit(&k, keys, "", NULL);
    bson_iter_init(&it, body);
    while (bson_iter_next(&it)) {
        const char *key = bson_iter_key(&it);
        if (strcmp(key, "keys") == 0)
            continue;
        if (strcmp(key, "ops") != 0 || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
            snprintf(err->message, sizeof err->message, "unknown index field '%.64s'", key);
            return false;
        }
        bson_iter_recurse(&it, &ops);
        while (bson_iter_next(&ops)) {
            const char *op = bson_iter_key(&ops);
            if (strcmp(op, "unique") == 0 && BSON_ITER_HOLDS_BOOL(&ops)) {
                *unique = bson_iter_bool(&ops);
            } else if (strcmp(op, "name") != 0) {
                snprintf(err->message, sizeof err->message, "unsupported index option '%.64s'", op);
                return false;
            }
        }
    }
    err->code = 0;
    return true;
}

void handle_index_put(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp)
{
    char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1], name[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    bson_t body = BSON_INITIALIZER, keys = BSON_INITIALIZER;
    bool unique;
    if (!route_coll(route, db, coll, &err) ||
        !name_check(NAME_INDEX, route->name, name, sizeof name, &err) ||
        !body_json(app, req, false, false, &body, NULL, &err) ||
        !index_spec(&body, &keys, &unique, &err) ||
        !app_store(app)->index_create(app->store.state, db, coll, name, bview(&keys), unique, &err))
        respond_store_error(resp, &err);
    else
        response_empty(resp, 201);
    bson_destroy(&body);
    bson_destroy(&keys);
}

void handle_index_delete(const struct app *app, const struct request *req,
                         const struct route *route, struct response *resp)
{
    (void)req;
    char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1], name[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    if (!route_coll(route, db, coll, &err) ||
        !name_check(NAME_INDEX, route->name, name, sizeof name, &err) ||
        !app_store(app)->index_drop(app->store.state, db, coll, name, &err))
        respond_store_error(resp, &err);
    else
        response_empty(resp, 204);
}

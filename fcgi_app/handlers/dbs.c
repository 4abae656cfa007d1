/* Databases: GET / (names), GET /db (collection names), PUT /db, DELETE /db,
 * GET /db/_meta; and the collection catalog: PUT/DELETE /db/coll,
 * GET /db/coll/_meta. */
#include <string.h>

#include "common.h"
#include "handlers.h"

/* props = body minus _id and _etag, plus a new _etag. */
static void props_build(const bson_t *body, const bson_oid_t *etag, bson_t *props)
{
    bson_init(props);
    bson_copy_to_excluding_noinit(body, props, "_id", "_etag", NULL);
    BSON_APPEND_OID(props, "_etag", etag);
}

static void respond_props(struct response *resp, const char *id, const bson_t *props)
{
    bson_t out = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&out, "_id", id);
    bson_concat(&out, props);
    bson_iter_t it;
    if (bson_iter_init_find(&it, props, "_etag") && BSON_ITER_HOLDS_OID(&it)) {
        char hex[25];
        bson_oid_to_string(bson_iter_oid(&it), hex);
        response_header(resp, "ETag", "%s", hex);
    }
    response_json(resp, 200, &out);
    bson_destroy(&out);
}

void handle_root_get(const struct app *app, const struct request *req, const struct route *route,
                     struct response *resp)
{
    (void)req;
    (void)route;
    struct restfcgi_error err = {0};
    response_array_begin(resp, 200);
    if (!app_store(app)->db_list(app->store.state, emit_id_string, resp, &err)) {
        respond_store_error(resp, &err);
        return;
    }
    response_array_end(resp);
}

void handle_db_get(const struct app *app, const struct request *req, const struct route *route,
                   struct response *resp)
{
    (void)req;
    char db[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    if (!route_db(route, db, &err)) {
        response_error_from(resp, &err);
        return;
    }
    response_array_begin(resp, 200);
    if (!app_store(app)->coll_list(app->store.state, db, emit_id_string, resp, &err)) {
        respond_store_error(resp, &err);
        return;
    }
    response_array_end(resp);
}

void handle_db_meta(const struct app *app, const struct request *req, const struct route *route,
                    struct response *resp)
{
    (void)req;
    char db[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    bson_t props = BSON_INITIALIZER;
    if (!route_db(route, db, &err) ||
        !app_store(app)->db_get(app->store.state, db, emit_copy, &props, &err))
        response_error_from(resp, &err);
    else
        respond_props(resp, db, &props);
    bson_destroy(&props);
}

/* PUT /db and PUT /db/coll: create (201) or replace the properties (200). */
static void put_props(const struct app *app, const struct request *req, const char *db,
                      const char *coll, struct response *resp)
{
    struct restfcgi_error err = {0};
    bson_t body, props;
    bson_oid_t etag;
    char hex[25], if_match[25];
    bool created = false, has_if_match;
    if (!body_json(app, req, true, false, &body, NULL, &err)) {
        bson_destroy(&body);
        response_error_from(resp, &err);
        return;
    }
    etag_new(&etag, hex);
    props_build(&body, &etag, &props);
    etag_if_match(req, if_match, &has_if_match);
    struct restfcgi_bson view = {bson_get_data(&props), props.len};
    const struct restfcgi_store_ops *ops = app_store(app);
    bool ok = coll ? ops->coll_put(app->store.state, db, coll, view,
                                   has_if_match ? if_match : NULL, &created, &err)
                   : ops->db_put(app->store.state, db, view, has_if_match ? if_match : NULL,
                                 &created, &err);
    if (ok) {
        response_empty(resp, created ? 201 : 200);
        response_header(resp, "ETag", "%s", hex);
    } else {
        respond_store_error(resp, &err);
    }
    bson_destroy(&body);
    bson_destroy(&props);
}

/* DELETE /db and DELETE /db/coll need the ETag, as RESTHeart. */
static void drop(const struct app *app, const struct request *req, const char *db,
                 const char *coll, struct response *resp)
{
    struct restfcgi_error err = {0};
    char if_match[25];
    bool has_if_match;
    etag_if_match(req, if_match, &has_if_match);
    if (!has_if_match) {
        response_error(resp, 409, "the %s's ETag must be provided using the 'If-Match' header",
                       coll ? "collection" : "database");
        return;
    }
    const struct restfcgi_store_ops *ops = app_store(app);
    bool ok = coll ? ops->coll_drop(app->store.state, db, coll, if_match, &err)
                   : ops->db_drop(app->store.state, db, if_match, &err);
    if (ok)
        response_empty(resp, 204);
    else
        respond_store_error(resp, &err);
}

void handle_db_put(const struct app *app, const struct request *req, const struct route *route,
                   struct response *resp)
{
    char db[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    if (!route_db(route, db, &err))
        response_error_from(resp, &err);
    else
        put_props(app, req, db, NULL, resp);
}

void handle_db_delete(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp)
{
    char db[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    if (!route_db(route, db, &err))
        response_error_from(resp, &err);
    else
        drop(app, req, db, NULL, resp);
}

void handle_coll_put(const struct app *app, const struct request *req, const struct route *route,
                     struct response *resp)
{
    char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    if (!route_coll(route, db, coll, &err))
        response_error_from(resp, &err);
    else
        put_props(app, req, db, coll, resp);
}

void handle_coll_delete(const struct app *app, const struct request *req,
                        const struct route *route, struct response *resp)
{
    char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    if (!route_coll(route, db, coll, &err))
        response_error_from(resp, &err);
    else
        drop(app, req, db, coll, resp);
}

void handle_coll_meta(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp)
{
    (void)req;
    char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    bson_t props = BSON_INITIALIZER;
    if (!route_coll(route, db, coll, &err) ||
        !app_store(app)->coll_get(app->store.state, db, coll, emit_copy, &props, &err))
        response_error_from(resp, &err);
    else
        respond_props(resp, coll, &props);
    bson_destroy(&props);
}

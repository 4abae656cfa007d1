/* Documents: GET, PUT (replace), PATCH (update), DELETE /db/coll/docid.
 * Every write sets a new _etag; If-Match is part of the write's filter, so
 * the check and the write are one atomic step in the store. */
#include <string.h>

#include "../ids.h"
#include "../json.h"
#include "../params.h"
#include "common.h"
#include "handlers.h"
#include "policy.h"

/* What every document request starts from: names, the id filter, If-Match. */
struct doc_target {
    char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1];
    bson_t id_filter;   /* {"_id": id} */
    bson_t write_filter; /* {"_id": id}[, "_etag": ObjectId] AND the ACL's writeFilter */
    bool has_if_match;
    char if_match[25];
};

static bool target_init(const struct request *req, const struct route *route,
                        struct doc_target *t, struct restfcgi_error *err)
{
    bson_init(&t->id_filter);
    bson_init(&t->write_filter);
    bool id_type_given;
    struct sv id_type = request_query(req, "id_type", &id_type_given);
    if (!route_coll(route, t->db, t->coll, err) ||
        !id_append(&t->id_filter, route->doc, id_type, id_type_given, err))
        return false;
    bson_t own = BSON_INITIALIZER;
    bson_concat(&own, &t->id_filter);
    etag_if_match(req, t->if_match, &t->has_if_match);
    if (t->has_if_match) {
        /* A value that is no ObjectId can never match: use one no write made. */
        bson_oid_t oid;
        if (t->if_match[0])
            bson_oid_init_from_string(&oid, t->if_match);
        else
            memset(&oid, 0, sizeof oid);
        BSON_APPEND_OID(&own, "_etag", &oid);
    }
    bson_destroy(&t->write_filter);
    policy_write_filter(req, &own, &t->write_filter);
    bson_destroy(&own);
    bool check_etag;
    request_query(req, "checkEtag", &check_etag);
    if (check_etag && !t->has_if_match) {
        err->domain = RESTFCGI_ERR_REQUEST;
        err->code = 409;
        snprintf(err->message, sizeof err->message,
                 "the document's ETag must be provided using the 'If-Match' header");
        return false;
    }
    return true;
}

static void target_free(struct doc_target *t)
{
    bson_destroy(&t->id_filter);
    bson_destroy(&t->write_filter);
}

/* Nothing matched a conditional write: 412 if the document exists, else 404. */
static void respond_no_match(const struct app *app, const struct request *req,
                             const struct doc_target *t, struct response *resp)
{
    struct restfcgi_error err = {0};
    int64_t n = 0;
    bson_t visible;
    policy_write_filter(req, &t->id_filter, &visible);
    bool ok = app_store(app)->count(app->store.state, t->db, t->coll, bview(&visible), 0, &n, &err);
    bson_destroy(&visible);
    if (!ok) {
        respond_store_error(resp, &err);
        return;
    }
    if (n > 0 && t->has_if_match)
        response_error(resp, 412, "the ETag does not match the document's");
    else
        response_error(resp, 404, "document not found");
}

static bool emit_one(void *out, const uint8_t *bson, uint32_t len, struct restfcgi_error *err)
{
    return emit_copy(out, bson, len, err);
}

void handle_doc_get(const struct app *app, const struct request *req, const struct route *route,
                    struct response *resp)
{
    struct doc_target t;
    struct restfcgi_error err = {0};
    bson_t doc = BSON_INITIALIZER, keys = BSON_INITIALIZER;
    if (!target_init(req, route, &t, &err))
        goto fail;
    for (size_t i = 0; i < req->nparams; i++) {
        if (!sv_eq_cstr(req->params[i].name, "keys"))
            continue;
        bson_t k;
        bool ok = json_parse(req->params[i].value, app->cfg->limits.max_depth, false, "keys", &k,
                             NULL, &err) &&
                  params_no_javascript(&k, &err);
        if (ok)
            bson_concat(&keys, &k);
        bson_destroy(&k);
        if (!ok)
            goto fail;
    }
    bson_t filter;
    bool allowed = policy_read_filter(req, &t.id_filter, &filter, &err);
    struct restfcgi_find q = {.filter = bview(&filter),
                              .projection = keys.len > 5 ? bview(&keys) : (struct restfcgi_bson){0},
                              .limit = 1,
                              .max_time_ms = app->cfg->limits.query_time_ms};
    allowed = allowed && app_store(app)->find(app->store.state, t.db, t.coll, &q, emit_one, &doc,
                                              &err);
    bson_destroy(&filter);
    if (!allowed)
        goto fail;
    if (bson_empty(&doc)) {
        response_error(resp, 404, "document not found");
        goto done;
    }
    bson_iter_t it;
    char hex[25] = "";
    if (bson_iter_init_find(&it, &doc, "_etag") && BSON_ITER_HOLDS_OID(&it))
        bson_oid_to_string(bson_iter_oid(&it), hex);
    bool inm;
    char none_match[25];
    etag_header(req, "If-None-Match", none_match, &inm);
    if (inm && hex[0] && strcmp(none_match, hex) == 0) {
        response_empty(resp, 304);
        response_header(resp, "ETag", "%s", hex);
        goto done;
    }
    response_json(resp, 200, &doc);
    if (hex[0])
        response_header(resp, "ETag", "%s", hex);
    goto done;
fail:
    respond_store_error(resp, &err);
done:
    bson_destroy(&doc);
    bson_destroy(&keys);
    target_free(&t);
}

/* The stored form of a replacement body: its fields, the URL's _id, a new
 * _etag. A body _id that differs from the URL's is a 400. */
static bool replacement(const bson_t *body, const bson_t *id_filter, const bson_oid_t *etag,
                        bson_t *out, struct restfcgi_error *err)
{
    bson_iter_t bi, ii;
    bson_init(out);
    if (bson_iter_init_find(&bi, body, "_id") && bson_iter_init_find(&ii, id_filter, "_id")) {
        const bson_value_t *a = bson_iter_value(&bi), *b = bson_iter_value(&ii);
        bool same = a->value_type == b->value_type;
        if (same && a->value_type == BSON_TYPE_OID)
            same = bson_oid_equal(&a->value.v_oid, &b->value.v_oid);
        else if (same && a->value_type == BSON_TYPE_UTF8)
            same = a->value.v_utf8.len == b->value.v_utf8.len &&
                   memcmp(a->value.v_utf8.str, b->value.v_utf8.str, a->value.v_utf8.len) == 0;
        if (!same) {
            err->domain = RESTFCGI_ERR_REQUEST;
            err->code = 400;
            snprintf(err->message, sizeof err->message,
                     "the _id in the body differs from the one in the URL");
            return false;
        }
    }
    bson_concat(out, id_filter);
    bson_copy_to_excluding_noinit(body, out, "_id", "_etag", NULL);
    BSON_APPEND_OID(out, "_etag", etag);
    return true;
}

void handle_doc_put(const struct app *app, const struct request *req, const struct route *route,
                    struct response *resp)
{
    struct doc_target t;
    struct restfcgi_error err = {0};
    bson_t body = BSON_INITIALIZER, doc = BSON_INITIALIZER;
    enum write_mode wm;
    bson_oid_t etag;
    char hex[25];
    if (!target_init(req, route, &t, &err) || !write_mode(req, WM_UPDATE, &wm, &err))
        goto fail;
    if (!body_json(app, req, false, false, &body, NULL, &err) || !doc_keys_ok(&body, &err) ||
        !policy_write_doc(app, req, &body, &err))
        goto fail;
    etag_new(&etag, hex);
    if (!replacement(&body, &t.id_filter, &etag, &doc, &err))
        goto fail;
    if (wm == WM_INSERT) {
        if (!app_store(app)->insert(app->store.state, t.db, t.coll, bview(&doc), &err))
            goto fail;
        response_empty(resp, 201);
    } else {
        struct restfcgi_write_result res = {0};
        if (!app_store(app)->replace(app->store.state, t.db, t.coll, bview(&t.write_filter),
                                     bview(&doc), wm == WM_UPSERT, &res, &err))
            goto fail;
        if (!res.matched && !res.upserted) {
            respond_no_match(app, req, &t, resp);
            goto done;
        }
        response_empty(resp, res.upserted ? 201 : 200);
    }
    response_header(resp, "ETag", "%s", hex);
    goto done;
fail:
    respond_store_error(resp, &err);
done:
    bson_destroy(&body);
    bson_destroy(&doc);
    target_free(&t);
}

void handle_doc_patch(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp)
{
    struct doc_target t;
    struct restfcgi_error err = {0};
    bson_t body = BSON_INITIALIZER, update = BSON_INITIALIZER;
    enum write_mode wm;
    bool is_array = false;
    bson_oid_t etag;
    char hex[25];
    if (!target_init(req, route, &t, &err) || !write_mode(req, WM_UPDATE, &wm, &err))
        goto fail;
    if (wm == WM_INSERT) {
        response_error(resp, 400, "PATCH updates; wm=insert is for POST and PUT");
        goto done;
    }
    if (!body_json(app, req, false, true, &body, &is_array, &err) ||
        !policy_write_update(app, req, &body, is_array, &err))
        goto fail;
    etag_new(&etag, hex);
    if (!patch_update(&body, is_array, &etag, &update, &err))
        goto fail;
    struct restfcgi_write_result res = {0};
    if (!app_store(app)->update(app->store.state, t.db, t.coll, bview(&t.write_filter),
                                bview(&update), is_array, false, wm == WM_UPSERT, &res, &err))
        goto fail;
    if (!res.matched && !res.upserted) {
        respond_no_match(app, req, &t, resp);
        goto done;
    }
    response_empty(resp, res.upserted ? 201 : 200);
    response_header(resp, "ETag", "%s", hex);
    goto done;
fail:
    respond_store_error(resp, &err);
done:
    bson_destroy(&body);
    bson_destroy(&update);
    target_free(&t);
}

void handle_doc_delete(const struct app *app, const struct request *req,
                       const struct route *route, struct response *resp)
{
    struct doc_target t;
    struct restfcgi_error err = {0};
    struct restfcgi_write_result res = {0};
    if (!target_init(req, route, &t, &err) ||
        !app_store(app)->remove(app->store.state, t.db, t.coll, bview(&t.write_filter), false,
                                &res, &err)) {
        respond_store_error(resp, &err);
    } else if (!res.deleted) {
        respond_no_match(app, req, &t, resp);
    } else {
        response_empty(resp, 204);
    }
    target_free(&t);
}

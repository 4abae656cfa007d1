/* Collections as document sets: GET (a page of documents), POST (insert one
 * or many), GET _size, and the bulk resource /db/coll/{*} (PATCH, DELETE). */
#include <stddef.h>
#include <string.h>

#include "../ids.h"
#include "../params.h"
#include "common.h"
#include "handlers.h"
#include "policy.h"

void handle_coll_get(const struct app *app, const struct request *req, const struct route *route,
                     struct response *resp)
{
    char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    struct find_params p;
    const struct restfcgi_store_ops *ops = app_store(app);
    bool ok = route_coll(route, db, coll, &err);
    if (!ok) {
        response_error_from(resp, &err);
        return;
    }
    ok = params_find(req, &app->cfg->limits, &p, &err);
    if (ok) {
        bson_t filter;
        ok = policy_read_filter(req, &p.filter, &filter, &err) &&
             policy_no_password(req, &p.sort, "sorting", &err) &&
             policy_no_password(req, &p.hint, "a hint", &err);
        bson_destroy(&p.filter);
        bson_steal(&p.filter, &filter);
    }
    if (ok && p.count) {
        /* The total matching the filter, whatever the page. */
        int64_t n = 0;
        ok = ops->count(app->store.state, db, coll, bview(&p.filter), app->cfg->limits.query_time_ms,
                        &n, &err);
        if (ok)
            response_header(resp, "X-Total-Count", "%lld", (long long)n);
    }
    if (ok) {
        struct restfcgi_find q = {
            .filter = bview(&p.filter),
            .projection = bson_empty(&p.keys) ? (struct restfcgi_bson){0} : bview(&p.keys),
            .sort = bson_empty(&p.sort) ? (struct restfcgi_bson){0} : bview(&p.sort),
            .hint = bson_empty(&p.hint) ? (struct restfcgi_bson){0} : bview(&p.hint),
            .skip = (p.page - 1) * p.pagesize,
            .limit = p.pagesize,
            .max_time_ms = app->cfg->limits.query_time_ms,
        };
        response_array_begin(resp, 200);
        if (p.pagesize == 0) {
            /* No documents, but the collection must exist. */
            int64_t n;
            ok = ops->count(app->store.state, db, coll, bview(&p.filter), 0, &n, &err);
        } else {
            ok = ops->find(app->store.state, db, coll, &q, emit_doc_to_array, resp, &err);
        }
        response_array_end(resp);
    }
    if (!ok)
        respond_store_error(resp, &err);
    params_find_free(&p);
}

void handle_coll_size(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp)
{
    char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    bson_t filter = BSON_INITIALIZER;
    int64_t n = 0;
    bson_t allowed = BSON_INITIALIZER;
    if (!route_coll(route, db, coll, &err) ||
        !params_filter(req, &app->cfg->limits, false, &filter, &err) ||
        !policy_read_filter(req, &filter, &allowed, &err) ||
        !app_store(app)->count(app->store.state, db, coll, bview(&allowed),
                               app->cfg->limits.query_time_ms, &n, &err)) {
        respond_store_error(resp, &err);
    } else {
        bson_t out = BSON_INITIALIZER;
        BSON_APPEND_INT64(&out, "_size", n);
        response_json(resp, 200, &out);
        bson_destroy(&out);
    }
    bson_destroy(&filter);
    bson_destroy(&allowed);
}

/* The stored form of a posted document: its fields, its _id (a new
 * ObjectId when absent), a new _etag. */
static void posted(const bson_t *body, const bson_oid_t *etag, bson_t *out)
{
    bson_iter_t it;
    bson_init(out);
    if (bson_iter_init_find(&it, body, "_id")) {
        bson_append_iter(out, "_id", 3, &it);
    } else {
        bson_oid_t id;
        bson_oid_init(&id, NULL);
        BSON_APPEND_OID(out, "_id", &id);
    }
    bson_copy_to_excluding_noinit(body, out, "_id", "_etag", NULL);
    BSON_APPEND_OID(out, "_etag", etag);
}

/* Writes one posted document as the write mode says; *status 201 when it
 * was inserted, 200 when an existing one was replaced. */
static bool write_posted(const struct app *app, const char *db, const char *coll,
                         enum write_mode wm, const bson_t *doc, int *status,
                         struct restfcgi_error *err)
{
    const struct restfcgi_store_ops *ops = app_store(app);
    if (wm == WM_INSERT) {
        *status = 201;
        return ops->insert(app->store.state, db, coll, bview(doc), err);
    }
    bson_t filter = BSON_INITIALIZER;
    bson_iter_t it;
    bson_iter_init_find(&it, doc, "_id");
    bson_append_iter(&filter, "_id", 3, &it);
    struct restfcgi_write_result res = {0};
    bool ok = ops->replace(app->store.state, db, coll, bview(&filter), bview(doc),
                           wm == WM_UPSERT, &res, err);
    if (ok && !res.matched && !res.upserted) {
        err->domain = RESTFCGI_ERR_REQUEST;
        err->code = 404;
        snprintf(err->message, sizeof err->message, "document not found (wm=update)");
        return false;
    }
    *status = res.upserted ? 201 : 200;
    return ok;
}

/* Location of a document: base_path/db/coll/id[?id_type=...]. */
static void set_location(const struct app *app, const char *db, const char *coll,
                         const bson_t *doc, struct response *resp)
{
    bson_iter_t it;
    char seg[3 * 1024 + 1];
    const char *id_type;
    if (!bson_iter_init_find(&it, doc, "_id") ||
        !id_to_segment(bson_iter_value(&it), seg, sizeof seg, &id_type))
        return;
    response_header(resp, "Location", "%s/%s/%s/%s%s%s", app->cfg->base_path, db, coll, seg,
                    id_type ? "?id_type=" : "", id_type ? id_type : "");
}

static void post_one(const struct app *app, const struct request *req, const char *db,
                     const char *coll, enum write_mode wm, bson_t *body, struct response *resp)
{
    struct restfcgi_error err = {0};
    bson_oid_t etag;
    char hex[25];
    bson_t doc = BSON_INITIALIZER;
    int status = 0;
    etag_new(&etag, hex);
    if (policy_write_doc(app, req, body, &err)) {
        bson_destroy(&doc);
        posted(body, &etag, &doc);
    }
    if (err.code || !write_posted(app, db, coll, wm, &doc, &status, &err)) {
        respond_store_error(resp, &err);
    } else {
        response_empty(resp, status);
        response_header(resp, "ETag", "%s", hex);
        set_location(app, db, coll, &doc, resp);
    }
    bson_destroy(&doc);
}

/* The store's batch op (ABI 1.2) when its table has one. */
static bool store_batch(const struct app *app, bool begin, struct restfcgi_error *err)
{
    const struct restfcgi_store_ops *ops = app_store(app);
    if (ops->life.struct_size < offsetof(struct restfcgi_store_ops, batch) + sizeof ops->batch ||
        !ops->batch)
        return !begin;
    return ops->batch(app->store.state, begin, err);
}

/* An array body: each document written on its own (in one batch when the
 * store has them). 200 with counters when all succeed; 207 with the
 * failures (index, status, message) otherwise; 503 when the batch was lost. */
static void post_many(const struct app *app, const struct request *req, const char *db,
                      const char *coll, enum write_mode wm, const bson_t *body,
                      struct response *resp)
{
    bson_iter_t it;
    bson_t errors = BSON_INITIALIZER;
    int64_t inserted = 0, replaced = 0, failed = 0, n = 0;
    struct restfcgi_error berr = {0};
    bool batched = store_batch(app, true, &berr);
    bson_iter_init(&it, body);
    while (bson_iter_next(&it)) {
        struct restfcgi_error err = {0};
        int status = 0;
        bool ok = false;
        if (!BSON_ITER_HOLDS_DOCUMENT(&it)) {
            err.code = 400;
            snprintf(err.message, sizeof err.message, "element is not a document");
        } else {
            uint32_t len;
            const uint8_t *data;
            bson_t view, elem, doc;
            bson_oid_t etag;
            char hex[25];
            bson_iter_document(&it, &len, &data);
            bson_init_static(&view, data, len);
            bson_copy_to(&view, &elem);
            if (doc_keys_ok(&elem, &err) && policy_write_doc(app, req, &elem, &err)) {
                etag_new(&etag, hex);
                posted(&elem, &etag, &doc);
                ok = write_posted(app, db, coll, wm, &doc, &status, &err);
                bson_destroy(&doc);
            }
            bson_destroy(&elem);
        }
        if (ok) {
            status == 201 ? inserted++ : replaced++;
        } else {
            /* A missing collection fails every element alike: say it once. */
            if (err.code == 404 && n == 0 && wm == WM_INSERT) {
                if (batched)
                    store_batch(app, false, &berr);
                bson_destroy(&errors);
                respond_store_error(resp, &err);
                return;
            }
            bson_t e;
            char key[16];
            const char *kp;
            bson_uint32_to_string((uint32_t)failed++, &kp, key, sizeof key);
            bson_append_document_begin(&errors, kp, -1, &e);
            BSON_APPEND_INT64(&e, "index", n);
            BSON_APPEND_INT32(&e, "http status code", err.code ? err.code : 500);
            BSON_APPEND_UTF8(&e, "message", err.message);
            bson_append_document_end(&errors, &e);
        }
        n++;
    }
    if (batched && !store_batch(app, false, &berr)) {
        bson_destroy(&errors);
        respond_store_error(resp, &berr);
        return;
    }
    bson_t out = BSON_INITIALIZER;
    BSON_APPEND_INT64(&out, "inserted", inserted);
    BSON_APPEND_INT64(&out, "modified", replaced);
    BSON_APPEND_INT64(&out, "failed", failed);
    if (failed)
        BSON_APPEND_ARRAY(&out, "errors", &errors);
    response_json(resp, failed ? 207 : 200, &out);
    bson_destroy(&out);
    bson_destroy(&errors);
}

void handle_coll_post(const struct app *app, const struct request *req, const struct route *route,
                      struct response *resp)
{
    char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    bson_t body = BSON_INITIALIZER;
    bool is_array = false;
    enum write_mode wm;
    if (!route_coll(route, db, coll, &err) || !write_mode(req, WM_INSERT, &wm, &err) ||
        !body_json(app, req, false, true, &body, &is_array, &err) ||
        (!is_array && !doc_keys_ok(&body, &err))) {
        respond_store_error(resp, &err);
    } else if (is_array) {
        post_many(app, req, db, coll, wm, &body, resp);
    } else {
        post_one(app, req, db, coll, wm, &body, resp);
    }
    bson_destroy(&body);
}

/* PATCH /db/coll/{*}?filter=...: the update applied to every match. */
void handle_bulk_patch(const struct app *app, const struct request *req,
                       const struct route *route, struct response *resp)
{
    char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    bson_t filter = BSON_INITIALIZER, body = BSON_INITIALIZER, update = BSON_INITIALIZER;
    bool is_array = false;
    bool ok = route_coll(route, db, coll, &err) &&
              params_filter(req, &app->cfg->limits, true, &filter, &err) &&
              policy_no_password(req, &filter, "filtering", &err) &&
              body_json(app, req, false, true, &body, &is_array, &err) &&
              policy_write_update(app, req, &body, is_array, &err);
    if (ok) {
        bson_t allowed;
        policy_write_filter(req, &filter, &allowed);
        bson_destroy(&filter);
        bson_steal(&filter, &allowed);
        /* Every matched document gets a new _etag. */
        bson_oid_t etag;
        char hex[25];
        etag_new(&etag, hex);
        ok = patch_update(&body, is_array, &etag, &update, &err);
    }
    if (ok) {
        struct restfcgi_write_result res = {0};
        ok = app_store(app)->update(app->store.state, db, coll, bview(&filter), bview(&update),
                                    is_array, true, false, &res, &err);
        if (ok) {
            bson_t out = BSON_INITIALIZER;
            BSON_APPEND_INT64(&out, "matched", res.matched);
            BSON_APPEND_INT64(&out, "modified", res.modified);
            response_json(resp, 200, &out);
            bson_destroy(&out);
        }
    }
    if (!ok)
        respond_store_error(resp, &err);
    bson_destroy(&filter);
    bson_destroy(&body);
    bson_destroy(&update);
}

/* DELETE /db/coll/{*}?filter=...: every match removed. */
void handle_bulk_delete(const struct app *app, const struct request *req,
                        const struct route *route, struct response *resp)
{
    char db[NAME_MAX_LEN + 1], coll[NAME_MAX_LEN + 1];
    struct restfcgi_error err = {0};
    bson_t filter = BSON_INITIALIZER;
    struct restfcgi_write_result res = {0};
    bson_t allowed = BSON_INITIALIZER;
    bool ok = route_coll(route, db, coll, &err) &&
              params_filter(req, &app->cfg->limits, true, &filter, &err) &&
              policy_no_password(req, &filter, "filtering", &err);
    if (ok) {
        bson_destroy(&allowed);
        policy_write_filter(req, &filter, &allowed);
    }
    if (!ok ||
        !app_store(app)->remove(app->store.state, db, coll, bview(&allowed), true, &res, &err)) {
        respond_store_error(resp, &err);
    } else {
        bson_t out = BSON_INITIALIZER;
        BSON_APPEND_INT64(&out, "deleted", res.deleted);
        response_json(resp, 200, &out);
        bson_destroy(&out);
    }
    bson_destroy(&filter);
    bson_destroy(&allowed);
}

#include <string.h>

#include "../acl.h"
#include "../auth.h"
#include "../client_error.h"
#include "../users.h"
#include "mql.h"
#include "policy.h"

static const struct grant *grant_of(const struct request *req) { return req->grant; }

/* a AND b, either of which may be empty. */
static void and_filters(const bson_t *a, const bson_t *b, bson_t *out)
{
    bson_init(out);
    if (bson_empty(b)) {
        bson_concat(out, a);
        return;
    }
    if (bson_empty(a)) {
        bson_concat(out, b);
        return;
    }
    bson_t arr;
    BSON_APPEND_ARRAY_BEGIN(out, "$and", &arr);
    BSON_APPEND_DOCUMENT(&arr, "0", a);
    BSON_APPEND_DOCUMENT(&arr, "1", b);
    bson_append_array_end(out, &arr);
}

/* Any key "password" or "password.x" at any depth (operators included). */
static bool mentions_password(bson_iter_t *it, int depth)
{
    while (bson_iter_next(it)) {
        const char *k = bson_iter_key(it);
        if (strcmp(k, "password") == 0 || strncmp(k, "password.", 9) == 0)
            return true;
        bson_iter_t child;
        if ((BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) && depth < 100 &&
            bson_iter_recurse(it, &child) && mentions_password(&child, depth + 1))
            return true;
    }
    return false;
}

static bool doc_mentions_password(const bson_t *doc)
{
    bson_iter_t it;
    return bson_iter_init(&it, doc) && mentions_password(&it, 0);
}

bool policy_read_filter(const struct request *req, const bson_t *filter, bson_t *out,
                        struct restfcgi_error *err)
{
    const struct grant *g = grant_of(req);
    static const bson_t empty = BSON_INITIALIZER;
    if (g && g->users_coll && doc_mentions_password(filter)) {
        bson_init(out);
        return client_error(err, 403, "filtering on the password field is not allowed");
    }
    and_filters(filter, g && g->has_read_filter ? &g->read_filter : &empty, out);
    return true;
}

bool policy_no_password(const struct request *req, const bson_t *doc, const char *what,
                        struct restfcgi_error *err)
{
    const struct grant *g = grant_of(req);
    if (g && g->users_coll && doc_mentions_password(doc))
        return client_error(err, 403, "%s on the password field is not allowed", what);
    return true;
}

void policy_write_filter(const struct request *req, const bson_t *filter, bson_t *out)
{
    const struct grant *g = grant_of(req);
    static const bson_t empty = BSON_INITIALIZER;
    and_filters(filter, g && g->has_write_filter ? &g->write_filter : &empty, out);
}

/* doc's fields with merge's overriding them (top level). */
static void merge_fields(bson_t *doc, const bson_t *merge)
{
    bson_t out = BSON_INITIALIZER;
    bson_iter_t it;
    bson_iter_init(&it, doc);
    while (bson_iter_next(&it)) {
        bson_iter_t m;
        if (!bson_iter_init_find(&m, merge, bson_iter_key(&it)))
            bson_append_iter(&out, bson_iter_key(&it), -1, &it);
    }
    bson_concat(&out, merge);
    bson_destroy(doc);
    bson_steal(doc, &out);
}

bool policy_write_doc(const struct app *app, const struct request *req, bson_t *doc,
                      struct restfcgi_error *err)
{
    const struct grant *g = grant_of(req);
    if (!g)
        return true;
    if (g->has_merge_request)
        merge_fields(doc, &g->merge_request);
    return !g->users_coll || users_hash_field(security_users(app->sec), doc, err);
}

static bool is_operator_doc(const bson_t *body)
{
    bson_iter_t it;
    return bson_iter_init(&it, body) && bson_iter_next(&it) && bson_iter_key(&it)[0] == '$';
}

/* Applies policy_write_doc to the $set document of an operator update. */
static bool rewrite_set(const struct app *app, const struct request *req, bson_t *body,
                        struct restfcgi_error *err)
{
    bson_t set = BSON_INITIALIZER, out = BSON_INITIALIZER;
    bson_iter_t it;
    bool found = false;
    if (bson_iter_init_find(&it, body, "$set") && BSON_ITER_HOLDS_DOCUMENT(&it)) {
        const uint8_t *data;
        uint32_t len;
        bson_t view;
        bson_iter_document(&it, &len, &data);
        bson_init_static(&view, data, len);
        bson_concat(&set, &view);
        found = true;
    }
    bool ok = policy_write_doc(app, req, &set, err);
    if (ok && (found || !bson_empty(&set))) {
        bson_copy_to_excluding_noinit(body, &out, "$set", NULL);
        BSON_APPEND_DOCUMENT(&out, "$set", &set);
        bson_destroy(body);
        bson_steal(body, &out);
    } else {
        bson_destroy(&out);
    }
    bson_destroy(&set);
    return ok;
}

bool policy_write_update(const struct app *app, const struct request *req, bson_t *body,
                         bool is_pipeline, struct restfcgi_error *err)
{
    const struct grant *g = grant_of(req);
    if (!g || (!g->users_coll && !g->has_merge_request))
        return true;
    if (is_pipeline) {
        /* A pipeline computes values the rules cannot see in advance. */
        return client_error(err, 403, "update pipelines are not allowed on this collection");
    }
    if (!is_operator_doc(body))
        return policy_write_doc(app, req, body, err);
    if (g->users_coll) {
        bson_iter_t it;
        bson_iter_init(&it, body);
        while (bson_iter_next(&it)) {
            const char *op = bson_iter_key(&it);
            bson_iter_t child;
            bool hit = strcmp(op, "$set") != 0 && strcmp(op, "$unset") != 0 &&
                       BSON_ITER_HOLDS_DOCUMENT(&it) && bson_iter_recurse(&it, &child) &&
                       mentions_password(&child, 0);
            /* $rename {"x": "password"} names it in a value. */
            if (!hit && strcmp(op, "$rename") == 0 && bson_iter_recurse(&it, &child)) {
                while (bson_iter_next(&child)) {
                    if (BSON_ITER_HOLDS_UTF8(&child) &&
                        strncmp(bson_iter_utf8(&child, NULL), "password", 8) == 0)
                        hit = true;
                }
            }
            if (hit)
                return client_error(err, 403, "the password can only be set with $set");
        }
    }
    return rewrite_set(app, req, body, err);
}

bool policy_pipeline(const struct request *req, const bson_t *pipeline, bson_t *out,
                     struct restfcgi_error *err)
{
    const struct grant *g = grant_of(req);
    bson_init(out);
    if (g && g->users_coll)
        return client_error(err, 403, "aggregations are not allowed on the users collection");
    if (!g || !g->has_read_filter) {
        bson_concat(out, pipeline);
        return true;
    }
    bson_t stage;
    BSON_APPEND_DOCUMENT_BEGIN(out, "0", &stage);
    BSON_APPEND_DOCUMENT(&stage, "$match", &g->read_filter);
    bson_append_document_end(out, &stage);
    bson_iter_t it;
    bson_iter_init(&it, pipeline);
    for (uint32_t i = 1; bson_iter_next(&it); i++) {
        char key[16];
        const char *kp;
        bson_uint32_to_string(i, &kp, key, sizeof key);
        bson_append_iter(out, kp, -1, &it);
    }
    return true;
}

static void shape(const void *ctx, const bson_t *in, bson_t *out)
{
    const struct shaper *s = ctx;
    bson_t tmp = BSON_INITIALIZER;
    if (s->grant->users_coll)
        bson_copy_to_excluding_noinit(in, &tmp, "password", NULL);
    else
        bson_concat(&tmp, in);
    if (s->projection)
        mql_projection_apply(s->projection, &tmp, out);
    else
        bson_concat(out, &tmp);
    bson_destroy(&tmp);
}

bool policy_shape_responses(const struct request *req, struct shaper *s, struct response *resp,
                            struct restfcgi_error *err)
{
    memset(s, 0, sizeof *s);
    const struct grant *g = grant_of(req);
    if (!g || (!g->users_coll && !g->has_project_response))
        return true;
    s->grant = g;
    if (g->has_project_response &&
        !(s->projection = mql_projection_compile(&g->project_response, err))) {
        err->code = 500;
        return false;
    }
    resp->shape = shape;
    resp->shape_ctx = s;
    return true;
}

void policy_shaper_free(struct shaper *s)
{
    if (s->projection)
        mql_projection_free(s->projection);
    s->projection = NULL;
}

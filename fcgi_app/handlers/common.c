#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "../json.h"
#include "client_error.h"
#include "common.h"
#include "../params.h"

static bool unsupported_type(struct restfcgi_error *err, struct sv ct)
{
    err->domain = RESTFCGI_ERR_REQUEST;
    err->code = 415;
    snprintf(err->message, sizeof err->message,
             "Content-Type must be application/json, not '%.*s'", (int)(ct.len > 64 ? 64 : ct.len),
             ct.ptr);
    return false;
}

/* application/json or application/<x>+json, with or without parameters. */
static bool json_content_type(struct sv ct)
{
    size_t n = 0;
    while (n < ct.len && ct.ptr[n] != ';' && ct.ptr[n] != ' ')
        n++;
    struct sv type = {ct.ptr, n};
    if (type.len == 16 && strncasecmp(type.ptr, "application/json", 16) == 0)
        return true;
    return type.len > 17 && strncasecmp(type.ptr, "application/", 12) == 0 &&
           strncasecmp(type.ptr + type.len - 5, "+json", 5) == 0;
}

bool body_json(const struct app *app, const struct request *req, bool empty_ok, bool allow_array,
               bson_t *out, bool *is_array, struct restfcgi_error *err)
{
    if (is_array)
        *is_array = false;
    size_t i = 0;
    while (i < req->body.len && isspace((unsigned char)req->body.ptr[i]))
        i++;
    if (i == req->body.len) {
        bson_init(out);
        if (empty_ok)
            return true;
        err->domain = RESTFCGI_ERR_REQUEST;
        err->code = 400;
        snprintf(err->message, sizeof err->message, "a JSON request body is required");
        return false;
    }
    if (!json_content_type(req->content_type)) {
        bson_init(out);
        return unsupported_type(err, req->content_type);
    }
    return json_parse(req->body, app->cfg->limits.max_depth, allow_array, "the request body", out,
                      is_array, err) &&
           params_no_javascript(out, err);
}

void etag_new(bson_oid_t *oid, char hex[25])
{
    bson_oid_init(oid, NULL);
    bson_oid_to_string(oid, hex);
}

void etag_header(const struct request *req, const char *name, char out[25], bool *present)
{
    struct sv v = request_header(req, name, present);
    out[0] = '\0';
    if (!*present)
        return;
    if (v.len >= 2 && v.ptr[0] == 'W' && v.ptr[1] == '/') {
        v.ptr += 2;
        v.len -= 2;
    }
    if (v.len >= 2 && v.ptr[0] == '"' && v.ptr[v.len - 1] == '"') {
        v.ptr++;
        v.len -= 2;
    }
    if (v.len != 24)
        return;
    for (size_t i = 0; i < 24; i++) {
        if (!isxdigit((unsigned char)v.ptr[i])) {
            out[0] = '\0';
            return;
        }
        out[i] = (char)tolower((unsigned char)v.ptr[i]);
    }
    out[24] = '\0';
}

bool route_db(const struct route *route, char *db, struct restfcgi_error *err)
{
    return name_check(NAME_DB, route->db, db, NAME_MAX_LEN + 1, err);
}

bool route_coll(const struct route *route, char *db, char *coll, struct restfcgi_error *err)
{
    return route_db(route, db, err) && name_check(NAME_COLL, route->coll, coll, NAME_MAX_LEN + 1, err);
}

bool emit_id_string(void *resp, const uint8_t *bson, uint32_t len, struct restfcgi_error *err)
{
    (void)err;
    bson_t doc;
    bson_iter_t it;
    if (bson_init_static(&doc, bson, len) && bson_iter_init_find(&it, &doc, "_id") &&
        BSON_ITER_HOLDS_UTF8(&it)) {
        uint32_t n;
        const char *s = bson_iter_utf8(&it, &n);
        response_array_append_string(resp, s, n);
    }
    return true;
}

bool emit_doc_to_array(void *resp, const uint8_t *bson, uint32_t len, struct restfcgi_error *err)
{
    (void)err;
    bson_t doc;
    if (bson_init_static(&doc, bson, len))
        response_array_append(resp, &doc);
    return true;
}

bool emit_copy(void *out, const uint8_t *bson, uint32_t len, struct restfcgi_error *err)
{
    (void)err;
    bson_t doc;
    if (bson_init_static(&doc, bson, len)) {
        bson_destroy(out);
        bson_copy_to(&doc, out);
    }
    return true;
}

void respond_store_error(struct response *resp, const struct restfcgi_error *err)
{
    response_error_from(resp, err);
}

static bool keys_ok(bson_iter_t *it, int depth, struct restfcgi_error *err)
{
    while (bson_iter_next(it)) {
        const char *k = bson_iter_key(it);
        if (k[0] == '$' || strchr(k, '.')) {
            err->domain = RESTFCGI_ERR_REQUEST;
            err->code = 400;
            snprintf(err->message, sizeof err->message,
                     "field names may not start with '$' or contain '.': '%.64s'", k);
            return false;
        }
        bson_iter_t child;
        if ((BSON_ITER_HOLDS_DOCUMENT(it) || BSON_ITER_HOLDS_ARRAY(it)) && depth < 200 &&
            bson_iter_recurse(it, &child) && !keys_ok(&child, depth + 1, err))
            return false;
    }
    return true;
}

bool doc_keys_ok(const bson_t *doc, struct restfcgi_error *err)
{
    bson_iter_t it;
    /* A NUL inside a string _id would not survive the URL of the document. */
    if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it)) {
        uint32_t len;
        const char *s = bson_iter_utf8(&it, &len);
        if (strlen(s) != len)
            return client_error(err, 400, "an _id may not contain a NUL character");
    }
    return !bson_iter_init(&it, doc) || keys_ok(&it, 0, err);
}

bool write_mode(const struct request *req, enum write_mode dflt, enum write_mode *out,
                struct restfcgi_error *err)
{
    bool found;
    struct sv v = request_query(req, "wm", &found);
    if (!found)
        v = request_query(req, "writeMode", &found);
    *out = dflt;
    if (!found)
        return true;
    if (sv_eq_cstr(v, "insert"))
        *out = WM_INSERT;
    else if (sv_eq_cstr(v, "update"))
        *out = WM_UPDATE;
    else if (sv_eq_cstr(v, "upsert"))
        *out = WM_UPSERT;
    else {
        err->domain = RESTFCGI_ERR_REQUEST;
        err->code = 400;
        snprintf(err->message, sizeof err->message, "wm must be insert, update or upsert");
        return false;
    }
    return true;
}

/* {"$each": [...], "$slice": n, ...}: the value of a $push or $addToSet
 * that carries modifiers rather than a document to add. */
static bool only_modifiers(const bson_iter_t *doc)
{
    static const char *const names[] = {"$each", "$slice", "$sort", "$position"};
    bson_iter_t it = *doc;
    bool any = false;
    while (bson_iter_next(&it)) {
        bool known = false;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            known = known || !strcmp(bson_iter_key(&it), names[i]);
        if (!known)
            return false;
        any = true;
    }
    return any;
}

/* The values a PATCH writes hold no '$'-prefixed or dotted field names,
 * as doc_keys_ok asks of POST and PUT bodies (the top-level keys are paths).
 * $pull takes conditions; $push and $addToSet may take modifiers, of which
 * $each holds values. */
static bool update_values_ok(const bson_t *body, bool plain, struct restfcgi_error *err)
{
    bson_iter_t op, field, child;
    if (!bson_iter_init(&op, body))
        return true;
    while (bson_iter_next(&op)) {
        const char *name = bson_iter_key(&op);
        if (plain) {
            if ((BSON_ITER_HOLDS_DOCUMENT(&op) || BSON_ITER_HOLDS_ARRAY(&op)) &&
                bson_iter_recurse(&op, &child) && !keys_ok(&child, 0, err))
                return false;
            continue;
        }
        if (!strcmp(name, "$pull") || !BSON_ITER_HOLDS_DOCUMENT(&op) ||
            !bson_iter_recurse(&op, &field))
            continue;
        bool modifiers_allowed = !strcmp(name, "$push") || !strcmp(name, "$addToSet");
        while (bson_iter_next(&field)) {
            if (!(BSON_ITER_HOLDS_DOCUMENT(&field) || BSON_ITER_HOLDS_ARRAY(&field)) ||
                !bson_iter_recurse(&field, &child))
                continue;
            if (modifiers_allowed && BSON_ITER_HOLDS_DOCUMENT(&field) && only_modifiers(&child)) {
                bson_iter_t each;
                if (bson_iter_find(&child, "$each") && BSON_ITER_HOLDS_ARRAY(&child) &&
                    bson_iter_recurse(&child, &each) && !keys_ok(&each, 0, err))
                    return false;
                continue;
            }
            if (!keys_ok(&child, 0, err))
                return false;
        }
    }
    return true;
}

/* PATCH bodies: update operators ({"$inc": ...}), plain fields (applied as
 * $set, as RESTHeart does), or an array of pipeline stages. The new _etag
 * joins the update either way. */
bool patch_update(const bson_t *body, bool is_array, const bson_oid_t *etag, bson_t *out,
                         struct restfcgi_error *err)
{
    bson_iter_t it;
    bson_init(out);
    if (is_array) {
        uint32_t n = 0;
        if (bson_iter_init(&it, body)) {
            while (bson_iter_next(&it)) {
                if (!BSON_ITER_HOLDS_DOCUMENT(&it))
                    goto bad_stage;
                bson_append_iter(out, bson_iter_key(&it), -1, &it);
                n++;
            }
        }
        if (n == 0)
            goto bad_stage;
        char key[16];
        const char *kp;
        bson_uint32_to_string(n, &kp, key, sizeof key);
        bson_t stage, set;
        bson_append_document_begin(out, kp, -1, &stage);
        bson_append_document_begin(&stage, "$set", 4, &set);
        BSON_APPEND_OID(&set, "_etag", etag);
        bson_append_document_end(&stage, &set);
        bson_append_document_end(out, &stage);
        return true;
    }
    size_t ops = 0, plain = 0;
    if (bson_iter_init(&it, body)) {
        while (bson_iter_next(&it))
            bson_iter_key(&it)[0] == '$' ? ops++ : plain++;
    }
    if (ops && plain) {
        err->domain = RESTFCGI_ERR_REQUEST;
        err->code = 400;
        snprintf(err->message, sizeof err->message,
                 "a PATCH body has either update operators or plain fields, not both");
        return false;
    }
    if (ops + plain == 0) {
        err->domain = RESTFCGI_ERR_REQUEST;
        err->code = 400;
        snprintf(err->message, sizeof err->message, "an empty PATCH body changes nothing");
        return false;
    }
    if (!update_values_ok(body, plain != 0, err))
        return false;
    bson_t set;
    bool set_done = false;
    if (plain) {
        bson_append_document_begin(out, "$set", 4, &set);
        bson_copy_to_excluding_noinit(body, &set, "_etag", NULL);
        BSON_APPEND_OID(&set, "_etag", etag);
        bson_append_document_end(out, &set);
        return true;
    }
    bson_iter_init(&it, body);
    while (bson_iter_next(&it)) {
        if (strcmp(bson_iter_key(&it), "$set") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            bson_t given;
            uint32_t len;
            const uint8_t *data;
            bson_iter_document(&it, &len, &data);
            bson_init_static(&given, data, len);
            bson_append_document_begin(out, "$set", 4, &set);
            bson_copy_to_excluding_noinit(&given, &set, "_etag", NULL);
            BSON_APPEND_OID(&set, "_etag", etag);
            bson_append_document_end(out, &set);
            set_done = true;
        } else {
            bson_append_iter(out, NULL, 0, &it);
        }
    }
    if (!set_done) {
        bson_append_document_begin(out, "$set", 4, &set);
        BSON_APPEND_OID(&set, "_etag", etag);
        bson_append_document_end(out, &set);
    }
    return true;
bad_stage:
    err->domain = RESTFCGI_ERR_REQUEST;
    err->code = 400;
    snprintf(err->message, sizeof err->message,
             "an update pipeline is a non-empty array of stage documents");
    return false;
}


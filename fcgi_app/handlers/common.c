#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "../json.h"
#include "common.h"

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
                      is_array, err);
}

void etag_new(bson_oid_t *oid, char hex[25])
{
    bson_oid_init(oid, NULL);
    bson_oid_to_string(oid, hex);
}

void etag_if_match(const struct request *req, char out[25], bool *present)
{
    struct sv v = request_header(req, "If-Match", present);
    out[0] = '\0';
    if (!*present)
        return;
    /* Accept "hex", W/"hex" and bare hex, as clients send them. */
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

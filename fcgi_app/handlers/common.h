/* common.h: what several handlers share: request bodies, ETags, names,
 * and store results streamed into responses. */
#ifndef RESTFCGI_HANDLERS_COMMON_H
#define RESTFCGI_HANDLERS_COMMON_H

#include <bson/bson.h>

#include "../app.h"
#include "../names.h"
#include "../router.h"

/* The request body as a JSON object (allow_array: or an array, *is_array
 * set). An empty body is {} when empty_ok. Content-Type must be JSON
 * (application/json or application/<x>+json, parameters allowed): else 415.
 * out is initialised on every path. */
bool body_json(const struct app *app, const struct request *req, bool empty_ok, bool allow_array,
               bson_t *out, bool *is_array, struct restfcgi_error *err);

/* A fresh ETag (ObjectId) as bson value and as 24 hex characters. */
void etag_new(bson_oid_t *oid, char hex[25]);

/* An ETag header (If-Match, If-None-Match) normalised to 24 lowercase hex
 * characters: *present tells whether the header was sent; a value that is
 * no ObjectId becomes "" (it can never match). "hex", W/"hex" and bare hex
 * are accepted, as clients send them. */
void etag_header(const struct request *req, const char *name, char out[25], bool *present);
#define etag_if_match(req, out, present) etag_header((req), "If-Match", (out), (present))

/* Names from the route, checked (reserved 403, invalid 400). */
bool route_db(const struct route *route, char *db, struct restfcgi_error *err);
bool route_coll(const struct route *route, char *db, char *coll, struct restfcgi_error *err);

/* An emit callback appending each result's "_id" string to an array body. */
bool emit_id_string(void *resp, const uint8_t *bson, uint32_t len, struct restfcgi_error *err);
/* An emit callback appending each result document to an array body. */
bool emit_doc_to_array(void *resp, const uint8_t *bson, uint32_t len, struct restfcgi_error *err);
/* An emit callback keeping the one document emitted (a bson_t *). */
bool emit_copy(void *doc, const uint8_t *bson, uint32_t len, struct restfcgi_error *err);

/* 400 for field names a stored document may not have: '$' at the start or
 * a '.' anywhere, at any depth (Extended JSON wrappers are already values). */
bool doc_keys_ok(const bson_t *doc, struct restfcgi_error *err);

/* The write mode (?wm= or ?writeMode=): insert, update or upsert; dflt when
 * absent; 400 for other values. */
enum write_mode { WM_INSERT, WM_UPDATE, WM_UPSERT };
bool write_mode(const struct request *req, enum write_mode dflt, enum write_mode *out,
                struct restfcgi_error *err);

/* A borrowed view of a bson_t for the store ABI. */
static inline struct restfcgi_bson bview(const bson_t *b)
{
    return (struct restfcgi_bson){bson_get_data(b), b->len};
}

/* The update a PATCH body asks for (operators, plain fields applied as
 * $set, or with is_array a pipeline), with the new _etag added; 400 for a
 * body mixing operators and fields, an empty one, or a bad pipeline. */
bool patch_update(const bson_t *body, bool is_array, const bson_oid_t *etag, bson_t *out,
                  struct restfcgi_error *err);

/* Answers a store failure: its status and message. */
void respond_store_error(struct response *resp, const struct restfcgi_error *err);

#endif

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

/* The If-Match header normalised to 24 lowercase hex characters: *present
 * tells whether the header was sent; a value that is no ObjectId becomes ""
 * (it can never match, so the write answers 412). */
void etag_if_match(const struct request *req, char out[25], bool *present);

/* Names from the route, checked (reserved 403, invalid 400). */
bool route_db(const struct route *route, char *db, struct restfcgi_error *err);
bool route_coll(const struct route *route, char *db, char *coll, struct restfcgi_error *err);

/* An emit callback appending each result's "_id" string to an array body. */
bool emit_id_string(void *resp, const uint8_t *bson, uint32_t len, struct restfcgi_error *err);
/* An emit callback keeping the one document emitted (a bson_t *). */
bool emit_copy(void *doc, const uint8_t *bson, uint32_t len, struct restfcgi_error *err);

/* Answers a store failure: its status and message. */
void respond_store_error(struct response *resp, const struct restfcgi_error *err);

#endif

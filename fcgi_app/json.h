/* json.h: Extended JSON from clients into bson (libbson), with the nesting
 * limit enforced before libbson's parser sees the text. */
#ifndef RESTFCGI_JSON_H
#define RESTFCGI_JSON_H

#include <bson/bson.h>

#include "restfcgi_plugin.h"
#include "sv.h"

/* Parses text (an object, or with allow_array an array, which becomes a
 * bson document with keys "0", "1", ...) into *out, which is initialised on
 * every path and must be destroyed by the caller. The text is checked as
 * strict JSON first (no NaN, no trailing text), then converted by libbson
 * (Extended JSON: {"$oid": ...}, {"$date": ...}). False with a 400 in err
 * for malformed JSON, invalid UTF-8, nesting deeper than max_depth, or a
 * wrong top type; what names the input ("the request body", "filter"). */
bool json_parse(struct sv text, int64_t max_depth, bool allow_array, const char *what,
                bson_t *out, bool *is_array, struct restfcgi_error *err);

/* A file of JSON (an array, or an object) of at most max_bytes, parsed as
 * json_parse does; false with a CONFIG error "PATH:0: message" (unreadable,
 * too large, malformed). out is initialised on every path. */
bool json_read_file(const char *path, size_t max_bytes, int64_t max_depth, bson_t *out,
                    struct restfcgi_error *err);

#endif

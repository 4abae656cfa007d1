/* ids.h: document ids in URLs, as RESTHeart's id_type reads them. */
#ifndef RESTFCGI_IDS_H
#define RESTFCGI_IDS_H

#include <bson/bson.h>

#include "restfcgi_plugin.h"
#include "sv.h"

/* Appends the id named by the path segment to doc under "_id". id_type is
 * the query parameter (absent: STRING_OID, an ObjectId when the segment is
 * 24 hex digits, else a string); OID, STRING, NUMBER, DATE (ms since the
 * epoch), BOOLEAN, NULL, MINKEY, MAXKEY. A segment that is not of that type,
 * or an unknown id_type, is a 400. */
bool id_append(bson_t *doc, struct sv segment, struct sv id_type, bool id_type_given,
               struct restfcgi_error *err);

/* The URL path segment and the id_type query (NULL when the default reads it
 * back) of an _id value, for Location headers; false for ids a URL cannot
 * carry (documents, arrays, binary). */
bool id_to_segment(const bson_value_t *id, char *out, size_t outlen, const char **id_type);

#endif

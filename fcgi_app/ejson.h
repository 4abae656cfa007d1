/* ejson.h: documents as relaxed Extended JSON, written straight into a
 * buffer. The bytes are exactly those of libbson's
 * bson_as_relaxed_extended_json (tests/unit/fcgi_app/ejson.c compares the
 * two), without its allocations per value: that function was 70% of a GET
 * of 100 documents (perf). */
#ifndef RESTFCGI_EJSON_H
#define RESTFCGI_EJSON_H

#include <bson/bson.h>
#include <stdbool.h>

#include "buf.h"

/* Appends doc to out. False, with out as it was, when libbson gives no JSON
 * for it either (corrupt BSON, a string it cannot escape), or when out
 * failed to grow (out->failed). */
bool ejson_append(struct buf *out, const bson_t *doc);

#endif

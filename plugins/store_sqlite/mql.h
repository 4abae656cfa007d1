/*
 * mql.h: the MongoDB query language over bson documents, as the sqlite store
 * needs it: value comparison in BSON sort order, filters, sort, projection,
 * update operators and aggregation pipelines.
 *
 * Semantics follow MongoDB 6/7 for the subset below; anything outside the
 * subset is refused with a 400 whose message names the operator (never a
 * silently different answer). Every function is thread-safe; compiled forms
 * are immutable once built and may be shared between threads.
 *
 * Errors: functions that can fail take a struct restfcgi_error *err and fill
 * it with domain RESTFCGI_ERR_REQUEST and code 400 (the client's fault) or
 * domain RESTFCGI_ERR_INTERNAL and code 500 (out of memory).
 * Out-documents (bson_t *out) are initialised on every path, success or not;
 * the caller always bson_destroy()s them.
 */
#ifndef RESTFCGI_MQL_H
#define RESTFCGI_MQL_H

#include <bson/bson.h>
#include <stdbool.h>
#include <stdint.h>

#include "restfcgi_plugin.h"

/* ---- values (mql_value.c) ---- */

/* The deepest document an update (operators or pipeline) or an aggregation
 * stage may build, counting the top-level document as level 1 (MongoDB's
 * limit of 100 levels of nesting), and the most components a dotted path of
 * an update operator may have. Past either: 400 naming the limit. */
#define MQL_MAX_DEPTH 100

/* The bound of every recursion over a document (comparison, keys, sort,
 * projection, path walks), above the deepest JSON the server parses (1000):
 * a stored document nested deeper than this (which no write lets in) is
 * compared as equal past the bound, cannot be keyed, and projects as if its
 * deeper levels were leaves; a path with more steps reaches nothing. */
#define MQL_MAX_NESTING 1024

/* The nesting depth of doc (an empty document is 1; {"a": {}} is 2), or
 * limit + 1 when it is deeper than limit. Iterative: safe on any input. */
size_t mql_doc_depth(const bson_t *doc, size_t limit);

/* MongoDB's comparison/sort order across types: MinKey < null (and missing)
 * < numbers (int32, int64, double, decimal128 compared exactly by value;
 * NaN equal to NaN and below every other number) < string (and symbol) <
 * object < array < binary < ObjectId < bool < date < timestamp < regex <
 * MaxKey. Within a type, by value (strings bytewise, documents and arrays
 * element by element). Returns <0, 0 or >0. */
int mql_value_compare(const bson_value_t *a, const bson_value_t *b);

/* Equality as $eq sees it: numbers of different types compare by value. */
bool mql_value_equal(const bson_value_t *a, const bson_value_t *b);

/* True for a double or decimal128 NaN. */
bool mql_is_nan(const bson_value_t *v);

/* The rank of a type in the order above (null and missing share one). */
int mql_type_rank(bson_type_t t);

/* A growable byte string holding index and _id keys. */
struct mql_key {
    uint8_t *data;
    size_t len, cap;
};

/* Appends to key an order-preserving binary encoding of v: memcmp order of
 * two encodings equals mql_value_compare order, and two values encode
 * equally exactly when they compare equal (1, 1L, 1.0 and decimal 1.00 give
 * the same bytes; int64 values beyond 2^53 and decimals that differ from
 * every double get distinct exact keys). Used for index keys and the stored
 * _id key. Every encoding starts with a type byte below 0xf0 and none is a
 * prefix of another. False (key then incomplete) when v nests deeper than
 * MQL_MAX_NESTING. */
bool mql_key_append(struct mql_key *key, const bson_value_t *v);
void mql_key_push(struct mql_key *key, uint8_t byte);
void mql_key_push_bytes(struct mql_key *key, const void *data, size_t len);
void mql_key_copy(struct mql_key *dst, const struct mql_key *src);
void mql_key_free(struct mql_key *key);

/* Looks a dotted path up in doc without array traversal ("a.b.0.c" indexes
 * arrays by number). False when a step is missing. */
bool mql_path_get(const bson_t *doc, const char *path, bson_value_t *out);

/* A dotted path split into steps once, for matching many documents. */
struct mql_path {
    char *text;
    const char **steps; /* into text, not NUL-terminated: use lens */
    size_t *lens;
    size_t n;
};
bool mql_path_parse(const char *path, struct mql_path *out);
void mql_path_free(struct mql_path *p);

/* Receives each value reachable at a path; v NULL reports a branch where
 * the path is missing. Returning true stops the walk. */
typedef bool (*mql_visit_fn)(void *ctx, const bson_value_t *v);

/* Walks path through doc as MongoDB's matcher does: an array met before the
 * last step is entered (a numeric step picks one element, and the rest of
 * the path goes on inside each document element). The value at the last
 * step is passed as it is, arrays included. True when fn stopped the walk.
 * A path of more than MQL_MAX_NESTING steps is missing everywhere. */
bool mql_path_visit(const bson_t *doc, const struct mql_path *p, mql_visit_fn fn, void *ctx);

/* One step of a path: the field of a document, or the element of an array
 * named by a decimal index (no sign, no leading zero). False when absent. */
bool mql_path_step(const bson_value_t *container, const char *step, size_t len, bson_value_t *out);

/* ---- filters (mql_filter.c) ---- */

typedef struct mql_filter mql_filter;

/* Compiles a filter document: field conditions with dotted paths (matching
 * inside arrays as MongoDB does), $eq $ne $gt $gte $lt $lte $in $nin $and
 * $or $nor $not $exists $type $regex (+ $options; /re/flags values) $size
 * $all $elemMatch, and implicit equality on documents and arrays.
 * Regular expressions are PCRE as far as glibc's POSIX ones can answer
 * exactly (else 400; see mql_filter.c); they also match a stored regular
 * expression equal to them. $where anywhere is refused with code 403. NULL
 * on error. */
mql_filter *mql_filter_compile(const bson_t *filter, struct restfcgi_error *err);
bool mql_filter_match(const mql_filter *f, const bson_t *doc);
void mql_filter_free(mql_filter *f);

/* When the filter pins path to one value by equality at the top level (also
 * inside a top-level $and), sets *out to that value (it points into f and
 * lives as long as f) and returns true: the store then reads only the index
 * entries for that value. Arrays and regular expressions never pin. */
bool mql_filter_equality(const mql_filter *f, const char *path, bson_value_t *out);

/* ---- sort (mql_sort.c) ---- */

typedef struct mql_sort mql_sort;

/* {"a": 1, "b.c": -1}: fields compared in order with mql_value_compare, a
 * missing field as null; an array field sorts by its smallest element
 * ascending and its largest descending, an empty array below null (first
 * ascending, last descending), as MongoDB. Other values are 400. */
mql_sort *mql_sort_compile(const bson_t *sort, struct restfcgi_error *err);
int mql_sort_compare(const mql_sort *s, const bson_t *a, const bson_t *b);
void mql_sort_free(mql_sort *s);

/* ---- projection (mql_projection.c) ---- */

typedef struct mql_projection mql_projection;

/* {"a": 1, "b.c": 1} (inclusion, _id kept unless "_id": 0) or {"a": 0}
 * (exclusion); mixing the two (other than _id) is 400, as MongoDB. */
mql_projection *mql_projection_compile(const bson_t *keys, struct restfcgi_error *err);
void mql_projection_apply(const mql_projection *p, const bson_t *doc, bson_t *out);
void mql_projection_free(mql_projection *p);

/* ---- updates (mql_update.c) ---- */

/* Checks an update before any document is touched: an operator document
 * ($set $unset $inc $mul $min $max $rename $push (with $each, $position,
 * $slice) $pull $addToSet (with $each) $pop $currentDate $setOnInsert), or a
 * pipeline (array of $set/$addFields, $unset, $project, $replaceRoot,
 * $replaceWith stages). Conflicting paths, updating _id, unknown operators,
 * wrong operand types, paths of more than MQL_MAX_DEPTH components: 400
 * naming them. */
bool mql_update_check(const bson_t *update, bool is_pipeline, struct restfcgi_error *err);

/* Applies a checked update to doc into *out. now_ms feeds $currentDate and
 * $$NOW; inserting tells an upsert that inserts (then $setOnInsert applies).
 * Errors that depend on the document (a $inc on a string, a result nested
 * deeper than MQL_MAX_DEPTH levels and deeper than doc) are 400. */
bool mql_update_apply(const bson_t *doc, const bson_t *update, bool is_pipeline, int64_t now_ms,
                      bool inserting, bson_t *out, struct restfcgi_error *err);

/* ---- aggregation (mql_aggregate.c) ---- */

/* The input of a pipeline: returns the next document, or NULL at the end
 * (or with err set on failure). The document stays valid until the next call. */
typedef const bson_t *(*mql_next_fn)(void *ctx, struct restfcgi_error *err);
/* Receives each result; false stops the pipeline (err set by the callee). */
typedef bool (*mql_emit_fn)(void *ctx, const bson_t *doc, struct restfcgi_error *err);

/* Checks a pipeline (an array document of stages): $match $project $group
 * ($sum $avg $min $max $first $last $push $count, _id expressions of field
 * paths, literals and documents of them) $sort $skip $limit $unwind (string
 * or {path, preserveNullAndEmptyArrays, includeArrayIndex}) $count
 * $addFields/$set $unset. Others are 400 naming the stage, as are more
 * than 1000 stages. */
bool mql_aggregate_check(const bson_t *pipeline, struct restfcgi_error *err);

/* Runs a checked pipeline over next()'s documents, emitting results in
 * order. max_docs bounds the documents held in memory by $group and $sort
 * (past it: 400 "too many documents for $sort/$group"). A stage that makes
 * a document deeper than MQL_MAX_DEPTH levels (and deeper than its input)
 * is a 400 naming the limit. */
bool mql_aggregate_run(const bson_t *pipeline, mql_next_fn next, void *next_ctx, mql_emit_fn emit,
                       void *emit_ctx, int64_t now_ms, size_t max_docs,
                       struct restfcgi_error *err);

#endif

/* libFuzzer target: the sqlite store's query engine (mql_*.c). The first
 * byte picks what the rest (JSON, parsed as the server parses it) is, and
 * it is compiled and evaluated on a few fixed documents:
 *   0 a filter   1 a sort   2 a projection   3 update operators
 *   4 an update pipeline   5 an aggregation pipeline   6 values to compare,
 *   whose index keys must compare as they do (mql_key_append's promise)
 * Bit 3 of the first byte marks an upsert's insert ($setOnInsert); bit 4
 * allows the deepest JSON a config allows (1000 levels) instead of 64. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "mql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW_MS 1700000000000LL

static const char *const docs_json[] = {
    "{\"_id\": 1, \"a\": 1, \"b\": [1, 2, {\"c\": \"x\"}], \"s\": \"abc\", \"n\": null}",
    "{\"_id\": {\"$oid\": \"5f0000000000000000000002\"}, \"a\": {\"b\": {\"c\": [3, 4]}},"
    " \"d\": {\"$date\": \"2020-01-01T00:00:00Z\"}, \"t\": true, \"x\": 2.5}",
    "{\"_id\": \"k\", \"a\": [[1, 2], {\"b\": 5}], \"s\": \"ABC\", \"l\": {\"$numberLong\": \"9007199254740993\"},"
    " \"dec\": {\"$numberDecimal\": \"1.10\"}, \"bin\": {\"$binary\": {\"base64\": \"AQI=\", \"subType\": \"00\"}}}",
    "{\"_id\": 4, \"a\": -1, \"b\": [], \"tags\": [\"x\", \"y\", \"x\"], \"r\": {\"$regularExpression\":"
    " {\"pattern\": \"^a\", \"options\": \"i\"}}, \"nan\": {\"$numberDouble\": \"NaN\"}}",
};
#define NDOCS (sizeof docs_json / sizeof docs_json[0])
static bson_t docs[NDOCS];

static void filter(const bson_t *in)
{
    struct restfcgi_error err = {0};
    mql_filter *f = mql_filter_compile(in, &err);
    if (!f)
        return;
    bson_value_t v;
    mql_filter_equality(f, "a", &v);
    mql_filter_equality(f, "_id", &v);
    for (size_t i = 0; i < NDOCS; i++)
        mql_filter_match(f, &docs[i]);
    mql_filter_free(f);
}

static void sort(const bson_t *in)
{
    struct restfcgi_error err = {0};
    mql_sort *s = mql_sort_compile(in, &err);
    if (!s)
        return;
    for (size_t i = 0; i < NDOCS; i++)
        for (size_t j = 0; j < NDOCS; j++)
            mql_sort_compare(s, &docs[i], &docs[j]);
    mql_sort_free(s);
}

static void projection(const bson_t *in)
{
    struct restfcgi_error err = {0};
    mql_projection *p = mql_projection_compile(in, &err);
    if (!p)
        return;
    for (size_t i = 0; i < NDOCS; i++) {
        bson_t out;
        mql_projection_apply(p, &docs[i], &out);
        bson_destroy(&out);
    }
    mql_projection_free(p);
}

static void update(const bson_t *in, bool pipeline, bool inserting)
{
    struct restfcgi_error err = {0};
    if (!mql_update_check(in, pipeline, &err))
        return;
    for (size_t i = 0; i < NDOCS; i++) {
        bson_t out;
        mql_update_apply(&docs[i], in, pipeline, NOW_MS, inserting, &out, &err);
        bson_destroy(&out);
    }
}

struct source {
    size_t next;
};

static const bson_t *next_doc(void *ctx, struct restfcgi_error *err)
{
    (void)err;
    struct source *s = ctx;
    return s->next < NDOCS ? &docs[s->next++] : NULL;
}

static bool emit(void *ctx, const bson_t *doc, struct restfcgi_error *err)
{
    (void)err;
    (*(size_t *)ctx) += doc->len;
    return true;
}

static void aggregate(const bson_t *in)
{
    struct restfcgi_error err = {0};
    if (!mql_aggregate_check(in, &err))
        return;
    struct source src = {0};
    size_t bytes = 0;
    mql_aggregate_run(in, next_doc, &src, emit, &bytes, NOW_MS, 100, &err);
}

static int sign(int x) { return (x > 0) - (x < 0); }

/* Index keys must sort as the values do (mql.h): memcmp of two keys has the
 * sign of mql_value_compare, so an index answers as a scan would. */
static void keys_agree(const bson_value_t *a, const bson_value_t *b)
{
    struct mql_key ka = {0}, kb = {0};
    if (mql_key_append(&ka, a) && mql_key_append(&kb, b)) {
        size_t n = ka.len < kb.len ? ka.len : kb.len;
        int bytes = memcmp(ka.data, kb.data, n);
        if (!bytes)
            bytes = (ka.len > kb.len) - (ka.len < kb.len);
        int values = mql_value_compare(a, b);
        if (sign(bytes) != sign(values)) {
            fprintf(stderr, "keys compare %d, values compare %d (types %d and %d)\n", bytes,
                    values, a->value_type, b->value_type);
            abort();
        }
    }
    mql_key_free(&ka);
    mql_key_free(&kb);
}

/* Every pair of the first 32 top-level values compared, and their keys. */
static void values(const bson_t *in)
{
    bson_iter_t a, b;
    if (!bson_iter_init(&a, in))
        return;
    for (int i = 0; i < 32 && bson_iter_next(&a); i++) {
        mql_is_nan(bson_iter_value(&a));
        if (!bson_iter_init(&b, in))
            continue;
        for (int j = 0; j < 32 && bson_iter_next(&b); j++) {
            keys_agree(bson_iter_value(&a), bson_iter_value(&b));
            mql_value_equal(bson_iter_value(&a), bson_iter_value(&b));
        }
    }
    bson_value_t v;
    mql_path_get(in, "a.0.b", &v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool loaded;
    if (!loaded) {
        for (size_t i = 0; i < NDOCS; i++) {
            struct restfcgi_error err = {0};
            if (!json_parse(sv_from_cstr(docs_json[i]), 64, false, "doc", &docs[i], NULL, &err))
                abort();
        }
        loaded = true;
    }
    if (size < 1)
        return 0;
    bson_t in;
    bool is_array;
    struct restfcgi_error err = {0};
    int64_t depth = data[0] & 16 ? 1000 : 64;
    if (json_parse((struct sv){(const char *)data + 1, size - 1}, depth, true, "input", &in,
                   &is_array, &err)) {
        switch (data[0] & 7) {
        case 0:
            filter(&in);
            break;
        case 1:
            sort(&in);
            break;
        case 2:
            projection(&in);
            break;
        case 3:
            update(&in, false, data[0] & 8);
            break;
        case 4:
            update(&in, true, data[0] & 8);
            break;
        case 5:
            aggregate(&in);
            break;
        default:
            values(&in);
            break;
        }
    }
    bson_destroy(&in);
    return 0;
}

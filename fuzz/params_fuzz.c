/* libFuzzer target: the query parameters of reads. Input: a query string
 * ("filter=...&sort=...&keys=...&avars=..."), percent-decoded by
 * request_parse as for GET /db/coll/_aggrs/a?INPUT, then validated as the
 * handlers do (params_find, the required filter of bulk writes, avars bound
 * into a stored pipeline) and compiled by the sqlite store's query engine
 * (filter, sort, projection) against a fixed document. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "handlers/aggrs.c" /* parse_avars and bind_vars are static */
#include "mql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char pipeline_json[] =
    "[{\"$match\": {\"a\": {\"$var\": \"x\"}}}, {\"$project\": {\"k\": {\"$var\": [\"k\", 1]}}},"
    " {\"$limit\": {\"$var\": [\"n\", 5]}}, {\"$match\": {\"$or\": [{\"b\": {\"$var\": \"y\"}}]}}]";
static const char doc_json[] =
    "{\"_id\": {\"$oid\": \"5f0000000000000000000001\"}, \"a\": 1, \"b\": [1, \"two\", {\"c\": 3}],"
    " \"s\": \"text\", \"d\": {\"$date\": \"2020-01-01T00:00:00Z\"}, \"n\": null}";

/* Compiles what params_find produced as the store does, and runs it once. */
static void compile(const struct find_params *p, const bson_t *doc)
{
    struct restfcgi_error err = {0};
    mql_filter *f = mql_filter_compile(&p->filter, &err);
    if (f) {
        mql_filter_match(f, doc);
        mql_filter_free(f);
    }
    mql_sort *s = mql_sort_compile(&p->sort, &err);
    if (s) {
        mql_sort_compare(s, doc, doc);
        mql_sort_free(s);
    }
    mql_projection *pr = mql_projection_compile(&p->keys, &err);
    if (pr) {
        bson_t out;
        mql_projection_apply(pr, doc, &out);
        bson_destroy(&out);
        mql_projection_free(pr);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct cfg cfg;
    static bson_t pipeline, doc;
    static bool loaded;
    if (!loaded) {
        char e[256];
        struct restfcgi_error err = {0};
        bool arr;
        if (!cfg_load(&cfg, NULL, e, sizeof e) ||
            !json_parse(SV_LIT(pipeline_json), 64, true, "pipeline", &pipeline, &arr, &err) ||
            !json_parse(SV_LIT(doc_json), 64, false, "doc", &doc, NULL, &err))
            abort();
        loaded = true;
    }
    /* REQUEST_URI=/db/coll/_aggrs/a?INPUT as a CGI param (a C string). */
    static const char prefix[] = "REQUEST_URI=/db/coll/_aggrs/a?";
    char *uri = malloc(sizeof prefix + size);
    if (!uri)
        return 0;
    memcpy(uri, prefix, sizeof prefix - 1);
    memcpy(uri + sizeof prefix - 1, data, size);
    uri[sizeof prefix - 1 + size] = '\0';
    char *envp[] = {"REQUEST_METHOD=GET", uri, NULL};
    struct app app = {.cfg = &cfg};
    struct arena arena;
    arena_init(&arena, 4096);
    struct request_io io = {.envp = envp};
    struct request req;
    struct restfcgi_error err = {0};
    if (request_parse(&req, &arena, &io, "", &cfg.limits, &err)) {
        struct find_params p;
        if (params_find(&req, &cfg.limits, &p, &err))
            compile(&p, &doc);
        params_find_free(&p);
        bson_t filter;
        params_filter(&req, &cfg.limits, true, &filter, &err);
        bson_destroy(&filter);
        bson_t avars;
        if (parse_avars(&app, &req, &avars, &err)) {
            bson_t bound = BSON_INITIALIZER;
            bson_iter_t it;
            if (bson_iter_init(&it, &pipeline) && bind_vars(&it, &bound, true, &avars, 0, &err))
                mql_aggregate_check(&bound, &err);
            bson_destroy(&bound);
        }
        bson_destroy(&avars);
    }
    arena_destroy(&arena);
    free(uri);
    return 0;
}

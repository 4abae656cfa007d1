/* libFuzzer target: request bodies as the handlers read them. The text is
 * parsed as Extended JSON (json_parse, objects and arrays), then checked
 * as a stored document (doc_keys_ok, params_no_javascript), turned into a
 * PATCH update (patch_update, mql_update_check) and written back as the
 * response would (ejson_append), which must give libbson's bytes exactly.
 * Input: the body, as is. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "ejson.h"
#include "handlers/common.h"
#include "json.h"
#include "mql.h"
#include "params.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The server's default depth limit, and the largest a config allows. */
    static const int64_t depths[] = {64, 1000};
    struct sv text = {(const char *)data, size};
    bson_t doc;
    bool is_array = false;
    struct restfcgi_error err = {0};
    bool ok = json_parse(text, depths[size & 1], true, "the request body", &doc, &is_array, &err);
    if (ok) {
        struct restfcgi_error e2 = {0};
        doc_keys_ok(&doc, &e2);
        params_no_javascript(&doc, &e2);
        bson_oid_t etag;
        bson_oid_init_from_string(&etag, "5f0000000000000000000001");
        bson_t update;
        if (patch_update(&doc, is_array, &etag, &update, &e2))
            mql_update_check(&update, is_array, &e2);
        bson_destroy(&update);
        /* ejson.h promises libbson's bytes exactly: a difference is a bug. */
        struct buf out = {0};
        size_t len;
        char *want = bson_as_relaxed_extended_json(&doc, &len);
        if (ejson_append(&out, &doc) && want && (out.len != len || memcmp(out.ptr, want, len))) {
            fprintf(stderr, "ejson_append wrote\n%.*s\nlibbson writes\n%s\n", (int)out.len,
                    out.ptr, want);
            abort();
        }
        bson_free(want);
        buf_free(&out);
    }
    bson_destroy(&doc);
    return 0;
}

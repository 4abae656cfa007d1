/* Unit tests of fcgi_app/json.c: strict JSON in, Extended JSON to bson. */
#include "../../../fcgi_app/json.c"

#include "check.h"

static int parse_status(const char *text, int64_t depth, bool allow_array, bool *is_array)
{
    bson_t b;
    struct restfcgi_error err = {0};
    bool ok = json_parse(sv_from_cstr(text), depth, allow_array, "the body", &b, is_array, &err);
    bson_destroy(&b);
    return ok ? 200 : err.code;
}

TEST_CASE(valid_documents)
{
    bool arr;
    CHECK_INT(parse_status("{\"a\":1}", 8, false, &arr), 200);
    CHECK(!arr);
    CHECK_INT(parse_status(" \n{ \"a\" : [1, 2.5e3, -0.5, true, false, null, \"x\\u00e9\\n\"] }\t", 8,
                           false, NULL),
              200);
    CHECK_INT(parse_status("[{\"a\":1},{\"b\":2}]", 8, true, &arr), 200);
    CHECK(arr);
    CHECK_INT(parse_status("{}", 8, false, NULL), 200);
}

TEST_CASE(extended_json)
{
    bson_t b;
    struct restfcgi_error err = {0};
    CHECK(json_parse(sv_from_cstr("{\"_id\":{\"$oid\":\"5f1a2b3c4d5e6f7a8b9c0d1e\"},"
                                  "\"d\":{\"$date\":\"2024-01-02T03:04:05Z\"},"
                                  "\"n\":{\"$numberLong\":\"9007199254740993\"}}"),
                     8, false, "the body", &b, NULL, &err));
    bson_iter_t it;
    CHECK(bson_iter_init_find(&it, &b, "_id") && BSON_ITER_HOLDS_OID(&it));
    CHECK(bson_iter_init_find(&it, &b, "d") && BSON_ITER_HOLDS_DATE_TIME(&it));
    CHECK(bson_iter_init_find(&it, &b, "n") && bson_iter_int64(&it) == 9007199254740993LL);
    bson_destroy(&b);
    CHECK_INT(parse_status("{\"a\":{\"$oid\":\"zz\"}}", 8, false, NULL), 400);
}

TEST_CASE(malformed)
{
    const char *bad[] = {"",          "{",           "{\"a\":1}{\"b\":2}", "{\"a\":NaN}",
                         "{\"a\":1,}", "{\"a\" 1}",    "{a:1}",              "{\"a\":-01}",
                         "{\"a\":tru}", "{\"a\":\"\x01\"}", "{\"a\":\"\\x\"}", "{\"a\":1e}",
                         "{\"a\":[1,]}", "null",       "42",                 "\"s\"",
                         "{\"a\":Infinity}", "{\"a\":\"\\u12G4\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = parse_status(bad[i], 8, false, NULL);
        if (st != 400)
            fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK_INT(st, 400);
    }
    /* An array where an object is needed. */
    CHECK_INT(parse_status("[{\"a\":1}]", 8, false, NULL), 400);
    /* Invalid UTF-8 and a NUL in a key. */
    CHECK_INT(parse_status("{\"a\":\"\xff\"}", 8, false, NULL), 400);
    CHECK_INT(parse_status("{\"a\\u0000b\":1}", 8, false, NULL), 400);
}

TEST_CASE(depth_limit)
{
    /* Depth 4 passes a limit of 4; depth 5 does not. */
    CHECK_INT(parse_status("{\"a\":{\"b\":[{\"c\":1}]}}", 4, false, NULL), 200);
    CHECK_INT(parse_status("{\"a\":{\"b\":[{\"c\":[1]}]}}", 4, false, NULL), 400);
    /* Brackets inside strings do not count. */
    CHECK_INT(parse_status("{\"a\":\"[[[[[[[[[[{{{{{\"}", 2, false, NULL), 200);
    /* Far deeper than the limit: refused without recursion trouble. */
    char deep[20002];
    for (int i = 0; i < 10000; i++) {
        deep[i] = '[';
        deep[10000 + i] = ']';
    }
    deep[20000] = '\0';
    CHECK_INT(parse_status(deep, 64, true, NULL), 400);
}

/* libbson 1.23 reads these wrappers silently as other values (the zero
 * ObjectId, a NaN decimal, 1.2, subtype 0x1f, no regex flags): 400 here. */
TEST_CASE(malformed_wrapper_values_are_400)
{
    CHECK_INT(parse_status("{\"a\":{\"$oid\":\"zzzzzzzzzzzzzzzzzzzzzzzz\"}}", 8, false, NULL), 400);
    CHECK_INT(parse_status("{\"a\":{\"$numberDecimal\":\"1e99999999999\"}}", 8, false, NULL), 400);
    CHECK_INT(parse_status("{\"a\":{\"$numberDecimal\":\"abc\"}}", 8, false, NULL), 400);
    CHECK_INT(parse_status("{\"a\":{\"$numberDouble\":\"1.2.3\"}}", 8, false, NULL), 400);
    CHECK_INT(parse_status("{\"a\":{\"$numberDouble\":\"0x10\"}}", 8, false, NULL), 400);
    CHECK_INT(parse_status("{\"a\":{\"$binary\":{\"base64\":\"AA==\",\"subType\":\"1ff\"}}}", 8, false,
                           NULL),
              400);
    CHECK_INT(parse_status("{\"a\":{\"$regex\":\"x\",\"$options\":\"iq\"}}", 8, false, NULL), 400);
    /* The valid forms, and a field named subType outside $binary. */
    CHECK_INT(parse_status("{\"a\":{\"$oid\":\"5f1a2b3c4d5e6f7a8b9c0d1e\"}}", 8, false, NULL), 200);
    CHECK_INT(parse_status("{\"a\":{\"$numberDecimal\":\"NaN\"},\"b\":{\"$numberDecimal\":\"1.5E+3\"}}",
                           8, false, NULL),
              200);
    CHECK_INT(parse_status("{\"a\":{\"$numberDouble\":\"-Infinity\"},\"b\":{\"$numberDouble\":\"-1.5e-3\"}}",
                           8, false, NULL),
              200);
    CHECK_INT(parse_status("{\"a\":{\"$binary\":{\"base64\":\"AA==\",\"subType\":\"80\"}}}", 8, false, NULL),
              200);
    CHECK_INT(parse_status("{\"a\":{\"$regex\":\"x\",\"$options\":\"imsx\"}}", 8, false, NULL), 200);
    CHECK_INT(parse_status("{\"subType\":\"premium\",\"$options\":[\"x\"]}", 8, false, NULL), 200);
}

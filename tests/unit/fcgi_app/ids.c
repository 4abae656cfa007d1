/* Unit tests of fcgi_app/ids.c: id_type and ids in URLs. */
#include "../../../fcgi_app/ids.c"

#include "check.h"

/* The _id the segment names, as canonical Extended JSON, or the error code. */
static char *id_json(const char *seg, const char *id_type, int *code)
{
    bson_t doc = BSON_INITIALIZER;
    struct restfcgi_error err = {0};
    bool ok = id_append(&doc, sv_from_cstr(seg), sv_from_cstr(id_type ? id_type : ""),
                        id_type != NULL, &err);
    *code = ok ? 200 : err.code;
    char *j = ok ? bson_as_canonical_extended_json(&doc, NULL) : NULL;
    bson_destroy(&doc);
    return j;
}

static void expect(const char *seg, const char *id_type, const char *json)
{
    int code;
    char *j = id_json(seg, id_type, &code);
    CHECK_INT(code, 200);
    CHECK_STR(j, json);
    bson_free(j);
}

static void expect_400(const char *seg, const char *id_type)
{
    int code;
    char *j = id_json(seg, id_type, &code);
    CHECK(j == NULL);
    CHECK_INT(code, 400);
}

TEST_CASE(default_string_oid)
{
    expect("5f1a2b3c4d5e6f7a8b9c0d1e", NULL, "{ \"_id\" : { \"$oid\" : \"5f1a2b3c4d5e6f7a8b9c0d1e\" } }");
    expect("alice", NULL, "{ \"_id\" : \"alice\" }");
    expect("123", NULL, "{ \"_id\" : \"123\" }");
    expect("5f1a2b3c4d5e6f7a8b9c0d1e", "STRING", "{ \"_id\" : \"5f1a2b3c4d5e6f7a8b9c0d1e\" }");
}

TEST_CASE(typed)
{
    expect("42", "NUMBER", "{ \"_id\" : { \"$numberInt\" : \"42\" } }");
    expect("-9007199254740993", "NUMBER", "{ \"_id\" : { \"$numberLong\" : \"-9007199254740993\" } }");
    expect("1.5", "NUMBER", "{ \"_id\" : { \"$numberDouble\" : \"1.5\" } }");
    expect("1700000000000", "DATE", "{ \"_id\" : { \"$date\" : { \"$numberLong\" : \"1700000000000\" } } }");
    expect("true", "BOOLEAN", "{ \"_id\" : true }");
    expect("x", "NULL", "{ \"_id\" : null }");
    expect_400("abc", "NUMBER");
    expect_400("nan", "NUMBER");
    expect_400("", "NUMBER");
    expect_400("1.5", "DATE");
    expect_400("maybe", "BOOLEAN");
    expect_400("xyz", "OID");
    expect_400("1", "UUIDISH");
}

TEST_CASE(segments_round_trip)
{
    bson_value_t v;
    char seg[256];
    const char *t;
    v.value_type = BSON_TYPE_UTF8;
    v.value.v_utf8.str = "a b/é";
    v.value.v_utf8.len = (uint32_t)strlen(v.value.v_utf8.str);
    CHECK(id_to_segment(&v, seg, sizeof seg, &t));
    CHECK_STR(seg, "a%20b%2F%C3%A9");
    CHECK(t == NULL);
    v.value.v_utf8.str = "5f1a2b3c4d5e6f7a8b9c0d1e";
    v.value.v_utf8.len = 24;
    CHECK(id_to_segment(&v, seg, sizeof seg, &t));
    CHECK_STR(t, "STRING");
    v.value_type = BSON_TYPE_INT32;
    v.value.v_int32 = -7;
    CHECK(id_to_segment(&v, seg, sizeof seg, &t));
    CHECK_STR(seg, "-7");
    CHECK_STR(t, "NUMBER");
    v.value_type = BSON_TYPE_DOCUMENT;
    CHECK(!id_to_segment(&v, seg, sizeof seg, &t));
}

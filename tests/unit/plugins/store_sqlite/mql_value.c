#include "../../../../plugins/store_sqlite/mql_value.c"
#include "check.h"
#include "mql_json.h"

/* Values in MongoDB's order, their index keys and path lookups. */

/* The value of field "v" of a JSON document (kept alive in a small pool). */
static bson_value_t V(const char *json)
{
    static bson_t *pool[64];
    static int next;
    bson_t *b = J(json);
    if (pool[next % 64])
        bson_destroy(pool[next % 64]);
    pool[next++ % 64] = b;
    bson_iter_t it;
    if (!bson_iter_init_find(&it, b, "v"))
        abort();
    return *bson_iter_value(&it);
}

static int cmp(const char *a, const char *b)
{
    bson_value_t x = V(a), y = V(b);
    return mql_value_compare(&x, &y);
}

/* memcmp order of the keys of a and b, as -1/0/1. */
static int key_cmp(const char *a, const char *b)
{
    bson_value_t x = V(a), y = V(b);
    struct mql_key ka = {0}, kb = {0};
    mql_key_append(&ka, &x);
    mql_key_append(&kb, &y);
    int c = memcmp(ka.data, kb.data, ka.len < kb.len ? ka.len : kb.len);
    if (!c)
        c = (ka.len > kb.len) - (ka.len < kb.len);
    mql_key_free(&ka);
    mql_key_free(&kb);
    return (c > 0) - (c < 0);
}

/* One value of each type bracket, in ascending order. */
static const char *const ladder[] = {
    "{'v':{'$minKey':1}}",
    "{'v':null}",
    "{'v':{'$numberDouble':'NaN'}}",
    "{'v':{'$numberDouble':'-Infinity'}}",
    "{'v':-5}",
    "{'v':1.5}",
    "{'v':{'$numberLong':'9007199254740993'}}",
    "{'v':''}",
    "{'v':'a'}",
    "{'v':'a\\u0000'}",
    "{'v':'ab'}",
    "{'v':'b'}",
    "{'v':{}}",
    "{'v':{'a':1}}",
    "{'v':{'a':1,'b':1}}",
    "{'v':{'b':0}}",
    "{'v':{'a':'x'}}", /* the type of a value outranks its field name */
    "{'v':[]}",
    "{'v':[1]}",
    "{'v':[1,2]}",
    "{'v':[2]}",
    "{'v':{'$binary':{'base64':'AA==','subType':'00'}}}",
    "{'v':{'$oid':'000000000000000000000001'}}",
    "{'v':{'$oid':'ffffffffffffffffffffffff'}}",
    "{'v':false}",
    "{'v':true}",
    "{'v':{'$date':{'$numberLong':'-1'}}}",
    "{'v':{'$date':{'$numberLong':'0'}}}",
    "{'v':{'$timestamp':{'t':1,'i':2}}}",
    "{'v':{'$regularExpression':{'pattern':'a','options':''}}}",
    "{'v':{'$maxKey':1}}",
};
#define NLADDER (sizeof ladder / sizeof *ladder)

TEST_CASE(order_across_and_within_types)
{
    for (size_t i = 0; i < NLADDER; i++)
        for (size_t j = 0; j < NLADDER; j++) {
            int want = (i > j) - (i < j), got = cmp(ladder[i], ladder[j]);
            if (got != want)
                fprintf(stderr, "compare %s %s: %d, want %d\n", ladder[i], ladder[j], got, want);
            CHECK_INT(got, want);
        }
}

TEST_CASE(keys_sort_like_values)
{
    for (size_t i = 0; i < NLADDER; i++)
        for (size_t j = 0; j < NLADDER; j++) {
            int want = (i > j) - (i < j), got = key_cmp(ladder[i], ladder[j]);
            if (got != want)
                fprintf(stderr, "key %s %s: %d, want %d\n", ladder[i], ladder[j], got, want);
            CHECK_INT(got, want);
        }
}

TEST_CASE(numbers_compare_by_value_across_types)
{
    CHECK_INT(cmp("{'v':1}", "{'v':1.0}"), 0);
    CHECK_INT(cmp("{'v':1}", "{'v':{'$numberLong':'1'}}"), 0);
    CHECK_INT(cmp("{'v':{'$numberDecimal':'1.0'}}", "{'v':1}"), 0);
    CHECK_INT(cmp("{'v':{'$numberLong':'9007199254740993'}}", "{'v':9007199254740992.0}"), 1);
    CHECK_INT(cmp("{'v':-0.0}", "{'v':0}"), 0);
    CHECK_INT(key_cmp("{'v':1}", "{'v':1.0}"), 0);
    CHECK_INT(key_cmp("{'v':-0.0}", "{'v':0}"), 0);
    bson_value_t a = V("{'v':2}"), b = V("{'v':2.0}");
    CHECK(mql_value_equal(&a, &b));
}

TEST_CASE(null_and_undefined_share_a_rank)
{
    CHECK_INT(mql_type_rank(BSON_TYPE_NULL), mql_type_rank(BSON_TYPE_UNDEFINED));
    CHECK_INT(mql_type_rank(BSON_TYPE_UTF8), mql_type_rank(BSON_TYPE_SYMBOL));
    CHECK(mql_type_rank(BSON_TYPE_MAXKEY) > mql_type_rank(BSON_TYPE_REGEX));
}

TEST_CASE(key_of_a_value_is_no_prefix_of_another)
{
    /* An index range [key, key+0xff) must hold only that value's entries. */
    bson_value_t a = V("{'v':'a'}"), b = V("{'v':'ab'}");
    struct mql_key ka = {0}, kb = {0};
    mql_key_append(&ka, &a);
    mql_key_append(&kb, &b);
    CHECK(kb.len < ka.len || memcmp(ka.data, kb.data, ka.len) != 0);
    CHECK(ka.data[0] < 0xf0);
    struct mql_key copy;
    mql_key_copy(&copy, &ka);
    CHECK_INT(copy.len, ka.len);
    CHECK(!memcmp(copy.data, ka.data, ka.len));
    mql_key_free(&copy);
    mql_key_free(&ka);
    mql_key_free(&kb);
}

TEST_CASE(path_get_without_traversal)
{
    bson_t *d = J("{'a':{'b':[10,{'c':'x'}]},'e':1}");
    bson_value_t v;
    CHECK(mql_path_get(d, "e", &v) && v.value_type == BSON_TYPE_INT32 && v.value.v_int32 == 1);
    CHECK(mql_path_get(d, "a.b.0", &v) && v.value.v_int32 == 10);
    CHECK(mql_path_get(d, "a.b.1.c", &v) && v.value_type == BSON_TYPE_UTF8);
    CHECK(mql_path_get(d, "a.b", &v) && v.value_type == BSON_TYPE_ARRAY);
    CHECK(!mql_path_get(d, "a.b.c", &v));
    CHECK(!mql_path_get(d, "a.b.01", &v));
    CHECK(!mql_path_get(d, "e.x", &v));
    CHECK(!mql_path_get(d, "nope", &v));
    bson_destroy(d);
}

static bool collect(void *ctx, const bson_value_t *v)
{
    char *out = ctx;
    char buf[32];
    if (!v)
        snprintf(buf, sizeof buf, "missing ");
    else if (v->value_type == BSON_TYPE_INT32)
        snprintf(buf, sizeof buf, "%d ", v->value.v_int32);
    else
        snprintf(buf, sizeof buf, "t%d ", (int)v->value_type);
    strcat(out, buf);
    return false;
}

static const char *walk(const char *doc, const char *path)
{
    static char out[256];
    out[0] = '\0';
    bson_t *d = J(doc);
    struct mql_path p;
    mql_path_parse(path, &p);
    mql_path_visit(d, &p, collect, out);
    mql_path_free(&p);
    bson_destroy(d);
    return out;
}

TEST_CASE(path_visit_enters_arrays)
{
    CHECK_STR(walk("{'a':[{'b':1},{'b':[2,3]},{'c':0},5]}", "a.b"), "1 t4 missing ");
    CHECK_STR(walk("{'a':[{'b':1},{'b':2}]}", "a.1.b"), "2 ");
    CHECK_STR(walk("{'a':{'b':7}}", "a.b"), "7 ");
    CHECK_STR(walk("{'a':3}", "a.b"), "missing ");
    CHECK_STR(walk("{'a':[1,2]}", "a.b"), "missing ");
    CHECK_STR(walk("{'a':[1,2]}", "a"), "t4 ");
}

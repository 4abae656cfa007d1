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
    /* numbers, exactly: int64 beyond 2^53, decimals between doubles and
     * past their range */
    "{'v':{'$numberDouble':'NaN'}}",
    "{'v':{'$numberDouble':'-Infinity'}}",
    "{'v':{'$numberDecimal':'-1E+400'}}",
    "{'v':{'$numberDecimal':'-2E+308'}}",
    "{'v':{'$numberDouble':'-1.7976931348623157e+308'}}",
    "{'v':{'$numberLong':'-9223372036854775808'}}",
    "{'v':{'$numberLong':'-9223372036854775807'}}",
    "{'v':{'$numberDecimal':'-9007199254740993.5'}}",
    "{'v':{'$numberLong':'-9007199254740993'}}",
    "{'v':{'$numberLong':'-9007199254740992'}}",
    "{'v':-5}",
    "{'v':{'$numberDecimal':'-1E-400'}}",
    "{'v':0}",
    "{'v':{'$numberDecimal':'1E-400'}}",
    "{'v':{'$numberDouble':'4.9406564584124654e-324'}}",
    "{'v':1}",
    "{'v':{'$numberDecimal':'1.00000000000000000001'}}",
    "{'v':1.5}",
    "{'v':{'$numberLong':'9007199254740992'}}",
    "{'v':{'$numberLong':'9007199254740993'}}",
    "{'v':{'$numberDecimal':'9007199254740993.5'}}",
    "{'v':{'$numberDouble':'9007199254740994.0'}}",
    "{'v':{'$numberLong':'9223372036854775806'}}",
    "{'v':{'$numberLong':'9223372036854775807'}}",
    "{'v':{'$numberDouble':'9223372036854775808.0'}}",
    "{'v':{'$numberDecimal':'9223372036854775808.5'}}",
    "{'v':1e300}",
    "{'v':{'$numberDouble':'1.7976931348623157e+308'}}",
    "{'v':{'$numberDecimal':'2E+308'}}",
    "{'v':{'$numberDecimal':'1E+400'}}",
    "{'v':{'$numberDecimal':'2E+400'}}",
    "{'v':{'$numberDouble':'Infinity'}}",
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

/* Groups of equal numbers of every type: they compare equal and have the
 * same key; each group sorts below the next. */
static const char *const equal_numbers[][8] = {
    {"{'v':{'$numberDouble':'NaN'}}", "{'v':{'$numberDecimal':'NaN'}}",
     "{'v':{'$numberDecimal':'-NaN'}}"},
    {"{'v':{'$numberLong':'-9223372036854775807'}}", "{'v':{'$numberDecimal':'-9223372036854775807'}}",
     "{'v':{'$numberDecimal':'-9.223372036854775807E+18'}}"},
    {"{'v':0}", "{'v':-0.0}", "{'v':{'$numberLong':'0'}}", "{'v':{'$numberDecimal':'0'}}",
     "{'v':{'$numberDecimal':'-0'}}", "{'v':{'$numberDecimal':'0E-6000'}}", "{'v':0.0}"},
    {"{'v':0.375}", "{'v':{'$numberDecimal':'0.375'}}", "{'v':{'$numberDecimal':'375E-3'}}"},
    {"{'v':1}", "{'v':1.0}", "{'v':{'$numberLong':'1'}}", "{'v':{'$numberDecimal':'1'}}",
     "{'v':{'$numberDecimal':'1.0'}}", "{'v':{'$numberDecimal':'0.1E+1'}}",
     "{'v':{'$numberDecimal':'1.000000000000000000000000000000000'}}"},
    {"{'v':{'$numberLong':'9007199254740993'}}", "{'v':{'$numberDecimal':'9007199254740993'}}",
     "{'v':{'$numberDecimal':'9.007199254740993E+15'}}", "{'v':{'$numberDecimal':'9007199254740993.000'}}"},
    {"{'v':{'$numberDouble':'9223372036854775808.0'}}", "{'v':{'$numberDecimal':'9223372036854775808'}}"},
    {"{'v':{'$numberDecimal':'1E+400'}}", "{'v':{'$numberDecimal':'10E+399'}}",
     "{'v':{'$numberDecimal':'0.001E+403'}}"},
    {"{'v':{'$numberDouble':'Infinity'}}", "{'v':{'$numberDecimal':'Infinity'}}"},
};

TEST_CASE(equal_numbers_have_one_key)
{
    size_t ng = sizeof equal_numbers / sizeof *equal_numbers;
    for (size_t g = 0; g < ng; g++)
        for (size_t i = 0; i < 8 && equal_numbers[g][i]; i++)
            for (size_t h = 0; h < ng; h++)
                for (size_t j = 0; j < 8 && equal_numbers[h][j]; j++) {
                    int want = (g > h) - (g < h);
                    int c = cmp(equal_numbers[g][i], equal_numbers[h][j]);
                    int k = key_cmp(equal_numbers[g][i], equal_numbers[h][j]);
                    if (c != want || k != want)
                        fprintf(stderr, "%s %s: compare %d key %d, want %d\n", equal_numbers[g][i],
                                equal_numbers[h][j], c, k, want);
                    CHECK_INT(c, want);
                    CHECK_INT(k, want);
                }
}

/* The review's case: NumberLong 2^53 and 2^53+1 were one key (one _id). */
TEST_CASE(distinct_large_numbers_have_distinct_keys)
{
    CHECK(key_cmp("{'v':{'$numberLong':'9007199254740992'}}", "{'v':{'$numberLong':'9007199254740993'}}") < 0);
    CHECK(cmp("{'v':{'$numberLong':'9007199254740992'}}", "{'v':{'$numberLong':'9007199254740993'}}") < 0);
    CHECK(key_cmp("{'v':{'$numberDecimal':'1.00000000000000000001'}}", "{'v':{'$numberDecimal':'1'}}") > 0);
    CHECK(cmp("{'v':{'$numberDecimal':'1.00000000000000000001'}}", "{'v':1}") > 0);
    CHECK(cmp("{'v':{'$numberDecimal':'9007199254740993'}}", "{'v':{'$numberLong':'9007199254740992'}}") > 0);
    CHECK(cmp("{'v':{'$numberDecimal':'9007199254740993'}}", "{'v':9007199254740992.0}") > 0);
    CHECK(cmp("{'v':{'$numberDecimal':'1E+400'}}", "{'v':{'$numberDecimal':'2E+400'}}") < 0);
    CHECK(key_cmp("{'v':{'$numberDecimal':'1E+400'}}", "{'v':{'$numberDecimal':'2E+400'}}") < 0);
    CHECK(cmp("{'v':{'$numberDecimal':'0.1'}}", "{'v':0.1}") < 0); /* 0.1 is below its double */
    CHECK(key_cmp("{'v':{'$numberDecimal':'0.1'}}", "{'v':0.1}") < 0);
    CHECK(cmp("{'v':{'$numberLong':'9223372036854775807'}}", "{'v':9223372036854775807.0}") < 0);
    CHECK(cmp("{'v':{'$numberLong':'-9223372036854775808'}}", "{'v':-9223372036854775808.0}") == 0);
    /* Inside containers too: [2^53, "x"] < [2^53+1] < [2^53+1, 0]. */
    CHECK(key_cmp("{'v':[{'$numberLong':'9007199254740992'},'x']}", "{'v':[{'$numberLong':'9007199254740993'}]}") < 0);
    CHECK(key_cmp("{'v':[{'$numberLong':'9007199254740993'}]}", "{'v':[{'$numberLong':'9007199254740993'},0]}") < 0);
    CHECK(key_cmp("{'v':{'a':{'$numberLong':'-9007199254740993'},'b':1}}",
                  "{'v':{'a':{'$numberLong':'-9007199254740993'}}}") > 0);
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

/* Review 4 #3: documents of any depth are walked without recursion past
 * MQL_MAX_NESTING (20 000 levels used to overflow the stack). */
TEST_CASE(depth_is_measured_without_recursion)
{
    bson_t *flat = J("{'a':1}"), *two = J("{'a':{'b':[1]}}"), *empty = J("{}");
    CHECK_INT(mql_doc_depth(empty, 100), 1);
    CHECK_INT(mql_doc_depth(flat, 100), 1);
    CHECK_INT(mql_doc_depth(two, 100), 3);
    CHECK_INT(mql_doc_depth(two, 2), 3); /* deeper than the limit: limit + 1 */
    bson_t *d99 = deep_doc(99, false, 1), *d100 = deep_doc(100, true, 1), *huge = deep_doc(20000, false, 1);
    CHECK_INT(mql_doc_depth(d99, 100), 100);
    CHECK_INT(mql_doc_depth(d100, 100), 101);
    CHECK_INT(mql_doc_depth(huge, MQL_MAX_NESTING), MQL_MAX_NESTING + 1);
    bson_destroy(flat);
    bson_destroy(two);
    bson_destroy(empty);
    bson_destroy(d99);
    bson_destroy(d100);
    bson_destroy(huge);
}

static bson_value_t root_value(const bson_t *d)
{
    bson_value_t v = {.value_type = BSON_TYPE_DOCUMENT};
    v.value.v_doc.data = (uint8_t *)bson_get_data(d);
    v.value.v_doc.data_len = d->len;
    return v;
}

TEST_CASE(deep_values_compare_and_key_within_bounds)
{
    /* within the bound: exact */
    bson_t *a = deep_doc(500, false, 1), *b = deep_doc(500, false, 2);
    bson_value_t va = root_value(a), vb = root_value(b);
    CHECK_INT(mql_value_compare(&va, &vb), -1);
    struct mql_key ka = {0}, kb = {0};
    CHECK(mql_key_append(&ka, &va));
    CHECK(mql_key_append(&kb, &vb));
    CHECK(memcmp(ka.data, kb.data, ka.len < kb.len ? ka.len : kb.len) < 0);
    mql_key_free(&ka);
    mql_key_free(&kb);
    bson_destroy(a);
    bson_destroy(b);
    /* past it: no crash; equal, and no key */
    bson_t *x = deep_doc(20000, false, 1), *y = deep_doc(20000, true, 2);
    bson_value_t vx = root_value(x), vy = root_value(y);
    bson_t *z = deep_doc(20000, false, 2);
    bson_value_t vz = root_value(z);
    CHECK_INT(mql_value_compare(&vx, &vz), 0);
    CHECK(mql_value_compare(&vx, &vy) != 0); /* they differ near the top */
    struct mql_key k = {0};
    CHECK(!mql_key_append(&k, &vx));
    mql_key_free(&k);
    /* a path of 20 000 steps reaches nothing, without recursing */
    char *path = deep_path(20000);
    struct mql_path p;
    mql_path_parse(path, &p);
    char out[256] = "";
    mql_path_visit(x, &p, collect, out);
    CHECK_STR(out, "missing ");
    mql_path_free(&p);
    bson_free(path);
    bson_destroy(x);
    bson_destroy(y);
    bson_destroy(z);
}

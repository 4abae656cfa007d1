#include "../../../../plugins/store_sqlite/mql_sort.c"
#include "check.h"
#include "mql_json.h"

/* Sort specifications and document order. */

static int order(const char *spec, const char *a, const char *b)
{
    bson_t *s = J(spec), *x = J(a), *y = J(b);
    struct restfcgi_error err = {0};
    mql_sort *m = mql_sort_compile(s, &err);
    CHECK(m != NULL);
    int c = m ? mql_sort_compare(m, x, y) : 99;
    mql_sort_free(m);
    bson_destroy(s);
    bson_destroy(x);
    bson_destroy(y);
    return (c > 0) - (c < 0);
}

TEST_CASE(fields_in_order_and_direction)
{
    CHECK_INT(order("{'a':1}", "{'a':1}", "{'a':2}"), -1);
    CHECK_INT(order("{'a':-1}", "{'a':1}", "{'a':2}"), 1);
    CHECK_INT(order("{'a':1,'b':-1}", "{'a':1,'b':1}", "{'a':1,'b':2}"), 1);
    CHECK_INT(order("{'a.b':1}", "{'a':{'b':'x'}}", "{'a':{'b':'y'}}"), -1);
    CHECK_INT(order("{}", "{'a':1}", "{'a':2}"), 0);
}

TEST_CASE(missing_sorts_as_null_before_numbers)
{
    CHECK_INT(order("{'a':1}", "{}", "{'a':0}"), -1);
    CHECK_INT(order("{'a':1}", "{}", "{'a':null}"), 0);
    CHECK_INT(order("{'a':1}", "{'a':'s'}", "{'a':5}"), 1);
}

TEST_CASE(arrays_sort_by_min_or_max)
{
    CHECK_INT(order("{'a':1}", "{'a':[5,1]}", "{'a':2}"), -1);
    CHECK_INT(order("{'a':-1}", "{'a':[5,1]}", "{'a':2}"), -1);
    CHECK_INT(order("{'a.b':1}", "{'a':[{'b':3},{'b':0}]}", "{'a':{'b':1}}"), -1);
}

TEST_CASE(bad_specs_are_400)
{
    const char *bad[] = {"{'a':2}", "{'a':'asc'}", "{'a':0}", "{'$natural':1}", "{'a':{'$meta':'textScore'}}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        bson_t *s = J(bad[i]);
        struct restfcgi_error err = {0};
        mql_sort *m = mql_sort_compile(s, &err);
        CHECK(m == NULL);
        CHECK_INT(err.code, 400);
        CHECK(strstr(err.message, "sort") != NULL);
        mql_sort_free(m);
        bson_destroy(s);
    }
}

/* Review 4 #7: MongoDB sorts an empty array below null and missing (first
 * ascending, last descending). */
TEST_CASE(empty_array_sorts_before_null)
{
    CHECK_INT(order("{'s':1}", "{'s':[]}", "{'s':null}"), -1);
    CHECK_INT(order("{'s':1}", "{'s':[]}", "{}"), -1);
    CHECK_INT(order("{'s':1}", "{'s':[]}", "{'s':1}"), -1);
    CHECK_INT(order("{'s':1}", "{'s':[]}", "{'s':[]}"), 0);
    CHECK_INT(order("{'s':1}", "{'s':{'$minKey':1}}", "{'s':[]}"), -1);
    CHECK_INT(order("{'s':-1}", "{'s':[]}", "{'s':null}"), 1);
    CHECK_INT(order("{'s':-1}", "{'s':[]}", "{'s':[1]}"), 1);
    /* an empty array among values: the others decide */
    CHECK_INT(order("{'s.b':-1}", "{'s':[{'b':[]},{'b':2}]}", "{'s':{'b':1}}"), -1);
}

/* Review 4 #3: sorting documents 20 000 levels deep used to overflow the
 * stack in compare_containers. */
TEST_CASE(deep_documents_sort_without_overflow)
{
    bson_t *x = deep_doc(20000, false, 1), *y = deep_doc(20000, false, 2), *s = J("{'a':1}");
    struct restfcgi_error err = {0};
    mql_sort *m = mql_sort_compile(s, &err);
    CHECK_INT(mql_sort_compare(m, x, y), 0); /* equal past the bound */
    mql_sort_free(m);
    bson_destroy(x);
    bson_destroy(y);
    bson_destroy(s);
}

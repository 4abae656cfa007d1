#include "../../../../plugins/store_sqlite/mql_filter.c"
#include "check.h"
#include "mql_json.h"

/* Filters: what matches, and what is refused. */

static int match(const char *filter, const char *doc)
{
    bson_t *f = J(filter), *d = J(doc);
    struct restfcgi_error err = {0};
    mql_filter *m = mql_filter_compile(f, &err);
    int r = m ? mql_filter_match(m, d) : -err.code;
    if (!m)
        fprintf(stderr, "%s: %d %s\n", filter, err.code, err.message);
    mql_filter_free(m);
    bson_destroy(f);
    bson_destroy(d);
    return r;
}

static struct restfcgi_error refused(const char *filter)
{
    bson_t *f = J(filter);
    struct restfcgi_error err = {0};
    mql_filter *m = mql_filter_compile(f, &err);
    CHECK(m == NULL);
    mql_filter_free(m);
    bson_destroy(f);
    return err;
}

#define CHECK_REFUSED(filter, status, needle)                                   \
    do {                                                                        \
        struct restfcgi_error e_ = refused(filter);                             \
        CHECK_INT(e_.code, status);                                             \
        if (!strstr(e_.message, needle))                                        \
            fprintf(stderr, "message '%s' lacks '%s'\n", e_.message, needle);  \
        CHECK(strstr(e_.message, needle) != NULL);                              \
    } while (0)

TEST_CASE(equality_and_numbers)
{
    CHECK(match("{}", "{'a':1}") == 1);
    CHECK(match("{'a':1}", "{'a':1.0}") == 1);
    CHECK(match("{'a':1}", "{'a':'1'}") == 0);
    CHECK(match("{'a':{'$eq':{'$numberLong':'1'}}}", "{'a':1}") == 1);
    CHECK(match("{'a':{'b':1}}", "{'a':{'b':1}}") == 1);
    CHECK(match("{'a':{'b':1}}", "{'a':{'b':1,'c':2}}") == 0);
    CHECK(match("{'a.b':1}", "{'a':{'b':1,'c':2}}") == 1);
    CHECK(match("{'a':1,'b':2}", "{'a':1,'b':3}") == 0);
}

TEST_CASE(arrays_match_by_element_and_whole)
{
    CHECK(match("{'t':'x'}", "{'t':['y','x']}") == 1);
    CHECK(match("{'t':['y','x']}", "{'t':['y','x']}") == 1);
    CHECK(match("{'t':['x','y']}", "{'t':['y','x']}") == 0);
    CHECK(match("{'a.b':2}", "{'a':[{'b':1},{'b':2}]}") == 1);
    CHECK(match("{'a.1.b':2}", "{'a':[{'b':1},{'b':2}]}") == 1);
    CHECK(match("{'a.0.b':2}", "{'a':[{'b':1},{'b':2}]}") == 0);
    CHECK(match("{'a':{'$gt':5}}", "{'a':[1,7]}") == 1);
    CHECK(match("{'a':{'$gt':5}}", "{'a':[1,2]}") == 0);
}

TEST_CASE(comparisons_stay_in_their_type)
{
    CHECK(match("{'a':{'$gt':1}}", "{'a':'zzz'}") == 0);
    CHECK(match("{'a':{'$lt':'b'}}", "{'a':'a'}") == 1);
    CHECK(match("{'a':{'$lt':'b'}}", "{'a':1}") == 0);
    CHECK(match("{'a':{'$gte':2,'$lte':3}}", "{'a':2.5}") == 1);
    CHECK(match("{'a':{'$gte':2,'$lte':3}}", "{'a':4}") == 0);
    CHECK(match("{'d':{'$gt':{'$date':'2020-01-01T00:00:00Z'}}}",
                "{'d':{'$date':'2021-01-01T00:00:00Z'}}") == 1);
}

TEST_CASE(null_matches_missing)
{
    CHECK(match("{'a':null}", "{}") == 1);
    CHECK(match("{'a':null}", "{'a':null}") == 1);
    CHECK(match("{'a':null}", "{'a':0}") == 0);
    CHECK(match("{'a':{'$ne':null}}", "{}") == 0);
    CHECK(match("{'a':{'$ne':null}}", "{'a':1}") == 1);
    CHECK(match("{'a':{'$in':[null,5]}}", "{}") == 1);
    CHECK(match("{'a.b':null}", "{'a':[{'b':1},{'c':1}]}") == 1);
}

TEST_CASE(negations_cover_every_element)
{
    CHECK(match("{'a':{'$ne':1}}", "{'a':[1,2]}") == 0);
    CHECK(match("{'a':{'$ne':3}}", "{'a':[1,2]}") == 1);
    CHECK(match("{'a':{'$ne':1}}", "{}") == 1);
    CHECK(match("{'a':{'$nin':[1,5]}}", "{'a':[2,5]}") == 0);
    CHECK(match("{'a':{'$nin':[1,5]}}", "{'a':3}") == 1);
    CHECK(match("{'a':{'$not':{'$gt':5}}}", "{'a':3}") == 1);
    CHECK(match("{'a':{'$not':{'$gt':5}}}", "{'a':9}") == 0);
    CHECK(match("{'a':{'$not':{'$gt':5}}}", "{}") == 1);
    CHECK(match("{'s':{'$not':{'$regularExpression':{'pattern':'^a','options':''}}}}", "{'s':'bc'}") == 1);
}

TEST_CASE(logical_operators)
{
    CHECK(match("{'$or':[{'a':1},{'b':2}]}", "{'b':2}") == 1);
    CHECK(match("{'$or':[{'a':1},{'b':2}]}", "{'b':3}") == 0);
    CHECK(match("{'$and':[{'a':{'$gt':1}},{'a':{'$lt':5}}]}", "{'a':3}") == 1);
    CHECK(match("{'$nor':[{'a':1},{'b':2}]}", "{'a':2}") == 1);
    CHECK(match("{'$nor':[{'a':1},{'b':2}]}", "{'a':1}") == 0);
    CHECK(match("{'$or':[{'$and':[{'a':1},{'b':1}]},{'c':1}]}", "{'a':1,'b':1}") == 1);
}

TEST_CASE(exists_type_size)
{
    CHECK(match("{'a':{'$exists':true}}", "{'a':null}") == 1);
    CHECK(match("{'a':{'$exists':false}}", "{'b':1}") == 1);
    CHECK(match("{'a':{'$exists':0}}", "{'a':1}") == 0);
    CHECK(match("{'a.b':{'$exists':true}}", "{'a':[{'c':1},{'b':1}]}") == 1);
    CHECK(match("{'a':{'$type':'string'}}", "{'a':'x'}") == 1);
    CHECK(match("{'a':{'$type':'number'}}", "{'a':{'$numberLong':'3'}}") == 1);
    CHECK(match("{'a':{'$type':'array'}}", "{'a':[1]}") == 1);
    CHECK(match("{'a':{'$type':'int'}}", "{'a':[1.5,'x',2]}") == 1);
    CHECK(match("{'a':{'$size':2}}", "{'a':[1,[2,3]]}") == 1);
    CHECK(match("{'a':{'$size':3}}", "{'a':[1,[2,3]]}") == 0);
    CHECK(match("{'a':{'$size':0}}", "{'a':'x'}") == 0);
}

TEST_CASE(type_by_number_and_list)
{
    /* Built without JSON: libbson's parser reads {'$type': 2} as binary. */
    bson_t *f = BCON_NEW("a", "{", "$type", BCON_INT32(2), "}");
    bson_t *g = BCON_NEW("a", "{", "$type", "[", "bool", BCON_INT32(16), "]", "}");
    bson_t *d = BCON_NEW("a", BCON_UTF8("x")), *e = BCON_NEW("a", BCON_INT32(1));
    struct restfcgi_error err = {0};
    mql_filter *m = mql_filter_compile(f, &err), *n = mql_filter_compile(g, &err);
    CHECK(m && n);
    CHECK(m && mql_filter_match(m, d) && !mql_filter_match(m, e));
    CHECK(n && mql_filter_match(n, e) && !mql_filter_match(n, d));
    mql_filter_free(m);
    mql_filter_free(n);
    bson_destroy(f);
    bson_destroy(g);
    bson_destroy(d);
    bson_destroy(e);
}

TEST_CASE(regex)
{
    CHECK(match("{'s':{'$regex':'^ab'}}", "{'s':'abc'}") == 1);
    CHECK(match("{'s':{'$regex':'^AB','$options':'i'}}", "{'s':'abc'}") == 1);
    CHECK(match("{'s':{'$regex':'^AB'}}", "{'s':'abc'}") == 0);
    CHECK(match("{'s':{'$regularExpression':{'pattern':'c$','options':''}}}", "{'s':['x','abc']}") == 1);
    CHECK(match("{'s':{'$regex':'^\\\\d+$'}}", "{'s':'2024'}") == 1);
    CHECK(match("{'s':{'$regex':'^\\\\d+$'}}", "{'s':'20x4'}") == 0);
    CHECK(match("{'s':{'$regex':'^(?:ab)+$'}}", "{'s':'abab'}") == 1);
    CHECK(match("{'s':{'$regex':'\\\\w\\\\s\\\\w'}}", "{'s':'a b'}") == 1);
    CHECK(match("{'s':{'$in':[{'$regularExpression':{'pattern':'^z','options':''}},'abc']}}", "{'s':'zed'}") == 1);
    CHECK(match("{'s':{'$regex':'a'}}", "{'s':5}") == 0);
}

TEST_CASE(all_and_elem_match)
{
    CHECK(match("{'t':{'$all':['a','b']}}", "{'t':['b','c','a']}") == 1);
    CHECK(match("{'t':{'$all':['a','d']}}", "{'t':['b','c','a']}") == 0);
    CHECK(match("{'t':{'$all':[]}}", "{'t':['a']}") == 0);
    CHECK(match("{'a':{'$elemMatch':{'$gt':1,'$lt':3}}}", "{'a':[0,2,4]}") == 1);
    CHECK(match("{'a':{'$elemMatch':{'$gt':1,'$lt':2}}}", "{'a':[0,2,4]}") == 0);
    /* without $elemMatch the conditions may hold on different elements */
    CHECK(match("{'a':{'$gt':1,'$lt':2}}", "{'a':[0,4]}") == 1);
    CHECK(match("{'r':{'$elemMatch':{'k':'x','v':{'$gte':5}}}}", "{'r':[{'k':'x','v':1},{'k':'y','v':9}]}") == 0);
    CHECK(match("{'r':{'$elemMatch':{'k':'x','v':{'$gte':5}}}}", "{'r':[{'k':'y','v':1},{'k':'x','v':9}]}") == 1);
    CHECK(match("{'r':{'$all':[{'$elemMatch':{'k':'x'}},{'$elemMatch':{'k':'y'}}]}}", "{'r':[{'k':'y'},{'k':'x'}]}") == 1);
    CHECK(match("{'a':{'$elemMatch':{'$gt':1}}}", "{'a':5}") == 0);
}

TEST_CASE(where_is_403_anywhere)
{
    CHECK_REFUSED("{'$where':'true'}", 403, "$where");
    CHECK_REFUSED("{'$or':[{'a':1},{'$where':'sleep(1)'}]}", 403, "$where");
    CHECK_REFUSED("{'a':{'$elemMatch':{'$where':'x'}}}", 403, "$where");
    CHECK_REFUSED("{'a':{'$where':'x'}}", 403, "$where");
}

TEST_CASE(unsupported_is_400_naming_the_operator)
{
    CHECK_REFUSED("{'$expr':{'$eq':['$a',1]}}", 400, "$expr");
    CHECK_REFUSED("{'$text':{'$search':'x'}}", 400, "$text");
    CHECK_REFUSED("{'a':{'$mod':[2,0]}}", 400, "$mod");
    CHECK_REFUSED("{'a':{'$near':[0,0]}}", 400, "$near");
    CHECK_REFUSED("{'a':{'$gt':1,'b':2}}", 400, "'b'");
    CHECK_REFUSED("{'a':{'$in':5}}", 400, "$in needs an array");
    CHECK_REFUSED("{'$or':[]}", 400, "$or");
    CHECK_REFUSED("{'$and':{'a':1}}", 400, "$and");
    CHECK_REFUSED("{'a':{'$size':-1}}", 400, "$size");
    CHECK_REFUSED("{'a':{'$size':1.5}}", 400, "$size");
    CHECK_REFUSED("{'a':{'$type':'nosuch'}}", 400, "nosuch");
    CHECK_REFUSED("{'a':{'$regex':'('}}", 400, "$regex");
    CHECK_REFUSED("{'a':{'$regex':'x','$options':'x'}}", 400, "option");
    CHECK_REFUSED("{'a':{'$not':5}}", 400, "$not");
    CHECK_REFUSED("{'a':{'$elemMatch':5}}", 400, "$elemMatch");
}

TEST_CASE(nesting_is_bounded)
{
    /* Built without JSON: libbson's parser has a nesting limit of its own. */
    bson_t *f = BCON_NEW("a", BCON_INT32(1));
    for (int i = 0; i < 80; i++) {
        bson_t *outer = BCON_NEW("$and", "[", BCON_DOCUMENT(f), "]");
        bson_destroy(f);
        f = outer;
    }
    struct restfcgi_error err = {0};
    mql_filter *m = mql_filter_compile(f, &err);
    CHECK(m == NULL);
    CHECK_INT(err.code, 400);
    CHECK(strstr(err.message, "nested") != NULL);
    mql_filter_free(m);
    bson_destroy(f);
}

TEST_CASE(options_without_regex)
{
    bson_t *f = BCON_NEW("a", "{", "$options", "i", "}");
    struct restfcgi_error err = {0};
    mql_filter *m = mql_filter_compile(f, &err);
    CHECK(m == NULL);
    CHECK_INT(err.code, 400);
    CHECK(strstr(err.message, "$options") != NULL);
    mql_filter_free(m);
    bson_destroy(f);
}

TEST_CASE(equality_for_the_planner)
{
    bson_t *f = J("{'x':5,'$and':[{'y':'k'}],'z':{'$gt':1},'t':['a'],'r':{'$regex':'a'},'n':{'$ne':1}}");
    struct restfcgi_error err = {0};
    mql_filter *m = mql_filter_compile(f, &err);
    bson_value_t v;
    CHECK(m != NULL);
    CHECK(mql_filter_equality(m, "x", &v) && v.value.v_int32 == 5);
    CHECK(mql_filter_equality(m, "y", &v) && v.value_type == BSON_TYPE_UTF8);
    CHECK(!mql_filter_equality(m, "z", &v));
    CHECK(!mql_filter_equality(m, "t", &v));
    CHECK(!mql_filter_equality(m, "r", &v));
    CHECK(!mql_filter_equality(m, "n", &v));
    CHECK(!mql_filter_equality(m, "w", &v));
    mql_filter_free(m);
    bson_destroy(f);
    f = J("{'$or':[{'x':5},{'x':6}]}");
    m = mql_filter_compile(f, &err);
    CHECK(m && !mql_filter_equality(m, "x", &v));
    mql_filter_free(m);
    bson_destroy(f);
}

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

/* A $regex with options against one string (given with its length, so it
 * may hold NUL bytes); the pattern is as PCRE reads it (no JSON escaping). */
static int rx_len(const char *pattern, const char *options, const char *subject, size_t len)
{
    bson_t f = BSON_INITIALIZER, d = BSON_INITIALIZER, c;
    bson_append_document_begin(&f, "s", 1, &c);
    BSON_APPEND_UTF8(&c, "$regex", pattern);
    BSON_APPEND_UTF8(&c, "$options", options);
    bson_append_document_end(&f, &c);
    bson_append_utf8(&d, "s", 1, subject, (int)len);
    struct restfcgi_error err = {0};
    mql_filter *m = mql_filter_compile(&f, &err);
    int r = m ? mql_filter_match(m, &d) : -err.code;
    if (!m)
        fprintf(stderr, "/%s/%s: %d %s\n", pattern, options, err.code, err.message);
    mql_filter_free(m);
    bson_destroy(&f);
    bson_destroy(&d);
    return r;
}

static int rx(const char *pattern, const char *options, const char *subject)
{
    return rx_len(pattern, options, subject, strlen(subject));
}

/* Review 4 #8: POSIX ERE read differently what PCRE accepts; now either the
 * same answer as PCRE or a 400. */
TEST_CASE(regex_matches_as_pcre_or_is_refused)
{
    /* \t \n \r \xHH are the control characters, not t n r */
    CHECK_INT(rx("a\\tb", "", "a\tb"), 1);
    CHECK_INT(rx("a\\tb", "", "atb"), 0);
    CHECK_INT(rx("a\\nb", "", "a\nb"), 1);
    CHECK_INT(rx("a\\r\\n", "", "a\r\n"), 1);
    CHECK_INT(rx("\\x41\\x{42}", "", "AB"), 1);
    /* '.' stops at a newline unless s; m does not change that */
    CHECK_INT(rx("a.b", "", "a\nb"), 0);
    CHECK_INT(rx("a.b", "m", "a\nb"), 0);
    CHECK_INT(rx("a.b", "s", "a\nb"), 1);
    CHECK_INT(rx("a.b", "ms", "a\nb"), 1);
    CHECK_INT(rx("a.b", "", "axb"), 1);
    /* backslashes in brackets escape, as in PCRE */
    CHECK_INT(rx("x[\\.]y", "", "x\\y"), 0);
    CHECK_INT(rx("x[\\.]y", "", "x.y"), 1);
    CHECK_INT(rx("^[\\]x]$", "", "]"), 1);
    CHECK_INT(rx("^[\\]x]$", "", "x"), 1);
    CHECK_INT(rx("^[\\]x]$", "", "\\"), 0);
    CHECK_INT(rx("^[\\w-]+$", "", "a-b_9"), 1);
    CHECK_INT(rx("^[\\w-]+$", "", "a\\w"), 0);
    CHECK_INT(rx("^[\\t ]$", "", "\t"), 1);
    CHECK_INT(rx("^[\\t ]$", "", "t"), 0);
    CHECK_INT(rx("^[a\\-z]+$", "", "a-z"), 1);
    CHECK_INT(rx("^[a\\-z]+$", "", "b"), 0);
    CHECK_INT(rx("^[\\^]$", "", "^"), 1);
    CHECK_INT(rx("^[[.]+$", "", "[."), 1);
    CHECK_INT(rx("^[[:digit:]x]+$", "", "1x2"), 1);
    CHECK_INT(rx("^[\\x30-\\x39]+$", "", "0123"), 1);
    CHECK_INT(rx("^[^a-]$", "", "-"), 0);
    CHECK_INT(rx("^[^a-]$", "", "b"), 1);
    CHECK_INT(rx("^[^a-]$", "", "\xc3\xa9"), 1);
    CHECK_INT(rx("^[^-[]+$", "", "a^b"), 1);
    CHECK_INT(rx("^[^-[]+$", "", "a[b"), 0);
    CHECK_INT(rx("^[-a]+$", "", "a-a"), 1);
    /* a negated class matches a newline even with m, as in PCRE */
    CHECK_INT(rx("a[^b]c", "m", "a\nc"), 1);
    CHECK_INT(rx("a\\Dc", "m", "a\nc"), 1);
    CHECK_INT(rx("a[^\\n]c", "m", "a\nc"), 0);
    /* '$' also before a final newline, as in PCRE */
    CHECK_INT(rx("a$", "", "a\n"), 1);
    CHECK_INT(rx("a$", "", "a\nb"), 0);
    CHECK_INT(rx("^(a|b)$", "", "b\n"), 1);
    CHECK_INT(rx("a$", "m", "a\nb"), 1);
    /* glibc's '^' after anything also matches after a newline: only where
     * nothing can precede it, unless m */
    CHECK_INT(rx("(^a|^b)", "", "b"), 1);
    CHECK_INT(rx("x|^b", "", "ab"), 0);
    CHECK_INT(rx("a\n^b", "m", "a\nb"), 1);
    CHECK_INT(rx("a\n^b", "", "a\nb"), -400);
    CHECK_INT(rx("x(^a)", "", "xa"), -400);
    CHECK_INT(rx("\\Aa", "", "a"), 1);
    CHECK_INT(rx("b\\z", "", "ab\n"), 0);
    /* one UTF-8 character is one '.', one negated class, one atom */
    CHECK_INT(rx("^.$", "", "\xc3\xa9"), 1);
    CHECK_INT(rx("^..$", "", "\xc3\xa9"), 0);
    CHECK_INT(rx("^[^a]$", "", "\xe2\x82\xac"), 1);
    CHECK_INT(rx("^\xc3\xa9+$", "", "\xc3\xa9\xc3\xa9"), 1);
    CHECK_INT(rx("^\\x{e9}$", "", "\xc3\xa9"), 1);
    /* PCRE's literals that glibc would read as operators */
    CHECK_INT(rx("\\<a", "", "<a"), 1);
    CHECK_INT(rx("\\<a", "", "a"), 0);
    CHECK_INT(rx("a{", "", "a{"), 1);
    CHECK_INT(rx("^a{2}$", "", "aa"), 1);
    CHECK_INT(rx("^a*?b$", "", "aab"), 1);
    /* the whole string, NUL bytes included */
    CHECK_INT(rx_len("b$", "", "a\0b", 3), 1);
    CHECK_INT(rx_len("a.b", "", "a\0b", 3), 1);
    /* what cannot be mapped is refused */
    CHECK_INT(rx("(a)\\1", "", "aa"), -400);
    CHECK_INT(rx("a\\Z", "", "a"), -400);
    CHECK_INT(rx("\\p{L}", "", "a"), -400);
    CHECK_INT(rx("a*+", "", "a"), -400);
    CHECK_INT(rx("(?i)a", "", "a"), -400);
    CHECK_INT(rx("a{,2}", "", "a"), -400);
    CHECK_INT(rx("[\xc3\xa9]", "", "\xc3\xa9"), -400);
    CHECK_INT(rx("[^\\D]", "", "1"), -400);
    CHECK_INT(rx("\xc3\xa9", "i", "\xc3\x89"), -400);
    CHECK_INT(rx("a$b", "", "a"), -400);
    CHECK_INT(rx("\\v", "", "\n"), -400);
    CHECK_REFUSED("{'a':{'$regex':'\\\\1'}}", 400, "not supported");
}

/* Review 4 #12: {a: /x/} also matches a stored regular expression equal to
 * it, as MongoDB. */
TEST_CASE(regex_value_matches_an_equal_stored_regex)
{
    CHECK(match("{'r':{'$regularExpression':{'pattern':'x','options':''}}}",
                "{'r':{'$regularExpression':{'pattern':'x','options':''}}}") == 1);
    CHECK(match("{'r':{'$regularExpression':{'pattern':'x','options':'i'}}}",
                "{'r':{'$regularExpression':{'pattern':'x','options':''}}}") == 0);
    CHECK(match("{'r':{'$regularExpression':{'pattern':'x','options':''}}}",
                "{'r':{'$regularExpression':{'pattern':'xy','options':''}}}") == 0);
    CHECK(match("{'r':{'$regex':'x'}}", "{'r':{'$regularExpression':{'pattern':'x','options':''}}}") == 1);
    CHECK(match("{'r':{'$in':[{'$regularExpression':{'pattern':'x','options':''}}]}}",
                "{'r':[{'$regularExpression':{'pattern':'x','options':''}}]}") == 1);
    CHECK(match("{'r':{'$not':{'$regularExpression':{'pattern':'x','options':''}}}}",
                "{'r':{'$regularExpression':{'pattern':'x','options':''}}}") == 0);
}

/* Review 4 #6: NaN sorts lowest, but the matcher orders nothing against it. */
TEST_CASE(nan_is_not_less_or_greater)
{
    CHECK(match("{'a':{'$lt':0}}", "{'a':{'$numberDouble':'NaN'}}") == 0);
    CHECK(match("{'a':{'$lte':0}}", "{'a':{'$numberDouble':'NaN'}}") == 0);
    CHECK(match("{'a':{'$gt':0}}", "{'a':{'$numberDouble':'NaN'}}") == 0);
    CHECK(match("{'a':{'$gte':{'$numberDouble':'NaN'}}}", "{'a':5}") == 0);
    CHECK(match("{'a':{'$lte':{'$numberDouble':'NaN'}}}", "{'a':5}") == 0);
    CHECK(match("{'a':{'$gt':{'$numberDouble':'NaN'}}}", "{'a':5}") == 0);
    CHECK(match("{'a':{'$gte':{'$numberDouble':'NaN'}}}", "{'a':{'$numberDouble':'NaN'}}") == 1);
    CHECK(match("{'a':{'$lte':{'$numberDouble':'NaN'}}}", "{'a':{'$numberDecimal':'NaN'}}") == 1);
    CHECK(match("{'a':{'$gt':{'$numberDouble':'NaN'}}}", "{'a':{'$numberDouble':'NaN'}}") == 0);
    CHECK(match("{'a':{'$lt':{'$numberDouble':'NaN'}}}", "{'a':{'$numberDouble':'NaN'}}") == 0);
    CHECK(match("{'a':{'$eq':{'$numberDouble':'NaN'}}}", "{'a':{'$numberDouble':'NaN'}}") == 1);
    CHECK(match("{'a':{'$lt':{'$numberDecimal':'1'}}}", "{'a':{'$numberDecimal':'NaN'}}") == 0);
    CHECK(match("{'a':{'$lte':5}}", "{'a':[{'$numberDouble':'NaN'},3]}") == 1);
    CHECK(match("{'a':{'$lte':5}}", "{'a':[{'$numberDouble':'NaN'}]}") == 0);
    CHECK(match("{'a':{'$gt':{'$minKey':1}}}", "{'a':{'$numberDouble':'NaN'}}") == 1);
}

/* Review 4 #9: $elemMatch's operators apply to each element as it is,
 * without looking into an element that is an array. */
TEST_CASE(elem_match_does_not_descend_into_nested_arrays)
{
    CHECK(match("{'e':{'$elemMatch':{'$gt':5}}}", "{'e':[[6]]}") == 0);
    CHECK(match("{'e':{'$elemMatch':{'$eq':6}}}", "{'e':[[6]]}") == 0);
    CHECK(match("{'e':{'$elemMatch':{'$in':[6]}}}", "{'e':[[6]]}") == 0);
    CHECK(match("{'e':{'$elemMatch':{'$gt':5}}}", "{'e':[1,6]}") == 1);
    CHECK(match("{'e':{'$elemMatch':{'$eq':[6]}}}", "{'e':[[6]]}") == 1);
    CHECK(match("{'e':{'$elemMatch':{'$size':1}}}", "{'e':[[6]]}") == 1);
    CHECK(match("{'e':{'$elemMatch':{'$not':{'$gt':5}}}}", "{'e':[[6]]}") == 1);
    CHECK(match("{'e':{'$elemMatch':{'$elemMatch':{'$gt':5}}}}", "{'e':[[6]]}") == 1);
    /* outside $elemMatch an array field is still matched element by element */
    CHECK(match("{'e':{'$gt':5}}", "{'e':[1,6]}") == 1);
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

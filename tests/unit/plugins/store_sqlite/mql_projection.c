#include "../../../../plugins/store_sqlite/mql_projection.c"
#include "check.h"
#include "mql_json.h"

/* Inclusion and exclusion projections. */

static const char *proj(const char *keys, const char *doc)
{
    bson_t *k = J(keys), *d = J(doc), out;
    struct restfcgi_error err = {0};
    mql_projection *p = mql_projection_compile(k, &err);
    const char *r;
    if (p) {
        mql_projection_apply(p, d, &out);
        r = canon_of(&out);
        bson_destroy(&out);
    } else {
        char *buf = slot();
        snprintf(buf, 16384, "ERR %d %s", err.code, err.message);
        r = buf;
    }
    mql_projection_free(p);
    bson_destroy(k);
    bson_destroy(d);
    return r;
}

static const char *want(const char *json)
{
    bson_t *b = J(json);
    const char *s = canon_of(b);
    bson_destroy(b);
    return s;
}

TEST_CASE(inclusion_keeps_id_unless_excluded)
{
    CHECK_STR(proj("{'a':1}", "{'_id':1,'a':2,'b':3}"), want("{'_id':1,'a':2}"));
    CHECK_STR(proj("{'a':1,'_id':0}", "{'_id':1,'a':2,'b':3}"), want("{'a':2}"));
    CHECK_STR(proj("{'_id':1}", "{'_id':1,'a':2}"), want("{'_id':1}"));
    CHECK_STR(proj("{'a':true}", "{'_id':1,'a':2}"), want("{'_id':1,'a':2}"));
}

TEST_CASE(exclusion)
{
    CHECK_STR(proj("{'b':0}", "{'_id':1,'a':2,'b':3}"), want("{'_id':1,'a':2}"));
    CHECK_STR(proj("{'_id':0}", "{'_id':1,'a':2}"), want("{'a':2}"));
    CHECK_STR(proj("{'a.x':0}", "{'_id':1,'a':{'x':1,'y':2}}"), want("{'_id':1,'a':{'y':2}}"));
    CHECK_STR(proj("{'a.x':0}", "{'a':[{'x':1,'y':2},7]}"), want("{'a':[{'y':2},7]}"));
    CHECK_STR(proj("{}", "{'_id':1,'a':2}"), want("{'_id':1,'a':2}"));
}

TEST_CASE(nested_inclusion)
{
    CHECK_STR(proj("{'a.x':1,'_id':0}", "{'a':{'x':1,'y':2},'b':1}"), want("{'a':{'x':1}}"));
    CHECK_STR(proj("{'a.x':1,'_id':0}", "{'a':[{'x':1,'y':2},{'y':3},7]}"), want("{'a':[{'x':1},{}]}"));
    CHECK_STR(proj("{'a.x':1,'_id':0}", "{'a':5}"), want("{}"));
    CHECK_STR(proj("{'a.x':1,'a.y':1,'_id':0}", "{'a':{'z':0,'y':2,'x':1}}"), want("{'a':{'y':2,'x':1}}"));
}

TEST_CASE(refusals)
{
    CHECK(strncmp(proj("{'a':1,'b':0}", "{}"), "ERR 400", 7) == 0);
    CHECK(strncmp(proj("{'a':0,'b':1}", "{}"), "ERR 400", 7) == 0);
    CHECK(strncmp(proj("{'a':1,'a.b':1}", "{}"), "ERR 400 projection: path collision", 34) == 0);
    CHECK(strncmp(proj("{'a':{'$slice':2}}", "{}"), "ERR 400", 7) == 0);
    CHECK(strncmp(proj("{'a.$':1}", "{}"), "ERR 400", 7) == 0);
    CHECK(strncmp(proj("{'a':'$b'}", "{}"), "ERR 400", 7) == 0);
}

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

/* Review 4 #13: {"_id.x": 1} was a 400 path collision with the implicit
 * _id; MongoDB returns only _id.x. */
TEST_CASE(inclusion_of_id_fields)
{
    CHECK_STR(proj("{'_id.x':1}", "{'_id':{'x':1,'y':2},'a':1}"), want("{'_id':{'x':1}}"));
    CHECK_STR(proj("{'_id.x':1,'a':1}", "{'_id':{'x':1,'y':2},'a':1,'b':2}"),
              want("{'_id':{'x':1},'a':1}"));
    CHECK_STR(proj("{'_id.x':0}", "{'_id':{'x':1,'y':2},'a':1}"), want("{'_id':{'y':2},'a':1}"));
    CHECK(strncmp(proj("{'_id':1,'_id.x':1}", "{}"), "ERR 400 projection: path collision", 34) == 0);
}

/* Review 4 #3: projections walk a document only so deep (20 000 levels of
 * arrays used to recurse 20 000 times) and refuse absurdly long paths. */
TEST_CASE(deep_documents_project_without_overflow)
{
    bson_t *d = deep_doc(20000, true, 1), *k = J("{'a.b':1}"), out;
    struct restfcgi_error err = {0};
    mql_projection *p = mql_projection_compile(k, &err);
    CHECK(p != NULL);
    mql_projection_apply(p, d, &out);
    CHECK(mql_doc_depth(&out, 2000) <= MQL_MAX_NESTING + 1);
    bson_destroy(&out);
    mql_projection_free(p);
    bson_destroy(k);
    bson_destroy(d);
    char *path = deep_path(2000);
    bson_t *keys = bson_new();
    BSON_APPEND_INT32(keys, path, 1);
    CHECK(mql_projection_compile(keys, &err) == NULL);
    CHECK_INT(err.code, 400);
    bson_destroy(keys);
    bson_free(path);
}

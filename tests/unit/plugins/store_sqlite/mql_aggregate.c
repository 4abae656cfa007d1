#include "../../../../plugins/store_sqlite/mql_aggregate.c"
#include "check.h"
#include "mql_json.h"

/* Aggregation pipelines. Documents are written as JSON with single quotes;
 * results are compared as canonical extended JSON of the array of emitted
 * documents, so types count (1 is an int32, 1.0 a double). */

#define NOW 1700000000123LL
#define MAX_DOCS 1000

/* The expected documents, a JSON array. */
static const char *want(const char *json)
{
    bson_t *b = J(json);
    const char *s = canon_of(b);
    bson_destroy(b);
    return s;
}

/* The input: the documents of a JSON array, one per next(); at fail_at
 * (when >= 0) next() fails with a 500 instead. */
struct source {
    bson_t *docs;
    bson_iter_t it;
    bson_t cur;
    int calls, fail_at;
};

static const bson_t *source_next(void *ctx, struct restfcgi_error *err)
{
    struct source *src = ctx;
    if (src->calls++ == src->fail_at) {
        err->domain = RESTFCGI_ERR_STORE;
        err->code = 500;
        snprintf(err->message, sizeof err->message, "the disk is on fire");
        return NULL;
    }
    if (!bson_iter_next(&src->it) || !mqx_iter_doc(&src->it, &src->cur))
        return NULL;
    return &src->cur;
}

/* The output: every emitted document appended to an array; emit fails
 * once stop_after documents have arrived (when >= 0). */
struct sink {
    bson_t out;
    uint32_t n;
    int stop_after;
    int calls_at_emit[64]; /* source calls made when each document came */
    struct source *src;
};

static bool sink_emit(void *ctx, const bson_t *doc, struct restfcgi_error *err)
{
    struct sink *k = ctx;
    if (k->stop_after >= 0 && (int)k->n >= k->stop_after) {
        err->domain = RESTFCGI_ERR_REQUEST;
        err->code = 499;
        snprintf(err->message, sizeof err->message, "the client went away");
        return false;
    }
    char buf[16];
    int kl;
    const char *key = mqx_index_key(k->n, buf, &kl);
    if (k->n < 64)
        k->calls_at_emit[k->n] = k->src->calls;
    k->n++;
    bson_append_document(&k->out, key, kl, doc);
    return true;
}

struct outcome {
    bool ok;
    struct restfcgi_error err;
    int source_calls;
    uint32_t emitted;
    int calls_at_emit[64];
};

static struct outcome run_full(const char *docs, const char *pipeline, size_t max_docs,
                               int fail_at, int stop_after, const char **result)
{
    struct source src = {.docs = J(docs), .fail_at = fail_at};
    struct sink k = {.stop_after = stop_after, .src = &src};
    bson_t *p = J(pipeline);
    struct outcome o = {0};
    bson_init(&k.out);
    bson_iter_init(&src.it, src.docs);
    o.ok = mql_aggregate_check(p, &o.err) &&
           mql_aggregate_run(p, source_next, &src, sink_emit, &k, NOW, max_docs, &o.err);
    if (result)
        *result = canon_of(&k.out);
    o.source_calls = src.calls;
    o.emitted = k.n;
    memcpy(o.calls_at_emit, k.calls_at_emit, sizeof o.calls_at_emit);
    bson_destroy(&k.out);
    bson_destroy(src.docs);
    bson_destroy(p);
    return o;
}

/* The emitted documents, or "ERR <code> <message>". */
static const char *agg(const char *docs, const char *pipeline)
{
    const char *res;
    struct outcome o = run_full(docs, pipeline, MAX_DOCS, -1, -1, &res);
    if (!o.ok) {
        char *buf = slot();
        snprintf(buf, 16384, "ERR %d %s", o.err.code, o.err.message);
        return buf;
    }
    return res;
}

static struct restfcgi_error check_err(const char *pipeline)
{
    bson_t *p = J(pipeline);
    struct restfcgi_error err = {0};
    CHECK(!mql_aggregate_check(p, &err));
    bson_destroy(p);
    return err;
}

/* A pipeline that passes the check and fails while running. */
static struct restfcgi_error run_err(const char *docs, const char *pipeline, size_t max_docs)
{
    struct outcome o = run_full(docs, pipeline, max_docs, -1, -1, NULL);
    CHECK(!o.ok);
    return o.err;
}

#define CHECK_ERR(e, c, sub)                                                                      \
    do {                                                                                          \
        struct restfcgi_error check_e_ = (e);                                                     \
        CHECK_INT(check_e_.code, c);                                                              \
        if (!strstr(check_e_.message, sub)) {                                                     \
            fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__,          \
                    check_e_.message, sub);                                                       \
            check_failures++;                                                                     \
        }                                                                                         \
    } while (0)

#define DOCS3 "[{'_id':1,'g':'a','n':1},{'_id':2,'g':'b','n':2},{'_id':3,'g':'a','n':3}]"

/* ---- the pipeline ---- */

TEST_CASE(empty_pipeline_passes_documents)
{
    CHECK_STR(agg("[{'a':1},{'b':2}]", "[]"), want("[{'a':1},{'b':2}]"));
}

TEST_CASE(no_input_no_output)
{
    CHECK_STR(agg("[]", "[{'$match':{'a':1}},{'$group':{'_id':null,'n':{'$sum':1}}}]"), want("[]"));
}

TEST_CASE(pipeline_must_be_single_key_documents)
{
    CHECK_ERR(check_err("[{'$match':{},'$limit':1}]"), 400, "more than one field");
    CHECK_ERR(check_err("[5]"), 400, "stage 0");
    CHECK_ERR(check_err("[{}]"), 400, "stage 0");
}

TEST_CASE(unsupported_stages_are_400)
{
    CHECK_ERR(check_err("[{'$lookup':{'from':'x'}}]"), 400, "unsupported aggregation stage $lookup");
    CHECK_ERR(check_err("[{'$match':{}},{'$facet':{}}]"), 400, "$facet");
    CHECK_ERR(check_err("[{'$out':'x'}]"), 400, "$out");
    CHECK_ERR(check_err("[{'$merge':'x'}]"), 400, "$merge");
    CHECK_ERR(check_err("[{'$graphLookup':{}}]"), 400, "$graphLookup");
    CHECK_ERR(check_err("[{'$replaceRoot':{'newRoot':'$a'}}]"), 400, "$replaceRoot");
    CHECK_ERR(check_err("[{'match':{}}]"), 400, "match");
}

TEST_CASE(check_errors_carry_the_request_domain)
{
    struct restfcgi_error e = check_err("[{'$limit':0}]");
    CHECK_INT(e.domain, RESTFCGI_ERR_REQUEST);
}

/* ---- $match ---- */

TEST_CASE(match_filters)
{
    CHECK_STR(agg(DOCS3, "[{'$match':{'g':'a','n':{'$gt':1}}}]"),
              want("[{'_id':3,'g':'a','n':3}]"));
}

TEST_CASE(match_bad_filters)
{
    struct restfcgi_error e = check_err("[{'$match':{'$where':'1'}}]");
    CHECK_INT(e.code, 403);
    CHECK_ERR(check_err("[{'$match':{'a':{'$bogus':1}}}]"), 400, "$match");
    CHECK_ERR(check_err("[{'$match':5}]"), 400, "$match");
}

/* ---- $project ---- */

TEST_CASE(project_inclusion)
{
    CHECK_STR(agg("[{'_id':1,'a':1,'b':{'c':1,'d':2},'e':3}]", "[{'$project':{'a':1,'b.c':1}}]"),
              want("[{'_id':1,'a':1,'b':{'c':1}}]"));
    CHECK_STR(agg("[{'_id':1,'a':1,'b':2}]", "[{'$project':{'a':true,'_id':0}}]"), want("[{'a':1}]"));
}

TEST_CASE(project_exclusion)
{
    CHECK_STR(agg("[{'_id':1,'a':1,'b':{'c':1,'d':2}}]", "[{'$project':{'a':0,'b.c':0}}]"),
              want("[{'_id':1,'b':{'d':2}}]"));
    CHECK_STR(agg("[{'_id':1,'a':1}]", "[{'$project':{'_id':0}}]"), want("[{'a':1}]"));
}

TEST_CASE(project_computed_fields)
{
    CHECK_STR(agg("[{'_id':1,'a':{'b':5},'c':2}]",
                  "[{'$project':{'c':1,'x':'$a.b','y':{'$literal':'$c'},'z':'lit','w':'$nope'}}]"),
              want("[{'_id':1,'c':2,'x':5,'y':'$c','z':'lit'}]"));
}

TEST_CASE(project_computed_only_keeps_id)
{
    CHECK_STR(agg("[{'_id':1,'a':5}]", "[{'$project':{'b':'$a'}}]"), want("[{'_id':1,'b':5}]"));
    CHECK_STR(agg("[{'_id':1,'a':5}]", "[{'$project':{'b':'$a','_id':0}}]"), want("[{'b':5}]"));
    CHECK_STR(agg("[{'_id':1,'a':5}]", "[{'$project':{'_id':'$a'}}]"), want("[{'_id':5}]"));
}

TEST_CASE(project_computed_nested_field)
{
    CHECK_STR(agg("[{'_id':1,'a':{'b':1,'c':2},'d':3}]", "[{'$project':{'a.b':1,'a.x':'$d'}}]"),
              want("[{'_id':1,'a':{'b':1,'x':3}}]"));
    CHECK_STR(agg("[{'_id':1,'a':{'b':1,'c':2},'d':3}]", "[{'$project':{'a':{'x':'$d'}}}]"),
              want("[{'_id':1,'a':{'x':3}}]"));
}

TEST_CASE(project_errors)
{
    CHECK_ERR(check_err("[{'$project':{'a':1,'b':0}}]"), 400, "$project");
    CHECK_ERR(check_err("[{'$project':{'a':0,'b':'$c'}}]"), 400, "$project");
    CHECK_ERR(check_err("[{'$project':{'a':{'$add':[1,2]}}}]"), 400, "$add");
    CHECK_ERR(check_err("[{'$project':{}}]"), 400, "$project");
    CHECK_ERR(check_err("[{'$project':{'a':1,'a.b':'$x'}}]"), 400, "collision");
}

/* ---- $addFields, $set, $unset ---- */

TEST_CASE(add_fields_and_set)
{
    CHECK_STR(agg("[{'_id':1,'a':1}]", "[{'$addFields':{'b':'$a','a':2}},{'$set':{'c.d':'$b'}}]"),
              want("[{'_id':1,'a':2,'b':1,'c':{'d':1}}]"));
}

TEST_CASE(add_fields_now_and_root)
{
    CHECK_STR(agg("[{'a':1}]", "[{'$set':{'t':'$$NOW','r':'$$ROOT'}}]"),
              want("[{'a':1,'t':{'$date':{'$numberLong':'1700000000123'}},'r':{'a':1}}]"));
}

TEST_CASE(add_fields_operator_is_400)
{
    CHECK_ERR(check_err("[{'$set':{'a':{'$toUpper':'$b'}}}]"), 400, "$toUpper");
}

TEST_CASE(unset_stage)
{
    CHECK_STR(agg("[{'_id':1,'a':1,'b':{'c':1,'d':1}}]", "[{'$unset':['a','b.d']}]"),
              want("[{'_id':1,'b':{'c':1}}]"));
    CHECK_STR(agg("[{'_id':1,'a':1}]", "[{'$unset':'_id'}]"), want("[{'a':1}]"));
    CHECK_ERR(check_err("[{'$unset':[1]}]"), 400, "$unset");
}

/* ---- $group ---- */

TEST_CASE(group_count_all)
{
    CHECK_STR(agg(DOCS3, "[{'$group':{'_id':null,'n':{'$sum':1},'c':{'$count':{}}}}]"),
              want("[{'_id':null,'n':3,'c':3}]"));
}

TEST_CASE(group_by_field_in_order_of_first_appearance)
{
    CHECK_STR(agg(DOCS3, "[{'$group':{'_id':'$g','total':{'$sum':'$n'},'avg':{'$avg':'$n'}}}]"),
              want("[{'_id':'a','total':4,'avg':2.0},{'_id':'b','total':2,'avg':2.0}]"));
}

TEST_CASE(group_missing_key_is_null)
{
    CHECK_STR(agg("[{'a':1},{'g':null,'a':2},{'g':1,'a':3}]",
                  "[{'$group':{'_id':'$g','a':{'$push':'$a'}}}]"),
              want("[{'_id':null,'a':[1,2]},{'_id':1,'a':[3]}]"));
}

TEST_CASE(group_numbers_group_by_value)
{
    CHECK_STR(agg("[{'g':1},{'g':1.0},{'g':{'$numberLong':'1'}},{'g':2}]",
                  "[{'$group':{'_id':'$g','n':{'$sum':1}}}]"),
              want("[{'_id':1,'n':3},{'_id':2,'n':1}]"));
}

TEST_CASE(group_by_document_and_literal)
{
    CHECK_STR(agg("[{'a':1,'b':1},{'a':1,'b':2},{'a':1,'b':1}]",
                  "[{'$group':{'_id':{'x':'$a','y':'$b'},'n':{'$sum':1}}}]"),
              want("[{'_id':{'x':1,'y':1},'n':2},{'_id':{'x':1,'y':2},'n':1}]"));
    CHECK_STR(agg("[{'a':1},{'a':2}]", "[{'$group':{'_id':'all','n':{'$sum':'$a'}}}]"),
              want("[{'_id':'all','n':3}]"));
}

TEST_CASE(group_sum_int32_stays_int32)
{
    CHECK_STR(agg("[{'n':1},{'n':2}]", "[{'$group':{'_id':null,'s':{'$sum':'$n'}}}]"),
              want("[{'_id':null,'s':3}]"));
}

TEST_CASE(group_sum_int32_overflow_gives_int64)
{
    CHECK_STR(agg("[{'n':2147483647},{'n':1}]", "[{'$group':{'_id':null,'s':{'$sum':'$n'}}}]"),
              want("[{'_id':null,'s':{'$numberLong':'2147483648'}}]"));
}

TEST_CASE(group_sum_int64_gives_int64)
{
    CHECK_STR(agg("[{'n':1},{'n':{'$numberLong':'2'}}]", "[{'$group':{'_id':null,'s':{'$sum':'$n'}}}]"),
              want("[{'_id':null,'s':{'$numberLong':'3'}}]"));
}

TEST_CASE(group_sum_int64_overflow_gives_double)
{
    CHECK_STR(agg("[{'n':{'$numberLong':'9223372036854775807'}},{'n':{'$numberLong':'1'}}]",
                  "[{'$group':{'_id':null,'s':{'$sum':'$n'}}}]"),
              want("[{'_id':null,'s':9.2233720368547758E+18}]"));
}

TEST_CASE(group_sum_double_gives_double)
{
    CHECK_STR(agg("[{'n':1},{'n':0.5}]", "[{'$group':{'_id':null,'s':{'$sum':'$n'}}}]"),
              want("[{'_id':null,'s':1.5}]"));
}

TEST_CASE(group_sum_ignores_non_numbers)
{
    CHECK_STR(agg("[{'n':'5'},{'n':[1,2]},{'n':null},{},{'n':2}]",
                  "[{'$group':{'_id':null,'s':{'$sum':'$n'},'z':{'$sum':'$nope'}}}]"),
              want("[{'_id':null,'s':2,'z':0}]"));
}

TEST_CASE(group_sum_decimal_is_400)
{
    CHECK_ERR(run_err("[{'n':{'$numberDecimal':'1.5'}}]", "[{'$group':{'_id':null,'s':{'$sum':'$n'}}}]",
                      MAX_DOCS),
              400, "$sum");
}

TEST_CASE(group_avg_without_numbers_is_null)
{
    CHECK_STR(agg("[{'n':'x'},{}]", "[{'$group':{'_id':null,'a':{'$avg':'$n'}}}]"),
              want("[{'_id':null,'a':null}]"));
    CHECK_STR(agg("[{'n':1},{'n':2},{'n':'x'}]", "[{'$group':{'_id':null,'a':{'$avg':'$n'}}}]"),
              want("[{'_id':null,'a':1.5}]"));
}

TEST_CASE(group_min_max_ignore_null_and_missing)
{
    CHECK_STR(agg("[{'n':3},{'n':null},{},{'n':1},{'n':'s'}]",
                  "[{'$group':{'_id':null,'lo':{'$min':'$n'},'hi':{'$max':'$n'},'none':{'$min':"
                  "'$q'}}}]"),
              want("[{'_id':null,'lo':1,'hi':'s','none':null}]"));
}

TEST_CASE(group_first_last)
{
    CHECK_STR(agg("[{'n':1},{'n':2},{}]",
                  "[{'$group':{'_id':null,'f':{'$first':'$n'},'l':{'$last':'$n'}}}]"),
              want("[{'_id':null,'f':1,'l':null}]"));
}

TEST_CASE(group_push_values_and_root)
{
    CHECK_STR(agg("[{'_id':1,'n':1},{'_id':2}]",
                  "[{'$group':{'_id':null,'p':{'$push':'$n'},'d':{'$push':'$$ROOT'},'o':{'$push':"
                  "{'v':'$n'}}}}]"),
              want("[{'_id':null,'p':[1],'d':[{'_id':1,'n':1},{'_id':2}],'o':[{'v':1},{}]}]"));
}

TEST_CASE(group_errors)
{
    CHECK_ERR(check_err("[{'$group':{'n':{'$sum':1}}}]"), 400, "_id");
    CHECK_ERR(check_err("[{'$group':{'_id':null,'n':{'$addToSet':'$a'}}}]"), 400, "$addToSet");
    CHECK_ERR(check_err("[{'$group':{'_id':null,'n':{'$bogus':'$a'}}}]"), 400, "$bogus");
    CHECK_ERR(check_err("[{'$group':{'_id':null,'a.b':{'$sum':1}}}]"), 400, "a.b");
    CHECK_ERR(check_err("[{'$group':{'_id':null,'n':5}}]"), 400, "'n'");
    CHECK_ERR(check_err("[{'$group':{'_id':null,'n':{'$count':{'x':1}}}}]"), 400, "$count");
    CHECK_ERR(check_err("[{'$group':{'_id':null,'n':{'$sum':[1,2]}}}]"), 400, "$sum");
    CHECK_ERR(check_err("[{'$group':{'_id':{'$add':[1]}}}]"), 400, "$add");
    CHECK_ERR(check_err("[{'$group':{'_id':null,'n':{'$sum':{'$multiply':[1,2]}}}}]"), 400,
              "$multiply");
}

TEST_CASE(group_too_many_groups_is_400)
{
    CHECK_ERR(run_err("[{'g':1},{'g':2},{'g':3}]", "[{'$group':{'_id':'$g'}}]", 2), 400,
              "too many documents for $group");
    struct outcome o = run_full("[{'g':1},{'g':2},{'g':1}]", "[{'$group':{'_id':'$g'}}]", 2, -1, -1,
                                NULL);
    CHECK(o.ok);
}

TEST_CASE(group_push_values_count_against_max_docs)
{
    CHECK_ERR(run_err("[{'g':1},{'g':1},{'g':1}]", "[{'$group':{'_id':null,'p':{'$push':'$g'}}}]", 3),
              400, "$group");
}

/* ---- $sort, $skip, $limit ---- */

TEST_CASE(sort_ascending_descending)
{
    CHECK_STR(agg(DOCS3, "[{'$sort':{'n':-1}},{'$project':{'n':1,'_id':0}}]"),
              want("[{'n':3},{'n':2},{'n':1}]"));
    CHECK_STR(agg(DOCS3, "[{'$sort':{'g':1,'n':-1}},{'$project':{'_id':1}}]"),
              want("[{'_id':3},{'_id':1},{'_id':2}]"));
}

TEST_CASE(sort_is_stable)
{
    CHECK_STR(agg("[{'k':1,'i':0},{'k':0,'i':1},{'k':1,'i':2},{'k':0,'i':3}]", "[{'$sort':{'k':1}}]"),
              want("[{'k':0,'i':1},{'k':0,'i':3},{'k':1,'i':0},{'k':1,'i':2}]"));
}

TEST_CASE(sort_too_many_documents_is_400)
{
    CHECK_ERR(run_err(DOCS3, "[{'$sort':{'n':1}}]", 2), 400, "too many documents for $sort");
}

TEST_CASE(sort_then_limit_keeps_only_the_best)
{
    /* 5 documents through a max of 3 held: the top-2 sort never holds more. */
    const char *res;
    struct outcome o = run_full("[{'n':5},{'n':3},{'n':4},{'n':1},{'n':2},{'n':1}]",
                                "[{'$sort':{'n':1}},{'$limit':2}]", 3, -1, -1, &res);
    CHECK(o.ok);
    CHECK_STR(res, want("[{'n':1},{'n':1}]"));
}

TEST_CASE(sort_errors)
{
    CHECK_ERR(check_err("[{'$sort':{}}]"), 400, "$sort");
    CHECK_ERR(check_err("[{'$sort':{'a':'up'}}]"), 400, "$sort");
    CHECK_ERR(check_err("[{'$sort':1}]"), 400, "$sort");
}

TEST_CASE(skip_and_limit)
{
    CHECK_STR(agg(DOCS3, "[{'$skip':1},{'$limit':1},{'$project':{'_id':1}}]"), want("[{'_id':2}]"));
    CHECK_STR(agg(DOCS3, "[{'$skip':0},{'$limit':10},{'$project':{'_id':1}}]"),
              want("[{'_id':1},{'_id':2},{'_id':3}]"));
    CHECK_STR(agg(DOCS3, "[{'$skip':5}]"), want("[]"));
    CHECK_STR(agg(DOCS3, "[{'$limit':1.0},{'$project':{'_id':1}}]"), want("[{'_id':1}]"));
}

TEST_CASE(skip_limit_errors)
{
    CHECK_ERR(check_err("[{'$limit':0}]"), 400, "$limit");
    CHECK_ERR(check_err("[{'$limit':-1}]"), 400, "$limit");
    CHECK_ERR(check_err("[{'$skip':-1}]"), 400, "$skip");
    CHECK_ERR(check_err("[{'$skip':1.5}]"), 400, "$skip");
    CHECK_ERR(check_err("[{'$limit':'1'}]"), 400, "$limit");
}

TEST_CASE(limit_stops_reading_input)
{
    struct outcome o = run_full("[{'a':1},{'a':2},{'a':3},{'a':4}]", "[{'$limit':2}]", MAX_DOCS, -1,
                                -1, NULL);
    CHECK(o.ok);
    CHECK_INT(o.emitted, 2);
    CHECK_INT(o.source_calls, 2);
}

TEST_CASE(documents_stream_before_blocking_stages)
{
    struct outcome o = run_full("[{'a':1},{'a':2},{'a':3}]", "[{'$match':{}},{'$set':{'b':1}}]",
                                MAX_DOCS, -1, -1, NULL);
    CHECK(o.ok);
    CHECK_INT(o.emitted, 3);
    /* Each document is emitted right after it is read. */
    CHECK_INT(o.calls_at_emit[0], 1);
    CHECK_INT(o.calls_at_emit[1], 2);
    CHECK_INT(o.calls_at_emit[2], 3);
    o = run_full("[{'a':1},{'a':2},{'a':3}]", "[{'$sort':{'a':-1}}]", MAX_DOCS, -1, -1, NULL);
    CHECK_INT(o.calls_at_emit[0], 4); /* after the end of the input */
}

/* ---- $unwind ---- */

TEST_CASE(unwind_string_path)
{
    CHECK_STR(agg("[{'_id':1,'a':[1,2],'b':3},{'_id':2,'a':[]},{'_id':3},{'_id':4,'a':null},{'_id':"
                  "5,'a':7}]",
                  "[{'$unwind':'$a'}]"),
              want("[{'_id':1,'a':1,'b':3},{'_id':1,'a':2,'b':3},{'_id':5,'a':7}]"));
}

TEST_CASE(unwind_nested_path)
{
    CHECK_STR(agg("[{'x':{'a':[1,2],'y':0}}]", "[{'$unwind':{'path':'$x.a'}}]"),
              want("[{'x':{'a':1,'y':0}},{'x':{'a':2,'y':0}}]"));
}

TEST_CASE(unwind_preserve_null_and_empty_arrays)
{
    CHECK_STR(agg("[{'_id':1,'a':[1]},{'_id':2,'a':[]},{'_id':3},{'_id':4,'a':null}]",
                  "[{'$unwind':{'path':'$a','preserveNullAndEmptyArrays':true}}]"),
              want("[{'_id':1,'a':1},{'_id':2},{'_id':3},{'_id':4,'a':null}]"));
}

TEST_CASE(unwind_include_array_index)
{
    CHECK_STR(agg("[{'_id':1,'a':['x','y']},{'_id':2,'a':5},{'_id':3}]",
                  "[{'$unwind':{'path':'$a','includeArrayIndex':'i','preserveNullAndEmptyArrays':"
                  "true}}]"),
              want("[{'_id':1,'a':'x','i':{'$numberLong':'0'}},{'_id':1,'a':'y','i':{'$numberLong':"
                   "'1'}},{'_id':2,'a':5,'i':null},{'_id':3,'i':null}]"));
}

TEST_CASE(unwind_errors)
{
    CHECK_ERR(check_err("[{'$unwind':'a'}]"), 400, "$unwind");
    CHECK_ERR(check_err("[{'$unwind':{'path':'$a','bogus':1}}]"), 400, "bogus");
    CHECK_ERR(check_err("[{'$unwind':{'preserveNullAndEmptyArrays':true}}]"), 400, "path");
    CHECK_ERR(check_err("[{'$unwind':{'path':'$a','includeArrayIndex':'$i'}}]"), 400,
              "includeArrayIndex");
    CHECK_ERR(check_err("[{'$unwind':5}]"), 400, "$unwind");
}

/* ---- $count ---- */

TEST_CASE(count_stage)
{
    CHECK_STR(agg(DOCS3, "[{'$match':{'g':'a'}},{'$count':'total'}]"), want("[{'total':2}]"));
    CHECK_STR(agg(DOCS3, "[{'$match':{'g':'z'}},{'$count':'total'}]"), want("[]"));
}

TEST_CASE(count_errors)
{
    CHECK_ERR(check_err("[{'$count':''}]"), 400, "$count");
    CHECK_ERR(check_err("[{'$count':'$n'}]"), 400, "$count");
    CHECK_ERR(check_err("[{'$count':'a.b'}]"), 400, "$count");
    CHECK_ERR(check_err("[{'$count':1}]"), 400, "$count");
}

/* ---- several stages ---- */

TEST_CASE(group_then_sort_then_match)
{
    CHECK_STR(agg("[{'g':'x','n':1},{'g':'y','n':5},{'g':'x','n':2},{'g':'z','n':1}]",
                  "[{'$group':{'_id':'$g','s':{'$sum':'$n'}}},{'$sort':{'s':-1,'_id':1}},{'$match':"
                  "{'s':{'$gte':2}}}]"),
              want("[{'_id':'y','s':5},{'_id':'x','s':3}]"));
}

TEST_CASE(unwind_then_group)
{
    CHECK_STR(agg("[{'t':['a','b']},{'t':['b']}]",
                  "[{'$unwind':'$t'},{'$group':{'_id':'$t','n':{'$sum':1}}},{'$sort':{'_id':1}}]"),
              want("[{'_id':'a','n':1},{'_id':'b','n':2}]"));
}

TEST_CASE(limit_after_group)
{
    CHECK_STR(agg(DOCS3, "[{'$group':{'_id':'$g'}},{'$limit':1},{'$count':'n'}]"), want("[{'n':1}]"));
}

/* ---- the input and the output failing ---- */

TEST_CASE(next_error_stops_the_run)
{
    struct outcome o = run_full(DOCS3, "[{'$group':{'_id':'$g'}}]", MAX_DOCS, 1, -1, NULL);
    CHECK(!o.ok);
    CHECK_INT(o.err.code, 500);
    CHECK_STR(o.err.message, "the disk is on fire");
    CHECK_INT(o.emitted, 0);
    o = run_full(DOCS3, "[]", MAX_DOCS, 2, -1, NULL);
    CHECK(!o.ok);
    CHECK_INT(o.emitted, 2);
}

TEST_CASE(emit_failure_stops_the_run)
{
    struct outcome o = run_full(DOCS3, "[{'$set':{'x':1}}]", MAX_DOCS, -1, 1, NULL);
    CHECK(!o.ok);
    CHECK_INT(o.err.code, 499);
    CHECK_INT(o.emitted, 1);
    CHECK_INT(o.source_calls, 2); /* nothing read after the failure */
    o = run_full(DOCS3, "[{'$sort':{'n':1}}]", MAX_DOCS, -1, 2, NULL);
    CHECK(!o.ok);
    CHECK_INT(o.emitted, 2);
}

TEST_CASE(run_refuses_an_unchecked_bad_pipeline)
{
    bson_t *p = J("[{'$bogus':1}]");
    struct source src = {.docs = J("[]"), .fail_at = -1};
    struct sink k = {.stop_after = -1, .src = &src};
    struct restfcgi_error err = {0};
    bson_init(&k.out);
    bson_iter_init(&src.it, src.docs);
    CHECK(!mql_aggregate_run(p, source_next, &src, sink_emit, &k, NOW, MAX_DOCS, &err));
    CHECK_INT(err.code, 400);
    CHECK_INT(src.calls, 0);
    bson_destroy(&k.out);
    bson_destroy(src.docs);
    bson_destroy(p);
}

/* ---- depth (review 4 #3) ---- */

/* Runs pipeline over docs (bson documents), counting what is emitted. */
static bool run_docs(bson_t **docs, size_t n, const bson_t *p, uint32_t *emitted,
                     struct restfcgi_error *err)
{
    bson_t arr = BSON_INITIALIZER;
    for (size_t i = 0; i < n; i++) {
        char buf[16];
        int kl;
        const char *key = mqx_index_key((uint32_t)i, buf, &kl);
        bson_append_document(&arr, key, kl, docs[i]);
    }
    struct source src = {.docs = &arr, .fail_at = -1};
    struct sink k = {.stop_after = -1, .src = &src};
    bson_init(&k.out);
    bson_iter_init(&src.it, &arr);
    bool ok = mql_aggregate_check(p, err) &&
              mql_aggregate_run(p, source_next, &src, sink_emit, &k, NOW, MAX_DOCS, err);
    *emitted = k.n;
    bson_destroy(&k.out);
    bson_destroy(&arr);
    return ok;
}

TEST_CASE(stages_cannot_nest_documents_deeper_than_100)
{
    struct restfcgi_error err = {0};
    uint32_t n;
    bson_t *d98 = deep_doc(98, false, 1), *d150 = deep_doc(150, false, 1);
    bson_t *twice = J("[{'$addFields':{'a':'$$ROOT'}},{'$addFields':{'a':'$$ROOT'}}]");
    CHECK(!run_docs(&d98, 1, twice, &n, &err));
    CHECK_ERR(err, 400, "limit of 100");
    bson_t *once = J("[{'$addFields':{'a':'$$ROOT'}}]");
    memset(&err, 0, sizeof err);
    CHECK(run_docs(&d98, 1, once, &n, &err) && n == 1);
    bson_t *push = J("[{'$group':{'_id':null,'all':{'$push':'$$ROOT'}}}]");
    memset(&err, 0, sizeof err);
    CHECK(!run_docs(&d98, 1, push, &n, &err));
    CHECK_ERR(err, 400, "limit of 100");
    /* a stored document already deeper passes through unchanged stages */
    bson_t *keep = J("[{'$match':{}},{'$project':{'a':1}},{'$set':{'x':1}}]");
    memset(&err, 0, sizeof err);
    CHECK(run_docs(&d150, 1, keep, &n, &err) && n == 1);
    bson_destroy(twice);
    bson_destroy(once);
    bson_destroy(push);
    bson_destroy(keep);
    bson_destroy(d98);
    bson_destroy(d150);
}

TEST_CASE(add_fields_paths_have_at_most_100_components)
{
    char *path = deep_path(101);
    bson_t *p = bson_new(), st, sv;
    bson_append_document_begin(p, "0", -1, &st);
    bson_append_document_begin(&st, "$addFields", -1, &sv);
    BSON_APPEND_INT32(&sv, path, 1);
    bson_append_document_end(&st, &sv);
    bson_append_document_end(p, &st);
    struct restfcgi_error err = {0};
    CHECK(!mql_aggregate_check(p, &err));
    CHECK_ERR(err, 400, "limit of 100");
    bson_destroy(p);
    bson_free(path);
}

TEST_CASE(pipelines_have_at_most_1000_stages)
{
    for (int n = 1000; n <= 1001; n++) {
        bson_t *p = bson_new();
        for (int i = 0; i < n; i++) {
            char buf[16];
            int kl;
            const char *key = mqx_index_key((uint32_t)i, buf, &kl);
            bson_t st;
            bson_append_document_begin(p, key, kl, &st);
            BSON_APPEND_INT32(&st, "$skip", 0);
            bson_append_document_end(p, &st);
        }
        struct restfcgi_error err = {0};
        bool ok = mql_aggregate_check(p, &err);
        CHECK(ok == (n == 1000));
        if (!ok)
            CHECK_ERR(err, 400, "more than 1000 stages");
        bson_destroy(p);
    }
}

TEST_CASE(deep_documents_sort_and_group_without_overflow)
{
    struct restfcgi_error err = {0};
    uint32_t n;
    bson_t *docs[2] = {deep_doc(20000, false, 2), deep_doc(20000, true, 1)};
    bson_t *p = J("[{'$sort':{'a':1}},{'$project':{'b':1}},{'$count':'n'}]");
    bool ok = run_docs(docs, 2, p, &n, &err);
    if (!ok)
        fprintf(stderr, "%d %s\n", err.code, err.message);
    CHECK(ok);
    CHECK_INT(n, 1);
    bson_destroy(p);
    /* grouping by the deep value keys it safely, then refuses the result */
    p = J("[{'$group':{'_id':'$a','n':{'$sum':1}}}]");
    memset(&err, 0, sizeof err);
    CHECK(!run_docs(docs, 2, p, &n, &err));
    CHECK_ERR(err, 400, "limit of 100");
    bson_destroy(p);
    bson_destroy(docs[0]);
    bson_destroy(docs[1]);
}

/* Stage specifications a client sends can be deep or long too: bounded
 * before anything recurses over them. */
TEST_CASE(pipeline_paths_and_expressions_are_bounded)
{
    struct restfcgi_error err = {0};
    /* an expression of arrays 2000 deep */
    bson_t *spec = deep_doc(2000, true, 1), *p = bson_new(), st;
    bson_append_document_begin(p, "0", -1, &st);
    BSON_APPEND_DOCUMENT(&st, "$addFields", spec);
    bson_append_document_end(p, &st);
    CHECK(!mql_aggregate_check(p, &err));
    CHECK_ERR(err, 400, "deeper than 1024");
    bson_destroy(p);
    bson_destroy(spec);
    /* a field path of 2000 components */
    char *path = deep_path(2000), *ref = bson_strdup_printf("$%s", path);
    p = bson_new();
    bson_t af;
    bson_append_document_begin(p, "0", -1, &st);
    bson_append_document_begin(&st, "$addFields", -1, &af);
    BSON_APPEND_UTF8(&af, "x", ref);
    bson_append_document_end(&st, &af);
    bson_append_document_end(p, &st);
    memset(&err, 0, sizeof err);
    CHECK(!mql_aggregate_check(p, &err));
    CHECK_ERR(err, 400, "field path");
    bson_destroy(p);
    bson_free(ref);
    bson_free(path);
    /* $unwind's includeArrayIndex creates its path */
    path = deep_path(101);
    p = bson_new();
    bson_t uw;
    bson_append_document_begin(p, "0", -1, &st);
    bson_append_document_begin(&st, "$unwind", -1, &uw);
    BSON_APPEND_UTF8(&uw, "path", "$a");
    BSON_APPEND_UTF8(&uw, "includeArrayIndex", path);
    bson_append_document_end(&st, &uw);
    bson_append_document_end(p, &st);
    memset(&err, 0, sizeof err);
    CHECK(!mql_aggregate_check(p, &err));
    CHECK_ERR(err, 400, "limit of 100");
    bson_destroy(p);
    bson_free(path);
}

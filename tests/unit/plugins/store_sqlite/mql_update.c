#include "../../../../plugins/store_sqlite/mql_update.c"
#include "check.h"
#include "mql_json.h"

/* Update operators and pipeline updates. Documents are written as JSON with
 * single quotes; results are compared as canonical extended JSON, so types
 * count (1 is an int32, 1.0 a double, {'$numberLong': '1'} an int64). */

#define NOW 1700000000123LL

static const char *want(const char *json)
{
    bson_t *b = J(json);
    const char *s = canon_of(b);
    bson_destroy(b);
    return s;
}

/* Checks and applies; the result, or "ERR <code> <message>". */
static const char *run(const char *doc, const char *update, bool pipeline, bool inserting)
{
    bson_t *d = J(doc), *u = J(update), out;
    struct restfcgi_error err = {0};
    const char *res;
    char *buf;
    if (!mql_update_check(u, pipeline, &err)) {
        res = buf = slot();
        snprintf(buf, 16384, "CHECK ERR %d %s", err.code, err.message);
    } else if (mql_update_apply(d, u, pipeline, NOW, inserting, &out, &err)) {
        res = canon_of(&out);
        bson_destroy(&out);
    } else {
        CHECK(bson_empty(&out)); /* initialised, empty, on failure */
        bson_destroy(&out);
        res = buf = slot();
        snprintf(buf, 16384, "ERR %d %s", err.code, err.message);
    }
    bson_destroy(d);
    bson_destroy(u);
    return res;
}

static const char *upd(const char *doc, const char *update)
{
    return run(doc, update, false, false);
}

static const char *pipe_upd(const char *doc, const char *update)
{
    return run(doc, update, true, false);
}

/* An update mql_update_check refuses. */
static struct restfcgi_error check_err(const char *update, bool pipeline)
{
    bson_t *u = J(update);
    struct restfcgi_error err = {0};
    CHECK(!mql_update_check(u, pipeline, &err));
    bson_destroy(u);
    return err;
}

/* An update that passes the check but fails on doc. */
static struct restfcgi_error apply_err(const char *doc, const char *update, bool pipeline)
{
    bson_t *d = J(doc), *u = J(update), out;
    struct restfcgi_error err = {0};
    CHECK(mql_update_check(u, pipeline, &err));
    CHECK(!mql_update_apply(d, u, pipeline, NOW, false, &out, &err));
    CHECK(bson_empty(&out));
    bson_destroy(&out);
    bson_destroy(d);
    bson_destroy(u);
    return err;
}

#define CHECK_ERR(e, c, sub)                                                                      \
    do {                                                                                          \
        struct restfcgi_error check_e_ = (e);                                                     \
        CHECK_INT(check_e_.code, c);                                                              \
        CHECK_INT(check_e_.domain, RESTFCGI_ERR_REQUEST);                                         \
        if (!strstr(check_e_.message, sub)) {                                                     \
            fprintf(stderr, "%s:%d: message \"%s\" lacks \"%s\"\n", __FILE__, __LINE__,          \
                    check_e_.message, sub);                                                       \
            check_failures++;                                                                     \
        }                                                                                         \
    } while (0)

/* ---- $set ---- */

TEST_CASE(set_replaces_in_place)
{
    CHECK_STR(upd("{'_id':1,'a':1,'b':2}", "{'$set':{'a':5}}"), want("{'_id':1,'a':5,'b':2}"));
}

TEST_CASE(set_appends_new_fields_in_lexicographic_order)
{
    CHECK_STR(upd("{'_id':1,'b':1}", "{'$set':{'z':1,'a':2,'m':{'y':1}}}"),
              want("{'_id':1,'b':1,'a':2,'m':{'y':1},'z':1}"));
}

TEST_CASE(new_fields_ordered_across_operators)
{
    CHECK_STR(upd("{'_id':1}", "{'$set':{'c':1},'$inc':{'b':1},'$push':{'a':1}}"),
              want("{'_id':1,'a':[1],'b':1,'c':1}"));
}

TEST_CASE(set_dotted_creates_documents)
{
    CHECK_STR(upd("{'_id':1}", "{'$set':{'x.y.z':1}}"), want("{'_id':1,'x':{'y':{'z':1}}}"));
}

TEST_CASE(set_dotted_into_existing_document)
{
    CHECK_STR(upd("{'x':{'a':1,'c':3}}", "{'$set':{'x.b':2,'x.a':9}}"),
              want("{'x':{'a':9,'c':3,'b':2}}"));
}

TEST_CASE(set_array_index)
{
    CHECK_STR(upd("{'a':[1,2,3]}", "{'$set':{'a.1':9}}"), want("{'a':[1,9,3]}"));
}

TEST_CASE(set_array_index_pads_with_nulls)
{
    CHECK_STR(upd("{'a':[1,2,3]}", "{'$set':{'a.5':9}}"), want("{'a':[1,2,3,null,null,9]}"));
}

TEST_CASE(set_field_of_array_element)
{
    CHECK_STR(upd("{'a':[{'b':1},{'b':2}]}", "{'$set':{'a.1.b':5,'a.3.c':1}}"),
              want("{'a':[{'b':1},{'b':5},null,{'c':1}]}"));
}

TEST_CASE(set_numeric_component_on_document_is_a_field)
{
    CHECK_STR(upd("{'a':{}}", "{'$set':{'a.0':1}}"), want("{'a':{'0':1}}"));
}

TEST_CASE(set_document_and_array_values)
{
    CHECK_STR(upd("{'a':1}", "{'$set':{'a':{'b':[1,{'c':2}]}}}"), want("{'a':{'b':[1,{'c':2}]}}"));
}

TEST_CASE(set_through_scalar_is_400)
{
    CHECK_ERR(apply_err("{'a':5}", "{'$set':{'a.b':1}}", false), 400, "a.b");
    CHECK_ERR(apply_err("{'a':null}", "{'$set':{'a.b':1}}", false), 400, "$set");
}

TEST_CASE(set_field_name_in_array_is_400)
{
    CHECK_ERR(apply_err("{'a':[1]}", "{'$set':{'a.x':1}}", false), 400, "a.x");
}

TEST_CASE(set_id_to_same_value_is_allowed)
{
    CHECK_STR(upd("{'_id':1,'a':1}", "{'$set':{'_id':1,'a':2}}"), want("{'_id':1,'a':2}"));
}

TEST_CASE(set_id_to_other_value_is_400)
{
    CHECK_ERR(apply_err("{'_id':1}", "{'$set':{'_id':2}}", false), 400, "_id");
    CHECK_ERR(apply_err("{'_id':1}", "{'$set':{'_id':1.0}}", false), 400, "immutable");
    CHECK_ERR(apply_err("{'_id':{'a':1}}", "{'$set':{'_id.b':1}}", false), 400, "_id");
}

TEST_CASE(set_id_when_inserting_without_id)
{
    CHECK_STR(run("{}", "{'$set':{'_id':7,'a':1}}", false, true), want("{'_id':7,'a':1}"));
}

TEST_CASE(set_on_insert_only_when_inserting)
{
    CHECK_STR(run("{'a':1}", "{'$setOnInsert':{'b':1},'$set':{'a':2}}", false, false),
              want("{'a':2}"));
    CHECK_STR(run("{'a':1}", "{'$setOnInsert':{'b':1},'$set':{'a':2}}", false, true),
              want("{'a':2,'b':1}"));
}

/* ---- $unset ---- */

TEST_CASE(unset_removes_fields)
{
    CHECK_STR(upd("{'a':1,'b':{'c':1,'d':2},'e':3}", "{'$unset':{'a':'','b.c':1,'zz':1}}"),
              want("{'b':{'d':2},'e':3}"));
}

TEST_CASE(unset_array_element_becomes_null)
{
    CHECK_STR(upd("{'a':[1,2,3]}", "{'$unset':{'a.1':1}}"), want("{'a':[1,null,3]}"));
}

TEST_CASE(unset_through_scalar_or_missing_is_noop)
{
    CHECK_STR(upd("{'a':5}", "{'$unset':{'a.b':1,'x.y':1,'a.c.d':1}}"), want("{'a':5}"));
}

TEST_CASE(unset_id_is_400)
{
    CHECK_ERR(check_err("{'$unset':{'_id':1}}", false), 400, "_id");
}

/* ---- $inc and $mul ---- */

TEST_CASE(inc_int32)
{
    CHECK_STR(upd("{'a':1}", "{'$inc':{'a':2,'b':5}}"), want("{'a':3,'b':5}"));
}

TEST_CASE(inc_int32_overflow_widens_to_int64)
{
    CHECK_STR(upd("{'a':2147483647}", "{'$inc':{'a':1}}"),
              want("{'a':{'$numberLong':'2147483648'}}"));
}

TEST_CASE(inc_int64_stays_int64)
{
    CHECK_STR(upd("{'a':{'$numberLong':'5'}}", "{'$inc':{'a':1}}"),
              want("{'a':{'$numberLong':'6'}}"));
}

TEST_CASE(inc_int64_overflow_is_400)
{
    CHECK_ERR(apply_err("{'a':{'$numberLong':'9223372036854775807'}}", "{'$inc':{'a':1}}", false),
              400, "$inc");
}

TEST_CASE(inc_with_double_gives_double)
{
    CHECK_STR(upd("{'a':1,'b':1.5}", "{'$inc':{'a':0.5,'b':1}}"), want("{'a':1.5,'b':2.5}"));
}

TEST_CASE(inc_nested_path)
{
    CHECK_STR(upd("{'a':{'b':[1,2]}}", "{'$inc':{'a.b.1':10,'a.c':1}}"),
              want("{'a':{'b':[1,12],'c':1}}"));
}

TEST_CASE(inc_on_non_number_is_400)
{
    struct restfcgi_error e = apply_err("{'a':'x'}", "{'$inc':{'a':1}}", false);
    CHECK_ERR(e, 400, "$inc");
    CHECK_ERR(e, 400, "'a'");
    CHECK_ERR(e, 400, "string");
}

TEST_CASE(inc_by_non_number_is_400)
{
    CHECK_ERR(check_err("{'$inc':{'a':'1'}}", false), 400, "$inc");
    CHECK_ERR(check_err("{'$mul':{'a':null}}", false), 400, "$mul");
}

TEST_CASE(mul_numbers)
{
    CHECK_STR(upd("{'a':3,'b':2.5,'c':65536}", "{'$mul':{'a':2,'b':2,'c':65536}}"),
              want("{'a':6,'b':5.0,'c':{'$numberLong':'4294967296'}}"));
}

TEST_CASE(mul_missing_field_is_zero_of_the_multiplier_type)
{
    CHECK_STR(upd("{}", "{'$mul':{'a':5,'b':2.5,'c':{'$numberLong':'3'}}}"),
              want("{'a':0,'b':0.0,'c':{'$numberLong':'0'}}"));
}

TEST_CASE(mul_on_array_is_400)
{
    CHECK_ERR(apply_err("{'a':[1]}", "{'$mul':{'a':2}}", false), 400, "array");
}

/* ---- $min and $max ---- */

TEST_CASE(min_max_replace_only_when_beyond)
{
    CHECK_STR(upd("{'a':5,'b':5,'c':5,'d':5}", "{'$min':{'a':3,'b':7},'$max':{'c':3,'d':7}}"),
              want("{'a':3,'b':5,'c':5,'d':7}"));
}

TEST_CASE(min_max_equal_keeps_existing_type)
{
    CHECK_STR(upd("{'a':5}", "{'$min':{'a':5.0}}"), want("{'a':5}"));
}

TEST_CASE(min_max_missing_sets)
{
    CHECK_STR(upd("{}", "{'$min':{'a':1},'$max':{'b.c':2}}"), want("{'a':1,'b':{'c':2}}"));
}

TEST_CASE(min_max_compare_across_types)
{
    /* Numbers sort before strings, null before numbers. */
    CHECK_STR(upd("{'a':5,'b':5,'c':null}", "{'$min':{'a':'x','c':1},'$max':{'b':'x'}}"),
              want("{'a':5,'b':'x','c':null}"));
}

/* ---- $rename ---- */

TEST_CASE(rename_moves_field_to_new_name)
{
    CHECK_STR(upd("{'_id':1,'a':1,'b':2}", "{'$rename':{'a':'z'}}"), want("{'_id':1,'b':2,'z':1}"));
}

TEST_CASE(rename_over_existing_target_keeps_its_place)
{
    CHECK_STR(upd("{'a':1,'b':2,'c':3}", "{'$rename':{'c':'a'}}"), want("{'a':3,'b':2}"));
}

TEST_CASE(rename_dotted)
{
    CHECK_STR(upd("{'a':{'b':1,'c':2}}", "{'$rename':{'a.b':'x.y'}}"),
              want("{'a':{'c':2},'x':{'y':1}}"));
}

TEST_CASE(rename_missing_source_is_noop)
{
    CHECK_STR(upd("{'a':1}", "{'$rename':{'q':'r','x.s':'t'}}"), want("{'a':1}"));
}

TEST_CASE(rename_through_array_is_400)
{
    CHECK_ERR(apply_err("{'a':[{'b':1}]}", "{'$rename':{'a.0.b':'c'}}", false), 400, "array");
    CHECK_ERR(apply_err("{'a':1,'x':[]}", "{'$rename':{'a':'x.0'}}", false), 400, "destination");
}

TEST_CASE(rename_bad_operands_are_400)
{
    CHECK_ERR(check_err("{'$rename':{'a':'a'}}", false), 400, "$rename");
    CHECK_ERR(check_err("{'$rename':{'a':'a.b'}}", false), 400, "same path");
    CHECK_ERR(check_err("{'$rename':{'a':1}}", false), 400, "string");
    CHECK_ERR(check_err("{'$rename':{'_id':'b'}}", false), 400, "_id");
}

/* ---- $currentDate ---- */

TEST_CASE(current_date_date_and_timestamp)
{
    CHECK_STR(upd("{'a':1}", "{'$currentDate':{'a':true,'b':{'$type':'date'},'c':{'$type':"
                             "'timestamp'}}}"),
              want("{'a':{'$date':{'$numberLong':'1700000000123'}},'b':{'$date':{'$numberLong':"
                   "'1700000000123'}},'c':{'$timestamp':{'t':1700000000,'i':124}}}"));
}

TEST_CASE(current_date_bad_type_is_400)
{
    CHECK_ERR(check_err("{'$currentDate':{'a':{'$type':'string'}}}", false), 400, "$currentDate");
    CHECK_ERR(check_err("{'$currentDate':{'a':1}}", false), 400, "'a'");
}

/* ---- $push ---- */

TEST_CASE(push_appends_and_creates)
{
    CHECK_STR(upd("{'a':[1]}", "{'$push':{'a':2,'b':{'x':1}}}"), want("{'a':[1,2],'b':[{'x':1}]}"));
}

TEST_CASE(push_array_value_is_one_element)
{
    CHECK_STR(upd("{'a':[1]}", "{'$push':{'a':[2,3]}}"), want("{'a':[1,[2,3]]}"));
}

TEST_CASE(push_each)
{
    CHECK_STR(upd("{'a':[1]}", "{'$push':{'a':{'$each':[2,3]}}}"), want("{'a':[1,2,3]}"));
}

TEST_CASE(push_position)
{
    CHECK_STR(upd("{'a':[1,2,3]}", "{'$push':{'a':{'$each':[8,9],'$position':1}}}"),
              want("{'a':[1,8,9,2,3]}"));
    CHECK_STR(upd("{'a':[1,2,3]}", "{'$push':{'a':{'$each':[9],'$position':-1}}}"),
              want("{'a':[1,2,9,3]}"));
    CHECK_STR(upd("{'a':[1,2,3]}", "{'$push':{'a':{'$each':[9],'$position':99}}}"),
              want("{'a':[1,2,3,9]}"));
}

TEST_CASE(push_slice)
{
    CHECK_STR(upd("{'a':[1,2,3]}", "{'$push':{'a':{'$each':[4],'$slice':2}}}"), want("{'a':[1,2]}"));
    CHECK_STR(upd("{'a':[1,2,3]}", "{'$push':{'a':{'$each':[4],'$slice':-2}}}"), want("{'a':[3,4]}"));
    CHECK_STR(upd("{'a':[1,2,3]}", "{'$push':{'a':{'$each':[],'$slice':0}}}"), want("{'a':[]}"));
}

TEST_CASE(push_sort_values_and_fields)
{
    CHECK_STR(upd("{'a':[3,1]}", "{'$push':{'a':{'$each':[2],'$sort':-1}}}"), want("{'a':[3,2,1]}"));
    CHECK_STR(upd("{'a':[{'s':3,'n':'x'},{'s':1}]}",
                  "{'$push':{'a':{'$each':[{'s':2}],'$sort':{'s':1},'$slice':2}}}"),
              want("{'a':[{'s':1},{'s':2}]}"));
}

TEST_CASE(push_sort_is_stable)
{
    CHECK_STR(upd("{'a':[{'s':1,'i':0},{'s':0,'i':1},{'s':1,'i':2}]}",
                  "{'$push':{'a':{'$each':[{'s':0,'i':3}],'$sort':{'s':1}}}}"),
              want("{'a':[{'s':0,'i':1},{'s':0,'i':3},{'s':1,'i':0},{'s':1,'i':2}]}"));
}

TEST_CASE(push_document_without_each_is_a_value)
{
    CHECK_STR(upd("{}", "{'$push':{'a':{'b':1,'c':2}}}"), want("{'a':[{'b':1,'c':2}]}"));
}

TEST_CASE(push_to_non_array_is_400)
{
    struct restfcgi_error e = apply_err("{'a':{'b':1}}", "{'$push':{'a.b':2}}", false);
    CHECK_ERR(e, 400, "$push");
    CHECK_ERR(e, 400, "a.b");
}

TEST_CASE(push_bad_modifiers_are_400)
{
    CHECK_ERR(check_err("{'$push':{'a':{'$each':1}}}", false), 400, "$each");
    CHECK_ERR(check_err("{'$push':{'a':{'$each':[],'$slice':1.5}}}", false), 400, "$slice");
    CHECK_ERR(check_err("{'$push':{'a':{'$each':[],'$position':'x'}}}", false), 400, "$position");
    CHECK_ERR(check_err("{'$push':{'a':{'$each':[],'$sort':2}}}", false), 400, "$sort");
    CHECK_ERR(check_err("{'$push':{'a':{'$each':[],'$foo':1}}}", false), 400, "$foo");
}

/* ---- $addToSet ---- */

TEST_CASE(add_to_set_adds_only_missing_values)
{
    CHECK_STR(upd("{'a':[1,'x',{'b':1}]}", "{'$addToSet':{'a':{'b':1},'c':1}}"),
              want("{'a':[1,'x',{'b':1}],'c':[1]}"));
    CHECK_STR(upd("{'a':[1]}", "{'$addToSet':{'a':2}}"), want("{'a':[1,2]}"));
}

TEST_CASE(add_to_set_numbers_by_value)
{
    CHECK_STR(upd("{'a':[1]}", "{'$addToSet':{'a':1.0}}"), want("{'a':[1]}"));
}

TEST_CASE(add_to_set_each_dedups)
{
    CHECK_STR(upd("{'a':[1]}", "{'$addToSet':{'a':{'$each':[1,2,2,3]}}}"), want("{'a':[1,2,3]}"));
}

TEST_CASE(add_to_set_bad_uses_are_400)
{
    CHECK_ERR(apply_err("{'a':5}", "{'$addToSet':{'a':1}}", false), 400, "$addToSet");
    CHECK_ERR(check_err("{'$addToSet':{'a':{'$each':[1],'$slice':1}}}", false), 400, "$slice");
}

/* ---- $pull ---- */

TEST_CASE(pull_equal_values)
{
    CHECK_STR(upd("{'a':[1,2,1,'1',1.0]}", "{'$pull':{'a':1}}"), want("{'a':[2,'1']}"));
    CHECK_STR(upd("{'a':[{'b':1},{'b':1,'c':2}]}", "{'$pull':{'a':[1]}}"),
              want("{'a':[{'b':1},{'b':1,'c':2}]}"));
}

TEST_CASE(pull_condition_on_elements)
{
    CHECK_STR(upd("{'a':[1,5,7,3,9]}", "{'$pull':{'a':{'$gte':5}}}"), want("{'a':[1,3]}"));
    CHECK_STR(upd("{'a':[1,5,7]}", "{'$pull':{'a':{'$in':[1,7]}}}"), want("{'a':[5]}"));
    CHECK_STR(upd("{'a':['apple','kiwi']}", "{'$pull':{'a':{'$regex':'^a'}}}"), want("{'a':['kiwi']}"));
}

TEST_CASE(pull_query_on_document_elements)
{
    CHECK_STR(upd("{'a':[{'s':1,'t':'x'},{'s':8},3,{'t':'y'}]}", "{'$pull':{'a':{'s':{'$lt':5}}}}"),
              want("{'a':[{'s':8},3,{'t':'y'}]}"));
    CHECK_STR(upd("{'a':[{'s':1},{'s':2}]}", "{'$pull':{'a':{'$or':[{'s':1},{'s':9}]}}}"),
              want("{'a':[{'s':2}]}"));
}

TEST_CASE(pull_missing_is_noop_and_non_array_is_400)
{
    CHECK_STR(upd("{'b':1}", "{'$pull':{'a':1,'c.d':1}}"), want("{'b':1}"));
    CHECK_ERR(apply_err("{'a':1}", "{'$pull':{'a':1}}", false), 400, "$pull");
}

TEST_CASE(pull_where_is_403)
{
    struct restfcgi_error e = check_err("{'$pull':{'a':{'$where':'true'}}}", false);
    CHECK_INT(e.code, 403);
    CHECK(strstr(e.message, "$pull") != NULL);
}

/* ---- $pop ---- */

TEST_CASE(pop_first_and_last)
{
    CHECK_STR(upd("{'a':[1,2,3],'b':[1,2,3],'c':[],'d':1}",
                  "{'$pop':{'a':1,'b':-1,'c':1,'e':1}}"),
              want("{'a':[1,2],'b':[2,3],'c':[],'d':1}"));
}

TEST_CASE(pop_bad_uses_are_400)
{
    CHECK_ERR(check_err("{'$pop':{'a':2}}", false), 400, "$pop");
    CHECK_ERR(apply_err("{'a':'s'}", "{'$pop':{'a':1}}", false), 400, "$pop");
}

/* ---- the update document ---- */

TEST_CASE(conflicting_paths_are_400)
{
    CHECK_ERR(check_err("{'$set':{'a':1},'$inc':{'a':1}}", false), 400, "conflict");
    CHECK_ERR(check_err("{'$set':{'a.b':1},'$unset':{'a':1}}", false), 400, "conflict");
    CHECK_ERR(check_err("{'$set':{'x':1},'$rename':{'a':'x'}}", false), 400, "conflict");
    CHECK_ERR(check_err("{'$set':{'a':1},'$rename':{'a':'b'}}", false), 400, "conflict");
    CHECK_ERR(check_err("{'$setOnInsert':{'a.b.c':1},'$set':{'a.b':1}}", false), 400, "'a.b'");
    /* Siblings and look-alike prefixes do not conflict. */
    CHECK_STR(upd("{}", "{'$set':{'a.b':1,'ab':1},'$inc':{'a.c':1}}"),
              want("{'a':{'b':1,'c':1},'ab':1}"));
}

TEST_CASE(empty_update_and_empty_operand_are_400)
{
    CHECK_ERR(check_err("{}", false), 400, "empty");
    CHECK_ERR(check_err("{'$set':{}}", false), 400, "$set");
}

TEST_CASE(non_operator_field_is_400)
{
    CHECK_ERR(check_err("{'a':1}", false), 400, "'a'");
    CHECK_ERR(check_err("{'$set':{'b':1},'a':1}", false), 400, "update operator");
}

TEST_CASE(unknown_operator_and_bad_operand_are_400)
{
    CHECK_ERR(check_err("{'$foo':{'a':1}}", false), 400, "$foo");
    CHECK_ERR(check_err("{'$set':1}", false), 400, "$set");
}

TEST_CASE(bad_paths_are_400)
{
    CHECK_ERR(check_err("{'$set':{'a..b':1}}", false), 400, "a..b");
    CHECK_ERR(check_err("{'$set':{'a.$':1}}", false), 400, "a.$");
    CHECK_ERR(check_err("{'$inc':{'a.$[].b':1}}", false), 400, "$inc");
    CHECK_ERR(check_err("{'$set':{'':1}}", false), 400, "$set");
}

TEST_CASE(check_refuses_before_documents)
{
    bson_t *u = J("{'$set':{'a':1},'$bogus':{'b':1}}");
    struct restfcgi_error err = {0};
    CHECK(!mql_update_check(u, false, &err));
    CHECK_INT(err.domain, RESTFCGI_ERR_REQUEST);
    bson_destroy(u);
    u = J("{'$set':{'a':1},'$push':{'b':{'$each':[1],'$sort':{'x':1}}}}");
    CHECK(mql_update_check(u, false, &err));
    bson_destroy(u);
}

TEST_CASE(unchanged_document_gives_same_bytes)
{
    bson_t *d = J("{'_id':1,'a':[1,{'b':2}],'c':'x'}"), *u = J("{'$set':{'c':'x'},'$max':{'a.1.b':1}}");
    bson_t out;
    struct restfcgi_error err = {0};
    CHECK(mql_update_apply(d, u, false, NOW, false, &out, &err));
    CHECK_INT(out.len, d->len);
    CHECK(memcmp(bson_get_data(&out), bson_get_data(d), d->len) == 0);
    bson_destroy(&out);
    bson_destroy(d);
    bson_destroy(u);
}

/* ---- pipeline updates ---- */

TEST_CASE(pipeline_set_literals_and_references)
{
    CHECK_STR(pipe_upd("{'_id':1,'a':{'b':2}}", "[{'$set':{'c':'$a.b','d':5,'e':'text'}}]"),
              want("{'_id':1,'a':{'b':2},'c':2,'d':5,'e':'text'}"));
}

TEST_CASE(pipeline_set_reads_the_stage_input)
{
    CHECK_STR(pipe_upd("{'a':1}", "[{'$set':{'a':2,'b':'$a'}},{'$set':{'c':'$a'}}]"),
              want("{'a':2,'b':1,'c':2}"));
}

TEST_CASE(pipeline_set_nested_document_merges)
{
    CHECK_STR(pipe_upd("{'a':{'x':1},'b':5}", "[{'$set':{'a':{'y':2},'b':{'z':3}}}]"),
              want("{'a':{'x':1,'y':2},'b':{'z':3}}"));
}

TEST_CASE(pipeline_set_dotted_applies_to_array_elements)
{
    CHECK_STR(pipe_upd("{'a':[{'x':1},{'x':2},7]}", "[{'$set':{'a.y':1}}]"),
              want("{'a':[{'x':1,'y':1},{'x':2,'y':1},{'y':1}]}"));
}

TEST_CASE(pipeline_set_field_path_through_arrays)
{
    CHECK_STR(pipe_upd("{'a':[{'b':1},{'c':1},{'b':[2,3]},5]}", "[{'$set':{'r':'$a.b'}}]"),
              want("{'a':[{'b':1},{'c':1},{'b':[2,3]},5],'r':[1,[2,3]]}"));
}

TEST_CASE(pipeline_set_literal_now_and_root)
{
    CHECK_STR(pipe_upd("{'a':1}", "[{'$set':{'l':{'$literal':'$a'},'t':'$$NOW','r':'$$ROOT.a'}}]"),
              want("{'a':1,'l':'$a','t':{'$date':{'$numberLong':'1700000000123'}},'r':1}"));
}

TEST_CASE(pipeline_set_object_and_array_expressions)
{
    CHECK_STR(pipe_upd("{'a':1}", "[{'$set':{'o':{'$literal':{'x':'$a'}},'v':['$a','$nope',2]}}]"),
              want("{'a':1,'o':{'x':'$a'},'v':[1,null,2]}"));
}

TEST_CASE(pipeline_set_missing_reference_removes)
{
    CHECK_STR(pipe_upd("{'a':1,'b':2}", "[{'$set':{'a':'$nope','c':'$$REMOVE'}}]"),
              want("{'b':2}"));
}

TEST_CASE(pipeline_set_operator_expression_is_400)
{
    CHECK_ERR(check_err("[{'$set':{'a':{'$add':[1,2]}}}]", true), 400, "$add");
    CHECK_ERR(check_err("[{'$addFields':{'a':{'b':{'$concat':['x']}}}}]", true), 400, "$concat");
    CHECK_ERR(check_err("[{'$set':{'a':'$$foo'}}]", true), 400, "$$foo");
    CHECK_ERR(check_err("[{'$set':{'a':'$'}}]", true), 400, "field path");
    CHECK_ERR(check_err("[{'$set':{'a':1,'a.b':1}}]", true), 400, "collision");
}

TEST_CASE(pipeline_add_fields)
{
    CHECK_STR(pipe_upd("{'a':1}", "[{'$addFields':{'b':{'c':'$a'}}}]"), want("{'a':1,'b':{'c':1}}"));
}

TEST_CASE(pipeline_unset)
{
    CHECK_STR(pipe_upd("{'_id':1,'a':1,'b':{'c':1,'d':1},'e':1}", "[{'$unset':['a','b.c']}]"),
              want("{'_id':1,'b':{'d':1},'e':1}"));
    CHECK_STR(pipe_upd("{'_id':1,'a':1}", "[{'$unset':'a'}]"), want("{'_id':1}"));
    CHECK_ERR(check_err("[{'$unset':5}]", true), 400, "$unset");
    CHECK_ERR(check_err("[{'$unset':[]}]", true), 400, "$unset");
}

TEST_CASE(pipeline_project)
{
    CHECK_STR(pipe_upd("{'_id':1,'a':1,'b':2,'c':3}", "[{'$project':{'a':1,'c':1}}]"),
              want("{'_id':1,'a':1,'c':3}"));
    CHECK_STR(pipe_upd("{'_id':1,'a':1,'b':2}", "[{'$project':{'a':0}}]"), want("{'_id':1,'b':2}"));
    CHECK_ERR(check_err("[{'$project':{'a':1,'b':0}}]", true), 400, "$project");
}

TEST_CASE(pipeline_project_computed_fields)
{
    CHECK_STR(pipe_upd("{'_id':1,'a':1,'b':{'c':2,'d':3}}", "[{'$project':{'a':1,'x':'$b.c','y':"
                                                           "{'$literal':1}}}]"),
              want("{'_id':1,'a':1,'x':2,'y':1}"));
}

TEST_CASE(pipeline_removed_id_is_kept)
{
    CHECK_STR(pipe_upd("{'_id':1,'a':1}", "[{'$unset':'_id'}]"), want("{'_id':1,'a':1}"));
    CHECK_STR(pipe_upd("{'a':1,'_id':1}", "[{'$project':{'_id':0,'a':1}}]"), want("{'_id':1,'a':1}"));
}

TEST_CASE(pipeline_changed_id_is_400)
{
    CHECK_ERR(apply_err("{'_id':1}", "[{'$set':{'_id':2}}]", true), 400, "_id");
    /* Equal by value is not a change. */
    CHECK_STR(pipe_upd("{'_id':1}", "[{'$set':{'_id':1.0}}]"), want("{'_id':1.0}"));
}

TEST_CASE(pipeline_replace_root)
{
    CHECK_STR(pipe_upd("{'_id':1,'s':{'a':1,'b':2}}", "[{'$replaceRoot':{'newRoot':'$s'}}]"),
              want("{'_id':1,'a':1,'b':2}"));
    CHECK_STR(pipe_upd("{'_id':1,'x':5}", "[{'$replaceWith':{'y':'$x','z':{'w':'$x'}}}]"),
              want("{'_id':1,'y':5,'z':{'w':5}}"));
}

TEST_CASE(pipeline_replace_root_with_non_document_is_400)
{
    CHECK_ERR(apply_err("{'_id':1,'s':5}", "[{'$replaceRoot':{'newRoot':'$s'}}]", true), 400,
              "$replaceRoot");
    CHECK_ERR(apply_err("{'_id':1}", "[{'$replaceWith':'$nope'}]", true), 400, "missing");
    CHECK_ERR(check_err("[{'$replaceRoot':{'root':'$s'}}]", true), 400, "root");
}

TEST_CASE(pipeline_when_inserting)
{
    CHECK_STR(run("{}", "[{'$set':{'a':1,'t':'$$NOW'}}]", true, true),
              want("{'a':1,'t':{'$date':{'$numberLong':'1700000000123'}}}"));
}

TEST_CASE(pipeline_bad_stages_are_400)
{
    CHECK_ERR(check_err("[{'$group':{'_id':null}}]", true), 400, "$group");
    CHECK_ERR(check_err("[{'$lookup':{}}]", true), 400, "$lookup");
    CHECK_ERR(check_err("[{'$set':{'a':1},'$unset':'b'}]", true), 400, "one field");
    CHECK_ERR(check_err("[5]", true), 400, "stage 0");
    CHECK_ERR(check_err("[]", true), 400, "empty");
    CHECK_ERR(check_err("[{'$set':5}]", true), 400, "$set");
    CHECK_ERR(check_err("[{'$set':{}}]", true), 400, "$set");
}

/* ---- depth (review 4 #3) ---- */

/* {op: {path: value}} with a path of n components "a.a...a". */
static bson_t *deep_update(const char *op, size_t n, const char *value_json)
{
    char *path = deep_path(n);
    bson_t *u = bson_new(), inner, *v = J(value_json);
    bson_iter_t it;
    bson_iter_init_find(&it, v, "v");
    bson_append_document_begin(u, op, -1, &inner);
    bson_append_value(&inner, path, -1, bson_iter_value(&it));
    bson_append_document_end(u, &inner);
    bson_destroy(v);
    bson_free(path);
    return u;
}

static struct restfcgi_error deep_err(const bson_t *doc, const bson_t *u, bool pipeline, bool *ok)
{
    struct restfcgi_error err = {0};
    bson_t out;
    *ok = false;
    if (mql_update_check(u, pipeline, &err)) {
        *ok = mql_update_apply(doc, u, pipeline, NOW, false, &out, &err);
        bson_destroy(&out); /* initialised on every path */
    }
    return err;
}

/* The review's repro: one $set with a 20 000-component path (a 40 KB body)
 * stored a document 20 000 levels deep. */
TEST_CASE(set_with_20000_components_is_400)
{
    bson_t *doc = J("{'_id':1}"), *u = deep_update("$set", 20000, "{'v':1}");
    bool ok;
    struct restfcgi_error e = deep_err(doc, u, false, &ok);
    CHECK(!ok);
    CHECK_ERR(e, 400, "limit of 100");
    bson_destroy(u);
    bson_destroy(doc);
}

TEST_CASE(update_paths_have_at_most_100_components)
{
    bson_t *doc = J("{'_id':1}");
    bool ok;
    bson_t *u = deep_update("$set", 100, "{'v':1}");
    deep_err(doc, u, false, &ok);
    CHECK(ok); /* 100 levels: the limit itself */
    bson_destroy(u);
    const char *ops[] = {"$set", "$inc", "$unset", "$push", "$setOnInsert", "$max"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        u = deep_update(ops[i], 101, "{'v':1}");
        struct restfcgi_error e = deep_err(doc, u, false, &ok);
        CHECK(!ok);
        CHECK_ERR(e, 400, "limit of 100");
        bson_destroy(u);
    }
    /* $rename's target too */
    char *path = deep_path(101);
    bson_t *r = bson_new(), inner;
    bson_append_document_begin(r, "$rename", -1, &inner);
    BSON_APPEND_UTF8(&inner, "x", path);
    bson_append_document_end(r, &inner);
    struct restfcgi_error e = deep_err(doc, r, false, &ok);
    CHECK(!ok);
    CHECK_ERR(e, 400, "limit of 100");
    bson_destroy(r);
    bson_free(path);
    bson_destroy(doc);
}

TEST_CASE(updates_cannot_nest_deeper_than_100)
{
    bool ok;
    bson_t *doc = J("{'_id':1}");
    /* a 100-component path to a document: 101 levels */
    bson_t *u = deep_update("$set", 100, "{'v':{'x':1}}");
    struct restfcgi_error e = deep_err(doc, u, false, &ok);
    CHECK(!ok);
    CHECK_ERR(e, 400, "deeper than the limit of 100 levels");
    bson_destroy(u);
    /* a deep value at the top */
    bson_t *deep = deep_doc(100, false, 1);
    u = bson_new();
    bson_t set;
    bson_append_document_begin(u, "$set", -1, &set);
    BSON_APPEND_DOCUMENT(&set, "d", deep);
    bson_append_document_end(u, &set);
    e = deep_err(doc, u, false, &ok);
    CHECK(!ok);
    CHECK_ERR(e, 400, "limit of 100");
    bson_destroy(u);
    /* a pipeline nesting the document into itself: each run one level */
    bson_t *p = J("[{'$set':{'a':'$$ROOT'}}]");
    bson_t *d99 = deep_doc(98, false, 1); /* 99 levels: one more is fine */
    deep_err(d99, p, true, &ok);
    CHECK(ok);
    bson_t *d100 = deep_doc(99, false, 1);
    e = deep_err(d100, p, true, &ok);
    CHECK(!ok);
    CHECK_ERR(e, 400, "limit of 100");
    bson_destroy(p);
    /* a pipeline's $set path is bounded like an operator's */
    char *path = deep_path(101);
    bson_t *pp = bson_new(), st, sv;
    bson_append_document_begin(pp, "0", -1, &st);
    bson_append_document_begin(&st, "$set", -1, &sv);
    BSON_APPEND_INT32(&sv, path, 1);
    bson_append_document_end(&st, &sv);
    bson_append_document_end(pp, &st);
    e = deep_err(doc, pp, true, &ok);
    CHECK(!ok);
    CHECK_ERR(e, 400, "limit of 100");
    bson_destroy(pp);
    bson_free(path);
    /* a document already deeper (stored before the limit, or by an insert
     * under a larger max_depth) can still be updated, if not made deeper */
    bson_t *d150 = deep_doc(150, false, 1);
    u = J("{'$set':{'x':1}}");
    deep_err(d150, u, false, &ok);
    CHECK(ok);
    bson_destroy(u);
    bson_destroy(d150);
    bson_destroy(d99);
    bson_destroy(d100);
    bson_destroy(deep);
    bson_destroy(doc);
}

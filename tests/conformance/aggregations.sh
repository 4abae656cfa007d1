# Aggregations defined in collection properties, with avars.
. "$(dirname "$0")/lib.sh"

setup() {
    start_api "$@"
    expect PUT /db 201
    expect PUT /db/sales 201 '{"aggrs":[
        {"type":"pipeline","uri":"by_item","stages":[
            {"$match":{"qty":{"$gte":{"$var":["min",0]}}}},
            {"$group":{"_id":"$item","total":{"$sum":"$qty"},"n":{"$sum":1}}},
            {"$sort":{"_id":1}}]},
        {"type":"pipeline","uri":"for_item","stages":[
            {"$match":{"item":{"$var":"item"}}},
            {"$project":{"_id":0,"qty":1}}]}]}'
    expect POST /db/sales 200 '[{"item":"a","qty":1},{"item":"b","qty":5},{"item":"a","qty":3},{"item":"c","qty":2}]'
}

case_pipeline() {
    setup
    expect GET /db/sales/_aggrs/by_item 200
    jq_true '. == [{"_id":"a","total":4,"n":2},{"_id":"b","total":5,"n":1},{"_id":"c","total":2,"n":1}]'
}

case_variables() {
    setup
    expect GET '/db/sales/_aggrs/by_item?avars={"min":3}' 200
    jq_true '. == [{"_id":"a","total":3,"n":1},{"_id":"b","total":5,"n":1}]' "avars bound"
    expect GET '/db/sales/_aggrs/for_item?avars={"item":"a"}' 200
    jq_true '[.[].qty] | sort == [1,3]'
    expect GET /db/sales/_aggrs/for_item 400
    is_error 400
    expect GET '/db/sales/_aggrs/for_item?avars={"$item":"a"}' 400
    expect GET '/db/sales/_aggrs/for_item?avars=[1]' 400
}

case_pages() {
    setup
    expect GET '/db/sales/_aggrs/by_item?pagesize=2' 200
    jq_true '[.[]._id] == ["a","b"]'
    expect GET '/db/sales/_aggrs/by_item?pagesize=2&page=2' 200
    jq_true '[.[]._id] == ["c"]'
}

case_unknown_and_unsupported() {
    setup
    expect GET /db/sales/_aggrs/nope 404
    is_error 404
    expect PUT /db/bad 201 '{"aggrs":[{"type":"pipeline","uri":"x","stages":[{"$lookup":{"from":"y"}}]}]}'
    expect GET /db/bad/_aggrs/x 400
    jq_true '.message | test("lookup")' "names the stage"
    expect GET /db/nocoll/_aggrs/x 404
}

# Stages that read or write other collections would bypass the ACL (the
# users and acl collections among them): 400 on both stores, at any depth,
# and nothing is written.
case_stages_reaching_other_collections_are_400() {
    setup
    expect PUT /db/victim 201
    local stage
    for stage in '{"$out":"victim"}' '{"$merge":{"into":"victim"}}' \
        '{"$lookup":{"from":"victim","localField":"a","foreignField":"a","as":"x"}}' \
        '{"$unionWith":"victim"}' \
        '{"$graphLookup":{"from":"victim","startWith":"$a","connectFromField":"a","connectToField":"a","as":"x"}}' \
        '{"$facet":{"f":[{"$out":"victim"}]}}' '{"$facet":{"f":[{"$lookup":{"from":"victim","pipeline":[],"as":"x"}}]}}' \
        '{"$collStats":{"count":{}}}'; do
        expect PUT /db/sales 200 "{\"aggrs\":[{\"type\":\"pipeline\",\"uri\":\"x\",\"stages\":[{\"\$match\":{}},$stage]}]}"
        expect GET /db/sales/_aggrs/x 400
        is_error 400
    done
    expect GET '/db/victim/_size' 200
    jq_true '._size == 0' "nothing was written to another collection"
}

run_case "$@"

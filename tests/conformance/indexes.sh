# Indexes: list, create (unique, compound), drop, and that queries use them.
. "$(dirname "$0")/lib.sh"

setup() {
    start_api "$@"
    expect PUT /db 201
    expect PUT /db/c 201
}

case_create_list_drop() {
    setup
    expect GET /db/c/_indexes 200
    jq_true 'length == 1 and .[0]._id == "_id_" and .[0].key == {"_id":1}' "the _id index"
    expect PUT /db/c/_indexes/by_name 201 '{"keys":{"name":1}}'
    expect PUT /db/c/_indexes/by_both 201 '{"keys":{"a":1,"b":-1},"ops":{"unique":true}}'
    expect GET /db/c/_indexes 200
    jq_true '[.[]._id] == ["_id_","by_both","by_name"]' "listed"
    jq_true '.[1].key == {"a":1,"b":-1} and .[1].unique == true' "compound unique"
    expect PUT /db/c/_indexes/by_name 406 '{"keys":{"other":1}}'
    is_error 406
    expect_or_lacks dropIndexes DELETE /db/c/_indexes/by_name 204 || return 0
    expect DELETE /db/c/_indexes/by_name 404
    expect GET /db/c/_indexes 200
    jq_true '[.[]._id] == ["_id_","by_both"]'
}

case_bad_index_definitions() {
    setup
    expect PUT /db/c/_indexes/x 400 '{"keys":{}}'
    expect PUT /db/c/_indexes/x 400 '{"keys":{"a":"text"}}'
    expect PUT /db/c/_indexes/x 400 '{"kes":{"a":1}}'
    expect PUT /db/c/_indexes/x 400 '{"keys":{"a":1},"ops":{"sparse":true}}'
    expect PUT /db/nocoll/_indexes/x 404 '{"keys":{"a":1}}'
    expect DELETE /db/c/_indexes/_id_ 400
}

case_unique_index() {
    setup
    expect PUT /db/c/_indexes/email 201 '{"keys":{"email":1},"ops":{"unique":true}}'
    expect POST /db/c 201 '{"email":"a@x"}'
    expect POST /db/c 409 '{"email":"a@x"}'
    is_error 409
    expect POST /db/c 201 '{"email":"b@x"}'
    loc=$(header Location)
    expect PATCH "$loc" 409 '{"email":"a@x"}'
    expect GET "$loc" 200
    jq_true '.email == "b@x"' "the refused update changed nothing"
    expect GET /db/c 200
    jq_true 'length == 2'
}

case_unique_index_on_duplicates() {
    setup
    expect POST /db/c 200 '[{"k":1},{"k":1}]'
    expect PUT /db/c/_indexes/k 409 '{"keys":{"k":1},"ops":{"unique":true}}'
    expect GET /db/c/_indexes 200
    jq_true 'length == 1' "no half-built index stays"
}

case_index_answers_like_a_scan() {
    setup
    docs=$(jq -cn '[range(0;200) | {_id: ., g: (. % 7), tags: [(. % 3), (. % 5)],
        items: [{sku: (. % 11)}, {sku: (. % 13)}]}]')
    expect POST /db/c 200 "$docs"
    expect GET '/db/c?filter={"g":3}&pagesize=1000' 200
    scan=$(jq -c '[.[]._id]' "$T/b")
    expect GET '/db/c?filter={"tags":4}&pagesize=1000' 200
    scan_multi=$(jq -c '[.[]._id]' "$T/b")
    expect GET '/db/c?filter={"items.sku":5}&pagesize=1000' 200
    scan_dotted=$(jq -c '[.[]._id]' "$T/b")
    [ "$(jq length "$T/b")" -gt 20 ] || fail "the dotted query should match documents"
    expect PUT /db/c/_indexes/g 201 '{"keys":{"g":1}}'
    expect PUT /db/c/_indexes/tags 201 '{"keys":{"tags":1}}'
    expect PUT /db/c/_indexes/sku 201 '{"keys":{"items.sku":1}}'
    expect GET '/db/c?filter={"items.sku":5}&pagesize=1000' 200
    assert_eq "$(jq -c '[.[]._id]' "$T/b")" "$scan_dotted" "a dotted path through an array of documents"
    expect GET '/db/c?filter={"g":3}&pagesize=1000' 200
    assert_eq "$(jq -c '[.[]._id]' "$T/b")" "$scan" "indexed equality answers like the scan"
    expect GET '/db/c?filter={"tags":4}&pagesize=1000' 200
    assert_eq "$(jq -c '[.[]._id]' "$T/b")" "$scan_multi" "multikey index answers like the scan"
    expect PATCH '/db/c/3?id_type=NUMBER' 200 '{"g":6}'
    expect GET '/db/c?filter={"g":3}&pagesize=1000' 200
    jq_true '[.[]._id] | index(3) == null' "an updated document leaves its old index entry"
    expect GET '/db/c?filter={"g":6}&pagesize=1000' 200
    jq_true '[.[]._id] | index(3) != null' "and is found under the new one"
}

# An indexed equality reads only the index's matches, not the collection:
# the store logs each query's plan and the candidates it read (debug).
case_indexed_query_reads_only_matches() {
    [ "$STORE" = sqlite ] || skip "the plan log is the sqlite store's"
    setup 'log_level = "debug";'
    docs=$(jq -cn '[range(0;700) | {_id: ., g: (. % 7)}]')
    expect POST /db/c 200 "$docs"
    expect GET '/db/c?filter={"g":3}&pagesize=1000' 200
    jq_true 'length == 100'
    assert_contains "$(cat "$T/api.log")" "find db.c: plan scan, 700 candidates read" "a scan without the index"
    expect PUT /db/c/_indexes/g 201 '{"keys":{"g":1}}'
    expect GET '/db/c?filter={"g":3}&pagesize=1000' 200
    jq_true 'length == 100'
    assert_contains "$(cat "$T/api.log")" "find db.c: plan index g, 100 candidates read" "the index"
    expect GET '/db/c/42?id_type=NUMBER' 200
    assert_contains "$(cat "$T/api.log")" "find db.c: plan index _id_, 1 candidates read" "by _id"
}

run_case "$@"

# Documents: POST, GET, PUT, PATCH, DELETE, ids, ETags, write modes.
. "$(dirname "$0")/lib.sh"

# A database and a collection to write to.
setup() {
    start_api "$@"
    expect PUT /db 201
    expect PUT /db/coll 201
}

case_post_then_get() {
    setup
    expect POST /db/coll 201 '{"name":"Ada","n":1}'
    loc=$(header Location)
    etag=$(header ETag)
    [[ "$loc" =~ ^/db/coll/[0-9a-f]{24}$ ]] || fail "Location: '$loc'"
    [[ "$etag" =~ ^[0-9a-f]{24}$ ]] || fail "ETag: '$etag'"
    expect GET "$loc" 200
    jq_true '.name == "Ada" and .n == 1' "document"
    jq_true '._id["$oid"] == "'"${loc##*/}"'"' "_id is the ObjectId of the Location"
    jq_true '._etag["$oid"] == "'"$etag"'"' "_etag is the ETag"
    assert_eq "$(header ETag)" "$etag" "GET ETag"
}

case_post_with_id() {
    setup
    expect POST /db/coll 201 '{"_id":"alice","age":36}'
    assert_eq "$(header Location)" "/db/coll/alice" "Location"
    expect GET /db/coll/alice 200
    jq_true '._id == "alice" and .age == 36'
    expect POST /db/coll 409 '{"_id":"alice"}'
    is_error 409
    expect POST /db/coll 201 '{"_id":{"$numberInt":"7"}}'
    assert_eq "$(header Location)" "/db/coll/7?id_type=NUMBER" "Location of a numeric id"
    expect GET /db/coll/7 404
    expect GET "/db/coll/7?id_type=NUMBER" 200
    jq_true '._id == 7'
}

case_missing_collection() {
    start_api
    expect PUT /db 201
    expect POST /db/nocoll 404 '{"a":1}'
    is_error 404
    expect GET /db/nocoll 404
    expect GET /db/nocoll/x 404
    expect PUT /db/nocoll/x 404 '{"a":1}'
    expect GET /db 200
    jq_true '. == []' "no collection was created by the writes"
}

case_get_missing_document() {
    setup
    expect GET /db/coll/nope 404
    is_error 404
    expect GET /db/coll/5f1a2b3c4d5e6f7a8b9c0d1e 404
}

case_put_replaces() {
    setup
    expect POST /db/coll 201 '{"_id":"d","a":1,"b":2}'
    expect PUT /db/coll/d 200 '{"a":10}'
    etag=$(header ETag)
    expect GET /db/coll/d 200
    jq_true '. | del(._etag) == {"_id":"d","a":10}' "replaced whole"
    jq_true '._etag["$oid"] == "'"$etag"'"'
    expect PUT /db/coll/other 404 '{"a":1}'
    is_error 404
    expect PUT "/db/coll/other?wm=upsert" 201 '{"a":1}'
    expect GET /db/coll/other 200
    jq_true '.a == 1'
    expect PUT /db/coll/d 400 '{"_id":"not-d"}'
    expect PUT "/db/coll/d?wm=insert" 409 '{"a":1}'
    expect PUT "/db/coll/new?wm=insert" 201 '{"a":1}'
}

case_patch_updates() {
    setup
    expect POST /db/coll 201 '{"_id":"d","a":1,"tags":["x"]}'
    expect PATCH /db/coll/d 200 '{"b":2}'
    expect GET /db/coll/d 200
    jq_true '.a == 1 and .b == 2' 'plain fields are $set'
    if expect_or_lacks '$push' PATCH /db/coll/d 200 '{"$inc":{"a":5},"$push":{"tags":"y"},"$unset":{"b":""}}'; then
        expect GET /db/coll/d 200
        jq_true '.a == 6 and .tags == ["x","y"] and (has("b") | not)' "operators"
    else
        expect PATCH /db/coll/d 200 '{"$inc":{"a":5},"$unset":{"b":""}}'
    fi
    expect PATCH /db/coll/d 400 '{"$inc":{"a":1},"c":1}'
    is_error 400
    expect PATCH /db/coll/d 400 '{"$bogus":{"a":1}}'
    jq_true '.message | test("bogus")' "the message names the operator"
    expect_or_lacks '$inc refusing a non-number' PATCH /db/coll/d 400 '{"$inc":{"tags":1}}'
    expect_or_lacks '_id immutability' PATCH /db/coll/d 400 '{"$set":{"_id":"other"}}' ||
        expect PATCH /db/coll/other 200 '{"$set":{"_id":"d"}}'
    expect PATCH /db/coll/nope 404 '{"a":1}'
    expect PATCH "/db/coll/nope?wm=upsert" 201 '{"a":1}'
    expect GET /db/coll/nope 200
    jq_true '.a == 1'
    expect GET /db/coll/d 200
    jq_true '.a == 6' "failed patches wrote nothing"
}

case_patch_pipeline() {
    setup
    expect POST /db/coll 201 '{"_id":"d","a":1,"b":2}'
    if expect_or_lacks 'field paths ("$a") in update pipelines' PATCH /db/coll/d 200 '[{"$set":{"c":"$a"}},{"$unset":"b"}]'; then
        expect GET /db/coll/d 200
        jq_true '.c == 1 and (has("b") | not)'
    fi
}

case_delete() {
    setup
    expect POST /db/coll 201 '{"_id":"d"}'
    expect DELETE /db/coll/d 204
    expect GET /db/coll/d 404
    expect DELETE /db/coll/d 404
    is_error 404
}

case_etags() {
    setup
    expect POST /db/coll 201 '{"_id":"d","v":1}'
    etag=$(header ETag)
    expect PUT /db/coll/d 412 '{"v":2}' -H "If-Match: 000000000000000000000000"
    is_error 412
    expect PATCH /db/coll/d 412 '{"v":2}' -H "If-Match: nonsense"
    expect DELETE /db/coll/d 412 "" -H "If-Match: 000000000000000000000000"
    expect GET /db/coll/d 200
    jq_true '.v == 1' "nothing written on 412"
    expect PATCH /db/coll/d 200 '{"v":2}' -H "If-Match: \"$etag\""
    etag2=$(header ETag)
    [ "$etag2" != "$etag" ] || fail "the ETag did not change"
    expect PATCH /db/coll/d 412 '{"v":3}' -H "If-Match: $etag"
    expect GET /db/coll/d 304 "" -H "If-None-Match: $etag2"
    expect GET /db/coll/d 200 "" -H "If-None-Match: $etag"
    expect PATCH "/db/coll/d?checkEtag" 409 '{"v":4}'
    expect DELETE /db/coll/d 204 "" -H "If-Match: $etag2"
    expect PATCH /db/coll/d 404 '{"v":4}' -H "If-Match: $etag2"
}

case_bad_documents() {
    setup
    expect POST /db/coll 400 '{"$set":{"a":1}}'
    is_error 400
    expect POST /db/coll 400 '{"a.b":1}'
    expect POST /db/coll 400 '{"a":{"$x":1}}'
    expect POST /db/coll 400 '{"a":'
    expect POST /db/coll 400 '"text"'
    expect POST /db/coll 400 '{"_id":[1,2]}'
    api POST /db/coll '' -d '{"a":1}' -H 'Content-Type: text/plain'
    assert_eq "$STATUS" 415 "text/plain"
    expect POST '/db/coll?wm=sideways' 400 '{"a":1}'
    expect GET /db/coll 200
    jq_true '. == []' "nothing written"
}

# Bad input of every kind the issue lists: a 4xx with the JSON error body,
# nothing written; limits at and one past their value.
case_bad_input_and_limits() {
    setup 'limits = { max_depth = 5; max_body = 200; };'
    expect POST /db/coll 400 '{"a":{"$oid":5}}'
    is_error 400
    expect POST /db/coll 400 '{"d":{"$date":"yesterday"}}'
    expect POST /db/coll 400 '{"a\u0000b":1}'
    is_error 400
    expect POST /db/coll 400 '{"_id":"a\u0000b"}'
    expect GET '/db/coll/a%00b' 400
    # max_depth = 5: five levels pass, six are refused
    expect POST /db/coll 201 '{"a":{"b":{"c":{"d":{"e":1}}}}}'
    expect POST /db/coll 400 '{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}'
    jq_true '.message | test("deeper")' "names the nesting limit"
    expect GET '/db/coll?filter={"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}' 400
    # max_body = 200 bytes: 200 pass, 201 are 413
    pad=$(printf '%0182d' 0)
    body="{\"_id\":\"m\",\"p\":\"$pad\"}"
    assert_eq "${#body}" 200 "test body size"
    expect POST /db/coll 201 "$body"
    expect POST /db/coll 413 "{\"_id\":\"n\",\"p\":\"${pad}0\"}"
    is_error 413
    expect GET '/db/coll?filter=[1]' 400
    expect GET '/db/coll?filter="a"' 400
    expect GET '/db/coll?filter={"a":{"$foo":1}}' 400
    jq_true '.message | test("\\$foo")' "names the operator"
    expect GET /db/coll 200
    jq_true 'length == 2' "only the two good documents were written"
}

case_default_page_limits() {
    setup
    expect GET '/db/coll?pagesize=1000' 200
    expect GET '/db/coll?pagesize=1001' 400
    is_error 400
    expect GET '/db/coll?page=0' 400
    expect GET '/db/coll?page=1&pagesize=0' 200
    expect GET '/db/coll?page=9223372036854775807&pagesize=1000' 400
    jq_true '.message | test("page")' "a skip past 64 bits is refused, not wrapped"
}

case_bulk_post() {
    setup
    expect POST /db/coll 200 '[{"_id":1},{"_id":2},{"x":3}]'
    jq_true '.inserted == 3 and .failed == 0'
    expect POST /db/coll 207 '[{"_id":4},{"_id":1},5]'
    jq_true '.inserted == 1 and .failed == 2'
    jq_true '[.errors[] | .index] == [1,2]'
    jq_true '.errors[0]["http status code"] == 409'
    expect GET /db/coll 200
    jq_true 'length == 4'
    # One batch: a clash with an earlier document of the same body undoes
    # only the later one.
    expect POST /db/coll 207 '[{"_id":"six","v":"first"},{"_id":"six","v":"second"},{"_id":7}]'
    jq_true '.inserted == 2 and .failed == 1 and .errors[0].index == 1'
    expect GET /db/coll/six 200
    jq_true '.v == "first"'
    expect GET /db/coll 200
    jq_true 'length == 6'
}

case_id_types() {
    setup
    expect PUT "/db/coll/5?id_type=NUMBER&wm=upsert" 201 '{"k":"number"}'
    expect PUT "/db/coll/5?wm=upsert" 201 '{"k":"string"}'
    expect GET "/db/coll/5?id_type=NUMBER" 200
    jq_true '.k == "number" and ._id == 5'
    expect GET /db/coll/5 200
    jq_true '.k == "string" and ._id == "5"'
    expect GET "/db/coll/x?id_type=NUMBER" 400
    expect GET "/db/coll/x?id_type=WHAT" 400
}

run_case "$@"

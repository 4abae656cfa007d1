# Bulk writes on /db/coll/* with a mandatory filter.
. "$(dirname "$0")/lib.sh"

setup() {
    start_api "$@"
    expect PUT /db 201
    expect PUT /db/c 201
    expect POST /db/c 200 '[{"_id":1,"g":"x"},{"_id":2,"g":"x"},{"_id":3,"g":"y"}]'
}

case_bulk_patch() {
    setup
    expect PATCH '/db/c/*?filter={"g":"x"}' 200 '{"$set":{"done":true}}'
    jq_true '.matched == 2 and .modified == 2'
    expect GET '/db/c?filter={"done":true}' 200
    jq_true '[.[]._id] == [2,1]'
    expect PATCH '/db/c/*' 400 '{"$set":{"done":true}}'
    is_error 400
    expect PATCH '/db/c/*?filter={"g":"none"}' 200 '{"done":false}'
    jq_true '.matched == 0'
}

case_bulk_delete() {
    setup
    expect DELETE '/db/c/*?filter={"g":"x"}' 200
    jq_true '.deleted == 2'
    expect GET /db/c 200
    jq_true '[.[]._id] == [3]'
    expect DELETE '/db/c/*' 400
    expect DELETE '/db/c/*?filter={"$where":"1"}' 403
    expect GET /db/c 200
    jq_true 'length == 1'
}

run_case "$@"

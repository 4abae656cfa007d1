# Databases and collections: create, list, properties, ETags, drop.
. "$(dirname "$0")/lib.sh"

case_root_lists_databases() {
    start_api
    # The only database at first holds the users (auth.users).
    expect GET / 200
    jq_true '. == ["restfcgi"]'
    expect PUT /db2 201
    expect PUT /db1 201
    expect GET / 200
    jq_true '. == ["db1","db2","restfcgi"]' "database names in order"
}

case_db_create_then_update() {
    start_api
    expect PUT /inventory 201 '{"descr":"stock","_etag":"ignored"}'
    etag1=$(header ETag)
    [[ "$etag1" =~ ^[0-9a-f]{24}$ ]] || fail "ETag is no ObjectId: '$etag1'"
    expect GET /inventory/_meta 200
    jq_true '.descr == "stock" and ._etag["$oid"] == "'"$etag1"'"' "properties"
    assert_eq "$(header ETag)" "$etag1" "ETag of _meta"
    expect PUT /inventory 200 '{"descr":"v2"}'
    etag2=$(header ETag)
    [ "$etag2" != "$etag1" ] || fail "the ETag did not change on update"
    expect GET /inventory/_meta 200
    jq_true '.descr == "v2"'
    # A PUT with a stale If-Match is refused; the current one passes.
    expect PUT /inventory 412 '{}' -H "If-Match: $etag1"
    is_error 412
    expect PUT /inventory 200 '{}' -H "If-Match: \"$etag2\""
}

case_db_lists_collections() {
    start_api
    expect GET /nodb 404
    is_error 404
    expect PUT /db 201
    expect GET /db 200
    jq_true '. == []'
    expect PUT /db/orders 201 '{"aggrs":[]}'
    expect PUT /db/customers 201
    expect GET /db 200
    jq_true '. == ["customers","orders"]'
    expect GET /db/orders/_meta 200
    jq_true '.aggrs == [] and (._etag | has("$oid"))'
}

case_drop_needs_etag() {
    start_api
    expect PUT /db 201
    etag=$(header ETag)
    expect DELETE /db 409
    is_error 409
    expect DELETE /db 412 "" -H "If-Match: 000000000000000000000000"
    is_error 412
    expect DELETE /db 412 "" -H "If-Match: not-an-etag"
    expect DELETE /db 204 "" -H "If-Match: $etag"
    expect GET /db 404
    expect DELETE /db 404 "" -H "If-Match: $etag"
}

case_drop_collection() {
    start_api
    expect PUT /db 201
    expect PUT /db/c 201
    etag=$(header ETag)
    expect DELETE /db/c 409
    expect DELETE /db/c 204 "" -H "If-Match: $etag"
    expect GET /db 200
    jq_true '. == []'
    expect GET /db/c/_meta 404
}

case_drop_database_drops_collections() {
    start_api
    expect PUT /db 201
    etag=$(header ETag)
    expect PUT /db/c 201
    expect DELETE /db 204 "" -H "If-Match: $etag"
    expect PUT /db 201
    expect GET /db 200
    jq_true '. == []' "collections of a dropped database are gone"
}

case_collection_needs_database() {
    start_api
    expect PUT /nodb/coll 404
    is_error 404
}

case_reserved_and_invalid_names() {
    start_api
    expect PUT /_hidden 403
    is_error 403
    for db in admin local config; do
        expect PUT "/$db" 403
        expect GET "/$db/system.users" 403
    done
    expect PUT /db 201
    expect PUT /db/_properties 403
    expect PUT /db/system.users 403
    expect PUT /a.b 400
    is_error 400
    expect PUT '/a$b' 400
    expect PUT /db/c%24x 400
}

case_bad_bodies() {
    start_api
    expect PUT /db 400 '{"a":'
    is_error 400
    expect PUT /db 400 '[1,2]'
    expect PUT /db 400 '{"a":NaN}'
    api PUT /db '' -d '{"a":1}' -H 'Content-Type: text/plain'
    assert_eq "$STATUS" 415 "text/plain body"
    is_error 415
    api PUT /db '' -d '{"a":1}'
    assert_eq "$STATUS" 415 "body without Content-Type"
    expect PUT /db 201 '{"a":1}' -H 'Content-Type: application/json; charset=utf-8'
    expect GET / 200
    jq_true '. == ["db","restfcgi"]' "nothing written by refused requests"
}

case_methods() {
    start_api
    expect PUT /db 201
    expect POST /db 405 '{}'
    is_error 405
    assert_contains "$(header Allow)" "GET" "Allow header"
    expect PATCH / 405 '{}'
}

run_case "$@"

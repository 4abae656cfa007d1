# Regressions of the store review (notes/review4.md) that only show through
# HTTP: reads racing index changes, and what a request can make the store do.
. "$(dirname "$0")/lib.sh"

setup() {
    start_api "$@"
    wait_for fcgi -s "$S" -H "$ADMIN_AUTH" -u /ping || fail "no answer"
    expect PUT /db 201
    expect PUT /db/c 201
}

# fcgi as the admin.
afcgi() { fcgi -s "$S" -H "$ADMIN_AUTH" "$@"; }

# Review #4: a read took the index list and the index entries from two
# snapshots, so an index dropped in between made {a:1} find 0 of its 20
# documents. Indexes come and go for a few seconds while finds and counts
# run; every answer must hold all 20 matches.
case_finds_during_index_drops_see_every_match() {
    API_WORKERS=3 setup
    expect PUT /db/c/_indexes/probe 201 '{"keys":{"p":1}}'
    expect_or_lacks dropIndexes DELETE /db/c/_indexes/probe 204 || return 0
    expect POST /db/c 200 "$(jq -cn '[range(0;20) | {_id: ., a: 1}] + [range(20;30) | {_id: ., a: 2}]')"
    local end=$((SECONDS + 4)) pids=()
    (while [ $SECONDS -lt $end ]; do
        afcgi --status-only -m PUT -u /db/c/_indexes/ia -H "Content-Type: application/json" \
            -d '{"keys":{"a":1}}' -n 50
    done >"$T/creates") &
    pids+=($!)
    (while [ $SECONDS -lt $end ]; do
        afcgi --status-only -m DELETE -u /db/c/_indexes/ia -n 50
    done >"$T/drops") &
    pids+=($!)
    # Each answer: the number of _ids in one response of the stream.
    for r in 1 2; do
        (while [ $SECONDS -lt $end ]; do
            afcgi -m GET -u '/db/c?filter={"a":1}&keys={"_id":1}&pagesize=100' -n 100
        done | awk 'BEGIN { RS = "Status: " } NR > 1 { print gsub(/"_id"/, "&") }' >"$T/finds$r") &
        pids+=($!)
    done
    (while [ $SECONDS -lt $end ]; do
        afcgi -m GET -u '/db/c/_size?filter={"a":1}' -n 100
    done | grep -o '"_size" *: *[0-9]*' | grep -o '[0-9]*$' >"$T/counts") &
    pids+=($!)
    wait "${pids[@]}"
    local created dropped answers wrong
    created=$(grep -c '^201$' "$T/creates")
    dropped=$(grep -c '^204$' "$T/drops")
    answers=$(cat "$T"/finds* "$T/counts" | wc -l)
    wrong=$(cat "$T"/finds* "$T/counts" | grep -vc '^20$')
    echo "index created $created times, dropped $dropped times; $answers answers, $wrong short" >&2
    [ "$created" -ge 5 ] && [ "$dropped" -ge 5 ] || fail "the index hardly changed ($created/$dropped)"
    [ "$answers" -ge 100 ] || fail "too few answers to judge ($answers)"
    assert_eq "$wrong" 0 "answers with fewer than the 20 matches ($(cat "$T"/finds* "$T/counts" | sort | uniq -c | tr '\n' ' '))"
}

# Review #3: one $set with a 20 000-component path (a 40 KB body) stored a
# document 20 000 levels deep, and every later sort or index on the field
# crashed the worker. Now a 400 naming the limit, and nothing is stored.
case_deep_set_is_400() {
    setup
    expect POST /db/c 201 '{"_id":1}'
    expect POST /db/c 201 '{"_id":2}'
    path=$(printf 'a.%.0s' $(seq 19999))a
    if expect_or_lacks 'the nesting depth limit (100) of stored documents' PATCH '/db/c/1?id_type=NUMBER' 400 "{\"\$set\":{\"$path\":1}}"; then
        is_error 400
        jq_true '.message | test("100")' "the message names the limit"
        expect PATCH '/db/c/*?filter={"_id":{"$gt":0}}' 400 "{\"\$set\":{\"$path\":1}}"
        expect PATCH '/db/c/1?id_type=NUMBER' 400 '[{"$set":{"a":"$$ROOT"}},{"$set":{"'"$(printf 'b.%.0s' $(seq 100))"'b":1}}]'
    else
        return 0
    fi
    expect GET '/db/c?filter={"_id":{"$gt":0}}&sort={"a":1,"_id":1}' 200
    jq_true '[.[]._id] == [1,2] and all(.[]; has("a") | not)' "no document was changed"
    expect PUT /db/c/_indexes/a 201 '{"keys":{"a":1}}'
    expect POST /db/c 201 '{"_id":3,"a":{"b":1}}'
}

# Review #1: NumberLong 2^53 and 2^53+1 were one _id (a false 409), and so
# were decimals equal up to a double's precision.
case_large_numbers_are_distinct_ids() {
    setup
    expect POST /db/c 201 '{"_id":{"$numberLong":"9007199254740992"},"n":0}'
    expect POST /db/c 201 '{"_id":{"$numberLong":"9007199254740993"},"n":1}'
    expect POST /db/c 201 '{"_id":{"$numberDecimal":"1.00000000000000000001"}}'
    expect POST /db/c 201 '{"_id":{"$numberDecimal":"1"}}'
    expect_or_lacks 'one _id for equal numbers of different types (1 and Decimal128 1)' POST /db/c 409 '{"_id":1}'
    expect PUT /db/u 201
    expect PUT /db/u/_indexes/u 201 '{"keys":{"u":1},"ops":{"unique":true}}'
    expect POST /db/u 201 '{"_id":"x","u":{"$numberLong":"9223372036854775806"}}'
    expect POST /db/u 201 '{"_id":"y","u":{"$numberLong":"9223372036854775807"}}'
    expect POST /db/u 409 '{"_id":"z","u":{"$numberLong":"9223372036854775807"}}'
    expect GET '/db/c?filter={"_id":{"$numberLong":"9007199254740993"}}' 200
    jq_true 'length == 1 and .[0].n == 1' "the find pins the exact _id"
}

run_case "$@"

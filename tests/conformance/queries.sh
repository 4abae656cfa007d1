# Reading collections: filter, sort, keys, pages, counts, and bad queries.
. "$(dirname "$0")/lib.sh"

# Ten documents with _id 1..10 (numbers), n = _id, even, a tag list.
setup() {
    start_api "$@"
    expect PUT /db 201
    expect PUT /db/c 201
    docs=$(jq -cn '[range(1;11) | {_id: ., n: ., even: (. % 2 == 0), tags: (if . % 3 == 0 then ["three"] else [] end), s: ("s" + (. | tostring))}]')
    expect POST /db/c 200 "$docs"
}

ids() { jq -c '[.[]._id]' "$T/b"; }

case_default_order_and_pages() {
    setup
    expect GET /db/c 200
    assert_eq "$(ids)" "[10,9,8,7,6,5,4,3,2,1]" "default sort is _id descending"
    expect GET '/db/c?pagesize=3' 200
    assert_eq "$(ids)" "[10,9,8]" "first page"
    expect GET '/db/c?pagesize=3&page=2' 200
    assert_eq "$(ids)" "[7,6,5]" "second page"
    expect GET '/db/c?pagesize=3&page=4' 200
    assert_eq "$(ids)" "[1]" "last page"
    expect GET '/db/c?pagesize=3&page=5' 200
    assert_eq "$(ids)" "[]" "past the end"
    expect GET '/db/c?pagesize=0' 200
    assert_eq "$(ids)" "[]" "pagesize 0"
}

# Without a filter the sqlite store lets SQLite skip to the page (OFFSET);
# every page must be the one a filter matching everything gives.
case_pages_without_filter_are_the_filtered_pages() {
    setup
    local sort page all filtered
    for sort in "" "&sort=_id" "&sort=-_id" '&sort={"_id":1}'; do
        for page in 1 2 3 4 5; do
            expect GET "/db/c?pagesize=3&page=$page$sort" 200
            all=$(ids)
            expect GET "/db/c?pagesize=3&page=$page$sort"'&filter={"n":{"$gte":0}}' 200
            filtered=$(ids)
            assert_eq "$all" "$filtered" "page $page$sort"
        done
    done
    expect GET '/db/c?pagesize=3&page=2&sort=_id' 200
    assert_eq "$(ids)" "[4,5,6]" "ascending second page"
    expect GET '/db/c?pagesize=4&page=3&sort=_id' 200
    assert_eq "$(ids)" "[9,10]" "ascending last page"
    expect GET '/db/c?pagesize=4&page=3' 200
    assert_eq "$(ids)" "[2,1]" "descending last page"
}

# The sqlite store's connections remember where deep pages start; a write
# (by any connection) must move the pages. Each read is repeated so every
# accept loop has served it before the write.
case_deep_pages_follow_writes() {
    setup
    local round
    for round in 1 2 3; do
        expect GET '/db/c?pagesize=3&page=2' 200
        assert_eq "$(ids)" "[7,6,5]" "page 2 before"
        expect GET '/db/c?pagesize=3&page=3' 200
        assert_eq "$(ids)" "[4,3,2]" "page 3 before"
        expect GET '/db/c?pagesize=2&page=3&sort=_id' 200
        assert_eq "$(ids)" "[5,6]" "ascending page 3 before"
    done
    expect POST /db/c 201 '{"_id": 11}'
    expect DELETE '/db/c/*?filter={"_id":{"$in":[2,6]}}' 200
    for round in 1 2 3; do
        expect GET '/db/c?pagesize=3&page=2' 200
        assert_eq "$(ids)" "[8,7,5]" "page 2 after"
        expect GET '/db/c?pagesize=3&page=3' 200
        assert_eq "$(ids)" "[4,3,1]" "page 3 after"
        expect GET '/db/c?pagesize=2&page=3&sort=_id' 200
        assert_eq "$(ids)" "[7,8]" "ascending page 3 after"
    done
}

# A page larger than one FastCGI record (64 KiB), also several times over
# one kept connection: the records and the end of each request in order.
case_large_page_over_one_connection() {
    setup
    # Few large documents: the mongo store inserts a bulk body one by one.
    docs=$(jq -cn '[range(100;240) | {_id: ., text: ("x" * 870)}]')
    expect POST /db/c 200 "$docs"
    expect GET '/db/c?pagesize=140' 200
    jq_true 'length == 140 and .[0]._id == 239 and .[139]._id == 100 and (map(.text | length) | unique) == [870]'
    [ "$(wc -c <"$T/b")" -gt 120000 ] || fail "the page is smaller than expected"
    out=$(fcgi -s "$S" -n 3 --status-only -H "$ADMIN_AUTH" -u '/db/c?pagesize=140') || fail "client exit $?"
    assert_eq "$(echo $out)" "200 200 200" "three large pages on one kept connection"
}

case_pagination_limits() {
    setup 'limits = { max_pagesize = 5; default_pagesize = 4; };'
    expect GET /db/c 200
    assert_eq "$(ids)" "[10,9,8,7]" "default_pagesize"
    expect GET '/db/c?pagesize=5' 200
    expect GET '/db/c?pagesize=6' 400
    is_error 400
    expect GET '/db/c?page=0' 400
    expect GET '/db/c?page=-1' 400
    expect GET '/db/c?page=x' 400
    expect GET '/db/c?pagesize=1.5' 400
    if expect_or_lacks 'skip past 2^31' GET '/db/c?page=999999999999' 200; then
        assert_eq "$(ids)" "[]" "a huge page is just empty"
    fi
}

case_filters() {
    setup
    expect GET '/db/c?filter=%7B%22even%22%3Atrue%7D' 200
    assert_eq "$(ids)" "[10,8,6,4,2]" "equality"
    expect GET '/db/c?filter={"n":{"$gt":7}}' 200
    assert_eq "$(ids)" "[10,9,8]" "\$gt"
    expect GET '/db/c?filter={"n":{"$in":[2,3,99]}}' 200
    assert_eq "$(ids)" "[3,2]" "\$in"
    expect GET '/db/c?filter={"$or":[{"n":1},{"n":10}]}' 200
    assert_eq "$(ids)" "[10,1]" "\$or"
    expect GET '/db/c?filter={"tags":"three"}' 200
    assert_eq "$(ids)" "[9,6,3]" "matching inside arrays"
    expect GET '/db/c?filter={"tags":{"$size":0}}&pagesize=100' 200
    assert_eq "$(ids)" "[10,8,7,5,4,2,1]" "\$size"
    expect GET '/db/c?filter={"s":{"$regex":"^s1"}}' 200
    assert_eq "$(ids)" "[10,1]" "\$regex"
    expect GET '/db/c?filter={"missing":{"$exists":false}}&filter={"n":{"$lte":2}}' 200
    assert_eq "$(ids)" "[2,1]" "repeated filters are ANDed"
    expect GET '/db/c?filter={"n":{"$not":{"$gt":2}}}' 200
    assert_eq "$(ids)" "[2,1]" "\$not"
    expect GET '/db/c?filter={"n":{"$type":"int"}}&filter={"n":{"$lt":3}}' 200
    assert_eq "$(ids)" "[2,1]" "\$type by name"
    expect GET '/db/c?filter={"s":{"$type":2}}&filter={"n":{"$lt":3}}' 200
    assert_eq "$(ids)" "[2,1]" "\$type by number"
    if expect_or_lacks '$type with a list of types' GET '/db/c?filter={"n":{"$type":["string","date"]}}' 200; then
        assert_eq "$(ids)" "[]" "\$type list"
    fi
}

case_bad_filters() {
    setup
    expect GET '/db/c?filter={"$where":"this.n>1"}' 403
    is_error 403
    expect GET '/db/c?filter={"$or":[{"$where":"1"}]}' 403
    expect GET '/db/c?filter={"n":{"$bogus":1}}' 400
    jq_true '.message | test("bogus")' "names the operator"
    expect GET '/db/c?filter={"n":{"$expr":1}}' 400
    expect GET '/db/c?filter=[1]' 400
    expect GET '/db/c?filter={"n":' 400
    expect_or_lacks 'refusing an empty $or' GET '/db/c?filter={"$or":[]}' 400
    expect GET '/db/c?filter={"n":{"$size":-1}}' 400
    # PCRE lookaround: MongoDB has it; the sqlite store's POSIX regex does not.
    expect GET '/db/c?filter={"s":{"$regex":"(?=x)"}}' "$(store_is mongo && echo 200 || echo 400)"
}

# Server-side JavaScript is refused before any store sees it: 403 on both.
case_server_side_javascript_is_403() {
    setup
    local fn='{"$function":{"body":"function(){return true}","args":[],"lang":"js"}}'
    expect GET "/db/c?filter={\"\$expr\":$fn}" 403
    is_error 403
    jq_true '.message | test("JavaScript")' "the message says why"
    expect GET '/db/c?filter={"$or":[{"n":1},{"$where":"true"}]}' 403
    expect GET "/db/c?keys={\"x\":$fn}" 403
    expect GET "/db/c?sort={\"x\":$fn}" 403
    expect PATCH '/db/c/1?id_type=NUMBER' 403 "[{\"\$set\":{\"x\":$fn}}]"
    expect PATCH '/db/c/*?filter={"n":{"$gt":0}}' 403 "[{\"\$set\":{\"x\":$fn}}]"
    expect PUT /db/c 403 '{"aggrs":[{"uri":"js","stages":[{"$group":{"_id":null,"x":{"$accumulator":{"init":"function(){}","accumulate":"function(){}","accumulateArgs":[],"merge":"function(){}","lang":"js"}}}}]}]}'
    expect POST /db/c 403 '{"_id":99,"code":{"$code":"function(){}"}}'
    expect GET '/db/c?filter={"x":{"$exists":true}}' 200
    assert_eq "$(ids)" "[]" "nothing was written"
    expect GET /db/c/99 404
}

case_sort_and_keys() {
    setup
    expect GET '/db/c?sort={"even":-1,"n":1}' 200
    assert_eq "$(ids)" "[2,4,6,8,10,1,3,5,7,9]" "compound sort"
    expect GET '/db/c?sort=n' 200
    assert_eq "$(ids)" "[1,2,3,4,5,6,7,8,9,10]" "sort shorthand"
    expect GET '/db/c?sort=-s&pagesize=2' 200
    assert_eq "$(ids)" "[9,8]" "sort shorthand descending (strings)"
    expect GET '/db/c?sort={"n":1}&pagesize=3&page=2' 200
    assert_eq "$(ids)" "[4,5,6]" "sorted pages"
    expect GET '/db/c?keys={"n":1}&pagesize=2' 200
    if projected '. == [{"_id":10,"n":10},{"_id":9,"n":9}]' "inclusion keys"; then
        expect GET '/db/c?keys={"n":0,"tags":0,"s":0,"_etag":0}&pagesize=1' 200
        jq_true '. == [{"_id":10,"even":true}]' "exclusion keys"
        expect GET '/db/c?keys={"n":1,"s":0}' 400
    fi
    expect GET '/db/c?sort={"n":"up"}' 400
}

case_count_and_size() {
    setup
    expect GET '/db/c/_size' 200
    jq_true '._size == 10'
    expect GET '/db/c/_size?filter={"even":true}' 200
    jq_true '._size == 5'
    expect GET '/db/c?count&pagesize=2' 200
    assert_eq "$(header X-Total-Count)" 10 "X-Total-Count"
    assert_eq "$(ids)" "[10,9]" "the page still comes"
    expect GET '/db/nocoll/_size' 404
}

run_case "$@"

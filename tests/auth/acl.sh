# Permissions (SPEC §5): roles, priority, predicates, $unauthenticated, the
# mongo rules and flags, path tricks, changes within 5 s, an ACL file.
. "$(dirname "$0")/lib.sh"

# permit JSON: adds a permission document through the API (as the admin).
permit() { expect POST /restfcgi/acl 201 "$1"; }

# eventually WANT AS-ARGS...: retries the request for up to 5 s (the ACL is
# re-read every 2 s) until it answers WANT.
eventually() {
    local want=$1
    shift
    for _ in $(seq 50); do
        as "$@"
        [ "$STATUS" = "$want" ] && return 0
        sleep 0.1
    done
    fail "$* never answered $want (last $STATUS: $(head -c 200 "$T/b"))"
}

shop() {
    start_api "$@"
    expect PUT /shop 201
    expect PUT /shop/items 201
    expect POST /shop/items 201 '{"_id":"a","name":"apple","owner":"bob","secret":"s1","visible":true}'
    expect POST /shop/items 201 '{"_id":"p","name":"pear","owner":"alice","secret":"s2","visible":false}'
    expect PUT /restfcgi/acl 201
    add_user bob bob-pw user
    add_user alice alice-pw user
}

case_role_permissions() {
    shop
    permit '{"_id":"readShop","roles":["user"],"priority":10,"predicate":"path-prefix(\"/shop\") and method(GET)"}'
    eventually 200 bob bob-pw GET /shop/items
    jq_true 'length == 2'
    as bob bob-pw POST /shop/items '{"name":"plum"}'
    assert_eq "$STATUS" 403 "POST is not in the permission"
    is_error 403
    as bob bob-pw GET /restfcgi/users
    assert_eq "$STATUS" 403 "outside the path prefix"
    anon GET /shop/items
    assert_eq "$STATUS" 401 "anonymous"
    as bob bob-pw GET /shopping
    assert_eq "$STATUS" 403 "a prefix is a whole segment"
}

case_unauthenticated_role() {
    shop
    permit '{"_id":"public","roles":["$unauthenticated"],"predicate":"path-prefix(\"/shop/items\") and method(GET)"}'
    for _ in $(seq 50); do anon GET /shop/items; [ "$STATUS" = 200 ] && break; sleep 0.1; done
    assert_eq "$STATUS" 200 "anonymous read allowed"
    assert_eq "$(header Auth-Token)" "" "no token for anonymous requests"
    anon DELETE /shop/items/a
    assert_eq "$STATUS" 401 "anonymous write"
    as bob bob-pw GET /shop/items
    assert_eq "$STATUS" 403 "authenticated users are not \$unauthenticated"
}

case_priority_decides() {
    shop
    permit '{"_id":"b","roles":["user"],"priority":2,"predicate":"path-prefix(\"/shop\")"}'
    permit '{"_id":"a","roles":["user"],"priority":1,"predicate":"path-prefix(\"/shop\") and method(GET)","mongo":{"readFilter":{"visible":true}}}'
    eventually 200 bob bob-pw GET /shop/items
    for _ in $(seq 50); do as bob bob-pw GET /shop/items; jq -e 'length == 1' "$T/b" >/dev/null && break; sleep 0.1; done
    jq_true 'length == 1 and .[0]._id == "a"' "priority 1 (with its readFilter) wins over 2"
    as bob bob-pw GET /shop/items/p
    assert_eq "$STATUS" 404 "a document outside the readFilter"
    as bob bob-pw PATCH /shop/items/p '{"name":"x"}'
    assert_eq "$STATUS" 200 "PATCH falls to the priority-2 permission"
}

case_mongo_rules() {
    shop
    permit '{"_id":"own","roles":["user"],"priority":1,"predicate":"path-prefix(\"/shop/items\")","mongo":{"readFilter":{"owner":"@user._id"},"writeFilter":{"owner":"@user._id"},"mergeRequest":{"owner":"@user._id"},"projectResponse":{"secret":0}}}'
    eventually 200 bob bob-pw GET /shop/items
    for _ in $(seq 50); do as bob bob-pw GET /shop/items; jq -e 'length == 1' "$T/b" >/dev/null && break; sleep 0.1; done
    jq_true 'length == 1 and .[0]._id == "a" and (.[0] | has("secret") | not)' "readFilter and projectResponse"
    as bob bob-pw GET /shop/items/a
    assert_eq "$STATUS" 200 "own document"
    jq_true '.name == "apple" and (has("secret") | not)'
    as bob bob-pw GET /shop/items/_size
    jq_true '._size == 1' "_size under the readFilter"
    as bob bob-pw PATCH /shop/items/p '{"name":"stolen"}'
    assert_eq "$STATUS" 404 "writeFilter: another owner's document"
    as bob bob-pw DELETE /shop/items/p
    assert_eq "$STATUS" 404 "writeFilter on delete"
    as bob bob-pw POST /shop/items '{"_id":"z","name":"plum","owner":"alice"}'
    assert_eq "$STATUS" 201 "insert"
    expect GET /shop/items/z 200
    jq_true '.owner == "bob"' "mergeRequest overrides the client's owner"
    expect GET /shop/items/p 200
    jq_true '.name == "pear" and .secret == "s2"' "alice's document untouched, root sees all"
}

case_mongo_flags() {
    shop
    permit '{"_id":"w","roles":["user"],"predicate":"path-prefix(\"/shop\")"}'
    eventually 200 bob bob-pw GET /shop/items
    as bob bob-pw PUT /shop/newcoll
    assert_eq "$STATUS" 403 "management request without allowManagementRequests"
    as bob bob-pw DELETE '/shop/items/*?filter={"x":1}'
    assert_eq "$STATUS" 403 "bulk delete without allowBulkDelete"
    as bob bob-pw PATCH '/shop/items/*?filter={"x":1}' '{"y":1}'
    assert_eq "$STATUS" 403 "bulk patch without allowBulkPatch"
    as bob bob-pw PUT '/shop/items/q?wm=upsert' '{"n":1}'
    assert_eq "$STATUS" 403 "write mode without allowWriteMode"
    as bob bob-pw PUT /shop/items/q '{"n":1}'
    assert_eq "$STATUS" 404 "a plain PUT is allowed (and updates nothing)"
    expect PUT /restfcgi/acl/w 200 '{"roles":["user"],"predicate":"path-prefix(\"/shop\")","mongo":{"allowManagementRequests":true,"allowBulkDelete":true,"allowBulkPatch":true,"allowWriteMode":true}}'
    eventually 201 bob bob-pw PUT /shop/newcoll
    as bob bob-pw DELETE '/shop/items/*?filter={"x":1}'
    assert_eq "$STATUS" 200 "bulk delete allowed"
    as bob bob-pw PUT '/shop/items/q?wm=upsert' '{"n":1}'
    assert_eq "$STATUS" 201 "write mode allowed"
}

case_path_tricks() {
    shop
    expect PUT /secret 201
    expect PUT /secret/c 201
    permit '{"_id":"t","roles":["user"],"predicate":"path-prefix(\"/shop\") and method(GET)"}'
    permit '{"_id":"mine","roles":["user"],"predicate":"path-template(\"/shop/{who}\") and equals(@user._id, ${who})","priority":5}'
    eventually 200 bob bob-pw GET /shop/items
    for p in '/shop/%2e%2e/secret/c' '/shop/..%2Fsecret/c' '/shop%2F..%2Fsecret/c' '/Shop/items' \
             '/shop%00/items' '/secret/c' '/secret/c/%2e%2e' '/%73hop2/items'; do
        as bob bob-pw GET "$p"
        case "$STATUS" in 200 | 5*) fail "GET $p answered $STATUS" ;; esac
    done
    as bob bob-pw GET //shop//items
    assert_eq "$STATUS" 200 "empty segments are dropped before matching"
    expect PUT /shop/bob 201
    as bob bob-pw PUT /shop/bob
    assert_eq "$STATUS" 403 "template matched but management not allowed"
    as bob bob-pw POST /shop/bob '{"n":1}'
    assert_eq "$STATUS" 201 "equals(@user._id, \${who}) with who = bob"
    as bob bob-pw POST /shop/alice '{"n":1}'
    assert_eq "$STATUS" 403 "who = alice"
}

case_changes_take_effect_within_5s() {
    shop
    permit '{"_id":"tmp","roles":["user"],"predicate":"path-prefix(\"/shop\")"}'
    start=$(date +%s%N)
    eventually 200 bob bob-pw GET /shop/items
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    [ "$ms" -le 5000 ] || fail "granted after $ms ms"
    expect DELETE /restfcgi/acl/tmp 204
    eventually 403 bob bob-pw GET /shop/items
}

case_acl_file() {
    cat >"$T/acl.json" <<'EOF2'
[{"_id": "r", "roles": ["user"], "predicate": "path-prefix('/shop') and method(GET)",
  "mongo": {"projectResponse": {"secret": 0}}}]
EOF2
    shop "auth = { bcrypt_cost = 4; acl = { file = \"$T/acl.json\"; }; };"
    as bob bob-pw GET /shop/items
    assert_eq "$STATUS" 200 "permission from the file"
    jq_true 'length == 2 and all(.[]; has("secret") | not)'
    as bob bob-pw DELETE /shop/items/a
    assert_eq "$STATUS" 403 "not in the file"
    printf '[{"_id":"bad","roles":["user"],"predicate":"path-prefix(\\"/x\\" and"}]' >"$T/bad.json"
    printf 'plugin_dir = "%s"; store = { plugin = "sqlite"; path = "%s"; };\nauth = { acl = { file = "%s"; }; };\n' \
        "$RESTFCGI_PLUGIN_DIR" "$T/data" "$T/bad.json" >"$T/bad.conf"
    out=$("$RESTFCGI_BIN" -c "$T/bad.conf" --check-config 2>&1) && fail "a bad predicate was accepted"
    assert_contains "$out" "bad" "the refusal names the permission"
}

run_case "$@"

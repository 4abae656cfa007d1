# Users: passwords hashed on write and never returned, the admin bootstrap,
# and users from a file.
. "$(dirname "$0")/lib.sh"

case_passwords_are_hashed_and_hidden() {
    start_api
    add_user bob bob-secret-pw user
    expect GET /restfcgi/users/bob 200
    jq_true '._id == "bob" and .roles == ["user"] and (has("password") | not)'
    expect GET /restfcgi/users 200
    jq_true 'length == 2 and all(.[]; has("password") | not)' "no hash in a listing"
    # The store holds a bcrypt hash of the configured cost, never the password.
    cat "$T"/data/* >"$T/store.bytes"
    grep -qa '\$2b\$04\$' "$T/store.bytes" || fail "no bcrypt hash in the store"
    ! grep -qaF bob-secret-pw "$T/store.bytes" || fail "the password is stored in clear"
    expect GET '/restfcgi/users?filter={"password":{"$exists":true}}' 403
    expect GET '/restfcgi/users?filter={"$or":[{"password":{"$regex":"^\\$2"}}]}' 403
    expect GET '/restfcgi/users/_size?filter={"password.x":1}' 403
    as bob bob-secret-pw GET /roles/bob
    assert_eq "$STATUS" 200 "bob logs in"
    no_secret_in_logs bob-secret-pw
}

case_password_changes() {
    start_api
    add_user bob first-pw user
    expect PATCH /restfcgi/users/bob 200 '{"password":"second-pw"}'
    as bob first-pw GET /roles/bob
    assert_eq "$STATUS" 401 "the old password after a change"
    as bob second-pw GET /roles/bob
    assert_eq "$STATUS" 200 "the new password"
    expect PATCH /restfcgi/users/bob 200 '{"$set":{"password":"third-pw"}}'
    as bob third-pw GET /roles/bob
    assert_eq "$STATUS" 200 "password set with \$set"
    expect PUT /restfcgi/users/bob 200 '{"password":"fourth-pw","roles":["user","x"]}'
    as bob fourth-pw GET /roles/bob
    assert_eq "$STATUS" 200 "password set by a replacement"
    jq_true '.roles == ["user","x"]'
    # Ways around the hashing are refused.
    expect PATCH /restfcgi/users/bob 403 '{"$rename":{"roles":"password"}}'
    expect PATCH /restfcgi/users/bob 403 '[{"$set":{"password":"p"}}]'
    expect PATCH /restfcgi/users/bob 400 '{"password":42}'
    expect POST /restfcgi/users 400 '{"_id":"eve","password":"","roles":[]}'
    expect GET /restfcgi/users/bob 200
    jq_true 'has("password") | not'
}

case_random_admin_password_is_printed_once() {
    unset RESTFCGI_ADMIN_PASSWORD
    API_WORKERS=2 start_api
    wait_for grep -q "created user 'admin'" "$T/api.log" || fail "no admin created"
    sleep 0.5
    assert_eq "$(grep -c "created user 'admin'" "$T/api.log")" 1 "printed by one worker only"
    pw=$(sed -n "s/.*created user 'admin' with role 'admin' and password \([0-9a-f]*\) .*/\1/p" "$T/api.log")
    [ ${#pw} -eq 36 ] || fail "a 144-bit random password, got '$pw'"
    as admin "$pw" GET /
    assert_eq "$STATUS" 200 "the printed password works"
    # A second start keeps the admin and prints nothing.
    kill -TERM "$LAST_PID"
    wait "$LAST_PID" 2>/dev/null
    mv "$T/api.log" "$T/first.log"
    start_server api -c "$T/c.conf" --listen "unix:$T/s2.sock" --workers 1 --threads 2
    wait_socket "$T/s2.sock"
    S="unix:$T/s2.sock"
    as admin "$pw" GET /
    assert_eq "$STATUS" 200 "the same admin after a restart"
    ! grep -q "created user" "$T/api.log" || fail "the admin was created again"
}

# A bcrypt hash of cost 4 made by libcrypt through Python (Debian's python3).
bcrypt() {
    /usr/bin/python3 -W ignore -c 'import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))' "$1"
}

case_users_from_a_file() {
    cat >"$T/users.json" <<EOF2
[{"_id": "filey", "password": "$(bcrypt filey-pw)", "roles": ["admin"]},
 {"_id": "reader", "password": "$(bcrypt reader-pw)", "roles": ["reader"]}]
EOF2
    start_api "auth = { bcrypt_cost = 4; users = { file = \"$T/users.json\"; }; };"
    as filey filey-pw GET /
    assert_eq "$STATUS" 200 "a root user from the file"
    as reader reader-pw GET /roles/reader
    assert_eq "$STATUS" 200 "a user from the file"
    jq_true '.roles == ["reader"]'
    as reader wrong GET /roles/reader
    assert_eq "$STATUS" 401 "a wrong password"
    # With users in a file nothing is created in the store.
    as filey filey-pw GET /
    jq_true '. == []'
    # A clear-text password in the file is refused at start.
    printf '[{"_id":"x","password":"clear","roles":[]}]' >"$T/bad.json"
    printf 'plugin_dir = "%s"; store = { plugin = "sqlite"; path = "%s"; };\nauth = { users = { file = "%s"; }; };\n' \
        "$RESTFCGI_PLUGIN_DIR" "$T/data" "$T/bad.json" >"$T/bad.conf"
    out=$("$RESTFCGI_BIN" -c "$T/bad.conf" --check-config 2>&1) && fail "a clear-text password was accepted"
    assert_contains "$out" "bcrypt hash" "refusal message"
}

run_case "$@"

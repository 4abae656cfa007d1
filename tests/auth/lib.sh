# tests/auth/lib.sh: the auth suite's helpers, on top of the conformance
# helpers (start_api, api, expect, jq_true, header).
. "$(dirname "${BASH_SOURCE[0]}")/../conformance/lib.sh"

# as USER PASSWORD METHOD URI [BODY] [args...]: one request as that user.
as() {
    local user=$1 pw=$2
    shift 2
    API_AUTH=$(basic_auth "$user" "$pw") api "$@"
}

# anon METHOD URI [BODY] [args...]: one request without credentials.
anon() { API_AUTH="" api "$@"; }

# add_user ID PASSWORD ROLE...: through the API, as the admin.
add_user() {
    local id=$1 pw=$2 roles
    shift 2
    roles=$(printf '%s\n' "$@" | jq -R . | jq -s -c .)
    expect POST /restfcgi/users 201 "{\"_id\":\"$id\",\"password\":\"$pw\",\"roles\":$roles}"
}

# no_secret_in_logs SECRET...: none of them in any log of the case.
no_secret_in_logs() {
    local s
    for s in "$@"; do
        [ -n "$s" ] || continue
        if grep -rqF -- "$s" "$T"/*.log 2>/dev/null; then
            fail "a secret appears in a log: $(grep -rlF -- "$s" "$T"/*.log)"
        fi
    done
}

# tests/conformance/lib.sh: the store conformance suite's helpers. Every
# case runs against the store named by $STORE (sqlite, mongo), through the
# FastCGI harness, with the same expected answers.
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need jq

: "${STORE:=sqlite}"

# start_api [CONFIG LINES]: restfcgi with the store under test on $T/s.sock
# ($API_WORKERS workers, default 1, two accept loops each).
start_api() {
    case "$STORE" in
    sqlite) store="store = { plugin = \"sqlite\"; path = \"$T/data\"; };" ;;
    mongo)
        [ -n "${MONGO_URI:-}" ] || start_jongodb
        store="store = { plugin = \"mongo\"; uri = \"$MONGO_URI\"; };"
        ;;
    *) skip "store $STORE is not built yet" ;;
    esac
    local auth
    auth=$(default_auth "$*")
    printf 'plugin_dir = "%s";\n%s\n%s\n%s\n' "$RESTFCGI_PLUGIN_DIR" "$store" "$auth" "$*" >"$T/c.conf"
    start_server api -c "$T/c.conf" --listen "unix:$T/s.sock" --workers "${API_WORKERS:-1}" --threads 2
    wait_socket "$T/s.sock"
    S="unix:$T/s.sock"
}

# api METHOD URI [BODY] [fcgi_client args...]: $STATUS, headers in $T/h,
# body in $T/b. A body is sent as application/json. Requests log in as the
# admin (root role) unless $API_AUTH says otherwise ("" for none).
api() {
    local method=$1 uri=$2 body=${3-}
    shift 2
    [ $# -gt 0 ] && shift
    local args=(-s "$S" -m "$method" -u "$uri")
    local auth=${API_AUTH-$ADMIN_AUTH}
    [ -n "$auth" ] && args+=(-H "$auth")
    [ -n "$body" ] && args+=(-d "$body" -H "Content-Type: application/json")
    fcgi "${args[@]}" "$@" >"$T/raw" || fail "fcgi_client failed for $method $uri"
    # Split the CGI response at the first empty line.
    awk 'BEGIN{h=1} h && /^\r?$/ {h=0; next} h {print > "/dev/stderr"; next} {print}' \
        <"$T/raw" >"$T/b" 2>"$T/h"
    STATUS=$(sed -n 's/^Status: \([0-9]*\).*/\1/p' "$T/h" | head -n1)
    STATUS=${STATUS:-200}
}

# expect METHOD URI STATUS [BODY] [client args...]
expect() {
    local method=$1 uri=$2 want=$3
    shift 3
    api "$method" "$uri" "$@"
    [ "$STATUS" = "$want" ] || fail "$method $uri: expected $want, got $STATUS: $(head -c 300 "$T/b")"
}

# jq_true EXPR [WHAT]: the last body satisfies the jq expression.
jq_true() {
    jq -e "$1" "$T/b" >/dev/null 2>&1 || fail "${2:-body}: jq '$1' is false for: $(head -c 400 "$T/b")"
}

# header NAME: the value of a response header of the last call.
header() { sed -n "s/^$1: \(.*\)\r\$/\1/Ip" "$T/h" | head -n1; }

# A JSON error body with this status.
is_error() { jq_true ".\"http status code\" == $1 and (.message | type == \"string\")" "error body"; }

store_is() { [ "$STORE" = "$1" ]; }

# expect_or_lacks FEATURE METHOD URI STATUS [BODY] [client args...]: expect,
# except that on the mongo store an answer that shows the server lacking
# FEATURE (a 400 where a real MongoDB answers, a 501 for a missing command,
# or a success where MongoDB refuses) records it (see lacks) and returns 1: the caller skips the
# checks that depend on it. Any other answer fails.
expect_or_lacks() {
    local feature=$1 method=$2 uri=$3 want=$4
    shift 4
    api "$method" "$uri" "$@"
    [ "$STATUS" = "$want" ] && return 0
    local refused=false accepted=false
    [ "$want" != 400 ] && [ "$STATUS" = 400 ] && refused=true
    [ "$STATUS" = 501 ] && refused=true
    case "$want:$STATUS" in 400:2?? | 409:2??) accepted=true ;; esac
    if store_is mongo && { $refused || $accepted; }; then
        lacks "$feature (answered $STATUS: $(jq -r '.message? // empty' "$T/b" 2>/dev/null))"
        return 1
    fi
    fail "$method $uri: expected $want, got $STATUS: $(head -c 300 "$T/b")"
}

# projected JQ WHAT: the last body (an array of documents queried with keys
# that drop "s") satisfies JQ; on the mongo store, documents returned whole
# mean the server ignores find projections (jongodb does): recorded, 1.
projected() {
    jq -e "$1" "$T/b" >/dev/null 2>&1 && return 0
    if store_is mongo && jq -e 'all(.[]; has("s") and has("n") and has("_etag"))' "$T/b" >/dev/null 2>&1; then
        lacks "find projections (documents came back whole)"
        return 1
    fi
    fail "${2:-body}: jq '$1' is false for: $(head -c 400 "$T/b")"
}

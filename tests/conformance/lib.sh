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

# tests/lib.sh: helpers for the script tests. A script defines case_NAME()
# functions and ends with `run_case "$@"`; tests/CMakeLists.txt registers each
# case as its own ctest. Every process a case starts is stopped when it ends,
# even on failure. Exit 0 pass, 1 fail, 77 skipped (a tool is missing).
set -u

: "${RESTFCGI_BIN:?RESTFCGI_BIN must point at the restfcgi binary}"
: "${RESTFCGI_SRC:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"

T=$(mktemp -d "${TMPDIR:-/tmp}/restfcgi-test.XXXXXX")
PIDS=()
# Commands run first when the case ends (e.g. examples/run stop ...).
AT_EXIT=()

cleanup() {
    local status=$? pid i
    for ((i = ${#AT_EXIT[@]} - 1; i >= 0; i--)); do eval "${AT_EXIT[i]}" >/dev/null 2>&1; done
    # Last started first: a server stops before the store it talks to (a
    # mongo client ends its sessions on the way out).
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
    done
    # A sanitizer report in any process the case started fails the case,
    # even when the process was respawned and the assertions held.
    local reports
    reports=$(grep -l -E "ERROR: (Address|Leak)Sanitizer|runtime error:" "$T"/*.log "$T"/*.err "$T"/*/*.log "$T"/*/*.err 2>/dev/null)
    if [ -n "$reports" ]; then
        for f in $reports; do echo "sanitizer report in $f:" >&2; head -n 40 "$f" >&2; done
        sanitizer_failed=1
    fi
    # The case's logs and the secrets it used, for secrets.logs_hold_no_secrets.
    if [ -n "${RESTFCGI_SUITE_LOGS:-}" ]; then
        note_secret "admin Basic credentials" "${ADMIN_AUTH#Authorization: Basic }"
        python3 "$RESTFCGI_SRC/tests/tools/suite_logs.py" collect "$T" \
            "$RESTFCGI_SUITE_LOGS/${CASE_ID:-$(basename "$0" .sh).$$}" ||
            echo "suite_logs.py collect failed" >&2
    fi
    if [ "${KEEP_TEST_DIR:-}" = "" ]; then rm -rf "$T"; else echo "kept $T" >&2; fi
    [ -n "${sanitizer_failed:-}" ] && exit 1
    exit "$status"
}
trap cleanup EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
# lacks FEATURE: only for the mongo store, whose test server (jongodb) lacks
# a few features of a real MongoDB (README, "Stores"). The case goes on with
# what it can check and ends skipped with every such feature printed.
LACKS=()
lacks() {
    [ "${STORE:-}" = mongo ] || fail "the ${STORE:-sqlite} store lacks $1"
    echo "SKIP (part of the case): the server lacks $1" >&2
    LACKS+=("$1")
}
skip() { echo "SKIP: $*" >&2; exit 77; }
need() { command -v "$1" >/dev/null 2>&1 || skip "$1 is not installed"; }

# assert_eq ACTUAL EXPECTED WHAT
assert_eq() { [ "$1" = "$2" ] || fail "$3: expected '$2', got '$1'"; }
# assert_contains HAYSTACK NEEDLE WHAT
assert_contains() { case "$1" in *"$2"*) ;; *) fail "$3: '$2' not in: $1" ;; esac; }
assert_not_contains() { case "$1" in *"$2"*) fail "$3: '$2' found in: $1" ;; *) ;; esac; }

# A TCP port nobody listens on, from the kernel's ephemeral range.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for CMD...: retries for up to 10 s (times TEST_TIME_SCALE, which
# tests/tools/valgrind-suite raises: everything is slower under memcheck).
wait_for() {
    for _ in $(seq $((100 * ${TEST_TIME_SCALE:-1}))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
    return 1
}

wait_socket() { wait_for test -S "$1" || fail "socket $1 never appeared"; }

# The admin every test's store starts with (users_worker_init creates it
# from this variable), and the header that logs in as that admin.
export RESTFCGI_ADMIN_PASSWORD="admin-pw-$RANDOM$RANDOM"
ADMIN_AUTH="Authorization: Basic $(printf 'admin:%s' "$RESTFCGI_ADMIN_PASSWORD" | base64 -w0)"
# basic_auth USER PASSWORD: an Authorization header line.
basic_auth() {
    local creds
    creds=$(printf '%s:%s' "$1" "$2" | base64 -w0)
    note_secret password "$2"
    note_secret "Basic credentials" "$creds"
    printf 'Authorization: Basic %s' "$creds"
}

# note_secret KIND VALUE: a password, token or key this case uses; no log of
# the suite may contain it (tests/tools/suite_logs.py).
note_secret() { [ ${#2} -ge 8 ] && printf '%s\t%s\n' "$1" "$2" >>"$T/.secrets"; return 0; }

# note_request_secrets ARGS...: the credentials in a client's arguments
# (Authorization headers, "password" fields of bodies), without subprocesses.
note_request_secrets() {
    local a re='"password" *: *"([^"]+)"'
    for a in "$@"; do
        case "$a" in
        "Authorization: Bearer "*) note_secret "Bearer token" "${a#Authorization: Bearer }" ;;
        "Authorization: Basic "*) note_secret "Basic credentials" "${a#Authorization: Basic }" ;;
        *'"password"'*) [[ $a =~ $re ]] && note_secret password "${BASH_REMATCH[1]}" ;;
        esac
    done
}

# curl, as the cases call it, with its credentials noted.
curl() { note_request_secrets "$@"; command curl "$@"; }

# default_auth CONFIG-LINES: bcrypt at its lowest cost, unless the lines
# bring their own auth group.
default_auth() {
    case "$*" in *"auth ="* | *"auth="*) ;; *) echo 'auth = { bcrypt_cost = 4; };' ;; esac
}

# A config in $T using the built plugins and a store under $T.
write_config() {
    local file=$1; shift
    local auth
    auth=$(default_auth "$*")
    cat >"$file" <<CONF
plugin_dir = "$RESTFCGI_PLUGIN_DIR";
store = { plugin = "sqlite"; path = "$T/data"; };
$auth
$*
CONF
}

# start_server NAME ARGS...: restfcgi in the background, stdout to
# $T/NAME.stdout, stderr to $T/NAME.log; its pid in $LAST_PID.
start_server() {
    local name=$1; shift
    "$RESTFCGI_BIN" "$@" >"$T/$name.stdout" 2>"$T/$name.log" </dev/null &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
}

# start_jongodb: a MongoDB-wire server (jongodb, a one-node replica set
# rs0; Debian ships no MongoDB) on a free loopback port, stopped with the
# case. Sets MONGO_PORT, MONGO_URI, MONGO_PID; its log is $T/jongodb.log.
start_jongodb() {
    [ -x "${JONGODB_BIN:-}" ] || skip "jongodb is not installed (scripts/install-deps --test)"
    MONGO_PORT=$(free_port)
    "$JONGODB_BIN" --host=127.0.0.1 --port="$MONGO_PORT" --replica-set-name=rs0 \
        --topology-profile=single_node_replicaset >>"$T/jongodb.log" 2>&1 </dev/null &
    MONGO_PID=$!
    PIDS+=("$MONGO_PID")
    # It prints JONGODB_URI=... once it listens.
    wait_for grep -q "JONGODB_URI=mongodb://127.0.0.1:$MONGO_PORT/" "$T/jongodb.log" ||
        fail "jongodb did not start: $(tail -n 5 "$T/jongodb.log")"
    MONGO_URI="mongodb://127.0.0.1:$MONGO_PORT/?replicaSet=rs0"
}

# fcgi ARGS...: the in-tree FastCGI client (plays the web server), its
# credentials noted; its 10 s timeout times TEST_TIME_SCALE (a -t in ARGS
# comes later and wins).
fcgi() { note_request_secrets "$@"; "$FCGI_CLIENT" -t $((10 * ${TEST_TIME_SCALE:-1})) "$@"; }

# Children of a process (workers of a supervisor).
children_of() { pgrep -P "$1" | sort; }

# start_example EXAMPLE: examples/run start EXAMPLE (RUN, RESTFCGI... from
# the environment) on a free port, stopped with the case; sets URL (the
# API's base URL).
start_example() {
    EXAMPLE=$1
    export PORT
    PORT=$(free_port)
    AT_EXIT+=("'$RESTFCGI_SRC/examples/run' stop $EXAMPLE")
    "$RESTFCGI_SRC/examples/run" start "$EXAMPLE" >"$T/run.out" 2>&1 ||
        fail "examples/run start $EXAMPLE: $(cat "$T/run.out"; tail -n 20 "$T"/*.err "$T"/*.log 2>/dev/null)"
    URL=$(sed -n 's/.* answers on \([^ ]*\) .*/\1/p' "$T/run.out")
    [ -n "$URL" ] || fail "no URL printed: $(cat "$T/run.out")"
}

# http_status URL [curl args]: the status code only.
http_status() { local url=$1; shift; curl -s -o /dev/null -w '%{http_code}' "$@" "$url"; }

run_case() {
    local name=${1:?usage: $0 CASE}
    CASE_ID="$(basename "$(dirname "$0")").$(basename "$0" .sh)${STORE:+.$STORE}.$name"
    declare -F "case_$name" >/dev/null || { echo "no case $name in $0" >&2; exit 2; }
    "case_$name"
    # A case that met a feature its server lacks ends skipped, never passed.
    [ ${#LACKS[@]} -eq 0 ] || skip "$name: the server lacks: $(IFS=';'; echo "${LACKS[*]}")"
    echo "PASS: $name"
}

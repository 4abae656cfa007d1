#!/usr/bin/env bash
# bench/mongo.sh [BUILD_DIR]: the REST overhead over the mongo store.
#   - through lighttpd (mod_fastcgi, unix socket) to restfcgi (2 workers x 4
#     threads, bench/lib.sh) with the mongo store on a jongodb this script
#     starts on a free port: GET one document by _id and POST (insert) with
#     wrk, 16 connections, 3 runs of 5 s, median requests/s (as
#     bench/data_plane.sh);
#   - the same operations directly with libmongoc (bench/mongo_direct.c,
#     built here into the temp dir): 16 threads sharing a
#     mongoc_client_pool_t, find_one by _id / insert_one, 3 runs of 5 s,
#     median ops/s;
#   - the ratio REST / direct.
# REST and direct runs alternate; each insert run starts on an emptied
# collection (see below).
# jongodb is a MongoDB-wire server in Java, not MongoDB: both sides pay its
# costs, and it shares the machine with wrk, lighttpd and restfcgi. Compare
# figures only within one run. Needs wrk, lighttpd, curl, jq, cc,
# pkg-config, libmongoc-1.0 (dev) and jongodb (scripts/install-deps --test;
# or JONGODB_BIN=path).
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
: "${JONGODB_BIN:=$SRC/tests/tools/node/node_modules/@jongodb/memory-server-bin-linux-x64-gnu/bin/jongodb}"
[ -x "$JONGODB_BIN" ] || { echo "bench needs jongodb at $JONGODB_BIN (scripts/install-deps --test)" >&2; exit 1; }
[ -f "$BUILD/plugins/store_mongo.so" ] || { echo "no $BUILD/plugins/store_mongo.so: build first" >&2; exit 1; }
for tool in wrk lighttpd curl jq cc pkg-config; do
    command -v "$tool" >/dev/null || { echo "bench needs $tool" >&2; exit 1; }
done
pkg-config --exists libmongoc-1.0 || { echo "bench needs libmongoc-1.0 (libmongoc-dev)" >&2; exit 1; }

# jongodb first: the workers connect to it when they start. It lives in a
# directory of its own until bench/lib.sh's cleanup takes it over below.
JT=$(mktemp -d /tmp/restfcgi-bench-mongo.XXXXXX)
MPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$JONGODB_BIN" --host=127.0.0.1 --port="$MPORT" --replica-set-name=rs0 \
    --topology-profile=single_node_replicaset >"$JT/jongodb.log" 2>&1 </dev/null &
JPID=$!
trap 'kill "$JPID" 2>/dev/null; wait "$JPID" 2>/dev/null; rm -rf "$JT"' EXIT
for _ in $(seq 200); do grep -q "JONGODB_URI=" "$JT/jongodb.log" && break; sleep 0.05; done
grep -q "JONGODB_URI=mongodb://127.0.0.1:$MPORT/" "$JT/jongodb.log" ||
    { echo "jongodb did not start: $(tail -n 5 "$JT/jongodb.log")" >&2; exit 1; }
MONGO_URI="mongodb://127.0.0.1:$MPORT/?replicaSet=rs0"

BENCH_STORE="store = { plugin = \"mongo\"; uri = \"$MONGO_URI\"; };"
. "$(dirname "$0")/lib.sh"
PIDS+=("$JPID")
trap 'cleanup; rm -rf "$JT"' EXIT

for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/health")" = 200 ] && break
    sleep 0.1
done
curl -s "${ADMIN[@]}" -o /dev/null -X PUT "$URL/bench"
curl -s "${ADMIN[@]}" -o /dev/null -X PUT "$URL/bench/docs"
curl -s "${ADMIN[@]}" -o /dev/null -H "$J" -d '{"_id":"one","name":"a document to read","n":1,"tags":["x","y"]}' "$URL/bench/docs"
[ "$(curl -s "${ADMIN[@]}" -o /dev/null -w '%{http_code}' "$URL/bench/docs/one")" = 200 ] ||
    { echo "setup failed: $(tail -n 5 "$T/restfcgi.log")" >&2; exit 1; }

cc -O2 -Wall -Wextra -o "$T/mongo_direct" "$(dirname "$0")/mongo_direct.c" \
    $(pkg-config --cflags --libs libmongoc-1.0) -lpthread

echo "$("$BIN" --version 2>&1 | head -n1), mongo store on jongodb ($MONGO_URI), lighttpd mod_fastcgi -> unix socket, 2 workers x 4 threads, $(nproc) cores shared with wrk and jongodb"
AUTH="Authorization: Basic $(printf 'admin:%s' "$RESTFCGI_ADMIN_PASSWORD" | base64 -w0)"

DIRECT=("$T/mongo_direct" "$MONGO_URI")
rest_run() { wrk_rps -t2 -c16 -d5s "$@"; }
direct_run() {
    local out
    out=$("${DIRECT[@]}" "$@") || { echo "mongo_direct $*: $out" >&2; exit 1; }
    echo "${out%% *}"
}
clear_ns() { "${DIRECT[@]}" clear "$1" "$2"; }
# line LABEL UNIT FIGURES...: the runs and their median (in $MED).
line() {
    local label=$1 unit=$2
    shift 2
    MED=$(printf '%s\n' "$@" | median)
    printf '%-34s runs %s %s; median %s\n' "$label" "$*" "$unit" "$MED"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f (REST is %.0f%% of direct; %.0f us added per operation at 16 in flight)", a/b, 100*a/b, (16/a - 16/b)*1e6 }'; }

cat >"$T/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"name":"inserted by wrk","n":42,"tags":["a","b"]}'
wrk.headers["Content-Type"] = "application/json"
LUA
curl -s "${ADMIN[@]}" -o /dev/null -X PUT "$URL/bench/inserts"

# jongodb is a JVM: 3 s of each operation first, not counted. REST and
# direct runs alternate, so both see the same machine load. jongodb's
# insert slows down as a collection grows (about O(n) per insert: ~1300/s
# on an empty collection, ~30/s past 1000 documents), so every insert run
# starts on an emptied collection.
wrk -t2 -c16 -d3s -H "$AUTH" "$URL/bench/docs/one" >/dev/null
wrk -t2 -c16 -d3s -H "$AUTH" -s "$T/post.lua" "$URL/bench/inserts" >/dev/null
direct_run find 16 3 bench docs one >/dev/null
direct_run insert 16 3 bench direct >/dev/null

rest_get=() direct_get=() rest_post=() direct_post=() rest_n=() direct_n=()
for _ in 1 2 3; do
    rest_get+=("$(rest_run -H "$AUTH" "$URL/bench/docs/one")")
    direct_get+=("$(direct_run find 16 5 bench docs one)")
done
for _ in 1 2 3; do
    clear_ns bench inserts >/dev/null
    rest_post+=("$(rest_run -H "$AUTH" -s "$T/post.lua" "$URL/bench/inserts")")
    rest_n+=("$(curl -s "${ADMIN[@]}" "$URL/bench/inserts/_size" | jq ._size)")
    clear_ns bench direct >/dev/null
    direct_post+=("$(direct_run insert 16 5 bench direct)")
    direct_n+=("$(clear_ns bench direct)")
done

echo "-- through the REST API: lighttpd, wrk -t2 -c16 -d5s"
line "GET /bench/docs/one" req/s "${rest_get[@]}"; rg=$MED
line "POST /bench/inserts" req/s "${rest_post[@]}"; rp=$MED
echo "  documents stored per run: ${rest_n[*]}"
echo "-- directly with libmongoc: 16 threads, one mongoc_client_pool_t, 5 s"
line "find_one bench.docs {_id:\"one\"}" ops/s "${direct_get[@]}"; dg=$MED
line "insert_one bench.direct" ops/s "${direct_post[@]}"; dp=$MED
echo "  documents stored per run: ${direct_n[*]}"
echo "-- REST / direct (medians)"
echo "GET by _id:  $(ratio "$rg" "$dg")"
echo "POST insert: $(ratio "$rp" "$dp")"
if grep -qE ' (error|warn) ' "$T/restfcgi.log"; then
    echo "restfcgi log (first warnings):"
    grep -E ' (error|warn) ' "$T/restfcgi.log" | head -n 5
fi

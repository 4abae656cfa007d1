#!/usr/bin/env bash
# bench/data_plane.sh [BUILD_DIR]: first figures for the document API on the
# embedded sqlite store, behind a real lighttpd (mod_fastcgi) on loopback.
#   - GET one document by _id, and POST (insert) throughput: wrk, 3 runs
#     of 5 s each, median requests/s;
#   - an equality query on 100 000 documents with and without an index:
#     median of 7 timed requests each, and the ratio.
# Needs wrk, lighttpd, curl, jq. The machine is shared: compare figures only
# within one run.
BUILD=$(cd "${1:-build}" && pwd)
. "$(dirname "$0")/lib.sh"
curl -s "${ADMIN[@]}" -o /dev/null -X PUT "$URL/bench"
curl -s "${ADMIN[@]}" -o /dev/null -X PUT "$URL/bench/docs"
curl -s "${ADMIN[@]}" -o /dev/null -H "$J" -d '{"_id":"one","name":"a document to read","n":1,"tags":["x","y"]}' "$URL/bench/docs"
[ "$(curl -s "${ADMIN[@]}" -o /dev/null -w '%{http_code}' "$URL/bench/docs/one")" = 200 ] || { echo "setup failed" >&2; exit 1; }


echo "$("$BIN" --version 2>&1 | head -n1), sqlite store, lighttpd mod_fastcgi -> unix socket, 2 workers x 4 threads, $(nproc) cores shared with wrk"
AUTH="Authorization: Basic $(printf 'admin:%s' "$RESTFCGI_ADMIN_PASSWORD" | base64 -w0)"
bench_rps "GET /bench/docs/one" -H "$AUTH" "$URL/bench/docs/one"

cat >"$T/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"name":"inserted by wrk","n":42,"tags":["a","b"]}'
wrk.headers["Content-Type"] = "application/json"
LUA
curl -s "${ADMIN[@]}" -o /dev/null -X PUT "$URL/bench/inserts"
bench_rps "POST /bench/inserts" -H "$AUTH" -s "$T/post.lua" "$URL/bench/inserts"
stored=$(curl -s "${ADMIN[@]}" "$URL/bench/inserts/_size" | jq ._size)
echo "  $stored documents stored"

# 100 000 documents, g = i % 1000: an equality on g matches 100 of them.
curl -s "${ADMIN[@]}" -o /dev/null -X PUT "$URL/bench/big"
for b in $(seq 0 99); do
    jq -cn --argjson b "$b" '[range($b*1000; ($b+1)*1000) | {_id: ., g: (. % 1000), s: ("doc " + tostring)}]' >"$T/batch.json"
    code=$(curl -s "${ADMIN[@]}" -o /dev/null -w '%{http_code}' -H "$J" --data-binary @"$T/batch.json" "$URL/bench/big")
    [ "$code" = 200 ] || { echo "bulk insert batch $b: $code" >&2; exit 1; }
done
q="$URL/bench/big?filter=%7B%22g%22%3A7%7D&pagesize=1000"
timed() {
    for _ in 1 2 3 4 5 6 7; do curl -s "${ADMIN[@]}" -o "$T/q.json" -w '%{time_total}\n' "$q"; done | median
}
scan=$(timed)
[ "$(jq length "$T/q.json")" = 100 ] || { echo "scan answered $(jq length "$T/q.json") documents" >&2; exit 1; }
curl -s "${ADMIN[@]}" -o /dev/null -X PUT -H "$J" -d '{"keys":{"g":1}}' "$URL/bench/big/_indexes/g"
indexed=$(timed)
[ "$(jq length "$T/q.json")" = 100 ] || { echo "indexed query answered $(jq length "$T/q.json") documents" >&2; exit 1; }
echo "filter {g:7} on 100000 docs (100 match): scan $(awk -v s="$scan" 'BEGIN{printf "%.1f", s*1000}') ms, indexed $(awk -v s="$indexed" 'BEGIN{printf "%.1f", s*1000}') ms (median of 7); scan/indexed = $(awk -v a="$scan" -v b="$indexed" 'BEGIN{printf "%.0f", a/b}')x"

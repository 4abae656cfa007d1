#!/usr/bin/env bash
# bench/auth.sh [BUILD_DIR] [memory|jwt]: what authentication costs per
# request, behind lighttpd (bench/lib.sh): GET one document anonymously (a
# $unauthenticated permission), with Basic password (bcrypt cost 12, cached
# after the first check), with Basic userid:token and with Bearer token
# from the chosen token manager; plus the time of one uncached bcrypt login.
# Figures compare only within one run (shared machine).
BUILD=$(cd "${1:-build}" && pwd)
TM=${2:-memory}
case "$TM" in
memory) BENCH_CONF='auth = { token_manager = { plugin = "memory"; }; };' ;;
jwt) BENCH_CONF='auth = { token_manager = { plugin = "jwt"; algorithm = "HS256"; secret = "bench-secret-bench-secret-bench-secret!"; issuer = "bench"; audience = "bench"; }; };' ;;
*) echo "usage: $0 [BUILD_DIR] [memory|jwt]" >&2; exit 2 ;;
esac
. "$(dirname "$0")/lib.sh"

curl -s "${ADMIN[@]}" -o /dev/null -X PUT "$URL/bench"
curl -s "${ADMIN[@]}" -o /dev/null -X PUT "$URL/bench/docs"
curl -s "${ADMIN[@]}" -o /dev/null -H "$J" -d '{"_id":"one","name":"a document to read","n":1}' "$URL/bench/docs"
curl -s "${ADMIN[@]}" -o /dev/null -X PUT "$URL/restfcgi/acl"
curl -s "${ADMIN[@]}" -o /dev/null -H "$J" -d '{"_id":"anon","roles":["$unauthenticated","user"],"predicate":"path-prefix(\"/bench\") and method(GET)"}' "$URL/restfcgi/acl"
curl -s "${ADMIN[@]}" -o /dev/null -H "$J" -d '{"_id":"bob","password":"bob-password","roles":["user"]}' "$URL/restfcgi/users"
for _ in $(seq 50); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/bench/docs/one")" = 200 ] && break
    sleep 0.1
done
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/bench/docs/one")" = 200 ] || { echo "setup failed" >&2; exit 1; }

echo "$("$BIN" --version 2>&1 | head -n1), $TM token manager, sqlite store, lighttpd mod_fastcgi, 2 workers x 4 threads, $(nproc) cores shared with wrk"
first=$(curl -s -o /dev/null -w '%{time_total}' -u bob:bob-password "$URL/bench/docs/one")
again=$(curl -s -o /dev/null -w '%{time_total}' -u bob:bob-password "$URL/bench/docs/one")
echo "one Basic password login: first $(awk -v s="$first" 'BEGIN{printf "%.1f", s*1000}') ms (bcrypt cost 12), next $(awk -v s="$again" 'BEGIN{printf "%.1f", s*1000}') ms (cached, if the same worker)"
TOKEN=$(curl -s -D - -o /dev/null -u bob:bob-password "$URL/bench/docs/one" | sed -n 's/^Auth-Token: \(.*\)\r$/\1/p')
[ -n "$TOKEN" ] || { echo "no token" >&2; exit 1; }

bench_rps "anonymous" "$URL/bench/docs/one"
bench_rps "Basic password (cached)" -H "Authorization: Basic $(printf 'bob:bob-password' | base64 -w0)" "$URL/bench/docs/one"
bench_rps "Basic userid:token" -H "Authorization: Basic $(printf 'bob:%s' "$TOKEN" | base64 -w0)" "$URL/bench/docs/one"
bench_rps "Bearer token" -H "Authorization: Bearer $TOKEN" "$URL/bench/docs/one"

#!/usr/bin/env bash
# bench/fronts.sh [BUILD_DIR]: the hello path (GET /ping, no auth, no store)
# through every front-server example of examples/ (each started by
# examples/run on a free loopback port, 2 workers x 4 threads where the
# front does not decide): wrk -t2 -c16, 3 runs of 5 s, each figure and the
# median requests/s. Compare figures only within one run on one machine.
set -euo pipefail
BUILD=$(cd "${1:-build}" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
command -v wrk >/dev/null || { echo "bench needs wrk (apt-get install wrk)" >&2; exit 1; }
export RESTFCGI="$BUILD/restfcgi" PLUGIN_DIR="$BUILD/plugins" RUN
RUN=$(mktemp -d /tmp/restfcgi-bench-fronts.XXXXXX)
current=""
trap '[ -n "$current" ] && "$SRC/examples/run" stop "$current" >/dev/null 2>&1; rm -rf "$RUN"' EXIT
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }

echo "$("$RESTFCGI" --version 2>/dev/null | head -n1), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "GET /ping through each front: wrk -t2 -c16 -d5s, 3 runs"
for ex in lighttpd/spawn-fcgi lighttpd/bin-path nginx/fastcgi nginx/keepalive \
          apache/proxy_fcgi apache/proxy_fcgi_tcp apache/fcgid haproxy/fcgi-app; do
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    export PORT
    current=$ex
    out=$("$SRC/examples/run" start "$ex" 2>&1) || { echo "$ex: did not start: $out" >&2; continue; }
    url=$(sed -n 's/.* answers on \([^ ]*\) .*/\1/p' <<<"$out")
    runs=()
    for _ in 1 2 3; do runs+=("$(wrk -t2 -c16 -d5s "$url/ping" | awk '/Requests\/sec/ {print $2}')"); done
    "$SRC/examples/run" stop "$ex" >/dev/null
    current=""
    rm -rf "${RUN:?}"/*
    printf '%-24s runs %s req/s; median %s\n' "$ex" "${runs[*]}" "$(printf '%s\n' "${runs[@]}" | median)"
done

# bench/lib.sh: what the bench scripts share: restfcgi (2 workers x 4
# threads) behind a real lighttpd (mod_fastcgi, unix socket) on loopback,
# an admin to log in with, and the median of wrk runs. Every process started
# is stopped on exit. Source it with BUILD set; extra config lines in
# $BENCH_CONF; $BENCH_STORE replaces the store line (default: sqlite in $T).
set -euo pipefail
BIN=$BUILD/restfcgi
T=$(mktemp -d /tmp/restfcgi-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$T"
}
trap cleanup EXIT
for tool in wrk lighttpd curl jq; do
    command -v "$tool" >/dev/null || { echo "bench needs $tool" >&2; exit 1; }
done

export RESTFCGI_ADMIN_PASSWORD="bench-$RANDOM$RANDOM"
ADMIN=(-u "admin:$RESTFCGI_ADMIN_PASSWORD")
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
SQLITE_STORE="store = { plugin = \"sqlite\"; path = \"$T/data\"; };"
cat >"$T/c.conf" <<CONF
plugin_dir = "$BUILD/plugins";
${BENCH_STORE:-$SQLITE_STORE}
log_level = "warn";
${BENCH_CONF:-}
CONF
"$BIN" -c "$T/c.conf" --listen "unix:$T/fcgi.sock" --workers 2 --threads 4 2>"$T/restfcgi.log" &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$T/fcgi.sock" ] && break; sleep 0.05; done
mkdir -p "$T/www"
cat >"$T/lighttpd.conf" <<CONF
server.document-root = "$T/www"
server.port = $PORT
server.bind = "127.0.0.1"
server.errorlog = "$T/lighttpd.err"
server.modules += ("mod_fastcgi")
fastcgi.server = ( "/" => (( "socket" => "$T/fcgi.sock", "check-local" => "disable" )))
CONF
lighttpd -D -f "$T/lighttpd.conf" &
PIDS+=($!)
URL=http://127.0.0.1:$PORT
for _ in $(seq 100); do curl -s -o /dev/null "$URL/ping" && break; sleep 0.05; done
J='Content-Type: application/json'

median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
wrk_rps() { wrk "$@" | awk '/Requests\/sec/ {print $2}'; }
# bench_rps LABEL WRK-ARGS...: 3 runs of 5 s, each figure and the median.
bench_rps() {
    local label=$1 runs=()
    shift
    for _ in 1 2 3; do runs+=("$(wrk_rps -t2 -c16 -d5s "$@")"); done
    printf '%-32s runs %s req/s; median %s\n' "$label" "${runs[*]}" \
        "$(printf '%s\n' "${runs[@]}" | median)"
}

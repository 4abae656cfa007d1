# examples/lib.sh: what examples/run shares between the examples: the
# settings (environment variables with defaults), rendering a config
# template, starting and recording processes, stopping them all.
set -euo pipefail

EXAMPLES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$EXAMPLES/.." && pwd)

: "${PORT:=8080}"                         # where the front server listens (127.0.0.1)
: "${RESTFCGI:=$ROOT/build/restfcgi}"     # the binary and its plugins
: "${PLUGIN_DIR:=$(dirname "$RESTFCGI")/plugins}"
: "${WORKERS:=2}"                         # restfcgi processes per node
: "${THREADS:=4}"                         # accept loops per process
: "${MAX_BODY:=1048576}"                  # bytes: restfcgi's limits.max_body and the front's limit
: "${STORE:=sqlite}"                      # sqlite (data in $RUN/data) or mongo ($MONGO_URI)
: "${MONGO_URI:=}"
: "${TOKENS:=memory}"                     # memory or jwt (a secret or key made in $RUN)
: "${JWT_ALGORITHM:=HS256}"               # with TOKENS=jwt: HS256 or ES256
: "${BCRYPT_COST:=12}"
: "${BASE_PATH:=}"                        # set by examples mounted under a prefix
: "${FCGI_APP:=}"                         # another FastCGI command for spawn-fcgi (bench/hello)
MAX_BODY_KB=$(((MAX_BODY + 1023) / 1024))

# Front servers started as root hand their workers to an unprivileged user;
# restfcgi's sockets and the files that user writes are given to it.
if [ "$(id -u)" -eq 0 ]; then
    FRONT_USER=www-data FRONT_GROUP=www-data
else
    FRONT_USER=$(id -un) FRONT_GROUP=$(id -gn)
fi

die() { echo "examples: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is not installed (scripts/install-deps --test installs it)"; }

# render TEMPLATE OUT: every @NAME@ in TEMPLATE replaced by the value of the
# shell variable NAME (an unset one is an error).
render() {
    local template=$1 out=$2 name value script=""
    for name in $(grep -o '@[A-Z_][A-Z0-9_]*@' "$template" | sort -u | tr -d @); do
        [ -n "${!name+x}" ] || die "$template: @$name@ has no value"
        value=${!name}
        value=${value//\\/\\\\}
        value=${value//&/\\&}
        value=${value//|/\\|}
        script+="s|@$name@|$value|g;"
    done
    sed -e "$script" "$template" >"$out"
}

# record NAME PID: a process examples/run stop will stop.
record() { echo "$1 $2" >>"$RUN/pids"; }

# run_bg NAME CMD...: CMD in the background, its output in $RUN/NAME.log.
run_bg() {
    local name=$1; shift
    "$@" >>"$RUN/$name.log" 2>&1 </dev/null &
    record "$name" $!
}

# within SECONDS CMD...: CMD retried every 0.1 s until it succeeds.
within() {
    local i tries=$(($1 * 10))
    shift
    for ((i = 0; i < tries; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

tcp_open() { (exec 3<>"/dev/tcp/$1/$2"); }

wait_http() { within 10 curl -s -o /dev/null "$1" || die "$1 never answered; logs in $RUN"; }
wait_socket() { within 10 test -S "$1" || die "socket $1 never appeared; logs in $RUN"; }
wait_tcp() { within 10 tcp_open "$1" "$2" || die "nothing listens on $1:$2; logs in $RUN"; }

# A TCP port nobody listens on, from the kernel's ephemeral range.
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# login_hint URL STOP-COMMAND: how to log in, once the example answers.
login_hint() {
    local pw='$RESTFCGI_ADMIN_PASSWORD'
    [ -n "${ADMIN_PASSWORD_FILE:-}" ] && pw="\$(cat $ADMIN_PASSWORD_FILE)"
    echo "log in: curl -u admin:$pw $1/  (stop: RUN=$RUN $2)"
}

# The admin's password: $RESTFCGI_ADMIN_PASSWORD, else made once in $RUN
# (the first start creates the admin user with it).
admin_password() {
    if [ -z "${RESTFCGI_ADMIN_PASSWORD:-}" ]; then
        [ -s "$RUN/admin-password" ] ||
            (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$RUN/admin-password")
        RESTFCGI_ADMIN_PASSWORD=$(cat "$RUN/admin-password")
        ADMIN_PASSWORD_FILE="$RUN/admin-password"
    fi
    export RESTFCGI_ADMIN_PASSWORD
}

# jwt_key: the token manager's key setting for $JWT_ALGORITHM, the secret or
# key made once in $RUN (every node of a cluster must share it: set
# JWT_SECRET_FILE or JWT_KEY_FILE to one file for all).
jwt_key() {
    local file
    case $JWT_ALGORITHM in
        HS256)
            file=${JWT_SECRET_FILE:-$RUN/jwt.secret}
            [ -s "$file" ] || (umask 077; head -c 48 /dev/urandom | base64 -w0 >"$file")
            echo "secret_file = \"$file\";" ;;
        ES256)
            file=${JWT_KEY_FILE:-$RUN/jwt-es256.pem}
            [ -s "$file" ] || (umask 077; openssl ecparam -name prime256v1 -genkey -noout -out "$file")
            echo "private_key_file = \"$file\";" ;;
        *) die "JWT_ALGORITHM must be HS256 or ES256" ;;
    esac
    if [ "$(id -u)" -eq 0 ]; then chown "$FRONT_USER" "$file"; fi
}

# restfcgi_conf FILE: the config of the example's restfcgi processes.
restfcgi_conf() {
    local file=$1 store tm
    case $STORE in
        sqlite)
            mkdir -p "$RUN/data"
            # mod_fcgid starts the workers as the front's user.
            [ "$(id -u)" -eq 0 ] && chown "$FRONT_USER:$FRONT_GROUP" "$RUN/data"
            store="store = { plugin = \"sqlite\"; path = \"$RUN/data\"; };" ;;
        mongo)
            [ -n "$MONGO_URI" ] || die "STORE=mongo needs MONGO_URI"
            store="store = { plugin = \"mongo\"; uri = \"$MONGO_URI\"; };" ;;
        *) die "STORE must be sqlite or mongo" ;;
    esac
    case $TOKENS in
        memory) tm='token_manager = { plugin = "memory"; };' ;;
        jwt)
            tm="token_manager = { plugin = \"jwt\"; algorithm = \"$JWT_ALGORITHM\"; $(jwt_key) };" ;;
        *) die "TOKENS must be memory or jwt" ;;
    esac
    cat >"$file" <<CONF
# Written by examples/run; conf/restfcgi.conf lists every key.
plugin_dir = "$PLUGIN_DIR";
base_path = "$BASE_PATH";
threads = $THREADS;
limits = { max_body = $MAX_BODY; };
$store
auth = { bcrypt_cost = $BCRYPT_COST; $tm };
CONF
    "$RESTFCGI" -c "$file" --check-config >/dev/null || die "$file: see above"
}

# spawn_fcgi SOCKET CONF: $WORKERS restfcgi processes on a unix socket the
# front's user may use, started by spawn-fcgi (which does not restart them).
spawn_fcgi() {
    local sock=$1 conf=$2 owner=()
    need spawn-fcgi
    [ "$(id -u)" -eq 0 ] && owner=(-U "$FRONT_USER" -G "$FRONT_GROUP")
    rm -f "$sock"
    local app="\"$RESTFCGI\" -c \"$conf\""
    [ -n "$FCGI_APP" ] && app=$FCGI_APP
    spawn-fcgi -s "$sock" "${owner[@]}" -M 0660 -F "$WORKERS" -- /bin/sh -c \
        "exec $app 2>>\"$RUN/restfcgi.log\"" >"$RUN/spawn-fcgi.out" ||
        die "spawn-fcgi failed: $(cat "$RUN/spawn-fcgi.out")"
    local pid
    for pid in $(sed -n 's/.*PID: \([0-9]*\).*/\1/p' "$RUN/spawn-fcgi.out"); do record restfcgi "$pid"; done
}

# listen_workers ADDR CONF: restfcgi's own supervisor with $WORKERS workers
# on ADDR (unix:/path or host:port); it restarts a worker that dies.
listen_workers() {
    run_bg restfcgi "$RESTFCGI" -c "$2" --listen "$1" --workers "$WORKERS"
    case $1 in
        unix:*) wait_socket "${1#unix:}" ;;
        *) wait_tcp "${1%:*}" "${1##*:}" ;;
    esac
}

# stop_all: every recorded process; SIGKILL for those still there after 10 s.
stop_all() {
    [ -f "$RUN/pids" ] || return 0
    local name pid i left
    while read -r name pid; do kill -TERM "$pid" 2>/dev/null || true; done <"$RUN/pids"
    for ((i = 0; i < 100; i++)); do
        left=0
        while read -r name pid; do kill -0 "$pid" 2>/dev/null && left=1; done <"$RUN/pids"
        [ $left -eq 0 ] && break
        sleep 0.1
    done
    while read -r name pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$RUN/pids"
    rm -f "$RUN/pids"
}

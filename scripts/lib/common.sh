# shellcheck shell=bash
#
# Shared steps for scripts/stack.sh and scripts/test.sh; source it, don't run it.
#
# What it offers:
#   ensure_packages      apt-installs what the build and the stack need, when missing
#   ensure_rust          cargo present and at least the workspace's rust-version
#   ensure_postgres      a PostgreSQL that user postgres reaches over TCP without a
#                        password: the one on the port, else a private one (sets PG_PORT)
#   ensure_redis         a Redis that answers PING: the one on the port, else a
#                        private one (sets REDIS_PORT)
#   stop_private_servers stops, by PID, the private servers this run started
#
# Environment knobs:
#   SWITCHYARD_PG_PORT     PostgreSQL port to use or start on          (default 5432)
#   SWITCHYARD_REDIS_PORT  Redis port to use or start on               (default 6379)
#   SWITCHYARD_STATE_DIR   where private servers keep data, logs, PIDs
#                          (default /tmp/switchyard-$(id -u))
#   SWITCHYARD_WAIT_SECS   how long to wait for a server to get ready  (default 60)

# Repository root, whatever the caller's working directory.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE_DIR="${SWITCHYARD_STATE_DIR:-/tmp/switchyard-$(id -u)}"
WAIT_SECS="${SWITCHYARD_WAIT_SECS:-60}"

PG_PORT="${SWITCHYARD_PG_PORT:-5432}"
REDIS_PORT="${SWITCHYARD_REDIS_PORT:-6379}"

# PIDs of servers this run started; empty when it reused one.
PG_STARTED_PID=""
PG_DATA=""
REDIS_STARTED_PID=""

APT_UPDATED=0

log() { printf '==> %s\n' "$*" >&2; }
warn() { printf '==> warning: %s\n' "$*" >&2; }
die() {
    printf '==> error: %s\n' "$*" >&2
    exit 1
}

is_root() { [ "$(id -u)" -eq 0 ]; }

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root for: $* (run as root or install sudo)"
    fi
}

# ---------------------------------------------------------------------------
# Packages and toolchain

apt_install() {
    command -v apt-get >/dev/null 2>&1 ||
        die "missing packages ($*) and no apt-get here: install them by hand"
    if [ "$APT_UPDATED" -eq 0 ]; then
        log "apt-get update"
        as_root apt-get update -q
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "$@"
}

# Newest installed PostgreSQL server bin directory, or nothing.
pg_bindir() {
    local dirs=(/usr/lib/postgresql/*/bin)
    [ -x "${dirs[0]}/initdb" ] || return 0
    printf '%s\n' "${dirs[@]}" | sort -V | tail -n 1
}

ensure_packages() {
    local missing=()
    command -v cmake >/dev/null 2>&1 || missing+=(cmake)
    command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
    { command -v cc >/dev/null 2>&1 && command -v make >/dev/null 2>&1; } ||
        missing+=(build-essential)
    { command -v psql >/dev/null 2>&1 && command -v pg_isready >/dev/null 2>&1 &&
        [ -n "$(pg_bindir)" ]; } || missing+=(postgresql)
    { command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; } ||
        missing+=(redis-server)
    command -v curl >/dev/null 2>&1 || missing+=(curl)
    command -v openssl >/dev/null 2>&1 || missing+=(openssl)
    # The legacy worker: Sidekiq and its PostgreSQL driver, for the Sidekiq suite and demo.
    command -v sidekiq >/dev/null 2>&1 || missing+=(ruby-sidekiq)
    ruby -e 'require "pg"' >/dev/null 2>&1 || missing+=(ruby-pg)
    if [ "${#missing[@]}" -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
}

# The workspace's minimum Rust version, from [workspace.package] in Cargo.toml.
workspace_rust_version() {
    awk '
        /^\[/ { in_pkg = ($0 ~ /^\[workspace\.package\][[:space:]]*$/) }
        in_pkg && /^[[:space:]]*rust-version[[:space:]]*=/ {
            sub(/^[^=]*=[[:space:]]*"/, ""); sub(/".*/, ""); print; exit
        }' "$REPO_ROOT/Cargo.toml"
}

# True when version $1 >= version $2.
version_ge() {
    printf '%s\n%s\n' "$2" "$1" | sort -V -C
}

ensure_rust() {
    if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
        PATH="$HOME/.cargo/bin:$PATH"
        export PATH
    fi
    if ! command -v cargo >/dev/null 2>&1; then
        log "cargo not found; trying the distribution's cargo and rustc"
        apt_install cargo rustc
    fi

    local need have
    need="$(workspace_rust_version)"
    [ -n "$need" ] || die "no rust-version in [workspace.package] of $REPO_ROOT/Cargo.toml"
    have="$(cargo --version | awk '{ print $2 }')"
    have="${have%%-*}"
    if ! version_ge "$have" "$need"; then
        die "cargo $have is older than this workspace's rust-version $need." \
            "Install a current toolchain with rustup (https://rustup.rs)," \
            "make sure ~/.cargo/bin comes first in PATH, and run this again."
    fi
    log "cargo $have (workspace needs $need or newer)"
}

# rustfmt and clippy, for test.sh: rustup components, else the distribution's.
ensure_rust_lints() {
    local missing=()
    cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
    cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
    [ "${#missing[@]}" -gt 0 ] || return 0
    if command -v rustup >/dev/null 2>&1; then
        log "rustup component add ${missing[*]}"
        rustup component add "${missing[@]}"
    else
        local pkgs=("${missing[@]/clippy/rust-clippy}")
        apt_install "${pkgs[@]}"
    fi
}

# ---------------------------------------------------------------------------
# Ports and processes

# True when something accepts TCP connections on 127.0.0.1:$1.
port_listening() {
    # shellcheck disable=SC2016 # $1 is expanded by the inner bash.
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# First port after $1 that nothing listens on (tries 100).
next_free_port() {
    local port=$(($1 + 1)) last=$(($1 + 100))
    while [ "$port" -le "$last" ]; do
        if ! port_listening "$port"; then
            echo "$port"
            return 0
        fi
        port=$((port + 1))
    done
    die "no free port in $(($1 + 1))..$last"
}

# Polls "$@" once a quarter second until it succeeds or $1 seconds pass.
wait_for() {
    local secs="$1" what="$2"
    shift 2
    local deadline=$((SECONDS + secs))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            warn "gave up after ${secs}s waiting for $what"
            return 1
        fi
        sleep 0.25
    done
}

# True while PID $1 runs (a zombie counts as gone).
pid_alive() {
    local state
    [ -r "/proc/$1/stat" ] || return 1
    state="$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

pid_gone() { ! pid_alive "$1"; }

# Sends signal $3 to PID $2 (called $1), waits up to $4 seconds, then SIGKILL.
stop_pid() {
    local name="$1" pid="$2" sig="$3" secs="$4"
    [ -n "$pid" ] || return 0
    if pid_alive "$pid"; then
        log "stopping $name (pid $pid)"
        kill -s "$sig" "$pid" 2>/dev/null || true
        if ! wait_for "$secs" "$name to exit" pid_gone "$pid"; then
            warn "$name (pid $pid) ignored SIG$sig; sending SIGKILL"
            kill -s KILL "$pid" 2>/dev/null || true
        fi
    fi
    # Reaps our own children; for other processes this is a harmless error.
    wait "$pid" 2>/dev/null || true
}

# ---------------------------------------------------------------------------
# State directory

ensure_state_dir() {
    if [ ! -d "$STATE_DIR" ]; then
        mkdir -p "$STATE_DIR"
        chmod 755 "$STATE_DIR"
    fi
    [ -O "$STATE_DIR" ] || die "$STATE_DIR belongs to someone else; set SWITCHYARD_STATE_DIR"
}

# ---------------------------------------------------------------------------
# PostgreSQL

# psql to URL $1 with neither a password prompt nor a stored password.
psql_nopass() {
    local url="$1"
    shift
    env -u PGPASSWORD PGPASSFILE=/dev/null/none PGCONNECT_TIMEOUT=5 \
        PGOPTIONS="-c client_min_messages=warning" \
        psql -X -w -q -v ON_ERROR_STOP=1 "$url" "$@"
}

# psql as user postgres to database $2 on 127.0.0.1:$1.
pg_admin() {
    local port="$1" db="$2"
    shift 2
    psql_nopass "postgres://postgres@127.0.0.1:$port/$db" "$@"
}

pg_ready() { pg_isready -q -h 127.0.0.1 -p "$1" -t 2; }

# Runs a command as the owner of the private cluster: postgres when we are root
# (initdb and postgres refuse to run as root), else ourselves.
as_pg_owner() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

ensure_postgres() {
    local port="$PG_PORT"
    if port_listening "$port"; then
        if pg_admin "$port" postgres -tAc 'select 1' >/dev/null 2>&1; then
            log "using the PostgreSQL on 127.0.0.1:$port"
            PG_PORT="$port"
            return 0
        fi
        local free
        free="$(next_free_port "$port")"
        warn "127.0.0.1:$port is taken by a server that user postgres cannot use" \
            "without a password; starting a private PostgreSQL on port $free instead"
        port="$free"
    fi
    start_private_postgres "$port"
}

start_private_postgres() {
    local port="$1" bindir dir
    bindir="$(pg_bindir)"
    [ -n "$bindir" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql"
    ensure_state_dir
    dir="$STATE_DIR/pg"
    PG_DATA="$dir/data"
    mkdir -p "$dir"
    if is_root; then
        chown postgres:postgres "$dir"
        runuser -u postgres -- test -x "$STATE_DIR" ||
            die "user postgres cannot enter $STATE_DIR; pick a SWITCHYARD_STATE_DIR it can reach"
    fi

    init_private_cluster "$bindir"

    log "starting a private PostgreSQL on 127.0.0.1:$port (data in $PG_DATA)"
    as_pg_owner "$bindir/pg_ctl" -D "$PG_DATA" -l "$dir/postgres.log" -W \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
    if ! wait_for "$WAIT_SECS" "PostgreSQL on port $port" pg_ready "$port"; then
        tail -n 20 "$dir/postgres.log" >&2 || true
        die "private PostgreSQL did not start; see $dir/postgres.log"
    fi
    PG_STARTED_PID="$(head -n 1 "$PG_DATA/postmaster.pid")"
    PG_PORT="$port"
    log "private PostgreSQL ready (pid $PG_STARTED_PID)"
}

init_private_cluster() {
    local bindir="$1" major
    major="$(basename "$(dirname "$bindir")")"
    if [ -f "$PG_DATA/PG_VERSION" ]; then
        [ "$(cat "$PG_DATA/PG_VERSION")" = "$major" ] ||
            die "$PG_DATA holds PostgreSQL $(cat "$PG_DATA/PG_VERSION") data, not $major; remove it"
        if [ -f "$PG_DATA/postmaster.pid" ] &&
            pid_alive "$(head -n 1 "$PG_DATA/postmaster.pid")"; then
            die "a PostgreSQL from an earlier run still uses $PG_DATA on another port;" \
                "stop it with: $bindir/pg_ctl -D $PG_DATA stop"
        fi
        return 0
    fi
    log "initdb $PG_DATA"
    as_pg_owner "$bindir/initdb" -D "$PG_DATA" --auth=trust -U postgres \
        -E UTF8 --no-locale >"$STATE_DIR/pg/initdb.log" 2>&1 || {
        cat "$STATE_DIR/pg/initdb.log" >&2
        die "initdb failed"
    }
}

stop_private_postgres() {
    [ -n "$PG_STARTED_PID" ] || return 0
    # Only the postmaster we started: its PID must still own our data directory.
    if [ "$(head -n 1 "$PG_DATA/postmaster.pid" 2>/dev/null)" = "$PG_STARTED_PID" ]; then
        stop_pid "private PostgreSQL" "$PG_STARTED_PID" INT 30
    fi
    PG_STARTED_PID=""
}

# Creates database $1 when missing and applies migrations/0*.sql, then seed.sql.
migrate_database() {
    local db="$1" f
    if [ -z "$(pg_admin "$PG_PORT" postgres -tAc "select 1 from pg_database where datname = '$db'")" ]; then
        log "creating database $db"
        pg_admin "$PG_PORT" postgres -c "create database \"$db\""
    fi
    for f in "$REPO_ROOT"/migrations/0*.sql "$REPO_ROOT/migrations/seed.sql"; do
        log "applying ${f#"$REPO_ROOT"/} to $db"
        pg_admin "$PG_PORT" "$db" -f "$f" >/dev/null
    done
}

# ---------------------------------------------------------------------------
# Redis

redis_pong() {
    [ "$(timeout 3 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
}

ensure_redis() {
    local port="$REDIS_PORT"
    if redis_pong "$port"; then
        log "using the Redis on 127.0.0.1:$port"
        return 0
    fi
    if port_listening "$port"; then
        local free
        free="$(next_free_port "$port")"
        warn "127.0.0.1:$port is taken by something that does not answer PING;" \
            "starting a private Redis on port $free instead"
        port="$free"
    fi
    start_private_redis "$port"
}

start_private_redis() {
    local port="$1" pidfile="$STATE_DIR/redis.pid"
    ensure_state_dir
    rm -f "$pidfile"
    log "starting a private Redis on 127.0.0.1:$port (log $STATE_DIR/redis.log)"
    redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --save '' \
        --appendonly no --dir "$STATE_DIR" --pidfile "$pidfile" \
        --logfile "$STATE_DIR/redis.log"
    if ! wait_for "$WAIT_SECS" "Redis on port $port" redis_pong "$port"; then
        tail -n 20 "$STATE_DIR/redis.log" >&2 || true
        die "private Redis did not start; see $STATE_DIR/redis.log"
    fi
    wait_for 10 "$pidfile" test -s "$pidfile" || die "Redis wrote no $pidfile"
    REDIS_STARTED_PID="$(cat "$pidfile")"
    REDIS_PORT="$port"
    log "private Redis ready (pid $REDIS_STARTED_PID)"
}

stop_private_redis() {
    [ -n "$REDIS_STARTED_PID" ] || return 0
    # Only the server we started: its PID must still be in our pidfile.
    [ "$(cat "$STATE_DIR/redis.pid" 2>/dev/null)" = "$REDIS_STARTED_PID" ] &&
        stop_pid "private Redis" "$REDIS_STARTED_PID" TERM 15
    REDIS_STARTED_PID=""
}

stop_private_servers() {
    stop_private_redis || true
    stop_private_postgres || true
}

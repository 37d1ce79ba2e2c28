#!/usr/bin/env bash
#
# Brings up the whole Switchyard stack on this machine, with no manual step, and
# is safe to run again:
#   1. apt-installs what is missing (cmake, pkg-config, build-essential,
#      postgresql, redis-server, curl; cargo/rustc when there is no cargo) and
#      checks cargo against the workspace's rust-version;
#   2. uses the PostgreSQL and Redis on their ports when they are usable, else
#      starts private ones;
#   3. creates database `switchyard`, applies migrations/0*.sql and seed.sql;
#   4. cargo build --release --bins;
#   5. starts the sample legacy app (sample-upstream) and a booking worker
#      (`switchyard worker`, so bookings reach a final status) in the
#      background, prints a few curl commands to try, and runs `switchyard run`
#      in the foreground.
# Ctrl-C (or SIGTERM to this script) stops switchyard, the worker, the sample app and any
# private PostgreSQL/Redis this run started, by PID, and nothing else. (When a
# non-interactive shell starts this script in the background, bash makes it
# ignore SIGINT; stop it with SIGTERM then.)
# Arguments are passed on to `switchyard run` (e.g. --conf FILE, --routes FILE).
#
# Environment knobs:
#   SWITCHYARD_LISTEN       public listener                      (default 0.0.0.0:8080)
#   SWITCHYARD_SAMPLE_PORT  port of the sample legacy app        (default 3000)
#   SWITCHYARD_PG_PORT      PostgreSQL port to use or start on   (default 5432)
#   SWITCHYARD_REDIS_PORT   Redis port to use or start on        (default 6379)
#   SWITCHYARD_STATE_DIR    data, logs and PIDs of what this starts
#                           (default /tmp/switchyard-$(id -u))
#   SWITCHYARD_WAIT_SECS    how long to wait for a server to start (default 60)
set -euo pipefail

# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

LISTEN="${SWITCHYARD_LISTEN:-0.0.0.0:8080}"
SAMPLE_PORT="${SWITCHYARD_SAMPLE_PORT:-3000}"
BIN_DIR="$REPO_ROOT/target/release"
SAMPLE_PID=""
WORKER_PID=""
EDGE_PID=""

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid switchyard "$EDGE_PID" INT 20
    stop_pid "switchyard worker" "$WORKER_PID" TERM 30
    stop_pid sample-upstream "$SAMPLE_PID" TERM 10
    stop_private_servers
    exit "$rc"
}

# The edge's read-only role must reach the seeded tables without a password.
check_edge_role() {
    psql_nopass "postgres://switchyard_edge@127.0.0.1:$PG_PORT/switchyard" \
        -tAc 'select count(*) from events' >/dev/null ||
        die "role switchyard_edge cannot read database switchyard on port $PG_PORT" \
            "without a password; allow it trust auth in pg_hba.conf"
}

# The sample app either listens or has died.
sample_settled() {
    port_listening "$SAMPLE_PORT" || ! pid_alive "$SAMPLE_PID"
}

start_sample_upstream() {
    if port_listening "$SAMPLE_PORT"; then
        die "127.0.0.1:$SAMPLE_PORT is already taken (an earlier stack.sh still running?);" \
            "stop that or set SWITCHYARD_SAMPLE_PORT"
    fi
    ensure_state_dir
    log "starting sample-upstream on 127.0.0.1:$SAMPLE_PORT (log $STATE_DIR/sample-upstream.log)"
    "$BIN_DIR/sample-upstream" --listen "127.0.0.1:$SAMPLE_PORT" \
        >"$STATE_DIR/sample-upstream.log" 2>&1 &
    SAMPLE_PID=$!
    wait_for "$WAIT_SECS" "sample-upstream" sample_settled || true
    if ! pid_alive "$SAMPLE_PID" || ! port_listening "$SAMPLE_PORT"; then
        cat "$STATE_DIR/sample-upstream.log" >&2 || true
        die "sample-upstream did not start"
    fi
}

# The booking worker, writing as the database owner (the edge's role only reads).
start_worker() {
    ensure_state_dir
    log "starting switchyard worker (log $STATE_DIR/worker.log)"
    WORKER_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/switchyard" \
        REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
        "$BIN_DIR/switchyard" worker --queue "${SWITCHYARD_BOOKINGS_QUEUE:-bookings}" \
        >"$STATE_DIR/worker.log" 2>&1 &
    WORKER_PID=$!
}

# http://HOST:PORT that reaches the listener from this machine.
local_base_url() {
    local host="${LISTEN%:*}"
    case "$host" in
        "" | 0.0.0.0 | "[::]" | "*") host=127.0.0.1 ;;
    esac
    echo "http://$host:${LISTEN##*:}"
}

print_try_it() {
    local base
    base="$(local_base_url)"
    cat <<TRY

Switchyard is starting on $LISTEN (legacy app: 127.0.0.1:$SAMPLE_PORT,
PostgreSQL: 127.0.0.1:$PG_PORT, Redis: 127.0.0.1:$REDIS_PORT). Try it:

  curl -s $base/api/events
  curl -s $base/api/events/1
  curl -s -X POST $base/api/bookings -H 'content-type: application/json' \\
       -d '{"event_id":3,"quantity":1,"user_ref":"fan-1"}'
  curl -s $base/api/bookings/BOOKING_ID    # the booking_id from the 202 above
  curl -s "$base/api/bookings/BOOKING_ID?wait=10"   # waits for the worker's outcome
  curl -si $base/cookies                   # passed through: two Set-Cookie lines
  curl -s $base/admin
  curl -s -X POST $base/echo -d hi
  $BIN_DIR/switchyard check routes.toml
  curl -s http://${SWITCHYARD_ADMIN_LISTEN:-127.0.0.1:9180}/readyz     # admin listener

Ctrl-C stops everything this script started.

TRY
}

run_edge() {
    local port="${LISTEN##*:}"
    if port_listening "$port"; then
        die "port $port of $LISTEN is already taken; stop that or set SWITCHYARD_LISTEN"
    fi
    # In the background with `wait`, so that a signal to this script runs the
    # trap at once instead of after switchyard exits.
    DATABASE_URL="postgres://switchyard_edge@127.0.0.1:$PG_PORT/switchyard" \
        REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
        SWITCHYARD_UPSTREAM="127.0.0.1:$SAMPLE_PORT" \
        SWITCHYARD_LISTEN="$LISTEN" \
        "$BIN_DIR/switchyard" run "$@" &
    EDGE_PID=$!
    local rc=0
    wait "$EDGE_PID" || rc=$?
    EDGE_PID=""
    log "switchyard exited with status $rc"
    return "$rc"
}

main() {
    cd "$REPO_ROOT"
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    ensure_packages
    ensure_rust
    ensure_postgres
    ensure_redis
    migrate_database switchyard
    check_edge_role

    log "cargo build --release --bins"
    cargo build --release --bins

    start_sample_upstream
    start_worker
    print_try_it
    run_edge "$@"
}

main "$@"

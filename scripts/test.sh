#!/usr/bin/env bash
#
# Runs the whole check and test suite, the same way on a fresh Debian/Ubuntu
# machine and in CI:
#   1. apt-installs what is missing (cmake, pkg-config, build-essential,
#      postgresql, redis-server, curl, ruby-sidekiq, ruby-pg; cargo/rustc when
#      there is no cargo) and
#      checks cargo against the workspace's rust-version;
#   2. uses the PostgreSQL and Redis on their ports when they are usable, else
#      starts private ones (stopped again when this script exits);
#   3. cargo fmt --check, cargo clippy -D warnings, cargo build --bins, and
#      cargo test, with SWITCHYARD_TEST_DATABASE_URL and REDIS_URL pointing at
#      the servers in use.
# Stops at the first failing step; the exit code is that step's (cargo's).
# Private servers are stopped on exit, also after Ctrl-C or SIGTERM (a SIGTERM
# sent to this script alone takes effect once the running cargo step ends).
# Runs from any directory.
#
# Environment knobs (see scripts/lib/common.sh):
#   SWITCHYARD_PG_PORT     PostgreSQL port to use or start on     (default 5432)
#   SWITCHYARD_REDIS_PORT  Redis port to use or start on          (default 6379)
#   SWITCHYARD_STATE_DIR   data, logs and PIDs of private servers
#                          (default /tmp/switchyard-$(id -u))
#   SWITCHYARD_WAIT_SECS   how long to wait for a server to start (default 60)
set -euo pipefail

# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    stop_private_servers
    exit "$rc"
}

run_step() {
    log "$*"
    "$@"
}

main() {
    cd "$REPO_ROOT"
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    ensure_packages
    ensure_rust
    ensure_rust_lints
    ensure_postgres
    ensure_redis

    export SWITCHYARD_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
    export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
    log "SWITCHYARD_TEST_DATABASE_URL=$SWITCHYARD_TEST_DATABASE_URL"
    log "REDIS_URL=$REDIS_URL"

    run_step cargo fmt --all -- --check
    run_step cargo clippy --workspace --all-targets -- -D warnings
    run_step cargo build --workspace --bins
    run_step cargo test --workspace
}

main "$@"

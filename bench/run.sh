#!/usr/bin/env bash
#
# Runs the benchmark suite and writes bench/RESULTS.md (and bench/spike.png).
#
#   ./bench/run.sh
#
# Everything runs on loopback, on this machine, side by side in one run:
#   1. pass-through: the edge vs nginx (proxy_pass, upstream keep-alive, the same
#      forwarding headers) in front of the same static nginx upstream;
#   2. native catalog read: GET /api/events/{id} uncached and cached, vs nginx
#      serving a fixed 200 of the same bytes, vs the read passed through to the
#      sample legacy app;
#   3. booking accept: POST /bench/bookings at rising concurrency vs redis-benchmark
#      sending the edge's own enqueue command (captured with MONITOR) to the same Redis;
#   4. on-sale spike: virtual fans load the event, book, and wait for the outcome
#      while `switchyard worker` drains the queue (bench/loadgen);
#   5. connections: 10,000 keep-alive clients at once, edge vs nginx.
#
# The server under test (the edge or nginx) is pinned to CPU 0 and the load
# generators, upstreams and Redis to CPU 1, so the two proxies get the same core;
# the spike runs unpinned, on the whole machine.
#
# It apt-installs what is missing (wrk, nginx-light, gnuplot-nox, redis-tools and
# the stack's packages), uses the PostgreSQL on 127.0.0.1:5432 when usable (else a
# private one), always starts a private Redis (it is flushed between runs), builds
# the release binaries, and stops, by PID, everything it started.
#
# Environment knobs:
#   BENCH_SECONDS      length of each measured run           (default 10)
#   BENCH_CONNECTIONS  wrk connections for scenarios 1 and 2 (default 64)
#   BENCH_SPIKE_FANS   virtual fans in the spike             (default 10000)
#   BENCH_OUTPUT       where RESULTS.md and spike.png go     (default bench/)
#   SWITCHYARD_STATE_DIR  logs, configs and raw outputs
#                         (default /tmp/switchyard-bench-$(id -u))
set -euo pipefail

: "${SWITCHYARD_STATE_DIR:=/tmp/switchyard-bench-$(id -u)}"
export SWITCHYARD_STATE_DIR
# shellcheck source=scripts/lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
# shellcheck source=bench/lib/measure.sh
. "$REPO_ROOT/bench/lib/measure.sh"
# shellcheck source=bench/lib/report.sh
. "$REPO_ROOT/bench/lib/report.sh"

SECONDS_PER_RUN="${BENCH_SECONDS:-10}"
CONNECTIONS="${BENCH_CONNECTIONS:-64}"
SPIKE_FANS="${BENCH_SPIKE_FANS:-10000}"
OUTPUT="${BENCH_OUTPUT:-$REPO_ROOT/bench}"
BIN="$REPO_ROOT/target/release"
WORK="$STATE_DIR/bench"
DB=switchyard_bench

# PIDs of what this run started.
EDGE_PID=""
SAMPLE_PID=""
NGINX_PROXY_PID=""
NGINX_FAST_PID=""
WORKER_PID=""
LOAD_PID=""

# Rows of the results: scenario, label, rps, p50, p99, cpu µs/req, peak RSS MB, notes.
ROWS=""
# The exact commands, as run.
COMMANDS=""

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pid "load generator" "$LOAD_PID" TERM 5
    stop_pid "switchyard worker" "$WORKER_PID" TERM 30
    stop_pid switchyard "$EDGE_PID" INT 20
    stop_pid "nginx (proxy)" "$NGINX_PROXY_PID" TERM 10
    stop_pid "nginx (upstream)" "$NGINX_FAST_PID" TERM 10
    stop_pid sample-upstream "$SAMPLE_PID" TERM 10
    stop_private_servers
    exit "$rc"
}

ensure_bench_packages() {
    local missing=()
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
    [ -x /usr/sbin/nginx ] || missing+=(nginx-light)
    command -v gnuplot >/dev/null 2>&1 || missing+=(gnuplot-nox)
    command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
    command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
    command -v pgrep >/dev/null 2>&1 || missing+=(procps)
    if [ "${#missing[@]}" -gt 0 ]; then
        apt_install "${missing[@]}"
    fi
}

# A fresh database, so every run starts from the same seats.
fresh_database() {
    pg_admin "$PG_PORT" postgres -c "drop database if exists $DB with (force)" >/dev/null
    migrate_database "$DB"
}

flush_redis() {
    redis-cli -p "$REDIS_PORT" flushall >/dev/null
}

# ---------------------------------------------------------------------------
# Servers

# Starts "$@" in the background on CPU $1 with its output in $WORK/$2.log; sets LAST_PID.
spawn_on() {
    local cpu="$1" name="$2"
    shift 2
    taskset -c "$cpu" "$@" >"$WORK/$name.log" 2>&1 &
    LAST_PID=$!
}

wait_port() {
    local port="$1" name="$2" pid="$3"
    wait_for "$WAIT_SECS" "$name on port $port" port_listening "$port" || {
        tail -n 20 "$WORK/$name.log" >&2 || true
        die "$name (pid $pid) did not start listening on 127.0.0.1:$port"
    }
}

# The top of an nginx.conf in directory $1: one worker, room for 10,000 connections.
nginx_preamble() {
    cat <<CONF
worker_processes 1;
error_log $1/logs/error.log warn;
pid $1/nginx.pid;
worker_rlimit_nofile 20000;
events { worker_connections 20000; }
CONF
}

# Runs nginx with $WORK/$1/nginx.conf on CPU $2 until it listens on port $3; sets LAST_PID.
run_nginx() {
    local dir="$WORK/$1"
    spawn_on "$2" "$1" /usr/sbin/nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;'
    wait_port "$3" "$1" "$LAST_PID"
}

start_nginx_fast() {
    local dir="$WORK/nginx-fast"
    mkdir -p "$dir/logs"
    # A body of the size of a small JSON API answer.
    head -c 256 /dev/zero | tr '\0' 'x' >"$dir/body"
    {
        nginx_preamble "$dir"
        cat <<CONF
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$FAST_PORT backlog=4096;
        location / { default_type application/json; root $dir; try_files /body =404; }
    }
}
CONF
    } >"$dir/nginx.conf"
    run_nginx nginx-fast 1 "$FAST_PORT"
    NGINX_FAST_PID=$LAST_PID
}

# nginx as the alternative proxy: the same forwarding headers as the edge, an access
# log line per request, upstream keep-alive, and the fixed event body for scenario 2.
start_nginx_proxy() {
    local dir="$WORK/nginx-proxy"
    mkdir -p "$dir/logs"
    {
        nginx_preamble "$dir"
        cat <<CONF
http {
    access_log $dir/logs/access.log;
    keepalive_requests 1000000;
    upstream fast {
        server 127.0.0.1:$FAST_PORT;
        keepalive 256;
    }
    server {
        listen 127.0.0.1:$NGINX_PORT backlog=4096;
        location / {
            proxy_pass http://fast;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$host;
            proxy_set_header X-Request-Id \$request_id;
            add_header X-Request-Id \$request_id;
            add_header X-Served-By upstream;
        }
        location = /fixed/event {
            default_type application/json;
            add_header X-Request-Id \$request_id;
            root $dir;
            try_files /event.json =404;
        }
    }
}
CONF
    } >"$dir/nginx.conf"
    run_nginx nginx-proxy 0 "$NGINX_PORT"
    NGINX_PROXY_PID=$LAST_PID
}

start_sample() {
    spawn_on 1 sample-upstream "$BIN/sample-upstream" --listen "127.0.0.1:$SAMPLE_PORT"
    SAMPLE_PID=$LAST_PID
    wait_port "$SAMPLE_PORT" sample-upstream "$SAMPLE_PID"
}

# start_edge CPUS THREADS: the edge on CPUS with THREADS worker threads.
start_edge() {
    local cpus="$1" threads="$2"
    # The shipped settings, with this run's pid file, upgrade socket and thread count.
    sed -e "s|^pid_file:.*|pid_file: $WORK/switchyard.pid|" \
        -e "s|^upgrade_sock:.*|upgrade_sock: $WORK/switchyard_upgrade.sock|" \
        -e "s|^threads:.*|threads: $threads|" \
        -e "s|^grace_period_seconds:.*|grace_period_seconds: 1|" \
        -e "s|^graceful_shutdown_timeout_seconds:.*|graceful_shutdown_timeout_seconds: 1|" \
        "$REPO_ROOT/conf/switchyard.yaml" >"$WORK/switchyard.yaml"
    BENCH_EDGE_LISTEN="127.0.0.1:$EDGE_PORT" \
        BENCH_EDGE_ADMIN="127.0.0.1:$EDGE_ADMIN_PORT" \
        BENCH_DATABASE_URL="postgres://switchyard_edge@127.0.0.1:$PG_PORT/$DB" \
        BENCH_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
        BENCH_FAST_UPSTREAM="127.0.0.1:$FAST_PORT" \
        BENCH_LEGACY_UPSTREAM="127.0.0.1:$SAMPLE_PORT" \
        spawn_on "$cpus" "switchyard-$threads-threads" "$BIN/switchyard" run \
        --routes "$REPO_ROOT/bench/routes.toml" --conf "$WORK/switchyard.yaml"
    EDGE_PID=$LAST_PID
    wait_port "$EDGE_PORT" "switchyard-$threads-threads" "$EDGE_PID"
}

# A fast stop: the grace period would only make the run longer.
stop_edge() {
    stop_pid switchyard "$EDGE_PID" INT 20
    EDGE_PID=""
}

start_worker() {
    WORKER_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/$DB" \
        REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" \
        spawn_on 0-1 worker "$BIN/switchyard" worker --queue bench
    WORKER_PID=$LAST_PID
}

# ---------------------------------------------------------------------------
# Measuring

# measure SCENARIO LABEL PIDS -- COMMAND...: runs the load COMMAND (its output in
# $WORK/<scenario>-<label>.txt) while watching PIDS (space-separated), and leaves
# RUN_OUT, RUN_CPU_TICKS and RUN_PEAK_KB for the caller.
measure() {
    local scenario="$1" label="$2" pids="$3"
    shift 4
    RUN_OUT="$WORK/$scenario-${label// /_}.txt"
    # shellcheck disable=SC2086 # PIDS is a list.
    {
        reset_peak $pids
        local before
        before="$(cpu_ticks $pids)"
        log "$scenario / $label: $*"
        # In the background with `wait`, so a signal to this script is handled at once.
        "$@" >"$RUN_OUT" 2>&1 &
        LOAD_PID=$!
        local rc=0
        wait "$LOAD_PID" || rc=$?
        LOAD_PID=""
        if [ "$rc" -ne 0 ] && ! tolerated_failure "$scenario" "$rc"; then
            tail -n 20 "$RUN_OUT" >&2 || true
            die "$scenario / $label: the load command failed (exit $rc); see $RUN_OUT"
        fi
        RUN_CPU_TICKS=$(($(cpu_ticks $pids) - before))
        RUN_PEAK_KB="$(peak_rss_kb $pids)"
    }
    COMMANDS+="$(printf '%q ' "$@")"$'\n'
}

# The spike's load generator exits 1 when a booking was lost or a request failed: that
# is a result to report, not a broken run.
tolerated_failure() { [ "$1" = spike ] && [ "$2" -eq 1 ]; }

# Appends a result row from a wrk run; $1 scenario, $2 label, $3 what the row is.
wrk_row() {
    local rps requests p50 p99 errors cpu_us
    rps="$(wrk_field "$RUN_OUT" rps)"
    requests="$(wrk_field "$RUN_OUT" requests)"
    p50="$(wrk_field "$RUN_OUT" p50)"
    p99="$(wrk_field "$RUN_OUT" p99)"
    errors="$(wrk_field "$RUN_OUT" errors)"
    cpu_us="$(per_request_us "$RUN_CPU_TICKS" "${requests:-0}")"
    add_row "$1" "$2" "${rps:-0}" "$p50" "$p99" "$cpu_us" "$(mb "$RUN_PEAK_KB")" "errors: ${errors:-?}"
}

per_request_us() {
    awk -v t="$1" -v n="$2" -v hz="$CLK_TCK" 'BEGIN {
        if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "-" }'
}

mb() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }

add_row() {
    local IFS=$'\t'
    ROWS+="$*"$'\n'
}

# The rps of row ($1, $2).
rps_of() {
    printf '%s' "$ROWS" | awk -F'\t' -v s="$1" -v l="$2" '$1 == s && $2 == l { print $3 }'
}

field_of() {
    printf '%s' "$ROWS" | awk -F'\t' -v s="$1" -v l="$2" -v f="$3" '$1 == s && $2 == l { print $f }'
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else print "-" }'; }

run_wrk() {
    local scenario="$1" label="$2" pids="$3" connections="$4" url="$5"
    shift 5
    measure "$scenario" "$label" "$pids" -- taskset -c 1 wrk -t 1 -c "$connections" \
        -d "${SECONDS_PER_RUN}s" --latency "$@" "$url"
    wrk_row "$scenario" "$label"
}

# A short unmeasured run, so pools, caches and page tables are warm.
warm_up() {
    taskset -c 1 wrk -t 1 -c "$CONNECTIONS" -d 2s "$@" >/dev/null 2>&1 || true
}

# ---------------------------------------------------------------------------
# Scenarios

scenario_pass_through() {
    local edge="http://127.0.0.1:$EDGE_PORT/pass/through" nginx="http://127.0.0.1:$NGINX_PORT/pass/through"
    warm_up "$edge"
    warm_up "$nginx"
    run_wrk pass-through "switchyard" "$EDGE_PID" "$CONNECTIONS" "$edge"
    run_wrk pass-through "nginx" "$(family "$NGINX_PROXY_PID" | xargs)" "$CONNECTIONS" "$nginx"
}

scenario_catalog() {
    local edge="http://127.0.0.1:$EDGE_PORT"
    # nginx's fixed answer is the edge's own rendering of the event, byte for byte.
    curl -fsS "$edge/uncached/events/2" >"$WORK/nginx-proxy/event.json"
    warm_up "$edge/uncached/events/2"
    warm_up "$edge/api/events/2"
    warm_up "http://127.0.0.1:$NGINX_PORT/fixed/event"
    run_wrk catalog "switchyard uncached" "$EDGE_PID" "$CONNECTIONS" "$edge/uncached/events/2"
    run_wrk catalog "switchyard cached" "$EDGE_PID" "$CONNECTIONS" "$edge/api/events/2"
    run_wrk catalog "nginx fixed 200" "$(family "$NGINX_PROXY_PID" | xargs)" "$CONNECTIONS" \
        "http://127.0.0.1:$NGINX_PORT/fixed/event"
    run_wrk catalog "passed through to the legacy app" "$EDGE_PID $SAMPLE_PID" "$CONNECTIONS" \
        "$edge/api/events/2" -H "Host: legacy.bench"
}

# The enqueue command the edge sends for one booking, as redis-benchmark arguments
# (one per line), read off Redis with MONITOR. The record key gets __rand_int__ so
# every command writes its own record, as every booking does.
capture_enqueue_command() {
    local monitor_pid line
    redis-cli -p "$REDIS_PORT" monitor >"$WORK/monitor.txt" &
    monitor_pid=$!
    sleep 0.5
    curl -fsS -X POST "http://127.0.0.1:$EDGE_PORT/bench/bookings" \
        -H 'content-type: application/json' \
        -d '{"event_id":5,"quantity":2,"user_ref":"fan-0"}' >/dev/null
    sleep 0.5
    kill "$monitor_pid" 2>/dev/null || true
    wait "$monitor_pid" 2>/dev/null || true
    line="$(grep -m 1 -E '"(EVALSHA|evalsha)"' "$WORK/monitor.txt")" ||
        die "no EVALSHA seen in $WORK/monitor.txt"
    # MONITOR prints each argument as a double-quoted string with C escapes.
    local args=()
    eval "args=(${line#*] })"
    args[5]="booking:__rand_int__"
    printf '%s\n' "${args[@]}"
}

scenario_booking_accept() {
    local command=() concurrency
    flush_redis
    # Through a file: `die` in a process substitution would not stop this script.
    capture_enqueue_command >"$WORK/enqueue-command.txt"
    mapfile -t command <"$WORK/enqueue-command.txt"
    [ "${#command[@]}" -gt 4 ] || die "could not read the edge's enqueue command from MONITOR"
    for concurrency in 16 64 256; do
        flush_redis
        measure booking-accept "switchyard c=$concurrency" "$EDGE_PID" -- taskset -c 1 wrk -t 1 \
            -c "$concurrency" -d "${SECONDS_PER_RUN}s" --latency -s "$REPO_ROOT/bench/booking.lua" \
            "http://127.0.0.1:$EDGE_PORT"
        wrk_row booking-accept "switchyard c=$concurrency"
        flush_redis
        redis_benchmark_row "$concurrency" "${command[@]}"
    done
    flush_redis
}

# redis-benchmark in the edge's place (on CPU 0), with the same commands.
redis_benchmark_row() {
    local concurrency="$1" requests
    shift
    requests=$((20000 * SECONDS_PER_RUN))
    measure booking-accept "redis-benchmark c=$concurrency" "$REDIS_STARTED_PID" -- \
        taskset -c 0 redis-benchmark -p "$REDIS_PORT" -c "$concurrency" -n "$requests" \
        -r 100000000000 --csv "$@"
    # CSV: "test","rps","avg","min","p50","p95","p99","max" (latencies in ms); the
    # test name holds the command with its quotes, so fields are counted from the end.
    local rps p50 p99
    rps="$(csv_from_end "$RUN_OUT" 6 | awk '{ printf "%.0f", $1 }')"
    p50="$(csv_from_end "$RUN_OUT" 3)"
    p99="$(csv_from_end "$RUN_OUT" 1)"
    add_row booking-accept "redis-benchmark c=$concurrency" "${rps:-0}" "${p50:--}" "${p99:--}" \
        "$(per_request_us "$RUN_CPU_TICKS" "$requests") (Redis)" "$(mb "$RUN_PEAK_KB") (Redis)" \
        "same EVALSHA as the edge"
}

# Field $2 counted back from the last (0) of the second line of redis-benchmark's CSV.
csv_from_end() {
    awk -F'","' -v back="$2" 'NR == 2 { v = $(NF - back); gsub(/"/, "", v); print v }' "$1"
}

scenario_spike() {
    flush_redis
    fresh_database
    # The whole machine and the shipped thread count, as in production.
    stop_edge
    start_edge 0-1 "$(awk '/^threads:/ { print $2 }' "$REPO_ROOT/conf/switchyard.yaml")"
    taskset -a -p -c 0-1 "$REDIS_STARTED_PID" >/dev/null
    start_worker
    local out="$WORK/spike"
    rm -rf "$out"
    measure spike "switchyard" "$EDGE_PID" -- "$BIN/switchyard-loadgen" spike \
        --base-url "http://127.0.0.1:$EDGE_PORT" --clients "$SPIKE_FANS" --ramp 5s \
        --event-id 1 --out "$out"
    SPIKE_CPU_TICKS=$RUN_CPU_TICKS
    SPIKE_PEAK_KB=$RUN_PEAK_KB
    stop_pid "switchyard worker" "$WORKER_PID" TERM 30
    WORKER_PID=""
    SEATS_SOLD="$(pg_admin "$PG_PORT" "$DB" -tAc \
        "select coalesce(sum(quantity), 0) from bookings where event_id = 1 and status = 'confirmed'")"
    SEATS_LEFT="$(pg_admin "$PG_PORT" "$DB" -tAc "select seats_available from events where id = 1")"
    cp "$RUN_OUT" "$WORK/spike-report.txt"
    [ -f "$out/timeline.csv" ] || die "the spike wrote no timeline; see $RUN_OUT"
    # The last second is partial; as a rate it would look like a collapse.
    head -n -1 "$out/timeline.csv" >"$out/timeline-full-seconds.csv"
    gnuplot -e "input='$out/timeline-full-seconds.csv'; output='$OUTPUT/spike.png'" \
        "$REPO_ROOT/bench/spike.gnuplot"
    COMMANDS+="gnuplot -e \"input='timeline.csv'; output='spike.png'\" bench/spike.gnuplot"$'\n'
}

scenario_connections() {
    local held=10000
    run_wrk connections "switchyard cached read" "$EDGE_PID" "$held" \
        "http://127.0.0.1:$EDGE_PORT/api/events/2" --timeout 10s
    run_wrk connections "nginx fixed 200" "$(family "$NGINX_PROXY_PID" | xargs)" "$held" \
        "http://127.0.0.1:$NGINX_PORT/fixed/event" --timeout 10s
}

# perf's self-time table of $1 sorted by $2, rows at or above $3 percent.
perf_table() {
    perf report -i "$1" --stdio --no-children --sort "$2" --percent-limit "$3" -g none \
        2>/dev/null | grep -E '^ +[0-9]' | sed -E 's/[[:space:]-]+$//' | head -n 30
}

# One profile of the edge under pass-through load, for where the time goes.
profile_pass_through() {
    command -v perf >/dev/null 2>&1 || {
        PROFILE="(perf is not installed; install linux-perf for a profile)"
        return 0
    }
    local data="$WORK/perf.data"
    taskset -c 1 wrk -t 1 -c "$CONNECTIONS" -d 8s "http://127.0.0.1:$EDGE_PORT/pass/through" \
        >/dev/null 2>&1 &
    local load=$!
    sleep 1
    if perf record -F 999 -g -o "$data" -p "$EDGE_PID" -- sleep 5 >/dev/null 2>&1; then
        PROFILE="$(perf_table "$data" dso 1)"$'\n\n'"$(perf_table "$data" dso,symbol 0.8)"
    else
        PROFILE="(perf record failed on this machine)"
    fi
    wait "$load" || true
    COMMANDS+="perf record -F 999 -g -p <edge pid> -- sleep 5   # under the pass-through load"$'\n'
}

# ---------------------------------------------------------------------------

# $2 (the value of setting $1) must be a positive whole number.
positive() {
    [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive whole number, not '$2'"
}

check_settings() {
    positive BENCH_SECONDS "$SECONDS_PER_RUN"
    positive BENCH_CONNECTIONS "$CONNECTIONS"
    positive BENCH_SPIKE_FANS "$SPIKE_FANS"
    [ "$SPIKE_FANS" -le 15000 ] || die "BENCH_SPIKE_FANS over 15000 would run out of file descriptors"
    [ "$(nproc)" -ge 2 ] || die "the benchmark needs two CPUs: one for the server under test, one for the load"
}

main() {
    cd "$REPO_ROOT"
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    check_settings
    ensure_packages
    ensure_bench_packages
    ensure_rust
    ensure_postgres
    # Always a private Redis: the runs flush it.
    start_private_redis "$(next_free_port 16400)"
    taskset -a -p -c 1 "$REDIS_STARTED_PID" >/dev/null
    fresh_database
    # Logs, configs and raw outputs of this run only.
    rm -rf "$WORK"
    mkdir -p "$WORK" "$OUTPUT"
    ulimit -n "$(ulimit -Hn)"

    log "cargo build --release -p switchyard -p switchyard-sample-upstream -p switchyard-loadgen"
    cargo build --release -p switchyard -p switchyard-sample-upstream -p switchyard-loadgen

    FAST_PORT="$(next_free_port 16500)"
    NGINX_PORT="$(next_free_port "$FAST_PORT")"
    SAMPLE_PORT="$(next_free_port "$NGINX_PORT")"
    EDGE_PORT="$(next_free_port "$SAMPLE_PORT")"
    EDGE_ADMIN_PORT="$(next_free_port "$EDGE_PORT")"
    start_nginx_fast
    start_nginx_proxy
    start_sample
    # One core, one worker thread: nginx gets one worker process on the same core.
    start_edge 0 1

    scenario_pass_through
    scenario_catalog
    scenario_booking_accept
    scenario_connections
    profile_pass_through
    scenario_spike

    write_report >"$OUTPUT/RESULTS.md"
    log "wrote $OUTPUT/RESULTS.md"
}

main "$@"

# shellcheck shell=bash
#
# Writes bench/RESULTS.md from what bench/run.sh measured (ROWS, COMMANDS, the
# spike's files, PROFILE); source it, don't run it. Hand-written reading of the
# figures lives in bench/analysis.md and is appended as it is.

write_report() {
    cat <<HEAD
# Benchmark results

Written by \`./bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') at commit
\`$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)\`$(uncommitted_note). Run it
again to replace this file; the reading of the figures is in \`bench/analysis.md\`
(copied at the end).

HEAD
    report_machine
    report_targets
    report_table pass-through "1. Pass-through" \
        "The edge and nginx in front of the same static nginx upstream, $CONNECTIONS keep-alive connections, ${SECONDS_PER_RUN} s."
    report_table catalog "2. Native catalog read" \
        "One event as JSON: the edge's native read uncached (\`/uncached/events/2\`, a PostgreSQL query each time) and through its 1 s micro-cache (\`/api/events/2\`), nginx serving the same bytes from a file (\`/fixed/event\`), and the edge passing \`/api/events/2\` to the sample legacy app (CPU and RSS there are the edge's plus the app's). PostgreSQL is not pinned and its CPU is not counted. $CONNECTIONS connections, ${SECONDS_PER_RUN} s."
    report_table booking-accept "3. Booking accept" \
        "\`POST /bench/bookings\` (validate, enqueue the Sidekiq job and its status record in one script, answer 202) at rising concurrency, and redis-benchmark sending the edge's own EVALSHA (captured with MONITOR) to the same Redis at the same concurrency: the ceiling. For redis-benchmark, CPU and RSS are Redis's. Redis runs on CPU 1, which it shares with wrk in the edge's runs and has to itself in redis-benchmark's (redis-benchmark takes the edge's place on CPU 0): the ceiling is the more generous side."
    report_spike
    report_table connections "5. Connections" \
        "10,000 keep-alive connections opened at once and served for ${SECONDS_PER_RUN} s (wrk, one thread)."
    report_profile
    report_commands
    if [ -f "$REPO_ROOT/bench/analysis.md" ]; then
        echo
        cat "$REPO_ROOT/bench/analysis.md"
    fi
}

# Says so when the tree the binaries were built from differs from its commit (this
# run's own report and chart aside).
uncommitted_note() {
    local changed
    changed="$(git -C "$REPO_ROOT" status --porcelain --untracked-files=no -- . \
        ':!bench/RESULTS.md' ':!bench/spike.png' 2>/dev/null)"
    [ -z "$changed" ] || printf ' with uncommitted changes'
}

report_machine() {
    local cpu cores mem
    cpu="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
    cores="$(nproc)"
    mem="$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    cat <<MACHINE
## Machine

| | |
| --- | --- |
| CPU | ${cpu:-unknown}, $cores cores |
| memory | $mem |
| system | $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"), Linux $(uname -r) |
| rustc | $(rustc --version 2>/dev/null) |
| nginx | $(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //') |
| Redis | $(redis-server --version | awk '{ print $3 }' | sed 's/^v=//') |
| PostgreSQL | $(pg_admin "$PG_PORT" postgres -tAc 'show server_version' 2>/dev/null) |
| wrk | $(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }') |

The server under test (the edge or nginx) runs on CPU 0; wrk, the upstreams and Redis
on CPU 1, so both proxies get one core to themselves. The edge runs the shipped
\`conf/switchyard.yaml\` with \`threads: 1\` (the file's rule is one worker thread per
core; nginx gets one worker process), except in the spike, which runs the file as it is
on both cores. Both write an access log line per request. CPU time per request is the server's user + system time over the run divided
by the requests served; peak RSS is the kernel's high-water mark over the run.

MACHINE
}

# One markdown table of the rows of scenario $1, titled $2, introduced by $3.
report_table() {
    printf '## %s\n\n%s\n\n' "$2" "$3"
    echo '| | requests/s | p50 ms | p99 ms | CPU µs/request | peak RSS MB | notes |'
    echo '| --- | ---: | ---: | ---: | ---: | ---: | --- |'
    printf '%s' "$ROWS" | awk -F'\t' -v s="$1" '$1 == s {
        printf "| %s | %s | %s | %s | %s | %s | %s |\n", $2, $3, $4, $5, $6, $7, $8 }'
    echo
}

# target row: what, measured, goal, met
target_row() {
    local met=no
    if ! [[ "$2" =~ ^[0-9.]+$ ]]; then
        printf '| %s | no figure | %s %s | no |\n' "$1" "$4" "$3"
        return 0
    fi
    awk -v m="$2" -v g="$3" -v dir="$4" 'BEGIN {
        exit !((dir == ">=" && m + 0 >= g + 0) || (dir == "<=" && m + 0 <= g + 0)) }' && met=yes
    printf '| %s | %s | %s %s | %s |\n' "$1" "$2" "$4" "$3" "$met"
}

report_targets() {
    echo '## Targets'
    echo
    echo '| target | measured | goal | met |'
    echo '| --- | ---: | ---: | --- |'
    target_row "pass-through requests/s, edge / nginx" \
        "$(ratio "$(rps_of pass-through switchyard)" "$(rps_of pass-through nginx)")" 0.6 ">="
    target_row "pass-through p99, edge / nginx" \
        "$(ratio "$(field_of pass-through switchyard 5)" "$(field_of pass-through nginx 5)")" 2 "<="
    target_row "cached read requests/s, edge / nginx fixed 200" \
        "$(ratio "$(rps_of catalog "switchyard cached")" "$(rps_of catalog "nginx fixed 200")")" 0.6 ">="
    local c
    for c in 16 64 256; do
        target_row "booking accept requests/s at c=$c, edge / redis-benchmark" \
            "$(ratio "$(rps_of booking-accept "switchyard c=$c")" \
                "$(rps_of booking-accept "redis-benchmark c=$c")")" 0.5 ">="
    done
    target_row "spike: lost bookings" "$(spike_figure lost)" 0 "<="
    target_row "spike: errors besides admission 503s" "$(spike_figure errors)" 0 "<="
    echo
    echo "Other ratios: uncached read / nginx fixed 200:" \
        "$(ratio "$(rps_of catalog "switchyard uncached")" "$(rps_of catalog "nginx fixed 200")");" \
        "cached read / the same read passed through to the legacy app:" \
        "$(ratio "$(rps_of catalog "switchyard cached")" \
            "$(rps_of catalog "passed through to the legacy app")");" \
        "10,000 connections, edge / nginx requests/s:" \
        "$(ratio "$(rps_of connections "switchyard cached read")" \
            "$(rps_of connections "nginx fixed 200")")."
    echo
}

# A number from the spike's summary.json (a top-level integer field).
spike_figure() {
    local file="$WORK/spike/summary.json"
    [ -f "$file" ] || {
        echo "-"
        return 0
    }
    grep -oE "\"$1\": *[0-9]+" "$file" | head -n 1 | grep -oE '[0-9]+$' || echo "-"
}

report_spike() {
    local name
    cat <<SPIKE
## 4. On-sale spike

$SPIKE_FANS virtual fans arrive over 5 s. Each loads event 1 (1,250 seats, through
the 1 s micro-cache), posts a booking of 1 to 4 seats with an \`Idempotency-Key\`
(on \`503 overloaded\` it waits for \`Retry-After\`, at most 2 s, and retries the same
key, at most 3 times), then long-polls \`?wait=25\` until the booking is final.
\`switchyard worker\` drains the queue; admission control refuses bookings past
2,000 waiting jobs. Everything shares both cores: the edge (with the shipped two
threads), the fans, the worker, PostgreSQL and Redis.

Seats sold: ${SEATS_SOLD:-?} of 1,250; seats left: ${SEATS_LEFT:-?}.

| outcome | count |
| --- | ---: |
SPIKE
    # Fans by outcome, then the overload answers they retried and the failed requests.
    for name in accepted confirmed rejected expired refused lost errors refused_attempts; do
        printf '| %s | %s |\n' "$name" "$(spike_figure "$name")"
    done
    cat <<SPIKE

Edge CPU over the spike: $(awk -v t="${SPIKE_CPU_TICKS:-0}" -v hz="$CLK_TCK" 'BEGIN { printf "%.1f", t / hz }') s; edge peak RSS: $(mb "${SPIKE_PEAK_KB:-0}") MB.

![Throughput and p99 latency over the spike](spike.png)

The load generator's report:

\`\`\`
$(cat "$WORK/spike-report.txt" 2>/dev/null)
\`\`\`

SPIKE
}

report_profile() {
    cat <<PROFILE
## Where the edge's time goes

\`perf record\` of the edge (on its one core) under the pass-through load, self time:
first by binary (kernel, the edge, libc), then the symbols at or above 0.8% of samples.

\`\`\`
${PROFILE:-(no profile taken)}
\`\`\`

PROFILE
}

report_commands() {
    echo '## Commands, as run'
    echo
    echo "Against the servers \`bench/run.sh\` configures and starts (their configs and logs are"
    echo "in \`\$SWITCHYARD_STATE_DIR/bench\`); the EVALSHA needs the script the edge loads first."
    echo
    echo '```'
    printf '%s' "$COMMANDS"
    echo '```'
}

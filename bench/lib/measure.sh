# shellcheck shell=bash
#
# Measuring a process under load, for bench/run.sh; source it, don't run it.
#
#   family PID             PID and its child processes (nginx's master and workers)
#   cpu_ticks PID...       user + system CPU time so far, in clock ticks, of all threads
#   reset_peak PID...      restarts the kernel's peak-RSS record (VmHWM)
#   peak_rss_kb PID...     sum of the peak RSS since the last reset
#   wrk_field FILE NAME    one figure from a `wrk --latency` report (see below)
#   to_ms VALUE            wrk's "812.00us" / "1.20ms" / "2.01s" as milliseconds

CLK_TCK="$(getconf CLK_TCK)"

family() {
    local pid="$1"
    echo "$pid"
    pgrep -P "$pid" 2>/dev/null || true
}

cpu_ticks() {
    local total=0 pid fields=()
    for pid in "$@"; do
        # After the command name, utime and stime are the 12th and 13th fields.
        read -ra fields <<<"$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null)" || continue
        [ "${#fields[@]}" -gt 12 ] || continue
        total=$((total + fields[11] + fields[12]))
    done
    echo "$total"
}

reset_peak() {
    local pid
    for pid in "$@"; do
        echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true
    done
}

peak_rss_kb() {
    local total=0 pid kb
    for pid in "$@"; do
        kb="$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)"
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

to_ms() {
    # Nothing for a figure wrk did not print, so the report shows it as missing.
    [ -n "$1" ] || return 0
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000
        else if (v ~ /ms$/) n = n
        else if (v ~ /s$/) n *= 1000
        printf "%.2f", n
    }'
}

# NAME: rps, requests, p50, p99 (ms), errors (socket errors plus non-2xx/3xx).
wrk_field() {
    local file="$1" name="$2"
    case "$name" in
        rps) awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$file" ;;
        requests) awk '/requests in/ { print $1 }' "$file" ;;
        p50) to_ms "$(awk '$1 == "50%" { print $2 }' "$file")" ;;
        p99) to_ms "$(awk '$1 == "99%" { print $2 }' "$file")" ;;
        errors)
            awk '
                /Socket errors:/ {
                    for (i = 3; i <= NF; i++) { gsub(/,/, "", $i); if ($i ~ /^[0-9]+$/) n += $i }
                }
                /Non-2xx or 3xx responses:/ { n += $NF }
                END { print n + 0 }' "$file"
            ;;
    esac
}

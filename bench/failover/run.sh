#!/usr/bin/env bash
# bench/failover/run.sh: builds a two-node formation from nothing, with autoctl and with
# pg_auto_failover's pg_autoctl (Debian packages pg-auto-failover-cli and
# postgresql-15-auto-failover) in the same run, and prints the median of N runs per tool, the
# ratio autoctl / pg_auto_failover, and the target.
#
#   bench/failover/run.sh [--runs N] [--only autoctl|pgaf] [--idle-seconds S]
#                         [--autoctl PATH] [--pg-autoctl PATH] [--writer PATH]
#                         [--interval-ms N] [--timeout S] [--keep-logs]
#
# Run as root on Debian 12 (installs the missing Debian packages with apt-get; the tools and
# Postgres run as the unprivileged OS user autoctl-bench, created if missing). Needs the build
# (build/src/cli/autoctl and build/bench/failover/failover_writer: `make build`).
#
# One scenario, the same command lines for both tools (see scripts/lib/formation.sh), per run:
#  1. start -> stable pair: from `create monitor --run` until `show state` lists node1 primary/primary
#     and node2 secondary/secondary. node2 is started as soon as node1 is registered.
#  2. idle window (--idle-seconds, default 60): CPU of the tool's processes on all three nodes plus
#     the monitor's Postgres, from /proc/<pid>/stat (utime+stime+cutime+cstime of every process of
#     the trees, so short-lived children are counted); then the RSS of one data node.
#  3. a writer (failover_writer: a fresh connection per INSERT, multi-host URI from `show uri`,
#     target_session_attrs=read-write) starts; `perform failover --pgdata node1` runs in the
#     background. Measured from just before that command: the first insert acknowledged by the new
#     primary (writable), and `show state` showing the swapped stable pair (settled); the longest
#     gap between two acknowledged inserts around the failover.
#  4. kill -9 of every process of the new primary's node (supervisor, its children, Postgres);
#     measured: the time to the first acknowledged insert after the kill, then, with the writer
#     stopped, the acknowledged ids missing from the table on the surviving node (lost writes).
# A tool whose run fails gets "n/a" for the metrics it could not measure; the other tool goes on.

set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/../../scripts/lib/formation.sh
source "$HERE/../../scripts/lib/formation.sh"

RUNS=3
ONLY=""
IDLE_SECONDS=60
INTERVAL_MS=10
TIMEOUT=180
KEEP_LOGS=0
AUTOCTL_BIN="$FM_REPO_DIR/build/src/cli/autoctl"
PGAF_BIN=""
BENCH_USER=autoctl-bench

usage() {
    sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

while (( $# )); do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --idle-seconds) IDLE_SECONDS=$2; shift 2 ;;
        --autoctl) AUTOCTL_BIN=$2; shift 2 ;;
        --pg-autoctl) PGAF_BIN=$2; shift 2 ;;
        --writer) FM_WRITER_BIN=$2; shift 2 ;;
        --interval-ms) INTERVAL_MS=$2; shift 2 ;;
        --timeout) TIMEOUT=$2; shift 2 ;;
        --keep-logs) KEEP_LOGS=1; shift ;;
        -h|--help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage 1 ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "--runs must be a positive integer" >&2; exit 1; }
[[ "$IDLE_SECONDS" =~ ^[0-9]+$ ]] || { echo "--idle-seconds must be an integer" >&2; exit 1; }
[[ "$TIMEOUT" =~ ^[1-9][0-9]*$ ]] || { echo "--timeout must be a positive integer" >&2; exit 1; }
case "$ONLY" in
    "") TOOLS=(autoctl pgaf) ;;
    autoctl|pgaf) TOOLS=("$ONLY") ;;
    *) echo "--only takes autoctl or pgaf" >&2; exit 1 ;;
esac

# ---------------------------------------------------------------------------------------------
# Environment

want_pgaf=0
for t in "${TOOLS[@]}"; do [[ "$t" == pgaf ]] && want_pgaf=1; done
packages=(postgresql-15 postgresql-client-15 iproute2 util-linux)
(( want_pgaf )) && packages+=(pg-auto-failover-cli postgresql-15-auto-failover)
fm_ensure_packages "${packages[@]}" || fm_warn "some Debian packages could not be installed"
fm_find_pgbin || exit 1
fm_ensure_user "$BENCH_USER" || { echo "cannot create the OS user $BENCH_USER" >&2; exit 1; }

if [[ -z "$PGAF_BIN" ]]; then
    PGAF_BIN=$(command -v pg_autoctl 2>/dev/null || true)
    [[ -z "$PGAF_BIN" && -x "$FM_PGBIN/pg_autoctl" ]] && PGAF_BIN=$FM_PGBIN/pg_autoctl
    [[ -z "$PGAF_BIN" ]] && PGAF_BIN=/usr/bin/pg_autoctl
fi
if [[ ! -x "$FM_WRITER_BIN" && -f "$FM_REPO_DIR/build/CMakeCache.txt" ]]; then
    fm_log "building failover_writer"
    cmake --build "$FM_REPO_DIR/build" --target failover_writer >&2 || true
fi
[[ -x "$FM_WRITER_BIN" ]] || { echo "no writer at $FM_WRITER_BIN (make build)" >&2; exit 1; }

CLK_TCK=$(getconf CLK_TCK)
RESULTS=$(mktemp -d "${TMPDIR:-/tmp}/autoctl-failover-bench.XXXXXX") || exit 1
chmod 755 "$RESULTS"

tool_bin() { if [[ "$1" == autoctl ]]; then echo "$AUTOCTL_BIN"; else echo "$PGAF_BIN"; fi; }

# ---------------------------------------------------------------------------------------------
# Measurements from /proc

# cpu_ticks PID...: utime+stime+cutime+cstime summed over the given processes. Summed over every
# live process of a tree this counts all the CPU the tree ever used (a child's time moves into
# its parent's cutime/cstime when it is reaped), so the difference of two samples is the CPU used
# in between, short-lived processes included.
cpu_ticks() {
    local pid line total=0 f
    for pid in "$@"; do
        { read -r line < "/proc/$pid/stat"; } 2>/dev/null || continue
        line=${line##*) }
        read -r -a f <<<"$line"
        total=$(( total + f[11] + f[12] + f[13] + f[14] ))
    done
    echo "$total"
}

# cpu_sample: prints "tool_ticks monitor_postgres_ticks": the tool = the supervisor trees of the
# three nodes minus their Postgres trees; the monitor's Postgres = the monitor postmaster's tree.
cpu_sample() {
    local n all pg tool=0 monpg=0 pm
    for n in "${FM_NODES[@]}"; do
        mapfile -t all < <(fm_tree "${FM_PID[$n]}")
        pg=()
        if pm=$(fm_postmaster_pid "$n"); then mapfile -t pg < <(fm_tree "$pm"); fi
        tool=$(( tool + $(cpu_ticks "${all[@]}") - $(cpu_ticks "${pg[@]}") ))
        [[ "$n" == monitor ]] && monpg=$(( monpg + $(cpu_ticks "${pg[@]}") ))
    done
    echo "$tool $monpg"
}

# rss_kb NODE [FIELD]: VmRSS (default) or Pss summed over the processes of NODE's supervisor
# tree that run the tool's binary (the supervisor and its service children; Postgres and other
# programs excluded). VmRSS counts the pages shared by those processes (the binary's text, the
# shared libraries) once per process; Pss splits them between the processes sharing them.
rss_kb() {
    local pid exe kb total=0 count=0 field=${2:-VmRSS}
    while read -r pid; do
        exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || continue
        [[ "$exe" == "$FM_TOOL" ]] || continue
        if [[ "$field" == Pss ]]; then
            kb=$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null)
        else
            kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
        fi
        total=$(( total + ${kb:-0} ))
        count=$(( count + 1 ))
    done < <(fm_tree "${FM_PID[$1]}")
    echo "$total $count"
}

# ---------------------------------------------------------------------------------------------
# The scenario, in a subshell per tool and run

metric() {  # metric KEY VALUE: appends to this run's metrics file
    echo "$1 $2" >> "$METRICS"
    fm_log "[$TOOL run $RUN] $1 = $2"
}

scenario() {
    TOOL=$1 RUN=$2
    METRICS="$RESULTS/$TOOL.$RUN.metrics"
    : > "$METRICS"
    FM_KEEP_LOGS=1
    trap fm_cleanup EXIT
    trap 'exit 130' INT TERM

    TMPDIR=$RESULTS fm_init "$(tool_bin "$TOOL")" "$TOOL-run$RUN" || fm_die "$TOOL: cannot set up"
    fm_log "[$TOOL run $RUN] $FM_TOOL, directory $FM_DIR"
    local wlog=$FM_DIR/writer.log

    # 1. start -> stable pair
    local t0 t1
    t0=$(fm_now_us)
    fm_start_formation || fm_die "$TOOL: the formation did not start"
    fm_wait_until "$TIMEOUT" "a stable primary/secondary pair" fm_stable_pair monitor \
        || fm_die "$TOOL: no stable pair"
    t1=$(fm_now_us)
    metric start_stable_s "$(fm_us_to_s $(( t1 - t0 )))"
    local old_primary=$FM_PRIMARY_PORT old_secondary=$FM_SECONDARY_PORT

    # 2. idle: CPU and RSS
    if (( IDLE_SECONDS > 0 )); then
        local a b ta tb
        ta=$(fm_now_us); a=$(cpu_sample)
        sleep "$IDLE_SECONDS"   # the measurement window, on purpose
        tb=$(fm_now_us); b=$(cpu_sample)
        local tool_ticks=$(( ${b% *} - ${a% *} )) mon_ticks=$(( ${b#* } - ${a#* } ))
        local window_us=$(( tb - ta ))
        # percent of one core, 1 decimal: ticks / CLK_TCK / window
        pct() { awk -v t="$1" -v hz="$CLK_TCK" -v us="$window_us" 'BEGIN { printf "%.1f", 100 * t / hz / (us / 1e6) }'; }
        metric cpu_tool_pct "$(pct "$tool_ticks")"
        metric cpu_monitor_pg_pct "$(pct "$mon_ticks")"
        metric cpu_pct "$(pct $(( tool_ticks + mon_ticks )))"
        local r1 r2
        r1=$(rss_kb node1); r2=$(rss_kb node2)
        fm_log "[$TOOL run $RUN] RSS node1: ${r1% *} kB in ${r1#* } processes; node2: ${r2% *} kB in ${r2#* } processes"
        local rmax=${r1% *}
        (( ${r2% *} > rmax )) && rmax=${r2% *}
        metric rss_mb "$(awk -v k="$rmax" 'BEGIN { printf "%.1f", k / 1024 }')"
        local p1 p2
        p1=$(rss_kb node1 Pss); p2=$(rss_kb node2 Pss)
        local pmax=${p1% *}
        (( ${p2% *} > pmax )) && pmax=${p2% *}
        metric pss_mb "$(awk -v k="$pmax" 'BEGIN { printf "%.1f", k / 1024 }')"
    fi

    # 3. planned failover with the writer running
    fm_create_writer_table "$old_primary" || fm_die "$TOOL: cannot create the writer's table"
    local uri
    uri=$(fm_formation_uri node1)
    [[ -n "$uri" ]] || fm_die "$TOOL: show uri --formation default printed nothing"
    fm_log "[$TOOL run $RUN] writer on $uri"
    fm_writer_start "$uri" "$wlog" "$INTERVAL_MS"
    fm_wait_until 60 "the writer's first 20 inserts" fm_writer_acks_at_least "$wlog" 20 \
        || fm_die "$TOOL: the writer does not write (see $wlog.stderr)"

    local tf ts pf_pid pf_rc
    tf=$(fm_now_us)
    fm_start_tool_aux node1 "$FM_DIR/perform-failover.log" perform failover --pgdata "${FM_PGDATA[node1]}"
    pf_pid=$FM_LAST_PID
    if fm_wait_until "$TIMEOUT" "the failover to settle" fm_stable_pair monitor "$old_secondary"; then
        ts=$(fm_now_us)
        metric failover_settled_s "$(fm_us_to_s $(( ts - tf )))"
    else
        ts=""
    fi
    fm_wait_exit "$pf_pid" 120; wait "$pf_pid" 2>/dev/null; pf_rc=$?
    fm_log "[$TOOL run $RUN] perform failover exited with $pf_rc"
    # the first insert acknowledged by the new primary
    local first_new
    first_new_ack() {
        first_new=$(awk -v t="$tf" -v p="$old_secondary" '$3 >= t && $4 == p { print $3; exit }' "$wlog")
        [[ -n "$first_new" ]]
    }
    if fm_wait_until 60 "an insert acknowledged by the new primary" first_new_ack; then
        metric failover_writable_s "$(fm_us_to_s $(( first_new - tf )))"
    fi
    [[ -n "$ts" ]] || fm_die "$TOOL: the planned failover did not settle"
    # keep writing a little after the failover, then the longest gap around it
    local n_now
    n_now=$(fm_writer_acks "$wlog")
    fm_wait_until 60 "20 more inserts" fm_writer_acks_at_least "$wlog" $(( n_now + 20 )) || true
    local gap
    gap=$(awk -v tf="$tf" -v ts="$ts" '
        NR > 1 && $3 >= tf && prev_real <= ts { g = $2 - prev_mono; if (g > max) max = g }
        { prev_mono = $2; prev_real = $3 }
        END { if (max > 0) printf "%d.%03d", max / 1000000, (max % 1000000) / 1000 }' "$wlog")
    [[ -n "$gap" ]] && metric write_gap_s "$gap"

    # 4. kill -9 of the new primary's node
    local victim survivor tk first_after
    victim=$(fm_node_of_port "$old_secondary")
    survivor=$(fm_node_of_port "$old_primary")
    fm_kill9_node "$victim"
    tk=$FM_KILL_US
    fm_log "[$TOOL run $RUN] kill -9 of $victim: $FM_KILLED processes"
    first_after_kill() {
        first_after=$(awk -v t="$tk" '$3 > t { print $3; exit }' "$wlog")
        [[ -n "$first_after" ]]
    }
    if fm_wait_until "$TIMEOUT" "an insert acknowledged after the kill" first_after_kill; then
        metric kill_write_s "$(fm_us_to_s $(( first_after - tk )))"
    else
        fm_writer_stop
        fm_die "$TOOL: no write accepted within ${TIMEOUT}s of the kill"
    fi
    n_now=$(fm_writer_acks "$wlog")
    fm_wait_until 30 "10 more inserts" fm_writer_acks_at_least "$wlog" $(( n_now + 10 )) || true
    fm_writer_stop
    local lost
    lost=$(fm_writer_missing "${FM_PORT[$survivor]}" "$wlog") || fm_die "$TOOL: cannot read the table on $survivor"
    metric lost_writes "$lost"
    fm_log "[$TOOL run $RUN] writer: $(tail -n 1 "$wlog.stderr")"
    fm_log "[$TOOL run $RUN] done"
}

# ---------------------------------------------------------------------------------------------
# Runs, then the table

INTERRUPTED=0
trap 'INTERRUPTED=1' INT TERM
declare -A STATUS=()
for (( run = 1; run <= RUNS; run++ )); do
    for tool in "${TOOLS[@]}"; do
        (( INTERRUPTED )) && break 2
        fm_log "=== $tool, run $run of $RUNS ==="
        ( scenario "$tool" "$run" )
        rc=$?
        STATUS[$tool.$run]=$rc
        (( rc != 0 )) && fm_warn "$tool run $run failed (exit $rc); logs under $RESULTS"
    done
done

# median KEY TOOL: median over the runs that measured KEY ("n/a" when none did)
median() {
    local key=$1 tool=$2 vals=() r v
    for (( r = 1; r <= RUNS; r++ )); do
        v=$(awk -v k="$key" '$1 == k { print $2 }' "$RESULTS/$tool.$r.metrics" 2>/dev/null | tail -n 1)
        [[ -n "$v" ]] && vals+=("$v")
    done
    (( ${#vals[@]} )) || { echo "n/a"; return; }
    printf '%s\n' "${vals[@]}" | sort -g | awk '{ a[NR] = $1 } END {
        m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
        if (m == int(m) && index(a[1], ".") == 0) printf "%d", m
        else if (m < 1) printf "%.3f", m
        else if (m < 10) printf "%.2f", m
        else if (m < 100) printf "%.1f", m
        else printf "%.0f", m }'
    (( ${#vals[@]} < RUNS )) && printf ' (%d/%d)' "${#vals[@]}" "$RUNS"
    echo
}

ratio() {
    local a=${1%% *} b=${2%% *}
    if [[ ! "$a" =~ ^[0-9.]+$ || ! "$b" =~ ^[0-9.]+$ ]]; then echo "-"; return; fi
    awk -v a="$a" -v b="$b" 'BEGIN { if (b == 0) print "-"; else printf "%.2f\n", a / b }'
}

rows=(
    "start_stable_s|start -> stable pair (s)|<= 6"
    "failover_writable_s|planned failover -> new primary writable (s)|<= 0.5"
    "failover_settled_s|planned failover -> settled (s)|<= 1.5"
    "write_gap_s|longest write gap, planned failover (s)|<= 1"
    "kill_write_s|kill -9 primary -> first accepted write (s)|<= 6"
    "lost_writes|lost acknowledged writes|0"
    "rss_mb|RSS of the tool's processes, one data node (MB)|<= 12"
    "pss_mb|  the same as PSS: shared pages split (MB)|"
    "cpu_pct|CPU idle, tool + monitor's Postgres (% of a core)|<= 1"
    "cpu_tool_pct|  of which the tool's processes, 3 nodes (%)|"
    "cpu_monitor_pg_pct|  of which the monitor's Postgres (%)|"
)
has() { local t; for t in "${TOOLS[@]}"; do [[ "$t" == "$1" ]] && return 0; done; return 1; }

{
    echo
    echo "Failover benchmark: median of $RUNS run(s), idle window ${IDLE_SECONDS}s, writer interval ${INTERVAL_MS} ms"
    echo "autoctl: $AUTOCTL_BIN"
    echo "pg_auto_failover: $PGAF_BIN ($("$PGAF_BIN" --version 2>/dev/null | head -n 1 || echo 'not installed'))"
    echo
    printf '%-52s | %12s | %16s | %6s | %s\n' "metric" "autoctl" "pg_auto_failover" "ratio" "target"
    printf '%s\n' "-----------------------------------------------------+--------------+------------------+--------+--------"
    for row in "${rows[@]}"; do
        IFS='|' read -r key label target <<<"$row"
        a="-"; p="-"
        has autoctl && a=$(median "$key" autoctl)
        has pgaf && p=$(median "$key" pgaf)
        printf '%-52s | %12s | %16s | %6s | %s\n' "$label" "$a" "$p" "$(ratio "$a" "$p")" "$target"
    done
    echo
    echo "ratio = autoctl / pg_auto_failover; (k/N) = only k of N runs measured it."
    for tool in "${TOOLS[@]}"; do
        for (( r = 1; r <= RUNS; r++ )); do
            s=${STATUS[$tool.$r]:-not run}
            [[ "$s" == 0 ]] || echo "$tool run $r: failed (status $s)"
        done
    done
    echo "per-run figures and logs: $RESULTS"
} | tee "$RESULTS/summary.txt"

if (( ! KEEP_LOGS )); then
    # keep the metrics and the summary, and the logs of failed runs only
    for tool in "${TOOLS[@]}"; do
        for (( r = 1; r <= RUNS; r++ )); do
            [[ "${STATUS[$tool.$r]:-x}" == 0 ]] && rm -rf "$RESULTS/$tool-run$r".*
        done
    done
fi
(( INTERRUPTED )) && exit 130
exit 0

# shellcheck shell=bash
# Globals set here are read by the sourcing scripts:
# shellcheck disable=SC2034
# scripts/lib/formation.sh: start and stop a local formation (a monitor and data nodes on
# 127.0.0.1) with autoctl or pg_auto_failover's pg_autoctl, which take the same command line.
# Sourced by scripts/demo.sh and bench/failover/run.sh; needs bash >= 5 (EPOCHREALTIME).
#
# Everything lives under one temporary directory (fm_init). Every node gets its own HOME and XDG
# directories there, so configuration, state and pid files of the nodes never collide. When the
# caller is root, the tool and Postgres run as an unprivileged OS user (fm_ensure_user; Postgres
# refuses to run as root), started with setpriv and an argument vector, never through a shell.
#
# The library only signals processes it started (their pids are recorded when they start) and
# the Postgres postmasters of the PGDATA directories it created (from postmaster.pid, after
# checking that the process is a postgres running on that PGDATA).
#
# Commands of the tool this library runs (the tool is $FM_TOOL):
#   create monitor  --pgdata D --pgport P --hostname 127.0.0.1 --listen 127.0.0.1 --auth trust --no-ssl --run
#   create postgres --pgdata D --pgport P --hostname 127.0.0.1 --listen 127.0.0.1 --monitor URI
#                   --auth trust --no-ssl --run
#   show state --pgdata D            (the text table; see fm_state)
#   show uri --pgdata D --formation monitor|default   (one URI line on stdout)
#   stop --pgdata D
#
# Public variables (after fm_init): FM_DIR, FM_TOOL, FM_USER, FM_PGBIN, and per node name:
# FM_PID[name] (the supervisor started with --run), FM_PGDATA[name], FM_PORT[name], FM_LOG[name].

FM_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FM_REPO_DIR="$(cd "$FM_LIB_DIR/../.." && pwd)"

FM_DIR=""
FM_TOOL=""
FM_USER=""
FM_PGBIN=""
FM_KEEP_LOGS=0             # 1: fm_cleanup removes the PGDATA directories but keeps the logs
FM_QUIET=0                 # 1: fm_log prints nothing
declare -gA FM_PID=() FM_PGDATA=() FM_PORT=() FM_LOG=() FM_HOME=()
declare -ga FM_NODES=()    # node names, in start order
declare -ga FM_AUX_PIDS=() # other processes we started (writer, perform failover, ...)
declare -ga FM_USED_PORTS=()
FM_CLEANED=0

# ---------------------------------------------------------------------------------------------
# Logging, time

fm_log() {
    [[ "$FM_QUIET" == 1 ]] && return 0
    printf '%(%H:%M:%S)T %s\n' -1 "$*" >&2
}

fm_warn() { printf '%(%H:%M:%S)T WARNING %s\n' -1 "$*" >&2; }

# Exits the current (sub)shell; its EXIT trap (fm_cleanup) stops what was started.
fm_die() {
    printf '%(%H:%M:%S)T ERROR %s\n' -1 "$*" >&2
    exit 1
}

# Wall-clock time in microseconds (CLOCK_REALTIME, the clock the writer also logs).
fm_now_us() {
    local t=$EPOCHREALTIME
    echo $(( ${t%.*} * 1000000 + 10#${t#*.} ))
}

# fm_us_to_s MICROSECONDS -> seconds with 3 decimals
fm_us_to_s() {
    local us=$1 sign=""
    if (( us < 0 )); then sign="-"; us=$(( -us )); fi
    printf '%s%d.%03d' "$sign" $(( us / 1000000 )) $(( (us % 1000000) / 1000 ))
}

# ---------------------------------------------------------------------------------------------
# Environment: packages, OS user, Postgres binaries

# fm_ensure_packages PKG...: installs the Debian packages that are missing (as root, with apt-get).
fm_ensure_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii'; then
            missing+=("$pkg")
        fi
    done
    (( ${#missing[@]} == 0 )) && return 0
    if [[ "$(id -u)" != 0 ]]; then
        fm_warn "missing Debian packages: ${missing[*]} (run as root to install them)"
        return 1
    fi
    fm_log "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update </dev/null >&2 || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" </dev/null >&2
}

# fm_find_pgbin: sets FM_PGBIN to PostgreSQL's bin directory ($FM_PGBIN if already set, else
# /usr/lib/postgresql/15/bin, else the newest /usr/lib/postgresql/*/bin).
fm_find_pgbin() {
    if [[ -n "$FM_PGBIN" && -x "$FM_PGBIN/pg_ctl" ]]; then return 0; fi
    if [[ -x /usr/lib/postgresql/15/bin/pg_ctl ]]; then
        FM_PGBIN=/usr/lib/postgresql/15/bin
        return 0
    fi
    local d
    FM_PGBIN=""
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V); do
        [[ -x "$d/pg_ctl" ]] && FM_PGBIN=$d
    done
    [[ -n "$FM_PGBIN" ]] || { fm_warn "no PostgreSQL found under /usr/lib/postgresql"; return 1; }
}

# fm_ensure_user NAME: when running as root, makes sure the unprivileged OS user NAME exists and
# sets FM_USER to it; otherwise everything runs as the current user (FM_USER is empty).
# The user is added to the "postgres" group when it exists: pg_autoctl starts Postgres with the
# default unix socket directory, /var/run/postgresql, which only that group may write to.
fm_ensure_user() {
    local name=$1
    if [[ "$(id -u)" != 0 ]]; then FM_USER=""; return 0; fi
    if ! id -u "$name" >/dev/null 2>&1; then
        fm_log "creating the OS user $name"
        useradd --system --user-group --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin "$name" || return 1
    fi
    if getent group postgres >/dev/null && ! id -nG "$name" | tr ' ' '\n' | grep -qx postgres; then
        usermod -a -G postgres "$name" || return 1
    fi
    FM_USER=$name
}

# fm_resolve_tool PATH_OR_NAME: prints the absolute path of the binary.
fm_resolve_tool() {
    local t=$1 p
    if [[ "$t" == */* ]]; then
        [[ -x "$t" ]] || return 1
        p=$(cd "$(dirname "$t")" && pwd)/$(basename "$t")
    else
        p=$(command -v "$t") || return 1
    fi
    readlink -f "$p"
}

# fm_init TOOL PREFIX: creates the formation directory and sets FM_TOOL. Call fm_ensure_user and
# fm_find_pgbin first. Installs no trap: callers run `trap fm_cleanup EXIT` themselves.
fm_init() {
    FM_TOOL=$(fm_resolve_tool "$1") || { fm_warn "no executable $1"; return 1; }
    FM_DIR=$(mktemp -d "${TMPDIR:-/tmp}/$2.XXXXXX") || return 1
    chmod 755 "$FM_DIR"
    [[ -n "$FM_USER" ]] && chown "$FM_USER:" "$FM_DIR"
    FM_PID=() FM_PGDATA=() FM_PORT=() FM_LOG=() FM_HOME=() FM_NODES=() FM_AUX_PIDS=()
    FM_CLEANED=0
    return 0
}

# ---------------------------------------------------------------------------------------------
# Running commands as the formation's user

# fm_as_prefix HOME_DIR: sets the array FM_AS to the command prefix that runs a program as
# FM_USER with a clean environment whose HOME and XDG directories are under HOME_DIR:
#   setpriv --reuid=U --regid=U --init-groups env -i PATH=... HOME=... XDG_...=... LANG TZ
# Both setpriv and env exec the program, so `"${FM_AS[@]}" prog args &` makes $! prog's pid.
# (A shell function run with & would make $! the pid of a forked bash instead.)
fm_as_prefix() {
    local home=$1
    FM_AS=()
    [[ -n "$FM_USER" ]] && FM_AS=(setpriv --reuid="$FM_USER" --regid="$FM_USER" --init-groups)
    FM_AS+=(env -i "PATH=$FM_PGBIN:/usr/local/bin:/usr/bin:/bin" "HOME=$home"
        "XDG_CONFIG_HOME=$home/config" "XDG_DATA_HOME=$home/data" "XDG_RUNTIME_DIR=$home/run"
        "LANG=C.UTF-8" "TZ=UTC")
}

# fm_as HOME_DIR CMD ARGS...: runs CMD in the foreground, as above.
fm_as() {
    local FM_AS
    fm_as_prefix "$1"; shift
    "${FM_AS[@]}" "$@"
}

# fm_tool NODE ARGS...: runs the tool with NODE's environment (foreground).
fm_tool() {
    local node=$1; shift
    fm_as "${FM_HOME[$node]}" "$FM_TOOL" "$@"
}

# fm_client CMD ARGS...: runs a client program (psql) as FM_USER (foreground).
fm_client() {
    fm_as "$FM_DIR/client" "$@"
}

# fm_psql PORT SQL: runs one statement on 127.0.0.1:PORT, database postgres, unaligned output.
fm_psql() {
    fm_client "$FM_PGBIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 \
        -d "host=127.0.0.1 port=$1 dbname=postgres connect_timeout=5" -c "$2"
}

# ---------------------------------------------------------------------------------------------
# Ports and processes

fm_port_in_use() {
    local p=$1 u
    for u in "${FM_USED_PORTS[@]}"; do [[ "$u" == "$p" ]] && return 0; done
    [[ -n "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ]]
}

# fm_free_port: prints a TCP port nobody listens on (and not handed out before).
fm_free_port() {
    local p i
    for (( i = 0; i < 200; i++ )); do
        p=$(( 20000 + RANDOM % 30000 ))
        if ! fm_port_in_use "$p"; then echo "$p"; return 0; fi
    done
    return 1
}

# fm_alive PID: the process exists and is not a zombie.
fm_alive() {
    local pid=$1 line
    [[ -n "$pid" && -r /proc/$pid/stat ]] || return 1
    { read -r line < "/proc/$pid/stat"; } 2>/dev/null || return 1
    line=${line##*) }
    [[ "${line:0:1}" != Z ]]
}

# fm_wait_exit PID TIMEOUT_S: waits until PID is gone (reaping it when it is our child).
fm_wait_exit() {
    local pid=$1 deadline=$(( $(fm_now_us) + $2 * 1000000 ))
    while fm_alive "$pid"; do
        (( $(fm_now_us) > deadline )) && return 1
        sleep 0.05
    done
    wait "$pid" 2>/dev/null
    return 0
}

# fm_tree PID...: prints PID and all its descendants, one per line (from /proc).
fm_tree() {
    local -A children=()
    local f line pid ppid rest
    for f in /proc/[0-9]*/stat; do
        { read -r line < "$f"; } 2>/dev/null || continue
        pid=${line%% *}
        rest=${line##*) }
        read -r _ ppid _ <<<"$rest"
        children[$ppid]+="$pid "
    done
    local queue=("$@") out=()
    while (( ${#queue[@]} )); do
        pid=${queue[0]}; queue=("${queue[@]:1}")
        [[ -e /proc/$pid ]] || continue
        out+=("$pid")
        for f in ${children[$pid]:-}; do queue+=("$f"); done
    done
    (( ${#out[@]} )) && printf '%s\n' "${out[@]}"
    return 0
}

# fm_postmaster_pid NODE: prints the pid of NODE's running postmaster (from postmaster.pid,
# checked against /proc: a postgres process whose command line names this PGDATA).
fm_postmaster_pid() {
    local pgdata=${FM_PGDATA[$1]} pid
    [[ -r "$pgdata/postmaster.pid" ]] || return 1
    read -r pid < "$pgdata/postmaster.pid" || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] && fm_alive "$pid" || return 1
    [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == */postgres ]] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pgdata" || return 1
    echo "$pid"
}

# fm_node_pids NODE: the supervisor's process tree plus the postmaster's tree (in case Postgres
# is not the supervisor's descendant), without duplicates.
fm_node_pids() {
    local roots=() pm
    fm_alive "${FM_PID[$1]:-}" && roots+=("${FM_PID[$1]}")
    pm=$(fm_postmaster_pid "$1") && roots+=("$pm")
    (( ${#roots[@]} )) || return 0
    fm_tree "${roots[@]}" | sort -un
}

# ---------------------------------------------------------------------------------------------
# Nodes

# fm_prepare_node NAME: the node's directories and port.
fm_prepare_node() {
    local name=$1 home=$FM_DIR/$1 port
    port=$(fm_free_port) || return 1
    FM_USED_PORTS+=("$port")
    mkdir -p "$home/config" "$home/data" "$home/run"
    chmod 700 "$home/run"
    mkdir -p "$FM_DIR/client/run"
    chmod 700 "$FM_DIR/client/run"
    [[ -n "$FM_USER" ]] && chown -R "$FM_USER:" "$home" "$FM_DIR/client"
    FM_HOME[$name]=$home
    FM_PGDATA[$name]=$home/pgdata
    FM_PORT[$name]=$port
    FM_LOG[$name]=$FM_DIR/$name.log
    FM_NODES+=("$name")
}

# fm_start_monitor NAME: `create monitor ... --run` in the background. Do not call it in $(...):
# the supervisor must be a child of the calling shell.
fm_start_monitor() {
    local name=$1
    fm_prepare_node "$name" || return 1
    fm_as_prefix "${FM_HOME[$name]}"
    "${FM_AS[@]}" "$FM_TOOL" create monitor --pgdata "${FM_PGDATA[$name]}" --pgport "${FM_PORT[$name]}" \
        --hostname 127.0.0.1 --listen 127.0.0.1 --auth trust --no-ssl --run \
        </dev/null >"${FM_LOG[$name]}" 2>&1 &
    FM_PID[$name]=$!
    fm_log "$name: monitor starting on 127.0.0.1:${FM_PORT[$name]} (pid ${FM_PID[$name]}, log ${FM_LOG[$name]})"
}

# fm_start_node NAME MONITOR_URI: `create postgres ... --run` in the background (not in $(...)).
fm_start_node() {
    local name=$1 monitor=$2
    fm_prepare_node "$name" || return 1
    fm_as_prefix "${FM_HOME[$name]}"
    "${FM_AS[@]}" "$FM_TOOL" create postgres --pgdata "${FM_PGDATA[$name]}" --pgport "${FM_PORT[$name]}" \
        --hostname 127.0.0.1 --listen 127.0.0.1 --monitor "$monitor" --auth trust --no-ssl --run \
        </dev/null >"${FM_LOG[$name]}" 2>&1 &
    FM_PID[$name]=$!
    fm_log "$name: node starting on 127.0.0.1:${FM_PORT[$name]} (pid ${FM_PID[$name]}, log ${FM_LOG[$name]})"
}

# fm_node_of_port PORT: prints the name of our node listening on PORT.
fm_node_of_port() {
    local n
    for n in "${FM_NODES[@]}"; do
        [[ "${FM_PORT[$n]}" == "$1" ]] && { echo "$n"; return 0; }
    done
    return 1
}

# fm_wait_until TIMEOUT_S DESCRIPTION CMD ARGS...: polls CMD every 50 ms until it succeeds.
# Returns 1 on timeout, or at once if one of the formation's supervisors has exited.
fm_wait_until() {
    local timeout=$1 what=$2; shift 2
    local deadline=$(( $(fm_now_us) + timeout * 1000000 )) n
    while ! "$@"; do
        for n in "${FM_NODES[@]}"; do
            if [[ -n "${FM_PID[$n]:-}" ]] && ! fm_alive "${FM_PID[$n]}" && [[ "${FM_EXPECT_DEAD[$n]:-0}" != 1 ]]; then
                fm_warn "$n: the supervisor (pid ${FM_PID[$n]}) exited while waiting for $what; last lines of ${FM_LOG[$n]}:"
                tail -n 15 "${FM_LOG[$n]}" >&2
                return 1
            fi
        done
        if (( $(fm_now_us) > deadline )); then
            fm_warn "timed out after ${timeout}s waiting for $what"
            return 1
        fi
        sleep 0.05
    done
}
declare -gA FM_EXPECT_DEAD=()

# ---------------------------------------------------------------------------------------------
# Reading the monitor

# fm_state NODE: `show state --pgdata <NODE's pgdata>` parsed from its text table, one line per
# node: name|node|host:port|tli:lsn|connection|reported|assigned (fields trimmed).
fm_state() {
    local out
    out=$(fm_tool "$1" show state --pgdata "${FM_PGDATA[$1]}" 2>/dev/null) || return 1
    awk -F'|' '
        NR == 1 { next }                    # header
        NR == 2 && /^-/ { next }            # separator
        NF >= 7 {
            line = ""
            for (i = 1; i <= 7; i++) { f = $i; gsub(/^ +| +$/, "", f); line = line (i > 1 ? "|" : "") f }
            print line
        }' <<<"$out"
}

# fm_monitor_ready NODE: Postgres has started (postmaster.pid exists) and `show state` answers
# (the monitor's schema exists). The tool is not run before postmaster.pid exists: pg_autoctl
# fails ("Failed to create state directory ... File exists") when a second pg_autoctl creates the
# same XDG directories at the same time as `create monitor`.
fm_monitor_ready() {
    [[ -e "${FM_PGDATA[$1]}/postmaster.pid" ]] || return 1
    fm_tool "$1" show state --pgdata "${FM_PGDATA[$1]}" >/dev/null 2>&1
}

# fm_count_nodes_at_least NODE N: show state lists at least N nodes.
fm_count_nodes_at_least() {
    local rows
    rows=$(fm_state "$1") || return 1
    (( $(grep -c . <<<"$rows") >= $2 ))
}

# fm_stable_pair NODE [PRIMARY_PORT]: show state lists exactly two nodes, one primary and one
# secondary, each having reported its assigned state (and the primary on PRIMARY_PORT if given).
# Sets FM_PRIMARY_PORT and FM_SECONDARY_PORT.
fm_stable_pair() {
    local rows primary="" secondary="" count=0 name id hp rep asg
    rows=$(fm_state "$1") || return 1
    while IFS="|" read -r name id hp _ _ rep asg; do
        [[ -z "$name$id" ]] && continue
        count=$(( count + 1 ))
        if [[ "$rep" == primary && "$asg" == primary ]]; then primary=${hp##*:}; fi
        if [[ "$rep" == secondary && "$asg" == secondary ]]; then secondary=${hp##*:}; fi
    done <<<"$rows"
    [[ $count == 2 && -n "$primary" && -n "$secondary" ]] || return 1
    [[ -z "${2:-}" || "$primary" == "$2" ]] || return 1
    FM_PRIMARY_PORT=$primary
    FM_SECONDARY_PORT=$secondary
}

# fm_formation_uri NODE: the multi-host URI of the default formation.
fm_formation_uri() {
    fm_tool "$1" show uri --pgdata "${FM_PGDATA[$1]}" --formation default 2>/dev/null | tail -n 1
}

fm_monitor_uri() {
    fm_tool "$1" show uri --pgdata "${FM_PGDATA[$1]}" --formation monitor 2>/dev/null | tail -n 1
}

# fm_start_aux LOG CMD ARGS...: starts a helper process in the background as FM_USER (not in
# $(...)); its pid is tracked for fm_cleanup and left in FM_LAST_PID.
fm_start_aux() {
    local log=$1; shift
    fm_as_prefix "$FM_DIR/client"
    "${FM_AS[@]}" "$@" </dev/null >"$log" 2>&1 &
    FM_LAST_PID=$!
    FM_AUX_PIDS+=("$FM_LAST_PID")
}

# fm_start_tool_aux NODE LOG ARGS...: the tool with NODE's environment, in the background.
fm_start_tool_aux() {
    local node=$1 log=$2; shift 2
    fm_as_prefix "${FM_HOME[$node]}"
    "${FM_AS[@]}" "$FM_TOOL" "$@" </dev/null >"$log" 2>&1 &
    FM_LAST_PID=$!
    FM_AUX_PIDS+=("$FM_LAST_PID")
}

# ---------------------------------------------------------------------------------------------
# The two-node formation of the demo and the benchmark

# fm_start_formation: starts the monitor "monitor", waits until it answers, starts "node1", waits
# until it is registered (so that it gets node id 1 and becomes the first primary), then starts
# "node2". Does not wait for the pair to be stable (fm_stable_pair). Not in $(...).
fm_start_formation() {
    fm_start_monitor monitor || return 1
    fm_wait_until 120 "the monitor to answer show state" fm_monitor_ready monitor || return 1
    FM_MONITOR_URI=$(fm_monitor_uri monitor)
    [[ -n "$FM_MONITOR_URI" ]] || { fm_warn "show uri --formation monitor printed nothing"; return 1; }
    fm_start_node node1 "$FM_MONITOR_URI" || return 1
    fm_wait_until 120 "node1 to register with the monitor" fm_count_nodes_at_least monitor 1 || return 1
    fm_start_node node2 "$FM_MONITOR_URI"
}

# ---------------------------------------------------------------------------------------------
# The writer (bench/failover/writer.cpp): one fresh connection per INSERT into bench_writes

FM_WRITER_BIN=${FM_WRITER_BIN:-$FM_REPO_DIR/build/bench/failover/failover_writer}
FM_WRITER_TABLE=bench_writes

# fm_create_writer_table PORT
fm_create_writer_table() {
    fm_psql "$1" "CREATE TABLE $FM_WRITER_TABLE (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())"
}

# fm_writer_start URI LOG [INTERVAL_MS]: starts the writer (not in $(...)); sets FM_WRITER_PID.
# LOG gets one line per acknowledged insert: id monotonic_us realtime_us port.
fm_writer_start() {
    fm_start_aux "$2.stderr" "$FM_WRITER_BIN" --uri "$1" --log "$2" --table "$FM_WRITER_TABLE" \
        --interval-ms "${3:-10}"
    FM_WRITER_PID=$FM_LAST_PID
}

# fm_writer_acks LOG: number of acknowledged inserts so far.
fm_writer_acks() {
    [[ -r "$1" ]] || { echo 0; return 0; }
    local n
    n=$(wc -l < "$1")
    echo "${n// /}"
}

fm_writer_acks_at_least() { (( $(fm_writer_acks "$1") >= $2 )); }

# fm_writer_stop: SIGTERM, wait for the writer to exit (it prints a summary to LOG.stderr).
fm_writer_stop() {
    [[ -n "${FM_WRITER_PID:-}" ]] || return 0
    kill -TERM "$FM_WRITER_PID" 2>/dev/null
    fm_wait_exit "$FM_WRITER_PID" 15 || { kill -KILL "$FM_WRITER_PID" 2>/dev/null; wait "$FM_WRITER_PID" 2>/dev/null; }
    FM_WRITER_PID=""
}

# fm_writer_missing PORT LOG: prints how many acknowledged ids are missing from the table on
# 127.0.0.1:PORT (fails when the table cannot be read).
fm_writer_missing() {
    local present acked
    present=$(fm_psql "$1" "COPY (SELECT id FROM $FM_WRITER_TABLE) TO STDOUT") || return 1
    acked=$(awk '{ print $1 }' "$2" | sort)
    comm -23 <(printf '%s\n' "$acked" | grep .) <(printf '%s\n' "$present" | grep . | sort) | wc -l
}

# ---------------------------------------------------------------------------------------------
# Stopping

# fm_kill9_node NODE: kill -9 of every process of NODE (supervisor, its children, Postgres).
# The processes are listed first; FM_KILL_US is the time just before the signals are sent and
# FM_KILLED the number of processes signalled. Not in $(...).
fm_kill9_node() {
    local pids
    mapfile -t pids < <(fm_node_pids "$1")
    FM_EXPECT_DEAD[$1]=1
    disown "${FM_PID[$1]}" 2>/dev/null   # no "Killed" job message from bash
    FM_KILL_US=$(fm_now_us)
    (( ${#pids[@]} )) && kill -KILL "${pids[@]}" 2>/dev/null
    FM_KILLED=${#pids[@]}
}

# fm_stop_node NODE: `stop --pgdata` and wait; then SIGTERM, then SIGKILL of its process tree;
# then an orphaned postmaster, if any, gets an immediate shutdown.
fm_stop_node() {
    local n=$1 pid=${FM_PID[$1]:-} pm pids
    if fm_alive "$pid"; then
        local stopper
        fm_as_prefix "${FM_HOME[$n]}"
        "${FM_AS[@]}" "$FM_TOOL" stop --pgdata "${FM_PGDATA[$n]}" </dev/null >/dev/null 2>&1 &
        stopper=$!
        fm_wait_exit "$stopper" 60 || { kill -KILL "$stopper" 2>/dev/null; wait "$stopper" 2>/dev/null; }
        if ! fm_wait_exit "$pid" 60; then
            fm_warn "$n: still running 60 s after stop, sending SIGTERM"
            kill -TERM "$pid" 2>/dev/null
            if ! fm_wait_exit "$pid" 15; then
                mapfile -t pids < <(fm_tree "$pid")
                fm_warn "$n: sending SIGKILL to ${pids[*]}"
                (( ${#pids[@]} )) && kill -KILL "${pids[@]}" 2>/dev/null
                fm_wait_exit "$pid" 5
            fi
        fi
    elif [[ -n "$pid" ]]; then
        wait "$pid" 2>/dev/null
    fi
    if pm=$(fm_postmaster_pid "$n"); then
        fm_log "$n: stopping the remaining postmaster $pm (immediate shutdown)"
        kill -QUIT "$pm" 2>/dev/null
        if ! fm_wait_exit "$pm" 15; then
            mapfile -t pids < <(fm_tree "$pm")
            (( ${#pids[@]} )) && kill -KILL "${pids[@]}" 2>/dev/null
        fi
    fi
}

# fm_stop_aux: SIGTERM to the helper processes still running, then SIGKILL after 10 s.
fm_stop_aux() {
    local pid
    for pid in "${FM_AUX_PIDS[@]}"; do
        fm_alive "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${FM_AUX_PIDS[@]}"; do
        if ! fm_wait_exit "$pid" 10; then kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    done
    FM_AUX_PIDS=()
}

# fm_cleanup: stops everything this formation started (data nodes first, the monitor last) and
# removes the formation directory (keeping the *.log files when FM_KEEP_LOGS=1). Idempotent;
# meant for `trap fm_cleanup EXIT`.
fm_cleanup() {
    (( FM_CLEANED )) && return 0
    FM_CLEANED=1
    trap '' INT TERM   # a second Ctrl-C must not interrupt the cleanup
    fm_stop_aux
    local i
    for (( i = ${#FM_NODES[@]} - 1; i >= 0; i-- )); do
        fm_stop_node "${FM_NODES[$i]}"
    done
    if [[ -n "$FM_DIR" && -d "$FM_DIR" && "$FM_DIR" == "${TMPDIR:-/tmp}"/* ]]; then
        if [[ "$FM_KEEP_LOGS" == 1 ]]; then
            for i in "${FM_NODES[@]}"; do rm -rf "${FM_HOME[$i]}"; done
            rm -rf "$FM_DIR/client"
        else
            rm -rf "$FM_DIR"
        fi
    fi
    trap - INT TERM
}

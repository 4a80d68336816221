#!/usr/bin/env bash
# scripts/demo.sh [TOOL]: a local formation from nothing, then a failover under writes.
#
# Starts a monitor and two Postgres nodes on 127.0.0.1 under a temporary directory, waits for
# primary/secondary, prints `show state`, runs `perform failover` while a writer keeps inserting
# (a fresh connection per insert, to the formation's multi-host URI), prints `show state` and
# `show events` again, checks that every acknowledged row is on the new primary, and stops
# everything (also on Ctrl-C or any error).
#
# TOOL is the autoctl binary: the first argument, else $AUTOCTL, else build/src/cli/autoctl.
# pg_auto_failover's pg_autoctl takes the same command line: scripts/demo.sh /usr/bin/pg_autoctl
# When started as root, the tool and Postgres run as the unprivileged OS user autoctl-demo
# (created if missing). Needs no standard input. Needs build/bench/failover/failover_writer
# (`make build`). Exit status: 0 when the demo went through and no acknowledged row is missing.

set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=SCRIPTDIR/lib/formation.sh
source "$HERE/lib/formation.sh"

case "${1:-}" in
    -h|--help) sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
TOOL=${1:-${AUTOCTL:-$FM_REPO_DIR/build/src/cli/autoctl}}
DEMO_USER=autoctl-demo

step() { printf '\n== %s\n\n' "$*"; }

fm_find_pgbin || exit 1
fm_ensure_user "$DEMO_USER" || { echo "cannot create the OS user $DEMO_USER" >&2; exit 1; }
if [[ ! -x "$FM_WRITER_BIN" && -f "$FM_REPO_DIR/build/CMakeCache.txt" ]]; then
    cmake --build "$FM_REPO_DIR/build" --target failover_writer >&2 || true
fi
[[ -x "$FM_WRITER_BIN" ]] || { echo "no writer at $FM_WRITER_BIN: run make build first" >&2; exit 1; }

fm_init "$TOOL" autoctl-demo || exit 1
trap 'step "Stopping the nodes and the monitor"; fm_cleanup; echo "stopped, $FM_DIR removed"' EXIT
trap 'echo; fm_log "interrupted"; exit 130' INT TERM

"$FM_TOOL" --version 2>/dev/null | head -n 1
echo "formation directory: $FM_DIR${FM_USER:+ (processes run as $FM_USER)}"

step "Starting a monitor and two nodes"
fm_start_formation || fm_die "the formation did not start"
fm_wait_until 300 "node1 primary and node2 secondary" fm_stable_pair monitor \
    || fm_die "the nodes did not reach primary/secondary"
first_primary=$(fm_node_of_port "$FM_PRIMARY_PORT")
new_primary=$(fm_node_of_port "$FM_SECONDARY_PORT")
new_primary_port=$FM_SECONDARY_PORT
fm_tool monitor show state --pgdata "${FM_PGDATA[monitor]}" </dev/null

step "Starting a writer: one connection per INSERT, to the formation URI"
uri=$(fm_formation_uri monitor)
[[ -n "$uri" ]] || fm_die "show uri --formation default printed nothing"
echo "$uri"
fm_create_writer_table "$FM_PRIMARY_PORT" || fm_die "cannot create the table $FM_WRITER_TABLE"
wlog=$FM_DIR/writer.log
fm_writer_start "$uri" "$wlog" 10
fm_wait_until 60 "the writer's first inserts" fm_writer_acks_at_least "$wlog" 50 \
    || fm_die "the writer does not write: $(cat "$wlog.stderr" 2>/dev/null)"
echo "$(fm_writer_acks "$wlog") rows acknowledged so far"

step "perform failover ($first_primary -> $new_primary) while the writer keeps inserting"
fm_tool node1 perform failover --pgdata "${FM_PGDATA[node1]}" </dev/null \
    || fm_warn "perform failover exited with status $?"
fm_wait_until 120 "$new_primary primary and $first_primary secondary" \
    fm_stable_pair monitor "$new_primary_port" || fm_die "the failover did not settle"
n=$(fm_writer_acks "$wlog")
fm_wait_until 30 "inserts on the new primary" fm_writer_acks_at_least "$wlog" $(( n + 50 )) \
    || fm_die "no inserts after the failover: $(cat "$wlog.stderr" 2>/dev/null)"
fm_writer_stop

step "show state"
fm_tool monitor show state --pgdata "${FM_PGDATA[monitor]}" </dev/null
step "show events"
fm_tool monitor show events --pgdata "${FM_PGDATA[monitor]}" --count 20 </dev/null

step "Checking the rows"
acked=$(fm_writer_acks "$wlog")
gap=$(awk 'NR > 1 { g = $2 - p; if (g > m) m = g } { p = $2 } END { printf "%.3f", m / 1e6 }' "$wlog")
on_old=$(awk -v p="${FM_PORT[$first_primary]}" '$4 == p' "$wlog" | wc -l)
on_new=$(awk -v p="$new_primary_port" '$4 == p' "$wlog" | wc -l)
echo "writer: $(tail -n 1 "$wlog.stderr" 2>/dev/null)"
echo "$acked rows acknowledged ($on_old by $first_primary, then $on_new by $new_primary); longest gap between two acknowledged inserts: ${gap} s"
n_missing=$(fm_writer_missing "$new_primary_port" "$wlog") || fm_die "cannot read $FM_WRITER_TABLE on $new_primary"
if (( n_missing == 0 )); then
    echo "all $acked acknowledged rows are present on the new primary $new_primary (127.0.0.1:$new_primary_port)"
else
    echo "ERROR: $n_missing of $acked acknowledged rows are missing on the new primary $new_primary" >&2
    exit 1
fi
exit 0

// autoctl create coordinator | worker: the data nodes of a Citus formation. Same code path as
// create postgres (cmd_keeper_node.cpp) with pg_autoctl.nodekind coordinator or worker: the
// monitor makes the formation of kind citus, puts the coordinator in group 0 and each worker in
// the group of --group, or the first group that has no primary yet, else no standby yet. The
// keeper's Citus actions (src/keeper/citus_transitions.cpp) do the rest.

#include "autoctl/cli/commands.hpp"
#include "cmd_keeper_node.hpp"

namespace autoctl::cli {

void register_citus_node_commands(CommandLine& command_line) {
    auto* coordinator = add_create_data_node_command(command_line, "coordinator", "coordinator",
                                                     "Initialize an autoctl Citus coordinator node (group 0)", "citus");
    coordinator->footer(
        "Registers the node with the monitor in group 0 of a citus formation. The first node becomes\n"
        "the coordinator primary: initdb, settings, citus in shared_preload_libraries and CREATE\n"
        "EXTENSION citus in --dbname (when the citus extension is installed on this host), and the\n"
        "coordinator registers itself in pg_dist_node. A later node becomes its standby. Running the\n"
        "command again finishes an interrupted create.\n"
        "Exit codes: 1 bad arguments or PGDATA; 3 port in use or autoctl running; 6 monitor\n"
        "unreachable or registration refused.");
    auto* worker = add_create_data_node_command(command_line, "worker", "worker",
                                                "Initialize an autoctl Citus worker node", "citus");
    worker->footer(
        "Registers the node with the monitor in a worker group of a citus formation: --group N, or\n"
        "without --group the first group with no node (this node is its primary), else the first\n"
        "one with a primary only (this node is its standby). A primary is initialised like a\n"
        "coordinator, then added to the coordinator primary's pg_dist_node (citus_add_node, or\n"
        "master_add_node on old Citus), waiting for the coordinator (timeout.citus_coordinator_wait_*).\n"
        "Exit codes: 1 bad arguments or PGDATA; 3 port in use or autoctl running; 6 monitor\n"
        "unreachable or registration refused.");
}

}  // namespace autoctl::cli

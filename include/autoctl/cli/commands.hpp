#pragma once
// Registration of each group of commands into the tree (one source file each).

#include <iosfwd>
#include <string>

#include "autoctl/cli/command_line.hpp"

namespace autoctl::cli {

// The pg_auto_failover release whose command line and monitor protocol autoctl follows.
inline constexpr const char* kPgAutoFailoverVersion = "2.2";

std::string version_string();  // "0.1.0"

// "autoctl version 0.1.0\ncompatible with pg_auto_failover 2.2\n", or a JSON object.
void print_version(std::ostream& out, bool json);

void register_version_commands(CommandLine& command_line);    // version, help
void register_monitor_node_commands(CommandLine& command_line);  // create monitor, drop monitor
void register_keeper_node_commands(CommandLine& command_line);     // create postgres
void register_citus_node_commands(CommandLine& command_line);      // create coordinator, create worker
void register_keeper_service_commands(CommandLine& command_line);  // do service keeper|postgres, do fsm, do pgsetup
void register_service_commands(CommandLine& command_line);    // do service monitor, run, stop, reload, status
void register_formation_commands(CommandLine& command_line);  // create formation, drop formation
void register_config_commands(CommandLine& command_line);     // config check|get|set
void register_show_commands(CommandLine& command_line);       // show uri|events|state|settings|standby-names|file
void register_get_commands(CommandLine& command_line);        // get node *, get formation *
void register_drop_node_commands(CommandLine& command_line);  // drop node
void register_maintenance_commands(CommandLine& command_line);  // enable|disable maintenance
void register_set_commands(CommandLine& command_line);        // set node *, set formation *
void register_perform_commands(CommandLine& command_line);    // perform failover|switchover|promotion

}  // namespace autoctl::cli

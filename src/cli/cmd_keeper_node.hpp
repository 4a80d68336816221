#pragma once
// The `create` command of a data node, shared by create postgres (cmd_keeper_node.cpp) and
// create coordinator|worker (cmd_citus_node.cpp).

#include <string>

#include "autoctl/cli/command_line.hpp"

namespace autoctl::cli {

// Adds `create <name>`: a data node of kind `nodekind` (standalone, coordinator or worker,
// pg_autoctl.nodekind and register_node's node kind), whose --dbname defaults to
// `default_dbname`. Returns the command, for more footer text.
CLI::App* add_create_data_node_command(CommandLine& command_line, const std::string& name,
                                       const std::string& nodekind, const std::string& description,
                                       const std::string& default_dbname);

}  // namespace autoctl::cli

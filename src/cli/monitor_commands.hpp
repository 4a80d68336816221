#pragma once
// What the commands that query the monitor share (show *, get *, create|drop formation): their
// options, the formation and group they target, and the settings table that `show settings` and
// `get formation settings` both print. Private to src/cli.

#include <CLI/CLI.hpp>
#include <string>

#include "autoctl/cli/command_line.hpp"
#include "autoctl/cli/monitor_client.hpp"
#include "autoctl/cli/options.hpp"

namespace autoctl::cli {

// The help of every command that reaches the monitor starts with one of these.
inline constexpr char kMonitorTargetHelp[] =
    "The monitor is --monitor (or $PG_AUTOCTL_MONITOR), else found from the node's configuration\n"
    "with --pgdata (or $PGDATA).";
inline constexpr char kMonitorAndFormationHelp[] =
    "The monitor is --monitor (or $PG_AUTOCTL_MONITOR), else found from the node's configuration\n"
    "with --pgdata (or $PGDATA). --formation defaults to the node's formation, else \"default\".";

// --pgdata | --monitor, --formation [, --group], --json.
struct MonitorQueryArgs {
    MonitorTargetOptions target;
    FormationGroupOptions scope;
    OutputOptions output;
    CLI::Option* formation_option = nullptr;
    CLI::Option* group_option = nullptr;

    void add_to(CLI::App& app, bool with_group, bool with_json = true);

    bool formation_given() const { return formation_option != nullptr && formation_option->count() > 0; }
    bool group_given() const { return group_option != nullptr && group_option->count() > 0; }

    // --formation when given, else the keeper configuration's formation, else "default".
    std::string formation(const MonitorTarget& target) const;
};

// Error{Monitor} 'formation "F" does not exist' (naming the formations there are) unless it does.
void require_formation(MonitorClient& client, const std::string& formation);

// show settings / get formation settings, table or JSON.
void print_formation_settings(const MonitorQueryArgs& args, CommandContext& context);

// Registration, called from register_show_commands (before "show file", in pg_autoctl's order).
void register_show_monitor_commands(CommandLine& command_line, CLI::App& show);

}  // namespace autoctl::cli

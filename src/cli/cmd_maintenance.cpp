// autoctl enable|disable maintenance: put this keeper node in maintenance and take it out again,
// through the monitor, following the group's notifications until the node has settled
// (reference §4 "enable / disable").

#include <memory>

#include "autoctl/cli/commands.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "local_keeper.hpp"
#include "notification_table.hpp"

namespace autoctl::cli {

namespace {

using common::Error;
using common::ErrorKind;

struct MaintenanceArgs {
    PgdataOption pgdata;
    bool allow_failover = false;
};

// States in which the node takes writes, or is about to: maintenance there means a failover.
bool is_primary_side(const std::string& state) {
    return state == "primary" || state == "wait_primary" || state == "join_primary" || state == "apply_settings";
}

NodeStatus registered_node(MonitorClient& client, const LocalKeeper& keeper) {
    auto node = find_node(client, keeper.formation, keeper.name);
    if (!node) {
        throw Error(ErrorKind::Monitor, "node \"" + keeper.name + "\" is not registered in formation \"" +
                                            keeper.formation + "\" on the monitor at " + client.params().endpoint);
    }
    return *node;
}

void enable_maintenance(const MaintenanceArgs& args, CommandContext& context) {
    auto log = common::logger("cli");
    const auto keeper = load_local_keeper(args.pgdata, "enable maintenance");
    auto client = connect_to_monitor(monitor_of(keeper));
    const NodeStatus node = registered_node(*client, keeper);
    if (node.settled_in("maintenance")) {
        log->info("Node {} \"{}\" is already in maintenance", node.id, node.name);
        return;
    }
    // pg_autoctl checks its local state file; the monitor's row says the same thing and is there
    // even when this node's keeper is stopped. The monitor itself would fail over without asking.
    if (!args.allow_failover && (is_primary_side(node.reported) || is_primary_side(node.goal))) {
        log->warn("Enabling maintenance on a primary causes a failover");
        throw FatalError(ErrorKind::Usage, "Please use --allow-failover to allow the command proceed");
    }
    GroupWatch watch(*client, keeper.formation, node.group, context.out);
    watch.submit("SELECT pgautofailover.start_maintenance($1)", {std::to_string(node.id)});
    const auto timeout = notifications_timeout(keeper.config);
    const bool done = watch.wait_until(
        [&](const std::vector<NodeStatus>& nodes) {
            for (const auto& n : nodes) {
                if (n.id == node.id) return n.settled_in("maintenance");
            }
            return false;
        },
        timeout);
    if (!done) {
        throw Error(ErrorKind::Monitor, "Failed to wait until the node reached the maintenance state within " +
                                            std::to_string(timeout.count()) +
                                            " s: see autoctl show state, and check that its keeper is running");
    }
}

void disable_maintenance(const MaintenanceArgs& args, CommandContext& context) {
    const auto keeper = load_local_keeper(args.pgdata, "disable maintenance");
    auto client = connect_to_monitor(monitor_of(keeper));
    const NodeStatus node = registered_node(*client, keeper);
    GroupWatch watch(*client, keeper.formation, node.group, context.out);
    // The monitor refuses (exit 6) when the node is not in maintenance.
    watch.submit("SELECT pgautofailover.stop_maintenance($1)", {std::to_string(node.id)});
    const auto timeout = notifications_timeout(keeper.config);
    const bool done = watch.wait_until(
        [&](const std::vector<NodeStatus>& nodes) {
            for (const auto& n : nodes) {
                if (n.id != node.id) continue;
                // Back in service: a standby again, or the primary (or single) it became.
                return n.settled_in("secondary") || n.settled_in("primary") || n.settled_in("single");
            }
            return false;
        },
        timeout);
    if (!done) {
        throw Error(ErrorKind::Monitor, "Failed to wait until the node is back in service within " +
                                            std::to_string(timeout.count()) +
                                            " s: see autoctl show state, and check that its keeper is running");
    }
}

constexpr const char* kHelp =
    "Acts on the keeper node of --pgdata (or $PGDATA), through its monitor, and prints the monitor's\n"
    "notifications for its group until the node has settled (timeout.listen_notifications_timeout,\n"
    "default 60 s). Exit codes: 1 bad arguments, 2 not a keeper node, 6 the monitor refused, is\n"
    "unreachable, or the node did not settle in time.";

}  // namespace

void register_maintenance_commands(CommandLine& command_line) {
    auto* enable = command_line.add_command_set(command_line.root(), "enable", "Enable a feature on a formation");
    auto enable_args = std::make_shared<MaintenanceArgs>();
    auto* on = command_line.add_command(*enable, "maintenance", "Enable Postgres maintenance mode on this node",
                                        [enable_args](CommandContext& context) { enable_maintenance(*enable_args, context); });
    on->footer(std::string(kHelp) + "\nOn a primary, --allow-failover is required: the monitor fails over first.");
    enable_args->pgdata.add_to(*on);
    on->add_flag("--allow-failover", enable_args->allow_failover, "allow a failover when this node is the primary");

    auto* disable = command_line.add_command_set(command_line.root(), "disable", "Disable a feature on a formation");
    auto disable_args = std::make_shared<MaintenanceArgs>();
    auto* off = command_line.add_command(
        *disable, "maintenance", "Disable Postgres maintenance mode on this node",
        [disable_args](CommandContext& context) { disable_maintenance(*disable_args, context); });
    off->footer(kHelp);
    disable_args->pgdata.add_to(*off);
}

}  // namespace autoctl::cli

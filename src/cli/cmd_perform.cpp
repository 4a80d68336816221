// autoctl perform failover|switchover|promotion: ask the monitor to change a group's primary,
// then follow the group's notifications until the new primary has settled (reference §4
// "perform", §5.8).

#include <memory>
#include <ostream>

#include "autoctl/cli/commands.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "monitor_commands.hpp"
#include "notification_table.hpp"

namespace autoctl::cli {

namespace {

using common::Error;
using common::ErrorKind;

struct PerformArgs : MonitorQueryArgs {
    WaitOption wait;
    NodeNameOption name;
};

// --group when given, else the keeper's own group, else the formation's only group.
int target_group(MonitorClient& client, const PerformArgs& args, const MonitorTarget& target,
                 const std::string& formation) {
    if (args.group_given()) return args.scope.group;
    if (target.group >= 0 && target.formation == formation) return target.group;
    const auto groups = client.query(
        "SELECT DISTINCT groupid FROM pgautofailover.node WHERE formationid = $1 ORDER BY groupid", {formation});
    if (groups.empty()) {
        throw Error(ErrorKind::Monitor, "formation \"" + formation + "\" has no nodes");
    }
    if (groups.rows.size() > 1) {
        std::string list;
        for (std::size_t i = 0; i < groups.rows.size(); ++i) list += (i > 0 ? ", " : "") + groups.text(i, 0);
        throw Error(ErrorKind::Usage,
                    "formation \"" + formation + "\" has several groups (" + list + "): please use --group");
    }
    const int group = std::stoi(groups.text(0, 0));
    // pg_autoctl's spelling, kept for scripts that grep it.
    common::logger("cli")->info("Targetting group {} in formation \"{}\"", group, formation);
    return group;
}

// --json: the group's nodes once the command is done, as `show state --json` prints them.
void print_group_json(MonitorClient& client, const std::string& formation, int group, std::ostream& out) {
    const auto result = client.query(
        "SELECT jsonb_pretty(coalesce(jsonb_agg(row_to_json(state)), '[]')) "
        "  FROM pgautofailover.current_state($1, $2) AS state",
        {formation, std::to_string(group)});
    out << result.text(0, 0) << "\n";
}

Error wait_failed(const std::string& what, const std::string& formation, int group, int seconds) {
    return Error(ErrorKind::Monitor, "Failed to wait until " + what + ": not reached within " +
                                         std::to_string(seconds) + " s in group " + std::to_string(group) +
                                         " of formation \"" + formation +
                                         "\"; the monitor keeps going: see autoctl show state, and check that the "
                                         "nodes' keepers are running");
}

// failover and switchover are the same request in pg_autoctl 2.x.
void perform_failover(const PerformArgs& args, CommandContext& context) {
    const auto target = args.target.resolve();
    const std::string formation = args.formation(target);
    auto client = connect_to_monitor(target);
    require_formation(*client, formation);
    const int group = target_group(*client, args, target, formation);

    // The new primary is another node: the old one also reports primary until it drains.
    std::int64_t old_primary = 0;
    for (const auto& node : group_nodes(*client, formation, group)) {
        if (node.settled_in("primary")) old_primary = node.id;
    }
    GroupWatch watch(*client, formation, group, context.out, !args.output.json);
    watch.submit("SELECT pgautofailover.perform_failover($1, $2)", {formation, std::to_string(group)});
    if (args.wait.seconds > 0) {
        const bool done = watch.wait_until(
            [&](const std::vector<NodeStatus>& nodes) {
                for (const auto& node : nodes) {
                    if (node.id != old_primary && node.settled_in("primary")) return true;
                }
                return false;
            },
            std::chrono::seconds(args.wait.seconds));
        if (!done) throw wait_failed("a new primary has been notified", formation, group, args.wait.seconds);
    }
    if (args.output.json) print_group_json(*client, formation, group, context.out);
}

void perform_promotion(const PerformArgs& args, CommandContext& context) {
    const auto target = args.target.resolve();
    const std::string formation = args.formation(target);
    const std::string name = !args.name.name.empty() ? args.name.name : target.node_name;
    if (name.empty()) {
        throw Error(ErrorKind::Usage, "please give the --name of the node to promote (or the --pgdata of a keeper)");
    }
    auto client = connect_to_monitor(target);
    require_formation(*client, formation);
    const auto node = find_node(*client, formation, name);
    if (!node) {
        throw Error(ErrorKind::Usage, "node \"" + name + "\" is not a member of formation \"" + formation + "\"");
    }
    auto log = common::logger("cli");
    if (node->settled_in("primary") || node->settled_in("single")) {
        log->info("Node {} \"{}\" ({}:{}) is already the primary: nothing to do", node->id, node->name, node->host,
                  node->port);
        if (args.output.json) print_group_json(*client, formation, node->group, context.out);
        return;
    }
    GroupWatch watch(*client, formation, node->group, context.out, !args.output.json);
    const std::string notice = watch.submit("SELECT pgautofailover.perform_promotion($1, $2)", {formation, name});
    if (notice.find("already the primary") != std::string::npos) {
        log->info("{}", notice);
    } else if (args.wait.seconds > 0) {
        const bool done = watch.wait_until(
            [&](const std::vector<NodeStatus>& nodes) {
                for (const auto& n : nodes) {
                    if (n.id == node->id && n.settled_in("primary")) return true;
                }
                return false;
            },
            std::chrono::seconds(args.wait.seconds));
        if (!done) throw wait_failed("node \"" + name + "\" is the primary", formation, node->group, args.wait.seconds);
    }
    if (args.output.json) print_group_json(*client, formation, node->group, context.out);
}

const std::string kTargetHelp = std::string(kMonitorAndFormationHelp) +
    "\nPrints the monitor's notifications for the group until the new primary has settled (--wait\n"
    "seconds, default 60, 0: do not wait). Exit codes: 1 bad arguments, 6 the monitor refused, is\n"
    "unreachable, or the new primary was not there in time.";

}  // namespace

void register_perform_commands(CommandLine& command_line) {
    auto* perform =
        command_line.add_command_set(command_line.root(), "perform", "Perform an action orchestrated by the monitor");

    for (const bool switchover : {false, true}) {
        auto args = std::make_shared<PerformArgs>();
        auto* command = command_line.add_command(
            *perform, switchover ? "switchover" : "failover",
            switchover ? "Perform a switchover for given formation and group"
                       : "Perform a failover for given formation and group",
            [args](CommandContext& context) { perform_failover(*args, context); });
        command->footer(std::string(kTargetHelp) +
                        "\n--group defaults to the node's group, else the formation's only group.\n"
                        "failover and switchover are the same: the primary is demoted, a standby promoted.");
        args->add_to(*command, true);
        args->wait.add_to(*command);
    }

    auto args = std::make_shared<PerformArgs>();
    auto* promotion = command_line.add_command(*perform, "promotion", "Perform a failover that promotes a target node",
                                               [args](CommandContext& context) { perform_promotion(*args, context); });
    promotion->footer(std::string(kTargetHelp) + "\n--name defaults to this node's name (with --pgdata).");
    args->add_to(*promotion, false);
    args->name.add_to(*promotion);
    args->wait.add_to(*promotion);
}

}  // namespace autoctl::cli

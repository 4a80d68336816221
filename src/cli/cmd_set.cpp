// autoctl set node candidate-priority|replication-quorum, set formation number-sync-standbys:
// change a replication setting on the monitor, wait until the group's primary has applied it
// (through apply_settings), then print the new value (reference §4 "get / set"). The getters are
// in cmd_get.cpp.

#include <algorithm>
#include <cctype>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
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

// pg_autoctl waits listen_notifications_timeout for the primary; set has no --wait option.
constexpr std::chrono::seconds kApplyTimeout{60};

struct SetArgs : MonitorQueryArgs {
    NodeNameOption name;
    std::string value;
};

std::optional<int> parse_int(const std::string& text) {
    if (text.empty() || text.size() > 9) return std::nullopt;
    const bool negative = text.front() == '-';
    const std::string digits = negative ? text.substr(1) : text;
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return negative ? -std::stoi(digits) : std::stoi(digits);
}

// Postgres' boolean input: a case-insensitive prefix of true/false/yes/no, on/off, 1/0.
std::optional<bool> parse_pg_bool(std::string text) {
    std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return std::tolower(c); });
    auto prefix_of = [&](std::string_view word, std::size_t min) {
        return text.size() >= min && text.size() <= word.size() && word.compare(0, text.size(), text) == 0;
    };
    if (prefix_of("true", 1) || prefix_of("yes", 1) || text == "on" || text == "1") return true;
    if (prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || text == "0") return false;
    return std::nullopt;
}

// Waits until no node of the group is assigned or reports apply_settings: the primary has the
// new setting. A group of one node has nothing to apply.
void wait_for_primary(GroupWatch& watch, MonitorClient& client, const std::string& formation) {
    if (group_nodes(client, formation, watch.group()).size() < 2) return;
    const bool done = watch.wait_until(
        [](const std::vector<NodeStatus>& nodes) {
            return std::none_of(nodes.begin(), nodes.end(), [](const NodeStatus& n) {
                return n.reported == "apply_settings" || n.goal == "apply_settings";
            });
        },
        kApplyTimeout);
    if (!done) {
        throw Error(ErrorKind::Monitor, "Failed to wait until the new setting has been applied: the primary of group " +
                                            std::to_string(watch.group()) + " did not settle within " +
                                            std::to_string(kApplyTimeout.count()) +
                                            " s; the monitor has the new value: see autoctl show settings");
    }
}

enum class NodeSetting { CandidatePriority, ReplicationQuorum };

void set_node_setting(const SetArgs& args, NodeSetting setting, CommandContext& context) {
    const bool priority = setting == NodeSetting::CandidatePriority;
    std::optional<int> number;
    std::optional<bool> quorum;
    if (priority) {
        number = parse_int(args.value);
        if (!number || *number < 0 || *number > 100) {
            throw Error(ErrorKind::Usage, "candidate-priority value " + args.value +
                                              " is not valid. Valid values are integers from 0 to 100. ");
        }
    } else if (!(quorum = parse_pg_bool(args.value))) {
        throw Error(ErrorKind::Usage,
                    "replication-quorum value " + args.value + " is not valid. Valid values are \"true\" or \"false.");
    }

    const auto target = args.target.resolve();
    const std::string formation = args.formation(target);
    const std::string name = !args.name.name.empty() ? args.name.name : target.node_name;
    if (name.empty()) {
        throw Error(ErrorKind::Usage, "please give the node's --name (or the --pgdata of a keeper node)");
    }
    auto client = connect_to_monitor(target);
    require_formation(*client, formation);
    const auto node = find_node(*client, formation, name);
    if (!node) {
        throw Error(ErrorKind::Monitor, "node \"" + name + "\" does not exist in formation \"" + formation +
                                            "\" (monitor at " + client->params().endpoint + ")");
    }
    GroupWatch watch(*client, formation, node->group, context.out, !args.output.json);
    const std::string notice =
        priority ? watch.submit("SELECT pgautofailover.set_node_candidate_priority($1, $2, $3)",
                                {formation, name, std::to_string(*number)})
                 : watch.submit("SELECT pgautofailover.set_node_replication_quorum($1, $2, $3)",
                                {formation, name, *quorum ? "true" : "false"});
    if (!notice.empty()) common::logger("cli")->warn("{}", notice);
    wait_for_primary(watch, *client, formation);

    nlohmann::ordered_json json;
    if (priority) {
        json["candidate-priority"] = *number;
        if (!args.output.json) context.out << *number << "\n";
    } else {
        json["replication-quorum"] = *quorum;
        if (!args.output.json) context.out << (*quorum ? "true" : "false") << "\n";
    }
    if (args.output.json) context.out << json.dump(4) << "\n";
}

void set_number_sync_standbys(const SetArgs& args, CommandContext& context) {
    const auto number = parse_int(args.value);
    if (!number || *number < 0) {
        throw Error(ErrorKind::Usage, "number-sync-standbys value " + args.value +
                                          " is not valid. Expected a non-negative integer value. ");
    }
    const auto target = args.target.resolve();
    const std::string formation = args.formation(target);
    auto client = connect_to_monitor(target);
    require_formation(*client, formation);
    // The setting is the formation's; group 0's primary applies it first.
    GroupWatch watch(*client, formation, 0, context.out, !args.output.json);
    const std::string notice = watch.submit("SELECT pgautofailover.set_formation_number_sync_standbys($1, $2)",
                                            {formation, std::to_string(*number)});
    if (!notice.empty()) common::logger("cli")->warn("{}", notice);
    wait_for_primary(watch, *client, formation);

    const auto names = client->query("SELECT pgautofailover.synchronous_standby_names($1, 0)", {formation});
    const std::string standby_names = names.empty() ? "" : names.text(0, 0);
    common::logger("cli")->info("primary node has now set synchronous_standby_names = '{}'", standby_names);
    if (args.output.json) {
        nlohmann::ordered_json json;
        json["number-sync-standbys"] = *number;
        json["synchronous_standby_names"] = standby_names;
        context.out << json.dump(4) << "\n";
    } else {
        context.out << *number << "\n";
    }
}

const std::string kTargetHelp = std::string(kMonitorAndFormationHelp) +
    "\nWaits (60 s) until the primary has applied the new value, printing the monitor's\n"
    "notifications, then prints the value. A negative value needs \"--\" before it.\n"
    "Exit codes: 1 invalid value, 6 the monitor refused, is unreachable, or did not apply it in time.";

}  // namespace

void register_set_commands(CommandLine& command_line) {
    auto* set = command_line.add_command_set(command_line.root(), "set", "Set an autoctl node, or formation setting");

    auto* node = command_line.add_command_set(*set, "node", "set a node property on the monitor");
    for (const auto setting : {NodeSetting::ReplicationQuorum, NodeSetting::CandidatePriority}) {
        const bool priority = setting == NodeSetting::CandidatePriority;
        auto args = std::make_shared<SetArgs>();
        auto* command = command_line.add_command(
            *node, priority ? "candidate-priority" : "replication-quorum",
            priority ? "set candidate property on the monitor" : "set replication-quorum property on the monitor",
            [args, setting](CommandContext& context) { set_node_setting(*args, setting, context); });
        command->footer(std::string(kTargetHelp) + "\n--name defaults to the keeper's own name (with --pgdata).");
        args->add_to(*command, false);
        args->name.add_to(*command);
        command->add_option("value", args->value, priority ? "an integer from 0 to 100" : "true or false")
            ->required()
            ->type_name(priority ? "PRIORITY" : "BOOL");
    }

    auto* formation = command_line.add_command_set(*set, "formation", "set a formation property on the monitor");
    auto args = std::make_shared<SetArgs>();
    auto* nss = command_line.add_command(*formation, "number-sync-standbys",
                                         "set number-sync-standbys for a formation on the monitor",
                                         [args](CommandContext& context) { set_number_sync_standbys(*args, context); });
    nss->footer(kTargetHelp);
    args->add_to(*nss, false);
    nss->add_option("value", args->value, "a non-negative integer")->required()->type_name("N");
}

}  // namespace autoctl::cli

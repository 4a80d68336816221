// autoctl get node candidate-priority|replication-quorum, get formation settings|number-sync-standbys:
// read one setting from the monitor (the setters, which wait for the primary to apply them, are
// `autoctl set ...`).

#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>

#include "autoctl/cli/commands.hpp"
#include "autoctl/common/error.hpp"
#include "monitor_commands.hpp"

namespace autoctl::cli {

namespace {

using common::Error;
using common::ErrorKind;

struct GetNodeArgs : MonitorQueryArgs {
    NodeNameOption name;
};

enum class NodeProperty { CandidatePriority, ReplicationQuorum };

void get_node_property(const GetNodeArgs& args, NodeProperty property, CommandContext& context) {
    const auto target = args.target.resolve();
    const std::string formation = args.formation(target);
    const std::string name = !args.name.name.empty() ? args.name.name : target.node_name;
    if (name.empty()) {
        throw Error(ErrorKind::Usage, "please give the node's --name (or the --pgdata of a keeper node)");
    }
    auto client = connect_to_monitor(target);
    const auto result = client->query(
        "SELECT candidatepriority, replicationquorum FROM pgautofailover.node "
        " WHERE formationid = $1 AND nodename = $2",
        {formation, name});
    if (result.empty()) {
        require_formation(*client, formation);
        throw Error(ErrorKind::Monitor, "node \"" + name + "\" does not exist in formation \"" + formation +
                                            "\" (monitor at " + client->params().endpoint + ")");
    }
    nlohmann::ordered_json json;
    json["name"] = name;
    if (property == NodeProperty::CandidatePriority) {
        const int priority = std::stoi(result.text(0, 0));
        json["candidate-priority"] = priority;
        if (!args.output.json) context.out << priority << "\n";
    } else {
        const bool quorum = result.text(0, 1) == "t";
        json["replication-quorum"] = quorum;
        if (!args.output.json) context.out << (quorum ? "true" : "false") << "\n";
    }
    if (args.output.json) context.out << json.dump(4) << "\n";
}

void get_number_sync_standbys(const MonitorQueryArgs& args, CommandContext& context) {
    const auto target = args.target.resolve();
    const std::string formation = args.formation(target);
    auto client = connect_to_monitor(target);
    const auto result = client->query(
        "SELECT number_sync_standbys FROM pgautofailover.formation WHERE formationid = $1", {formation});
    if (result.empty()) {
        require_formation(*client, formation);
        throw Error(ErrorKind::Monitor, "formation \"" + formation + "\" disappeared from the monitor");
    }
    const int value = std::stoi(result.text(0, 0));
    if (args.output.json) {
        nlohmann::ordered_json json;
        json["number-sync-standbys"] = value;
        context.out << json.dump(4) << "\n";
    } else {
        context.out << value << "\n";
    }
}

constexpr const char* kTargetHelp = kMonitorAndFormationHelp;

}  // namespace

void register_get_commands(CommandLine& command_line) {
    auto* get = command_line.add_command_set(command_line.root(), "get", "Get an autoctl node, or formation setting");

    auto* node = command_line.add_command_set(*get, "node", "get a node property from the monitor");
    for (const auto property : {NodeProperty::ReplicationQuorum, NodeProperty::CandidatePriority}) {
        const bool priority = property == NodeProperty::CandidatePriority;
        auto args = std::make_shared<GetNodeArgs>();
        auto* command = command_line.add_command(
            *node, priority ? "candidate-priority" : "replication-quorum",
            priority ? "get candidate property from the monitor" : "get replication-quorum property from the monitor",
            [args, property](CommandContext& context) { get_node_property(*args, property, context); });
        command->footer(std::string(kTargetHelp) + "\n--name defaults to the keeper's own name (with --pgdata).");
        args->add_to(*command, false);
        args->name.add_to(*command);
    }

    auto* formation = command_line.add_command_set(*get, "formation", "get a formation property from the monitor");
    auto settings_args = std::make_shared<MonitorQueryArgs>();
    auto* settings = command_line.add_command(
        *formation, "settings", "get replication settings for a formation from the monitor",
        [settings_args](CommandContext& context) { print_formation_settings(*settings_args, context); });
    settings->footer(std::string(kTargetHelp) + "\nThe same as autoctl show settings.");
    settings_args->add_to(*settings, false);

    auto nss_args = std::make_shared<MonitorQueryArgs>();
    auto* nss = command_line.add_command(
        *formation, "number-sync-standbys", "get number_sync_standbys for a formation from the monitor",
        [nss_args](CommandContext& context) { get_number_sync_standbys(*nss_args, context); });
    nss->footer(kTargetHelp);
    nss_args->add_to(*nss, false);
}

}  // namespace autoctl::cli

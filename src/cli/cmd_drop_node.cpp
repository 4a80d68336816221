// autoctl drop node: remove a node from its formation (reference §4 "drop").
//
// - another node, through the monitor: --name N (in --formation) or --hostname H [--pgport P];
//   then wait (--wait s) until the monitor has removed its row, which happens once its keeper
//   reports "dropped" (at once with --force).
// - this node, --pgdata of a keeper: remove it from the monitor, stop its autoctl (the keeper
//   stops by itself once dropped), and with --destroy remove PGDATA and the node's files.
//
// Every check that can fail (configuration, monitor reachable, node known) comes before the
// first change, so an error leaves the node as it was.

#include <csignal>
#include <filesystem>
#include <memory>

#include "autoctl/cli/commands.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/common/pid_file.hpp"
#include "autoctl/pg/pg_ctl.hpp"
#include "local_keeper.hpp"
#include "monitor_commands.hpp"
#include "node_support.hpp"
#include "notification_table.hpp"

namespace autoctl::cli {

namespace {

namespace fs = std::filesystem;
using common::Error;
using common::ErrorKind;

// pg_autoctl waits this long for its local keeper to stop by itself.
constexpr std::chrono::seconds kStopTimeout{30};

struct DropNodeArgs : MonitorQueryArgs {
    NodeNameOption name;
    WaitOption wait;
    std::string hostname;
    int pgport = 5432;
    bool destroy = false;
    bool force = false;
};

GroupWatch::Condition node_is_gone(std::int64_t id) {
    return [id](const std::vector<NodeStatus>& nodes) {
        for (const auto& n : nodes) {
            if (n.id == id) return false;
        }
        return true;
    };
}

std::string describe(const NodeStatus& node) {
    return "node " + std::to_string(node.id) + " \"" + node.name + "\" (" + node.host + ":" +
           std::to_string(node.port) + ")";
}

void drop_remote_node(const DropNodeArgs& args, CommandContext& context) {
    auto log = common::logger("cli");
    const auto target = args.target.resolve();
    std::string formation = args.formation(target);
    auto client = connect_to_monitor(target);
    std::optional<NodeStatus> node;
    if (!args.hostname.empty()) {
        const auto found = client->query(
            "SELECT formationid, nodename FROM pgautofailover.node WHERE nodehost = $1 AND nodeport = $2",
            {args.hostname, std::to_string(args.pgport)});
        if (found.empty()) {
            throw Error(ErrorKind::Monitor, "couldn't find node with hostname \"" + args.hostname + "\" and port " +
                                                std::to_string(args.pgport) + " (monitor at " +
                                                client->params().endpoint + ")");
        }
        formation = found.text(0, 0);
        node = find_node(*client, formation, found.text(0, 1));
    } else {
        require_formation(*client, formation);
        node = find_node(*client, formation, args.name.name);
    }
    if (!node) {
        throw Error(ErrorKind::Monitor, "node \"" + args.name.name + "\" is not a member of formation \"" + formation +
                                            "\" (monitor at " + client->params().endpoint + ")");
    }
    GroupWatch watch(*client, formation, node->group, context.out);
    watch.submit("SELECT pgautofailover.remove_node($1::bigint, $2::bool)",
                 {std::to_string(node->id), args.force ? "true" : "false"});
    if (args.wait.seconds > 0) {
        if (!watch.wait_until(node_is_gone(node->id), std::chrono::seconds(args.wait.seconds))) {
            throw Error(ErrorKind::Monitor, describe(*node) + " is being dropped but is still on the monitor after " +
                                                std::to_string(args.wait.seconds) +
                                                " s: its keeper removes it when it reports \"dropped\"; use --force "
                                                "when that keeper is gone for good");
        }
        log->info("Removed {} from formation \"{}\"", describe(*node), formation);
    }
}

bool runs_without_monitor(const common::Config& config) {
    const auto uri = config.get("pg_autoctl.monitor");
    return uri.empty() || uri == "PG_AUTOCTL_DISABLED";
}

// Removes this node from the monitor and stops its autoctl; the monitor's row is gone after.
void remove_from_monitor(const DropNodeArgs& args, const LocalKeeper& keeper, CommandContext& context) {
    auto log = common::logger("cli");
    MonitorTarget target = monitor_of(keeper);
    if (!args.target.monitor.monitor.empty()) target.uri = args.target.monitor.monitor;  // --monitor wins
    auto client = connect_to_monitor(target);
    const auto node = find_node(*client, keeper.formation, keeper.name);
    if (!node) {
        log->warn("Node \"{}\" is not registered in formation \"{}\" on the monitor (already dropped?)", keeper.name,
                  keeper.formation);
        stop_supervisor(keeper.paths, SIGTERM, kStopTimeout);
        return;
    }
    GroupWatch watch(*client, keeper.formation, node->group, context.out);
    watch.submit("SELECT pgautofailover.remove_node($1::bigint, $2::bool)",
                 {std::to_string(node->id), args.force ? "true" : "false"});
    const bool running = common::probe_pid_file(keeper.paths.pid).running;
    if (running && !args.force && args.wait.seconds > 0) {
        // The keeper reports "dropped", the monitor removes the row, the keeper exits (121).
        if (!watch.wait_until(node_is_gone(node->id), std::chrono::seconds(args.wait.seconds))) {
            log->warn("{} did not report \"dropped\" within {} s: stopping it", describe(*node), args.wait.seconds);
        }
    }
    stop_supervisor(keeper.paths, SIGTERM, kStopTimeout);
    if (!node_is_gone(node->id)(group_nodes(*client, keeper.formation, node->group))) {
        // Its keeper is stopped and will never report "dropped": the monitor removes the row now.
        log->info("Removing {} from the monitor for good: its keeper is stopped", describe(*node));
        watch.submit("SELECT pgautofailover.remove_node($1::bigint, true)", {std::to_string(node->id)});
    }
    log->info("Removed {} from formation \"{}\"", describe(*node), keeper.formation);
}

void destroy_local_files(const LocalKeeper& keeper) {
    auto log = common::logger("cli");
    const fs::path pgdata = keeper.config.get("postgresql.pgdata");
    std::error_code ec;
    if (is_postgres_cluster(pgdata)) {
        const pg::PgCtl pg_ctl(bindir_for(keeper.config));
        if (pg_ctl.status(pgdata).is_running) pg_ctl.stop(pgdata, pg::StopMode::Immediate);
    }
    fs::remove_all(pgdata, ec);
    if (ec) throw Error(ErrorKind::Internal, "failed to remove PGDATA \"" + pgdata.string() + "\": " + ec.message());
    log->info("Removed PGDATA \"{}\"", pgdata.string());
    for (const auto& file : {keeper.paths.init, keeper.paths.state, keeper.paths.nodes, keeper.paths.config}) {
        if (fs::remove(file, ec)) log->info("Removed \"{}\"", file.string());
        if (ec) throw Error(ErrorKind::Internal, "failed to remove \"" + file.string() + "\": " + ec.message());
    }
}

void drop_local_node(const DropNodeArgs& args, CommandContext& context) {
    refuse_root();
    const auto keeper = load_local_keeper(args.target.pgdata, "drop node");
    if (runs_without_monitor(keeper.config)) {
        if (!args.destroy) {
            throw Error(ErrorKind::Usage, "this node runs without a monitor: only autoctl drop node --destroy applies");
        }
        stop_supervisor(keeper.paths, SIGTERM, kStopTimeout);
    } else {
        remove_from_monitor(args, keeper, context);
    }
    if (args.destroy) {
        destroy_local_files(keeper);
    } else {
        common::logger("cli")->info("Preserving PGDATA and the configuration file {}: autoctl drop node --destroy "
                                    "removes them",
                                    keeper.paths.config.string());
    }
}

void drop_node(const DropNodeArgs& args, CommandContext& context) {
    const bool remote = !args.name.name.empty() || !args.hostname.empty();
    if (remote && args.destroy) {
        throw Error(ErrorKind::Usage, "--destroy only applies to this node (--pgdata): files on another host are "
                                      "not removed from here");
    }
    if (!args.name.name.empty() && !args.hostname.empty()) {
        throw Error(ErrorKind::Usage, "please use either --name or --hostname, not both");
    }
    if (remote) return drop_remote_node(args, context);
    if (args.target.pgdata.pgdata.empty()) {
        throw Error(ErrorKind::Usage,
                    "please give the --pgdata of this node, or the --name or --hostname of the node to drop");
    }
    drop_local_node(args, context);
}

}  // namespace

void register_drop_node_commands(CommandLine& command_line) {
    auto* drop = command_line.add_command_set(command_line.root(), "drop", "Drop an autoctl node, or formation");
    auto args = std::make_shared<DropNodeArgs>();
    auto* command = command_line.add_command(*drop, "node", "Drop a node from the autoctl monitor",
                                             [args](CommandContext& context) { drop_node(*args, context); });
    command->footer(
        "Another node: --name N [--formation F] or --hostname H [--pgport P], with --monitor (or\n"
        "$PG_AUTOCTL_MONITOR) or --pgdata; waits (--wait s, default 60) until its keeper has reported\n"
        "\"dropped\" and the monitor removed it; --force removes it at once.\n"
        "This node: --pgdata of a keeper; removes it from the monitor, stops its autoctl, and with\n"
        "--destroy removes PGDATA and its configuration and state files.\n"
        "Exit codes: 1 bad arguments, 2 configuration, 6 the monitor refused or is unreachable.");
    args->add_to(*command, false, false);
    args->name.add_to(*command);
    auto* hostname = command->add_option("--hostname", args->hostname, "the node's host name or address")->type_name("HOST");
    command->add_option("--pgport", args->pgport, "the node's Postgres port (default: 5432)")
        ->type_name("PORT")
        ->check(CLI::Range(1, 65535))
        ->needs(hostname);
    command->add_flag("--destroy", args->destroy, "also remove PGDATA and the node's files (this node only)");
    command->add_flag("--force", args->force, "remove the node without waiting for its keeper");
    args->wait.add_to(*command);
}

}  // namespace autoctl::cli

// The data node's sub-processes and the internal commands pg_autoctl's test harness uses, all
// under `autoctl do` (listed only when PG_AUTOCTL_DEBUG is set):
//   do service keeper                the keeper loop, a service of the data node's supervisor
//   do service restart postgres      fast-stop Postgres; the supervisor starts it again
//   do fsm state | assign <state>    the keeper's state file
//   do pgsetup ready | wait          whether Postgres accepts connections

#include <signal.h>

#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <thread>

#include "autoctl/cli/commands.hpp"
#include "autoctl/cli/options.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/keeper/keeper.hpp"
#include "autoctl/keeper/keeper_state.hpp"
#include "autoctl/keeper/local_postgres.hpp"
#include "autoctl/keeper/supervised_postgres.hpp"
#include "autoctl/pg/pg_ctl.hpp"
#include "node_support.hpp"

namespace autoctl::cli {

namespace {

namespace fs = std::filesystem;
using common::Error;
using common::ErrorKind;

struct PgdataArgs {
    PgdataOption pgdata;
};

struct AssignArgs {
    PgdataOption pgdata;
    std::string state;
};

struct WaitArgs {
    PgdataOption pgdata;
    int timeout = 30;
};

common::Config keeper_config(const common::NodePaths& paths) {
    auto config = load_node_config(paths);
    if (config.role() != common::ConfigRole::Keeper) {
        throw Error(ErrorKind::Config, "PGDATA \"" + paths.pgdata.string() + "\" is not a data node");
    }
    return config;
}

void service_keeper(const PgdataArgs& args, CommandContext&) {
    refuse_root();
    const auto paths = args.pgdata.paths();
    auto config = keeper_config(paths);
    install_service_signal_handlers();
    if (!attach_to_supervisor("keeper")) return;
    keeper::Keeper keeper(paths, config, true);
    if (keeper.run(service_stop_requested(), service_reload_requested())) {
        throw Error(ErrorKind::Dropped, "this node was dropped from the monitor");
    }
}

void restart_postgres(const PgdataArgs& args, CommandContext&) {
    const auto paths = args.pgdata.paths();
    const auto config = keeper_config(paths);
    const keeper::LocalPostgres pg(config);
    const auto status = pg::PgCtl(pg.bindir()).status(pg.pgdata());
    if (!status.is_running || !common::probe_pid_file(paths.pid).running) {
        throw Error(ErrorKind::State, "autoctl is not running Postgres at \"" + pg.pgdata().string() + "\"");
    }
    const int old_pid = status.pid_file->pid;
    ::kill(old_pid, SIGINT);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
        const auto now = pg::PgCtl(pg.bindir()).status(pg.pgdata());
        if (now.is_running && now.pid_file->pid != old_pid && pg.is_ready()) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            throw Error(ErrorKind::Postgres, "Postgres did not come back within 60 s");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    common::logger("cli")->info("Postgres restarted");
}

void fsm_state(const PgdataArgs& args, CommandContext& context) {
    const auto paths = args.pgdata.paths();
    const auto state = keeper::load_keeper_state(paths.state);
    if (!state) throw Error(ErrorKind::State, "no state file at \"" + paths.state.string() + "\"");
    nlohmann::ordered_json json;
    json["node_id"] = state->node_id;
    json["group"] = state->group;
    json["current_role"] = std::string(fsm::to_string(state->current));
    json["assigned_role"] = std::string(fsm::to_string(state->assigned));
    json["last_monitor_contact"] = state->last_monitor_contact;
    json["last_secondary_contact"] = state->last_secondary_contact;
    context.out << json.dump(4) << "\n";
}

void fsm_assign(const AssignArgs& args, CommandContext&) {
    const auto paths = args.pgdata.paths();
    const auto target = fsm::parse_node_state(args.state);
    if (!target) throw Error(ErrorKind::Usage, "unknown state \"" + args.state + "\"");
    auto state = keeper::load_keeper_state(paths.state);
    if (!state) throw Error(ErrorKind::State, "no state file at \"" + paths.state.string() + "\"");
    state->assigned = *target;
    keeper::save_keeper_state(paths.state, *state);
    common::logger("cli")->info("Assigned state {} (the running keeper reaches it, unless the monitor assigns "
                                "another one)",
                                args.state);
}

void pgsetup_ready(const PgdataArgs& args, CommandContext& context) {
    const keeper::LocalPostgres pg(keeper_config(args.pgdata.paths()));
    const bool ready = pg.is_ready();
    context.out << (ready ? "true" : "false") << "\n";
    if (!ready) throw Error(ErrorKind::Command, "Postgres is not ready");
}

void pgsetup_wait(const WaitArgs& args, CommandContext& context) {
    const keeper::LocalPostgres pg(keeper_config(args.pgdata.paths()));
    if (!pg.wait_ready(std::chrono::seconds(args.timeout))) {
        throw Error(ErrorKind::Command, "Postgres is not ready after " + std::to_string(args.timeout) + " s");
    }
    context.out << "true\n";
}

template <typename Args>
CLI::App* pgdata_command(CommandLine& command_line, CLI::App& parent, const std::string& name,
                         const std::string& description, std::shared_ptr<Args> args,
                         void (*action)(const Args&, CommandContext&)) {
    auto* command = command_line.add_command(parent, name, description,
                                             [args, action](CommandContext& context) { action(*args, context); });
    args->pgdata.add_to(*command);
    return command;
}

}  // namespace

void register_keeper_service_commands(CommandLine& command_line) {
    auto* do_set = command_line.add_command_set(command_line.root(), "do", "Internal commands and sub-processes (debug)");
    if (std::getenv("PG_AUTOCTL_DEBUG") == nullptr) do_set->group("");
    auto* service_set = command_line.add_command_set(*do_set, "service", "Run autoctl sub-processes (services)");
    pgdata_command(command_line, *service_set, "keeper", "the keeper loop of a data node",
                   std::make_shared<PgdataArgs>(), service_keeper);
    auto* restart = command_line.add_command_set(*service_set, "restart", "Restart an autoctl service");
    pgdata_command(command_line, *restart, "postgres", "fast-stop Postgres and wait until it runs again",
                   std::make_shared<PgdataArgs>(), restart_postgres);

    auto* fsm_set = command_line.add_command_set(*do_set, "fsm", "The keeper's local state");
    pgdata_command(command_line, *fsm_set, "state", "print the keeper's state file", std::make_shared<PgdataArgs>(),
                   fsm_state);
    auto assign_args = std::make_shared<AssignArgs>();
    auto* assign = pgdata_command(command_line, *fsm_set, "assign", "assign a state to the local keeper", assign_args,
                                  fsm_assign);
    assign->add_option("state", assign_args->state, "the state to reach")->required();

    auto* pgsetup = command_line.add_command_set(*do_set, "pgsetup", "The local Postgres");
    pgdata_command(command_line, *pgsetup, "ready", "whether Postgres accepts connections",
                   std::make_shared<PgdataArgs>(), pgsetup_ready);
    auto wait_args = std::make_shared<WaitArgs>();
    auto* wait = pgdata_command(command_line, *pgsetup, "wait", "wait until Postgres accepts connections", wait_args,
                                pgsetup_wait);
    wait->add_option("--timeout", wait_args->timeout, "seconds (default 30)");
}

}  // namespace autoctl::cli

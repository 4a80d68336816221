// autoctl run on a data node: the supervisor with two services, Postgres (following the keeper's
// expected status) and the keeper (design.md §1), and what every service process shares (signals,
// supervisor link).

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>

#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/common/paths.hpp"
#include "autoctl/common/supervisor.hpp"
#include "autoctl/keeper/keeper.hpp"
#include "autoctl/keeper/supervised_postgres.hpp"
#include "autoctl/pg/command.hpp"
#include "autoctl/pg/pg_ctl.hpp"
#include "node_support.hpp"

namespace autoctl::cli {

namespace {

namespace fs = std::filesystem;
using common::Error;
using common::ErrorKind;

std::atomic<bool> g_stop_requested{false};
std::atomic<bool> g_reload_requested{false};

extern "C" void on_stop_signal(int) { g_stop_requested = true; }
extern "C" void on_reload_signal(int) { g_reload_requested = true; }
extern "C" void on_quit_signal(int) { ::_exit(0); }

using common::quoted;

}  // namespace

void install_service_signal_handlers() {
    struct sigaction action {};
    sigemptyset(&action.sa_mask);
    action.sa_handler = on_stop_signal;
    ::sigaction(SIGTERM, &action, nullptr);
    ::sigaction(SIGINT, &action, nullptr);
    action.sa_handler = on_reload_signal;
    ::sigaction(SIGHUP, &action, nullptr);
    action.sa_handler = on_quit_signal;
    ::sigaction(SIGQUIT, &action, nullptr);
}

std::atomic<bool>& service_stop_requested() { return g_stop_requested; }
std::atomic<bool>& service_reload_requested() { return g_reload_requested; }

bool attach_to_supervisor(const std::string& role) {
    const char* parent = std::getenv("AUTOCTL_SUPERVISOR_PID");
    if (parent == nullptr || *parent == '\0') return true;
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (std::to_string(::getppid()) != parent) {
        common::logger("cli")->warn("{}: the supervisor (pid {}) is gone: not starting", role, parent);
        return false;
    }
    return true;
}

void run_keeper_node(const common::NodePaths& paths, const GlobalOptions& global,
                     std::optional<common::PidFile> held) {
    refuse_root();
    auto log = common::logger("keeper");
    const auto config = load_node_config(paths);
    if (config.role() != common::ConfigRole::Keeper) {
        throw Error(ErrorKind::Config, "PGDATA " + quoted(paths.pgdata) + " is not a data node");
    }
    std::error_code ec;
    if (!fs::exists(paths.state, ec)) {
        throw Error(ErrorKind::State, "this node was never registered with the monitor (no state file " +
                                          quoted(paths.state) + "): run autoctl create postgres again");
    }
    const fs::path pgdata = config.get("postgresql.pgdata");
    const int port = static_cast<int>(config.get_int("postgresql.port"));
    check_socket_path_length(config.get("postgresql.host"), port);
    ensure_socket_directory(config.get("postgresql.host"));

    common::PidFile pid_file =
        held ? std::move(*held) : common::PidFile::acquire(paths.pid, own_pid_contents(paths));
    if (!held && pid_file.stale_pid() != 0) {
        log->info("keeper: replaced a stale pid file (pid {} is not running)", pid_file.stale_pid());
    }
    const auto bindir = bindir_for(config);
    if (const auto status = pg::PgCtl(bindir).status(pgdata); !status.is_running) {
        check_port_available(config.get("postgresql.listen_addresses"), port);
    }

    keeper::prepare_restart_check(paths);
    keeper::SupervisedPostgresOptions supervised;
    supervised.pgdata = pgdata;
    supervised.postgres_program = bindir.program("postgres");
    supervised.status_file = keeper::expected_status_file(paths.pid);
    common::ServiceSpec postgres = keeper::postgres_service_spec(supervised);

    common::ServiceSpec keeper = autoctl_subprocess_service("node-active", "keeper", paths.pgdata, global);
    keeper.stop_timeout = std::chrono::seconds(30);

    common::SupervisorOptions options;
    options.role = "keeper";
    options.pid_file = &pid_file;
    options.pid_contents = own_pid_contents(paths);
    common::Supervisor supervisor(options, {postgres, keeper});
    const auto result = supervisor.run();
    if (result.exit_code != common::ExitCode::Quit) {
        throw Error(ErrorKind::Fatal, "keeper: " + result.message);
    }
}

}  // namespace autoctl::cli

// autoctl run, stop, reload, status, and the hidden `autoctl do service monitor` (the monitor
// service process the supervisor starts; listed only when PG_AUTOCTL_DEBUG is set).

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <sstream>
#include <thread>

#include "autoctl/cli/commands.hpp"
#include "autoctl/cli/options.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/common/paths.hpp"
#include "autoctl/common/pid_file.hpp"
#include "autoctl/monitor/monitor_node.hpp"
#include "autoctl/monitor/monitor_service.hpp"
#include "autoctl/pg/controldata.hpp"
#include "node_support.hpp"

namespace autoctl::cli {

namespace {

namespace fs = std::filesystem;
using common::Error;
using common::ErrorKind;

using common::quoted;

struct PgdataArgs {
    PgdataOption pgdata;
};

struct StatusArgs {
    PgdataOption pgdata;
    OutputOptions output;
};

struct StopArgs {
    PgdataOption pgdata;
    bool fast = false;
    bool immediate = false;
};

// The PGDATA of the node: its configuration's, else the one given.
fs::path node_pgdata(const common::NodePaths& paths) {
    std::error_code ec;
    if (fs::exists(paths.config, ec)) {
        try {
            return common::Config::load(paths.config).get("postgresql.pgdata");
        } catch (const Error&) {
        }
    }
    return paths.pgdata;
}

std::optional<pg::PostmasterPid> live_postmaster(const fs::path& pgdata) {
    std::ifstream in(pgdata / "postmaster.pid", std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    auto pid_file = pg::parse_postmaster_pid(text.str());
    if (!pid_file || pid_file->pid <= 0 || (::kill(pid_file->pid, 0) != 0 && errno != EPERM)) return std::nullopt;
    return pid_file;
}

void run(const PgdataArgs& args, CommandContext& context) {
    // Before the configuration is looked for: root has none (its HOME is not the node's).
    refuse_root();
    const auto paths = args.pgdata.paths();
    if (load_node_config(paths).role() == common::ConfigRole::Keeper) {
        run_keeper_node(paths, context.global);
    } else {
        run_monitor_node(paths, context.global);
    }
}

void stop(const StopArgs& args, CommandContext&) {
    const auto paths = args.pgdata.paths();
    const int sig = args.immediate ? SIGQUIT : args.fast ? SIGINT : SIGTERM;
    if (!stop_supervisor(paths, sig, std::chrono::seconds(120))) {
        throw FatalError(ErrorKind::Internal, "autoctl is not running at " + quoted(paths.pgdata) +
                                                  " (no live pid file at " + quoted(paths.pid) + "): nothing to stop");
    }
}

void reload(const PgdataArgs& args, CommandContext&) {
    auto log = common::logger("cli");
    const auto paths = args.pgdata.paths();
    const auto probe = common::probe_pid_file(paths.pid);
    if (!probe.running) {
        log->info("autoctl is not running at {}: nothing to reload", quoted(paths.pgdata));
        return;
    }
    if (::kill(probe.pid, SIGHUP) != 0) {
        throw Error(ErrorKind::Internal, "failed to signal autoctl (pid " + std::to_string(probe.pid) + "): " +
                                             std::strerror(errno));
    }
    log->info("Sent SIGHUP to autoctl (pid {}) to reload its configuration", probe.pid);
}

void status(const StatusArgs& args, CommandContext& context) {
    auto log = common::logger("cli");
    const auto paths = args.pgdata.paths();
    const auto pgdata = node_pgdata(paths);
    const auto probe = common::probe_pid_file(paths.pid);
    const auto postmaster = live_postmaster(pgdata);
    if (!probe.running) {
        if (postmaster) {
            log->warn("Postgres is running at {} with pid {}, without autoctl", quoted(pgdata), postmaster->pid);
        }
        throw Error(ErrorKind::State, "autoctl is not running at " + quoted(paths.pgdata));
    }
    const bool ready = postmaster && postmaster->status == "ready";
    if (args.output.json) {
        nlohmann::ordered_json json;
        json["autoctl"]["pid"] = probe.pid;
        json["autoctl"]["status"] = "running";
        json["autoctl"]["pgdata"] = pgdata.string();
        json["autoctl"]["version"] = probe.contents ? probe.contents->version : version_string();
        json["autoctl"]["services"] = nlohmann::ordered_json::array();
        if (probe.contents) {
            for (const auto& [pid, name] : probe.contents->services) {
                nlohmann::ordered_json service;
                service["name"] = name;
                service["pid"] = pid;
                json["autoctl"]["services"].push_back(service);
            }
        }
        json["postgres"]["running"] = postmaster.has_value();
        json["postgres"]["pid"] = postmaster ? postmaster->pid : 0;
        json["postgres"]["port"] = postmaster ? postmaster->port : 0;
        json["postgres"]["status"] = postmaster ? postmaster->status : "stopped";
        context.out << json.dump(4) << "\n";
    }
    log->info("autoctl is running with pid {}", probe.pid);
    if (!ready) {
        throw Error(ErrorKind::Command,
                    "Postgres is not ready at " + quoted(pgdata) +
                        (postmaster ? " (pid " + std::to_string(postmaster->pid) + ", status \"" + postmaster->status + "\")"
                                    : " (not running)") +
                        ": autoctl restarts it; see its log");
    }
    log->info("Postgres is serving PGDATA {} on port {} with pid {}", quoted(pgdata), postmaster->port, postmaster->pid);
}

// --- do service monitor ---------------------------------------------------------------------

void service_monitor(const PgdataArgs& args, CommandContext&) {
    auto log = common::logger("monitor");
    refuse_root();
    const auto paths = args.pgdata.paths();
    auto config = load_node_config(paths);
    if (config.role() != common::ConfigRole::Monitor) {
        throw Error(ErrorKind::Config, "PGDATA " + quoted(paths.pgdata) + " is not a monitor node");
    }
    install_service_signal_handlers();
    if (!attach_to_supervisor("monitor service")) return;
    const int pid = static_cast<int>(::getpid());
    auto options = monitor::monitor_service_options(config, pid);
    log->info("monitor service: starting for database {} on {}:{} (pid {})", monitor::kMonitorDatabase,
              config.get("postgresql.pgdata"), config.get("postgresql.port"), pid);
    while (true) {
        std::atomic<bool> interrupt{false};
        std::atomic<bool> finished{false};
        std::exception_ptr failure;
        std::thread worker([&] {
            // The signals go to the main thread: the service's threads (this one and the health
            // checker it starts, which inherits this mask) never see EINTR inside libpq.
            sigset_t signals;
            sigemptyset(&signals);
            for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP}) sigaddset(&signals, sig);
            ::pthread_sigmask(SIG_BLOCK, &signals, nullptr);
            try {
                monitor::MonitorService(options).run(interrupt);
            } catch (...) {
                failure = std::current_exception();
            }
            finished = true;
        });
        bool restart = false;
        while (!finished.load()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            if (service_stop_requested().load()) {
                interrupt = true;
                break;
            }
            if (service_reload_requested().exchange(false)) {
                try {
                    auto fresh = load_node_config(paths);
                    auto fresh_options = monitor::monitor_service_options(fresh, pid);
                    if (monitor::same_service_options(options, fresh_options)) {
                        log->info("monitor service: configuration reloaded, no change for the monitor service");
                    } else {
                        log->info("monitor service: configuration reloaded, restarting with the new timing");
                        options = fresh_options;
                        restart = true;
                        interrupt = true;
                        break;
                    }
                } catch (const std::exception& e) {
                    log->error("monitor service: reload failed, keeping the previous configuration: {}", e.what());
                }
            }
        }
        worker.join();
        if (failure) {
            try {
                std::rethrow_exception(failure);
            } catch (const std::exception& e) {
                // Not worth a restart (e.g. a schema newer than this binary): the supervisor stops.
                throw Error(ErrorKind::Fatal, std::string("monitor service: ") + e.what());
            }
        }
        if (!restart && !interrupt.load()) {
            throw Error(ErrorKind::Fatal, "monitor service: stopped on its own (bug)");
        }
        if (!restart) break;
    }
    log->info("monitor service: stopped");
}

}  // namespace

void register_service_commands(CommandLine& command_line) {
    CLI::App& root = command_line.root();

    // do service monitor: hidden unless PG_AUTOCTL_DEBUG is set (to anything), as pg_autoctl's
    // `do` tree; it always parses, because the supervisor runs it.
    auto* do_set = command_line.add_command_set(root, "do", "Internal commands and sub-processes (debug)");
    if (std::getenv("PG_AUTOCTL_DEBUG") == nullptr) do_set->group("");
    auto* service_set = command_line.add_command_set(*do_set, "service", "Run autoctl sub-processes (services)");
    auto service_args = std::make_shared<PgdataArgs>();
    auto* service = command_line.add_command(
        *service_set, "monitor", "autoctl service that runs the monitor's decisions and health checks",
        [service_args](CommandContext& context) { service_monitor(*service_args, context); });
    service->footer(
        "Runs the monitor service in the foreground (autoctl run starts it as a child process).\n"
        "SIGTERM or SIGINT stop it cleanly, SIGQUIT at once, SIGHUP reloads the [monitor] settings.");
    service_args->pgdata.add_to(*service);

    auto run_args = std::make_shared<PgdataArgs>();
    auto* run_command = command_line.add_command(root, "run", "Run the autoctl service (monitor or keeper)",
                                                 [run_args](CommandContext& context) { run(*run_args, context); });
    run_command->footer(
        "Supervises Postgres (restarted at once when it dies) and the monitor service, or on a data\n"
        "node the keeper. Signals: SIGTERM stops cleanly (the monitor service or keeper, then Postgres\n"
        "with a fast shutdown), SIGINT\n"
        "stops fast, SIGQUIT immediately, SIGHUP reloads the configuration.");
    run_args->pgdata.add_to(*run_command);

    auto stop_args = std::make_shared<StopArgs>();
    auto* stop_command = command_line.add_command(root, "stop", "signal the autoctl service for it to stop",
                                                  [stop_args](CommandContext& context) { stop(*stop_args, context); });
    stop_command->footer(
        "Sends SIGTERM (default), SIGINT (--fast) or SIGQUIT (--immediate) to the running autoctl and\n"
        "waits until it has exited. Not running: exit 12.");
    stop_args->pgdata.add_to(*stop_command);
    auto* fast = stop_command->add_flag("--fast", stop_args->fast, "fast shutdown");
    auto* immediate = stop_command->add_flag("--immediate", stop_args->immediate, "immediate shutdown");
    fast->excludes(immediate);

    auto reload_args = std::make_shared<PgdataArgs>();
    auto* reload_command =
        command_line.add_command(root, "reload", "signal the autoctl for it to reload its configuration",
                                 [reload_args](CommandContext& context) { reload(*reload_args, context); });
    reload_args->pgdata.add_to(*reload_command);

    auto status_args = std::make_shared<StatusArgs>();
    auto* status_command =
        command_line.add_command(root, "status", "Display the current status of the autoctl service",
                                 [status_args](CommandContext& context) { status(*status_args, context); });
    status_command->footer("Exit codes: 0 running, 3 not running, 5 running but Postgres is not ready.");
    status_args->pgdata.add_to(*status_command);
    status_args->output.add_to(*status_command);
}

}  // namespace autoctl::cli

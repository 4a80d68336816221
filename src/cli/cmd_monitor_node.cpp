// autoctl create monitor, autoctl drop monitor: the monitor node's lifecycle.
//
// create monitor writes, in this order: the init file (the marker of a create in progress), the
// configuration (atomically), then PGDATA (initdb, or an existing cluster adopted), the
// certificate, postgresql-auto-failover.conf and pg_hba.conf; starts Postgres, creates the roles,
// the database and the schema, stops Postgres, and removes the init file. Every step is
// idempotent, so a create that failed or was interrupted is finished by running it again; a
// complete monitor (configuration present, no init file) is left untouched.

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <ostream>
#include <tuple>

#include "autoctl/cli/commands.hpp"
#include "autoctl/cli/monitor_client.hpp"
#include "autoctl/cli/options.hpp"
#include "autoctl/common/atomic_file.hpp"
#include "autoctl/common/config.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/ini_file.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/common/paths.hpp"
#include "autoctl/common/tls.hpp"
#include "autoctl/monitor/monitor_node.hpp"
#include "autoctl/pg/conf_files.hpp"
#include "autoctl/pg/pg_ctl.hpp"
#include "node_support.hpp"

namespace autoctl::cli {

namespace {

namespace fs = std::filesystem;
using common::Config;
using common::ConfigRole;
using common::Error;
using common::ErrorKind;

using common::quoted;

struct CreateMonitorArgs {
    PgdataOption pgdata;
    std::string pgctl;
    int pgport = 5432;
    std::string hostname;
    std::string listen = "*";
    AuthOptions auth;
    SslOptions ssl;
    bool run = false;
    CLI::Option* pgport_option = nullptr;
    CLI::Option* hostname_option = nullptr;
    CLI::Option* listen_option = nullptr;
};

bool given(const CLI::Option* option) { return option != nullptr && option->count() > 0; }

struct DropMonitorArgs {
    PgdataOption pgdata;
    bool destroy = false;
};

// The init file: present only while a create is in progress. It remembers whether autoctl ran
// initdb itself (then it owns pg_hba.conf's base), so a second run finishes the same way.
struct InitState {
    bool created_cluster = false;
};

std::optional<InitState> read_init_file(const fs::path& file) {
    std::error_code ec;
    if (!fs::exists(file, ec)) return std::nullopt;
    InitState state;
    try {
        const auto ini = common::IniFile::read(file);
        state.created_cluster = ini.get("create", "cluster").value_or("") == "created";
    } catch (const Error&) {
        // An unreadable marker still says "unfinished"; the cluster's origin is then unknown.
    }
    return state;
}

void write_init_file(const fs::path& file, const InitState& state) {
    common::IniFile ini;
    ini.set("create", "command", "monitor");
    ini.set("create", "cluster", state.created_cluster ? "created" : "adopted");
    common::create_parent_directories(file, ErrorKind::Internal);
    common::write_file_atomic(file, ini.serialize(), 0600);
}

// The configuration this create writes: the command line, and for a create being finished the
// [monitor] keys of the configuration it wrote before.
Config monitor_config(const CreateMonitorArgs& args, const common::NodePaths& paths, const std::string& hostname,
                      const pg::PgBindir& bindir, const std::optional<Config>& previous) {
    Config config = previous && previous->role() == ConfigRole::Monitor ? *previous : Config::with_defaults(ConfigRole::Monitor);
    const std::string pgdata = paths.pgdata.string();
    config.set("pg_autoctl.hostname", hostname);
    config.set("postgresql.pgdata", pgdata);
    config.set("postgresql.pg_ctl", bindir.program("pg_ctl").string());
    config.set("postgresql.host", pgdata);  // the unix socket directory
    config.set("postgresql.port", std::to_string(args.pgport));
    config.set("postgresql.listen_addresses", args.listen);
    config.set("postgresql.auth_method", args.auth.skips_hba() ? std::string(monitor::kSkipHba) : args.auth.auth);
    set_ssl_config(config, args.ssl, paths);
    return config;
}

void initdb(const pg::PgBindir& bindir, const fs::path& pgdata) {
    common::logger("monitor")->info("Initialising a Postgres cluster at {}", quoted(pgdata));
    // The superuser is the OS user (no --username). Local connections are trusted because the
    // unix socket directory is PGDATA itself (mode 0700, see monitor_node.hpp); TCP connections
    // need a password until autoctl's rules say otherwise.
    pg::InitdbOptions options;
    options.auth_host = "scram-sha-256";
    pg::PgCtl(bindir).initdb(pgdata, options);
}

// Says the monitor exists; with --run, runs it.
void existing_monitor(const CreateMonitorArgs& args, const common::NodePaths& paths, const Config& config,
                      CommandContext& context) {
    auto log = common::logger("monitor");
    if (!is_postgres_cluster(config.get("postgresql.pgdata"))) {
        throw Error(ErrorKind::Config,
                    "the configuration " + quoted(paths.config) + " describes a monitor at PGDATA " +
                        quoted(fs::path(config.get("postgresql.pgdata"))) +
                        ", which is not a Postgres cluster: remove the configuration with autoctl drop monitor --pgdata " +
                        paths.pgdata.string() + ", then create the monitor again");
    }
    const std::vector<std::tuple<const CLI::Option*, const char*, std::string>> options = {
        {args.pgport_option, "postgresql.port", std::to_string(args.pgport)},
        {args.listen_option, "postgresql.listen_addresses", args.listen},
        {args.hostname_option, "pg_autoctl.hostname", args.hostname},
    };
    for (const auto& [option, key, value] : options) {
        if (given(option) && value != config.get(key)) {
            log->warn("The monitor's {} is \"{}\", not \"{}\": nothing was changed (use autoctl config set)", key,
                      config.get(key), value);
        }
    }
    const auto probe = common::probe_pid_file(paths.pid);
    if (args.run) {
        if (probe.running) {
            throw Error(ErrorKind::State, "autoctl is already running with pid " + std::to_string(probe.pid));
        }
        log->info("The monitor at PGDATA {} exists already: running it", quoted(paths.pgdata));
        context.out << monitor_uri_from_config(config, kMonitorNodeRole, config.get("pg_autoctl.hostname")) << std::endl;
        run_monitor_node(paths, context.global);
        return;
    }
    if (probe.running) {
        log->info("The monitor at PGDATA {} exists already (configuration {}), and autoctl runs it with pid {}: "
                  "nothing to do",
                  quoted(paths.pgdata), quoted(paths.config), probe.pid);
    } else {
        log->info("The monitor at PGDATA {} exists already (configuration {}): nothing to do; run it with: "
                  "autoctl run --pgdata {}",
                  quoted(paths.pgdata), quoted(paths.config), paths.pgdata.string());
    }
    context.out << monitor_uri_from_config(config, kMonitorNodeRole, config.get("pg_autoctl.hostname")) << "\n";
}

void create_monitor(const CreateMonitorArgs& args, CommandContext& context) {
    auto log = common::logger("monitor");
    refuse_root();
    check_auth_options(args.auth);
    args.ssl.validate();
    if (args.auth.pg_hba_lan) log->warn("--pg-hba-lan has no effect on a monitor: it is ignored");

    const auto paths = args.pgdata.paths();
    check_socket_path_length(paths.pgdata, args.pgport);

    std::optional<Config> previous;
    std::error_code ec;
    if (fs::exists(paths.config, ec)) {
        previous = Config::load(paths.config);
        if (previous->role() != ConfigRole::Monitor) {
            throw Error(ErrorKind::Config, "PGDATA " + quoted(paths.pgdata) + " is a keeper node (configuration " +
                                               quoted(paths.config) + "): it cannot become a monitor");
        }
        if (!read_init_file(paths.init)) {
            existing_monitor(args, paths, *previous, context);
            return;
        }
        log->info("Finishing an interrupted autoctl create monitor ({} exists)", quoted(paths.init));
    }

    const auto pgdata_state = inspect_pgdata(paths.pgdata);
    common::PidFile pid_file = common::PidFile::acquire(paths.pid, own_pid_contents(paths));

    const pg::PgBindir bindir = args.pgctl.empty()
                                    ? pg::find_bindir()
                                    : pg::PgBindir::from_pg_ctl(pg_ctl_path(args.pgctl));
    const pg::PgCtl pg_ctl(bindir);
    if (pgdata_state == PgdataState::Cluster) {
        if (const auto status = pg_ctl.status(paths.pgdata); status.is_running) {
            log->info("Stopping the Postgres running at {} (pid {}) to apply the monitor's settings",
                      quoted(paths.pgdata), status.pid_file->pid);
            pg_ctl.stop(paths.pgdata, pg::StopMode::Fast);
        }
    }
    check_port_available(args.listen, args.pgport);

    std::string hostname = args.hostname;
    if (hostname.empty()) {
        hostname = discover_hostname();
        log->info("Using --hostname \"{}\" (this host's address towards the network)", hostname);
    }

    const Config config = monitor_config(args, paths, hostname, bindir, previous);
    InitState init;
    if (const auto unfinished = read_init_file(paths.init)) init = *unfinished;
    if (pgdata_state != PgdataState::Cluster) init.created_cluster = true;
    write_init_file(paths.init, init);
    config.save(paths.config);
    log->info("Wrote the configuration {}", quoted(paths.config));

    bool started = false;
    try {
        if (pgdata_state == PgdataState::Cluster) {
            log->info("Using the existing Postgres cluster at {}", quoted(paths.pgdata));
        } else {
            initdb(bindir, paths.pgdata);
        }
        const bool skip_hba = config.get("postgresql.auth_method") == monitor::kSkipHba;
        if (init.created_cluster && !skip_hba) {
            // Only local rules: initdb's host rules would match autoctl_node before ours do.
            common::write_file_atomic(paths.pgdata / "pg_hba.conf", monitor::monitor_base_hba(), 0600,
                                      ErrorKind::Config);
        }
        if (args.ssl.self_signed) {
            const fs::path cert = config.get("ssl.cert_file");
            const fs::path key = config.get("ssl.key_file");
            if (!fs::exists(cert, ec) || !fs::exists(key, ec)) {
                common::write_self_signed_certificate(cert, key, {hostname, 3650});
                log->info("Created a self-signed certificate for \"{}\": {} and {}", hostname, cert.string(),
                          key.string());
            }
        }
        pg::write_auto_failover_conf(paths.pgdata, monitor::monitor_postgres_settings(config));
        if (!skip_hba) {
            const auto rules = monitor::monitor_hba_rules(config, monitor::monitor_client_networks(hostname));
            pg::ensure_hba_rules(paths.pgdata / "pg_hba.conf", rules);
            std::string networks;
            for (const auto& rule : rules) networks += (networks.empty() ? "" : ", ") + rule.address;
            log->info("Granting {} access to database {} from {} ({})", monitor::kNodeRole, monitor::kMonitorDatabase,
                      networks, config.get("postgresql.auth_method"));
        } else {
            log->info("Leaving pg_hba.conf alone (--skip-pg-hba): allow {} to connect to {} yourself",
                      monitor::kNodeRole, monitor::kMonitorDatabase);
        }

        pg::StartOptions start;
        start.logfile = paths.pgdata / "startup.log";
        started = true;
        pg_ctl.start(paths.pgdata, start);
        monitor::bootstrap_monitor_database(config);
        pg_ctl.stop(paths.pgdata, pg::StopMode::Fast);
        started = false;
        fs::remove(paths.init, ec);
        if (ec) throw Error(ErrorKind::Internal, "failed to remove " + quoted(paths.init) + ": " + ec.message());
    } catch (const Error& e) {
        if (started) {
            try {
                pg_ctl.stop(paths.pgdata, pg::StopMode::Fast);
            } catch (const Error& stop_error) {
                log->warn("could not stop Postgres at {}: {}", quoted(paths.pgdata), stop_error.what());
            }
        }
        throw Error(e.kind(), std::string(e.what()) +
                                  " (the monitor is not complete: fix this and run the same autoctl create monitor "
                                  "again to finish it)");
    }

    const std::string uri = monitor_uri_from_config(config, kMonitorNodeRole, hostname);
    log->info("Your autoctl monitor is now ready on port {}.", args.pgport);
    log->info("Monitor has been successfully initialized.");
    if (args.run) {
        context.out << uri << std::endl;
        run_monitor_node(paths, context.global, std::move(pid_file));
        return;
    }
    pid_file.release();
    log->info("Start it with: autoctl run --pgdata {}", paths.pgdata.string());
    context.out << uri << "\n";
}

void drop_monitor(const DropMonitorArgs& args, CommandContext&) {
    auto log = common::logger("monitor");
    refuse_root();
    const auto paths = args.pgdata.paths();
    const Config config = load_node_config(paths);
    if (config.role() != ConfigRole::Monitor) {
        throw Error(ErrorKind::Config, "PGDATA " + quoted(paths.pgdata) +
                                           " is a keeper node, not a monitor: use autoctl drop node");
    }
    const fs::path pgdata = config.get("postgresql.pgdata");
    if (stop_supervisor(paths, SIGINT, std::chrono::seconds(120))) {
        log->info("Stopped the running autoctl first");
    }
    std::error_code ec;
    if (is_postgres_cluster(pgdata)) {
        const pg::PgCtl pg_ctl(bindir_for(config));
        if (pg_ctl.status(pgdata).is_running) {
            pg_ctl.stop(pgdata, args.destroy ? pg::StopMode::Immediate : pg::StopMode::Fast);
        }
    }
    if (args.destroy) {
        fs::remove_all(pgdata, ec);
        if (ec) throw Error(ErrorKind::Internal, "failed to remove PGDATA " + quoted(pgdata) + ": " + ec.message());
        log->info("Removed PGDATA {}", quoted(pgdata));
    } else {
        log->info("Preserving PGDATA {}: use autoctl drop monitor --destroy to remove it too", quoted(pgdata));
    }
    for (const auto& file : {paths.init, paths.config}) {
        if (fs::remove(file, ec)) log->info("Removed {}", quoted(file));
        if (ec) throw Error(ErrorKind::Internal, "failed to remove " + quoted(file) + ": " + ec.message());
    }
}

}  // namespace

void register_monitor_node_commands(CommandLine& command_line) {
    auto* create = command_line.add_command_set(command_line.root(), "create", "Create an autoctl node, or formation");
    auto create_args = std::make_shared<CreateMonitorArgs>();
    auto* monitor = command_line.add_command(
        *create, "monitor", "Initialize an autoctl monitor node",
        [create_args](CommandContext& context) { create_monitor(*create_args, context); });
    monitor->footer(
        "Creates (initdb) or adopts the Postgres cluster in PGDATA, with database pg_auto_failover,\n"
        "roles autoctl (owner) and autoctl_node (keepers), and the monitor schema; then stops Postgres\n"
        "and prints the monitor URI, unless --run keeps it running (as autoctl run does).\n"
        "Running it again finishes an interrupted create, and leaves a complete monitor untouched.\n"
        "Exit codes: 1 bad arguments, root, or a PGDATA that is neither empty nor a cluster;\n"
        "3 the port is in use or autoctl already runs for PGDATA; 4/5 Postgres errors.");
    create_args->pgdata.add_to(*monitor);
    monitor->add_option("--pgctl", create_args->pgctl, "path to pg_ctl (default: found as for every command)")
        ->type_name("PATH");
    create_args->pgport_option = monitor->add_option("--pgport", create_args->pgport, "Postgres port (default: $PGPORT, else 5432)")
        ->envname("PGPORT")
        ->type_name("PORT")
        ->check(port_validator());
    create_args->hostname_option = monitor->add_option("--hostname", create_args->hostname,
                        "host name or address keepers use to reach the monitor (default: discovered)")
        ->type_name("HOST");
    create_args->listen_option =
        monitor->add_option("--listen", create_args->listen, "Postgres listen_addresses (default: *)")->type_name("ADDR");
    create_args->auth.add_to(*monitor);
    create_args->ssl.add_to(*monitor);
    monitor->add_flag("--run", create_args->run, "keep the monitor running once created (as autoctl run)");

    auto* drop = command_line.add_command_set(command_line.root(), "drop", "Drop an autoctl node, or formation");
    auto drop_args = std::make_shared<DropMonitorArgs>();
    auto* drop_monitor_command =
        command_line.add_command(*drop, "monitor", "Drop the autoctl monitor",
                                 [drop_args](CommandContext& context) { drop_monitor(*drop_args, context); });
    drop_monitor_command->footer(
        "Stops autoctl first when it runs (fast shutdown), then removes the node's configuration.\n"
        "PGDATA is kept unless --destroy is given.");
    drop_args->pgdata.add_to(*drop_monitor_command);
    drop_monitor_command->add_flag("--destroy", drop_args->destroy, "also remove PGDATA");
}

}  // namespace autoctl::cli

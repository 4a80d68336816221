// autoctl create postgres: a data node. In this order: checks that change nothing (arguments,
// PGDATA, port, monitor reachable, system identifier), then the init file (the marker of a create
// in progress) and the configuration, the registration with the monitor and the state file, and
// for the first node of a group its Postgres (initdb or the existing cluster, settings, roles).
// A standby is copied from its primary by the keeper once it runs. A create that failed before
// registering removes what it wrote; one interrupted later finishes when run again.

#include <memory>
#include <ostream>

#include "autoctl/cli/commands.hpp"
#include "autoctl/cli/options.hpp"
#include "autoctl/common/atomic_file.hpp"
#include "autoctl/common/config.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/ini_file.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/common/paths.hpp"
#include "autoctl/keeper/keeper.hpp"
#include "autoctl/keeper/keeper_monitor.hpp"
#include "autoctl/pg/connection.hpp"
#include "autoctl/pg/conninfo.hpp"
#include "autoctl/pg/pg_ctl.hpp"
#include "cmd_keeper_node.hpp"
#include "node_support.hpp"

namespace autoctl::cli {

namespace {

namespace fs = std::filesystem;
using common::Config;
using common::ConfigRole;
using common::Error;
using common::ErrorKind;
using fsm::NodeState;

using common::quoted;

struct CreatePostgresArgs {
    std::string nodekind = "standalone";  // standalone (create postgres), coordinator, worker
    PgdataOption pgdata;
    std::string pgctl;
    int pgport = 5432;
    std::string hostname;
    std::string listen = "*";
    MonitorOptions monitor;
    FormationGroupOptions formation;
    std::string name;
    std::string dbname = "postgres";
    int candidate_priority = 50;
    std::string replication_quorum = "true";
    AuthOptions auth;
    SslOptions ssl;
    bool run = false;
};

std::string masked(const std::string& uri) {
    try {
        return pg::ConnInfo::parse(uri).to_string();
    } catch (const Error&) {
        return "(invalid URI)";
    }
}

Config keeper_config(const CreatePostgresArgs& args, const common::NodePaths& paths, const std::string& hostname,
                     const pg::PgBindir& bindir, const std::optional<Config>& previous) {
    Config config = previous && previous->role() == ConfigRole::Keeper ? *previous : Config::with_defaults(ConfigRole::Keeper);
    config.set("pg_autoctl.monitor", args.monitor.monitor);
    config.set("pg_autoctl.formation", args.formation.formation);
    config.set("pg_autoctl.group", std::to_string(args.formation.group));
    if (!args.name.empty()) config.set("pg_autoctl.name", args.name);
    config.set("pg_autoctl.hostname", hostname);
    config.set("pg_autoctl.nodekind", args.nodekind);
    config.set("postgresql.pgdata", paths.pgdata.string());
    config.set("postgresql.pg_ctl", bindir.program("pg_ctl").string());
    config.set("postgresql.dbname", args.dbname);
    // The unix socket directory: the node's runtime directory (mode 0700 socket, see
    // local_postgres.hpp for why not PGDATA).
    config.set("postgresql.host", data_node_socket_directory(paths).string());
    config.set("postgresql.port", std::to_string(args.pgport));
    config.set("postgresql.listen_addresses", args.listen);
    config.set("postgresql.auth_method", args.auth.skips_hba() ? "trust" : args.auth.auth);
    config.set("postgresql.hba_level", args.auth.skips_hba() ? "skip" : args.auth.pg_hba_lan ? "app" : "minimal");
    // A keeper that cannot reach the monitor for this long stops a primary (design.md §4).
    if (!previous) config.set("timeout.network_partition_timeout", "5");
    set_ssl_config(config, args.ssl, paths);
    return config;
}

void write_init_file(const fs::path& file) {
    common::IniFile ini;
    ini.set("create", "command", "postgres");
    common::create_parent_directories(file, ErrorKind::Internal);
    common::write_file_atomic(file, ini.serialize(), 0600);
}

// An existing cluster may only join a group whose nodes come from it.
void check_system_identifier(keeper::KeeperMonitor& monitor, const CreatePostgresArgs& args, const fs::path& pgdata,
                             const pg::PgBindir& bindir) {
    const auto sysid = pg::PgCtl(bindir).controldata(pgdata).system_identifier;
    for (const auto other : monitor.group_system_identifiers(args.formation.formation, args.formation.group)) {
        if (other != sysid) {
            throw Error(ErrorKind::Usage,
                        "PGDATA " + quoted(pgdata) + " holds the Postgres cluster with system identifier " +
                            std::to_string(sysid) + ", but the nodes of formation \"" + args.formation.formation +
                            "\" group " + std::to_string(std::max(args.formation.group, 0)) +
                            " come from system identifier " + std::to_string(other) +
                            ": use an empty --pgdata, autoctl then copies the primary");
        }
    }
}

keeper::KeeperState register_node(keeper::KeeperMonitor& monitor, const CreatePostgresArgs& args, Config& config,
                                  const fs::path& pgdata, const pg::PgBindir& bindir, bool finishing) {
    keeper::Registration r;
    r.formation = args.formation.formation;
    r.host = config.get("pg_autoctl.hostname");
    r.port = args.pgport;
    r.dbname = args.dbname;
    r.name = args.name;
    if (is_postgres_cluster(pgdata)) r.system_identifier = pg::PgCtl(bindir).controldata(pgdata).system_identifier;
    r.group = args.formation.group;
    r.candidate_priority = args.candidate_priority;
    r.replication_quorum = args.replication_quorum == "true";
    r.node_kind = args.nodekind;
    keeper::KeeperState state;
    try {
        const auto a = monitor.register_node(r);
        state.node_id = a.node_id;
        state.group = a.group;
        state.assigned = a.state;
        config.set("pg_autoctl.name", a.name);
    } catch (const pg::SqlError& e) {
        // Interrupted between the registration and the state file: this node is the one at our
        // host and port.
        const auto existing = finishing ? monitor.find_node(r.formation, r.host, r.port) : std::nullopt;
        if (!existing) throw Error(ErrorKind::Monitor, std::string("the monitor refused to register this node: ") + e.what());
        state.node_id = existing->node_id;
        state.group = std::max(args.formation.group, 0);
        state.assigned = NodeState::Init;
        config.set("pg_autoctl.name", existing->name);
    }
    state.current = NodeState::Init;
    config.set("pg_autoctl.group", std::to_string(state.group));
    return state;
}

void create_postgres(const CreatePostgresArgs& args, CommandContext& context) {
    auto log = common::logger("keeper");
    refuse_root();
    check_auth_options(args.auth);
    args.ssl.validate();
    if (args.monitor.monitor.empty()) {
        throw Error(ErrorKind::Usage, "--monitor is required (or set PG_AUTOCTL_MONITOR): the URI printed by "
                                      "autoctl create monitor or autoctl show uri");
    }
    const auto paths = args.pgdata.paths();

    std::optional<Config> previous;
    std::error_code ec;
    const bool finishing = fs::exists(paths.init, ec);
    if (fs::exists(paths.config, ec)) {
        previous = Config::load(paths.config);
        if (previous->role() != ConfigRole::Keeper) {
            throw Error(ErrorKind::Config, "PGDATA " + quoted(paths.pgdata) + " is a monitor (configuration " +
                                               quoted(paths.config) + "): it cannot become a data node");
        }
        if (!finishing && fs::exists(paths.state, ec)) {
            if (args.run) {
                log->info("The node at PGDATA {} exists already: running it", quoted(paths.pgdata));
                run_keeper_node(paths, context.global);
                return;
            }
            log->info("The node at PGDATA {} exists already (configuration {}): nothing to do; run it with: "
                      "autoctl run --pgdata {}",
                      quoted(paths.pgdata), quoted(paths.config), paths.pgdata.string());
            return;
        }
        log->info("Finishing an interrupted autoctl create postgres ({} exists)", quoted(paths.init));
    }

    const auto pgdata_state = inspect_pgdata(paths.pgdata);
    common::PidFile pid_file = common::PidFile::acquire(paths.pid, own_pid_contents(paths));
    ensure_socket_directory(data_node_socket_directory(paths));
    const pg::PgBindir bindir = args.pgctl.empty() ? pg::find_bindir() : pg::PgBindir::from_pg_ctl(pg_ctl_path(args.pgctl));
    if (pgdata_state == PgdataState::Cluster && pg::PgCtl(bindir).status(paths.pgdata).is_running) {
        throw Error(ErrorKind::State, "Postgres is running at PGDATA " + quoted(paths.pgdata) +
                                          ": stop it first, autoctl runs it under its own supervisor");
    }
    check_port_available(args.listen, args.pgport);

    std::unique_ptr<keeper::KeeperMonitor> monitor;
    try {
        monitor = std::make_unique<keeper::KeeperMonitor>(args.monitor.monitor);
    } catch (const Error& e) {
        throw Error(ErrorKind::Monitor, "cannot reach the monitor " + masked(args.monitor.monitor) + ": " + e.what() +
                                            " (check --monitor, and that the monitor runs)");
    }
    auto existing_state = keeper::load_keeper_state(paths.state);
    if (pgdata_state == PgdataState::Cluster && !existing_state) {
        check_system_identifier(*monitor, args, paths.pgdata, bindir);
    }

    std::string hostname = args.hostname;
    if (hostname.empty()) {
        hostname = discover_hostname();
        log->info("Using --hostname \"{}\" (this host's address towards the network)", hostname);
    }
    Config config = keeper_config(args, paths, hostname, bindir, previous);
    write_init_file(paths.init);
    config.save(paths.config);

    keeper::KeeperState state;
    if (existing_state && existing_state->node_id > 0) {
        state = *existing_state;
    } else {
        try {
            state = register_node(*monitor, args, config, paths.pgdata, bindir, finishing);
        } catch (const Error&) {
            if (!previous) {
                fs::remove(paths.config, ec);
                fs::remove(paths.init, ec);
            }
            throw;
        }
        config.save(paths.config);
        keeper::save_keeper_state(paths.state, state);
        log->info("Registered node {} \"{}\" ({}:{}) in formation \"{}\" group {}: assigned state {}", state.node_id,
                  config.get("pg_autoctl.name"), hostname, args.pgport, args.formation.formation, state.group,
                  fsm::to_string(state.assigned));
    }

    if (state.current == NodeState::Init && state.assigned == NodeState::Single) {
        keeper::Keeper keeper(paths, config, false);
        try {
            keeper.transition(NodeState::Init, NodeState::Single);
            pg::PgCtl(bindir).stop(paths.pgdata, pg::StopMode::Fast);
        } catch (const Error& e) {
            try {
                pg::PgCtl(bindir).stop(paths.pgdata, pg::StopMode::Fast);
            } catch (const Error&) {
            }
            throw Error(e.kind(), std::string(e.what()) +
                                      " (the node is registered but not initialised: fix this and run the same "
                                      "autoctl create postgres again to finish it)");
        }
        keeper.mutable_state().current = NodeState::Single;
        keeper.save_state();
        log->info("Node \"{}\" is the primary of its group (single)", config.get("pg_autoctl.name"));
    } else if (state.current == NodeState::Init) {
        log->info("Node \"{}\" will be a standby: autoctl run copies the primary with pg_basebackup",
                  config.get("pg_autoctl.name"));
    }
    fs::remove(paths.init, ec);
    if (args.run) {
        run_keeper_node(paths, context.global, std::move(pid_file));
        return;
    }
    pid_file.release();
    log->info("Start it with: autoctl run --pgdata {}", paths.pgdata.string());
}

}  // namespace

CLI::App* add_create_data_node_command(CommandLine& command_line, const std::string& name,
                                       const std::string& nodekind, const std::string& description,
                                       const std::string& default_dbname) {
    auto* create = command_line.add_command_set(command_line.root(), "create", "Create an autoctl node, or formation");
    auto args = std::make_shared<CreatePostgresArgs>();
    args->nodekind = nodekind;
    args->dbname = default_dbname;
    auto* command = command_line.add_command(*create, name, description,
                                             [args](CommandContext& context) { create_postgres(*args, context); });
    command->footer(
        "Registers the node with the monitor. The first node of a group becomes its primary: initdb\n"
        "(or the existing cluster in PGDATA), settings, replication role, database. A later node\n"
        "becomes a standby: autoctl run copies the primary with pg_basebackup. Running the command\n"
        "again finishes an interrupted create, and leaves a complete node untouched.\n"
        "Exit codes: 1 bad arguments or PGDATA; 3 port in use or autoctl running; 6 monitor\n"
        "unreachable or registration refused.");
    args->pgdata.add_to(*command);
    command->add_option("--pgctl", args->pgctl, "path to pg_ctl (default: found as for every command)")->type_name("PATH");
    command->add_option("--pgport", args->pgport, "Postgres port (default: $PGPORT, else 5432)")
        ->envname("PGPORT")
        ->type_name("PORT")
        ->check(port_validator());
    command->add_option("--hostname", args->hostname, "host name or address other nodes use to reach this one")
        ->type_name("HOST");
    command->add_option("--listen", args->listen, "Postgres listen_addresses (default: *)")->type_name("ADDR");
    args->monitor.add_to(*command);
    args->formation.add_to(*command);
    command->add_option("--name", args->name,
                        nodekind == "standalone" ? "node name (default: node_<id>)"
                                                 : "node name (default: coord0a, worker1a, worker1b, ...)")
        ->envname("PG_AUTOCTL_NODE_NAME")
        ->type_name("NAME");
    command->add_option("--dbname", args->dbname, "database to create (default: " + default_dbname + ")")->type_name("NAME");
    command->add_option("--candidate-priority", args->candidate_priority, "priority in elections, 0..100 (default 50)")
        ->envname("PG_AUTOCTL_CANDIDATE_PRIORITY")
        ->check(CLI::Range(0, 100))
        ->type_name("N");
    command->add_option("--replication-quorum", args->replication_quorum, "take part in the sync quorum (default true)")
        ->envname("PG_AUTOCTL_REPLICATION_QUORUM")
        ->check(CLI::IsMember({"true", "false"}))
        ->type_name("BOOL");
    args->auth.add_to(*command);
    args->ssl.add_to(*command);
    command->add_flag("--run", args->run, "run the node once created (as autoctl run)");
    return command;
}

void register_keeper_node_commands(CommandLine& command_line) {
    add_create_data_node_command(command_line, "postgres", "standalone", "Initialize an autoctl data node (keeper)",
                                 "postgres");
}

}  // namespace autoctl::cli

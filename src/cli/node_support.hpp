#pragma once
// What the node lifecycle commands share (create monitor, run, stop, status, reload, drop
// monitor, do service monitor). Private to src/cli.

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "autoctl/cli/command_line.hpp"
#include "autoctl/cli/options.hpp"
#include "autoctl/common/config.hpp"
#include "autoctl/common/paths.hpp"
#include "autoctl/common/pid_file.hpp"
#include "autoctl/common/supervisor.hpp"
#include "autoctl/pg/bindir.hpp"

namespace autoctl::cli {

// Error{Usage} "Postgres refuses to run as root: ..." when the effective user is root.
void refuse_root();

// Error{Usage} when the unix socket of Postgres (PGDATA/.s.PGSQL.<port>) would not fit in a
// socket address (107 bytes).
void check_socket_path_length(const std::filesystem::path& pgdata, int port);

// Binds every address of `listen_addresses` ("*", "", a list of addresses or names) on `port`,
// with SO_REUSEADDR as Postgres does, then closes the sockets: Error{State} naming the address
// and the port when another program listens there.
void check_port_available(const std::string& listen_addresses, int port);

// This host's address as other hosts would reach it (the source address of a route to a public
// address; no packet is sent), else "localhost".
std::string discover_hostname();

// Where the Postgres programs are: the directory of the configured pg_ctl, else the search of
// pg::find_bindir().
pg::PgBindir bindir_for(const common::Config& config);

// The path of the running autoctl binary, to run its sub-processes: $PG_AUTOCTL_DEBUG_BIN_PATH,
// else /proc/self/exe resolved.
std::string self_executable();

// The node's configuration; Error{Config} naming the file when it is missing or invalid.
common::Config load_node_config(const common::NodePaths& paths);

// Whether PGDATA holds a Postgres cluster (a PG_VERSION file).
bool is_postgres_cluster(const std::filesystem::path& pgdata);

// Runs the monitor node's supervisor (postgres + monitor service) until it is stopped; takes
// the pid file when `pid_file` is not held yet. Refuses root, a PGDATA that is not a finished
// monitor, and a port another program listens on.
void run_monitor_node(const common::NodePaths& paths, const GlobalOptions& global,
                      std::optional<common::PidFile> pid_file = std::nullopt);

// Runs a data node's supervisor (Postgres + the keeper) until it is stopped.
void run_keeper_node(const common::NodePaths& paths, const GlobalOptions& global,
                     std::optional<common::PidFile> pid_file = std::nullopt);

// A supervisor service that runs `autoctl do service <service> --pgdata PGDATA` with this
// process's verbosity: stopped with SIGTERM (SIGQUIT for an immediate stop), restarted after
// 0.5 s, backing off to 5 s.
common::ServiceSpec autoctl_subprocess_service(const std::string& name, const std::string& service,
                                              const std::filesystem::path& pgdata, const GlobalOptions& global);

// A service process (`autoctl do service ...`): SIGTERM and SIGINT set the stop flag, SIGHUP the
// reload flag, SIGQUIT exits at once.
void install_service_signal_handlers();
std::atomic<bool>& service_stop_requested();
std::atomic<bool>& service_reload_requested();
// Under a supervisor ($AUTOCTL_SUPERVISOR_PID): the service gets SIGTERM when the supervisor
// dies, even by kill -9. False when the supervisor is already gone (the service must not start).
bool attach_to_supervisor(const std::string& role);

// The unix socket directory of a data node: its runtime directory (beside the pid file), or
// when a socket there would not fit in a socket address, /tmp/autoctl-<hash of PGDATA>.
std::filesystem::path data_node_socket_directory(const common::NodePaths& paths);
// Creates it (mode 0700) when missing.
void ensure_socket_directory(const std::filesystem::path& dir);

// Shared by create monitor and create postgres --------------------------------------------

// --auth and --skip-pg-hba: Error{Usage} unless one was given and it is a pg_hba.conf method.
void check_auth_options(const AuthOptions& auth);
// A CLI11 check for --pgport: 1..65535.
const CLI::Validator& port_validator();
// An option's file made absolute; Error{Usage} naming the option when it cannot be read.
std::string absolute_file(const std::string& file, const char* option);
// --pgctl made absolute (not resolved: a symbolic link to a wrapper must keep its directory).
std::filesystem::path pg_ctl_path(const std::string& given);
// The [ssl] keys for the SSL options (self-signed files live in PGDATA).
void set_ssl_config(common::Config& config, const SslOptions& ssl, const common::NodePaths& paths);

enum class PgdataState { Missing, Empty, Cluster };
// Error{Usage} for a PGDATA that is not a directory, or neither empty nor a cluster.
PgdataState inspect_pgdata(const std::filesystem::path& pgdata);

// The contents of the first lines of the pid file for this process.
common::PidFileContents own_pid_contents(const common::NodePaths& paths);

// Sends `sig` to the running supervisor and waits until it has exited (its pid file lock is
// gone). Returns false when it was not running.
bool stop_supervisor(const common::NodePaths& paths, int sig, std::chrono::seconds timeout);

}  // namespace autoctl::cli

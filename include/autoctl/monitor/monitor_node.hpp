#pragma once
// The monitor node's Postgres, as `autoctl create monitor` sets it up and `autoctl run` serves it:
// its settings (postgresql-auto-failover.conf), its HBA rules, its roles, database and schema,
// and the monitor service's options, all derived from the node's autoctl.cfg (role monitor).
//
// Local connections use the unix socket, whose directory is PGDATA itself (mode 0700): only the
// OS user owning PGDATA can reach it, which is why the local HBA rules may say "trust". autoctl
// connects that way as the superuser (the OS user, to create roles and the database) and as the
// database owner `autoctl` (schema, monitor service). Keepers and operators connect over TCP as
// `autoctl_node`, through the rules monitor_hba_rules() writes.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "autoctl/common/config.hpp"
#include "autoctl/monitor/monitor_service.hpp"
#include "autoctl/pg/conf_files.hpp"
#include "autoctl/pg/conninfo.hpp"

namespace autoctl::monitor {

inline constexpr std::string_view kMonitorDatabase = "pg_auto_failover";
inline constexpr std::string_view kOwnerRole = "autoctl";
inline constexpr std::string_view kNodeRole = "autoctl_node";
inline constexpr std::string_view kMonitorClusterName = "autoctl monitor";
// postgresql.auth_method when pg_hba.conf must never be edited (--skip-pg-hba, --auth skip).
inline constexpr std::string_view kSkipHba = "skip";

// The settings autoctl owns in the monitor's postgresql-auto-failover.conf, in order:
// listen_addresses, port, cluster_name, unix_socket_directories (PGDATA),
// unix_socket_permissions, password_encryption, ssl (+ its files), logging.
std::vector<pg::Setting> monitor_postgres_settings(const common::Config& config);

// The text of pg_hba.conf for a cluster autoctl created itself: local (unix socket) rules only.
// monitor_hba_rules() are appended to it.
std::string monitor_base_hba();

// The networks keepers and operators may reach the monitor from: 127.0.0.1/32, ::1/128, and the
// network of each local interface that holds an address `hostname` resolves to (the address
// itself, /32 or /128, when no local interface holds it). A name that does not resolve is
// logged and skipped.
std::vector<std::string> monitor_client_networks(const std::string& hostname);

// `host[ssl] pg_auto_failover autoctl_node <network> <auth>` for each network (hostssl when
// ssl.active); none when postgresql.auth_method is "skip".
std::vector<pg::HbaRule> monitor_hba_rules(const common::Config& config, const std::vector<std::string>& networks);

// A connection to the monitor's Postgres over its unix socket (host = PGDATA). An empty `user`
// means the OS user (libpq's default): the superuser of a cluster autoctl created.
pg::ConnInfo monitor_local_conninfo(const common::Config& config, const std::string& user, std::string_view dbname);

// Creates what is missing of: role autoctl (LOGIN), role autoctl_node (LOGIN), database
// pg_auto_failover owned by autoctl; then installs or upgrades the schema as autoctl. Idempotent.
// Postgres must be running. Returns the schema version installed.
int bootstrap_monitor_database(const common::Config& config);

// The monitor service's options: the local owner connection (application_name names the
// service's pid so operators can find the active one in pg_stat_activity) and the [monitor]
// timing keys.
MonitorServiceOptions monitor_service_options(const common::Config& config, int service_pid);

// Whether two option sets would run the service the same way (reload decides on a restart).
bool same_service_options(const MonitorServiceOptions& a, const MonitorServiceOptions& b);

}  // namespace autoctl::monitor

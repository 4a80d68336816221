#pragma once
// The monitor, as the commands that query it see it (show, get, create|drop formation, ...):
//
// - where it is: --monitor URI (or $PG_AUTOCTL_MONITOR), else the node's configuration found
//   with --pgdata (a keeper's pg_autoctl.monitor; on the monitor node itself, the local Postgres
//   as the database owner `autoctl`). Reference §3.
// - one libpq connection to it, opened with a connect timeout ($PGCONNECT_TIMEOUT, default 2 s)
//   and client_encoding UTF8. A monitor that cannot be reached is one line naming host:port,
//   Error{Monitor} (exit 6); an SQL error is Error{Monitor} with the server's message, detail and
//   hint. Passwords never appear in messages.
//
// Written on libpq directly; it moves onto pg::Connection once src/pg is in the build.

#include <CLI/CLI.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "autoctl/cli/options.hpp"
#include "autoctl/common/config.hpp"

namespace autoctl::cli {

// The database owner, used to reach the monitor's own Postgres from the monitor node.
inline constexpr std::string_view kMonitorOwnerRole = "autoctl";
// The role keepers (and operators elsewhere) log in as.
inline constexpr std::string_view kMonitorNodeRole = "autoctl_node";
inline constexpr std::chrono::seconds kDefaultConnectTimeout{2};

// Where the monitor is, and what the node's configuration says when it was used.
struct MonitorTarget {
    std::string uri;             // what to connect with; may hold a password: never log it
    std::string advertised_uri;  // the monitor row of `show uri`
    std::string formation;       // a keeper's pg_autoctl.formation, "" otherwise
    int group = -1;              // a keeper's pg_autoctl.group, -1 otherwise
    std::string node_name;       // a keeper's pg_autoctl.name, "" otherwise
};

// --pgdata and --monitor, for the commands that query the monitor.
class MonitorTargetOptions {
public:
    PgdataOption pgdata;
    MonitorOptions monitor;

    void add_to(CLI::App& app);

    // After parsing. With --monitor (or $PG_AUTOCTL_MONITOR) that URI, warning when --pgdata was
    // given too; else the configuration of --pgdata (or $PGDATA). With neither: the errors of
    // reference §3 and Error{Usage}. A keeper with its monitor disabled is Error{Config}.
    MonitorTarget resolve() const;

private:
    const CLI::App* app_ = nullptr;
    const CLI::Option* pgdata_option_ = nullptr;
};

// The URI of a monitor node's own Postgres, from its configuration:
// postgres://<user>@<host>:<port>/<dbname>?sslmode=<m>[&sslrootcert=<ca>][&sslcrl=<crl>], where host
// is `host` when given, else postgresql.host, else "localhost".
std::string monitor_uri_from_config(const common::Config& config, std::string_view user,
                                    std::string_view host = {});

// Target of a monitor node's configuration: connect as `autoctl` to the local Postgres, and
// advertise the URI keepers use (autoctl_node@<pg_autoctl.hostname>).
MonitorTarget monitor_target_from_config(const common::Config& config);

// The connect timeout from $PGCONNECT_TIMEOUT's text (nullptr when unset): a positive number of
// seconds, else kDefaultConnectTimeout.
std::chrono::seconds connect_timeout_from(const char* value);

// What a connection string says, as libpq reads it.
struct ConnectionParams {
    std::string endpoint;     // "host:port" (or "h1:p1,h2:p2"), libpq's defaults filled in
    std::string sslmode;      // "prefer" when unset
    std::string sslrootcert;  // "" when unset
    std::string sslcrl;       // "" when unset
};

// Parses a postgres:// URI or key=value string; Error{Usage} naming libpq's reason otherwise.
ConnectionParams connection_params(const std::string& conninfo);

// libpq's (multi-line) error message as one line: the "connection to server at ... failed: "
// prefix removed, lines trimmed and joined with "; ".
std::string one_line_libpq_error(std::string_view message);

// One statement's result: text values, NULL as nullopt.
struct QueryResult {
    std::vector<std::string> columns;
    std::vector<std::vector<std::optional<std::string>>> rows;

    bool empty() const { return rows.empty(); }
    // The value at (row, column); "" for NULL.
    std::string text(std::size_t row, std::size_t column) const;
    bool is_null(std::size_t row, std::size_t column) const { return !rows.at(row).at(column).has_value(); }
};

using QueryParams = std::vector<std::optional<std::string>>;

// One NOTIFY received on a channel the client listens to.
struct Notification {
    std::string channel;
    std::string payload;
};

class MonitorClient {
public:
    // Connects at once; Error{Monitor} "failed to connect to the monitor at host:port (uri): reason".
    MonitorClient(const std::string& conninfo, std::chrono::seconds connect_timeout);
    MonitorClient(const MonitorClient&) = delete;
    MonitorClient& operator=(const MonitorClient&) = delete;
    ~MonitorClient();

    // Runs one statement with text parameters ($1, $2, ...). Error{Monitor} on any failure.
    QueryResult query(const std::string& sql, const QueryParams& params = {});

    // LISTEN on `channel` (quoted as an identifier). Notifications sent after this returns are
    // kept by libpq until wait_notifications() reads them, even while other queries run.
    void listen(const std::string& channel);

    // The notifications received so far; when there are none, waits up to `timeout` for the
    // first to arrive (and returns it with any that came along). Error{Monitor} when the
    // connection is lost.
    std::vector<Notification> wait_notifications(std::chrono::milliseconds timeout);

    const ConnectionParams& params() const { return params_; }
    // The monitor's URI as given, password masked (for messages).
    const std::string& display_uri() const { return display_uri_; }

private:
    struct Handle;
    std::unique_ptr<Handle> handle_;
    ConnectionParams params_;
    std::string display_uri_;
};

// Connects to the target with the timeout from the environment.
std::unique_ptr<MonitorClient> connect_to_monitor(const MonitorTarget& target);

}  // namespace autoctl::cli

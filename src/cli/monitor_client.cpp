#include "autoctl/cli/monitor_client.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstdlib>

#include "autoctl/cli/command_line.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"

namespace autoctl::cli {

namespace {

using common::Error;
using common::ErrorKind;

// reference §3, word for word.
constexpr const char* kMonitorUnsetError =
    "Failed to get value for environment variable 'PG_AUTOCTL_MONITOR', which is unset";
constexpr const char* kMonitorOptionWarning = "This command also supports the --monitor option, which is not used here";
constexpr const char* kPgdataUnsetError = "Failed to set PGDATA either from the environment or from --pgdata";
constexpr const char* kMonitorDisabled = "PG_AUTOCTL_DISABLED";

std::string trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t\r\n");
    return std::string(text.substr(first, last - first + 1));
}

std::vector<std::string> split(std::string_view text, char separator) {
    std::vector<std::string> parts;
    std::size_t pos = 0;
    while (true) {
        const auto next = text.find(separator, pos);
        parts.emplace_back(text.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
        if (next == std::string_view::npos) break;
        pos = next + 1;
    }
    return parts;
}

// Percent-encodes what may not appear as is in a URI's host or path (a socket directory host).
std::string uri_encode(std::string_view text) {
    static const char* const kHex = "0123456789ABCDEF";
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (std::isalnum(byte) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += kHex[byte >> 4];
            out += kHex[byte & 0x0F];
        }
    }
    return out;
}

const char* env_or_null(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr && *value != '\0' ? value : nullptr;
}

std::string masked(std::string_view conninfo) { return common::redact_conninfo(conninfo); }

}  // namespace

// --- where the monitor is ------------------------------------------------------------------

void MonitorTargetOptions::add_to(CLI::App& app) {
    app_ = &app;
    pgdata_option_ = pgdata.add_to(app);
    monitor.add_to(app);
}

std::string monitor_uri_from_config(const common::Config& config, std::string_view user, std::string_view host) {
    std::string server(host);
    if (server.empty()) server = config.get("postgresql.host");
    if (server.empty()) server = "localhost";
    std::string uri = "postgres://" + uri_encode(user) + "@";
    // An IPv6 address is bracketed; a socket directory is percent-encoded.
    if (server.find(':') != std::string::npos && server.front() != '[') {
        uri += "[" + server + "]";
    } else if (server.front() == '/') {
        uri += uri_encode(server);
    } else {
        uri += server;
    }
    uri += ":" + config.get("postgresql.port") + "/" + uri_encode(config.get("postgresql.dbname"));
    uri += "?sslmode=" + config.get("ssl.sslmode");
    if (const auto ca = config.get("ssl.ca_file"); !ca.empty()) uri += "&sslrootcert=" + uri_encode(ca);
    if (const auto crl = config.get("ssl.crl_file"); !crl.empty()) uri += "&sslcrl=" + uri_encode(crl);
    return uri;
}

MonitorTarget monitor_target_from_config(const common::Config& config) {
    MonitorTarget target;
    if (config.role() == common::ConfigRole::Monitor) {
        target.uri = monitor_uri_from_config(config, kMonitorOwnerRole);
        target.advertised_uri = monitor_uri_from_config(config, kMonitorNodeRole, config.get("pg_autoctl.hostname"));
        return target;
    }
    const std::string uri = config.get("pg_autoctl.monitor");
    if (uri.empty() || uri == kMonitorDisabled) {
        throw Error(ErrorKind::Config,
                    "this node runs without a monitor (pg_autoctl.monitor = " +
                        std::string(uri.empty() ? "\"\"" : kMonitorDisabled) + "): use --monitor <uri>");
    }
    target.uri = uri;
    target.advertised_uri = uri;
    target.formation = config.get("pg_autoctl.formation");
    target.group = static_cast<int>(config.get_int("pg_autoctl.group"));
    target.node_name = config.get("pg_autoctl.name");
    return target;
}

MonitorTarget MonitorTargetOptions::resolve() const {
    auto log = common::logger("cli");
    if (!monitor.monitor.empty()) {
        if (app_ != nullptr && pgdata_option_ != nullptr) {
            const auto order = app_->parse_order();
            if (std::find(order.begin(), order.end(), pgdata_option_) != order.end()) {
                log->warn("Given --monitor URI, the --pgdata option is ignored");
            }
        }
        MonitorTarget target;
        target.uri = monitor.monitor;
        target.advertised_uri = monitor.monitor;
        return target;
    }
    if (pgdata.pgdata.empty()) {
        log->error(kMonitorUnsetError);
        log->warn(kMonitorOptionWarning);
        throw FatalError(ErrorKind::Usage, kPgdataUnsetError);
    }
    return monitor_target_from_config(common::Config::load(pgdata.paths().config));
}

std::chrono::seconds connect_timeout_from(const char* value) {
    if (value == nullptr) return kDefaultConnectTimeout;
    const std::string_view text(value);
    long seconds = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), seconds);
    if (result.ec != std::errc() || result.ptr != text.data() + text.size() || seconds <= 0) {
        return kDefaultConnectTimeout;
    }
    return std::chrono::seconds(seconds);
}

// --- connection strings and libpq messages -------------------------------------------------

ConnectionParams connection_params(const std::string& conninfo) {
    char* error = nullptr;
    PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
    if (options == nullptr) {
        std::string reason = error != nullptr ? one_line_libpq_error(error) : "out of memory";
        if (error != nullptr) PQfreemem(error);
        throw Error(ErrorKind::Usage, "invalid monitor connection string \"" + masked(conninfo) + "\": " + reason);
    }
    std::string host, hostaddr, port;
    ConnectionParams params;
    for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
        if (option->val == nullptr) continue;
        const std::string_view key(option->keyword);
        if (key == "host") host = option->val;
        if (key == "hostaddr") hostaddr = option->val;
        if (key == "port") port = option->val;
        if (key == "sslmode") params.sslmode = option->val;
        if (key == "sslrootcert") params.sslrootcert = option->val;
        if (key == "sslcrl") params.sslcrl = option->val;
    }
    PQconninfoFree(options);

    // libpq's defaults: PGHOST, PGPORT, then localhost (shown for the default socket) and 5432.
    if (host.empty()) host = hostaddr;
    if (host.empty() && env_or_null("PGHOST") != nullptr) host = env_or_null("PGHOST");
    if (host.empty()) host = "localhost";
    if (port.empty() && env_or_null("PGPORT") != nullptr) port = env_or_null("PGPORT");
    if (port.empty()) port = "5432";
    if (params.sslmode.empty()) params.sslmode = "prefer";

    const auto hosts = split(host, ',');
    const auto ports = split(port, ',');
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        if (i > 0) params.endpoint += ",";
        const std::string& this_port = ports.size() == hosts.size() ? ports[i] : ports.front();
        params.endpoint += (hosts[i].empty() ? "localhost" : hosts[i]) + ":" + (this_port.empty() ? "5432" : this_port);
    }
    return params;
}

std::string one_line_libpq_error(std::string_view message) {
    std::vector<std::string> lines;
    for (const auto& line : split(message, '\n')) {
        auto text = trim(line);
        if (!text.empty()) lines.push_back(std::move(text));
    }
    // One server tried: its name is in our own message already.
    constexpr std::string_view kPrefix = "connection to server ";
    const auto tried = std::count_if(lines.begin(), lines.end(),
                                     [&](const std::string& line) { return line.rfind(kPrefix, 0) == 0; });
    if (tried == 1 && lines.front().rfind(kPrefix, 0) == 0) {
        const auto failed = lines.front().find(" failed: ");
        if (failed != std::string::npos) lines.front().erase(0, failed + 9);
    }
    std::string out;
    for (auto line : lines) {
        // The server's severity ("FATAL:  role ... does not exist"): every error here is one.
        for (const std::string_view severity : {"FATAL:  ", "ERROR:  "}) {
            if (line.rfind(severity, 0) == 0) line.erase(0, severity.size());
        }
        if (!out.empty()) out += "; ";
        out += line;
    }
    return out;
}

std::string QueryResult::text(std::size_t row, std::size_t column) const {
    const auto& value = rows.at(row).at(column);
    return value ? *value : std::string();
}

// --- the connection ------------------------------------------------------------------------

struct MonitorClient::Handle {
    PGconn* conn = nullptr;
    ~Handle() {
        if (conn != nullptr) PQfinish(conn);
    }
};

MonitorClient::MonitorClient(const std::string& conninfo, std::chrono::seconds connect_timeout)
    : handle_(std::make_unique<Handle>()), params_(connection_params(conninfo)), display_uri_(masked(conninfo)) {
    // Keywords are applied in order and the expanded connection string (dbname) overrides those
    // before it: a connect_timeout or client_encoding in the URI wins over these defaults.
    const std::string timeout = std::to_string(connect_timeout.count());
    const char* const keywords[] = {"connect_timeout", "client_encoding", "fallback_application_name", "dbname",
                                    nullptr};
    const char* const values[] = {timeout.c_str(), "UTF8", "autoctl", conninfo.c_str(), nullptr};
    common::logger("cli")->debug("connecting to the monitor at {} ({})", params_.endpoint, display_uri_);
    const auto started = std::chrono::steady_clock::now();
    handle_->conn = PQconnectdbParams(keywords, values, 1);
    if (handle_->conn == nullptr) {
        throw Error(ErrorKind::Monitor, "failed to connect to the monitor at " + params_.endpoint + ": out of memory");
    }
    if (PQstatus(handle_->conn) != CONNECTION_OK) {
        std::string reason = one_line_libpq_error(PQerrorMessage(handle_->conn));
        if (reason.find("timeout expired") != std::string::npos) {
            // The timeout in effect may be the URI's connect_timeout, and libpq waits at least 2 s.
            const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started);
            reason = "timeout expired: no answer within " + std::to_string((waited.count() + 500) / 1000) +
                     " s (set PGCONNECT_TIMEOUT to wait longer)";
        }
        throw Error(ErrorKind::Monitor, "failed to connect to the monitor at " + params_.endpoint + " (" +
                                            display_uri_ + "): " + masked(reason));
    }
}

MonitorClient::~MonitorClient() = default;

QueryResult MonitorClient::query(const std::string& sql, const QueryParams& params) {
    std::vector<const char*> values;
    values.reserve(params.size());
    for (const auto& param : params) values.push_back(param ? param->c_str() : nullptr);
    common::logger("cli")->trace("monitor query: {}", sql);

    PGresult* result = PQexecParams(handle_->conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                    values.data(), nullptr, nullptr, 0);
    const std::unique_ptr<PGresult, void (*)(PGresult*)> guard(result, PQclear);
    const auto status = result != nullptr ? PQresultStatus(result) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
        const char* primary = result != nullptr ? PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
        if (primary == nullptr || PQstatus(handle_->conn) != CONNECTION_OK) {
            throw Error(ErrorKind::Monitor, "lost the connection to the monitor at " + params_.endpoint + ": " +
                                                masked(one_line_libpq_error(PQerrorMessage(handle_->conn))));
        }
        std::string message = std::string(primary) + " (monitor at " + params_.endpoint + ")";
        if (const char* detail = PQresultErrorField(result, PG_DIAG_MESSAGE_DETAIL)) {
            message += "; DETAIL: " + one_line_libpq_error(detail);
        }
        if (const char* hint = PQresultErrorField(result, PG_DIAG_MESSAGE_HINT)) {
            message += "; HINT: " + one_line_libpq_error(hint);
        }
        throw Error(ErrorKind::Monitor, masked(message));
    }

    QueryResult out;
    const int columns = PQnfields(result);
    for (int c = 0; c < columns; ++c) out.columns.emplace_back(PQfname(result, c));
    const int rows = PQntuples(result);
    out.rows.reserve(static_cast<std::size_t>(rows));
    for (int r = 0; r < rows; ++r) {
        std::vector<std::optional<std::string>> row;
        row.reserve(static_cast<std::size_t>(columns));
        for (int c = 0; c < columns; ++c) {
            if (PQgetisnull(result, r, c) != 0) {
                row.emplace_back(std::nullopt);
            } else {
                const auto length = static_cast<std::size_t>(PQgetlength(result, r, c));
                row.emplace_back(std::string(PQgetvalue(result, r, c), length));
            }
        }
        out.rows.push_back(std::move(row));
    }
    return out;
}

void MonitorClient::listen(const std::string& channel) {
    char* quoted = PQescapeIdentifier(handle_->conn, channel.c_str(), channel.size());
    if (quoted == nullptr) {
        throw Error(ErrorKind::Monitor, "failed to quote channel name \"" + channel + "\": " +
                                            one_line_libpq_error(PQerrorMessage(handle_->conn)));
    }
    const std::string sql = std::string("LISTEN ") + quoted;
    PQfreemem(quoted);
    query(sql);
}

std::vector<Notification> MonitorClient::wait_notifications(std::chrono::milliseconds timeout) {
    PGconn* conn = handle_->conn;
    auto lost = [&] {
        return Error(ErrorKind::Monitor, "lost the connection to the monitor at " + params_.endpoint + ": " +
                                             masked(one_line_libpq_error(PQerrorMessage(conn))));
    };
    std::vector<Notification> received;
    auto drain = [&] {
        while (PGnotify* notify = PQnotifies(conn)) {
            received.push_back(Notification{notify->relname, notify->extra != nullptr ? notify->extra : ""});
            PQfreemem(notify);
        }
    };
    // Some may have arrived during earlier queries: libpq queued them already.
    if (PQconsumeInput(conn) == 0) throw lost();
    drain();
    if (!received.empty()) return received;

    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (received.empty()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        pollfd fd{PQsocket(conn), POLLIN, 0};
        const int ready = ::poll(&fd, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno != EINTR) throw lost();
        if (ready <= 0) continue;
        if (PQconsumeInput(conn) == 0) throw lost();
        drain();
    }
    return received;
}

std::unique_ptr<MonitorClient> connect_to_monitor(const MonitorTarget& target) {
    return std::make_unique<MonitorClient>(target.uri, connect_timeout_from(std::getenv("PGCONNECT_TIMEOUT")));
}

}  // namespace autoctl::cli

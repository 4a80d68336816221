#include "autoctl/monitor/monitor_node.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <pqxx/pqxx>

#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/monitor/schema.hpp"
#include "autoctl/pg/connection.hpp"

namespace autoctl::monitor {

using common::Error;
using common::ErrorKind;

namespace {

constexpr std::chrono::seconds kLocalConnectTimeout{10};

// addr & mask, written as "<network>/<prefix>".
std::string network_of(const sockaddr* addr, const sockaddr* mask) {
    char text[INET6_ADDRSTRLEN] = {0};
    if (addr->sa_family == AF_INET) {
        const auto a = reinterpret_cast<const sockaddr_in*>(addr)->sin_addr.s_addr;
        const auto m = mask != nullptr ? reinterpret_cast<const sockaddr_in*>(mask)->sin_addr.s_addr : 0xFFFFFFFFu;
        in_addr net{};
        net.s_addr = a & m;
        ::inet_ntop(AF_INET, &net, text, sizeof text);
        return std::string(text) + "/" + std::to_string(__builtin_popcount(ntohl(m)));
    }
    const auto* a6 = reinterpret_cast<const sockaddr_in6*>(addr);
    const auto* m6 = reinterpret_cast<const sockaddr_in6*>(mask);
    in6_addr net = a6->sin6_addr;
    int prefix = 0;
    for (int i = 0; i < 16; ++i) {
        const unsigned char m = m6 != nullptr ? m6->sin6_addr.s6_addr[i] : 0xFF;
        net.s6_addr[i] &= m;
        prefix += __builtin_popcount(m);
    }
    ::inet_ntop(AF_INET6, &net, text, sizeof text);
    return std::string(text) + "/" + std::to_string(prefix);
}

bool same_address(const sockaddr* a, const sockaddr* b) {
    if (a == nullptr || b == nullptr || a->sa_family != b->sa_family) return false;
    if (a->sa_family == AF_INET) {
        return reinterpret_cast<const sockaddr_in*>(a)->sin_addr.s_addr ==
               reinterpret_cast<const sockaddr_in*>(b)->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        return std::memcmp(&reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr,
                           &reinterpret_cast<const sockaddr_in6*>(b)->sin6_addr, sizeof(in6_addr)) == 0;
    }
    return false;
}

std::string single_host(const sockaddr* addr) {
    char text[INET6_ADDRSTRLEN] = {0};
    if (addr->sa_family == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, text, sizeof text);
        return std::string(text) + "/32";
    }
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, text, sizeof text);
    return std::string(text) + "/128";
}

void add_unique(std::vector<std::string>& list, std::string value) {
    if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(std::move(value));
}

}  // namespace

std::vector<pg::Setting> monitor_postgres_settings(const common::Config& config) {
    const std::string auth = config.get("postgresql.auth_method");
    std::vector<pg::Setting> settings = {
        {"listen_addresses", config.get("postgresql.listen_addresses")},
        {"port", config.get("postgresql.port")},
        {"cluster_name", std::string(kMonitorClusterName)},
        {"unix_socket_directories", config.get("postgresql.pgdata")},
        {"unix_socket_permissions", "0700"},
        {"password_encryption", auth == "md5" ? "md5" : "scram-sha-256"},
    };
    if (config.get_bool("ssl.active")) {
        settings.push_back({"ssl", "on"});
        settings.push_back({"ssl_cert_file", config.get("ssl.cert_file")});
        settings.push_back({"ssl_key_file", config.get("ssl.key_file")});
        if (const auto ca = config.get("ssl.ca_file"); !ca.empty()) settings.push_back({"ssl_ca_file", ca});
        if (const auto crl = config.get("ssl.crl_file"); !crl.empty()) settings.push_back({"ssl_crl_file", crl});
    } else {
        settings.push_back({"ssl", "off"});
    }
    settings.push_back({"logging_collector", "on"});
    settings.push_back({"log_directory", "log"});
    settings.push_back({"log_filename", "postgresql-%Y-%m-%d.log"});
    settings.push_back({"log_line_prefix", "%m [%p] %q%u@%d "});
    return settings;
}

std::string monitor_base_hba() {
    return "# pg_hba.conf of an autoctl monitor, written by \"autoctl create monitor\".\n"
           "#\n"
           "# Local connections use the unix socket, whose directory is PGDATA itself (mode 0700):\n"
           "# only the OS user who owns PGDATA can reach it, so \"trust\" gives nobody else access.\n"
           "# autoctl connects this way as the superuser and as the database owner \"autoctl\".\n"
           "# Keepers and operators connect over TCP as \"autoctl_node\", with the rules below.\n"
           "#\n"
           "# TYPE  DATABASE        USER            ADDRESS                 METHOD\n"
           "local   all             all                                     trust\n"
           "local   replication     all                                     trust\n";
}

std::vector<std::string> monitor_client_networks(const std::string& hostname) {
    std::vector<std::string> networks = {"127.0.0.1/32", "::1/128"};
    if (hostname.empty()) return networks;

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    const int rc = ::getaddrinfo(hostname.c_str(), nullptr, &hints, &found);
    if (rc != 0) {
        common::logger("monitor")->warn("--hostname \"{}\" does not resolve ({}): no pg_hba.conf rule for its network",
                                        hostname, ::gai_strerror(rc));
        return networks;
    }
    ifaddrs* interfaces = nullptr;
    if (::getifaddrs(&interfaces) != 0) interfaces = nullptr;
    for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
        std::string network;
        for (const ifaddrs* i = interfaces; i != nullptr; i = i->ifa_next) {
            if (same_address(i->ifa_addr, ai->ai_addr)) {
                network = network_of(i->ifa_addr, i->ifa_netmask);
                break;
            }
        }
        if (network.empty()) {
            network = single_host(ai->ai_addr);
            common::logger("monitor")->warn(
                "--hostname \"{}\" resolves to {}, which no local interface holds: allowing that address only",
                hostname, network);
        }
        add_unique(networks, std::move(network));
    }
    if (interfaces != nullptr) ::freeifaddrs(interfaces);
    ::freeaddrinfo(found);
    return networks;
}

std::vector<pg::HbaRule> monitor_hba_rules(const common::Config& config, const std::vector<std::string>& networks) {
    std::vector<pg::HbaRule> rules;
    const std::string auth = config.get("postgresql.auth_method");
    if (auth == kSkipHba) return rules;
    for (const auto& network : networks) {
        pg::HbaRule rule;
        rule.type = config.get_bool("ssl.active") ? pg::HbaType::HostSsl : pg::HbaType::Host;
        rule.database = pg::HbaName::name(std::string(kMonitorDatabase));
        rule.user = pg::HbaName::name(std::string(kNodeRole));
        rule.address = network;
        rule.method = auth;
        rules.push_back(std::move(rule));
    }
    return rules;
}

pg::ConnInfo monitor_local_conninfo(const common::Config& config, const std::string& user, std::string_view dbname) {
    pg::ConnInfo info;
    info.set_host(config.get("postgresql.pgdata"));
    info.set_port(static_cast<int>(config.get_int("postgresql.port")));
    info.set_dbname(std::string(dbname));
    if (!user.empty()) info.set_user(user);
    return info;
}

int bootstrap_monitor_database(const common::Config& config) {
    auto log = common::logger("monitor");
    {
        auto info = monitor_local_conninfo(config, "", "postgres");
        info.set_application_name("autoctl create monitor");
        pg::Connection superuser(info, pg::ConnectOptions{kLocalConnectTimeout, ErrorKind::Postgres});
        for (const auto role : {kOwnerRole, kNodeRole}) {
            const auto found = superuser.exec_params("SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1", role);
            if (!found.empty()) continue;
            superuser.exec("CREATE ROLE " + pg::quote_identifier(role) + " WITH LOGIN");
            log->info("Created role \"{}\"", role);
        }
        const auto owner = superuser.exec_params(
            "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_catalog.pg_database WHERE datname = $1",
            kMonitorDatabase);
        if (owner.empty()) {
            superuser.exec("CREATE DATABASE " + pg::quote_identifier(kMonitorDatabase) + " OWNER " +
                           pg::quote_identifier(kOwnerRole));
            log->info("Created database \"{}\" owned by \"{}\"", kMonitorDatabase, kOwnerRole);
        } else if (owner[0].text(0) != kOwnerRole) {
            superuser.exec("ALTER DATABASE " + pg::quote_identifier(kMonitorDatabase) + " OWNER TO " +
                           pg::quote_identifier(kOwnerRole));
            log->info("Database \"{}\" is now owned by \"{}\" (was \"{}\")", kMonitorDatabase, kOwnerRole,
                      owner[0].text(0));
        }
    }
    auto info = monitor_local_conninfo(config, std::string(kOwnerRole), kMonitorDatabase);
    info.set_application_name("autoctl create monitor");
    info.set_connect_timeout(static_cast<int>(kLocalConnectTimeout.count()));
    try {
        pqxx::connection owner(info.to_libpq());
        const int before = installed_schema_version(owner);
        const int version = install_or_upgrade_schema(owner);
        if (before == version) {
            log->info("The monitor schema is at version {} already", version);
        } else {
            log->info("Installed the monitor schema, version {}", version);
        }
        return version;
    } catch (const pqxx::broken_connection& e) {
        throw Error(ErrorKind::Postgres, "failed to connect to the monitor database as \"" + std::string(kOwnerRole) +
                                             "\" through " + info.endpoint() + ": " + common::redact_conninfo(e.what()));
    } catch (const pqxx::sql_error& e) {
        throw Error(ErrorKind::Postgres, std::string("failed to install the monitor schema: ") + e.what());
    }
}

MonitorServiceOptions monitor_service_options(const common::Config& config, int service_pid) {
    using std::chrono::milliseconds;
    MonitorServiceOptions o;
    auto info = monitor_local_conninfo(config, std::string(kOwnerRole), kMonitorDatabase);
    info.set_application_name("autoctl-monitor-" + std::to_string(service_pid));
    info.set_connect_timeout(static_cast<int>(kLocalConnectTimeout.count()));
    o.conninfo = info.to_libpq();
    o.health.period = milliseconds(config.get_int("monitor.health_check_period"));
    o.health.timeout = milliseconds(config.get_int("monitor.health_check_timeout"));
    o.health.max_retries = static_cast<int>(config.get_int("monitor.health_check_max_retries"));
    o.timing.node_considered_unhealthy_timeout = milliseconds(config.get_int("monitor.node_considered_unhealthy_timeout"));
    o.timing.startup_grace_period = milliseconds(config.get_int("monitor.startup_grace_period"));
    o.timing.primary_demote_timeout = milliseconds(config.get_int("monitor.primary_demote_timeout"));
    o.timing.enable_sync_wal_log_threshold =
        static_cast<std::uint64_t>(config.get_int("monitor.enable_sync_wal_log_threshold"));
    o.timing.promote_wal_log_threshold = static_cast<std::uint64_t>(config.get_int("monitor.promote_wal_log_threshold"));
    return o;
}

bool same_service_options(const MonitorServiceOptions& a, const MonitorServiceOptions& b) {
    return a.conninfo == b.conninfo && a.health.period == b.health.period && a.health.timeout == b.health.timeout &&
           a.health.max_retries == b.health.max_retries &&
           a.timing.node_considered_unhealthy_timeout == b.timing.node_considered_unhealthy_timeout &&
           a.timing.startup_grace_period == b.timing.startup_grace_period &&
           a.timing.primary_demote_timeout == b.timing.primary_demote_timeout &&
           a.timing.enable_sync_wal_log_threshold == b.timing.enable_sync_wal_log_threshold &&
           a.timing.promote_wal_log_threshold == b.timing.promote_wal_log_threshold &&
           a.enable_health_checks == b.enable_health_checks && a.timer == b.timer && a.lock_retry == b.lock_retry;
}

}  // namespace autoctl::monitor

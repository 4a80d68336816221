// init -> single: the first node of a group gets a Postgres cluster of its own (initdb, or the
// PGDATA it was created on), autoctl's settings, the replication role and the database, and runs.
// Every step checks what is done already, so an interrupted create finishes when run again.

#include <cstdio>

#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/common/tls.hpp"
#include "autoctl/keeper/hba_addresses.hpp"
#include "autoctl/keeper/keeper.hpp"
#include "autoctl/pg/conninfo.hpp"
#include "autoctl/pg/pg_ctl.hpp"

namespace autoctl::keeper {

namespace {

namespace fs = std::filesystem;
using common::Error;
using common::ErrorKind;

bool is_cluster(const fs::path& pgdata) {
    std::error_code ec;
    return fs::exists(pgdata / "PG_VERSION", ec);
}

}  // namespace

void Keeper::init_primary() {
    auto log = common::logger("keeper");
    const fs::path pgdata = pg_.pgdata();
    const std::string auth = config_.get("postgresql.auth_method");
    const bool skip_hba = config_.get("postgresql.hba_level") == "skip";
    if (!is_cluster(pgdata)) {
        log->info("Initialising a Postgres cluster at \"{}\"", pgdata.string());
        pg::InitdbOptions options;
        options.auth_host = skip_hba || auth.empty() ? std::string("trust") : auth;
        pg::PgCtl(pg_.bindir()).initdb(pgdata, options);
    }
    if (config_.get_bool("ssl.active")) {
        const fs::path cert = config_.get("ssl.cert_file");
        const fs::path key = config_.get("ssl.key_file");
        std::error_code ec;
        if (!cert.empty() && !key.empty() && (!fs::exists(cert, ec) || !fs::exists(key, ec))) {
            common::write_self_signed_certificate(cert, key, {config_.get("pg_autoctl.hostname"), 3650});
            log->info("Created a self-signed certificate: {} and {}", cert.string(), key.string());
        }
    }
    pg_.write_settings();
    if (!skip_hba && config_.get("postgresql.hba_level") == "app") {
        const auto network = lan_network(config_.get("pg_autoctl.hostname"));
        if (network.empty()) {
            log->warn("--pg-hba-lan: \"{}\" is not an IPv4 address: add the LAN rule to pg_hba.conf yourself",
                      config_.get("pg_autoctl.hostname"));
        } else {
            const auto type = config_.get_bool("ssl.active") ? pg::HbaType::HostSsl : pg::HbaType::Host;
            pg::ensure_hba_rules(pgdata / "pg_hba.conf", {{type, pg::HbaName::all(), pg::HbaName::all(), network,
                                                           auth.empty() ? "trust" : auth}});
        }
    }
    if (!skip_hba) {
        // The monitor's health checks, from the monitor's host, as a role without privileges.
        const auto monitor_host = pg::ConnInfo::parse(config_.get("pg_autoctl.monitor")).get("host").value_or("");
        if (!monitor_host.empty() && monitor_host.front() != '/') {
            const auto type = config_.get_bool("ssl.active") ? pg::HbaType::HostSsl : pg::HbaType::Host;
            std::vector<pg::HbaRule> rules;
            for (const auto& address : hba_addresses(monitor_host)) {
                rules.push_back({type, pg::HbaName::name("postgres"), pg::HbaName::name(kHealthCheckUser), address,
                                 "trust"});
            }
            pg::ensure_hba_rules(pgdata / "pg_hba.conf", rules);
        }
    }
    ensure_running();
    if (pg_.in_recovery() || pg_.has_standby_signal()) {
        log->info("The Postgres cluster at \"{}\" is a standby: promoting it", pgdata.string());
    }
    disable_replication();
    pg_.create_replication_role(password());
    pg_.create_health_check_role();
    pg_.create_database(config_.get("postgresql.dbname"));
    const auto sysid = pg::PgCtl(pg_.bindir()).controldata(pgdata).system_identifier;
    monitor().set_node_system_identifier(state_.node_id, sysid);
}

}  // namespace autoctl::keeper

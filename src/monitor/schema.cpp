#include "autoctl/monitor/schema.hpp"

#include <algorithm>
#include <pqxx/pqxx>

#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"

namespace autoctl::monitor {

using common::Error;
using common::ErrorKind;

int latest_schema_version() {
    int latest = 0;
    for (const auto& f : migration_files()) latest = std::max(latest, f.version);
    return latest;
}

int installed_schema_version(pqxx::connection_base& conn) {
    pqxx::nontransaction tx(conn);
    auto exists = tx.exec("SELECT to_regclass('pgautofailover.schema_version') IS NOT NULL");
    if (!exists[0][0].as<bool>()) return 0;
    auto version = tx.exec("SELECT coalesce(max(version), 0) FROM pgautofailover.schema_version");
    return version[0][0].as<int>();
}

int install_or_upgrade_schema(pqxx::connection_base& conn, int up_to_version) {
    const int latest = latest_schema_version();
    const int target = up_to_version > 0 ? std::min(up_to_version, latest) : latest;
    int installed = installed_schema_version(conn);
    if (installed > latest)
        throw Error(ErrorKind::Monitor,
                    "the monitor schema is version " + std::to_string(installed) + ", newer than this autoctl (" +
                        std::to_string(latest) + "): upgrade autoctl on this host before running it");
    if (installed >= target) return installed;
    auto log = common::logger("monitor");
    pqxx::work tx(conn);
    // One upgrade at a time, even with several monitor services starting together: the version is
    // read again under the lock, another service may have upgraded in between.
    tx.exec("SELECT pg_advisory_xact_lock(4242, 2)");
    if (tx.exec("SELECT to_regclass('pgautofailover.schema_version') IS NOT NULL")[0][0].as<bool>())
        installed = tx.exec("SELECT coalesce(max(version), 0) FROM pgautofailover.schema_version")[0][0].as<int>();
    for (const auto& f : migration_files()) {
        if (f.version <= installed || f.version > target) continue;
        log->info("applying monitor schema migration {}", f.name);
        try {
            tx.exec(f.sql);
        } catch (const pqxx::sql_error& e) {
            throw Error(ErrorKind::Monitor, std::string("monitor schema migration ") + f.name + " failed: " + e.what());
        }
    }
    tx.commit();
    return std::max(installed, target);
}

}  // namespace autoctl::monitor

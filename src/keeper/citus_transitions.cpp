// The Citus actions of the keeper table (reference §5), on top of the plain ones (transitions.cpp),
// and the coordinator primary's upkeep of pg_dist_node.
//
// - Coordinator init: the plain init, then citus in shared_preload_libraries and CREATE EXTENSION
//   citus in the formation's database, and the coordinator registers itself (group 0).
// - Worker init: the same, then the worker registers with the coordinator primary (found with the
//   monitor's get_coordinator), retried until the coordinator answers with its node API.
// - Worker failover: before the promotion the standby prepares citus_update_node(its host:port,
//   force, lock_cooldown) on the coordinator as a prepared transaction; it commits it after the
//   promotion; the old primary of an aborted failover rolls it back. Every step checks
//   pg_prepared_xacts and pg_dist_node first, so it can be re-run after a crash.
// - Coordinator failover is the plain one; the new coordinator then points its own pg_dist_node
//   row (group 0) at itself.
//
// When the citus extension is not installed (pg_available_extensions), the node runs without it
// and says so once: shared_preload_libraries is left alone and no extension is created. The Citus
// functions are then looked for in the coordinator's database as they are (the tests install an
// SQL emulation of them there); autoctl never installs them.

#include <atomic>
#include <thread>

#include "autoctl/citus/coordinator.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/keeper/hba_addresses.hpp"
#include "autoctl/keeper/keeper.hpp"

namespace autoctl::keeper {

namespace {

using common::Error;
using common::ErrorKind;

std::shared_ptr<spdlog::logger> log() { return common::logger("keeper"); }

std::atomic<bool> warned_no_extension{false};

// Citus needs prepared transactions (its own 2PC, and autoctl's citus_update_node); Citus sets
// 2 * max_connections when it loads and finds 0.
constexpr const char* kMaxPreparedTransactions = "200";

bool contains_library(const std::string& list, const std::string& name) {
    std::size_t start = 0;
    while (start <= list.size()) {
        auto end = list.find(',', start);
        if (end == std::string::npos) end = list.size();
        std::string item = list.substr(start, end - start);
        item.erase(0, item.find_first_not_of(" \t\""));
        item.erase(item.find_last_not_of(" \t\"") + 1);
        if (item == name) return true;
        start = end + 1;
    }
    return false;
}

}  // namespace

bool Keeper::is_citus_node() const { return config_.get("pg_autoctl.nodekind") != "standalone"; }

bool Keeper::is_citus_coordinator() const { return config_.get("pg_autoctl.nodekind") == "coordinator"; }

int Keeper::citus_lock_cooldown() const {
    return static_cast<int>(config_.get_int("timeout.citus_master_update_node_lock_cooldown"));
}

std::string Keeper::citus_host() const { return config_.get("pg_autoctl.hostname"); }

pg::ConnInfo Keeper::citus_local_conninfo() const {
    const auto socket = config_.get("postgresql.host");
    pg::ConnInfo info;
    info.set_host(socket.empty() ? config_.get("postgresql.pgdata") : socket)
        .set_port(pg_.port())
        .set_dbname(config_.get("postgresql.dbname"))
        .set_connect_timeout(2)
        .set_application_name("autoctl_keeper");
    return info;
}

citus::CoordinatorClient Keeper::citus_coordinator() {
    const auto coordinator = monitor().get_coordinator(formation());
    if (!coordinator) {
        throw TransitionPending("the monitor knows no coordinator primary in formation \"" + formation() + "\" yet");
    }
    return citus::CoordinatorClient(citus::coordinator_conninfo(coordinator->host, coordinator->port,
                                                                config_.get("postgresql.dbname"), sslmode()));
}

// citus in shared_preload_libraries (restarting Postgres once), max_prepared_transactions, and
// CREATE EXTENSION citus in the formation's database, when the extension is installed.
void Keeper::citus_setup_local() {
    ensure_running();
    const bool available =
        pg_.exec("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'citus')").scalar().value_or("f") ==
        "t";
    bool restart = false;
    if (pg_.exec("SHOW max_prepared_transactions").scalar().value_or("0") == "0") {
        pg_.alter_system("max_prepared_transactions", kMaxPreparedTransactions);
        restart = true;
    }
    if (!available) {
        if (!warned_no_extension.exchange(true)) {
            log()->warn("{}: the citus extension is not installed on this host (pg_available_extensions): running "
                        "without it; citus is not added to shared_preload_libraries and CREATE EXTENSION citus "
                        "is skipped",
                        describe());
        }
    } else {
        const auto libraries = pg_.exec("SHOW shared_preload_libraries").scalar().value_or("");
        if (!contains_library(libraries, "citus")) {
            // Citus must come first.
            pg_.alter_system("shared_preload_libraries", libraries.empty() ? "citus" : "citus," + libraries);
            restart = true;
        }
    }
    if (restart) {
        log()->info("{}: restarting Postgres for the Citus settings", describe());
        ensure_stopped();
        ensure_running();
    }
    if (available) {
        pg::Connection conn(citus_local_conninfo(), {std::chrono::seconds(2), ErrorKind::Postgres});
        if (!citus::extension_installed(conn)) {
            conn.exec("CREATE EXTENSION IF NOT EXISTS citus");
            log()->info("{}: created the citus extension in database \"{}\"", describe(),
                        config_.get("postgresql.dbname"));
        }
    }
}

// The coordinator registers itself as group 0 (or moves its row to its own host:port after a
// failover). Without a node API in its database yet, it registers later (citus_refresh).
bool Keeper::citus_register_coordinator() {
    if (!local_citus_ || !local_citus_->connection().is_open()) {
        local_citus_.emplace(citus_local_conninfo());
    }
    auto& client = *local_citus_;
    if (!client.has_node_api()) return false;
    const auto before = client.primary_of_group(0);
    client.set_coordinator_host(citus_host(), pg_.port());
    if (!before || before->host != citus_host() || before->port != pg_.port()) {
        log()->info("{}: registered the coordinator {}:{} in pg_dist_node (group 0)", describe(), citus_host(),
                    pg_.port());
    }
    return true;
}

// A worker primary registers with the coordinator primary: polls the monitor and the coordinator
// until the coordinator answers with its node API (timeout.citus_coordinator_wait_*).
void Keeper::citus_register_worker() {
    const auto max_retries = config_.get_int("timeout.citus_coordinator_wait_max_retries");
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::seconds(config_.get_int("timeout.citus_coordinator_wait_timeout"));
    for (std::int64_t attempt = 1;; ++attempt) {
        std::string reason;
        try {
            auto client = citus_coordinator();
            if (client.has_node_api()) {
                // A failover of this group may have left its prepared update (this node is
                // initialised again after a drop): it would block the row.
                client.rollback_update_node(state_.group);
                const auto existing = client.primary_of_group(state_.group);
                std::int64_t id = 0;
                if (existing && (existing->host != citus_host() || existing->port != pg_.port())) {
                    client.update_node(state_.group, citus_host(), pg_.port(), citus_lock_cooldown());
                    id = existing->node_id;
                } else {
                    id = client.add_node(citus_host(), pg_.port(), state_.group);
                }
                log()->info("{}: registered with the coordinator {} as node {} of group {}", describe(),
                            client.connection().endpoint(), id, state_.group);
                return;
            }
            reason = "the coordinator's database \"" + config_.get("postgresql.dbname") +
                     "\" has no Citus node API (pg_dist_node, citus_add_node) yet";
        } catch (const Error& e) {
            reason = e.what();
        }
        if (attempt >= max_retries || std::chrono::steady_clock::now() >= deadline) {
            throw Error(ErrorKind::Citus, "cannot register with the coordinator: " + reason);
        }
        if (attempt == 1 || attempt % 10 == 0) {
            log()->info("{}: waiting for the coordinator ({}), attempt {}/{}", describe(), reason, attempt, max_retries);
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
    }
}

void Keeper::citus_init_primary() {
    init_primary();
    citus_setup_local();
    if (is_citus_coordinator()) {
        if (!citus_register_coordinator()) {
            log()->warn("{}: the database \"{}\" has no Citus node API (pg_dist_node, citus_add_node): the "
                        "coordinator registers itself once it has one",
                        describe(), config_.get("postgresql.dbname"));
        }
    } else {
        citus_register_worker();
    }
}

// Secondary (or fast_forward) -> prepare_promotion on a worker: the coordinator's pg_dist_node
// points at this node in a prepared transaction, which blocks writes to the group until the
// promotion is done.
void Keeper::citus_prepare_update() {
    auto client = citus_coordinator();
    const auto gid = client.prepare_update_node(state_.group, citus_host(), pg_.port(), citus_lock_cooldown());
    log()->info("{}: prepared \"{}\" on the coordinator {}: {}:{} as the primary of group {}", describe(), gid,
                client.connection().endpoint(), citus_host(), pg_.port(), state_.group);
}

// After the promotion: COMMIT PREPARED, or, when no prepared transaction is left (a crash, a path
// without prepare_promotion), the update at once.
void Keeper::citus_commit_update() {
    auto client = citus_coordinator();
    if (client.commit_update_node(state_.group)) {
        log()->info("{}: committed the update of group {} on the coordinator {}", describe(), state_.group,
                    client.connection().endpoint());
        return;
    }
    if (!client.primary_of_group(state_.group)) {
        const auto id = client.add_node(citus_host(), pg_.port(), state_.group);
        log()->info("{}: registered with the coordinator {} as node {} of group {}", describe(),
                    client.connection().endpoint(), id, state_.group);
    } else if (client.update_node(state_.group, citus_host(), pg_.port(), citus_lock_cooldown())) {
        log()->info("{}: the coordinator {} now routes group {} to {}:{}", describe(), client.connection().endpoint(),
                    state_.group, citus_host(), pg_.port());
    }
}

// The old primary of an aborted failover: ROLLBACK PREPARED of the standby's update, or the
// group's row back to this node.
void Keeper::citus_rollback_update() {
    auto client = citus_coordinator();
    if (client.rollback_update_node(state_.group)) {
        log()->info("{}: rolled back the prepared update of group {} on the coordinator {}", describe(), state_.group,
                    client.connection().endpoint());
        return;
    }
    if (client.update_node(state_.group, citus_host(), pg_.port(), citus_lock_cooldown())) {
        log()->info("{}: the coordinator {} routes group {} to {}:{} again", describe(), client.connection().endpoint(),
                    state_.group, citus_host(), pg_.port());
    }
}

void Keeper::run_citus_action(fsm::KeeperAction action) {
    using fsm::KeeperAction;
    switch (action) {
        case KeeperAction::CitusCoordinatorInitPrimary:
        case KeeperAction::CitusWorkerInitPrimary:
            citus_init_primary();
            return;
        case KeeperAction::CitusWorkerPrepareStandbyForPromotion:
            citus_prepare_update();
            return;
        case KeeperAction::CitusWorkerStopReplication:
            // Read-only and promoted as a plain node; the prepared update already blocks the
            // group's writes on the coordinator (prepared again when a crash lost it).
            try {
                citus_prepare_update();
            } catch (const Error& e) {
                log()->warn("{}: cannot prepare the update on the coordinator before the promotion: {}", describe(),
                            e.what());
            }
            stop_replication();
            return;
        case KeeperAction::CitusWorkerPromoteStandbyToPrimary:
        case KeeperAction::CitusWorkerPromoteStandby:
            promote_to_primary();
            citus_commit_update();
            return;
        case KeeperAction::CitusWorkerResumeAsPrimary:
            disable_replication();
            citus_rollback_update();
            return;
        case KeeperAction::CitusCoordinatorPromoteStandbyToPrimary:
        case KeeperAction::CitusCoordinatorPromoteStandbyToSingle:
            promote_to_primary();
            try {
                citus_register_coordinator();
            } catch (const Error& e) {
                local_citus_.reset();
                log()->warn("{}: cannot update the coordinator's own pg_dist_node row yet: {}", describe(), e.what());
            }
            return;
        case KeeperAction::CitusCleanupAndResumeAsPrimary:
            // As CleanupAsPrimary: standby.signal stays until the promotion.
            pg_.write_standby_setup(std::nullopt, state_.node_id, sslmode());
            if (pg_.is_ready()) pg_.reload();
            if (!is_citus_coordinator()) citus_prepare_update();
            return;
        case KeeperAction::CitusRegisterSecondary:
            // Only primaries are registered in pg_dist_node (no Citus read replicas yet).
            prepare_for_secondary();
            return;
        default:
            throw Error(ErrorKind::Internal, "not a Citus keeper action: " + std::string(fsm::to_string(action)));
    }
}

// On a primary, every step: HBA rules for the formation's nodes on the formation's database
// (Citus connects coordinator <-> workers as the query's user), and on the coordinator its own
// registration and the removal of pg_dist_node rows of groups that no longer exist.
void Keeper::citus_refresh() {
    if (!is_citus_node()) return;
    const auto nodes = monitor().get_formation_nodes(formation());
    if (config_.get("postgresql.hba_level") != "skip") {
        const std::string auth = config_.get("postgresql.auth_method");
        const auto type = config_.get_bool("ssl.active") ? pg::HbaType::HostSsl : pg::HbaType::Host;
        std::vector<pg::HbaRule> rules;
        for (const auto& node : nodes) {
            if (node.node_id == state_.node_id) continue;
            for (const auto& address : hba_addresses(node.host)) {
                rules.push_back({type, pg::HbaName::name(config_.get("postgresql.dbname")), pg::HbaName::all(), address,
                                 auth.empty() ? "trust" : auth});
            }
        }
        if (!rules.empty() && pg::ensure_hba_rules(pg_.pgdata() / "pg_hba.conf", rules)) {
            log()->info("{}: updated pg_hba.conf for the formation's Citus nodes", describe());
            pg_.reload();
        }
    }
    if (!is_citus_coordinator()) return;
    try {
        if (!citus_register_coordinator()) return;
        std::set<std::pair<int, std::string>> groups;
        for (const auto& node : nodes) groups.insert({node.group, node.cluster});
        std::vector<std::string> refused;
        for (const auto& removed : local_citus_->remove_stale_nodes(groups, &refused)) {
            log()->info("{}: removed {}:{} (group {}) from pg_dist_node: the monitor has no such group", describe(),
                        removed.host, removed.port, removed.group);
        }
        for (const auto& r : refused) log()->warn("{}: cannot remove {} from pg_dist_node", describe(), r);
    } catch (const Error&) {
        local_citus_.reset();
        throw;
    }
}

}  // namespace autoctl::keeper

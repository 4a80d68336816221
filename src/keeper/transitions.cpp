// The keeper table's actions (fsm::KeeperAction) as Postgres operations. Each one can be re-run
// from the start after a failure or a crash: it checks what is already done.

#include <thread>

#include "autoctl/pg/pg_ctl.hpp"

#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/keeper/hba_addresses.hpp"
#include "autoctl/keeper/keeper.hpp"
#include "autoctl/keeper/supervised_postgres.hpp"

namespace autoctl::keeper {

namespace {

using common::Error;
using common::ErrorKind;
using fsm::KeeperAction;
using fsm::NodeState;

std::shared_ptr<spdlog::logger> log() { return common::logger("keeper"); }

constexpr std::chrono::seconds kStartWait{30};

fsm::NodeKind node_kind(const common::Config& config) {
    const auto kind = config.get("pg_autoctl.nodekind");
    if (kind == "coordinator") return fsm::NodeKind::Coordinator;
    if (kind == "worker") return fsm::NodeKind::Worker;
    return fsm::NodeKind::Standalone;
}

}  // namespace

void Keeper::transition(NodeState from, NodeState to) {
    const auto row = fsm::find_keeper_transition(from, to, node_kind(config_));
    if (!row) {
        throw Error(ErrorKind::State, "autoctl does not know how to reach state " + std::string(fsm::to_string(to)) +
                                          " from " + std::string(fsm::to_string(from)));
    }
    log()->info("{}: transition from {} to {}: {}", describe(), fsm::to_string(from), fsm::to_string(to),
                fsm::to_string(row->action));
    run_action(row->action, from, to);
}

void Keeper::ensure_running() {
    if (!postgres_->start(kStartWait)) {
        throw Error(ErrorKind::Postgres, "Postgres did not accept connections within " +
                                             std::to_string(kStartWait.count()) + " s (see its log)");
    }
}

void Keeper::ensure_stopped() {
    pg_.close();
    postgres_->stop();
}

Upstream Keeper::primary_upstream() {
    const auto primary = monitor().get_primary(formation(), state_.group);
    return {primary.host, primary.port};
}

// This node is a primary without synchronous replication: not a standby any more (promoted
// if needed), writable, synchronous_standby_names empty.
void Keeper::disable_replication() {
    ensure_running();
    if (pg_.in_recovery()) pg_.promote();
    if (pg_.has_standby_signal()) pg_.remove_standby_signal();
    pg_.alter_system("synchronous_standby_names", "");
    pg_.reset_system("default_transaction_read_only");
    pg_.reload();
}

// synchronous_standby_names as the monitor computes it. When it names standbys and
// `wait_for_standby` is set, this node only reports primary once one of them has flushed the
// WAL written so far: until then a failover could lose what was acknowledged in wait_primary.
void Keeper::apply_synchronous_standby_names(bool wait_for_standby) {
    ensure_running();
    const auto names = monitor().synchronous_standby_names(formation(), state_.group);
    pg_.alter_system("synchronous_standby_names", names);
    pg_.reset_system("default_transaction_read_only");
    pg_.reload();
    if (names.empty() || !wait_for_standby) {
        state_.standby_target_lsn.clear();
        return;
    }
    if (state_.standby_target_lsn.empty()) state_.standby_target_lsn = pg_.report().lsn.to_string();
    const auto target = fsm::Lsn::parse(state_.standby_target_lsn);
    if (!target || !pg_.sync_standby_reached(*target)) {
        throw TransitionPending("waiting for a synchronous standby to reach " + state_.standby_target_lsn);
    }
    state_.standby_target_lsn.clear();
}

void Keeper::init_standby() {
    const auto upstream = primary_upstream();
    ensure_stopped();
    pg_.basebackup(upstream, standby_slot_name(state_.node_id), sslmode(), password(),
                   config_.get("replication.backup_directory"));
    pg_.write_standby_setup(upstream, state_.node_id, sslmode());
    ensure_running();
    if (const auto sysid = pg::PgCtl(pg_.bindir()).controldata(pg_.pgdata()).system_identifier; sysid != 0) {
        monitor().set_node_system_identifier(state_.node_id, sysid);
    }
}

// A former primary (or a standby back from maintenance) follows the current primary: pg_rewind
// when its history diverged, a fresh pg_basebackup when rewinding is impossible (pg_control
// gone, WAL missing, ...).
void Keeper::rewind_or_init() {
    const auto upstream = primary_upstream();
    ensure_stopped();
    try {
        if (!std::filesystem::exists(pg_.pgdata() / "global" / "pg_control")) {
            throw Error(ErrorKind::Command, "global/pg_control is missing");
        }
        pg_.rewind(upstream, sslmode(), password());
    } catch (const Error& e) {
        log()->warn("{}: cannot rewind ({}): taking a fresh copy with pg_basebackup instead", describe(), e.what());
        pg_.basebackup(upstream, standby_slot_name(state_.node_id), sslmode(), password(),
                       config_.get("replication.backup_directory"));
    }
    pg_.write_standby_setup(upstream, state_.node_id, sslmode());
    ensure_running();
    pg_.drop_replication_slots();
}

// A standby switches to the current primary. primary_conninfo is reloadable (PG 13+): no
// restart while Postgres already runs as a standby.
void Keeper::follow_primary() {
    const auto upstream = primary_upstream();
    const bool was_standby = pg_.has_standby_signal();
    pg_.write_standby_setup(upstream, state_.node_id, sslmode());
    if (was_standby && pg_.is_ready() && pg_.in_recovery()) {
        pg_.reload();
    } else {
        ensure_stopped();
        ensure_running();
    }
}

void Keeper::prepare_for_secondary() {
    ensure_running();
    if (!pg_.report().wal_receiver_streaming) {
        throw TransitionPending("not streaming from the primary yet");
    }
}

// Read-only first, then promote: the new primary rejects writes until the monitor confirms the
// old one can no longer accept them (wait_primary).
void Keeper::stop_replication() {
    ensure_running();
    pg_.alter_system("default_transaction_read_only", "on");
    pg_.alter_system("synchronous_standby_names", "");
    pg_.reload();
    pg_.promote();
}

void Keeper::promote_to_primary() {
    ensure_running();
    pg_.promote();
    if (pg_.has_standby_signal()) pg_.remove_standby_signal();
    pg_.reset_system("default_transaction_read_only");
    pg_.alter_system("synchronous_standby_names", "");
    pg_.reload();
    // pg_rewind on the former primary compares timelines in pg_control: the promotion's
    // checkpoint must be done before it runs.
    pg_.checkpoint();
}

// Replays what this node has and connects to nobody, so its LSN stops moving while the monitor
// elects the most advanced standby.
void Keeper::report_lsn(bool drop_slots) {
    const bool standby_running = pg_.has_standby_signal() && pg_.is_ready() && pg_.in_recovery();
    pg_.write_standby_setup(std::nullopt, state_.node_id, sslmode());
    if (standby_running) {
        pg_.reload();
    } else {
        ensure_stopped();
        ensure_running();
    }
    if (drop_slots) pg_.drop_replication_slots();
}

// Fetches the WAL this node misses from the most advanced standby, then disconnects again.
void Keeper::fast_forward() {
    const auto source = monitor().get_most_advanced_standby(formation(), state_.group);
    if (!source) throw Error(ErrorKind::Monitor, "the monitor names no most advanced standby");
    if (pg_.report().lsn >= source->lsn) {
        pg_.write_standby_setup(std::nullopt, state_.node_id, sslmode());
        pg_.reload();
        return;
    }
    pg_.write_standby_setup(Upstream{source->host, source->port}, state_.node_id, sslmode());
    pg_.reload();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (pg_.report().lsn < source->lsn) {
        if (std::chrono::steady_clock::now() >= deadline) {
            throw Error(ErrorKind::Postgres, "did not reach " + source->lsn.to_string() + " from " + source->name);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    pg_.write_standby_setup(std::nullopt, state_.node_id, sslmode());
    pg_.reload();
}

void Keeper::run_action(KeeperAction action, NodeState, NodeState to) {
    switch (action) {
        case KeeperAction::CitusWorkerPrepareStandbyForPromotion:
        case KeeperAction::CitusCoordinatorInitPrimary:
        case KeeperAction::CitusWorkerInitPrimary:
        case KeeperAction::CitusWorkerResumeAsPrimary:
        case KeeperAction::CitusRegisterSecondary:
        case KeeperAction::CitusWorkerStopReplication:
        case KeeperAction::CitusCoordinatorPromoteStandbyToPrimary:
        case KeeperAction::CitusWorkerPromoteStandbyToPrimary:
        case KeeperAction::CitusCoordinatorPromoteStandbyToSingle:
        case KeeperAction::CitusWorkerPromoteStandby:
        case KeeperAction::CitusCleanupAndResumeAsPrimary:
            run_citus_action(action);  // citus_transitions.cpp
            return;
        case KeeperAction::None:
        case KeeperAction::PrepareReplication:
        case KeeperAction::PrepareStandbyForPromotion:
            return;
        case KeeperAction::InitPrimary:
            init_primary();
            return;
        case KeeperAction::InitFromStandby: {
            const auto source = monitor().get_most_advanced_standby(formation(), state_.group);
            if (!source) throw Error(ErrorKind::Monitor, "the monitor names no standby to copy");
            ensure_stopped();
            pg_.basebackup({source->host, source->port}, std::nullopt, sslmode(), password(),
                           config_.get("replication.backup_directory"));
            report_lsn(false);
            return;
        }
        case KeeperAction::DisableReplication:
        case KeeperAction::ResumeAsPrimary:
        case KeeperAction::DisableSyncRep:
            disable_replication();
            return;
        case KeeperAction::EnableSyncRep:
            apply_synchronous_standby_names(true);
            return;
        case KeeperAction::StartPostgres:
            apply_synchronous_standby_names(false);
            return;
        case KeeperAction::StopPostgres:
            ensure_stopped();
            return;
        case KeeperAction::CheckpointAndStopPostgres:
        case KeeperAction::StopPostgresForPrimaryMaintenance:
            if (pg_.is_ready()) pg_.checkpoint();
            ensure_stopped();
            return;
        case KeeperAction::StopPostgresAndSetupStandby:
            ensure_stopped();
            pg_.write_standby_setup(std::nullopt, state_.node_id, sslmode());
            postgres_->release();
            return;
        case KeeperAction::InitStandby:
            init_standby();
            return;
        case KeeperAction::RewindOrInit:
        case KeeperAction::RestartStandby:
            rewind_or_init();
            return;
        case KeeperAction::FollowNewPrimary:
            follow_primary();
            if (to == NodeState::Secondary) prepare_for_secondary();
            return;
        case KeeperAction::PrepareForSecondary:
            prepare_for_secondary();
            return;
        case KeeperAction::StopReplication:
            stop_replication();
            return;
        case KeeperAction::PromoteStandbyToPrimary:
        case KeeperAction::PromoteStandby:
            promote_to_primary();
            return;
        case KeeperAction::StartMaintenanceOnStandby:
            postgres_->release();
            return;
        case KeeperAction::ReportLsn:
            report_lsn(false);
            return;
        case KeeperAction::ReportLsnAndDropSlots:
            report_lsn(true);
            return;
        case KeeperAction::FastForward:
            fast_forward();
            return;
        case KeeperAction::CleanupAsPrimary:
            // standby.signal stays until stop_replication promotes: until then this node must
            // not accept writes.
            pg_.write_standby_setup(std::nullopt, state_.node_id, sslmode());
            if (pg_.is_ready()) pg_.reload();
            return;
        case KeeperAction::DropNode:
            ensure_stopped();
            return;
    }
    throw Error(ErrorKind::Internal, "unknown keeper action " + std::string(fsm::to_string(action)));
}

// What the current state keeps true between transitions (reference §4.4).
// A Postgres that is down is asked to start, without waiting for it as ensure_running() does:
// the next report must not wait, since the monitor may be failing this node over meanwhile.
void Keeper::ensure_current_state() {
    const auto start_postgres = [this] {
        if (!postgres_->start(std::chrono::seconds(1))) {
            log()->warn("{} ({}): Postgres is not running yet", describe(), fsm::to_string(state_.current));
        }
    };
    switch (state_.current) {
        case NodeState::Single:
        case NodeState::Primary:
        case NodeState::WaitPrimary:
        case NodeState::JoinPrimary:
        case NodeState::ApplySettings:
            if (!pg_running_) {
                start_postgres();
                return;
            }
            refresh_other_nodes();
            return;
        case NodeState::PreparePromotion:
        case NodeState::StopReplication:
        case NodeState::Secondary:
        case NodeState::ReportLsn:
        case NodeState::CatchingUp:
        case NodeState::FastForward:
        case NodeState::JoinSecondary:
            if (!pg_running_) start_postgres();
            return;
        case NodeState::Demoted:
        case NodeState::DemoteTimeout:
        case NodeState::Draining:
            if (pg_.is_ready() || pg::PgCtl(pg_.bindir()).status(pg_.pgdata()).is_running) ensure_stopped();
            return;
        default:
            return;
    }
}

// Replication slots and pg_hba.conf rules for the other nodes of the group.
void Keeper::refresh_other_nodes() {
    const auto others = monitor().get_other_nodes(state_.node_id);
    std::vector<std::int64_t> ids;
    std::vector<pg::HbaRule> rules;
    const bool manage_hba = config_.get("postgresql.hba_level") != "skip";
    const std::string auth = config_.get("postgresql.auth_method");
    const std::string dbname = config_.get("postgresql.dbname");
    const auto type = config_.get_bool("ssl.active") ? pg::HbaType::HostSsl : pg::HbaType::Host;
    for (const auto& node : others) {
        ids.push_back(node.node_id);
        for (const auto& address : hba_addresses(node.host)) {
            rules.push_back({type, pg::HbaName::replication(), pg::HbaName::name(kReplicationUser), address, auth});
            rules.push_back({type, pg::HbaName::name(dbname), pg::HbaName::name(kReplicationUser), address, auth});
            if (dbname != "postgres") {
                // pg_rewind connects to the postgres database.
                rules.push_back({type, pg::HbaName::name("postgres"), pg::HbaName::name(kReplicationUser), address,
                                 auth});
            }
        }
    }
    pg_.maintain_replication_slots(ids);
    if (manage_hba && pg::ensure_hba_rules(pg_.pgdata() / "pg_hba.conf", rules)) {
        log()->info("{}: updated pg_hba.conf for {} other node(s)", describe(), others.size());
        pg_.reload();
    }
    citus_refresh();  // Citus nodes only (citus_transitions.cpp)
}

}  // namespace autoctl::keeper

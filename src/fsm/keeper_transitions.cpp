// The keeper transition table (reference §4.6). Rows use the comments the keeper logs.

#include "autoctl/fsm/keeper_transitions.hpp"

#include <algorithm>
#include <array>

namespace autoctl::fsm {

using S = NodeState;
using A = KeeperAction;
using K = KindFilter;

std::string_view to_string(KeeperAction action) {
    switch (action) {
        case A::None: return "none";
        case A::InitPrimary: return "init_primary";
        case A::CitusCoordinatorInitPrimary: return "citus_coordinator_init_primary";
        case A::CitusWorkerInitPrimary: return "citus_worker_init_primary";
        case A::InitFromStandby: return "init_from_standby";
        case A::DisableReplication: return "disable_replication";
        case A::PrepareReplication: return "prepare_replication";
        case A::EnableSyncRep: return "enable_sync_rep";
        case A::DisableSyncRep: return "disable_sync_rep";
        case A::StartPostgres: return "start_postgres";
        case A::StopPostgres: return "stop_postgres";
        case A::CheckpointAndStopPostgres: return "checkpoint_and_stop_postgres";
        case A::StopPostgresForPrimaryMaintenance: return "stop_postgres_for_primary_maintenance";
        case A::StopPostgresAndSetupStandby: return "stop_postgres_and_setup_standby";
        case A::ResumeAsPrimary: return "resume_as_primary";
        case A::CitusWorkerResumeAsPrimary: return "citus_worker_resume_as_primary";
        case A::InitStandby: return "init_standby";
        case A::RewindOrInit: return "rewind_or_init";
        case A::FollowNewPrimary: return "follow_new_primary";
        case A::PrepareForSecondary: return "prepare_for_secondary";
        case A::CitusRegisterSecondary: return "citus_register_secondary";
        case A::PrepareStandbyForPromotion: return "prepare_standby_for_promotion";
        case A::CitusWorkerPrepareStandbyForPromotion: return "citus_worker_prepare_standby_for_promotion";
        case A::StopReplication: return "stop_replication";
        case A::CitusWorkerStopReplication: return "citus_worker_stop_replication";
        case A::PromoteStandbyToPrimary: return "promote_standby_to_primary";
        case A::CitusCoordinatorPromoteStandbyToPrimary: return "citus_coordinator_promote_standby_to_primary";
        case A::CitusWorkerPromoteStandbyToPrimary: return "citus_worker_promote_standby_to_primary";
        case A::PromoteStandby: return "promote_standby";
        case A::CitusCoordinatorPromoteStandbyToSingle: return "citus_coordinator_promote_standby_to_single";
        case A::CitusWorkerPromoteStandby: return "citus_worker_promote_standby";
        case A::StartMaintenanceOnStandby: return "start_maintenance_on_standby";
        case A::RestartStandby: return "restart_standby";
        case A::ReportLsn: return "report_lsn";
        case A::ReportLsnAndDropSlots: return "report_lsn_and_drop_slots";
        case A::FastForward: return "fast_forward";
        case A::CleanupAsPrimary: return "cleanup_as_primary";
        case A::CitusCleanupAndResumeAsPrimary: return "citus_cleanup_and_resume_as_primary";
        case A::DropNode: return "drop_node";
    }
    return "unknown";
}

namespace {

struct RowGroup {
    std::vector<NodeState> from;
    std::vector<NodeState> to;
    KindFilter kind;
    KeeperAction action;
    std::string_view comment;
};

std::vector<KeeperTransition> build_table() {
    const std::vector<RowGroup> groups = {
        // Bootstrap.
        {{S::Init}, {S::Single}, K::Coordinator, A::CitusCoordinatorInitPrimary, "initialize the coordinator and register it with itself"},
        {{S::Init}, {S::Single}, K::Worker, A::CitusWorkerInitPrimary, "initialize the worker and register it with the coordinator"},
        {{S::Init}, {S::Single}, K::Any, A::InitPrimary, "initialize as the primary of a new group"},
        {{S::Dropped}, {S::Single}, K::Worker, A::CitusWorkerInitPrimary, "initialize again after a drop"},
        {{S::Dropped}, {S::Single}, K::Any, A::InitPrimary, "initialize again after a drop"},
        {{S::Init, S::Dropped}, {S::ReportLsn}, K::Any, A::InitFromStandby, "initialize from the most advanced standby"},
        {{S::Init, S::Dropped, S::Secondary}, {S::WaitStandby}, K::Any, A::None, "wait until the primary is ready for a new standby"},

        // The primary and its replication settings.
        {{S::Primary, S::WaitPrimary, S::JoinPrimary, S::ApplySettings}, {S::Single}, K::Any, A::DisableReplication, "the group lost its other nodes: disable replication"},
        {{S::Single}, {S::WaitPrimary}, K::Any, A::PrepareReplication, "a standby joined: prepare replication"},
        {{S::Primary, S::WaitPrimary, S::ApplySettings}, {S::JoinPrimary}, K::Any, A::PrepareReplication, "a standby joins"},
        {{S::Primary, S::JoinPrimary, S::ApplySettings}, {S::WaitPrimary}, K::Any, A::DisableSyncRep, "no synchronous standby left: disable synchronous replication"},
        {{S::WaitPrimary, S::JoinPrimary, S::ApplySettings}, {S::Primary}, K::Any, A::EnableSyncRep, "a synchronous standby is ready: enable synchronous replication"},
        {{S::Primary, S::WaitPrimary}, {S::ApplySettings}, K::Any, A::None, "settings changed: they are applied on the way out of apply_settings"},
        {{S::Single}, {S::ApplySettings}, K::Any, A::None, "settings changed: they are applied on the way out of apply_settings"},

        // Demotion of the primary.
        {{S::Primary, S::JoinPrimary, S::ApplySettings, S::WaitPrimary, S::Single}, {S::Draining, S::DemoteTimeout, S::Demoted}, K::Any, A::StopPostgres, "a failover occurred: stop accepting writes"},
        {{S::Draining}, {S::Demoted, S::DemoteTimeout}, K::Any, A::StopPostgres, "the old primary is being demoted"},
        // A promoted candidate (read-only) that a later election demotes, or a node the monitor
        // takes for the old primary from a report older than its state (property tests).
        {{S::StopReplication, S::ReportLsn, S::FastForward, S::PreparePromotion, S::JoinSecondary}, {S::DemoteTimeout, S::Demoted}, K::Any, A::StopPostgres, "the monitor demotes this node: stop Postgres"},
        {{S::DemoteTimeout}, {S::Demoted}, K::Any, A::StopPostgres, "the old primary is demoted"},
        {{S::DemoteTimeout}, {S::Primary}, K::Any, A::StartPostgres, "detected a network partition, but the monitor did not fail over"},
        // A primary that fenced itself (demote_timeout set locally) may meanwhile have been given any
        // goal a primary can get; without these rows it would be stuck for good (property tests).
        {{S::DemoteTimeout}, {S::ApplySettings}, K::Any, A::StartPostgres, "detected a network partition, but the monitor did not fail over: settings are applied on the way out of apply_settings"},
        {{S::DemoteTimeout}, {S::Draining}, K::Any, A::StopPostgres, "the node already stopped Postgres after a network partition"},
        {{S::DemoteTimeout}, {S::PrepareMaintenance}, K::Any, A::StopPostgresForPrimaryMaintenance, "the node already stopped Postgres after a network partition"},
        {{S::DemoteTimeout}, {S::WaitPrimary}, K::Any, A::ResumeAsPrimary, "the monitor did not fail over: resume as primary"},
        {{S::Demoted, S::DemoteTimeout, S::Draining}, {S::Single}, K::Worker, A::CitusWorkerResumeAsPrimary, "the failover was aborted: resume as primary"},
        {{S::Demoted, S::DemoteTimeout, S::Draining}, {S::Single}, K::Any, A::ResumeAsPrimary, "the failover was aborted: resume as primary"},
        {{S::Draining}, {S::Primary, S::WaitPrimary}, K::Any, A::ResumeAsPrimary, "the failover was aborted: resume as primary"},

        // Maintenance.
        {{S::Primary, S::WaitPrimary}, {S::PrepareMaintenance, S::Maintenance}, K::Any, A::StopPostgresForPrimaryMaintenance, "the primary stops for maintenance"},
        {{S::PrepareMaintenance}, {S::Maintenance}, K::Any, A::StopPostgresAndSetupStandby, "the old primary is stopped for maintenance"},
        {{S::Secondary, S::CatchingUp}, {S::WaitMaintenance}, K::Any, A::None, "wait until the primary no longer waits for this standby"},
        {{S::Secondary, S::CatchingUp, S::WaitMaintenance}, {S::Maintenance}, K::Any, A::StartMaintenanceOnStandby, "hand Postgres over to the operator"},
        {{S::Maintenance, S::PrepareMaintenance}, {S::CatchingUp}, K::Any, A::RestartStandby, "maintenance is over: rejoin as a standby"},
        {{S::Maintenance}, {S::Single}, K::Any, A::ResumeAsPrimary, "maintenance is over and the node is alone: resume as primary"},

        // Standbys.
        {{S::WaitStandby}, {S::CatchingUp}, K::Any, A::InitStandby, "clone the primary with pg_basebackup and follow it"},
        {{S::Demoted}, {S::CatchingUp}, K::Any, A::RewindOrInit, "the old primary rejoins with pg_rewind, or a new base backup"},
        {{S::Secondary}, {S::CatchingUp}, K::Any, A::FollowNewPrimary, "follow the primary again"},
        {{S::CatchingUp}, {S::Secondary}, K::Citus, A::CitusRegisterSecondary, "the standby caught up"},
        {{S::CatchingUp}, {S::Secondary}, K::Any, A::PrepareForSecondary, "the standby caught up"},

        // Promotion.
        {{S::Secondary, S::CatchingUp, S::ReportLsn}, {S::PreparePromotion}, K::Worker, A::CitusWorkerPrepareStandbyForPromotion, "prepare citus_update_node on the coordinator, blocking writes to this group"},
        {{S::Secondary, S::CatchingUp, S::ReportLsn}, {S::PreparePromotion}, K::Any, A::PrepareStandbyForPromotion, "this standby is the failover candidate"},
        {{S::PreparePromotion}, {S::StopReplication}, K::Worker, A::CitusWorkerStopReplication, "promote: the coordinator already blocks writes to this group"},
        {{S::PreparePromotion}, {S::StopReplication}, K::Any, A::StopReplication, "promote, read-only until the old primary is demoted"},
        {{S::StopReplication}, {S::WaitPrimary}, K::Coordinator, A::CitusCoordinatorPromoteStandbyToPrimary, "accept writes as the new coordinator"},
        {{S::StopReplication}, {S::WaitPrimary}, K::Worker, A::CitusWorkerPromoteStandbyToPrimary, "commit citus_update_node on the coordinator"},
        {{S::StopReplication}, {S::WaitPrimary}, K::Any, A::PromoteStandbyToPrimary, "the old primary is demoted: accept writes"},
        {{S::PreparePromotion}, {S::WaitPrimary}, K::Worker, A::CitusWorkerPromoteStandby, "promote and commit citus_update_node on the coordinator"},
        {{S::PreparePromotion}, {S::WaitPrimary}, K::Any, A::PromoteStandby, "promote: no other node can take writes"},
        {{S::Secondary, S::CatchingUp, S::PreparePromotion}, {S::Single}, K::Coordinator, A::CitusCoordinatorPromoteStandbyToSingle, "the other nodes are gone: promote as the coordinator"},
        {{S::Secondary, S::CatchingUp, S::PreparePromotion, S::StopReplication}, {S::Single}, K::Worker, A::CitusWorkerPromoteStandby, "the other nodes are gone: promote and update the coordinator"},
        {{S::Secondary, S::CatchingUp, S::PreparePromotion, S::StopReplication, S::ReportLsn, S::WaitStandby}, {S::Single}, K::Any, A::PromoteStandby, "the other nodes are gone: promote"},

        // The multi-standby election.
        {{S::Secondary, S::CatchingUp, S::Maintenance, S::PrepareMaintenance, S::JoinSecondary}, {S::ReportLsn}, K::Any, A::ReportLsn, "disconnect from the failed primary and report the LSN"},
        {{S::Draining, S::Demoted, S::DemoteTimeout, S::Primary, S::WaitPrimary, S::Single, S::ApplySettings}, {S::ReportLsn}, K::Any, A::ReportLsnAndDropSlots, "the old primary restarts as a standby without an upstream"},
        {{S::ReportLsn}, {S::FastForward}, K::Any, A::FastForward, "fetch the missing WAL from the most advanced standby"},
        {{S::FastForward}, {S::PreparePromotion}, K::Citus, A::CitusCleanupAndResumeAsPrimary, "the candidate caught up"},
        {{S::FastForward}, {S::PreparePromotion}, K::Any, A::CleanupAsPrimary, "the candidate caught up"},
        {{S::ReportLsn}, {S::JoinSecondary}, K::Any, A::CheckpointAndStopPostgres, "stop, then follow the new primary"},
        {{S::ReportLsn, S::JoinSecondary}, {S::Secondary}, K::Any, A::FollowNewPrimary, "follow the new primary"},
        {{S::ReportLsn}, {S::CatchingUp}, K::Any, A::FollowNewPrimary, "follow the primary"},

        // Pairs the monitor emits that pg_auto_failover's table lacks, found by
        // tests/unit/fsm/keeper_table_test.cpp. Settings changed (set_candidate_priority,
        // set_replication_quorum, remove_node) while the new primary had not yet reported its goal.
        {{S::StopReplication}, {S::ApplySettings}, K::Coordinator, A::CitusCoordinatorPromoteStandbyToPrimary, "settings changed while promoting: accept writes as the new coordinator, then apply them on the way out of apply_settings"},
        {{S::StopReplication}, {S::ApplySettings}, K::Worker, A::CitusWorkerPromoteStandbyToPrimary, "settings changed while promoting: commit citus_update_node, then apply them on the way out of apply_settings"},
        {{S::StopReplication}, {S::ApplySettings}, K::Any, A::PromoteStandbyToPrimary, "settings changed while promoting: accept writes, then apply them on the way out of apply_settings"},
        {{S::PreparePromotion}, {S::ApplySettings}, K::Worker, A::CitusWorkerPromoteStandby, "settings changed while promoting: promote and commit citus_update_node, then apply them on the way out of apply_settings"},
        {{S::PreparePromotion}, {S::ApplySettings}, K::Any, A::PromoteStandby, "settings changed while promoting: promote, then apply them on the way out of apply_settings"},
        {{S::JoinPrimary}, {S::ApplySettings}, K::Any, A::None, "settings changed: they are applied on the way out of apply_settings"},
        // The group shrank to this node alone (lone_node_becomes_single).
        {{S::FastForward, S::JoinSecondary, S::WaitMaintenance}, {S::Single}, K::Coordinator, A::CitusCoordinatorPromoteStandbyToSingle, "the other nodes are gone: promote as the coordinator"},
        {{S::FastForward, S::JoinSecondary, S::WaitMaintenance}, {S::Single}, K::Worker, A::CitusWorkerPromoteStandby, "the other nodes are gone: promote and update the coordinator"},
        {{S::FastForward, S::JoinSecondary, S::WaitMaintenance}, {S::Single}, K::Any, A::PromoteStandby, "the other nodes are gone: promote"},
        {{S::PrepareMaintenance}, {S::Single}, K::Worker, A::CitusWorkerResumeAsPrimary, "the other nodes are gone: resume as primary instead of stopping for maintenance"},
        {{S::PrepareMaintenance}, {S::Single}, K::Any, A::ResumeAsPrimary, "the other nodes are gone: resume as primary instead of stopping for maintenance"},
        // The primary was removed (remove_node sends every other node to report_lsn), or a lone node
        // has candidate priority 0 (lone_non_candidate_reports_lsn).
        {{S::FastForward, S::WaitMaintenance, S::PreparePromotion}, {S::ReportLsn}, K::Any, A::ReportLsn, "the primary is gone: restart without an upstream and report the LSN"},
        {{S::StopReplication, S::JoinPrimary}, {S::ReportLsn}, K::Any, A::ReportLsnAndDropSlots, "this node had taken the primary role: restart as a standby without an upstream"},
        {{S::WaitStandby}, {S::ReportLsn}, K::Any, A::InitFromStandby, "not cloned yet: initialize from the most advanced standby"},
        // A primary entering maintenance is demoted after all (stop_maintenance during a failover).
        {{S::PrepareMaintenance}, {S::DemoteTimeout, S::Demoted}, K::Any, A::StopPostgres, "the old primary, already stopped for maintenance, is demoted"},

        // Drop.
        {{S::Init, S::Single, S::WaitPrimary, S::Primary, S::Draining, S::DemoteTimeout, S::Demoted, S::CatchingUp,
          S::Secondary, S::PreparePromotion, S::StopReplication, S::WaitStandby, S::Maintenance, S::JoinPrimary,
          S::ApplySettings, S::PrepareMaintenance, S::WaitMaintenance, S::ReportLsn, S::FastForward, S::JoinSecondary},
         {S::Dropped}, K::Any, A::DropNode, "the node is removed from the formation: stop Postgres"},
    };
    std::vector<KeeperTransition> table;
    for (const auto& g : groups)
        for (auto from : g.from)
            for (auto to : g.to)
                if (from != to) table.push_back(KeeperTransition{from, to, g.kind, g.action, g.comment});
    return table;
}

bool kind_matches(KindFilter filter, NodeKind kind) {
    switch (filter) {
        case K::Any: return true;
        case K::Citus: return kind != NodeKind::Standalone;
        case K::Coordinator: return kind == NodeKind::Coordinator;
        case K::Worker: return kind == NodeKind::Worker;
    }
    return false;
}

int specificity(KindFilter filter) {
    switch (filter) {
        case K::Coordinator:
        case K::Worker: return 2;
        case K::Citus: return 1;
        case K::Any: return 0;
    }
    return 0;
}

}  // namespace

const std::vector<KeeperTransition>& keeper_transitions() {
    static const std::vector<KeeperTransition> table = build_table();
    return table;
}

std::optional<KeeperTransition> find_keeper_transition(NodeState from, NodeState to, NodeKind kind) {
    std::optional<KeeperTransition> best;
    for (const auto& row : keeper_transitions()) {
        if (row.from != from || row.to != to || !kind_matches(row.kind, kind)) continue;
        if (!best || specificity(row.kind) > specificity(best->kind)) best = row;
    }
    return best;
}

std::vector<NodeState> reachable_states(NodeState from, NodeKind kind) {
    std::vector<NodeState> states;
    for (auto to : kAllNodeStates)
        if (find_keeper_transition(from, to, kind)) states.push_back(to);
    return states;
}

}  // namespace autoctl::fsm

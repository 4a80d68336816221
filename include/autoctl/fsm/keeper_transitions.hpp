#pragma once
// The keeper's side of the state machine: for a (current state, assigned state) pair and a node
// kind, which action takes the local node there. Rows are data; keeper/ maps each action to
// Postgres operations, so this table compiles and is tested without any I/O.

#include <optional>
#include <string_view>
#include <vector>

#include "autoctl/fsm/node_state.hpp"

namespace autoctl::fsm {

enum class KeeperAction : std::uint8_t {
    None,                       // nothing to do locally: the new state is bookkeeping
    InitPrimary,                // initdb or adopt PGDATA, roles, settings, start
    CitusCoordinatorInitPrimary,
    CitusWorkerInitPrimary,     // also register with the coordinator
    InitFromStandby,            // basebackup from the most advanced standby, no slot
    DisableReplication,         // synchronous_standby_names = '', cancel SyncRep waiters
    PrepareReplication,         // no-op: HBA and slots are kept up to date by the loop
    EnableSyncRep,              // apply synchronous_standby_names, wait for a sync standby
    DisableSyncRep,             // synchronous_standby_names = '', cancel SyncRep waiters
    StartPostgres,              // ensure running and apply synchronous_standby_names
    StopPostgres,
    CheckpointAndStopPostgres,
    StopPostgresForPrimaryMaintenance,
    StopPostgresAndSetupStandby,
    ResumeAsPrimary,
    CitusWorkerResumeAsPrimary,  // also roll back the prepared citus_update_node
    InitStandby,                 // pg_basebackup with a slot, then follow the primary
    RewindOrInit,                // pg_rewind, falling back to pg_basebackup
    FollowNewPrimary,
    PrepareForSecondary,         // timeline check and slot maintenance
    CitusRegisterSecondary,
    PrepareStandbyForPromotion,
    CitusWorkerPrepareStandbyForPromotion,  // PREPARE citus_update_node on the coordinator
    StopReplication,             // read-only, then promote
    CitusWorkerStopReplication,
    PromoteStandbyToPrimary,     // read-write
    CitusCoordinatorPromoteStandbyToPrimary,
    CitusWorkerPromoteStandbyToPrimary,  // COMMIT PREPARED citus_update_node
    PromoteStandby,
    CitusCoordinatorPromoteStandbyToSingle,
    CitusWorkerPromoteStandby,
    StartMaintenanceOnStandby,
    RestartStandby,
    ReportLsn,                   // restart without an upstream to freeze the LSN
    ReportLsnAndDropSlots,
    FastForward,
    CleanupAsPrimary,
    CitusCleanupAndResumeAsPrimary,
    DropNode,
};

std::string_view to_string(KeeperAction action);

// Which nodes a row applies to. A row for a specific kind wins over an Any row.
enum class KindFilter : std::uint8_t { Any, Citus, Coordinator, Worker };

struct KeeperTransition {
    NodeState from;
    NodeState to;
    KindFilter kind;
    KeeperAction action;
    std::string_view comment;
};

const std::vector<KeeperTransition>& keeper_transitions();

// The row for this pair and node kind: an exact kind first, then Citus, then Any.
std::optional<KeeperTransition> find_keeper_transition(NodeState from, NodeState to, NodeKind kind);

// Every state the keeper can reach in one transition from `from`.
std::vector<NodeState> reachable_states(NodeState from, NodeKind kind);

}  // namespace autoctl::fsm

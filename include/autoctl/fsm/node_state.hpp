#pragma once
// The replication states of pg_auto_failover, spelled exactly as the monitor stores them.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace autoctl::fsm {

enum class NodeState : std::uint8_t {
    Unknown,
    Init,
    Single,
    WaitPrimary,
    Primary,
    Draining,
    DemoteTimeout,
    Demoted,
    CatchingUp,
    Secondary,
    PreparePromotion,
    StopReplication,
    WaitStandby,
    Maintenance,
    JoinPrimary,
    ApplySettings,
    PrepareMaintenance,
    WaitMaintenance,
    ReportLsn,
    FastForward,
    JoinSecondary,
    Dropped,
};

inline constexpr std::size_t kNodeStateCount = 22;

// Every state, in the order of pgautofailover.replication_state.
extern const std::array<NodeState, kNodeStateCount> kAllNodeStates;

std::string_view to_string(NodeState state);
std::optional<NodeState> parse_node_state(std::string_view name);

// Predicates on a single state, as pg_auto_failover defines them.
bool can_take_writes(NodeState state);        // single, primary, wait_primary, join_primary, apply_settings
bool can_initiate_failover(NodeState state);  // single, primary, join_primary
bool belongs_to_primary(NodeState state);     // can_take_writes or draining, demote_timeout, prepare_maintenance

enum class Health : std::int8_t { Unknown = -1, Bad = 0, Good = 1 };
std::string_view to_string(Health health);

enum class FormationKind : std::uint8_t { Pgsql, Citus };
std::string_view to_string(FormationKind kind);
std::optional<FormationKind> parse_formation_kind(std::string_view name);

// What a node is, from the keeper's point of view (register_node's node_kind).
enum class NodeKind : std::uint8_t { Standalone, Coordinator, Worker };
std::string_view to_string(NodeKind kind);
std::optional<NodeKind> parse_node_kind(std::string_view name);

}  // namespace autoctl::fsm

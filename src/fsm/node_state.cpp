#include "autoctl/fsm/node_state.hpp"

#include <utility>

namespace autoctl::fsm {

namespace {

// The one name <-> enum table; these strings are part of the wire and storage format.
constexpr std::array<std::pair<NodeState, std::string_view>, kNodeStateCount> kStateNames{{
    {NodeState::Unknown, "unknown"},
    {NodeState::Init, "init"},
    {NodeState::Single, "single"},
    {NodeState::WaitPrimary, "wait_primary"},
    {NodeState::Primary, "primary"},
    {NodeState::Draining, "draining"},
    {NodeState::DemoteTimeout, "demote_timeout"},
    {NodeState::Demoted, "demoted"},
    {NodeState::CatchingUp, "catchingup"},
    {NodeState::Secondary, "secondary"},
    {NodeState::PreparePromotion, "prepare_promotion"},
    {NodeState::StopReplication, "stop_replication"},
    {NodeState::WaitStandby, "wait_standby"},
    {NodeState::Maintenance, "maintenance"},
    {NodeState::JoinPrimary, "join_primary"},
    {NodeState::ApplySettings, "apply_settings"},
    {NodeState::PrepareMaintenance, "prepare_maintenance"},
    {NodeState::WaitMaintenance, "wait_maintenance"},
    {NodeState::ReportLsn, "report_lsn"},
    {NodeState::FastForward, "fast_forward"},
    {NodeState::JoinSecondary, "join_secondary"},
    {NodeState::Dropped, "dropped"},
}};

}  // namespace

const std::array<NodeState, kNodeStateCount> kAllNodeStates = [] {
    std::array<NodeState, kNodeStateCount> states{};
    for (std::size_t i = 0; i < kStateNames.size(); ++i) states[i] = kStateNames[i].first;
    return states;
}();

std::string_view to_string(NodeState state) {
    for (const auto& [value, name] : kStateNames)
        if (value == state) return name;
    return "unknown";
}

std::optional<NodeState> parse_node_state(std::string_view name) {
    for (const auto& [value, text] : kStateNames)
        if (text == name) return value;
    return std::nullopt;
}

bool can_take_writes(NodeState s) {
    return s == NodeState::Single || s == NodeState::Primary || s == NodeState::WaitPrimary ||
           s == NodeState::JoinPrimary || s == NodeState::ApplySettings;
}

bool can_initiate_failover(NodeState s) {
    return s == NodeState::Single || s == NodeState::Primary || s == NodeState::JoinPrimary;
}

bool belongs_to_primary(NodeState s) {
    return can_take_writes(s) || s == NodeState::Draining || s == NodeState::DemoteTimeout ||
           s == NodeState::PrepareMaintenance;
}

std::string_view to_string(Health health) {
    switch (health) {
        case Health::Good: return "good";
        case Health::Bad: return "bad";
        case Health::Unknown: break;
    }
    return "unknown";
}

std::string_view to_string(FormationKind kind) {
    return kind == FormationKind::Citus ? "citus" : "pgsql";
}

std::optional<FormationKind> parse_formation_kind(std::string_view name) {
    if (name == "pgsql") return FormationKind::Pgsql;
    if (name == "citus") return FormationKind::Citus;
    return std::nullopt;
}

std::string_view to_string(NodeKind kind) {
    switch (kind) {
        case NodeKind::Coordinator: return "coordinator";
        case NodeKind::Worker: return "worker";
        case NodeKind::Standalone: break;
    }
    return "standalone";
}

std::optional<NodeKind> parse_node_kind(std::string_view name) {
    if (name == "standalone") return NodeKind::Standalone;
    if (name == "coordinator") return NodeKind::Coordinator;
    if (name == "worker") return NodeKind::Worker;
    return std::nullopt;
}

}  // namespace autoctl::fsm

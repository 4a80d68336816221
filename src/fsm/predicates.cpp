#include "autoctl/fsm/predicates.hpp"

#include <algorithm>

namespace autoctl::fsm {

using S = NodeState;

bool is_current_state(const Node* n, NodeState s) {
    return n != nullptr && n->goal == n->reported && n->goal == s;
}

bool is_in_primary_state(const Node* n) {
    if (n == nullptr) return false;
    if (n->goal == n->reported && can_take_writes(n->goal)) return true;
    auto primary_or_settings = [](NodeState s) { return s == S::Primary || s == S::ApplySettings; };
    return primary_or_settings(n->goal) && primary_or_settings(n->reported);
}

bool is_being_demoted_primary(const Node* n) {
    return n != nullptr && belongs_to_primary(n->reported) &&
           (n->goal == S::Draining || n->goal == S::DemoteTimeout || n->goal == S::PrepareMaintenance);
}

bool is_demoted_primary(const Node* n) {
    return n != nullptr && n->goal == S::Demoted &&
           (belongs_to_primary(n->reported) || n->reported == S::Demoted);
}

bool is_being_promoted(const Node* n) {
    if (n == nullptr) return false;
    switch (n->reported) {
        case S::ReportLsn:
        case S::FastForward:
            return n->goal == S::FastForward || n->goal == S::PreparePromotion;
        case S::PreparePromotion:
            return n->goal == S::PreparePromotion || n->goal == S::StopReplication ||
                   n->goal == S::WaitPrimary;
        case S::StopReplication:
            return n->goal == S::StopReplication || n->goal == S::WaitPrimary;
        default:
            return false;
    }
}

bool candidate_is_ready_to_stream_wal(const Node* n) {
    if (n == nullptr) return false;
    switch (n->reported) {
        case S::PreparePromotion:
        case S::StopReplication:
            return n->goal == S::StopReplication || n->goal == S::WaitPrimary;
        case S::WaitPrimary:
            return n->goal == S::WaitPrimary || n->goal == S::Primary;
        case S::Primary:
            return n->goal == S::Primary;
        default:
            return false;
    }
}

bool is_participating_in_promotion(const Node* n) {
    return n != nullptr &&
           (is_being_promoted(n) || n->reported == S::ReportLsn || n->goal == S::ReportLsn ||
            n->reported == S::JoinSecondary || n->goal == S::JoinSecondary);
}

bool is_in_maintenance(const Node* n) {
    return n != nullptr && (n->goal == S::PrepareMaintenance || n->goal == S::WaitMaintenance ||
                            n->goal == S::Maintenance);
}

bool is_reporting(const GroupSnapshot& g, const Node* n) {
    return n != nullptr && g.now - n->report_time < g.timing.node_considered_unhealthy_timeout;
}

bool is_unhealthy(const GroupSnapshot& g, const Node* n) {
    if (n == nullptr) return true;
    if (!n->pg_is_running) return true;
    // A silent keeper alone is not enough: the monitor's own health check must also have failed,
    // after the monitor started and once it has been up long enough to trust its checks.
    return g.now - n->report_time >= g.timing.node_considered_unhealthy_timeout &&
           n->health == Health::Bad && n->health_check_time >= g.monitor_start &&
           g.now - g.monitor_start >= g.timing.startup_grace_period;
}

bool is_healthy(const GroupSnapshot&, const Node* n) {
    return n != nullptr && n->health == Health::Good && n->pg_is_running;
}

bool is_drain_time_expired(const GroupSnapshot& g, const Node* n) {
    return n != nullptr && n->goal == S::DemoteTimeout &&
           g.now - n->state_change_time >= g.timing.primary_demote_timeout;
}

bool is_healthy_sync_standby(const GroupSnapshot& g, const Node* n) {
    return n != nullptr && n->replication_quorum && is_current_state(n, S::Secondary) && is_healthy(g, n);
}

bool wal_difference_within(const Node* a, const Node* b, std::uint64_t delta) {
    if (a == nullptr || b == nullptr) return true;
    if (a->lsn.is_zero() || b->lsn.is_zero()) return false;
    return lsn_distance(a->lsn, b->lsn) <= delta;
}

std::vector<const Node*> active_nodes(const GroupSnapshot& g) {
    std::vector<const Node*> result;
    for (const auto& n : g.nodes)
        if (n.goal != S::Dropped) result.push_back(&n);
    return result;
}

std::vector<const Node*> other_active_nodes(const GroupSnapshot& g, const Node& node) {
    std::vector<const Node*> result;
    for (const auto* n : active_nodes(g))
        if (n->id != node.id) result.push_back(n);
    return result;
}

const Node* primary_node(const GroupSnapshot& g) {
    for (const auto* n : active_nodes(g))
        if (can_take_writes(n->goal)) return n;
    return nullptr;
}

const Node* primary_or_demoted_node(const GroupSnapshot& g) {
    if (const Node* writable = primary_node(g)) return writable;
    // No writable goal: the old primary on its way out is still "the primary" for the rules. The
    // last such node by id wins, except that a demoted node does not replace one still being demoted.
    const Node* picked = nullptr;
    for (const auto* n : active_nodes(g)) {
        if (!belongs_to_primary(n->reported)) continue;
        if (picked == nullptr || !is_being_demoted_primary(picked) || !is_demoted_primary(n)) picked = n;
    }
    return picked;
}

const Node* node_to_failover_from(const GroupSnapshot& g) {
    for (const auto* n : active_nodes(g))
        if (can_initiate_failover(n->goal) && n->goal == n->reported) return n;
    return nullptr;
}

bool is_failover_in_progress(const GroupSnapshot& g) {
    for (const auto* n : active_nodes(g))
        if (is_participating_in_promotion(n)) return true;
    return false;
}

const Node* candidate_being_promoted(const GroupSnapshot& g) {
    for (const auto* n : active_nodes(g))
        if (is_being_promoted(n)) return n;
    return nullptr;
}

int count_healthy_candidates(const GroupSnapshot& g, const std::vector<const Node*>& nodes) {
    return static_cast<int>(std::count_if(nodes.begin(), nodes.end(), [&](const Node* n) {
        return n->candidate_priority > 0 && is_current_state(n, S::Secondary) && is_healthy(g, n);
    }));
}

int count_healthy_sync_standbys(const GroupSnapshot& g, const std::vector<const Node*>& nodes) {
    return static_cast<int>(std::count_if(nodes.begin(), nodes.end(),
                                          [&](const Node* n) { return is_healthy_sync_standby(g, n); }));
}

int count_sync_standbys(const std::vector<const Node*>& nodes) {
    return static_cast<int>(
        std::count_if(nodes.begin(), nodes.end(), [](const Node* n) { return n->replication_quorum; }));
}

std::vector<const Node*> most_advanced_standbys(const GroupSnapshot& g) {
    auto nodes = active_nodes(g);
    std::stable_sort(nodes.begin(), nodes.end(), [](const Node* a, const Node* b) {
        if (a->tli != b->tli) return a->tli > b->tli;
        return a->lsn > b->lsn;
    });
    std::vector<const Node*> result;
    for (const auto* n : nodes) {
        if (belongs_to_primary(n->reported)) continue;
        if (!result.empty() && n->lsn != result.front()->lsn) break;
        result.push_back(n);
    }
    return result;
}

namespace {

// States in which a standby's keeper has disconnected it from the old primary: promoted
// (stop_replication and later), restarted without an upstream (report_lsn), following another
// standby (fast_forward) or stopped (join_secondary).
bool has_stopped_replicating_from_old_primary(NodeState s) {
    return s == S::StopReplication || s == S::WaitPrimary || s == S::Primary || s == S::ReportLsn ||
           s == S::FastForward || s == S::JoinSecondary;
}

}  // namespace

bool old_primary_cannot_acknowledge_commits(const GroupSnapshot& g, const Node& old_primary) {
    // Synchronous replication must have been in effect on the old primary as it last reported:
    // pg_stat_replication showed a quorum or sync standby (its synchronous_standby_names is not
    // empty). The monitor's replication_quorum flags are not enough: a change the old primary did
    // not apply yet (it applies settings on its way out of apply_settings) leaves it acknowledging
    // asynchronously, or through a standby it still lists (property tests).
    if (old_primary.reported != S::Primary) return false;
    if (old_primary.sync_state != "quorum" && old_primary.sync_state != "sync") return false;
    // Every other node, whatever its replication_quorum flag now, stopped replicating from it. Its
    // reported state and goal say so only if it reported since its goal last changed: otherwise it
    // may have followed an earlier goal (secondary) that its last report does not show.
    const auto others = other_active_nodes(g, old_primary);
    for (const auto* n : others)
        if (!has_stopped_replicating_from_old_primary(n->reported) ||
            !has_stopped_replicating_from_old_primary(n->goal) || n->report_time < n->state_change_time)
            return false;
    return !others.empty();
}

}  // namespace autoctl::fsm

// Applying decisions to a snapshot, and deciding for a whole group (the monitor's timer).

#include "autoctl/fsm/monitor_rules.hpp"
#include "autoctl/fsm/predicates.hpp"

namespace autoctl::fsm {

void apply(GroupSnapshot& group, const Decision& d) {
    for (const auto& a : d.assignments) {
        if (Node* n = group.find(a.node_id)) {
            n->goal = a.goal;
            n->state_change_time = group.now;
        }
    }
    for (const auto& p : d.priority_changes)
        if (Node* n = group.find(p.node_id)) n->candidate_priority = p.candidate_priority;
    for (const auto& q : d.quorum_changes)
        if (Node* n = group.find(q.node_id)) n->replication_quorum = q.replication_quorum;
    if (d.number_sync_standbys >= 0) group.formation.number_sync_standbys = d.number_sync_standbys;
    if (d.delete_node_id > 0) {
        auto& nodes = group.nodes;
        for (auto it = nodes.begin(); it != nodes.end(); ++it)
            if (it->id == d.delete_node_id) {
                nodes.erase(it);
                break;
            }
    }
}

std::vector<Decision> decide_group(const GroupSnapshot& group, int max_rounds) {
    GroupSnapshot work = group;
    std::vector<Decision> decisions;
    for (int round = 0; round < max_rounds; ++round) {
        bool changed = false;
        std::vector<std::int64_t> order;
        if (const Node* p = primary_node(work)) order.push_back(p->id);
        for (const auto& n : work.nodes)
            if (order.empty() || n.id != order.front()) order.push_back(n.id);
        for (auto id : order) {
            const Node* n = work.find(id);
            if (n == nullptr) continue;
            // Decide only for a node whose last report is not older than its goal: its reported
            // state may be stale (it may have moved towards the goal since), and a rule taking the
            // stale state for the current one assigns a goal its keeper cannot reach (property
            // tests). Its next node_active decides for it. pg_auto_failover decides for a node only
            // when that node reports.
            if (n->report_time < n->state_change_time) continue;
            // A silent node is left to the nodes that report: its keeper would not act on a goal
            // (a dead standby's keeper must not be elected on its last report).
            if (!is_reporting(work, n)) continue;
            Decision d = decide(work, id);
            if (d.empty()) continue;
            apply(work, d);
            decisions.push_back(std::move(d));
            changed = true;
        }
        if (!changed) break;
    }
    return decisions;
}

}  // namespace autoctl::fsm

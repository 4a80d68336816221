// synchronous_standby_names for a group's primary (reference §2.8).

#include <algorithm>

#include "autoctl/fsm/monitor_rules.hpp"
#include "autoctl/fsm/predicates.hpp"

namespace autoctl::fsm {

std::string standby_application_name(std::int64_t node_id) {
    return "pgautofailover_standby_" + std::to_string(node_id);
}

std::string synchronous_standby_names(const GroupSnapshot& g) {
    auto nodes = active_nodes(g);
    const Node* primary = primary_node(g);
    if (nodes.size() <= 1 || primary == nullptr) return "";
    auto others = other_active_nodes(g, *primary);
    if (nodes.size() == 2) {
        const Node* standby = others.front();
        if (standby->replication_quorum && standby->goal == NodeState::Secondary)
            return "ANY 1 (" + standby_application_name(standby->id) + ")";
        return "";
    }
    std::vector<const Node*> sync;
    for (const auto* n : others)
        if (n->replication_quorum) sync.push_back(n);
    if (sync.empty() || is_current_state(primary, NodeState::WaitPrimary)) return "";
    std::stable_sort(sync.begin(), sync.end(),
                     [](const Node* a, const Node* b) { return a->candidate_priority > b->candidate_priority; });
    int count = std::max(g.formation.number_sync_standbys, 1);
    std::string names;
    for (const auto* n : sync) {
        if (!names.empty()) names += ", ";
        names += standby_application_name(n->id);
    }
    return "ANY " + std::to_string(count) + " (" + names + ")";
}

}  // namespace autoctl::fsm

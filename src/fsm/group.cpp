#include "autoctl/fsm/group.hpp"

#include <utility>

namespace autoctl::fsm {

const Node* GroupSnapshot::find(std::int64_t node_id) const {
    for (const auto& n : nodes)
        if (n.id == node_id) return &n;
    return nullptr;
}

Node* GroupSnapshot::find(std::int64_t node_id) {
    for (auto& n : nodes)
        if (n.id == node_id) return &n;
    return nullptr;
}

const Node* GroupSnapshot::find_by_name(const std::string& name) const {
    for (const auto& n : nodes)
        if (n.name == name) return &n;
    return nullptr;
}

const Assignment* Decision::assignment_for(std::int64_t node_id) const {
    const Assignment* last = nullptr;
    for (const auto& a : assignments)
        if (a.node_id == node_id) last = &a;
    return last;
}

RequestOutcome RequestOutcome::refuse(std::string message, std::string hint) {
    RequestOutcome outcome;
    outcome.accepted = false;
    outcome.refusal = Refusal{std::move(message), std::move(hint)};
    return outcome;
}

std::string describe(const Node& node) {
    return "node " + std::to_string(node.id) + " \"" + node.name + "\" (" + node.host + ":" +
           std::to_string(node.port) + ")";
}

}  // namespace autoctl::fsm

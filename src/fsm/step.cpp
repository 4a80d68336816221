#include "step.hpp"

namespace autoctl::fsm::detail {

std::string goal_sentence(const Node& node, NodeState goal, const std::string& why) {
    std::string text = "Setting goal state of " + describe(node) + " to " + std::string(to_string(goal));
    if (!why.empty()) text += " " + why;
    return text + ".";
}

void Step::assign(const Node& target, NodeState goal, const std::string& reason) {
    Node* n = group.find(target.id);
    if (n == nullptr || n->goal == goal) return;
    n->goal = goal;
    n->state_change_time = group.now;
    decision.assignments.push_back(Assignment{n->id, goal, reason});
}

void Step::set_priority(const Node& target, int priority, const std::string& reason) {
    Node* n = group.find(target.id);
    if (n == nullptr || n->candidate_priority == priority) return;
    n->candidate_priority = priority;
    decision.priority_changes.push_back(PriorityChange{n->id, priority, reason});
}

void Step::match(std::string_view rule, std::string reason) {
    if (!decision.rule.empty()) return;
    decision.rule = std::string(rule);
    decision.reason = std::move(reason);
}

}  // namespace autoctl::fsm::detail

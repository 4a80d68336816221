#pragma once
// Internal to src/fsm: a working copy of the group that rules update as they assign goals, so that
// later steps of the same decision see earlier assignments (as pg_auto_failover's SPI re-reads do).

#include <string>

#include "autoctl/fsm/group.hpp"

namespace autoctl::fsm::detail {

struct Step {
    GroupSnapshot group;
    Decision decision;

    explicit Step(const GroupSnapshot& g) : group(g) {}

    const Node* node(std::int64_t id) const { return group.find(id); }

    // Records a new goal for the node, unless it already has it.
    void assign(const Node& node, NodeState goal, const std::string& reason);
    void set_priority(const Node& node, int priority, const std::string& reason);
    void message(std::string text) { decision.messages.push_back(std::move(text)); }
    // Names the rule that matched and why, the first time only (inner rules name themselves first).
    void match(std::string_view rule, std::string reason);
};

std::string goal_sentence(const Node& node, NodeState goal, const std::string& why);

// Sub-machines called from decide() and from operator requests.
bool proceed_for_primary(Step& s, std::int64_t primary_id);
bool proceed_for_ms_failover(Step& s, std::int64_t active_id, std::int64_t primary_id /* 0: none */);
bool proceed_group_state(Step& s, std::int64_t active_id);

}  // namespace autoctl::fsm::detail

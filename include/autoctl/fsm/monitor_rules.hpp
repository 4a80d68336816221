#pragma once
// The monitor's group state machine: pure functions from a group snapshot to goal assignments.
// Rules are checked in pg_auto_failover's order (reference §2.4); the first that matches decides.

#include <string>
#include <string_view>
#include <vector>

#include "autoctl/fsm/group.hpp"

namespace autoctl::fsm {

// Runs the group state machine from the point of view of `active_node_id`, the node that just
// reported (or that a request concerns). An empty Decision means nothing changes.
Decision decide(const GroupSnapshot& group, std::int64_t active_node_id);

// Runs decide() for every node of the group, the primary first, applying each decision to a working
// copy, until nothing changes (at most `max_rounds` rounds). The monitor service uses this on its
// timer, when timeouts may have expired without any node reporting.
std::vector<Decision> decide_group(const GroupSnapshot& group, int max_rounds = 4);

// Applies a decision to a snapshot: goals (and state change times), priorities, quorum flags,
// number_sync_standbys and node removal. Used by the monitor store's in-memory model and by tests.
void apply(GroupSnapshot& group, const Decision& decision);

// The names of the monitor rules, in evaluation order (for documentation and tests).
std::vector<std::string_view> monitor_rule_names();

// The election's choice among candidates that reported their LSN: the highest candidate priority,
// then the most advanced LSN. nullptr when promoting would risk losing data; `why_not` says why.
const Node* select_failover_candidate(const GroupSnapshot& group, const std::vector<const Node*>& candidates,
                                      const Node* primary, std::string* why_not = nullptr);

// synchronous_standby_names for the group's primary: '' or "ANY n (pgautofailover_standby_<id>, ...)".
std::string synchronous_standby_names(const GroupSnapshot& group);
std::string standby_application_name(std::int64_t node_id);

}  // namespace autoctl::fsm

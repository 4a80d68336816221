#pragma once
// Operator requests and registration (reference §2.7, §2.9): each checks the request against the
// group, refuses it with a clear message, or returns the assignments it makes, followed by what the
// group state machine then decides. Pure functions; the monitor service stores the outcome.

#include <string>
#include <vector>

#include "autoctl/fsm/group.hpp"

namespace autoctl::fsm {

RequestOutcome perform_failover(const GroupSnapshot& group);
RequestOutcome perform_promotion(const GroupSnapshot& group, const std::string& node_name);
RequestOutcome start_maintenance(const GroupSnapshot& group, std::int64_t node_id, bool allow_failover);
RequestOutcome stop_maintenance(const GroupSnapshot& group, std::int64_t node_id);
RequestOutcome set_candidate_priority(const GroupSnapshot& group, const std::string& node_name, int priority);
RequestOutcome set_replication_quorum(const GroupSnapshot& group, const std::string& node_name, bool quorum);
// `group` is the formation's group 0, whose primary applies the setting first.
RequestOutcome set_number_sync_standbys(const GroupSnapshot& group, int number_sync_standbys);
RequestOutcome remove_node(const GroupSnapshot& group, std::int64_t node_id, bool force);

struct RegistrationRequest {
    std::string host;
    int port = 5432;
    std::string dbname = "postgres";
    std::string name;  // empty: the monitor names the node
    int desired_group = -1;
    NodeState initial_state = NodeState::Init;
    NodeKind kind = NodeKind::Standalone;
    int candidate_priority = 50;
    bool replication_quorum = true;
    std::string cluster = "default";
};

struct RegistrationOutcome {
    bool accepted = true;
    bool retryable = false;  // e.g. no primary yet while another node is being set up
    Refusal refusal;
    Formation formation;     // possibly with a new kind, dbname or number_sync_standbys
    Node node;               // the row to insert, with its group, name and goal
    Decision decision;       // what the group state machine decided right after the insert
    std::vector<std::string> messages;
};

// `formation_nodes` holds every node of the formation (all groups). `new_node_id` is the id the
// store allocated for the row; `now` stamps the new row.
RegistrationOutcome register_node(const Formation& formation, const std::vector<Node>& formation_nodes,
                                  const RegistrationRequest& request, std::int64_t new_node_id, TimePoint now,
                                  TimePoint monitor_start, const Timing& timing);

}  // namespace autoctl::fsm

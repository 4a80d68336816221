#pragma once
// Plain data the state machine decides on: a formation's settings, a group's nodes as the monitor
// last stored them, the clock reading and the timing configuration. Nothing here does I/O.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "autoctl/fsm/lsn.hpp"
#include "autoctl/fsm/node_state.hpp"

namespace autoctl::fsm {

using Clock = std::chrono::system_clock;
using TimePoint = Clock::time_point;
using Duration = std::chrono::milliseconds;

inline constexpr std::uint64_t kWalSegmentSize = 16 * 1024 * 1024;

// Monitor timing configuration. Names follow pg_auto_failover's GUCs; defaults are autoctl's
// (design.md §4), which are faster than pg_auto_failover's.
struct Timing {
    Duration node_considered_unhealthy_timeout{5000};  // pg_auto_failover: 20 s
    Duration startup_grace_period{10000};              // no "unhealthy" verdict before this uptime
    Duration primary_demote_timeout{10000};            // drain timeout; pg_auto_failover: 30 s
    std::uint64_t enable_sync_wal_log_threshold = kWalSegmentSize;  // catchingup -> secondary lag bound
    std::uint64_t promote_wal_log_threshold = kWalSegmentSize;      // promotion lag bound
};

struct Formation {
    std::string id = "default";
    FormationKind kind = FormationKind::Pgsql;
    std::string dbname = "postgres";
    bool opt_secondary = true;
    int number_sync_standbys = 0;
};

// One row of pgautofailover.node.
struct Node {
    std::int64_t id = 0;
    std::string name;
    std::string host = "localhost";
    int port = 5432;
    int group = 0;
    NodeState goal = NodeState::Init;
    NodeState reported = NodeState::Init;
    bool pg_is_running = true;
    std::string sync_state;  // reportedrepstate: pg_stat_replication.sync_state seen by this node
    int tli = 1;
    Lsn lsn{};
    TimePoint report_time{};
    TimePoint health_check_time{};
    TimePoint state_change_time{};  // last goal assignment or newly reported state
    Health health = Health::Unknown;
    int candidate_priority = 50;
    bool replication_quorum = true;
    std::string cluster = "default";
};

// Everything one decision reads. `nodes` holds every node of the group, those whose goal is dropped
// included, ordered by node id.
struct GroupSnapshot {
    Formation formation;
    int group = 0;
    std::vector<Node> nodes;
    TimePoint now{};
    TimePoint monitor_start{};  // when the monitor started checking health
    Timing timing;

    const Node* find(std::int64_t node_id) const;
    Node* find(std::int64_t node_id);
    const Node* find_by_name(const std::string& name) const;
};

// A new goal for one node, with the sentence stored in the event table.
struct Assignment {
    std::int64_t node_id = 0;
    NodeState goal = NodeState::Init;
    std::string reason;
};

struct PriorityChange {
    std::int64_t node_id = 0;
    int candidate_priority = 0;
    std::string reason;
};

struct QuorumChange {
    std::int64_t node_id = 0;
    bool replication_quorum = true;
    std::string reason;
};

// What the state machine decided. `rule` names the rule that matched and `reason` says why in one
// sentence; both are empty when no rule matched.
struct Decision {
    std::string rule;
    std::string reason;
    std::vector<Assignment> assignments;
    std::vector<PriorityChange> priority_changes;
    std::vector<QuorumChange> quorum_changes;
    int number_sync_standbys = -1;    // >= 0: new formation setting
    std::int64_t delete_node_id = 0;  // > 0: remove this row from the monitor
    std::vector<std::string> messages;  // operator-facing log lines that are not events

    bool empty() const {
        return assignments.empty() && priority_changes.empty() && quorum_changes.empty() &&
               number_sync_standbys < 0 && delete_node_id == 0;
    }
    const Assignment* assignment_for(std::int64_t node_id) const;
};

// An operator request the state machine refused, with the message the operator sees.
struct Refusal {
    std::string message;
    std::string hint;
};

struct RequestOutcome {
    bool accepted = true;
    Refusal refusal;
    Decision decision;
    std::vector<std::string> notices;  // warnings that do not refuse the request

    static RequestOutcome refuse(std::string message, std::string hint = {});
};

// "node 1 "node_1" (localhost:5432)": how every event names a node.
std::string describe(const Node& node);

}  // namespace autoctl::fsm

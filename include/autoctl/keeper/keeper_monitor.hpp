#pragma once
// The monitor as a keeper sees it: the keeper functions of the SQL API (register_node,
// node_active, get_primary, get_other_nodes, ...) on one connection as autoctl_node, and the
// `state` notifications of its group. Every failure is Error{Monitor}; the caller (one keeper
// step) decides to reconnect.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "autoctl/fsm/lsn.hpp"
#include "autoctl/fsm/node_state.hpp"
#include "autoctl/pg/connection.hpp"

namespace autoctl::keeper {

struct NodeAddress {
    std::int64_t node_id = -1;
    std::string name;
    std::string host;
    int port = 0;
    fsm::Lsn lsn;
    bool is_primary = false;
};

struct FormationNode {
    std::int64_t node_id = -1;
    std::string name;
    std::string host;
    int port = 0;
    int group = 0;
    std::string cluster = "default";
};

struct Registration {
    std::string formation;
    std::string host;
    int port = 0;
    std::string dbname;
    std::string name;  // "" lets the monitor choose
    std::uint64_t system_identifier = 0;
    int group = -1;
    fsm::NodeState initial_state = fsm::NodeState::Init;
    std::string node_kind = "standalone";
    int candidate_priority = 50;
    bool replication_quorum = true;
};

struct Assignment {
    std::int64_t node_id = -1;
    int group = -1;
    fsm::NodeState state = fsm::NodeState::Init;
    int candidate_priority = 0;
    bool replication_quorum = true;
    std::string name;  // register_node only
};

struct NodeReport {
    std::string formation;
    std::int64_t node_id = -1;
    int group = -1;
    fsm::NodeState current = fsm::NodeState::Init;
    bool pg_is_running = false;
    int timeline = 0;      // 0: unknown
    fsm::Lsn lsn;          // 0/0: unknown
    std::string sync_state;  // the best pg_stat_replication.sync_state of our standbys, "" on standbys
};

class KeeperMonitor {
public:
    // Connects at once (connect timeout 2 s); Error{Monitor} when the monitor cannot be reached.
    explicit KeeperMonitor(const std::string& uri);

    Assignment register_node(const Registration& registration);
    Assignment node_active(const NodeReport& report);

    // The group's primary; Error{Monitor} when there is none.
    NodeAddress get_primary(const std::string& formation, int group);
    std::vector<NodeAddress> get_other_nodes(std::int64_t node_id);
    // The standby with the most advanced LSN (election), nullopt when none.
    std::optional<NodeAddress> get_most_advanced_standby(const std::string& formation, int group);
    std::string synchronous_standby_names(const std::string& formation, int group);
    void set_node_system_identifier(std::int64_t node_id, std::uint64_t system_identifier);
    // The system identifiers the nodes of a group already have (group -1: group 0).
    std::vector<std::uint64_t> group_system_identifiers(const std::string& formation, int group);
    // The node registered at host:port in the formation, if any.
    std::optional<NodeAddress> find_node(const std::string& formation, const std::string& host, int port);

    // Citus (citus_monitor.cpp): the coordinator primary (get_coordinator), nullopt when none is
    // ready; and every node of the formation (current_state) with its group and node cluster.
    std::optional<NodeAddress> get_coordinator(const std::string& formation);
    std::vector<FormationNode> get_formation_nodes(const std::string& formation);

    // LISTEN state; then wait_for_group_change() returns true as soon as a notification about
    // this formation and group arrives (draining the others), false after `timeout`.
    void listen_state();
    bool wait_for_group_change(const std::string& formation, int group, std::chrono::milliseconds timeout);

private:
    pg::Connection conn_;
};

}  // namespace autoctl::keeper

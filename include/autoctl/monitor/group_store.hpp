#pragma once
// Reads a group from the monitor database into a state machine snapshot, and writes a decision
// back: goal states, events and "state" notifications, all in the caller's transaction.

#include <string>
#include <vector>

#include "autoctl/fsm/group.hpp"

namespace pqxx {
class transaction_base;
}

namespace autoctl::monitor {

struct GroupKey {
    std::string formation;
    int group = 0;
    friend bool operator<(const GroupKey& a, const GroupKey& b) {
        return a.formation != b.formation ? a.formation < b.formation : a.group < b.group;
    }
    friend bool operator==(const GroupKey& a, const GroupKey& b) {
        return a.formation == b.formation && a.group == b.group;
    }
};

// Takes the group's transaction-scoped advisory lock (the one register_node also takes), so that
// one decision at a time is made for a group.
void lock_group(pqxx::transaction_base& tx, const GroupKey& key);

// The formation's settings and every node of the group (dropped goals included), with the
// database clock as `now`. The caller provides the timing configuration and the monitor start.
fsm::GroupSnapshot load_group(pqxx::transaction_base& tx, const GroupKey& key, const fsm::Timing& timing,
                              fsm::TimePoint monitor_start);

// Every (formation, group) that has nodes.
std::vector<GroupKey> list_groups(pqxx::transaction_base& tx);

// Writes the decision: goals (statechangetime = now()), priorities, quorum flags,
// number_sync_standbys, node removal; one event and one "state" notification per change, and one
// "log" notification per message.
void store_decision(pqxx::transaction_base& tx, const fsm::GroupSnapshot& group, const fsm::Decision& decision);

}  // namespace autoctl::monitor

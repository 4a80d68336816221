// Node registration (reference §2.7): group assignment, initial goal, default names.

#include <map>

#include "autoctl/fsm/monitor_rules.hpp"
#include "autoctl/fsm/operator_requests.hpp"
#include "autoctl/fsm/predicates.hpp"
#include "step.hpp"

namespace autoctl::fsm {

using S = NodeState;

namespace {

RegistrationOutcome refuse(std::string message, std::string hint = {}, bool retryable = false) {
    RegistrationOutcome out;
    out.accepted = false;
    out.retryable = retryable;
    out.refusal = Refusal{std::move(message), std::move(hint)};
    return out;
}

std::vector<const Node*> group_members(const std::vector<Node>& nodes, int group) {
    std::vector<const Node*> members;
    for (const auto& n : nodes)
        if (n.group == group && n.goal != S::Dropped) members.push_back(&n);
    return members;
}

// Citus workers without --group: the first group without nodes, or the first with only a primary.
int assign_worker_group(const std::vector<Node>& nodes, bool opt_secondary) {
    for (int group = 1;; ++group) {
        auto members = group_members(nodes, group);
        if (members.empty()) return group;
        if (members.size() == 1 && opt_secondary) return group;
    }
}

std::string default_name(const Formation& f, const std::vector<Node>& nodes, int group, std::int64_t id) {
    if (f.kind != FormationKind::Citus) return "node_" + std::to_string(id);
    int existing = 0;
    for (const auto& n : nodes)
        if (n.group == group) ++existing;
    std::string prefix = group == 0 ? "coord" : "worker";
    return prefix + std::to_string(group) + static_cast<char>('a' + existing);
}

// What a joining node waits for: a writable primary, a promotion in progress, or a candidate-0
// node that reported its LSN (then the newcomer reports its LSN too).
std::optional<NodeState> standby_initial_goal(const std::vector<const Node*>& members) {
    for (const auto* n : members)
        if (can_take_writes(n->goal) || is_being_promoted(n)) return S::WaitStandby;
    for (const auto* n : members)
        if (n->candidate_priority == 0 && is_current_state(n, S::ReportLsn)) return S::ReportLsn;
    return std::nullopt;
}

}  // namespace

RegistrationOutcome register_node(const Formation& formation, const std::vector<Node>& formation_nodes,
                                  const RegistrationRequest& req, std::int64_t new_node_id, TimePoint now,
                                  TimePoint monitor_start, const Timing& timing) {
    Formation f = formation;
    const FormationKind wanted = req.kind == NodeKind::Standalone ? FormationKind::Pgsql : FormationKind::Citus;
    bool formation_is_empty = true;
    for (const auto& n : formation_nodes)
        if (n.goal != S::Dropped) formation_is_empty = false;
    if (f.kind != wanted) {
        if (!formation_is_empty)
            return refuse("formation \"" + f.id + "\" is of kind " + std::string(to_string(f.kind)) +
                              ", a " + std::string(to_string(req.kind)) + " node can not join it",
                          "use another formation, or create the node with the matching command");
        f.kind = wanted;
    }
    if (f.dbname != req.dbname) {
        if (!formation_is_empty)
            return refuse("formation \"" + f.id + "\" uses database \"" + f.dbname + "\", not \"" + req.dbname + "\"",
                          "use --dbname " + f.dbname);
        f.dbname = req.dbname;
    }
    for (const auto& n : formation_nodes) {
        if (n.host == req.host && n.port == req.port)
            return refuse("a node is already registered at " + req.host + ":" + std::to_string(req.port) + " (" +
                              describe(n) + ")",
                          "drop that node first, or use another --hostname or --pgport");
        if (!req.name.empty() && n.name == req.name)
            return refuse("node name \"" + req.name + "\" is already used in formation \"" + f.id + "\"",
                          "choose another --name");
    }
    if (req.candidate_priority < 0 || req.candidate_priority > 100)
        return refuse("candidate priority " + std::to_string(req.candidate_priority) + " is out of range",
                      "use a value between 0 and 100");

    int group = req.desired_group;
    if (f.kind == FormationKind::Pgsql) {
        if (group > 0)
            return refuse("group " + std::to_string(group) + " does not exist in formation \"" + f.id +
                              "\": a pgsql formation has only group 0",
                          "omit --group");
        group = 0;
    } else if (group < 0) {
        group = req.kind == NodeKind::Coordinator ? 0 : assign_worker_group(formation_nodes, f.opt_secondary);
    } else if (req.kind == NodeKind::Worker && group == 0) {
        return refuse("group 0 is the coordinator's group: a worker can not join it", "use --group 1 or above");
    }

    auto members = group_members(formation_nodes, group);
    NodeState goal;
    if (members.empty() && req.candidate_priority > 0) {
        goal = S::Single;
    } else if (!f.opt_secondary) {
        return refuse("formation \"" + f.id + "\" does not allow secondary nodes",
                      "enable secondary nodes on the formation first");
    } else if (auto standby_goal = standby_initial_goal(members)) {
        goal = *standby_goal;
    } else {
        return refuse("couldn't find the primary node in formation \"" + f.id + "\", group " +
                          std::to_string(group),
                      "Retry registering in a moment", true);
    }
    if (req.initial_state != S::Init && req.initial_state != goal)
        return refuse("node can not be registered in state " + std::string(to_string(req.initial_state)) +
                          ", it should be in state " + std::string(to_string(goal)),
                      goal == S::WaitStandby ? "a primary already exists in this group" : "");

    RegistrationOutcome out;
    Node& node = out.node;
    node.id = new_node_id;
    node.name = req.name.empty() ? default_name(f, formation_nodes, group, new_node_id) : req.name;
    node.host = req.host;
    node.port = req.port;
    node.group = group;
    node.goal = goal;
    node.reported = req.initial_state;
    node.report_time = node.health_check_time = node.state_change_time = now;
    node.candidate_priority = req.candidate_priority;
    node.replication_quorum = req.replication_quorum;
    node.cluster = req.cluster;
    out.messages.push_back("Registering " + describe(node) + " to formation \"" + f.id + "\" with replication quorum " +
                           (node.replication_quorum ? "true" : "false") + " and candidate priority " +
                           std::to_string(node.candidate_priority));

    // A primary with two quorum standbys can keep one of them synchronous at all times.
    if (goal == S::WaitStandby && f.number_sync_standbys == 0) {
        int quorum_standbys = node.replication_quorum ? 1 : 0;
        for (const auto* n : members)
            if (!can_take_writes(n->goal) && n->replication_quorum) ++quorum_standbys;
        if (quorum_standbys == 2) {
            f.number_sync_standbys = 1;
            out.decision.number_sync_standbys = 1;
            out.messages.push_back("Setting number_sync_standbys to 1 for formation \"" + f.id +
                                   "\" now that it has two quorum standbys");
        }
    }

    GroupSnapshot g;
    g.formation = f;
    g.group = group;
    for (const auto* n : members) g.nodes.push_back(*n);
    g.nodes.push_back(node);
    g.now = now;
    g.monitor_start = monitor_start;
    g.timing = timing;
    Decision d = decide(g, node.id);
    d.number_sync_standbys = out.decision.number_sync_standbys;
    out.decision = std::move(d);
    out.formation = f;
    return out;
}

}  // namespace autoctl::fsm

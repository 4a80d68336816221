#pragma once
// Test support for the state machine: builders for group snapshots and a small simulation of a
// group (monitor decisions + keepers that converge + health checks) driven by a fake clock.

#include <algorithm>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "autoctl/fsm/group.hpp"
#include "autoctl/fsm/monitor_rules.hpp"
#include "autoctl/fsm/operator_requests.hpp"
#include "autoctl/fsm/predicates.hpp"

namespace autoctl::fsm::testing {

using namespace std::chrono_literals;

inline TimePoint epoch() { return TimePoint{} + std::chrono::hours(24 * 365 * 50); }

// A healthy, reporting node at the given states; the monitor has been up for an hour.
inline Node node(std::int64_t id, NodeState reported, NodeState goal, TimePoint now = epoch()) {
    Node n;
    n.id = id;
    n.name = "node_" + std::to_string(id);
    n.host = "10.0.0." + std::to_string(id);
    n.port = 5432;
    n.reported = reported;
    n.goal = goal;
    n.health = Health::Good;
    n.pg_is_running = true;
    n.lsn = Lsn{0x3000000};
    n.report_time = n.health_check_time = n.state_change_time = now;
    return n;
}
inline Node node(std::int64_t id, NodeState state, TimePoint now = epoch()) { return node(id, state, state, now); }

inline GroupSnapshot group(std::vector<Node> nodes, TimePoint now = epoch()) {
    GroupSnapshot g;
    g.nodes = std::move(nodes);
    g.now = now;
    g.monitor_start = now - std::chrono::hours(1);
    return g;
}

// Makes a node look dead to the monitor: silent for `silent` and failing health checks.
inline void make_dead(GroupSnapshot& g, std::int64_t id, Duration silent = 60s) {
    Node* n = g.find(id);
    n->report_time = g.now - silent;
    n->health = Health::Bad;
    n->health_check_time = g.now - 1s;
}

inline std::string goals(const Decision& d) {
    std::ostringstream out;
    for (const auto& a : d.assignments) out << a.node_id << ":" << to_string(a.goal) << " ";
    return out.str();
}

// A group whose keepers converge to their goals when they report, with health checks that see
// which nodes are up. Each `tick` advances the clock by one second; every up node's keeper runs
// its transition (reported = goal) and reports, and the monitor decides for it.
class GroupSim {
public:
    struct Event {
        TimePoint at;
        std::int64_t node_id;
        Decision decision;
    };

    // One change of a node's state as the keeper sees it: a goal assigned by the monitor while the
    // node reported `from` (by_keeper false), or the keeper reaching its goal (by_keeper true).
    struct Transition {
        TimePoint at;
        std::int64_t node_id;
        NodeState from;
        NodeState to;
        bool by_keeper;
    };

    explicit GroupSim(GroupSnapshot g) : g_(std::move(g)) {
        for (auto& n : g_.nodes) {
            up_.push_back({n.id, true});
            next_id_ = std::max(next_id_, n.id + 1);
        }
    }

    GroupSnapshot& snapshot() { return g_; }
    const std::vector<Event>& events() const { return events_; }
    TimePoint now() const { return g_.now; }
    const Node& at(std::int64_t id) { return *g_.find(id); }

    void set_up(std::int64_t id, bool up) {
        for (auto& u : up_)
            if (u.first == id) { u.second = up; return; }
        up_.push_back({id, up});
    }
    bool is_up(std::int64_t id) const {
        for (auto& u : up_)
            if (u.first == id) return u.second;
        return false;
    }
    // Postgres stopped but the keeper still reports.
    void set_pg_running(std::int64_t id, bool running) { g_.find(id)->pg_is_running = running; }
    // Whether keepers apply their assigned state at their next report.
    void set_converging(std::int64_t id, bool converging) {
        for (auto& c : frozen_)
            if (c.first == id) { c.second = !converging; return; }
        frozen_.push_back({id, !converging});
    }

    void apply_decision(std::int64_t id, const Decision& d) {
        if (d.empty() && d.rule.empty()) return;
        record_assignments(d);
        ::autoctl::fsm::apply(g_, d);
        if (!d.empty()) events_.push_back(Event{g_.now, id, d});
    }

    // Registers a node through register_node(), as its keeper does at `pg_autoctl create`: the
    // new row gets the next node id, the node is up, and from its first report on its keeper
    // reports `registration_lsn()`. The registration appears in events() as a "register_node"
    // event assigning the initial goal, followed by what the state machine decided.
    RegistrationOutcome register_node(const RegistrationRequest& request) {
        RegistrationOutcome out = ::autoctl::fsm::register_node(g_.formation, g_.nodes, request, next_id_, g_.now,
                                                                g_.monitor_start, g_.timing);
        if (!out.accepted) return out;
        ++next_id_;
        g_.formation = out.formation;
        g_.nodes.push_back(out.node);
        set_up(out.node.id, true);
        set_lsn(out.node.id, registration_lsn_);
        Decision registered;
        registered.rule = "register_node";
        registered.reason = out.messages.empty() ? std::string() : out.messages.front();
        registered.assignments.push_back(Assignment{out.node.id, out.node.goal, "registered"});
        registered.number_sync_standbys = out.decision.number_sync_standbys;  // already in out.formation
        transitions_.push_back(Transition{g_.now, out.node.id, out.node.reported, out.node.goal, false});
        events_.push_back(Event{g_.now, out.node.id, registered});
        Decision rest = out.decision;
        rest.number_sync_standbys = -1;
        apply_decision(out.node.id, rest);
        return out;
    }
    // A node with default settings named `name` at host 10.0.1.<next id>.
    RegistrationOutcome register_node(const std::string& name, int candidate_priority = 50,
                                      bool replication_quorum = true, NodeKind kind = NodeKind::Standalone) {
        RegistrationRequest r;
        r.host = "10.0.1." + std::to_string(next_id_);
        r.name = name;
        r.dbname = g_.formation.dbname;
        r.kind = kind;
        r.candidate_priority = candidate_priority;
        r.replication_quorum = replication_quorum;
        return register_node(r);
    }
    void set_registration_lsn(Lsn lsn) { registration_lsn_ = lsn; }
    Lsn registration_lsn() const { return registration_lsn_; }

    // From its next report on, the node's keeper reports this LSN (nodes without one keep theirs).
    void set_lsn(std::int64_t id, Lsn lsn) {
        for (auto& l : lsn_)
            if (l.first == id) { l.second = lsn; return; }
        lsn_.push_back({id, lsn});
    }
    // Called after a keeper reached a new state, before it reports: lets a test model side effects
    // such as fast_forward fetching WAL (via set_lsn). set_on_converge replaces every hook,
    // add_on_converge adds one; hooks run in the order they were added.
    using ConvergeHook = std::function<void(GroupSim&, const Node&, NodeState from)>;
    void set_on_converge(ConvergeHook hook) {
        on_converge_.clear();
        add_on_converge(std::move(hook));
    }
    void add_on_converge(ConvergeHook hook) {
        if (hook) on_converge_.push_back(std::move(hook));
    }

    // Every state change seen by keepers, in order (see Transition).
    const std::vector<Transition>& transitions() const { return transitions_; }

    // The goals assigned to a node, in order (registration included).
    std::vector<NodeState> goals_of(std::int64_t id) const {
        std::vector<NodeState> result;
        for (const auto& e : events_)
            if (const Assignment* a = e.decision.assignment_for(id)) result.push_back(a->goal);
        return result;
    }

    // "t+12s rule: 1:draining 2:prepare_promotion" for each event from `first` on.
    std::string trace(std::size_t first = 0) const {
        std::ostringstream out;
        const TimePoint origin = events_.empty() ? g_.now : events_.front().at;
        for (std::size_t i = first; i < events_.size(); ++i) {
            const auto& e = events_[i];
            out << "t+" << std::chrono::duration_cast<std::chrono::seconds>(e.at - origin).count() << "s "
                << e.decision.rule << ": " << goals(e.decision) << "\n";
        }
        return out.str();
    }

    // Ticks `count` times.
    void run_ticks(int count) {
        for (int i = 0; i < count; ++i) tick();
    }

    // One keeper loop step of one node: transition, then node_active.
    void keeper_step(std::int64_t id) {
        Node* n = g_.find(id);
        if (n == nullptr || !is_up(id)) return;
        if (n->goal != n->reported && !is_frozen(id)) {
            const NodeState from = n->reported;
            n->reported = n->goal;
            n->state_change_time = g_.now;
            if (n->reported == NodeState::Draining || n->reported == NodeState::DemoteTimeout ||
                n->reported == NodeState::Demoted)
                n->pg_is_running = false;
            else if (n->reported != NodeState::Maintenance && n->reported != NodeState::JoinSecondary)
                n->pg_is_running = true;
            transitions_.push_back(Transition{g_.now, id, from, n->reported, true});
            for (std::size_t h = 0; h < on_converge_.size() && n != nullptr; ++h) {
                const Node copy = *n;  // a hook may change the group
                on_converge_[h](*this, copy, from);
                n = g_.find(id);
            }
            if (n == nullptr) return;
        }
        for (const auto& l : lsn_)
            if (l.first == id) n->lsn = l.second;
        n->report_time = g_.now;
        n->sync_state = replication_seen_by(*n);
        apply_decision(id, decide(g_, id));
    }

    void health_checks() {
        for (auto& n : g_.nodes) {
            n.health = is_up(n.id) && n.pg_is_running ? Health::Good : Health::Bad;
            n.health_check_time = g_.now;
        }
    }

    void tick(Duration step = 1s) {
        g_.now += step;
        health_checks();
        std::vector<std::int64_t> ids;
        for (const auto& n : g_.nodes) ids.push_back(n.id);
        for (auto id : ids) keeper_step(id);
    }

    // Ticks until `done` holds; returns false after `max_ticks`.
    bool run_until(const std::function<bool(const GroupSnapshot&)>& done, int max_ticks = 120) {
        for (int i = 0; i < max_ticks; ++i) {
            if (done(g_)) return true;
            tick();
        }
        return done(g_);
    }

    bool state_is(std::int64_t id, NodeState s) {
        const Node* n = g_.find(id);
        return n != nullptr && n->goal == s && n->reported == s;
    }

    RequestOutcome request(const RequestOutcome& outcome) {
        if (outcome.accepted) apply_decision(0, outcome.decision);
        return outcome;
    }

    // The names of the rules that produced assignments, in order.
    std::vector<std::string> rules() const {
        std::vector<std::string> names;
        for (const auto& e : events_) names.push_back(e.decision.rule);
        return names;
    }

private:
    void record_assignments(const Decision& d) {
        std::vector<std::int64_t> seen;
        for (const auto& a : d.assignments) {
            if (std::find(seen.begin(), seen.end(), a.node_id) != seen.end()) continue;
            seen.push_back(a.node_id);
            const Node* n = g_.find(a.node_id);
            const Assignment* last = d.assignment_for(a.node_id);
            if (n != nullptr) transitions_.push_back(Transition{g_.now, a.node_id, n->reported, last->goal, false});
        }
    }
    // What pg_stat_replication shows on a primary: "quorum" when a quorum standby that is up
    // streams from it as a secondary (synchronous_standby_names names it), "async" for others.
    std::string replication_seen_by(const Node& n) const {
        if (n.reported != NodeState::Primary && n.reported != NodeState::ApplySettings) return "";
        std::string best;
        for (const auto& o : g_.nodes) {
            if (o.id == n.id || !is_up(o.id) || o.reported != NodeState::Secondary) continue;
            if (o.replication_quorum) return "quorum";
            best = "async";
        }
        return best;
    }
    bool is_frozen(std::int64_t id) const {
        for (auto& c : frozen_)
            if (c.first == id) return c.second;
        return false;
    }
    GroupSnapshot g_;
    std::vector<std::pair<std::int64_t, bool>> up_;
    std::vector<std::pair<std::int64_t, bool>> frozen_;
    std::vector<Event> events_;
    std::vector<Transition> transitions_;
    std::vector<std::pair<std::int64_t, Lsn>> lsn_;
    std::vector<ConvergeHook> on_converge_;
    std::int64_t next_id_ = 1;
    Lsn registration_lsn_{0x3000000};
};

}  // namespace autoctl::fsm::testing

#pragma once
// Test support for the state machine: builders for group snapshots and a small simulation of a
// group (monitor decisions + keepers that converge + health checks) driven by a fake clock.

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

    explicit GroupSim(GroupSnapshot g) : g_(std::move(g)) {
        for (auto& n : g_.nodes) up_.push_back({n.id, true});
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
        ::autoctl::fsm::apply(g_, d);
        if (!d.empty()) events_.push_back(Event{g_.now, id, d});
    }

    // One keeper loop step of one node: transition, then node_active.
    void keeper_step(std::int64_t id) {
        Node* n = g_.find(id);
        if (n == nullptr || !is_up(id)) return;
        if (n->goal != n->reported && !is_frozen(id)) {
            n->reported = n->goal;
            n->state_change_time = g_.now;
            if (n->reported == NodeState::Draining || n->reported == NodeState::DemoteTimeout ||
                n->reported == NodeState::Demoted)
                n->pg_is_running = false;
            else if (n->reported != NodeState::Maintenance && n->reported != NodeState::JoinSecondary)
                n->pg_is_running = true;
        }
        n->report_time = g_.now;
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
    bool is_frozen(std::int64_t id) const {
        for (auto& c : frozen_)
            if (c.first == id) return c.second;
        return false;
    }
    GroupSnapshot g_;
    std::vector<std::pair<std::int64_t, bool>> up_;
    std::vector<std::pair<std::int64_t, bool>> frozen_;
    std::vector<Event> events_;
};

}  // namespace autoctl::fsm::testing

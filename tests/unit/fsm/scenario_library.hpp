#pragma once
// Scenarios of a whole group driven through GroupSim with a fake clock: nodes register through
// register_node(), keepers converge at each report, hosts die and come back, operators send
// requests. Each function runs one story to its end and returns it with named marks, so that
// scenario_*.cpp can assert what happened between two marks and keeper_table_test.cpp can check
// every state change the keepers had to make against the keeper table.

#include <algorithm>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "autoctl/fsm/keeper_transitions.hpp"
#include "fsm_test_support.hpp"

namespace autoctl::fsm::testing {

// "rule 1:goal 2:goal" for one decision.
inline std::string summary(const Decision& d) {
    std::string text = d.rule;
    for (const auto& a : d.assignments)
        text += " " + std::to_string(a.node_id) + ":" + std::string(to_string(a.goal));
    return text;
}

struct Scenario {
    std::string name;
    NodeKind kind = NodeKind::Standalone;  // the kind of every node of the group
    GroupSim sim;
    std::vector<std::string> failures;     // steps that did not happen or requests that were refused
    std::vector<std::pair<std::string, std::size_t>> marks;  // label -> events().size() at that point
    std::vector<std::pair<std::string, TimePoint>> mark_times;

    // Keepers stop Postgres for a primary's maintenance (prepare_maintenance) and report it, as
    // pg_autoctl does; GroupSim alone only does so for draining, demote_timeout and demoted.
    Scenario(std::string scenario_name, GroupSnapshot g, NodeKind node_kind = NodeKind::Standalone)
        : name(std::move(scenario_name)), kind(node_kind), sim(std::move(g)) {
        sim.add_on_converge([](GroupSim& s, const Node& n, NodeState) {
            if (n.reported == NodeState::PrepareMaintenance) s.set_pg_running(n.id, false);
        });
    }

    bool ok() const { return failures.empty(); }

    void mark(const std::string& label) {
        marks.push_back({label, sim.events().size()});
        mark_times.push_back({label, sim.now()});
    }

    // Ticks until `done` holds, then marks `label`.
    bool until(const std::string& label, const std::function<bool()>& done, int max_ticks = 120) {
        bool reached = sim.run_until([&](const GroupSnapshot&) { return done(); }, max_ticks);
        if (!reached) failures.push_back("\"" + label + "\" not reached within " + std::to_string(max_ticks) + " s");
        mark(label);
        return reached;
    }

    bool request(const std::string& label, const RequestOutcome& outcome) {
        sim.request(outcome);
        if (!outcome.accepted) failures.push_back("\"" + label + "\" refused: " + outcome.refusal.message);
        mark(label);
        return outcome.accepted;
    }

    bool register_node(const std::string& label, int candidate_priority = 50, bool replication_quorum = true) {
        auto out = sim.register_node("", candidate_priority, replication_quorum, kind);
        if (!out.accepted) failures.push_back("\"" + label + "\" refused: " + out.refusal.message);
        mark(label);
        return out.accepted;
    }

    std::size_t index_of(const std::string& label) const {
        for (const auto& m : marks)
            if (m.first == label) return m.second;
        return sim.events().size();
    }
    TimePoint time_of(const std::string& label) const {
        for (const auto& m : mark_times)
            if (m.first == label) return m.second;
        return TimePoint{};
    }

    // Summaries of the events after mark `from` up to mark `to` (the end when empty).
    std::vector<std::string> between(const std::string& from, const std::string& to = "") const {
        std::size_t first = from.empty() ? 0 : index_of(from);
        std::size_t last = to.empty() ? sim.events().size() : index_of(to);
        std::vector<std::string> result;
        for (std::size_t i = first; i < last && i < sim.events().size(); ++i)
            result.push_back(summary(sim.events()[i].decision));
        return result;
    }

    // The goals assigned to node `id` after mark `from`.
    std::vector<NodeState> goals_after(std::int64_t id, const std::string& from) const {
        std::vector<NodeState> result;
        for (std::size_t i = index_of(from); i < sim.events().size(); ++i)
            if (const Assignment* a = sim.events()[i].decision.assignment_for(id)) result.push_back(a->goal);
        return result;
    }

    std::string report() const {
        std::string text = "scenario " + name + "\n";
        for (const auto& f : failures) text += "  FAILED: " + f + "\n";
        return text + sim.trace();
    }

    bool state_is(std::int64_t id, NodeState s) { return sim.state_is(id, s); }
};

inline GroupSnapshot empty_group(FormationKind kind = FormationKind::Pgsql, int group_id = 0) {
    GroupSnapshot g = group({});
    g.formation.kind = kind;
    if (kind == FormationKind::Citus) g.formation.dbname = "citus";
    g.group = group_id;
    return g;
}

// Registers `count` nodes one after the other, waiting for each to become a secondary; node 1 is
// the primary. priorities[i] / quorum[i] apply to node i + 1 when given.
inline void bootstrap(Scenario& s, int count, std::vector<int> priorities = {}, std::vector<bool> quorum = {}) {
    auto prio = [&](int i) { return i < static_cast<int>(priorities.size()) ? priorities[i] : 50; };
    auto quo = [&](int i) { return i < static_cast<int>(quorum.size()) ? static_cast<bool>(quorum[i]) : true; };
    s.register_node("registered_1", prio(0), quo(0));
    s.until("single", [&] { return s.state_is(1, NodeState::Single); });
    for (int i = 1; i < count; ++i) {
        const std::int64_t id = i + 1;
        s.register_node("registered_" + std::to_string(id), prio(i), quo(i));
        s.until("joined_" + std::to_string(id), [&] {
            if (!s.state_is(1, NodeState::Primary)) return false;
            for (std::int64_t o = 2; o <= id; ++o)
                if (!s.state_is(o, NodeState::Secondary)) return false;
            return true;
        });
    }
    s.mark("bootstrapped");
}

inline bool all_states(Scenario& s, const std::vector<std::pair<std::int64_t, NodeState>>& expected) {
    for (const auto& [id, state] : expected)
        if (!s.state_is(id, state)) return false;
    return true;
}

// ---------------------------------------------------------------------------------------------
// Reference §8: two nodes.

inline Scenario two_node_bootstrap() {
    Scenario s("two_node_bootstrap", empty_group());
    bootstrap(s, 2);
    return s;
}

inline Scenario two_node_switchover() {
    Scenario s("two_node_switchover", empty_group());
    bootstrap(s, 2);
    s.request("perform_failover", perform_failover(s.sim.snapshot()));
    s.until("switched", [&] { return all_states(s, {{1, NodeState::Secondary}, {2, NodeState::Primary}}); });
    return s;
}

// The primary's host dies; when it comes back it rejoins as a standby. With a quorum standby the
// old primary had synchronous replication on, so autoctl releases the new primary as soon as the
// standby stopped replicating; with an asynchronous standby only primary_demote_timeout can.
inline Scenario two_node_primary_dies(bool quorum_standby = true) {
    Scenario s(quorum_standby ? "two_node_primary_dies" : "two_node_primary_dies_async_standby", empty_group());
    bootstrap(s, 2, {}, {true, quorum_standby});
    s.sim.set_up(1, false);
    s.mark("primary_down");
    s.until("new_primary_writable", [&] { return s.state_is(2, NodeState::WaitPrimary); });
    s.sim.run_ticks(30);
    s.mark("primary_still_down");
    s.sim.set_up(1, true);
    s.mark("primary_back");
    s.until("rejoined", [&] { return all_states(s, {{1, NodeState::Secondary}, {2, NodeState::Primary}}); });
    return s;
}

inline Scenario two_node_standby_dies() {
    Scenario s("two_node_standby_dies", empty_group());
    bootstrap(s, 2);
    s.sim.set_up(2, false);
    s.mark("standby_down");
    s.until("primary_alone", [&] { return s.state_is(1, NodeState::WaitPrimary); });
    s.sim.run_ticks(20);
    s.mark("standby_still_down");
    s.sim.set_up(2, true);
    s.mark("standby_back");
    s.until("rejoined", [&] { return all_states(s, {{1, NodeState::Primary}, {2, NodeState::Secondary}}); });
    return s;
}

// ---------------------------------------------------------------------------------------------
// Three nodes: registration, elections, promotion.

inline Scenario three_node_bootstrap() {
    Scenario s("three_node_bootstrap", empty_group());
    bootstrap(s, 3);
    return s;
}

inline Scenario three_node_primary_dies() {
    Scenario s("three_node_primary_dies", empty_group());
    bootstrap(s, 3);
    s.sim.set_up(1, false);
    s.mark("primary_down");
    s.until("elected", [&] { return all_states(s, {{2, NodeState::Primary}, {3, NodeState::Secondary}}); });
    s.sim.set_up(1, true);
    s.mark("primary_back");
    s.until("rejoined", [&] {
        return all_states(s, {{1, NodeState::Secondary}, {2, NodeState::Primary}, {3, NodeState::Secondary}});
    });
    return s;
}

// A keeper that reaches fast_forward has fetched the WAL up to the most advanced standby's LSN.
inline void fast_forward_fetches_wal(GroupSim& sim) {
    sim.add_on_converge([](GroupSim& g, const Node& n, NodeState) {
        if (n.reported != NodeState::FastForward) return;
        Lsn most_advanced = n.lsn;
        for (const auto& o : g.snapshot().nodes)
            if (!belongs_to_primary(o.reported)) most_advanced = std::max(most_advanced, o.lsn);
        g.set_lsn(n.id, most_advanced);
    });
}

// Node 2 lags 1 MB behind the primary and node 3 when the primary dies.
inline void node_2_lags_then_primary_dies(Scenario& s) {
    const Lsn ahead{0x5000000}, behind{0x5000000 - 0x100000};
    s.sim.set_lsn(1, ahead);
    s.sim.set_lsn(2, behind);
    s.sim.set_lsn(3, ahead);
    fast_forward_fetches_wal(s.sim);
    s.sim.tick();
    s.sim.set_up(1, false);
    s.mark("primary_down");
}

// Node 2 has the highest candidate priority but lags behind node 3 when the primary dies: it fetches
// the missing WAL from node 3 (fast_forward) before it is promoted.
inline Scenario three_node_lagging_candidate_fast_forwards() {
    Scenario s("three_node_lagging_candidate_fast_forwards", empty_group());
    bootstrap(s, 3, {50, 90, 50});
    node_2_lags_then_primary_dies(s);
    s.until("elected", [&] { return all_states(s, {{2, NodeState::Primary}, {3, NodeState::Secondary}}); });
    return s;
}

// Node 3 is the most advanced standby but has candidate priority 0: node 2 is elected and
// fast-forwards from node 3, which then follows it.
inline Scenario three_node_priority_zero_most_advanced() {
    Scenario s("three_node_priority_zero_most_advanced", empty_group());
    bootstrap(s, 3, {50, 50, 0});
    node_2_lags_then_primary_dies(s);
    s.until("elected", [&] { return all_states(s, {{2, NodeState::Primary}, {3, NodeState::Secondary}}); });
    return s;
}

inline Scenario three_node_perform_promotion() {
    Scenario s("three_node_perform_promotion", empty_group());
    bootstrap(s, 3);
    s.request("perform_promotion", perform_promotion(s.sim.snapshot(), "node_3"));
    s.until("promoted", [&] {
        return all_states(s, {{1, NodeState::Secondary}, {2, NodeState::Secondary}, {3, NodeState::Primary}});
    });
    return s;
}

// The dead old primary is removed by the operator (remove_node --force) while the elected standby
// promotes: with no node left on the old primary's side the new primary must not wait for it.
inline Scenario three_node_old_primary_removed_during_failover() {
    Scenario s("three_node_old_primary_removed_during_failover", empty_group());
    bootstrap(s, 3);
    s.sim.set_up(1, false);
    s.mark("primary_down");
    s.until("promoting", [&] { return s.sim.at(2).goal == NodeState::StopReplication; });
    s.request("remove_node", remove_node(s.sim.snapshot(), 1, /*force=*/true));
    s.until("elected", [&] { return all_states(s, {{2, NodeState::Primary}, {3, NodeState::Secondary}}); }, 60);
    return s;
}

// ---------------------------------------------------------------------------------------------
// Maintenance.

inline Scenario primary_maintenance_two_nodes() {
    Scenario s("primary_maintenance_two_nodes", empty_group());
    bootstrap(s, 2);
    s.request("start_maintenance", start_maintenance(s.sim.snapshot(), 1, /*allow_failover=*/true));
    s.until("in_maintenance", [&] {
        return all_states(s, {{1, NodeState::Maintenance}, {2, NodeState::WaitPrimary}});
    });
    s.request("stop_maintenance", stop_maintenance(s.sim.snapshot(), 1));
    s.until("back", [&] { return all_states(s, {{1, NodeState::Secondary}, {2, NodeState::Primary}}); });
    return s;
}

// Three nodes: the primary stops Postgres for maintenance, rule 6 puts it in maintenance and the
// standbys elect a new primary.
inline Scenario primary_maintenance_three_nodes() {
    Scenario s("primary_maintenance_three_nodes", empty_group());
    bootstrap(s, 3);
    s.request("start_maintenance", start_maintenance(s.sim.snapshot(), 1, true));
    s.until("in_maintenance", [&] {
        return all_states(s, {{1, NodeState::Maintenance}, {2, NodeState::Primary}, {3, NodeState::Secondary}});
    });
    s.request("stop_maintenance", stop_maintenance(s.sim.snapshot(), 1));
    s.until("back", [&] {
        return all_states(s, {{1, NodeState::Secondary}, {2, NodeState::Primary}, {3, NodeState::Secondary}});
    });
    return s;
}

// Two nodes, after a switchover node 2 is the primary: when it is put in maintenance, the
// candidate (node 1) reports before the primary reached prepare_maintenance.
inline Scenario primary_maintenance_candidate_reports_first(FormationKind kind) {
    const bool citus = kind == FormationKind::Citus;
    Scenario s(citus ? "citus_worker_primary_maintenance_candidate_reports_first"
                     : "primary_maintenance_candidate_reports_first",
               empty_group(kind, citus ? 1 : 0), citus ? NodeKind::Worker : NodeKind::Standalone);
    bootstrap(s, 2);
    s.request("perform_failover", perform_failover(s.sim.snapshot()));
    s.until("switched", [&] { return all_states(s, {{1, NodeState::Secondary}, {2, NodeState::Primary}}); });
    s.request("start_maintenance", start_maintenance(s.sim.snapshot(), 2, true));
    s.until("in_maintenance", [&] {
        return all_states(s, {{1, NodeState::WaitPrimary}, {2, NodeState::Maintenance}});
    });
    s.request("stop_maintenance", stop_maintenance(s.sim.snapshot(), 2));
    s.until("back", [&] { return all_states(s, {{1, NodeState::Primary}, {2, NodeState::Secondary}}); });
    return s;
}

// number_sync_standbys = 0 and the only quorum standby: the primary first stops waiting for it.
inline Scenario standby_maintenance_two_nodes() {
    Scenario s("standby_maintenance_two_nodes", empty_group());
    bootstrap(s, 2);
    s.request("start_maintenance", start_maintenance(s.sim.snapshot(), 2, false));
    s.until("in_maintenance", [&] {
        return all_states(s, {{1, NodeState::WaitPrimary}, {2, NodeState::Maintenance}});
    });
    s.request("stop_maintenance", stop_maintenance(s.sim.snapshot(), 2));
    s.until("back", [&] { return all_states(s, {{1, NodeState::Primary}, {2, NodeState::Secondary}}); });
    return s;
}

// Three nodes (number_sync_standbys = 1): the other standby keeps the primary writable, so the
// standby goes to maintenance directly.
inline Scenario standby_maintenance_three_nodes() {
    Scenario s("standby_maintenance_three_nodes", empty_group());
    bootstrap(s, 3);
    s.request("start_maintenance", start_maintenance(s.sim.snapshot(), 3, false));
    s.until("in_maintenance", [&] { return s.state_is(3, NodeState::Maintenance); });
    s.sim.run_ticks(10);
    s.mark("maintenance_stable");
    s.request("stop_maintenance", stop_maintenance(s.sim.snapshot(), 3));
    s.until("back", [&] {
        return all_states(s, {{1, NodeState::Primary}, {2, NodeState::Secondary}, {3, NodeState::Secondary}});
    });
    return s;
}

// ---------------------------------------------------------------------------------------------
// number_sync_standbys.

inline Scenario nss_changes_three_nodes() {
    Scenario s("nss_changes_three_nodes", empty_group());
    bootstrap(s, 3);
    s.request("set_nss_0", set_number_sync_standbys(s.sim.snapshot(), 0));
    s.until("applied_0", [&] { return s.state_is(1, NodeState::Primary); });
    s.request("set_nss_1", set_number_sync_standbys(s.sim.snapshot(), 1));
    s.until("applied_1", [&] { return s.state_is(1, NodeState::Primary); });
    return s;
}

// Both standbys die. number_sync_standbys = 1: the primary stays primary and writes block;
// number_sync_standbys = 0: it goes wait_primary and writes continue.
inline Scenario both_standbys_die(int nss) {
    Scenario s("both_standbys_die_nss" + std::to_string(nss), empty_group());
    bootstrap(s, 3);
    if (s.sim.snapshot().formation.number_sync_standbys != nss) {
        s.request("set_nss", set_number_sync_standbys(s.sim.snapshot(), nss));
        s.until("applied", [&] { return s.state_is(1, NodeState::Primary); });
    }
    s.sim.set_up(2, false);
    s.sim.set_up(3, false);
    s.mark("standbys_down");
    s.until("standbys_demoted", [&] {
        return s.sim.at(2).goal == NodeState::CatchingUp && s.sim.at(3).goal == NodeState::CatchingUp &&
               s.sim.at(1).goal == s.sim.at(1).reported;
    });
    s.sim.run_ticks(20);
    s.mark("standbys_still_down");
    s.sim.set_up(2, true);
    s.sim.set_up(3, true);
    s.mark("standbys_back");
    s.until("rejoined", [&] {
        return all_states(s, {{1, NodeState::Primary}, {2, NodeState::Secondary}, {3, NodeState::Secondary}});
    });
    return s;
}

// ---------------------------------------------------------------------------------------------
// Citus.

inline Scenario citus_worker_failover() {
    Scenario s("citus_worker_failover", empty_group(FormationKind::Citus, 1), NodeKind::Worker);
    bootstrap(s, 2);
    s.sim.set_up(1, false);
    s.mark("primary_down");
    s.until("new_primary_writable", [&] { return s.state_is(2, NodeState::WaitPrimary); });
    s.sim.set_up(1, true);
    s.mark("primary_back");
    s.until("rejoined", [&] { return all_states(s, {{1, NodeState::Secondary}, {2, NodeState::Primary}}); });
    return s;
}

inline Scenario citus_worker_switchover() {
    Scenario s("citus_worker_switchover", empty_group(FormationKind::Citus, 1), NodeKind::Worker);
    bootstrap(s, 2);
    s.request("perform_failover", perform_failover(s.sim.snapshot()));
    s.until("switched", [&] { return all_states(s, {{1, NodeState::Secondary}, {2, NodeState::Primary}}); });
    return s;
}

// The coordinator's group fails over like a pgsql group (stop_replication, demote timeout).
inline Scenario citus_coordinator_failover() {
    Scenario s("citus_coordinator_failover", empty_group(FormationKind::Citus, 0), NodeKind::Coordinator);
    bootstrap(s, 2);
    s.sim.set_up(1, false);
    s.mark("primary_down");
    s.until("new_primary_writable", [&] { return s.state_is(2, NodeState::WaitPrimary); });
    s.sim.set_up(1, true);
    s.mark("primary_back");
    s.until("rejoined", [&] { return all_states(s, {{1, NodeState::Secondary}, {2, NodeState::Primary}}); });
    return s;
}

// ---------------------------------------------------------------------------------------------
// Candidate priority 0.

inline Scenario priority_zero_standby_primary_dies() {
    Scenario s("priority_zero_standby_primary_dies", empty_group());
    bootstrap(s, 2, {50, 0});
    s.sim.set_up(1, false);
    s.mark("primary_down");
    s.sim.run_ticks(60);
    s.mark("primary_still_down");
    s.sim.set_up(1, true);
    s.mark("primary_back");
    s.sim.run_ticks(10);
    s.mark("end");
    return s;
}

struct NamedScenario {
    const char* name;
    std::function<Scenario()> run;
};

// Every scenario above, for checks that apply to all of them.
inline std::vector<NamedScenario> all_scenarios() {
    return {
        {"two_node_bootstrap", two_node_bootstrap},
        {"two_node_switchover", two_node_switchover},
        {"two_node_primary_dies", [] { return two_node_primary_dies(true); }},
        {"two_node_primary_dies_async_standby", [] { return two_node_primary_dies(false); }},
        {"two_node_standby_dies", two_node_standby_dies},
        {"three_node_bootstrap", three_node_bootstrap},
        {"three_node_primary_dies", three_node_primary_dies},
        {"three_node_lagging_candidate_fast_forwards", three_node_lagging_candidate_fast_forwards},
        {"three_node_priority_zero_most_advanced", three_node_priority_zero_most_advanced},
        {"three_node_perform_promotion", three_node_perform_promotion},
        {"three_node_old_primary_removed_during_failover", three_node_old_primary_removed_during_failover},
        {"primary_maintenance_two_nodes", primary_maintenance_two_nodes},
        {"primary_maintenance_three_nodes", primary_maintenance_three_nodes},
        {"primary_maintenance_candidate_reports_first",
         [] { return primary_maintenance_candidate_reports_first(FormationKind::Pgsql); }},
        {"citus_worker_primary_maintenance_candidate_reports_first",
         [] { return primary_maintenance_candidate_reports_first(FormationKind::Citus); }},
        {"standby_maintenance_two_nodes", standby_maintenance_two_nodes},
        {"standby_maintenance_three_nodes", standby_maintenance_three_nodes},
        {"nss_changes_three_nodes", nss_changes_three_nodes},
        {"both_standbys_die_nss1", [] { return both_standbys_die(1); }},
        {"both_standbys_die_nss0", [] { return both_standbys_die(0); }},
        {"citus_worker_failover", citus_worker_failover},
        {"citus_worker_switchover", citus_worker_switchover},
        {"citus_coordinator_failover", citus_coordinator_failover},
        {"priority_zero_standby_primary_dies", priority_zero_standby_primary_dies},
    };
}

}  // namespace autoctl::fsm::testing

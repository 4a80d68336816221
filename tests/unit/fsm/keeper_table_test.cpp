// The keeper transition table (reference §4.6), checked two ways:
//  1. as data: no duplicate rows, a comment on every row, no row shadowed by a more specific one,
//     and state / action names that round-trip;
//  2. against the monitor: every (reported state -> assigned goal) pair the monitor can emit must
//     have a keeper row for every kind of node that can be in the group, or that keeper would stop
//     with "does not know how to reach state X from Y" and the group would be stuck. The pairs come
//     from a sweep of generated group snapshots (decide() for every node, and every operator
//     request and a registration) and from every GroupSim scenario of scenario_library.hpp.

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <tuple>

#include "autoctl/fsm/keeper_transitions.hpp"
#include "scenario_library.hpp"

namespace autoctl::fsm::testing {
namespace {

using S = NodeState;
using K = KindFilter;
using A = KeeperAction;

constexpr auto kLastAction = A::DropNode;

std::string_view to_string(KindFilter k) {
    switch (k) {
        case K::Any: return "any";
        case K::Citus: return "citus";
        case K::Coordinator: return "coordinator";
        case K::Worker: return "worker";
    }
    return "?";
}

bool filter_matches(KindFilter filter, NodeKind kind) {
    switch (filter) {
        case K::Any: return true;
        case K::Citus: return kind != NodeKind::Standalone;
        case K::Coordinator: return kind == NodeKind::Coordinator;
        case K::Worker: return kind == NodeKind::Worker;
    }
    return false;
}

std::string row_name(const KeeperTransition& r) {
    return std::string(fsm::to_string(r.from)) + " -> " + std::string(fsm::to_string(r.to)) + " [" +
           std::string(to_string(r.kind)) + "]";
}

// ---------------------------------------------------------------------------------------------
// 1. The table as data.

TEST(KeeperTable, NoTwoRowsShareFromToAndKindFilter) {
    std::map<std::tuple<S, S, K>, int> count;
    for (const auto& r : keeper_transitions()) ++count[{r.from, r.to, r.kind}];
    std::string duplicates;
    for (const auto& [key, n] : count)
        if (n > 1)
            duplicates += std::string(fsm::to_string(std::get<0>(key))) + " -> " +
                          std::string(fsm::to_string(std::get<1>(key))) + " [" +
                          std::string(to_string(std::get<2>(key))) + "] x" + std::to_string(n) + "\n";
    EXPECT_EQ(duplicates, "");
}

TEST(KeeperTable, EveryRowHasACommentAndChangesState) {
    for (const auto& r : keeper_transitions()) {
        EXPECT_FALSE(r.comment.empty()) << row_name(r);
        EXPECT_NE(r.from, r.to) << row_name(r);
        EXPECT_NE(r.from, S::Unknown) << row_name(r);
        EXPECT_NE(r.to, S::Unknown) << row_name(r);
    }
}

// A row that no node kind can ever select (a more specific row always wins) is dead data.
TEST(KeeperTable, EveryRowIsSelectedForSomeNodeKind) {
    const NodeKind kinds[] = {NodeKind::Standalone, NodeKind::Coordinator, NodeKind::Worker};
    for (const auto& r : keeper_transitions()) {
        bool selected = false;
        for (auto kind : kinds) {
            if (!filter_matches(r.kind, kind)) continue;
            auto found = find_keeper_transition(r.from, r.to, kind);
            if (found && found->kind == r.kind && found->action == r.action) selected = true;
        }
        EXPECT_TRUE(selected) << row_name(r) << " is shadowed for every node kind";
    }
}

TEST(KeeperTable, LookupPrefersTheMostSpecificKind) {
    EXPECT_EQ(find_keeper_transition(S::Init, S::Single, NodeKind::Coordinator)->action,
              A::CitusCoordinatorInitPrimary);
    EXPECT_EQ(find_keeper_transition(S::Init, S::Single, NodeKind::Worker)->action, A::CitusWorkerInitPrimary);
    EXPECT_EQ(find_keeper_transition(S::Init, S::Single, NodeKind::Standalone)->action, A::InitPrimary);
    EXPECT_EQ(find_keeper_transition(S::CatchingUp, S::Secondary, NodeKind::Worker)->action,
              A::CitusRegisterSecondary);
    EXPECT_EQ(find_keeper_transition(S::CatchingUp, S::Secondary, NodeKind::Standalone)->action,
              A::PrepareForSecondary);
    EXPECT_FALSE(find_keeper_transition(S::Secondary, S::Secondary, NodeKind::Standalone).has_value());
    EXPECT_FALSE(find_keeper_transition(S::Init, S::Primary, NodeKind::Standalone).has_value());
}

TEST(KeeperTable, NodeStateNamesRoundTrip) {
    std::set<std::string_view> names;
    std::set<S> states;
    for (auto s : kAllNodeStates) {
        auto name = fsm::to_string(s);
        EXPECT_FALSE(name.empty());
        EXPECT_TRUE(names.insert(name).second) << name << " is used twice";
        EXPECT_TRUE(states.insert(s).second);
        auto parsed = parse_node_state(name);
        ASSERT_TRUE(parsed.has_value()) << name;
        EXPECT_EQ(*parsed, s) << name;
    }
    // kAllNodeStates lists every enumerator exactly once.
    EXPECT_EQ(states.size(), kNodeStateCount);
    for (std::size_t i = 0; i < kNodeStateCount; ++i) EXPECT_EQ(states.count(static_cast<S>(i)), 1u) << i;
    EXPECT_FALSE(parse_node_state("").has_value());
    EXPECT_FALSE(parse_node_state("Primary").has_value());
    EXPECT_FALSE(parse_node_state("catching_up").has_value());
}

TEST(KeeperTable, KeeperActionNamesRoundTrip) {
    std::map<std::string_view, A> by_name;
    for (int i = 0; i <= static_cast<int>(kLastAction); ++i) {
        const auto action = static_cast<A>(i);
        const auto name = fsm::to_string(action);
        EXPECT_FALSE(name.empty()) << i;
        EXPECT_NE(name, "unknown") << i;
        for (char ch : name) EXPECT_TRUE(std::islower(static_cast<unsigned char>(ch)) || ch == '_') << name;
        EXPECT_TRUE(by_name.emplace(name, action).second) << name << " is used twice";
    }
    // name -> action -> name
    for (const auto& [name, action] : by_name) EXPECT_EQ(fsm::to_string(action), name);
    EXPECT_EQ(fsm::to_string(static_cast<A>(static_cast<int>(kLastAction) + 1)), "unknown");
    // Every action the table uses has a name.
    for (const auto& r : keeper_transitions()) EXPECT_EQ(by_name.count(fsm::to_string(r.action)), 1u) << row_name(r);
}

TEST(KeeperTable, NodeKindAndFormationKindNamesRoundTrip) {
    for (auto kind : {NodeKind::Standalone, NodeKind::Coordinator, NodeKind::Worker})
        EXPECT_EQ(parse_node_kind(fsm::to_string(kind)), kind);
    for (auto kind : {FormationKind::Pgsql, FormationKind::Citus})
        EXPECT_EQ(parse_formation_kind(fsm::to_string(kind)), kind);
}

// ---------------------------------------------------------------------------------------------
// 2. The table against the monitor.

NodeKind kind_of(const GroupSnapshot& g) {
    if (g.formation.kind == FormationKind::Pgsql) return NodeKind::Standalone;
    return g.group == 0 ? NodeKind::Coordinator : NodeKind::Worker;
}

std::string dump(const GroupSnapshot& g) {
    std::ostringstream out;
    out << to_string(g.formation.kind) << " group " << g.group << " nss=" << g.formation.number_sync_standbys << ":";
    for (const auto& n : g.nodes) {
        out << " " << n.id << "=" << fsm::to_string(n.reported) << "/" << fsm::to_string(n.goal);
        if (!n.pg_is_running) out << "(pg down)";
        if (n.report_time < g.now) out << "(silent)";
        if (n.health != Health::Good) out << "(health " << fsm::to_string(n.health) << ")";
        if (n.candidate_priority != 50) out << "(prio " << n.candidate_priority << ")";
        if (!n.replication_quorum) out << "(async)";
        if (n.lsn != Lsn{0x3000000}) out << "(lsn " << n.lsn.to_string() << ")";
    }
    return out.str();
}

using Pair = std::pair<S, S>;

// Every (reported -> goal) pair seen, and the ones the keeper table lacks with one example each.
struct PairCheck {
    std::set<Pair> emitted;
    std::map<std::string, std::string> missing;  // "from -> to [kind]" -> example

    // `example` describes where the pair comes from; it is only built for a missing pair.
    template <typename Example>
    void pair(S from, S to, NodeKind kind, const Example& example) {
        if (from == to) return;  // the keeper is already there
        emitted.insert({from, to});
        if (find_keeper_transition(from, to, kind)) return;
        std::string key = std::string(fsm::to_string(from)) + " -> " + std::string(fsm::to_string(to)) + " [" +
                          std::string(fsm::to_string(kind)) + "]";
        if (missing.count(key) == 0) missing.emplace(key, example());
    }

    // The goal each node ends with in a decision (intermediate goals of the same decision are
    // never seen by a keeper), against the state the node reported.
    void decision(const GroupSnapshot& g, const Decision& d, const char* origin, std::int64_t about = 0) {
        for (const auto& a : d.assignments) {
            if (d.assignment_for(a.node_id) != &a) continue;
            const Node* n = g.find(a.node_id);
            if (n == nullptr) continue;
            pair(n->reported, a.goal, kind_of(g), [&] {
                return std::string(origin) + (about ? " " + std::to_string(about) : std::string()) + " (" + d.rule +
                       ") in " + dump(g);
            });
        }
    }

    std::string report() const {
        std::string text;
        for (const auto& [key, example] : missing) text += "  " + key + "\n      e.g. " + example + "\n";
        return text;
    }
};

// A node's (reported, goal) drawn from what happens in practice: stable states, registration's
// initial goals, a primary that fenced itself (demote_timeout with goal primary, reference §4.5),
// then every pair the monitor emits (computed to a fixpoint by the sweep).
std::set<Pair> seed_configs() {
    std::set<Pair> configs;
    for (auto s : kAllNodeStates)
        if (s != S::Unknown && s != S::Init) configs.insert({s, s});
    for (auto goal : {S::Single, S::WaitStandby, S::ReportLsn}) configs.insert({S::Init, goal});
    configs.insert({S::DemoteTimeout, S::Primary});
    return configs;
}

// Groups the monitor can not produce are skipped, so that the check does not ask the keeper for
// edges that never happen. The monitor keeps these invariants:
//  - at most one node's goal can take writes;
//  - a node whose goal is single is alone, but for nodes registering next to it (wait_standby);
//  - at most one node is being promoted (goal or reported fast_forward, prepare_promotion,
//    stop_replication).
bool is_possible_group(const GroupSnapshot& g) {
    int writable = 0, candidates = 0;
    auto promoting = [](S s) { return s == S::FastForward || s == S::PreparePromotion || s == S::StopReplication; };
    for (const auto& n : g.nodes) {
        if (n.goal == S::Dropped) continue;
        if (can_take_writes(n.goal)) ++writable;
        if (promoting(n.goal) || promoting(n.reported)) ++candidates;
        if (n.goal == S::Single)
            for (const auto& o : g.nodes)
                if (o.id != n.id && o.goal != S::Dropped && o.goal != S::WaitStandby) return false;
    }
    return writable <= 1 && candidates <= 1;
}

// One generated group: node i + 1 has configs[i]; `variant` picks the formation kind,
// number_sync_standbys, whether timers expired, and per node: up / Postgres down / dead / never
// checked, candidate priority 50 or 0, replication quorum, LSN (current, 1 MB behind, 32 MB
// behind, unknown).
GroupSnapshot make_group(const std::vector<Pair>& configs, std::uint64_t variant) {
    std::vector<Node> nodes;
    for (std::size_t i = 0; i < configs.size(); ++i)
        nodes.push_back(node(static_cast<std::int64_t>(i + 1), configs[i].first, configs[i].second));
    GroupSnapshot g = group(nodes);
    auto pick = [&](std::uint64_t n) {
        auto v = variant % n;
        variant /= n;
        return static_cast<int>(v);
    };
    switch (pick(3)) {
        case 1: g.formation.kind = FormationKind::Citus; g.group = 1; break;
        case 2: g.formation.kind = FormationKind::Citus; g.group = 0; break;
        default: break;
    }
    g.formation.number_sync_standbys = pick(2);
    const bool timers_expired = pick(2) == 1;
    for (auto& n : g.nodes) {
        n.group = g.group;
        if (timers_expired) n.state_change_time = g.now - std::chrono::seconds(60);
        switch (pick(4)) {
            case 1: n.pg_is_running = false; n.health = Health::Bad; break;
            case 2: make_dead(g, n.id); break;
            case 3: n.health = Health::Unknown; break;
            default: break;
        }
        if (pick(2) == 1) n.candidate_priority = 0;
        if (pick(2) == 1) n.replication_quorum = false;
        switch (pick(4)) {
            case 1: n.lsn = Lsn{0x3000000 - 0x100000}; break;
            case 2: n.lsn = Lsn{0x3000000 - 0x2000000}; break;
            case 3: n.lsn = Lsn{0}; break;
            default: break;
        }
    }
    return g;
}

struct Sweep {
    PairCheck check;
    std::set<Pair> configs;
    long groups = 0;
    long decisions = 0;
    int rounds = 0;
};

void run_group(Sweep& sweep, const GroupSnapshot& g, bool requests) {
    ++sweep.groups;
    for (const auto& n : g.nodes) {
        ++sweep.decisions;
        sweep.check.decision(g, decide(g, n.id), "decide for node", n.id);
    }
    if (!requests) return;
    auto outcome = [&](const RequestOutcome& o, const char* origin, std::int64_t about = 0) {
        if (o.accepted) sweep.check.decision(g, o.decision, origin, about);
    };
    outcome(perform_failover(g), "perform_failover");
    for (int nss = 0; nss <= 2; ++nss) outcome(set_number_sync_standbys(g, nss), "set_number_sync_standbys", nss);
    for (const auto& n : g.nodes) {
        outcome(perform_promotion(g, n.name), "perform_promotion of node", n.id);
        outcome(start_maintenance(g, n.id, true), "start_maintenance --allow-failover of node", n.id);
        outcome(start_maintenance(g, n.id, false), "start_maintenance of node", n.id);
        outcome(stop_maintenance(g, n.id), "stop_maintenance of node", n.id);
        outcome(set_candidate_priority(g, n.name, n.candidate_priority == 0 ? 50 : 0), "set_candidate_priority of node",
                n.id);
        outcome(set_replication_quorum(g, n.name, !n.replication_quorum), "set_replication_quorum of node", n.id);
        outcome(remove_node(g, n.id, false), "remove_node of node", n.id);
    }
    // A node registering next to this group.
    RegistrationRequest r;
    r.host = "10.0.2.1";
    r.dbname = g.formation.dbname;
    r.kind = kind_of(g);
    r.desired_group = g.group;
    const std::int64_t new_id = static_cast<std::int64_t>(g.nodes.size()) + 1;
    auto reg = register_node(g.formation, g.nodes, r, new_id, g.now, g.monitor_start, g.timing);
    if (reg.accepted) {
        sweep.check.pair(reg.node.reported, reg.node.goal, kind_of(g), [&] { return "register_node in " + dump(g); });
        GroupSnapshot with_new = g;
        with_new.nodes.push_back(reg.node);
        with_new.formation = reg.formation;
        sweep.check.decision(with_new, reg.decision, "register_node");
    }
}

// One pass over groups of 2, 3 and 5 nodes whose configs come from `configs`, each group holding
// at least one config of `fresh` (semi-naive evaluation: groups made only of older configs were
// swept in an earlier pass).
//  - 2 nodes: every such pair of configs, in the plain variant (pgsql, everything healthy) with
//    every operator request when `plain`, and in `random_variants` random variants, one in
//    `requests_every` with every operator request;
//  - 3 and 5 nodes: `samples3` / `samples5` random groups, one in `requests_every` with requests.
// The random numbers come from a fixed seed: the sweep is the same on every run.
struct PassOptions {
    bool plain = true;
    int random_variants = 1;
    int requests_every = 2;
    int samples3 = 0;
    int samples5 = 0;
};

void sweep_pass(Sweep& sweep, std::mt19937_64& rng, const std::set<Pair>& fresh, const PassOptions& o) {
    const std::vector<Pair> configs(sweep.configs.begin(), sweep.configs.end());
    const std::vector<Pair> fresh_configs(fresh.begin(), fresh.end());
    long i = 0;
    for (const auto& a : configs)
        for (const auto& b : configs) {
            if (fresh.count(a) == 0 && fresh.count(b) == 0) continue;
            if (o.plain) {
                GroupSnapshot g = make_group({a, b}, 0);
                if (is_possible_group(g)) run_group(sweep, g, true);
            }
            for (int v = 0; v < o.random_variants; ++v) {
                GroupSnapshot g = make_group({a, b}, rng());
                if (is_possible_group(g)) run_group(sweep, g, ++i % o.requests_every == 0);
            }
        }
    if (fresh_configs.empty()) return;
    for (int size : {3, 5}) {
        const int samples = size == 3 ? o.samples3 : o.samples5;
        for (int k = 0; k < samples; ++k) {
            std::vector<Pair> picked;
            for (int j = 0; j < size; ++j) picked.push_back(configs[rng() % configs.size()]);
            picked[rng() % size] = fresh_configs[rng() % fresh_configs.size()];
            GroupSnapshot g = make_group(picked, rng());
            if (is_possible_group(g)) run_group(sweep, g, ++i % o.requests_every == 0);
        }
    }
}

const Sweep& monitor_sweep() {
    static const Sweep sweep = [] {
        Sweep s;
        s.configs = seed_configs();
        std::set<Pair> fresh = s.configs;
        std::mt19937_64 rng(20240611);
        // Grow the configs to a fixpoint: each round sweeps the groups that hold a config found in
        // the round before.
        while (!fresh.empty() && s.rounds < 10) {
            ++s.rounds;
            sweep_pass(s, rng, fresh, PassOptions{true, 1, 3, 2000, 800});
            fresh.clear();
            for (const auto& p : s.check.emitted)
                if (s.configs.insert(p).second) fresh.insert(p);
        }
        // Then more random variants over every config.
        sweep_pass(s, rng, s.configs, PassOptions{false, 1, 2, 6000, 2500});
        return s;
    }();
    return sweep;
}

TEST(KeeperTableCrossCheck, EveryGoalTheMonitorAssignsHasAKeeperRow) {
    const Sweep& sweep = monitor_sweep();
    std::printf("[ sweep    ] %ld groups, %ld decisions, %zu configurations, %zu pairs, %d rounds\n", sweep.groups,
                sweep.decisions, sweep.configs.size(), sweep.check.emitted.size(), sweep.rounds);
    EXPECT_GT(sweep.groups, 20000);
    EXPECT_GT(sweep.check.emitted.size(), 80u);
    EXPECT_TRUE(sweep.check.missing.empty())
        << "the monitor assigns goals no keeper knows how to reach (" << sweep.check.missing.size() << "):\n"
        << sweep.check.report();
}

// The sweep's configurations did reach a fixpoint: every pair it saw was also tried as a starting
// point of a node.
TEST(KeeperTableCrossCheck, SweepReachedAFixpoint) {
    const Sweep& sweep = monitor_sweep();
    for (const auto& p : sweep.check.emitted)
        EXPECT_EQ(sweep.configs.count(p), 1u) << fsm::to_string(p.first) << " -> " << fsm::to_string(p.second);
}

// The rows autoctl adds to pg_auto_failover's table for pairs the monitor emits (see
// keeper_transitions.cpp): the sweep must still produce each of them, or the row is not needed.
TEST(KeeperTableCrossCheck, RowsAddedForTheMonitorAreNeeded) {
    const std::vector<Pair> added = {
        // stop_replication / prepare_promotion / join_primary -> apply_settings are kept in the
        // table for safety, but settings changes now go only to a current primary.
        {S::FastForward, S::Single},
        {S::JoinSecondary, S::Single},          {S::WaitMaintenance, S::Single},
        {S::PrepareMaintenance, S::Single},     {S::FastForward, S::ReportLsn},
        {S::JoinSecondary, S::ReportLsn},       {S::WaitMaintenance, S::ReportLsn},
        {S::PreparePromotion, S::ReportLsn},    {S::StopReplication, S::ReportLsn},
        {S::JoinPrimary, S::ReportLsn},         {S::WaitStandby, S::ReportLsn},
        {S::PrepareMaintenance, S::DemoteTimeout}, {S::PrepareMaintenance, S::Demoted},
    };
    const Sweep& sweep = monitor_sweep();
    for (const auto& p : added) {
        EXPECT_EQ(sweep.check.emitted.count(p), 1u) << fsm::to_string(p.first) << " -> " << fsm::to_string(p.second);
        EXPECT_TRUE(find_keeper_transition(p.first, p.second, NodeKind::Standalone).has_value());
    }
}

TEST(KeeperTableCrossCheck, EveryScenarioTransitionHasAKeeperRow) {
    PairCheck check;
    std::set<Pair> monitor_pairs;
    for (const auto& named : all_scenarios()) {
        Scenario s = named.run();
        EXPECT_TRUE(s.ok()) << s.report();
        for (const auto& t : s.sim.transitions()) {
            check.pair(t.from, t.to, s.kind, [&] {
                return std::string(named.name) + ": node " + std::to_string(t.node_id) +
                       (t.by_keeper ? " reached " : " was assigned ") + std::string(fsm::to_string(t.to)) + " at t+" +
                       std::to_string(std::chrono::duration_cast<std::chrono::seconds>(t.at - epoch()).count()) + "s";
            });
            if (!t.by_keeper && t.from != t.to && t.from != S::Init) monitor_pairs.insert({t.from, t.to});
        }
    }
    EXPECT_TRUE(check.missing.empty()) << "scenario transitions without a keeper row:\n" << check.report();
    // The generated snapshots cover every pair the scenarios produced.
    const Sweep& sweep = monitor_sweep();
    for (const auto& p : monitor_pairs)
        EXPECT_EQ(sweep.check.emitted.count(p), 1u)
            << "sweep never produced " << fsm::to_string(p.first) << " -> " << fsm::to_string(p.second);
}

}  // namespace
}  // namespace autoctl::fsm::testing

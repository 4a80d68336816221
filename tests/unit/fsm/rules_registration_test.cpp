// register_node (reference §2.7): initial goal, group assignment, default names, refusals and the
// number_sync_standbys auto-bump.

#include "rules_helpers.hpp"

namespace autoctl::fsm::testing {
namespace {

using namespace rules;

struct Formation_ {
    Formation formation;
    std::vector<Node> nodes;
    std::int64_t next_id = 1;

    // Registers and, when accepted, stores the node (its keeper reaching the goal when `converge`).
    RegistrationOutcome add(RegistrationRequest r, bool converge = true) {
        auto out = register_node(formation, nodes, r, next_id, epoch(), epoch() - std::chrono::hours(1), Timing{});
        if (!out.accepted) return out;
        ++next_id;
        formation = out.formation;
        Node n = out.node;
        if (converge) n.reported = n.goal;
        n.health = Health::Good;
        nodes.push_back(n);
        return out;
    }
};

RegistrationRequest request(const std::string& host, NodeKind kind = NodeKind::Standalone) {
    RegistrationRequest r;
    r.host = host;
    r.kind = kind;
    return r;
}

TEST(Registration_FirstNode, BecomesSingle) {
    Formation_ f;
    auto out = f.add(request("h1"), false);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(out.node.id, 1);
    EXPECT_EQ(out.node.group, 0);
    EXPECT_EQ(out.node.name, "node_1");
    EXPECT_EQ(out.node.goal, S::Single);
    EXPECT_EQ(out.node.reported, S::Init);
    ASSERT_FALSE(out.messages.empty());
    EXPECT_EQ(out.messages[0],
              "Registering node 1 \"node_1\" (h1:5432) to formation \"default\" with replication quorum true and "
              "candidate priority 50");
    EXPECT_EQ(out.decision.rule, "lone_node_becomes_single");
    EXPECT_EQ(goals(out.decision), "") << "the goal is already single";
}

TEST(Registration_SecondNode, WaitsAsStandby) {
    Formation_ f;
    f.add(request("h1"));
    auto out = f.add(request("h2"), false);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(out.node.goal, S::WaitStandby);
    EXPECT_EQ(out.node.name, "node_2");
    EXPECT_EQ(out.formation.number_sync_standbys, 0);
    EXPECT_LT(out.decision.number_sync_standbys, 0);
    EXPECT_TRUE(out.decision.empty()) << "nothing happens until the keeper reports wait_standby";
}

TEST(Registration_SecondNode, StandbyWhileACandidateIsBeingPromoted) {
    Formation_ f;
    f.nodes = {node(1, S::Demoted), node(2, S::PreparePromotion)};
    f.next_id = 3;
    auto out = f.add(request("h3"));
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(out.node.goal, S::WaitStandby);
}

TEST(Registration_NoPrimary, RefusedAndRetryable) {
    Formation_ f;
    f.nodes = {node(1, S::Demoted)};
    f.next_id = 2;
    auto out = f.add(request("h2"));
    EXPECT_FALSE(out.accepted);
    EXPECT_TRUE(out.retryable);
    EXPECT_EQ(out.refusal.message, "couldn't find the primary node in formation \"default\", group 0");
    EXPECT_EQ(out.refusal.hint, "Retry registering in a moment");
}

TEST(Registration_NoPrimary, FirstNodeWithPriorityZeroIsRefused) {
    Formation_ f;
    auto r = request("h1");
    r.candidate_priority = 0;
    auto out = f.add(r);
    EXPECT_FALSE(out.accepted);
    EXPECT_TRUE(out.retryable);
    EXPECT_TRUE(Contains(out.refusal.message, "couldn't find the primary node"));
}

TEST(Registration_NoPrimary, JoinsNonCandidateThatReportedItsLsn) {
    Formation_ f;
    f.nodes = {node(1, S::ReportLsn)};
    f.nodes[0].candidate_priority = 0;
    f.next_id = 2;
    auto out = f.add(request("h2"));
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(out.node.goal, S::ReportLsn);
}

TEST(Registration_NumberSyncStandbys, AutoBumpedToOneAtTheThirdNode) {
    Formation_ f;
    f.add(request("h1"));
    f.add(request("h2"));
    auto out = f.add(request("h3"));
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(out.node.goal, S::WaitStandby);
    EXPECT_EQ(out.formation.number_sync_standbys, 1);
    EXPECT_EQ(out.decision.number_sync_standbys, 1);
    ASSERT_EQ(out.messages.size(), 2u);
    EXPECT_EQ(out.messages[1], "Setting number_sync_standbys to 1 for formation \"default\" now that it has two "
                               "quorum standbys");
    // The fourth node leaves it alone.
    auto fourth = f.add(request("h4"));
    EXPECT_EQ(fourth.formation.number_sync_standbys, 1);
    EXPECT_LT(fourth.decision.number_sync_standbys, 0);
}

TEST(Registration_NumberSyncStandbys, NoBumpWithAnAsyncStandby) {
    Formation_ f;
    f.add(request("h1"));
    f.add(request("h2"));
    auto r = request("h3");
    r.replication_quorum = false;
    auto out = f.add(r);
    ASSERT_TRUE(out.accepted);
    EXPECT_EQ(out.formation.number_sync_standbys, 0);
    EXPECT_LT(out.decision.number_sync_standbys, 0);
}

TEST(Registration_Pgsql, GroupAboveZeroIsRefused) {
    Formation_ f;
    auto r = request("h1");
    r.desired_group = 2;
    auto out = f.add(r);
    EXPECT_FALSE(out.accepted);
    EXPECT_FALSE(out.retryable);
    EXPECT_EQ(out.refusal.message, "group 2 does not exist in formation \"default\": a pgsql formation has only group 0");
    EXPECT_EQ(out.refusal.hint, "omit --group");
}

TEST(Registration_Duplicate, NameIsRefused) {
    Formation_ f;
    auto r = request("h1");
    r.name = "alpha";
    f.add(r);
    auto dup = request("h2");
    dup.name = "alpha";
    auto out = f.add(dup);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "node name \"alpha\" is already used in formation \"default\"");
    EXPECT_EQ(out.refusal.hint, "choose another --name");
}

TEST(Registration_Duplicate, HostAndPortIsRefused) {
    Formation_ f;
    f.add(request("h1"));
    auto out = f.add(request("h1"));
    EXPECT_FALSE(out.accepted);
    EXPECT_TRUE(Contains(out.refusal.message, "a node is already registered at h1:5432"));
}

TEST(Registration_CandidatePriority, OutOfRangeIsRefused) {
    Formation_ f;
    auto r = request("h1");
    r.candidate_priority = 101;
    auto out = f.add(r);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "candidate priority 101 is out of range");
}

TEST(Registration_InitialState, ExistingPrimaryCanNotRegisterAsSingleNextToAPrimary) {
    Formation_ f;
    f.add(request("h1"));
    auto r = request("h2");
    r.initial_state = S::Single;
    auto out = f.add(r);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "node can not be registered in state single, it should be in state wait_standby");
}

TEST(Registration_OptSecondary, SecondNodeRefusedWhenSecondariesAreDisabled) {
    Formation_ f;
    f.formation.opt_secondary = false;
    f.add(request("h1"));
    auto out = f.add(request("h2"));
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "formation \"default\" does not allow secondary nodes");
}

TEST(Registration_Citus, GroupsAndNames) {
    Formation_ f;
    auto coord = f.add(request("c", NodeKind::Coordinator));
    ASSERT_TRUE(coord.accepted) << coord.refusal.message;
    EXPECT_EQ(coord.formation.kind, FormationKind::Citus) << "an empty formation switches kind";
    EXPECT_EQ(coord.node.group, 0);
    EXPECT_EQ(coord.node.name, "coord0a");
    EXPECT_EQ(coord.node.goal, S::Single);

    auto w1a = f.add(request("w1", NodeKind::Worker));
    ASSERT_TRUE(w1a.accepted) << w1a.refusal.message;
    EXPECT_EQ(w1a.node.group, 1);
    EXPECT_EQ(w1a.node.name, "worker1a");
    EXPECT_EQ(w1a.node.goal, S::Single);

    auto w1b = f.add(request("w2", NodeKind::Worker));
    ASSERT_TRUE(w1b.accepted) << w1b.refusal.message;
    EXPECT_EQ(w1b.node.group, 1);
    EXPECT_EQ(w1b.node.name, "worker1b");
    EXPECT_EQ(w1b.node.goal, S::WaitStandby);

    auto w2a = f.add(request("w3", NodeKind::Worker));
    ASSERT_TRUE(w2a.accepted) << w2a.refusal.message;
    EXPECT_EQ(w2a.node.group, 2);
    EXPECT_EQ(w2a.node.name, "worker2a");
    EXPECT_EQ(w2a.node.goal, S::Single);

    auto coord_standby = f.add(request("c2", NodeKind::Coordinator));
    ASSERT_TRUE(coord_standby.accepted) << coord_standby.refusal.message;
    EXPECT_EQ(coord_standby.node.group, 0);
    EXPECT_EQ(coord_standby.node.name, "coord0b");
    EXPECT_EQ(coord_standby.node.goal, S::WaitStandby);
}

TEST(Registration_Citus, WorkerInGroupZeroIsRefused) {
    Formation_ f;
    f.add(request("c", NodeKind::Coordinator));
    auto r = request("w", NodeKind::Worker);
    r.desired_group = 0;
    auto out = f.add(r);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "group 0 is the coordinator's group: a worker can not join it");
    EXPECT_EQ(out.refusal.hint, "use --group 1 or above");
}

TEST(Registration_Citus, WorkerWithExplicitGroup) {
    Formation_ f;
    f.add(request("c", NodeKind::Coordinator));
    auto r = request("w", NodeKind::Worker);
    r.desired_group = 5;
    auto out = f.add(r);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(out.node.group, 5);
    EXPECT_EQ(out.node.name, "worker5a");
    EXPECT_EQ(out.node.goal, S::Single);
}

TEST(Registration_Kind, SwitchRefusedWhenFormationHasNodes) {
    Formation_ f;
    f.add(request("h1"));
    auto out = f.add(request("c", NodeKind::Coordinator));
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "formation \"default\" is of kind pgsql, a coordinator node can not join it");
}

TEST(Registration_Kind, CitusFormationSwitchesBackToPgsqlWhenEmpty) {
    Formation_ f;
    f.formation.kind = FormationKind::Citus;
    auto out = f.add(request("h1"));
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(out.formation.kind, FormationKind::Pgsql);
    EXPECT_EQ(out.node.name, "node_1");
}

TEST(Registration_Dbname, SwitchedWhenEmptyRefusedOtherwise) {
    Formation_ f;
    auto r = request("h1");
    r.dbname = "app";
    auto out = f.add(r);
    ASSERT_TRUE(out.accepted);
    EXPECT_EQ(out.formation.dbname, "app");
    auto other = request("h2");
    other.dbname = "postgres";
    out = f.add(other);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "formation \"default\" uses database \"app\", not \"postgres\"");
}

TEST(Registration_Sim, BootstrapOfThreeNodesReachesPrimaryAndTwoSecondaries) {
    GroupSim sim(group({}));
    ASSERT_TRUE(sim.register_node("a").accepted);
    ASSERT_TRUE(sim.run_until([&](const GroupSnapshot&) { return sim.state_is(1, S::Single); }, 10));
    ASSERT_TRUE(sim.register_node("b").accepted);
    ASSERT_TRUE(sim.run_until([&](const GroupSnapshot&) {
        return sim.state_is(1, S::Primary) && sim.state_is(2, S::Secondary);
    }, 20)) << sim.trace();
    auto third = sim.register_node("c");
    ASSERT_TRUE(third.accepted);
    EXPECT_EQ(sim.snapshot().formation.number_sync_standbys, 1);
    ASSERT_TRUE(sim.run_until([&](const GroupSnapshot&) {
        return sim.state_is(1, S::Primary) && sim.state_is(2, S::Secondary) && sim.state_is(3, S::Secondary);
    }, 20)) << sim.trace();
    EXPECT_EQ(synchronous_standby_names(sim.snapshot()),
              "ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)");
}

}  // namespace
}  // namespace autoctl::fsm::testing

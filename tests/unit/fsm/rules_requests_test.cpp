// Operator requests (reference §2.9): perform_failover, perform_promotion, start/stop_maintenance,
// set_candidate_priority, set_replication_quorum, set_number_sync_standbys and remove_node.

#include "rules_helpers.hpp"

namespace autoctl::fsm::testing {
namespace {

using namespace rules;

const std::string kGroup0 = "group 0 of formation \"default\"";

GroupSnapshot two_nodes() { return group({node(1, S::Primary), node(2, S::Secondary)}); }
GroupSnapshot three_nodes() { return group({node(1, S::Primary), node(2, S::Secondary), node(3, S::Secondary)}); }

// ---- perform_failover ----

TEST(Request_PerformFailover, TwoNodesDrainsPrimaryAndPromotesStandby) {
    auto out = perform_failover(two_nodes());
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    const Decision& d = out.decision;
    EXPECT_EQ(d.rule, "perform_failover");
    EXPECT_EQ(d.reason, "an operator asked for a failover of " + kGroup0);
    EXPECT_EQ(goals(d), "1:draining 2:prepare_promotion ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Draining, "after a user-initiated failover"));
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::PreparePromotion, "after a user-initiated failover"));
    EXPECT_TRUE(d.priority_changes.empty());
}

TEST(Request_PerformFailover, TwoNodesRefusedUnlessPrimaryAndSecondaryAreStable) {
    auto g = group({node(1, S::Primary), node(2, S::CatchingUp)});
    auto out = perform_failover(g);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot fail over: primary node is not in a stable state");
    EXPECT_TRUE(out.decision.empty());

    g = group({node(1, S::WaitPrimary), node(2, S::Secondary)});
    out = perform_failover(g);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot fail over: " + kGroup0 + " has no primary in a stable state (single or primary)");
}

TEST(Request_PerformFailover, TwoNodesRefusedWhenStandbyHasPriorityZero) {
    auto g = two_nodes();
    g.find(2)->candidate_priority = 0;
    auto out = perform_failover(g);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot fail over: " + desc(2) + " has candidate priority 0");
}

TEST(Request_PerformFailover, RefusedWithASingleNode) {
    auto out = perform_failover(group({node(1, S::Single)}));
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot fail over: " + kGroup0 + " has only 1 node");
}

TEST(Request_PerformFailover, ThreeNodesDrainsPrimaryAndPenalisesItsPriority) {
    auto out = perform_failover(three_nodes());
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    const Decision& d = out.decision;
    EXPECT_EQ(d.rule, "perform_failover");
    EXPECT_EQ(goals(d), "1:draining ") << "the election starts once the primary stopped";
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Draining, "after a user-initiated failover"));
    ASSERT_EQ(d.priority_changes.size(), 1u);
    EXPECT_EQ(d.priority_changes[0].node_id, 1);
    EXPECT_EQ(d.priority_changes[0].candidate_priority, 50 - 101);
    EXPECT_EQ(d.priority_changes[0].reason, "Updating candidate priority to -51 for " + desc(1));
}

TEST(Request_PerformFailover, ThreeNodesRefusedWithoutHealthyCandidate) {
    auto g = three_nodes();
    g.find(2)->candidate_priority = 0;
    g.find(3)->health = Health::Bad;
    auto out = perform_failover(g);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message,
              "cannot fail over: " + kGroup0 + " has no healthy secondary with a candidate priority above 0");
}

TEST(Request_PerformFailover, ThreeNodesSwitchoverCompletesInSimulation) {
    GroupSim sim(three_nodes());
    ASSERT_TRUE(sim.request(perform_failover(sim.snapshot())).accepted);
    ASSERT_TRUE(sim.run_until([&](const GroupSnapshot& g) {
        int primaries = 0, secondaries = 0;
        for (const auto& n : g.nodes) {
            primaries += is_current_state(&n, S::Primary);
            secondaries += is_current_state(&n, S::Secondary);
        }
        return primaries == 1 && secondaries == 2;
    }, 60)) << sim.trace();
    EXPECT_FALSE(sim.state_is(1, S::Primary)) << sim.trace();
    for (const auto& n : sim.snapshot().nodes) EXPECT_EQ(n.candidate_priority, 50) << "node " << n.id;
}

// ---- perform_promotion ----

TEST(Request_PerformPromotion, TwoNodesIsAFailover) {
    auto out = perform_promotion(two_nodes(), "node_2");
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(out.decision.rule, "perform_promotion");
    EXPECT_EQ(goals(out.decision), "1:draining 2:prepare_promotion ");
    EXPECT_TRUE(out.decision.priority_changes.empty());
}

TEST(Request_PerformPromotion, ThreeNodesBoostsTheNodeAndFailsOver) {
    auto out = perform_promotion(three_nodes(), "node_3");
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    const Decision& d = out.decision;
    EXPECT_EQ(d.rule, "perform_promotion");
    EXPECT_EQ(d.reason, "an operator asked to promote " + desc(3));
    EXPECT_EQ(goals(d), "1:draining ");
    ASSERT_EQ(d.priority_changes.size(), 2u);
    EXPECT_EQ(d.priority_changes[0].node_id, 3);
    EXPECT_EQ(d.priority_changes[0].candidate_priority, 151);
    EXPECT_EQ(d.priority_changes[0].reason, "Updating candidate priority to 151 for " + desc(3));
    EXPECT_EQ(d.priority_changes[1].node_id, 1);
    EXPECT_EQ(d.priority_changes[1].candidate_priority, -51);
}

TEST(Request_PerformPromotion, ThreeNodesElectsThePromotedNodeInSimulation) {
    auto g = three_nodes();
    g.find(2)->candidate_priority = 90;  // would win an ordinary election
    GroupSim sim(g);
    ASSERT_TRUE(sim.request(perform_promotion(sim.snapshot(), "node_3")).accepted);
    ASSERT_TRUE(sim.run_until([&](const GroupSnapshot&) {
        return sim.state_is(3, S::Primary) && sim.state_is(1, S::Secondary) && sim.state_is(2, S::Secondary);
    }, 60)) << sim.trace();
    EXPECT_EQ(sim.at(3).candidate_priority, 50) << "boost removed at election";
    EXPECT_EQ(sim.at(1).candidate_priority, 50) << "penalty removed at election";
}

TEST(Request_PerformPromotion, AlreadyPrimaryIsANotice) {
    auto out = perform_promotion(two_nodes(), "node_1");
    EXPECT_TRUE(out.accepted);
    EXPECT_TRUE(out.decision.empty());
    ASSERT_EQ(out.notices.size(), 1u);
    EXPECT_EQ(out.notices[0], "cannot perform promotion: node node_1 is already the primary");
}

TEST(Request_PerformPromotion, PriorityZeroIsRefused) {
    auto g = three_nodes();
    g.find(2)->candidate_priority = 0;
    auto out = perform_promotion(g, "node_2");
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot perform promotion: node node_2 has candidate priority 0");
}

TEST(Request_PerformPromotion, OnlySecondaryOrReportLsnCanBePromoted) {
    auto g = group({node(1, S::Primary), node(2, S::CatchingUp)});
    auto out = perform_promotion(g, "node_2");
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message,
              "cannot perform promotion: node node_2 is in state catchingup, only a secondary node can be promoted");
    out = perform_promotion(g, "nope");
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "node \"nope\" is not a member of " + kGroup0);
}

// ---- start_maintenance ----

TEST(Request_StartMaintenance, PrimaryRefusedWithoutAllowFailover) {
    auto out = start_maintenance(two_nodes(), 1, false);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot start maintenance: " + desc(1) + " is the primary");
    EXPECT_EQ(out.refusal.hint, "use --allow-failover to fail over to a standby first");
}

TEST(Request_StartMaintenance, PrimaryWithTwoNodesFailsOverToStandby) {
    auto out = start_maintenance(two_nodes(), 1, true);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    const Decision& d = out.decision;
    EXPECT_EQ(d.rule, "start_maintenance");
    EXPECT_EQ(d.reason, "an operator put the primary in maintenance, which fails over");
    EXPECT_EQ(goals(d), "1:prepare_maintenance 2:prepare_promotion ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::PrepareMaintenance, "as requested by the operator"));
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::PreparePromotion, "as its primary enters maintenance"));
}

TEST(Request_StartMaintenance, PrimaryWithTwoNodesReachesMaintenanceInSimulation) {
    GroupSim sim(two_nodes());
    ASSERT_TRUE(sim.request(start_maintenance(sim.snapshot(), 1, true)).accepted);
    ASSERT_TRUE(sim.run_until([&](const GroupSnapshot&) {
        return sim.state_is(1, S::Maintenance) && sim.state_is(2, S::WaitPrimary);
    }, 30)) << sim.trace();
    auto rules = sim.rules();
    EXPECT_NE(std::find(rules.begin(), rules.end(), "candidate_promoted_for_primary_maintenance"), rules.end())
        << sim.trace();
    EXPECT_NE(std::find(rules.begin(), rules.end(), "new_primary_after_primary_maintenance"), rules.end())
        << sim.trace();
}

TEST(Request_StartMaintenance, PrimaryWithThreeNodesOnlyPreparesMaintenance) {
    auto out = start_maintenance(three_nodes(), 1, true);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(out.decision.rule, "start_maintenance");
    EXPECT_EQ(goals(out.decision), "1:prepare_maintenance ") << "rule 6b and the election follow";
}

TEST(Request_StartMaintenance, PrimaryWithThreeNodesReachesMaintenanceInSimulation) {
    GroupSim sim(three_nodes());
    // primary -> prepare_maintenance stops Postgres, and the keeper reports it (not a PRIMARY state).
    sim.set_on_converge([](GroupSim& s, const Node& n, NodeState) {
        if (n.reported == S::PrepareMaintenance) s.set_pg_running(n.id, false);
    });
    ASSERT_TRUE(sim.request(start_maintenance(sim.snapshot(), 1, true)).accepted);
    ASSERT_TRUE(sim.run_until([&](const GroupSnapshot&) {
        return sim.state_is(1, S::Maintenance) && sim.state_is(2, S::Primary) && sim.state_is(3, S::Secondary);
    }, 60)) << sim.trace();
    const auto goals_of_1 = sim.goals_of(1);
    ASSERT_GE(goals_of_1.size(), 2u);
    EXPECT_EQ(goals_of_1[1], S::Maintenance) << "rule 6b";

    ASSERT_TRUE(sim.request(stop_maintenance(sim.snapshot(), 1)).accepted);
    ASSERT_TRUE(sim.run_until([&](const GroupSnapshot&) {
        return sim.state_is(1, S::Secondary) && sim.state_is(2, S::Primary) && sim.state_is(3, S::Secondary);
    }, 60)) << sim.trace();
}

TEST(Request_StartMaintenance, PrimaryRefusedWithoutHealthyCandidate) {
    auto g = two_nodes();
    g.find(2)->candidate_priority = 0;
    auto out = start_maintenance(g, 1, true);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot start maintenance on the primary: no healthy secondary can be promoted");
}

TEST(Request_StartMaintenance, OnlySyncStandbyGoesThroughWaitMaintenance) {
    auto g = two_nodes();
    auto out = start_maintenance(g, 2, false);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    const Decision& d = out.decision;
    EXPECT_EQ(d.rule, "start_maintenance");
    EXPECT_EQ(d.reason, "an operator put a standby in maintenance");
    EXPECT_EQ(goals(d), "1:wait_primary 2:wait_maintenance ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::WaitPrimary, "as its only synchronous standby enters maintenance"));
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::WaitMaintenance, "as requested by the operator"));

    // Rule 16 finishes it once both converged.
    apply(g, d);
    g.find(1)->reported = S::WaitPrimary;
    g.find(2)->reported = S::WaitMaintenance;
    Decision next = decide(g, 2);
    EXPECT_EQ(next.rule, "standby_enters_maintenance_after_wait_primary");
    EXPECT_EQ(goals(next), "2:maintenance ");
}

TEST(Request_StartMaintenance, StandbyWithAnotherSyncStandbyGoesStraightToMaintenance) {
    auto out = start_maintenance(three_nodes(), 3, false);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(goals(out.decision), "3:maintenance ");
    EXPECT_EQ(reason_for(out.decision, 3), sentence(3, S::Maintenance, "as requested by the operator"));
    EXPECT_TRUE(out.notices.empty());
}

TEST(Request_StartMaintenance, WarnsWhenWritesWillBlock) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary), node(3, S::CatchingUp)});
    g.formation.number_sync_standbys = 1;
    auto out = start_maintenance(g, 2, false);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(goals(out.decision), "2:maintenance ") << "number_sync_standbys >= 1: no wait_primary";
    ASSERT_EQ(out.notices.size(), 1u);
    EXPECT_EQ(out.notices[0], "Starting maintenance on " + desc(2) +
                                  " will block writes on the primary until it is back: number_sync_standbys is 1");
}

TEST(Request_StartMaintenance, StandbyRefusedWhilePrimaryIsNotPrimary) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::CatchingUp)});
    auto out = start_maintenance(g, 2, false);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot start maintenance: the primary of " + kGroup0 + " is not in the primary state");
}

TEST(Request_StartMaintenance, RefusedInOtherStatesAndIdempotentInMaintenance) {
    auto g = group({node(1, S::Primary), node(2, S::WaitStandby), node(3, S::Maintenance)});
    auto out = start_maintenance(g, 2, false);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot start maintenance: " + desc(2) +
                                       " is in state wait_standby, maintenance needs a primary, secondary or "
                                       "catchingup node");
    out = start_maintenance(g, 3, false);
    EXPECT_TRUE(out.accepted);
    EXPECT_TRUE(out.decision.empty());
}

// ---- stop_maintenance ----

TEST(Request_StopMaintenance, StandbyCatchesUp) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::Maintenance)});
    auto out = stop_maintenance(g, 2);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(out.decision.rule, "stop_maintenance");
    EXPECT_EQ(out.decision.reason, "an operator ended maintenance of " + desc(2));
    EXPECT_EQ(goals(out.decision), "2:catchingup ");
    EXPECT_EQ(reason_for(out.decision, 2), sentence(2, S::CatchingUp, "after the end of its maintenance"));
}

TEST(Request_StopMaintenance, LoneNodeBecomesSingle) {
    auto out = stop_maintenance(group({node(1, S::Maintenance)}), 1);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(goals(out.decision), "1:single ");
}

TEST(Request_StopMaintenance, TwoNodesWithoutPrimaryIsRefused) {
    auto g = group({node(1, S::Demoted), node(2, S::Maintenance)});
    auto out = stop_maintenance(g, 2);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot stop maintenance: " + kGroup0 + " has no primary node");
}

TEST(Request_StopMaintenance, MoreNodesWithoutPrimaryReportLsn) {
    auto g = group({node(1, S::Demoted), node(2, S::Maintenance), node(3, S::Secondary)});
    auto out = stop_maintenance(g, 2);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(goals(out.decision), "2:report_lsn ");
    EXPECT_EQ(reason_for(out.decision, 2), sentence(2, S::ReportLsn, "to take part in the election of a primary"));
}

TEST(Request_StopMaintenance, FailoverInProgressReportsLsn) {
    auto g = group({node(1, S::Primary, S::Draining), node(2, S::Maintenance), node(3, S::ReportLsn)});
    auto out = stop_maintenance(g, 2);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(goals(out.decision), "2:report_lsn ");
    EXPECT_EQ(reason_for(out.decision, 2), sentence(2, S::ReportLsn, "as a failover is in progress"));
}

TEST(Request_StopMaintenance, PrepareMaintenanceWithMoreNodesReportsLsn) {
    // The node is itself the "primary or demoted" node: there is no other primary to catch up with.
    auto g = three_nodes();
    g.find(1)->goal = g.find(1)->reported = S::PrepareMaintenance;
    auto out = stop_maintenance(g, 1);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(goals(out.decision), "1:report_lsn ");
}

TEST(Request_StopMaintenance, RefusedWhenNotInMaintenance) {
    auto out = stop_maintenance(two_nodes(), 2);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot stop maintenance: " + desc(2) + " is not in maintenance (it is secondary)");
    // prepare_maintenance is accepted only with more than two nodes.
    auto g = group({node(1, S::PrepareMaintenance), node(2, S::WaitPrimary)});
    EXPECT_FALSE(stop_maintenance(g, 1).accepted);
}

// ---- set_candidate_priority ----

TEST(Request_SetCandidatePriority, ChangesPriorityAndPrimaryAppliesSettings) {
    auto out = set_candidate_priority(three_nodes(), "node_2", 90);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    const Decision& d = out.decision;
    EXPECT_EQ(d.rule, "set_candidate_priority");
    EXPECT_EQ(d.reason, "an operator changed the candidate priority of " + desc(2));
    ASSERT_EQ(d.priority_changes.size(), 1u);
    EXPECT_EQ(d.priority_changes[0].node_id, 2);
    EXPECT_EQ(d.priority_changes[0].candidate_priority, 90);
    EXPECT_EQ(d.priority_changes[0].reason, "Updating candidate priority to 90 for " + desc(2));
    EXPECT_EQ(goals(d), "1:apply_settings ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::ApplySettings, "to apply the new candidate priority of " + desc(2)));
    EXPECT_TRUE(out.notices.empty());
}

TEST(Request_SetCandidatePriority, LoneNodeOnlyChangesPriority) {
    auto out = set_candidate_priority(group({node(1, S::Single)}), "node_1", 10);
    ASSERT_TRUE(out.accepted);
    EXPECT_EQ(goals(out.decision), "");
    ASSERT_EQ(out.decision.priority_changes.size(), 1u);
}

TEST(Request_SetCandidatePriority, Validation) {
    auto g = three_nodes();
    EXPECT_EQ(set_candidate_priority(g, "node_2", -1).refusal.message, "invalid candidate priority -1");
    EXPECT_EQ(set_candidate_priority(g, "node_2", 101).refusal.message, "invalid candidate priority 101");
    EXPECT_FALSE(set_candidate_priority(g, "node_9", 10).accepted);
    g.find(3)->cluster = "reads";
    auto out = set_candidate_priority(g, "node_3", 10);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "node \"node_3\" is a read replica of cluster \"reads\": its candidate priority must be 0");
    EXPECT_TRUE(set_candidate_priority(g, "node_3", 0).accepted);
}

TEST(Request_SetCandidatePriority, RefusedWhilePrimaryAppliesSettings) {
    auto g = three_nodes();
    g.find(1)->goal = g.find(1)->reported = S::ApplySettings;
    auto out = set_candidate_priority(g, "node_2", 10);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot change settings while the primary applies settings");
}

TEST(Request_SetCandidatePriority, NoticeWhenFewerThanTwoCandidatesRemain) {
    auto g = three_nodes();
    g.find(1)->candidate_priority = 0;
    auto out = set_candidate_priority(g, "node_2", 0);
    ASSERT_TRUE(out.accepted);
    ASSERT_EQ(out.notices.size(), 1u);
    EXPECT_TRUE(Contains(out.notices[0], "fewer than 2 nodes will have a non-zero candidate priority"));
}

// ---- set_replication_quorum ----

TEST(Request_SetReplicationQuorum, ChangesQuorumAndPrimaryAppliesSettings) {
    auto out = set_replication_quorum(three_nodes(), "node_3", false);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    const Decision& d = out.decision;
    EXPECT_EQ(d.rule, "set_replication_quorum");
    EXPECT_EQ(d.reason, "an operator changed the replication quorum of " + desc(3));
    ASSERT_EQ(d.quorum_changes.size(), 1u);
    EXPECT_EQ(d.quorum_changes[0].node_id, 3);
    EXPECT_FALSE(d.quorum_changes[0].replication_quorum);
    EXPECT_EQ(d.quorum_changes[0].reason, "Updating replicationQuorum to false for " + desc(3));
    EXPECT_EQ(goals(d), "1:apply_settings ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::ApplySettings, "to apply the new replication quorum of " + desc(3)));
}

TEST(Request_SetReplicationQuorum, RefusedWhenNumberSyncStandbysCanNotBeMet) {
    auto g = three_nodes();
    g.formation.number_sync_standbys = 1;
    auto out = set_replication_quorum(g, "node_3", false);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message,
              "cannot set replication quorum to false on node \"node_3\": number_sync_standbys 1 requires 2 quorum "
              "standbys");
    EXPECT_TRUE(set_replication_quorum(g, "node_3", true).accepted);
}

TEST(Request_SetReplicationQuorum, RefusedWhilePrimaryAppliesSettings) {
    auto g = three_nodes();
    g.find(1)->goal = g.find(1)->reported = S::ApplySettings;
    EXPECT_FALSE(set_replication_quorum(g, "node_3", false).accepted);
}

// ---- set_number_sync_standbys ----

TEST(Request_SetNumberSyncStandbys, SetsValueAndPrimaryAppliesSettings) {
    auto out = set_number_sync_standbys(three_nodes(), 1);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    const Decision& d = out.decision;
    EXPECT_EQ(d.rule, "set_number_sync_standbys");
    EXPECT_EQ(d.reason, "an operator set number_sync_standbys to 1");
    EXPECT_EQ(d.number_sync_standbys, 1);
    EXPECT_EQ(goals(d), "1:apply_settings ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::ApplySettings, "to apply number_sync_standbys 1"));
    EXPECT_TRUE(has_message(d, "Setting number_sync_standbys to 1 for formation \"default\""));
}

TEST(Request_SetNumberSyncStandbys, Validation) {
    auto g = three_nodes();
    EXPECT_EQ(set_number_sync_standbys(g, -1).refusal.message, "invalid number_sync_standbys -1");
    auto out = set_number_sync_standbys(g, 2);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot set number_sync_standbys to 2: at least 3 quorum standbys are required and " +
                                       kGroup0 + " has 2");
    EXPECT_TRUE(set_number_sync_standbys(g, 0).accepted);
    EXPECT_TRUE(set_number_sync_standbys(group({node(1, S::Primary), node(2, S::Secondary)}), 0).accepted);
    EXPECT_FALSE(set_number_sync_standbys(group({node(1, S::Primary), node(2, S::Secondary)}), 1).accepted);
}

TEST(Request_SetNumberSyncStandbys, RefusedWhilePrimaryIsNotStable) {
    auto g = three_nodes();
    g.find(1)->goal = S::ApplySettings;
    auto out = set_number_sync_standbys(g, 1);
    EXPECT_FALSE(out.accepted);
    EXPECT_EQ(out.refusal.message, "cannot set number_sync_standbys: the primary of " + kGroup0 + " is not in a stable state");
}

TEST(Request_ApplySettings, PrimaryReturnsToPrimaryAfterApplyingSettings) {
    auto g = three_nodes();
    auto out = set_number_sync_standbys(g, 1);
    ASSERT_TRUE(out.accepted);
    apply(g, out.decision);
    EXPECT_EQ(g.formation.number_sync_standbys, 1);
    g.find(1)->reported = S::ApplySettings;
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "settings_applied");
    EXPECT_EQ(goals(d), "1:primary ");
}

// ---- remove_node ----

TEST(Request_RemoveNode, StandbyIsDroppedAndPrimaryAppliesSettings) {
    auto out = remove_node(three_nodes(), 2, false);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    const Decision& d = out.decision;
    EXPECT_EQ(d.rule, "remove_node");
    EXPECT_EQ(d.reason, "an operator removed " + desc(2));
    EXPECT_EQ(goals(d), "2:dropped 1:apply_settings ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::Dropped, "as requested by the operator"));
    EXPECT_EQ(reason_for(d, 1),
              sentence(1, S::ApplySettings, "to remove " + desc(2) + " from synchronous_standby_names"));
    EXPECT_EQ(d.delete_node_id, 0) << "deleted only once it reports dropped (rule 0)";
}

TEST(Request_RemoveNode, LastStandbyLeavesPrimarySingle) {
    // ProceedGroupState(primary) now sees one node: rule 3 makes it single (sync rep off).
    auto out = remove_node(two_nodes(), 2, false);
    ASSERT_TRUE(out.accepted);
    EXPECT_EQ(goals(out.decision), "2:dropped 1:single ");
    EXPECT_EQ(reason_for(out.decision, 1), sentence(1, S::Single, "as there is no other node"));
}

TEST(Request_RemoveNode, PrimaryRemovalAsksStandbysForTheirLsn) {
    auto g = three_nodes();
    g.nodes.push_back(node(4, S::Maintenance));
    auto out = remove_node(g, 1, false);
    ASSERT_TRUE(out.accepted) << out.refusal.message;
    EXPECT_EQ(goals(out.decision), "2:report_lsn 3:report_lsn 1:dropped ") << "node 4 is in maintenance";
    EXPECT_EQ(reason_for(out.decision, 2), sentence(2, S::ReportLsn, "as the primary is being removed"));
}

TEST(Request_RemoveNode, PrimaryOfTwoNodesLeavesASingle) {
    auto out = remove_node(two_nodes(), 1, false);
    ASSERT_TRUE(out.accepted);
    EXPECT_EQ(goals(out.decision), "2:report_lsn 1:dropped 2:single ");
}

TEST(Request_RemoveNode, ForceDeletesAtOnce) {
    auto out = remove_node(three_nodes(), 3, true);
    ASSERT_TRUE(out.accepted);
    EXPECT_EQ(out.decision.delete_node_id, 3);
    EXPECT_EQ(goals(out.decision), "");
    EXPECT_TRUE(has_message(out.decision, "Removing " + desc(3) + " from formation \"default\""));
}

TEST(Request_RemoveNode, DroppedNodeIsDeletedAndDroppingNodeIsIdempotent) {
    auto g = group({node(1, S::Primary), node(2, S::Dropped), node(3, S::Secondary, S::Dropped)});
    auto out = remove_node(g, 2, false);
    EXPECT_EQ(out.decision.delete_node_id, 2);
    out = remove_node(g, 3, false);
    ASSERT_TRUE(out.accepted);
    EXPECT_TRUE(out.decision.empty());
}

TEST(Request_RemoveNode, NumberSyncStandbysShrinks) {
    auto g = three_nodes();
    g.formation.number_sync_standbys = 1;
    auto out = remove_node(g, 3, false);
    ASSERT_TRUE(out.accepted);
    EXPECT_EQ(out.decision.number_sync_standbys, 0);
    EXPECT_TRUE(has_message(out.decision, "Setting number_sync_standbys to 0 for formation \"default\" now that " +
                                              desc(3) + " is removed"))
        << all_messages(out.decision);
    EXPECT_EQ(goals(out.decision), "3:dropped 1:apply_settings ");
}

TEST(Request_RemoveNode, NumberSyncStandbysKeptWhenEnoughQuorumStandbysRemain) {
    auto g = three_nodes();
    g.nodes.push_back(node(4, S::Secondary));
    g.formation.number_sync_standbys = 1;
    auto out = remove_node(g, 4, false);
    ASSERT_TRUE(out.accepted);
    EXPECT_LT(out.decision.number_sync_standbys, 0);
}

}  // namespace
}  // namespace autoctl::fsm::testing

// decide(): one test per rule of reference §2.4 (rules 0-30), checking the goals assigned, the rule
// name and the sentences, and where it matters that the rule does not fire when its condition fails.

#include "rules_helpers.hpp"

namespace autoctl::fsm::testing {
namespace {

using namespace rules;

using namespace std::chrono_literals;

GroupSnapshot citus_worker_group(std::vector<Node> nodes) {
    for (auto& n : nodes) n.group = 1;
    auto g = group(std::move(nodes));
    g.formation.kind = FormationKind::Citus;
    g.group = 1;
    return g;
}

// ---- rules 0-4: before the primary is looked up ----

TEST(Rule00_DroppedNodeIsRemoved, DeletesRowOfNodeThatReportedDropped) {
    auto g = group({node(1, S::Primary), node(2, S::Dropped)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "dropped_node_is_removed");
    EXPECT_EQ(d.reason, desc(2) + " reported dropped, so its row is removed");
    EXPECT_EQ(d.delete_node_id, 2);
    EXPECT_EQ(goals(d), "");
    ASSERT_EQ(d.messages.size(), 1u);
    EXPECT_EQ(d.messages[0], "Removing " + desc(2) + " from formation \"default\"");
}

TEST(Rule01_NodeBeingDroppedWaits, NothingUntilItReportsDropped) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary, S::Dropped)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "node_being_dropped_waits");
    EXPECT_EQ(d.reason, desc(2) + " is being dropped: waiting for it to report dropped");
    EXPECT_TRUE(d.empty());
}

TEST(Rule02_MaintenanceIsLeftByOperatorOnly, NothingForNodeInMaintenance) {
    auto g = group({node(1, S::Primary), node(2, S::Maintenance)});
    make_dead(g, 1);  // even with a dead primary, a node in maintenance does not move
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "maintenance_is_left_by_operator_only");
    EXPECT_EQ(d.reason, desc(2) + " is in maintenance: only stop_maintenance brings it back");
    EXPECT_TRUE(d.empty());
}

TEST(Rule03_LoneNodeBecomesSingle, OnlyNodeWithPriorityBecomesSingle) {
    // Its former primary was removed: the remaining secondary is alone.
    auto g = group({node(1, S::Secondary), node(2, S::Dropped)});
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "lone_node_becomes_single");
    EXPECT_EQ(d.reason, desc(1) + " is the only node of its group");
    EXPECT_EQ(goals(d), "1:single ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Single, "as there is no other node"));
}

TEST(Rule03_LoneNodeBecomesSingle, NoNewEventWhileGoalIsAlreadySingle) {
    // autoctl never re-emits a goal the node already has (documented difference 5).
    auto g = group({node(1, S::Init, S::Single)});
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "lone_node_becomes_single");
    EXPECT_EQ(goals(d), "");
}

TEST(Rule03_LoneNodeBecomesSingle, NotOnceSingle) {
    auto g = group({node(1, S::Single)});
    Decision d = decide(g, 1);
    EXPECT_NE(d.rule, "lone_node_becomes_single");
    EXPECT_EQ(goals(d), "");
}

TEST(Rule04_LoneNonCandidateReportsLsn, OnlyNodeWithPriorityZeroReportsLsn) {
    auto g = group({node(1, S::Secondary), node(2, S::Dropped)});
    g.find(1)->candidate_priority = 0;
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "lone_non_candidate_reports_lsn");
    EXPECT_EQ(d.reason, desc(1) + " is the only node but can not be promoted (candidate priority 0)");
    EXPECT_EQ(goals(d), "1:report_lsn ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::ReportLsn, "as it is the only node and its candidate priority is 0"));
}

// ---- rule 5: the primary reports (details in rules_primary_test.cpp) ----

TEST(Rule05_PrimaryReported, PrimaryWithHealthySecondaryChangesNothing) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary)});
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "primary_reported");
    EXPECT_EQ(d.reason, desc(1) + " is the primary and its standbys are as expected");
    EXPECT_TRUE(d.empty());
}

TEST(Rule05_PrimaryReported, SingleWithoutStandbyChangesNothing) {
    auto g = group({node(1, S::Single), node(2, S::Init, S::WaitStandby)});
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "primary_reported");
    EXPECT_EQ(d.reason, desc(1) + " is the primary: nothing to change");
    EXPECT_TRUE(d.empty());
}

TEST(Rule05_PrimaryReported, PrimaryRulesRunInsteadOfStandbyRules) {
    // A node in a primary state is judged by the primary rules (§2.5), never by rules 6-30.
    auto g = group({node(1, S::WaitPrimary), node(2, S::Secondary)});
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "wait_primary_becomes_primary");
    EXPECT_EQ(goals(d), "1:primary ");
}

// ---- rule 6: more than two nodes, the primary is unhealthy ----

TEST(Rule06_PrimaryLostWithSeveralStandbys, DrainsPrimaryAndAsksEveryStandbyForItsLsn) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary), node(3, S::Secondary)});
    make_dead(g, 1);
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "1:draining 2:report_lsn 3:report_lsn ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Draining, "after it became unhealthy"));
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::ReportLsn, "to find the failover candidate"));
    EXPECT_EQ(reason_for(d, 3), sentence(3, S::ReportLsn, "to find the failover candidate"));
    EXPECT_EQ(d.rule, "primary_lost_with_several_standbys");
    EXPECT_TRUE(Contains(d.reason, "the primary is unhealthy"));
    EXPECT_TRUE(has_message(d, "waiting for 2 nodes to report")) << all_messages(d);
}

TEST(Rule06_PrimaryLostWithSeveralStandbys, ElectsOnceEveryStandbyReportedItsLsn) {
    auto g = group({node(1, S::Primary, S::Draining), node(2, S::ReportLsn), node(3, S::ReportLsn)});
    make_dead(g, 1);
    g.find(2)->lsn = mb(48);
    g.find(3)->lsn = mb(47);
    Decision d = decide(g, 3);
    EXPECT_EQ(goals(d), "2:prepare_promotion ");
    EXPECT_EQ(reason_for(d, 2),
              sentence(2, S::PreparePromotion, "as it is the most advanced candidate with the highest priority"));
    EXPECT_EQ(d.rule, "candidate_elected");
    EXPECT_EQ(d.reason, desc(2) + " has the highest candidate priority and the most advanced LSN");
}

TEST(Rule06_PrimaryLostWithSeveralStandbys, ElectionWaitsForMissingQuorumNode) {
    // Node 4 is a dead quorum standby whose LSN is unknown: it may hold the last commits.
    auto g = group({node(1, S::Primary, S::Draining), node(2, S::ReportLsn), node(3, S::ReportLsn),
                    node(4, S::Secondary)});
    make_dead(g, 1);
    make_dead(g, 4);
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "");
    EXPECT_TRUE(has_message(d, "after 2 nodes reported their LSN and we are waiting for 1 nodes to report"))
        << all_messages(d);
    EXPECT_EQ(d.rule, "election_continues") << "rule 6 waits, then rule 10 names the wait";
}

TEST(Rule06_PrimaryLostWithSeveralStandbys, DeadNonQuorumNodeDoesNotBlockElection) {
    auto g = group({node(1, S::Primary, S::Draining), node(2, S::ReportLsn), node(3, S::ReportLsn),
                    node(4, S::Secondary)});
    make_dead(g, 1);
    make_dead(g, 4);
    g.find(4)->replication_quorum = false;
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "2:prepare_promotion ");
    EXPECT_EQ(d.rule, "candidate_elected");
}

TEST(Rule06_PrimaryLostWithSeveralStandbys, QuorumShortageBlocksElection) {
    auto g = group({node(1, S::Primary, S::Draining), node(2, S::ReportLsn), node(3, S::ReportLsn)});
    make_dead(g, 1);
    g.formation.number_sync_standbys = 1;
    g.find(3)->replication_quorum = false;  // one quorum candidate, two needed
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "");
    EXPECT_TRUE(has_message(d, "1 quorum nodes reported their LSN and 2 nodes are required in the quorum to satisfy "
                               "number_sync_standbys=1"))
        << all_messages(d);
    g.find(3)->replication_quorum = true;
    EXPECT_EQ(goals(decide(g, 2)), "2:prepare_promotion ");
}

TEST(Rule06_PrimaryLostWithSeveralStandbys, NoDrainingWithoutHealthyCandidate) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary), node(3, S::Secondary)});
    make_dead(g, 1);
    g.find(2)->candidate_priority = 0;
    g.find(3)->candidate_priority = 0;
    Decision d = decide(g, 2);
    EXPECT_EQ(d.assignment_for(1), nullptr) << goals(d);
    EXPECT_EQ(goals(d), "2:report_lsn 3:report_lsn ");
}

TEST(Rule06_PrimaryLostWithSeveralStandbys, PrimaryInPrepareMaintenanceGoesToMaintenance) {
    auto g = group({node(1, S::PrepareMaintenance), node(2, S::Secondary), node(3, S::Secondary)});
    g.find(1)->pg_is_running = false;  // stopped for maintenance
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "1:maintenance 2:report_lsn 3:report_lsn ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Maintenance, "after it converged to prepare_maintenance"));
}

TEST(Rule06_PrimaryLostWithSeveralStandbys, NotWithTwoNodes) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary)});
    make_dead(g, 1);
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "secondary_replaces_unhealthy_primary") << "two nodes: rule 15 instead";
}

TEST(Rule06_PrimaryLostWithSeveralStandbys, NotWhilePrimaryIsHealthy) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary), node(3, S::Secondary)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "");
    EXPECT_TRUE(d.empty());
}

// ---- rules 7-10: report_lsn and fast_forward ----

TEST(Rule07_ReportLsnJoinsWaitPrimary, FollowsHealthyWaitPrimary) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::ReportLsn), node(3, S::Demoted)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "report_lsn_joins_wait_primary");
    EXPECT_EQ(d.reason, "a new primary is serving: the reporting standby follows it");
    EXPECT_EQ(goals(d), "2:secondary ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::Secondary, "after " + desc(1) + " converged to wait_primary"));
}

TEST(Rule07_ReportLsnJoinsWaitPrimary, NotWhileWaitPrimaryIsNotHealthy) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::ReportLsn), node(3, S::Demoted)});
    g.find(1)->health = Health::Bad;  // reporting but failing health checks: not healthy, not unhealthy
    Decision d = decide(g, 2);
    EXPECT_NE(d.rule, "report_lsn_joins_wait_primary");
    EXPECT_EQ(d.assignment_for(2), nullptr) << goals(d);
}

TEST(Rule08_ReportLsnJoinsPrimary, FollowsHealthyPrimary) {
    auto g = group({node(1, S::Primary), node(2, S::ReportLsn), node(3, S::Secondary)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "report_lsn_joins_primary");
    EXPECT_EQ(d.reason, "the primary is serving: the reporting standby follows it");
    EXPECT_EQ(goals(d), "2:secondary ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::Secondary, "after " + desc(1) + " converged to primary"));
}

TEST(Rule09_FastForwardedCandidatePreparesPromotion, PreparesPromotionAfterFetchingWal) {
    auto g = group({node(1, S::Primary, S::Draining), node(2, S::FastForward), node(3, S::ReportLsn)});
    make_dead(g, 1);
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "fast_forwarded_candidate_prepares_promotion");
    EXPECT_EQ(d.reason, "the elected standby caught up with the most advanced one and can be promoted");
    EXPECT_EQ(goals(d), "2:prepare_promotion ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::PreparePromotion, "after it fetched the missing WAL"));
}

TEST(Rule10_ElectionContinues, ReportLsnNodeWaitsForOthers) {
    // Node 3 was asked for its LSN but has not reported it yet.
    auto g = group({node(1, S::Primary), node(2, S::ReportLsn), node(3, S::Secondary, S::ReportLsn)});
    make_dead(g, 1);
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "election_continues");
    EXPECT_EQ(d.reason, "the reporting standby takes part in the election of a new primary");
    EXPECT_EQ(goals(d), "") << "no healthy secondary: the primary is not drained either";
    EXPECT_TRUE(has_message(d, "waiting for 1 nodes to report")) << all_messages(d);
}

TEST(Rule10_ElectionContinues, TwoNodeElectionPicksTheReportingStandby) {
    // Two nodes: the standby reports its LSN and the primary is not healthy, so rule 8 does not
    // apply; rule 10 runs the election, whose own rule name wins.
    auto g = group({node(1, S::Primary), node(2, S::ReportLsn)});
    make_dead(g, 1);
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "2:prepare_promotion ");
    EXPECT_EQ(d.rule, "candidate_elected") << "the election names itself inside rule 10";
}

TEST(Rule10_ElectionContinues, JoinsCandidateReadyToStreamWal) {
    auto g = group({node(1, S::Demoted), node(2, S::StopReplication, S::WaitPrimary), node(3, S::ReportLsn)});
    Decision d = decide(g, 3);
    EXPECT_EQ(d.rule, "standby_joins_elected_primary");
    EXPECT_EQ(d.reason, "the elected node is ready to stream WAL");
    EXPECT_EQ(goals(d), "3:join_secondary ");
    EXPECT_EQ(reason_for(d, 3),
              sentence(3, S::JoinSecondary, "after " + desc(2) + " got selected as the failover candidate"));
}

// ---- rules 11-13: a new standby ----

TEST(Rule11_StandbyCatchesUpWithWaitPrimary, WaitStandbyStartsCatchingUp) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::WaitStandby)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "standby_catches_up_with_wait_primary");
    EXPECT_EQ(d.reason, "the primary is ready to stream WAL to the new standby");
    EXPECT_EQ(goals(d), "2:catchingup ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::CatchingUp, "after " + desc(1) + " converged to wait_primary"));
}

TEST(Rule11_StandbyCatchesUpWithWaitPrimary, NotWhilePrimaryIsStillSingle) {
    auto g = group({node(1, S::Single, S::WaitPrimary), node(2, S::WaitStandby)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "");
    EXPECT_TRUE(d.empty());
}

TEST(Rule12_QuorumStandbyJoinsPrimary, CatchesUpAndPrimaryAppliesSettings) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary), node(3, S::WaitStandby)});
    Decision d = decide(g, 3);
    EXPECT_EQ(d.rule, "quorum_standby_joins_primary");
    EXPECT_EQ(d.reason, "a quorum standby joins a primary, which applies the new synchronous_standby_names");
    EXPECT_EQ(goals(d), "3:catchingup 1:apply_settings ");
    EXPECT_EQ(reason_for(d, 3), sentence(3, S::CatchingUp, "after " + desc(1) + " converged to primary"));
    EXPECT_EQ(reason_for(d, 1),
              sentence(1, S::ApplySettings, "to add " + desc(3) + " to synchronous_standby_names"));
}

TEST(Rule13_AsyncStandbyJoinsPrimary, CatchesUpWithoutNewSettings) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary), node(3, S::WaitStandby)});
    g.find(3)->replication_quorum = false;
    Decision d = decide(g, 3);
    EXPECT_EQ(d.rule, "async_standby_joins_primary");
    EXPECT_EQ(d.reason, "an asynchronous standby joins the primary");
    EXPECT_EQ(goals(d), "3:catchingup ");
    EXPECT_EQ(reason_for(d, 3), sentence(3, S::CatchingUp, "after " + desc(1) + " converged to primary"));
}

// ---- rule 14: catchingup -> secondary ----

TEST(Rule14_CaughtUpStandbyBecomesSecondary, HealthySameTimelineWithinThreshold) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::CatchingUp)});
    g.find(1)->lsn = mb(100);
    g.find(2)->lsn = mb(84);  // exactly enable_sync_wal_log_threshold behind
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "caught_up_standby_becomes_secondary");
    EXPECT_EQ(d.reason, "the standby is healthy, on the primary's timeline and within the WAL lag threshold");
    EXPECT_EQ(goals(d), "2:secondary ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::Secondary, "after it caught up with " + desc(1)));
}

TEST(Rule14_CaughtUpStandbyBecomesSecondary, NotOnAnotherTimeline) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::CatchingUp)});
    g.find(1)->tli = 2;
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "");
    EXPECT_TRUE(d.empty());
}

TEST(Rule14_CaughtUpStandbyBecomesSecondary, NotBeyondEnableSyncThreshold) {
    auto g = group({node(1, S::Primary), node(2, S::CatchingUp)});
    g.find(1)->lsn = mb(100);
    g.find(2)->lsn = Lsn{mb(84).value - 1};
    EXPECT_TRUE(decide(g, 2).empty());
    g.find(2)->lsn = Lsn{0};  // unknown LSN
    EXPECT_TRUE(decide(g, 2).empty());
}

TEST(Rule14_CaughtUpStandbyBecomesSecondary, NotBeforeFirstSuccessfulHealthCheck) {
    auto g = group({node(1, S::Primary), node(2, S::CatchingUp)});
    g.find(2)->health = Health::Unknown;
    EXPECT_TRUE(decide(g, 2).empty());
}

// ---- rule 15: 2-node failover ----

TEST(Rule15_SecondaryReplacesUnhealthyPrimary, PromotesHealthyStandbyWithinThreshold) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary)});
    make_dead(g, 1);
    g.find(1)->lsn = mb(100);
    g.find(2)->lsn = mb(84);
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "secondary_replaces_unhealthy_primary");
    EXPECT_EQ(d.reason, "the primary is unhealthy and a healthy secondary within the WAL threshold takes over");
    EXPECT_EQ(goals(d), "2:prepare_promotion 1:draining ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::PreparePromotion, "after " + desc(1) + " became unhealthy"));
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Draining, "after it became unhealthy"));
}

TEST(Rule15_SecondaryReplacesUnhealthyPrimary, PrimaryReportingPostgresDownIsReplacedAtOnce) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary)});
    g.find(1)->pg_is_running = false;
    EXPECT_EQ(goals(decide(g, 2)), "2:prepare_promotion 1:draining ");
}

TEST(Rule15_SecondaryReplacesUnhealthyPrimary, NotBeyondPromoteWalThreshold) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary)});
    make_dead(g, 1);
    g.find(1)->lsn = mb(100);
    g.find(2)->lsn = Lsn{mb(84).value - 1};
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "");
    EXPECT_TRUE(d.empty());
}

TEST(Rule15_SecondaryReplacesUnhealthyPrimary, NotWithCandidatePriorityZero) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary)});
    make_dead(g, 1);
    g.find(2)->candidate_priority = 0;
    EXPECT_TRUE(decide(g, 2).empty());
}

TEST(Rule15_SecondaryReplacesUnhealthyPrimary, NotWhilePrimaryIsHealthyOrOnlySilent) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary)});
    EXPECT_TRUE(decide(g, 2).empty());
    g.find(1)->report_time = g.now - 60s;  // silent but health checks still succeed
    EXPECT_TRUE(decide(g, 2).empty());
}

TEST(Rule15_SecondaryReplacesUnhealthyPrimary, NotWhenTheStandbyIsNotHealthy) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary)});
    make_dead(g, 1);
    g.find(2)->health = Health::Bad;
    EXPECT_TRUE(decide(g, 2).empty());
}

TEST(Rule15_SecondaryReplacesUnhealthyPrimary, ReplacesUnhealthyWaitPrimaryToo) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::Secondary)});
    make_dead(g, 1);
    EXPECT_EQ(goals(decide(g, 2)), "2:prepare_promotion 1:draining ");
}

// ---- rules 16-17: standby maintenance ----

TEST(Rule16_StandbyEntersMaintenanceAfterWaitPrimary, MaintenanceOncePrimaryIsWaitPrimary) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::WaitMaintenance)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "standby_enters_maintenance_after_wait_primary");
    EXPECT_EQ(d.reason, "the primary no longer waits for this standby, which may now stop for maintenance");
    EXPECT_EQ(goals(d), "2:maintenance ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::Maintenance, "after " + desc(1) + " converged to wait_primary"));
}

TEST(Rule16_StandbyEntersMaintenanceAfterWaitPrimary, NotBeforePrimaryReachedWaitPrimary) {
    auto g = group({node(1, S::Primary, S::WaitPrimary), node(2, S::WaitMaintenance)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "");
    EXPECT_TRUE(d.empty()) << "rule 17 does not fire either: the primary's goal is wait_primary";
}

TEST(Rule17_StandbyEntersMaintenance, MaintenanceWhenPrimaryGoalIsNotWaitPrimary) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary), node(3, S::WaitMaintenance)});
    Decision d = decide(g, 3);
    EXPECT_EQ(d.rule, "standby_enters_maintenance");
    EXPECT_EQ(d.reason, "the standby may now stop for maintenance");
    EXPECT_EQ(goals(d), "3:maintenance ");
    EXPECT_EQ(reason_for(d, 3), sentence(3, S::Maintenance, "as requested"));
}

// ---- rules 18-22: prepare_promotion ----

TEST(Rule18_CandidatePromotedForPrimaryMaintenance, StopsReplicationOncePrimaryPreparedMaintenance) {
    auto g = group({node(1, S::PrepareMaintenance), node(2, S::PreparePromotion)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "candidate_promoted_for_primary_maintenance");
    EXPECT_EQ(d.reason, "the primary stopped for maintenance: the candidate stops replicating and promotes");
    EXPECT_EQ(goals(d), "2:stop_replication ");
    EXPECT_EQ(reason_for(d, 2),
              sentence(2, S::StopReplication, "after " + desc(1) + " converged to prepare_maintenance"));
}

TEST(Rule18_CandidatePromotedForPrimaryMaintenance, NotWhilePrimaryStillPreparesMaintenance) {
    auto g = group({node(1, S::Primary, S::PrepareMaintenance), node(2, S::PreparePromotion)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "") << "rule 21 does not fire either: the primary is in maintenance";
    EXPECT_TRUE(d.empty());
}

TEST(Rule19_CitusWorkerPromotedAtOnce, WorkerSkipsStopReplication) {
    auto g = citus_worker_group({node(1, S::Draining), node(2, S::PreparePromotion)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "citus_worker_promoted_at_once");
    EXPECT_TRUE(Contains(d.reason, "no demote timeout is needed"));
    EXPECT_EQ(goals(d), "2:wait_primary 1:demoted ");
    EXPECT_EQ(reason_for(d, 2),
              sentence(2, S::WaitPrimary, "as the coordinator now blocks writes to this worker group"));
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Demoted, "after a failover of its worker group"));
}

TEST(Rule19_CitusWorkerPromotedAtOnce, NotForTheCoordinator) {
    auto g = group({node(1, S::Draining), node(2, S::PreparePromotion)});
    g.formation.kind = FormationKind::Citus;  // group 0: the coordinator
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "candidate_stops_replication");
}

TEST(Rule20_CitusWorkerPromotedWithoutPrimary, WaitPrimaryWhenNoPrimaryLeft) {
    auto g = citus_worker_group({node(1, S::Demoted), node(2, S::PreparePromotion)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "citus_worker_promoted_without_primary");
    EXPECT_EQ(d.reason, "the worker group has no primary left");
    EXPECT_EQ(goals(d), "2:wait_primary ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::WaitPrimary, "as its worker group has no primary"));
}

TEST(Rule21_CandidateStopsReplication, CandidateStopsReplicationAndPrimaryDemotes) {
    auto g = group({node(1, S::Draining), node(2, S::PreparePromotion)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "candidate_stops_replication");
    EXPECT_EQ(d.reason, "the candidate promotes read-only while the old primary is demoted");
    EXPECT_EQ(goals(d), "2:stop_replication 1:demote_timeout ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::StopReplication, "after it converged to prepare_promotion"));
    EXPECT_EQ(reason_for(d, 1),
              sentence(1, S::DemoteTimeout, "after " + desc(2) + " converged to prepare_promotion"));
}

TEST(Rule21_CandidateStopsReplication, DeadPrimaryThatNeverReportedDraining) {
    auto g = group({node(1, S::Primary, S::Draining), node(2, S::PreparePromotion)});
    make_dead(g, 1);
    EXPECT_EQ(goals(decide(g, 2)), "2:stop_replication 1:demote_timeout ");
}

TEST(Rule21_CandidateStopsReplication, NotWhilePrimaryIsInMaintenance) {
    auto g = group({node(1, S::Primary, S::Maintenance), node(2, S::PreparePromotion)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "");
    EXPECT_TRUE(d.empty());
}

TEST(Rule22_CandidatePromotedWithoutPrimary, WaitPrimaryWhenNoNodeBelongsToPrimary) {
    // >2-node switchover: the old primary already reported report_lsn.
    auto g = group({node(1, S::ReportLsn), node(2, S::PreparePromotion), node(3, S::ReportLsn)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "candidate_promoted_without_primary");
    EXPECT_EQ(d.reason, "no node belongs to the primary any more: promote at once");
    EXPECT_EQ(goals(d), "2:wait_primary ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::WaitPrimary, "as no other node can take writes"));
}

// ---- rules 23-26: stop_replication ----

TEST(Rule23_NewPrimaryAfterPrimaryMaintenance, WaitPrimaryAndOldPrimaryMaintenance) {
    auto g = group({node(1, S::PrepareMaintenance), node(2, S::StopReplication)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "new_primary_after_primary_maintenance");
    EXPECT_EQ(d.reason, "the old primary is stopped for maintenance: the promoted node takes writes");
    EXPECT_EQ(goals(d), "2:wait_primary 1:maintenance ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::WaitPrimary, "after it promoted"));
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Maintenance, "after " + desc(2) + " promoted"));
}

TEST(Rule24_NewPrimaryAfterOldPrimaryDemoted, OldPrimaryReportedDemoteTimeout) {
    auto g = group({node(1, S::DemoteTimeout), node(2, S::StopReplication)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "new_primary_after_old_primary_demoted");
    EXPECT_EQ(d.reason, "the old primary reported that it stopped");
    EXPECT_EQ(goals(d), "2:wait_primary 1:demoted ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::WaitPrimary, "after " + desc(1) + " was demoted"));
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Demoted, "after " + desc(2) + " promoted"));
}

TEST(Rule24_NewPrimaryAfterOldPrimaryDemoted, WaitsForDemoteTimeoutWhileQuorumStandbyStreams) {
    // Node 3 is a quorum standby still streaming from the dead old primary: the old primary might
    // still acknowledge commits, so the candidate waits for primary_demote_timeout.
    auto g = group({node(1, S::Primary, S::DemoteTimeout), node(2, S::StopReplication), node(3, S::Secondary)});
    make_dead(g, 1);
    Decision d = decide(g, 2);
    EXPECT_NE(d.rule, "new_primary_after_old_primary_demoted");
    EXPECT_EQ(goals(d), "");

    g.now += g.timing.primary_demote_timeout;
    g.find(1)->health_check_time = g.now;
    d = decide(g, 2);
    EXPECT_EQ(d.rule, "new_primary_after_old_primary_demoted");
    EXPECT_EQ(d.reason, "the old primary did not report within primary_demote_timeout");
    EXPECT_EQ(goals(d), "2:wait_primary 1:demoted ");
}

TEST(Rule24_NewPrimaryAfterOldPrimaryDemoted, EarlyWhenEveryQuorumStandbyStoppedReplicating) {
    // autoctl's improvement: node 3 left the old primary (report_lsn), so no commit can be
    // acknowledged on it any more and the candidate is released before the timeout.
    auto g = group({node(1, S::Primary, S::DemoteTimeout), node(2, S::StopReplication), node(3, S::ReportLsn)});
    g.find(1)->sync_state = "quorum";  // its last report: synchronous replication was in effect
    make_dead(g, 1);
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "new_primary_after_old_primary_demoted");
    EXPECT_EQ(d.reason,
              "every quorum standby stopped replicating from the old primary, which can no longer acknowledge a "
              "commit");
    EXPECT_EQ(goals(d), "2:wait_primary 1:demoted ");
}

TEST(Rule24_NewPrimaryAfterOldPrimaryDemoted, TwoNodeUnplannedFailoverIsReleasedEarly) {
    auto g = group({node(1, S::Primary, S::DemoteTimeout), node(2, S::StopReplication)});
    g.find(1)->sync_state = "quorum";
    make_dead(g, 1);
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "new_primary_after_old_primary_demoted");
    EXPECT_EQ(goals(d), "2:wait_primary 1:demoted ");
}

TEST(Rule24_NewPrimaryAfterOldPrimaryDemoted, OldWaitPrimaryKeepsTheDrainTimeout) {
    // synchronous_standby_names was '' on a wait_primary: it acknowledged commits on its own.
    auto g = group({node(1, S::WaitPrimary, S::DemoteTimeout), node(2, S::StopReplication)});
    make_dead(g, 1);
    EXPECT_TRUE(decide(g, 2).empty());
    g.now += g.timing.primary_demote_timeout;
    g.find(1)->health_check_time = g.now;
    EXPECT_EQ(goals(decide(g, 2)), "2:wait_primary 1:demoted ");
}

TEST(Rule24_NewPrimaryAfterOldPrimaryDemoted, NotEarlyWithoutAnyQuorumStandby) {
    // The only standby is asynchronous: synchronous_standby_names was '' on the old primary, which
    // acknowledged commits on its own, so the drain timeout is kept.
    auto g = group({node(1, S::Primary, S::DemoteTimeout), node(2, S::StopReplication)});
    make_dead(g, 1);
    g.find(2)->replication_quorum = false;
    EXPECT_TRUE(decide(g, 2).empty());
    g.now += g.timing.primary_demote_timeout;
    g.find(1)->health_check_time = g.now;
    Decision d = decide(g, 2);
    EXPECT_EQ(d.reason, "the old primary did not report within primary_demote_timeout");
    EXPECT_EQ(goals(d), "2:wait_primary 1:demoted ");
}

TEST(Rule25_CitusWorkerNewPrimary, WorkerDoesNotWaitForDemoteTimeout) {
    auto g = citus_worker_group({node(1, S::Draining), node(2, S::StopReplication)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "citus_worker_new_primary");
    EXPECT_EQ(d.reason, "a Citus worker's writes are blocked by the coordinator");
    EXPECT_EQ(goals(d), "2:wait_primary 1:demoted ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::WaitPrimary, "after it promoted"));
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Demoted, "after " + desc(2) + " promoted"));
}

TEST(Rule25_CitusWorkerNewPrimary, PgsqlWaitsInstead) {
    auto g = group({node(1, S::Draining), node(2, S::StopReplication)});
    EXPECT_TRUE(decide(g, 2).empty());
}

TEST(Rule26_CitusWorkerNewPrimaryWithoutPrimary, WaitPrimaryWhenNoPrimaryLeft) {
    auto g = citus_worker_group({node(1, S::Demoted), node(2, S::StopReplication)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "citus_worker_new_primary_without_primary");
    EXPECT_EQ(d.reason, "the worker group has no primary left");
    EXPECT_EQ(goals(d), "2:wait_primary ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::WaitPrimary, "as its worker group has no primary"));
}

// ---- rules 27-28: the demoted old primary rejoins ----

TEST(Rule27_DemotedNodeRejoinsPromotingPrimary, CatchesUpWhileNewPrimaryHeadsForPrimary) {
    auto g = group({node(1, S::Demoted), node(2, S::WaitPrimary, S::Primary)});
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "demoted_node_rejoins_promoting_primary");
    EXPECT_EQ(d.reason, "the old primary rejoins as a standby");
    EXPECT_EQ(goals(d), "1:catchingup ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::CatchingUp, "after " + desc(2) + " became the primary"));
}

TEST(Rule28_DemotedNodeRejoins, CatchesUpWithServingPrimary) {
    auto g = group({node(1, S::Demoted), node(2, S::WaitPrimary)});
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "demoted_node_rejoins");
    EXPECT_EQ(d.reason, "the old primary rejoins as a standby");
    EXPECT_EQ(goals(d), "1:catchingup ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::CatchingUp, "after " + desc(2) + " converged to wait_primary"));
}

TEST(Rule28_DemotedNodeRejoins, NotWhileNewPrimaryIsUnhealthy) {
    auto g = group({node(1, S::Demoted), node(2, S::WaitPrimary)});
    g.find(2)->pg_is_running = false;
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "");
    EXPECT_TRUE(d.empty());
}

// ---- rules 29-30: join_secondary ----

TEST(Rule29_JoinedSecondaryFollowsWaitPrimary, BecomesSecondaryThenPrimaryRulesRun) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::JoinSecondary), node(3, S::Secondary)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "joined_secondary_follows_wait_primary");
    EXPECT_EQ(d.reason, "a standby of the election follows the new primary");
    EXPECT_EQ(goals(d), "2:secondary 1:primary ") << "node 3 is a quorum secondary: P2c runs for node 1";
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::Secondary, "after " + desc(1) + " converged to wait_primary"));
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Primary, "now that a quorum standby is a healthy secondary"));
}

TEST(Rule29_JoinedSecondaryFollowsWaitPrimary, PrimaryStaysWaitPrimaryWithoutQuorumSecondary) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::JoinSecondary), node(3, S::JoinSecondary)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "joined_secondary_follows_wait_primary");
    EXPECT_EQ(goals(d), "2:secondary ");
}

TEST(Rule30_JoinedSecondaryFollowsPrimary, BecomesSecondary) {
    auto g = group({node(1, S::Primary), node(2, S::JoinSecondary), node(3, S::Secondary)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "joined_secondary_follows_primary");
    EXPECT_EQ(d.reason, "a standby of the election follows the primary");
    EXPECT_EQ(goals(d), "2:secondary ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::Secondary, "after " + desc(1) + " converged to primary"));
}

// ---- no rule ----

TEST(RuleNone_NothingMatches, StableSecondaryChangesNothing) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "");
    EXPECT_EQ(d.reason, "");
    EXPECT_TRUE(d.empty());
}

TEST(RuleNone_NothingMatches, NoPrimaryAndNoFailoverIsReported) {
    auto g = group({node(1, S::Demoted), node(2, S::Secondary)});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "");
    EXPECT_TRUE(d.empty());
    EXPECT_TRUE(has_message(d, "has no primary node and no failover in progress")) << all_messages(d);
}

TEST(RuleNames, InEvaluationOrder) {
    auto names = monitor_rule_names();
    ASSERT_EQ(names.size(), 31u);
    EXPECT_EQ(names[0], "dropped_node_is_removed");
    EXPECT_EQ(names[5], "primary_reported");
    EXPECT_EQ(names[6], "primary_lost_with_several_standbys");
    EXPECT_EQ(names[15], "secondary_replaces_unhealthy_primary");
    EXPECT_EQ(names[24], "new_primary_after_old_primary_demoted");
    EXPECT_EQ(names[30], "joined_secondary_follows_primary");
}

}  // namespace
}  // namespace autoctl::fsm::testing

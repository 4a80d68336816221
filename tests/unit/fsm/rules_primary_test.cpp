// The primary's own rules (reference §2.5, P1-P3), run by decide() when the primary reports.

#include "rules_helpers.hpp"

namespace autoctl::fsm::testing {
namespace {

using namespace rules;

TEST(RuleP1_SinglePreparesForStandby, SingleBecomesWaitPrimaryWhenStandbyWaits) {
    auto g = group({node(1, S::Single), node(2, S::WaitStandby)});
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "single_prepares_for_standby");
    EXPECT_EQ(d.reason, "a standby joined the single node");
    EXPECT_EQ(goals(d), "1:wait_primary ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::WaitPrimary, "after " + desc(2) + " joined"));
}

TEST(RuleP1_SinglePreparesForStandby, NotBeforeStandbyReportedWaitStandby) {
    auto g = group({node(1, S::Single), node(2, S::Init, S::WaitStandby)});
    Decision d = decide(g, 1);
    EXPECT_NE(d.rule, "single_prepares_for_standby");
    EXPECT_TRUE(d.empty());
}

TEST(RuleP2a_PrimaryWithAsyncStandbysOnly, WaitPrimaryBecomesPrimaryWithAsyncSecondary) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::Secondary)});
    g.find(2)->replication_quorum = false;
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "primary_with_async_standbys_only");
    EXPECT_EQ(d.reason, "no standby takes part in the replication quorum");
    EXPECT_EQ(goals(d), "1:primary ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Primary, "as its standbys are all asynchronous"));
}

TEST(RuleP2a_PrimaryWithAsyncStandbysOnly, PrimaryBecomesWaitPrimaryWithoutAnySecondary) {
    auto g = group({node(1, S::Primary), node(2, S::CatchingUp), node(3, S::Maintenance)});
    g.find(2)->replication_quorum = false;
    g.find(3)->replication_quorum = false;
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "primary_with_async_standbys_only");
    EXPECT_EQ(goals(d), "1:wait_primary ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::WaitPrimary, "as no standby is a healthy secondary"));
}

TEST(RuleP2a_PrimaryWithAsyncStandbysOnly, AppliesEvenWithNumberSyncStandbys) {
    // Without any quorum standby, number_sync_standbys can not be honoured: writes must not block.
    auto g = group({node(1, S::Primary), node(2, S::CatchingUp)});
    g.formation.number_sync_standbys = 1;
    g.find(2)->replication_quorum = false;
    EXPECT_EQ(goals(decide(g, 1)), "1:wait_primary ");
}

TEST(RuleP2b_PrimaryLostQuorumStandbys, Nss0DegradesToWaitPrimary) {
    auto g = group({node(1, S::Primary), node(2, S::CatchingUp)});
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "primary_lost_quorum_standbys");
    EXPECT_EQ(d.reason,
              "no quorum standby is available and number_sync_standbys is 0: writes continue without synchronous "
              "replication");
    EXPECT_EQ(goals(d), "1:wait_primary ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::WaitPrimary, "as no quorum standby is a healthy secondary"));
}

TEST(RuleP2b_PrimaryLostQuorumStandbys, Nss0CountsOnlyQuorumSecondaries) {
    // An async secondary does not keep synchronous replication on.
    auto g = group({node(1, S::Primary), node(2, S::CatchingUp), node(3, S::Secondary)});
    g.find(3)->replication_quorum = false;
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "primary_lost_quorum_standbys");
    EXPECT_EQ(goals(d), "1:wait_primary ");
}

TEST(RuleP2b_PrimaryLostQuorumStandbys, Nss1StaysPrimarySoWritesBlock) {
    auto g = group({node(1, S::Primary), node(2, S::CatchingUp), node(3, S::CatchingUp)});
    g.formation.number_sync_standbys = 1;
    Decision d = decide(g, 1);
    EXPECT_EQ(goals(d), "") << "durability over availability: the primary stays primary";
    EXPECT_EQ(d.rule, "primary_reported");
    EXPECT_TRUE(d.empty());
}

TEST(RuleP2b_PrimaryLostQuorumStandbys, Nss1LeavesApplySettingsForPrimary) {
    auto g = group({node(1, S::ApplySettings), node(2, S::CatchingUp), node(3, S::CatchingUp)});
    g.formation.number_sync_standbys = 1;
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "primary_lost_quorum_standbys");
    EXPECT_EQ(d.reason, "no quorum standby is available and number_sync_standbys >= 1: writes wait");
    EXPECT_EQ(goals(d), "1:primary ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Primary, "as no quorum standby is a healthy secondary"));
}

TEST(RuleP2c_WaitPrimaryBecomesPrimary, QuorumSecondaryEnablesSyncRep) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::Secondary)});
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "wait_primary_becomes_primary");
    EXPECT_EQ(d.reason, "a quorum standby is a healthy secondary again");
    EXPECT_EQ(goals(d), "1:primary ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Primary, "now that a quorum standby is a healthy secondary"));
}

TEST(RuleP2c_WaitPrimaryBecomesPrimary, NotWithoutQuorumSecondary) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::CatchingUp), node(3, S::Secondary)});
    g.find(3)->replication_quorum = false;
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "primary_reported");
    EXPECT_TRUE(d.empty());
}

TEST(RuleP2d_SettingsApplied, ApplySettingsBackToPrimary) {
    auto g = group({node(1, S::ApplySettings), node(2, S::Secondary), node(3, S::Secondary)});
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "settings_applied");
    EXPECT_EQ(d.reason, "the primary applied the new replication settings");
    EXPECT_EQ(goals(d), "1:primary ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Primary, "after it applied replication settings"));
}

TEST(RuleP2d_SettingsApplied, Nss0WithoutQuorumSecondaryGoesToWaitPrimaryThroughP2b) {
    auto g = group({node(1, S::ApplySettings), node(2, S::CatchingUp)});
    Decision d = decide(g, 1);
    EXPECT_EQ(goals(d), "1:wait_primary ");
    EXPECT_EQ(d.rule, "primary_lost_quorum_standbys") << "P2b comes before P2d";
}

TEST(RuleP2d_SettingsApplied, NothingUntilKeeperReportsApplySettings) {
    auto g = group({node(1, S::Primary, S::ApplySettings), node(2, S::Secondary)});
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "primary_reported");
    EXPECT_TRUE(d.empty());
}

TEST(RuleP3_JoinPrimaryBecomesPrimary, LegacyJoinPrimaryFinishes) {
    auto g = group({node(1, S::JoinPrimary), node(2, S::Secondary)});
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "join_primary_becomes_primary");
    EXPECT_EQ(d.reason, "join_primary is not used any more");
    EXPECT_EQ(goals(d), "1:primary ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::Primary, "after it converged to join_primary"));
}

TEST(RuleP2_UnhealthyStandbyCatchesUp, DeadSecondaryIsDemotedAndPrimaryDegrades) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary)});
    make_dead(g, 2);
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "unhealthy_standby_catches_up");
    EXPECT_EQ(d.reason, "a secondary became unhealthy: it no longer counts until it catches up again");
    EXPECT_EQ(goals(d), "2:catchingup 1:wait_primary ");
    EXPECT_EQ(reason_for(d, 2), sentence(2, S::CatchingUp, "after it became unhealthy"));
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::WaitPrimary, "as no quorum standby is a healthy secondary"));
}

TEST(RuleP2_UnhealthyStandbyCatchesUp, StandbyReportingPostgresDownIsDemotedAtOnce) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary), node(3, S::Secondary)});
    g.find(3)->pg_is_running = false;
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "unhealthy_standby_catches_up");
    EXPECT_EQ(goals(d), "3:catchingup ") << "node 2 is still a quorum secondary: the primary stays primary";
}

TEST(RuleP2_UnhealthyStandbyCatchesUp, Nss1PrimaryStaysPrimary) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary), node(3, S::CatchingUp)});
    g.formation.number_sync_standbys = 1;
    make_dead(g, 2);
    Decision d = decide(g, 1);
    EXPECT_EQ(d.rule, "unhealthy_standby_catches_up");
    EXPECT_EQ(goals(d), "2:catchingup ");
}

TEST(RuleP2_UnhealthyStandbyCatchesUp, NotForStandbyInTheElection) {
    // A node that reported report_lsn (or join_secondary) is not demoted by the primary.
    auto g = group({node(1, S::WaitPrimary), node(2, S::ReportLsn, S::Secondary), node(3, S::Secondary)});
    make_dead(g, 2);
    Decision d = decide(g, 1);
    EXPECT_EQ(d.assignment_for(2), nullptr) << goals(d);
    EXPECT_EQ(d.rule, "wait_primary_becomes_primary");
}

TEST(RuleP2_UnhealthyStandbyCatchesUp, NotForSilentStandbyWithGoodHealthChecks) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary)});
    g.find(2)->report_time = g.now - std::chrono::seconds(60);
    Decision d = decide(g, 1);
    EXPECT_TRUE(d.empty());
    EXPECT_EQ(d.rule, "primary_reported");
}

}  // namespace
}  // namespace autoctl::fsm::testing

// Health and WAL predicates of reference §2.2, and synchronous_standby_names (§2.8).

#include "rules_helpers.hpp"

namespace autoctl::fsm::testing {
namespace {

using namespace rules;

// A node that keeps reporting and whose last health check succeeded.
GroupSnapshot one_node() { return group({node(1, S::Secondary)}); }

TEST(Predicate_IsUnhealthy, NeedsSilenceAndBadCheckAfterGracePeriod) {
    auto g = one_node();
    make_dead(g, 1);  // silent 60 s, health bad, checked 1 s ago, monitor up for an hour
    EXPECT_TRUE(is_unhealthy(g, g.find(1)));
}

TEST(Predicate_IsUnhealthy, SilenceAloneIsNotEnough) {
    auto g = one_node();
    g.find(1)->report_time = g.now - std::chrono::seconds(60);  // silent, but checks still succeed
    EXPECT_FALSE(is_unhealthy(g, g.find(1)));
}

TEST(Predicate_IsUnhealthy, BadCheckAloneIsNotEnough) {
    auto g = one_node();
    g.find(1)->health = Health::Bad;  // keeper still reports
    EXPECT_FALSE(is_unhealthy(g, g.find(1)));
}

TEST(Predicate_IsUnhealthy, SilenceShorterThanTimeoutIsNotEnough) {
    auto g = one_node();
    make_dead(g, 1, g.timing.node_considered_unhealthy_timeout - std::chrono::milliseconds(1));
    EXPECT_FALSE(is_unhealthy(g, g.find(1)));
    make_dead(g, 1, g.timing.node_considered_unhealthy_timeout);
    EXPECT_TRUE(is_unhealthy(g, g.find(1)));
}

TEST(Predicate_IsUnhealthy, NotBeforeStartupGracePeriod) {
    auto g = one_node();
    make_dead(g, 1);
    g.monitor_start = g.now - g.timing.startup_grace_period + std::chrono::seconds(1);
    EXPECT_FALSE(is_unhealthy(g, g.find(1))) << "the monitor has not been up for startup_grace_period";
    g.monitor_start = g.now - g.timing.startup_grace_period;
    EXPECT_TRUE(is_unhealthy(g, g.find(1)));
}

TEST(Predicate_IsUnhealthy, IgnoresHealthCheckFromBeforeMonitorStart) {
    auto g = one_node();
    make_dead(g, 1);
    g.find(1)->health_check_time = g.monitor_start - std::chrono::seconds(1);
    EXPECT_FALSE(is_unhealthy(g, g.find(1)));
}

TEST(Predicate_IsUnhealthy, PostgresNotRunningIsImmediate) {
    auto g = one_node();
    g.find(1)->pg_is_running = false;  // reported just now, health still good
    EXPECT_TRUE(is_unhealthy(g, g.find(1)));
    g.monitor_start = g.now;  // even during the startup grace period
    EXPECT_TRUE(is_unhealthy(g, g.find(1)));
}

TEST(Predicate_IsUnhealthy, MissingNodeIsUnhealthy) {
    auto g = one_node();
    EXPECT_TRUE(is_unhealthy(g, nullptr));
}

TEST(Predicate_IsHealthy, NeedsGoodHealthAndRunningPostgres) {
    auto g = one_node();
    EXPECT_TRUE(is_healthy(g, g.find(1)));
    g.find(1)->health = Health::Unknown;
    EXPECT_FALSE(is_healthy(g, g.find(1))) << "unknown health (no check yet) is not healthy";
    g.find(1)->health = Health::Bad;
    EXPECT_FALSE(is_healthy(g, g.find(1)));
    g.find(1)->health = Health::Good;
    g.find(1)->pg_is_running = false;
    EXPECT_FALSE(is_healthy(g, g.find(1)));
    EXPECT_FALSE(is_healthy(g, nullptr));
}

TEST(Predicate_IsHealthy, ReportingNodeWithBadCheckIsNeitherHealthyNorUnhealthy) {
    auto g = one_node();
    g.find(1)->health = Health::Bad;
    EXPECT_FALSE(is_healthy(g, g.find(1)));
    EXPECT_FALSE(is_unhealthy(g, g.find(1)));
}

TEST(Predicate_IsReporting, WithinUnhealthyTimeout) {
    auto g = one_node();
    EXPECT_TRUE(is_reporting(g, g.find(1)));
    g.find(1)->report_time = g.now - g.timing.node_considered_unhealthy_timeout;
    EXPECT_FALSE(is_reporting(g, g.find(1)));
}

TEST(Predicate_IsDrainTimeExpired, CountsFromDemoteTimeoutAssignment) {
    auto g = group({node(1, S::Primary, S::DemoteTimeout), node(2, S::StopReplication)});
    g.find(1)->state_change_time = g.now - g.timing.primary_demote_timeout + std::chrono::milliseconds(1);
    EXPECT_FALSE(is_drain_time_expired(g, g.find(1)));
    g.find(1)->state_change_time = g.now - g.timing.primary_demote_timeout;
    EXPECT_TRUE(is_drain_time_expired(g, g.find(1)));
    g.find(1)->goal = S::Draining;
    EXPECT_FALSE(is_drain_time_expired(g, g.find(1))) << "only a demote_timeout goal expires";
}

TEST(Predicate_WalDifferenceWithin, BoundsAndUnknownLsn) {
    Node a = node(1, S::Secondary);
    Node b = node(2, S::Primary);
    a.lsn = mb(100);
    b.lsn = mb(116);
    EXPECT_TRUE(wal_difference_within(&a, &b, kWalSegmentSize));
    b.lsn = Lsn{mb(116).value + 1};
    EXPECT_FALSE(wal_difference_within(&a, &b, kWalSegmentSize));
    EXPECT_FALSE(wal_difference_within(&b, &a, kWalSegmentSize)) << "symmetric";
    b.lsn = Lsn{0};
    EXPECT_FALSE(wal_difference_within(&a, &b, kWalSegmentSize)) << "0/0 is unknown";
    EXPECT_TRUE(wal_difference_within(&a, nullptr, kWalSegmentSize)) << "no node: no constraint";
}

TEST(Predicate_PrimaryOrDemotedNode, WritableGoalFirstThenOldPrimaryOnItsWayOut) {
    auto g = group({node(1, S::Primary, S::DemoteTimeout), node(2, S::StopReplication, S::WaitPrimary)});
    EXPECT_EQ(primary_or_demoted_node(g)->id, 2) << "goal wait_primary can take writes";
    g.find(2)->goal = S::StopReplication;
    EXPECT_EQ(primary_or_demoted_node(g)->id, 1) << "reported primary belongs to the primary";
    g.find(1)->reported = S::Demoted;
    g.find(1)->goal = S::Demoted;
    EXPECT_EQ(primary_or_demoted_node(g), nullptr);
}

TEST(Predicate_IsInPrimaryState, ApplySettingsRoundTrip) {
    Node p = node(1, S::Primary, S::ApplySettings);
    EXPECT_TRUE(is_in_primary_state(&p));
    p.reported = S::ApplySettings;
    p.goal = S::Primary;
    EXPECT_TRUE(is_in_primary_state(&p));
    p.goal = S::WaitPrimary;
    EXPECT_FALSE(is_in_primary_state(&p));
    p = node(1, S::Primary, S::Draining);
    EXPECT_FALSE(is_in_primary_state(&p));
}

// ---- synchronous_standby_names (§2.8) ----

TEST(SyncStandbyNames, OneNodeIsEmpty) {
    auto g = group({node(1, S::Single)});
    EXPECT_EQ(synchronous_standby_names(g), "");
}

TEST(SyncStandbyNames, TwoNodesNamesTheQuorumSecondary) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary)});
    EXPECT_EQ(synchronous_standby_names(g), "ANY 1 (pgautofailover_standby_2)");
}

TEST(SyncStandbyNames, TwoNodesEmptyWhenStandbyGoalIsNotSecondary) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::Secondary, S::CatchingUp)});
    EXPECT_EQ(synchronous_standby_names(g), "");
    g.find(2)->goal = S::Secondary;
    g.find(2)->reported = S::CatchingUp;
    EXPECT_EQ(synchronous_standby_names(g), "ANY 1 (pgautofailover_standby_2)")
        << "with 2 nodes only the standby's goal counts";
}

TEST(SyncStandbyNames, TwoNodesEmptyWhenStandbyIsNotQuorum) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary)});
    g.find(2)->replication_quorum = false;
    EXPECT_EQ(synchronous_standby_names(g), "");
}

TEST(SyncStandbyNames, ThreeNodesOrderedByPriorityAnyState) {
    auto g = group({node(1, S::Primary), node(2, S::CatchingUp), node(3, S::Secondary)});
    g.find(2)->candidate_priority = 10;
    g.find(3)->candidate_priority = 90;
    EXPECT_EQ(synchronous_standby_names(g), "ANY 1 (pgautofailover_standby_3, pgautofailover_standby_2)");
}

TEST(SyncStandbyNames, ThreeNodesUsesNumberSyncStandbys) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary), node(3, S::Secondary), node(4, S::Secondary)});
    g.formation.number_sync_standbys = 2;
    EXPECT_EQ(synchronous_standby_names(g),
              "ANY 2 (pgautofailover_standby_2, pgautofailover_standby_3, pgautofailover_standby_4)");
}

TEST(SyncStandbyNames, ThreeNodesLeavesOutNonQuorumStandbys) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary), node(3, S::Secondary)});
    g.find(2)->replication_quorum = false;
    EXPECT_EQ(synchronous_standby_names(g), "ANY 1 (pgautofailover_standby_3)");
    g.find(3)->replication_quorum = false;
    EXPECT_EQ(synchronous_standby_names(g), "") << "no quorum standby at all";
}

TEST(SyncStandbyNames, EmptyWhilePrimaryIsWaitPrimary) {
    auto g = group({node(1, S::WaitPrimary), node(2, S::Secondary), node(3, S::Secondary)});
    EXPECT_EQ(synchronous_standby_names(g), "");
    g.find(1)->goal = S::Primary;  // on its way to primary: sync rep is enabled now
    EXPECT_EQ(synchronous_standby_names(g), "ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)");
}

TEST(SyncStandbyNames, ApplicationNames) { EXPECT_EQ(standby_application_name(42), "pgautofailover_standby_42"); }

}  // namespace
}  // namespace autoctl::fsm::testing

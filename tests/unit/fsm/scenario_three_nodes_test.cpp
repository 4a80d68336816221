// Three-node scenarios: registration (number_sync_standbys bumped to 1 by the second quorum
// standby), the multi-standby election after the primary dies (with and without fast_forward),
// candidate priority 0 in an election, and perform_promotion of a named node.

#include <gtest/gtest.h>

#include "scenario_library.hpp"

namespace autoctl::fsm::testing {
namespace {

using S = NodeState;
using Strings = std::vector<std::string>;

const Strings kThirdNodeJoins = {
    "register_node 3:wait_standby",
    "quorum_standby_joins_primary 3:catchingup 1:apply_settings",
    "settings_applied 1:primary",
    "caught_up_standby_becomes_secondary 3:secondary",
};

TEST(ScenarioThreeNodes, BootstrapBumpsNumberSyncStandbysToOneAtSecondQuorumStandby) {
    Scenario s = three_node_bootstrap();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("joined_2", "bootstrapped"), kThirdNodeJoins) << s.report();

    // register_node() set number_sync_standbys with the third node, not with the second.
    const auto& events = s.sim.events();
    ASSERT_EQ(events[s.index_of("registered_2") - 1].decision.rule, "register_node");
    EXPECT_EQ(events[s.index_of("registered_2") - 1].decision.number_sync_standbys, -1);
    ASSERT_EQ(events[s.index_of("registered_3") - 1].decision.rule, "register_node");
    EXPECT_EQ(events[s.index_of("registered_3") - 1].decision.number_sync_standbys, 1);
    EXPECT_EQ(s.sim.snapshot().formation.number_sync_standbys, 1);
    EXPECT_EQ(synchronous_standby_names(s.sim.snapshot()),
              "ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)");
}

TEST(ScenarioThreeNodes, PrimaryDiesElectionReportLsnThenLoserJoinsThroughJoinSecondary) {
    Scenario s = three_node_primary_dies();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("primary_down", "elected"),
              (Strings{
                  "primary_lost_with_several_standbys 1:draining 2:report_lsn 3:report_lsn",
                  "candidate_elected 2:prepare_promotion",
                  "candidate_stops_replication 2:stop_replication 1:demote_timeout",
                  "standby_joins_elected_primary 3:join_secondary",
                  "new_primary_after_old_primary_demoted 2:wait_primary 1:demoted",
                  "joined_secondary_follows_wait_primary 3:secondary",
                  "wait_primary_becomes_primary 2:primary",
              }))
        << s.report();
    // The old primary comes back: demoted -> catchingup -> secondary (pg_rewind path).
    EXPECT_EQ(s.between("primary_back", "rejoined"),
              (Strings{
                  "demoted_node_rejoins 1:catchingup",
                  "caught_up_standby_becomes_secondary 1:secondary",
              }))
        << s.report();
    EXPECT_EQ(s.sim.goals_of(3),
              (std::vector<S>{S::WaitStandby, S::CatchingUp, S::Secondary, S::ReportLsn, S::JoinSecondary,
                              S::Secondary}));
    EXPECT_EQ(s.sim.snapshot().formation.number_sync_standbys, 1);
}

TEST(ScenarioThreeNodes, LaggingHighestPriorityStandbyFastForwardsBeforePromotion) {
    Scenario s = three_node_lagging_candidate_fast_forwards();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("primary_down", "elected"),
              (Strings{
                  "primary_lost_with_several_standbys 1:draining 2:report_lsn 3:report_lsn",
                  "candidate_elected_needs_fast_forward 2:fast_forward",
                  "fast_forwarded_candidate_prepares_promotion 2:prepare_promotion",
                  "candidate_stops_replication 2:stop_replication 1:demote_timeout",
                  "standby_joins_elected_primary 3:join_secondary",
                  "new_primary_after_old_primary_demoted 2:wait_primary 1:demoted",
                  "joined_secondary_follows_wait_primary 3:secondary",
                  "wait_primary_becomes_primary 2:primary",
              }))
        << s.report();
    EXPECT_EQ(s.sim.at(2).candidate_priority, 90);
    EXPECT_EQ(s.sim.at(2).lsn, s.sim.at(3).lsn);  // it fetched the WAL it missed
}

TEST(ScenarioThreeNodes, MostAdvancedStandbyWithPriorityZeroIsNotElected) {
    Scenario s = three_node_priority_zero_most_advanced();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("primary_down", "elected"),
              (Strings{
                  "primary_lost_with_several_standbys 1:draining 2:report_lsn 3:report_lsn",
                  "candidate_elected_needs_fast_forward 2:fast_forward",
                  "fast_forwarded_candidate_prepares_promotion 2:prepare_promotion",
                  "candidate_stops_replication 2:stop_replication 1:demote_timeout",
                  "standby_joins_elected_primary 3:join_secondary",
                  "new_primary_after_old_primary_demoted 2:wait_primary 1:demoted",
                  "joined_secondary_follows_wait_primary 3:secondary",
                  "wait_primary_becomes_primary 2:primary",
              }))
        << s.report();
    for (auto goal : s.sim.goals_of(3)) {
        EXPECT_NE(goal, S::PreparePromotion);
        EXPECT_NE(goal, S::FastForward);
        EXPECT_FALSE(can_take_writes(goal));
    }
}

// The operator removes the dead old primary while the elected standby is in stop_replication:
// nothing is left to wait for, so the new primary takes writes (the group used to stay stuck with
// a read-only primary).
TEST(ScenarioThreeNodes, OldPrimaryRemovedDuringPromotionDoesNotBlockTheNewPrimary) {
    Scenario s = three_node_old_primary_removed_during_failover();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("remove_node", "elected"),
              (Strings{
                  "new_primary_after_old_primary_demoted 2:wait_primary",
                  "joined_secondary_follows_wait_primary 3:secondary",
                  "wait_primary_becomes_primary 2:primary",
              }))
        << s.report();
    EXPECT_EQ(s.sim.snapshot().find(1), nullptr);
    EXPECT_LT(s.time_of("elected") - s.time_of("remove_node"), s.sim.snapshot().timing.primary_demote_timeout);
}

TEST(ScenarioThreeNodes, PerformPromotionOfNamedNodeWithoutDemoteTimeout) {
    Scenario s = three_node_perform_promotion();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("bootstrapped", "promoted"),
              (Strings{
                  "perform_promotion 1:draining",
                  "primary_lost_with_several_standbys 1:report_lsn 2:report_lsn 3:report_lsn",
                  "candidate_elected 3:prepare_promotion",
                  "candidate_promoted_without_primary 3:wait_primary",
                  "standby_joins_elected_primary 1:join_secondary",
                  "standby_joins_elected_primary 2:join_secondary",
                  "joined_secondary_follows_wait_primary 1:secondary",
                  "joined_secondary_follows_wait_primary 2:secondary",
                  "wait_primary_becomes_primary 3:primary",
              }))
        << s.report();
    // The +101 boost and the old primary's -101 penalty are stored, then undone at the election.
    const Decision& request = s.sim.events()[s.index_of("bootstrapped")].decision;
    ASSERT_EQ(request.priority_changes.size(), 2u);
    EXPECT_EQ(request.priority_changes[0].node_id, 3);
    EXPECT_EQ(request.priority_changes[0].candidate_priority, 151);
    EXPECT_EQ(request.priority_changes[1].node_id, 1);
    EXPECT_EQ(request.priority_changes[1].candidate_priority, -51);
    for (std::int64_t id = 1; id <= 3; ++id) EXPECT_EQ(s.sim.at(id).candidate_priority, 50) << id;
    // The old primary never went through demoted (no pg_rewind): draining -> report_lsn -> join_secondary.
    EXPECT_EQ(s.sim.goals_of(1), (std::vector<S>{S::Single, S::WaitPrimary, S::Primary, S::ApplySettings,
                                                 S::Primary, S::Draining, S::ReportLsn, S::JoinSecondary,
                                                 S::Secondary}));
}

TEST(ScenarioThreeNodes, PerformPromotionOfPrimaryIsANoticeAndUnknownNodeIsRefused) {
    Scenario s = three_node_bootstrap();
    ASSERT_TRUE(s.ok()) << s.report();
    auto already = perform_promotion(s.sim.snapshot(), "node_1");
    EXPECT_TRUE(already.accepted);
    EXPECT_TRUE(already.decision.empty());
    ASSERT_EQ(already.notices.size(), 1u);
    EXPECT_FALSE(perform_promotion(s.sim.snapshot(), "node_9").accepted);
}

}  // namespace
}  // namespace autoctl::fsm::testing

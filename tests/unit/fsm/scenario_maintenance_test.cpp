// Maintenance scenarios: the primary (which fails over to its standby first) and a secondary
// (through wait_maintenance when it is the only synchronous standby, directly otherwise).

#include <gtest/gtest.h>

#include "scenario_library.hpp"

namespace autoctl::fsm::testing {
namespace {

using S = NodeState;
using Strings = std::vector<std::string>;

TEST(ScenarioMaintenance, PrimaryFailsOverThenRejoinsThroughCatchingUp) {
    Scenario s = primary_maintenance_two_nodes();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("bootstrapped", "in_maintenance"),
              (Strings{
                  "start_maintenance 1:prepare_maintenance 2:prepare_promotion",
                  "candidate_promoted_for_primary_maintenance 2:stop_replication",
                  "new_primary_after_primary_maintenance 2:wait_primary 1:maintenance",
              }))
        << s.report();
    EXPECT_EQ(s.between("stop_maintenance", "back"),
              (Strings{
                  "caught_up_standby_becomes_secondary 1:secondary",
                  "wait_primary_becomes_primary 2:primary",
              }))
        << s.report();
    EXPECT_EQ(s.between("in_maintenance", "stop_maintenance"), (Strings{"stop_maintenance 1:catchingup"}));
}

TEST(ScenarioMaintenance, PrimaryOfThreeNodesStopsThenStandbysElectANewPrimary) {
    Scenario s = primary_maintenance_three_nodes();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("bootstrapped", "in_maintenance"),
              (Strings{
                  "start_maintenance 1:prepare_maintenance",
                  "primary_lost_with_several_standbys 1:maintenance 2:report_lsn 3:report_lsn",
                  "candidate_elected 2:prepare_promotion",
                  "candidate_promoted_without_primary 2:wait_primary",
                  "standby_joins_elected_primary 3:join_secondary",
                  "joined_secondary_follows_wait_primary 3:secondary",
                  "wait_primary_becomes_primary 2:primary",
              }))
        << s.report();
    EXPECT_EQ(s.between("in_maintenance", "back"),
              (Strings{"stop_maintenance 1:catchingup", "caught_up_standby_becomes_secondary 1:secondary"}))
        << s.report();
}

// Whichever node reports first, the primary ends in maintenance. Citus workers used to lose the
// maintenance request here: rule 19 demoted the primary when the candidate reported first.
TEST(ScenarioMaintenance, PrimaryMaintenanceWhenTheCandidateReportsFirst) {
    for (auto kind : {FormationKind::Pgsql, FormationKind::Citus}) {
        Scenario s = primary_maintenance_candidate_reports_first(kind);
        ASSERT_TRUE(s.ok()) << s.report();
        EXPECT_EQ(s.between("switched", "in_maintenance"),
                  (Strings{
                      "start_maintenance 2:prepare_maintenance 1:prepare_promotion",
                      "candidate_promoted_for_primary_maintenance 1:stop_replication",
                      "new_primary_after_primary_maintenance 1:wait_primary 2:maintenance",
                  }))
            << s.report();
        for (auto goal : s.goals_after(2, "start_maintenance")) EXPECT_NE(goal, S::Demoted) << s.report();
    }
}

TEST(ScenarioMaintenance, PrimaryMaintenanceNeedsAllowFailoverAndACandidate) {
    Scenario s = two_node_bootstrap();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_FALSE(start_maintenance(s.sim.snapshot(), 1, /*allow_failover=*/false).accepted);
    Scenario zero("prio0", empty_group());
    bootstrap(zero, 2, {50, 0});
    ASSERT_TRUE(zero.ok()) << zero.report();
    EXPECT_FALSE(start_maintenance(zero.sim.snapshot(), 1, true).accepted);
}

TEST(ScenarioMaintenance, OnlySyncStandbyGoesThroughWaitMaintenanceWithNssZero) {
    Scenario s = standby_maintenance_two_nodes();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.sim.snapshot().formation.number_sync_standbys, 0);
    EXPECT_EQ(s.between("bootstrapped", "in_maintenance"),
              (Strings{
                  "start_maintenance 1:wait_primary 2:wait_maintenance",
                  "standby_enters_maintenance_after_wait_primary 2:maintenance",
              }))
        << s.report();
    EXPECT_EQ(s.between("in_maintenance", "back"),
              (Strings{
                  "stop_maintenance 2:catchingup",
                  "caught_up_standby_becomes_secondary 2:secondary",
                  "wait_primary_becomes_primary 1:primary",
              }))
        << s.report();
}

TEST(ScenarioMaintenance, StandbyGoesDirectlyToMaintenanceWhenAnotherSyncStandbyRemains) {
    Scenario s = standby_maintenance_three_nodes();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("bootstrapped", "maintenance_stable"), (Strings{"start_maintenance 3:maintenance"}))
        << s.report();
    EXPECT_EQ(s.between("maintenance_stable", "back"),
              (Strings{
                  "stop_maintenance 3:catchingup",
                  "caught_up_standby_becomes_secondary 3:secondary",
              }))
        << s.report();
    // The primary never left primary: node 2 kept acknowledging commits.
    EXPECT_EQ(s.goals_after(1, "bootstrapped"), std::vector<S>{}) << s.report();
    EXPECT_TRUE(s.state_is(1, S::Primary));
}

}  // namespace
}  // namespace autoctl::fsm::testing

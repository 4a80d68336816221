// Citus scenarios. A worker group (group > 0) fails over without stop_replication: the
// coordinator's prepared citus_update_node blocks writes, so prepare_promotion goes straight to
// wait_primary and the old primary to demoted. The coordinator's group (group 0) fails over like a
// pgsql group.

#include <gtest/gtest.h>

#include "scenario_library.hpp"

namespace autoctl::fsm::testing {
namespace {

using S = NodeState;
using Strings = std::vector<std::string>;

TEST(ScenarioCitus, WorkersRegisterIntoGroupOne) {
    Scenario s = citus_worker_failover();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.sim.snapshot().formation.kind, FormationKind::Citus);
    for (const auto& n : s.sim.snapshot().nodes) EXPECT_EQ(n.group, 1) << describe(n);
    EXPECT_EQ(s.sim.at(1).name, "worker1a");
    EXPECT_EQ(s.sim.at(2).name, "worker1b");
}

TEST(ScenarioCitus, WorkerFailoverSkipsStopReplication) {
    Scenario s = citus_worker_failover();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("primary_down", "new_primary_writable"),
              (Strings{
                  "secondary_replaces_unhealthy_primary 2:prepare_promotion 1:draining",
                  "citus_worker_promoted_at_once 2:wait_primary 1:demoted",
              }))
        << s.report();
    EXPECT_EQ(s.between("primary_back", "rejoined"),
              (Strings{
                  "demoted_node_rejoins 1:catchingup",
                  "caught_up_standby_becomes_secondary 1:secondary",
                  "wait_primary_becomes_primary 2:primary",
              }))
        << s.report();
    for (const auto& t : s.sim.transitions()) {
        EXPECT_NE(t.to, S::StopReplication);
        EXPECT_NE(t.to, S::DemoteTimeout);
    }
}

TEST(ScenarioCitus, WorkerSwitchoverSkipsStopReplication) {
    Scenario s = citus_worker_switchover();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("bootstrapped", "switched"),
              (Strings{
                  "perform_failover 1:draining 2:prepare_promotion",
                  "citus_worker_promoted_at_once 2:wait_primary 1:demoted",
                  "demoted_node_rejoins 1:catchingup",
                  "caught_up_standby_becomes_secondary 1:secondary",
                  "wait_primary_becomes_primary 2:primary",
              }))
        << s.report();
}

TEST(ScenarioCitus, CoordinatorFailoverGoesThroughStopReplication) {
    Scenario s = citus_coordinator_failover();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.sim.at(1).name, "coord0a");
    EXPECT_EQ(s.between("primary_down", "new_primary_writable"),
              (Strings{
                  "secondary_replaces_unhealthy_primary 2:prepare_promotion 1:draining",
                  "candidate_stops_replication 2:stop_replication 1:demote_timeout",
                  "new_primary_after_old_primary_demoted 2:wait_primary 1:demoted",
              }))
        << s.report();
}

}  // namespace
}  // namespace autoctl::fsm::testing

// number_sync_standbys scenarios: changing it goes through apply_settings; when every quorum
// standby dies, 1 keeps the primary in primary (writes block) and 0 lets it go wait_primary.

#include <gtest/gtest.h>

#include "scenario_library.hpp"

namespace autoctl::fsm::testing {
namespace {

using S = NodeState;
using Strings = std::vector<std::string>;

TEST(ScenarioSyncStandbys, SettingNumberSyncStandbysGoesThroughApplySettings) {
    Scenario s = nss_changes_three_nodes();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("bootstrapped", "applied_0"),
              (Strings{"set_number_sync_standbys 1:apply_settings", "settings_applied 1:primary"}))
        << s.report();
    EXPECT_EQ(s.between("applied_0", "applied_1"),
              (Strings{"set_number_sync_standbys 1:apply_settings", "settings_applied 1:primary"}))
        << s.report();
    const auto& events = s.sim.events();
    EXPECT_EQ(events[s.index_of("bootstrapped")].decision.number_sync_standbys, 0);
    EXPECT_EQ(events[s.index_of("applied_0")].decision.number_sync_standbys, 1);
    EXPECT_EQ(s.sim.snapshot().formation.number_sync_standbys, 1);
    EXPECT_EQ(synchronous_standby_names(s.sim.snapshot()),
              "ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)");
}

TEST(ScenarioSyncStandbys, NumberSyncStandbysNeedsOneMoreQuorumStandby) {
    Scenario s = three_node_bootstrap();
    ASSERT_TRUE(s.ok()) << s.report();
    auto two = set_number_sync_standbys(s.sim.snapshot(), 2);
    EXPECT_FALSE(two.accepted);
    EXPECT_NE(two.refusal.message.find("at least 3 quorum standbys"), std::string::npos) << two.refusal.message;
    // Until the primary applied the previous change, it is not in a stable state.
    s.request("set_nss_0", set_number_sync_standbys(s.sim.snapshot(), 0));
    ASSERT_EQ(s.sim.at(1).goal, S::ApplySettings) << s.report();
    EXPECT_FALSE(set_number_sync_standbys(s.sim.snapshot(), 1).accepted);
}

TEST(ScenarioSyncStandbys, WithNssOneBothStandbysDeadPrimaryStaysPrimaryAndWritesBlock) {
    Scenario s = both_standbys_die(1);
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("standbys_down", "standbys_back"),
              (Strings{"unhealthy_standby_catches_up 2:catchingup 3:catchingup"}))
        << s.report();
    EXPECT_EQ(s.between("standbys_back", "rejoined"),
              (Strings{
                  "caught_up_standby_becomes_secondary 2:secondary",
                  "caught_up_standby_becomes_secondary 3:secondary",
              }))
        << s.report();
    EXPECT_EQ(s.goals_after(1, "standbys_down"), std::vector<S>{}) << s.report();

    // In the middle of the outage: still primary, synchronous_standby_names still names the dead standbys.
    Scenario mid("mid_outage", empty_group());
    bootstrap(mid, 3);
    mid.sim.set_up(2, false);
    mid.sim.set_up(3, false);
    mid.sim.run_ticks(20);
    EXPECT_TRUE(mid.state_is(1, S::Primary)) << mid.report();
    EXPECT_EQ(synchronous_standby_names(mid.sim.snapshot()),
              "ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)");
}

TEST(ScenarioSyncStandbys, WithNssZeroBothStandbysDeadPrimaryGoesWaitPrimary) {
    Scenario s = both_standbys_die(0);
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("standbys_down", "standbys_back"),
              (Strings{"unhealthy_standby_catches_up 2:catchingup 3:catchingup 1:wait_primary"}))
        << s.report();
    EXPECT_EQ(s.between("standbys_back", "rejoined"),
              (Strings{
                  "caught_up_standby_becomes_secondary 2:secondary",
                  "caught_up_standby_becomes_secondary 3:secondary",
                  "wait_primary_becomes_primary 1:primary",
              }))
        << s.report();

    Scenario mid("mid_outage", empty_group());
    bootstrap(mid, 3);
    mid.request("set_nss_0", set_number_sync_standbys(mid.sim.snapshot(), 0));
    mid.until("applied", [&] { return mid.state_is(1, S::Primary); });
    mid.sim.set_up(2, false);
    mid.sim.set_up(3, false);
    mid.sim.run_ticks(20);
    ASSERT_TRUE(mid.ok()) << mid.report();
    EXPECT_TRUE(mid.state_is(1, S::WaitPrimary)) << mid.report();
    EXPECT_EQ(synchronous_standby_names(mid.sim.snapshot()), "");
}

}  // namespace
}  // namespace autoctl::fsm::testing

// Two-node scenarios of reference §8, driven through GroupSim with a fake clock: bootstrap,
// switchover, the primary's host dying and coming back, the standby dying and coming back, and a
// standby with candidate priority 0. Each test asserts the rules that fired, with their goals, in
// order (see scenario_library.hpp for the stories and summary() for the format).

#include <gtest/gtest.h>

#include "scenario_library.hpp"

namespace autoctl::fsm::testing {
namespace {

using S = NodeState;
using Strings = std::vector<std::string>;

const Decision* find_event(const Scenario& s, const std::string& rule, const std::string& after_mark = "") {
    for (std::size_t i = after_mark.empty() ? 0 : s.index_of(after_mark); i < s.sim.events().size(); ++i)
        if (s.sim.events()[i].decision.rule == rule) return &s.sim.events()[i].decision;
    return nullptr;
}

const Strings kBootstrap = {
    "register_node 1:single",
    "register_node 2:wait_standby",
    "single_prepares_for_standby 1:wait_primary",
    "standby_catches_up_with_wait_primary 2:catchingup",
    "caught_up_standby_becomes_secondary 2:secondary",
    "wait_primary_becomes_primary 1:primary",
};

TEST(ScenarioTwoNodes, BootstrapSingleThenWaitPrimaryThenPrimary) {
    Scenario s = two_node_bootstrap();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("", "bootstrapped"), kBootstrap) << s.report();
    EXPECT_EQ(s.sim.goals_of(1), (std::vector<S>{S::Single, S::WaitPrimary, S::Primary}));
    EXPECT_EQ(s.sim.goals_of(2), (std::vector<S>{S::WaitStandby, S::CatchingUp, S::Secondary}));
    EXPECT_EQ(s.sim.snapshot().formation.number_sync_standbys, 0);
    EXPECT_EQ(synchronous_standby_names(s.sim.snapshot()), "ANY 1 (pgautofailover_standby_2)");
}

TEST(ScenarioTwoNodes, SwitchoverThroughDemoteTimeoutAndRewind) {
    Scenario s = two_node_switchover();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("bootstrapped", "switched"),
              (Strings{
                  "perform_failover 1:draining 2:prepare_promotion",
                  "candidate_stops_replication 2:stop_replication 1:demote_timeout",
                  "new_primary_after_old_primary_demoted 2:wait_primary 1:demoted",
                  "demoted_node_rejoins 1:catchingup",
                  "caught_up_standby_becomes_secondary 1:secondary",
                  "wait_primary_becomes_primary 2:primary",
              }))
        << s.report();
    // The old primary was alive: it reported demote_timeout, which released the new primary.
    const Decision* released = find_event(s, "new_primary_after_old_primary_demoted");
    ASSERT_NE(released, nullptr);
    EXPECT_EQ(released->reason, "the old primary reported that it stopped");
    EXPECT_EQ(synchronous_standby_names(s.sim.snapshot()), "ANY 1 (pgautofailover_standby_1)");
}

TEST(ScenarioTwoNodes, PrimaryHostDiesStandbyTakesOverOldPrimaryRejoinsThroughDemoted) {
    Scenario s = two_node_primary_dies();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("primary_down", "new_primary_writable"),
              (Strings{
                  "secondary_replaces_unhealthy_primary 2:prepare_promotion 1:draining",
                  "candidate_stops_replication 2:stop_replication 1:demote_timeout",
                  "new_primary_after_old_primary_demoted 2:wait_primary 1:demoted",
              }))
        << s.report();
    // While the old primary is away nothing changes: wait_primary, no synchronous standby.
    EXPECT_EQ(s.between("new_primary_writable", "primary_back"), Strings{}) << s.report();
    EXPECT_EQ(s.between("primary_back", "rejoined"),
              (Strings{
                  "demoted_node_rejoins 1:catchingup",
                  "caught_up_standby_becomes_secondary 1:secondary",
                  "wait_primary_becomes_primary 2:primary",
              }))
        << s.report();
    // The old primary's keeper went primary -> demoted -> catchingup -> secondary.
    std::vector<S> keeper_path;
    for (const auto& t : s.sim.transitions())
        if (t.by_keeper && t.node_id == 1 && t.at >= s.time_of("primary_back")) keeper_path.push_back(t.to);
    EXPECT_EQ(keeper_path, (std::vector<S>{S::Demoted, S::CatchingUp, S::Secondary}));
    // Unhealthy only after node_considered_unhealthy_timeout of silence.
    const auto& events = s.sim.events();
    const auto promoted_at = events[s.index_of("primary_down")].at;
    EXPECT_GE(promoted_at - s.time_of("primary_down"), s.sim.snapshot().timing.node_considered_unhealthy_timeout);
}

TEST(ScenarioTwoNodes, WhilePrimaryIsDownNewPrimaryStaysWaitPrimaryWithoutSyncStandby) {
    Scenario mid("mid_outage", empty_group());
    bootstrap(mid, 2);
    mid.sim.set_up(1, false);
    mid.sim.run_ticks(30);
    EXPECT_TRUE(mid.state_is(2, S::WaitPrimary));
    EXPECT_EQ(mid.sim.at(1).goal, S::Demoted);
    EXPECT_EQ(mid.sim.at(1).reported, S::Primary);
    EXPECT_EQ(synchronous_standby_names(mid.sim.snapshot()), "");
}

// autoctl's rule 24 releases the new primary as soon as the old primary can no longer acknowledge
// a commit (its only quorum standby stopped replicating from it). With an asynchronous standby the
// old primary had no synchronous replication, so only primary_demote_timeout protects the writes
// it may still accept: that is pg_auto_failover's behaviour, and it is slower.
TEST(ScenarioTwoNodes, UnplannedFailoverIsFasterWhenOldPrimaryCannotAcknowledgeCommits) {
    Scenario fast = two_node_primary_dies(/*quorum_standby=*/true);
    Scenario drain = two_node_primary_dies(/*quorum_standby=*/false);
    ASSERT_TRUE(fast.ok()) << fast.report();
    ASSERT_TRUE(drain.ok()) << drain.report();

    const Decision* fast_release = find_event(fast, "new_primary_after_old_primary_demoted", "primary_down");
    const Decision* drain_release = find_event(drain, "new_primary_after_old_primary_demoted", "primary_down");
    ASSERT_NE(fast_release, nullptr);
    ASSERT_NE(drain_release, nullptr);
    EXPECT_NE(fast_release->reason.find("can no longer acknowledge a commit"), std::string::npos)
        << fast_release->reason;
    EXPECT_NE(drain_release->reason.find("primary_demote_timeout"), std::string::npos) << drain_release->reason;

    // Same steps in both cases...
    EXPECT_EQ(fast.between("primary_down", "new_primary_writable"), drain.between("primary_down", "new_primary_writable"));
    // ...but writes resume sooner with autoctl's rule.
    const auto fast_outage = fast.time_of("new_primary_writable") - fast.time_of("primary_down");
    const auto drain_outage = drain.time_of("new_primary_writable") - drain.time_of("primary_down");
    EXPECT_LT(fast_outage, drain_outage);
    EXPECT_LT(fast_outage, fast.sim.snapshot().timing.node_considered_unhealthy_timeout +
                               fast.sim.snapshot().timing.primary_demote_timeout);
    EXPECT_GE(drain_outage, drain.sim.snapshot().timing.node_considered_unhealthy_timeout +
                                drain.sim.snapshot().timing.primary_demote_timeout);
}

TEST(ScenarioTwoNodes, StandbyDiesPrimaryGoesWaitPrimaryThenBackToPrimary) {
    Scenario s = two_node_standby_dies();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("standby_down", "primary_alone"),
              (Strings{"unhealthy_standby_catches_up 2:catchingup 1:wait_primary"}))
        << s.report();
    EXPECT_EQ(s.between("primary_alone", "standby_back"), Strings{}) << s.report();
    EXPECT_EQ(s.between("standby_back", "rejoined"),
              (Strings{
                  "caught_up_standby_becomes_secondary 2:secondary",
                  "wait_primary_becomes_primary 1:primary",
              }))
        << s.report();
    EXPECT_EQ(synchronous_standby_names(s.sim.snapshot()), "ANY 1 (pgautofailover_standby_2)");
}

TEST(ScenarioTwoNodes, StandbyWithCandidatePriorityZeroIsNeverPromoted) {
    Scenario s = priority_zero_standby_primary_dies();
    ASSERT_TRUE(s.ok()) << s.report();
    EXPECT_EQ(s.between("", "bootstrapped"), kBootstrap) << s.report();
    // A minute without a primary: nothing is assigned, the standby stays secondary.
    EXPECT_EQ(s.between("primary_down"), Strings{}) << s.report();
    EXPECT_TRUE(s.state_is(2, S::Secondary));
    EXPECT_TRUE(s.state_is(1, S::Primary));
    EXPECT_EQ(s.sim.at(2).candidate_priority, 0);
    // perform_failover refuses to promote it.
    auto refused = perform_failover(s.sim.snapshot());
    EXPECT_FALSE(refused.accepted);
    EXPECT_NE(refused.refusal.message.find("candidate priority 0"), std::string::npos) << refused.refusal.message;
}

}  // namespace
}  // namespace autoctl::fsm::testing

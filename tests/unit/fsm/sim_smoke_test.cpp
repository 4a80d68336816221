#include <gtest/gtest.h>

#include "fsm_test_support.hpp"

namespace autoctl::fsm::testing {

using S = NodeState;

TEST(GroupSimSmoke, TwoNodesBootstrapThenFailover) {
    auto g = group({node(1, S::Init, S::Single)});
    g.nodes[0].goal = S::Single;
    GroupSim sim(g);
    ASSERT_TRUE(sim.run_until([&](const GroupSnapshot&) { return sim.state_is(1, S::Single); }));

    Node standby = node(2, S::Init, S::WaitStandby, sim.now());
    sim.snapshot().nodes.push_back(standby);
    sim.set_up(2, true);
    ASSERT_TRUE(sim.run_until([&](const GroupSnapshot&) {
        return sim.state_is(1, S::Primary) && sim.state_is(2, S::Secondary);
    }));

    sim.set_up(1, false);
    ASSERT_TRUE(sim.run_until([&](const GroupSnapshot&) { return sim.state_is(2, S::WaitPrimary); }, 60));
    EXPECT_EQ(sim.at(1).goal, S::Demoted);
}

}  // namespace autoctl::fsm::testing

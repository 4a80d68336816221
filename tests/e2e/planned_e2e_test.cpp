// Planned changes of a running formation, end to end: perform failover (twice, with a writer
// that must lose no acknowledged insert), perform promotion of a chosen node, maintenance of a
// secondary and of the primary, candidate priority 0, and number-sync-standbys. See
// formation_fixture.hpp.

#include <gtest/gtest.h>

#include <iostream>
#include <set>

#include "formation_fixture.hpp"

namespace autoctl::e2e {
namespace {

using namespace std::chrono_literals;

class PlannedE2E : public testing::Test {
protected:
    void SetUp() override { AUTOCTL_REQUIRE_POSTGRES(); }
};

TEST_F(PlannedE2E, FailoverAndBackLoseNoAcknowledgedWrite) {
    Formation f(2);
    Writer writer(f.formation_uri());
    writer.start();
    ASSERT_TRUE(writer.wait_for_writes(20, 30s)) << writer.summary();

    for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{{"node1", "node2"}, {"node2", "node1"}}) {
        const auto start = std::chrono::steady_clock::now();
        const auto result = f.autoctl({"perform", "failover"});
        ASSERT_EQ(result.exit_status, 0) << result.err << f.describe();
        ASSERT_TRUE(f.wait_settled({{to, "primary"}, {from, "secondary"}}, 60s)) << f.describe();
        std::cerr << "perform failover " << from << " -> " << to << ": settled in " << elapsed_ms(start) << " ms\n";
        EXPECT_TRUE(writable(f.node(to)));
        EXPECT_FALSE(writable(f.node(from)));
        ASSERT_TRUE(writer.wait_for_writes(20, 30s)) << writer.summary();
    }
    writer.stop();
    expect_no_write_lost(writer, f.node("node1"));
    // The old primary was rewound: it streams from the new one on the new timeline.
    EXPECT_EQ(f.node("node1").sql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0].text(0), "1");
}

TEST_F(PlannedE2E, PromotionOfAChosenNode) {
    Formation f(3);
    const auto start = std::chrono::steady_clock::now();
    auto result = f.autoctl({"perform", "promotion", "--name", "node3"});
    ASSERT_EQ(result.exit_status, 0) << result.err << f.describe();
    ASSERT_TRUE(f.wait_settled({{"node3", "primary"}, {"node1", "secondary"}, {"node2", "secondary"}}, 60s))
        << f.describe();
    std::cerr << "perform promotion of node3: settled in " << elapsed_ms(start) << " ms\n";
    EXPECT_TRUE(writable(f.node("node3")));
    EXPECT_FALSE(writable(f.node("node1")));
    EXPECT_EQ(f.node("node3").sql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0].text(0), "2");

    // Promoting the primary again changes nothing.
    result = f.autoctl({"perform", "promotion", "--name", "node3"});
    EXPECT_EQ(result.exit_status, 0) << result.err;
    EXPECT_TRUE(contains(result.err, "already the primary")) << result.err;
    EXPECT_EQ(f.primary().value_or("none"), "node3");
}

TEST_F(PlannedE2E, MaintenanceOfASecondaryAndOfThePrimary) {
    Formation f(2);
    Writer writer(f.formation_uri());
    writer.start();
    ASSERT_TRUE(writer.wait_for_writes(10, 30s)) << writer.summary();
    auto& n1 = f.node("node1");
    auto& n2 = f.node("node2");

    // The secondary: the primary keeps taking writes without it.
    auto result = n2.autoctl({"enable", "maintenance", "--pgdata", n2.pgdata().string()});
    ASSERT_EQ(result.exit_status, 0) << result.err << f.describe();
    ASSERT_TRUE(f.wait_settled({{"node2", "maintenance"}, {"node1", "wait_primary"}}, 30s)) << f.describe();
    ASSERT_TRUE(writer.wait_for_writes(10, 30s)) << writer.summary();
    result = n2.autoctl({"disable", "maintenance", "--pgdata", n2.pgdata().string()});
    ASSERT_EQ(result.exit_status, 0) << result.err << f.describe();
    ASSERT_TRUE(f.wait_settled({{"node1", "primary"}, {"node2", "secondary"}}, 60s)) << f.describe();

    // The primary: refused without --allow-failover, a failover with it.
    result = n1.autoctl({"enable", "maintenance", "--pgdata", n1.pgdata().string()});
    EXPECT_EQ(result.exit_status, 1) << result.err;
    EXPECT_TRUE(contains(result.err, "--allow-failover")) << result.err;
    EXPECT_TRUE(f.wait_settled({{"node1", "primary"}, {"node2", "secondary"}}, 1s)) << f.describe();

    result = n1.autoctl({"enable", "maintenance", "--pgdata", n1.pgdata().string(), "--allow-failover"});
    ASSERT_EQ(result.exit_status, 0) << result.err << f.describe();
    ASSERT_TRUE(f.wait_settled({{"node1", "maintenance"}, {"node2", "wait_primary"}}, 60s)) << f.describe();
    EXPECT_TRUE(writable(n2));
    ASSERT_TRUE(writer.wait_for_writes(10, 30s)) << writer.summary();

    result = n1.autoctl({"disable", "maintenance", "--pgdata", n1.pgdata().string()});
    ASSERT_EQ(result.exit_status, 0) << result.err << f.describe();
    ASSERT_TRUE(f.wait_settled({{"node2", "primary"}, {"node1", "secondary"}}, 60s)) << f.describe();
    ASSERT_TRUE(writer.wait_for_writes(10, 30s)) << writer.summary();
    writer.stop();
    expect_no_write_lost(writer, n2);
}

TEST_F(PlannedE2E, CandidatePriorityZeroIsNeverPromoted) {
    Formation f(3);
    auto result = f.autoctl({"set", "node", "candidate-priority", "--name", "node2", "0"});
    ASSERT_EQ(result.exit_status, 0) << result.err << f.describe();
    ASSERT_TRUE(f.wait_for(
        [](const std::vector<NodeRow>& rows) {
            for (const auto& row : rows) {
                if (row.name == "node2") return row.candidate_priority == 0;
            }
            return false;
        },
        10s))
        << f.describe();
    ASSERT_TRUE(f.wait_primary_and_secondaries(60s)) << f.describe();

    // Fail over, and watch node2's goal all along: it is never asked to become a primary.
    static const std::set<std::string> promoting = {"prepare_promotion", "stop_replication", "wait_primary",
                                                    "primary", "single"};
    std::set<std::string> node2_goals;
    result = f.autoctl({"perform", "failover", "--wait", "0"});
    ASSERT_EQ(result.exit_status, 0) << result.err << f.describe();
    const bool settled = f.wait_for(
        [&](const std::vector<NodeRow>& rows) {
            bool done = true;
            for (const auto& row : rows) {
                if (row.name == "node2") node2_goals.insert(row.goal);
                const std::string want = row.name == "node3" ? "primary" : "secondary";
                done = done && row.settled_in(want);
            }
            return done;
        },
        60s);
    ASSERT_TRUE(settled) << f.describe();
    for (const auto& goal : node2_goals) EXPECT_EQ(promoting.count(goal), 0u) << "node2 was assigned " << goal;

    // And perform promotion of node2 is refused: it may not become a primary.
    result = f.autoctl({"perform", "promotion", "--name", "node2", "--wait", "10"});
    EXPECT_NE(result.exit_status, 0) << result.err;
    EXPECT_EQ(f.primary().value_or("none"), "node3") << f.describe();
}

TEST_F(PlannedE2E, NumberSyncStandbysIsAppliedOnThePrimary) {
    // number_sync_standbys N needs N + 1 quorum standbys: 4 nodes to see it move from 1 to 2.
    Formation f(4);
    auto& primary = f.node("node1");
    const auto names_on_primary = [&] { return primary.sql("SHOW synchronous_standby_names")[0].text(0); };
    const std::string all = "pgautofailover_standby_2, pgautofailover_standby_3, pgautofailover_standby_4";
    EXPECT_EQ(names_on_primary(), "ANY 1 (" + all + ")");

    for (const int nss : {2, 1}) {
        const auto start = std::chrono::steady_clock::now();
        auto result = f.autoctl({"set", "formation", "number-sync-standbys", std::to_string(nss)});
        ASSERT_EQ(result.exit_status, 0) << result.err << f.describe();
        const std::string expected = "ANY " + std::to_string(nss) + " (" + all + ")";
        EXPECT_TRUE(wait_until([&] { return names_on_primary() == expected; }, 30s)) << names_on_primary();
        std::cerr << "number-sync-standbys " << nss << " applied in " << elapsed_ms(start) << " ms\n";
        ASSERT_TRUE(f.wait_primary_and_secondaries(30s)) << f.describe();
        result = f.autoctl({"get", "formation", "number-sync-standbys"});
        EXPECT_EQ(result.exit_status, 0) << result.err;
        EXPECT_TRUE(contains(result.out, std::to_string(nss))) << result.out;
    }

    // 3 would need 4 quorum standbys: refused, nothing changes.
    auto result = f.autoctl({"set", "formation", "number-sync-standbys", "3"});
    EXPECT_EQ(result.exit_status, 6) << result.err;
    EXPECT_EQ(names_on_primary(), "ANY 1 (" + all + ")");
    EXPECT_TRUE(primary.sql("SELECT 1").size() == 1);
    primary.sql("CREATE TABLE e2e_sync AS SELECT 1 AS x");  // commits: one standby acknowledges
}

}  // namespace
}  // namespace autoctl::e2e

// Failures of a running formation, end to end: kill -9 of every process of the primary, the loss
// of the primary's pg_control (the Citus tutorial's crash), the death of the standby, and a
// primary cut off from the monitor and the standby. A writer inserts through the formation's
// multi-host URI all along and no acknowledged insert may be lost. See formation_fixture.hpp.

#include <gtest/gtest.h>

#include <iostream>

#include "autoctl/pg/pg_ctl.hpp"
#include "formation_fixture.hpp"

namespace autoctl::e2e {
namespace {

using namespace std::chrono_literals;

class UnplannedE2E : public testing::Test {
protected:
    void SetUp() override { AUTOCTL_REQUIRE_POSTGRES(); }
};

TEST_F(UnplannedE2E, KillOfThePrimaryFailsOverAndTheOldPrimaryRejoins) {
    Formation f(2);
    Writer writer(f.formation_uri());
    writer.start();
    ASSERT_TRUE(writer.wait_for_writes(20, 30s)) << writer.summary();

    auto& n1 = f.node("node1");
    const auto killed = n1.kill_everything();
    const auto start = std::chrono::steady_clock::now();
    ASSERT_GE(killed.size(), 3u) << "the supervisor, the keeper and the postmaster";
    EXPECT_FALSE(n1.any_process_alive());

    ASSERT_TRUE(wait_until([&] { return writable(f.node("node2")); }, 60s)) << f.describe();
    std::cerr << "node2 writable " << elapsed_ms(start) << " ms after kill -9 of node1\n";
    ASSERT_TRUE(f.wait_settled({{"node2", "wait_primary"}}, 30s)) << f.describe();
    ASSERT_TRUE(writer.wait_for_writes(20, 30s)) << writer.summary();
    std::cerr << "writes resumed " << elapsed_ms(start) << " ms after the kill\n";

    // The old primary, run again, rejoins as a standby of the new one.
    const auto rejoin = std::chrono::steady_clock::now();
    f.run_node("node1");
    ASSERT_TRUE(f.wait_settled({{"node2", "primary"}, {"node1", "secondary"}}, 90s)) << f.describe();
    std::cerr << "node1 secondary " << elapsed_ms(rejoin) << " ms after autoctl run\n";
    EXPECT_FALSE(writable(n1));
    ASSERT_TRUE(writer.wait_for_writes(20, 30s)) << writer.summary();
    writer.stop();
    expect_no_write_lost(writer, f.node("node2"));
    EXPECT_TRUE(wait_until([&] { return writer.missing_on(n1).empty(); }, 30s)) << "node1 caught up";
}

TEST_F(UnplannedE2E, LostPgControlFailsOverAndTheNodeHealsItself) {
    Formation f(2);
    Writer writer(f.formation_uri());
    writer.start();
    ASSERT_TRUE(writer.wait_for_writes(20, 30s)) << writer.summary();

    auto& n1 = f.node("node1");
    const auto supervisor = n1.pid_file_processes();
    ASSERT_FALSE(supervisor.empty());
    // The tutorial's crash: pg_control gone, then an immediate stop. The controller fails to
    // start Postgres again; the keeper reports it down after its retries.
    fs::remove(n1.pgdata() / "global" / "pg_control");
    pg::PgCtl(pg::find_bindir(), fixture::TestUser::get().run_as()).stop(n1.pgdata(), pg::StopMode::Immediate, 30s);
    const auto start = std::chrono::steady_clock::now();

    ASSERT_TRUE(wait_until([&] { return writable(f.node("node2")); }, 90s)) << f.describe();
    std::cerr << "node2 writable " << elapsed_ms(start) << " ms after the crash of node1\n";
    ASSERT_TRUE(writer.wait_for_writes(20, 30s)) << writer.summary();

    // node1 heals without help: a fresh copy of node2, then a standby.
    ASSERT_TRUE(f.wait_settled({{"node2", "primary"}, {"node1", "secondary"}}, 120s)) << f.describe();
    std::cerr << "node1 secondary again " << elapsed_ms(start) << " ms after the crash\n";
    EXPECT_TRUE(fs::exists(n1.pgdata() / "global" / "pg_control"));
    EXPECT_TRUE(process_alive(supervisor.front())) << "autoctl was not restarted";
    EXPECT_EQ(n1.pid_file_processes().front(), supervisor.front());
    EXPECT_TRUE(contains(n1.log(), "pg_basebackup")) << "a fresh copy";
    // The keeper kept reporting while Postgres failed to start (it did not block on a start),
    // and reported it down after its retries.
    EXPECT_TRUE(contains(n1.log(), "reporting it down to the monitor")) << n1.log();
    EXPECT_FALSE(contains(n1.log(), "did not accept connections within")) << n1.log();
    ASSERT_TRUE(writer.wait_for_writes(20, 30s)) << writer.summary();
    writer.stop();
    expect_no_write_lost(writer, f.node("node2"));
    EXPECT_TRUE(wait_until([&] { return writer.missing_on(n1).empty(); }, 30s)) << "node1 caught up";
}

TEST_F(UnplannedE2E, StandbyDiesWritesContinueAndItCatchesUp) {
    Formation f(2);
    Writer writer(f.formation_uri());
    writer.start();
    ASSERT_TRUE(writer.wait_for_writes(20, 30s)) << writer.summary();

    auto& n2 = f.node("node2");
    const auto supervisor = n2.pid_file_processes();
    ASSERT_FALSE(supervisor.empty());
    auto result = n2.autoctl({"stop", "--pgdata", n2.pgdata().string()});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const auto start = std::chrono::steady_clock::now();
    ASSERT_TRUE(wait_until([&] { return !n2.any_process_alive(); }, 30s));

    ASSERT_TRUE(f.wait_settled({{"node1", "wait_primary"}}, 60s)) << f.describe();
    std::cerr << "node1 wait_primary " << elapsed_ms(start) << " ms after the standby stopped\n";
    EXPECT_EQ(f.node("node1").sql("SHOW synchronous_standby_names")[0].text(0), "");
    ASSERT_TRUE(writer.wait_for_writes(50, 30s)) << writer.summary();
    const auto written_while_away = writer.acknowledged_count();

    const auto back = std::chrono::steady_clock::now();
    f.run_node("node2");
    ASSERT_TRUE(f.wait_settled({{"node1", "primary"}, {"node2", "secondary"}}, 90s)) << f.describe();
    std::cerr << "node2 secondary " << elapsed_ms(back) << " ms after autoctl run\n";
    EXPECT_EQ(f.node("node1").sql("SHOW synchronous_standby_names")[0].text(0), "ANY 1 (pgautofailover_standby_2)");
    ASSERT_TRUE(writer.wait_for_writes(20, 30s)) << writer.summary();
    writer.stop();
    expect_no_write_lost(writer, f.node("node1"));
    EXPECT_GT(writer.acknowledged_count(), written_while_away);
    EXPECT_TRUE(wait_until([&] { return writer.missing_on(n2).empty(); }, 30s)) << "node2 caught up";
}

TEST_F(UnplannedE2E, PrimaryCutOffFromMonitorAndStandbyStopsTakingWrites) {
    Formation f(2);
    auto& n1 = f.node("node1");
    ASSERT_TRUE(writable(n1));
    // The partition as node1 sees it: neither the monitor nor the standby answers any more.
    auto& monitor = f.monitor();
    auto result = monitor.autoctl({"stop", "--pgdata", monitor.pgdata().string()});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    auto& n2 = f.node("node2");
    result = n2.autoctl({"stop", "--pgdata", n2.pgdata().string()});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const auto cut = std::chrono::steady_clock::now();
    ASSERT_TRUE(wait_until([&] { return !n2.any_process_alive() && !monitor.any_process_alive(); }, 30s));

    ASSERT_TRUE(wait_until([&] { return !writable(n1); }, 30s)) << n1.log();
    const auto fenced_after = elapsed_ms(cut);
    std::cerr << "node1 stopped taking writes " << fenced_after << " ms after losing the monitor and the standby "
              << "(network_partition_timeout 5 s)\n";
    EXPECT_GE(fenced_after, 3000) << "not before network_partition_timeout";
    EXPECT_TRUE(contains(n1.log(), "demote_timeout")) << n1.log();
    EXPECT_TRUE(wait_until([&] { return !live_postmaster(n1.pgdata()); }, 30s)) << "Postgres is stopped";
    // It stays stopped: the keeper keeps it down while nobody confirms it is the primary.
    EXPECT_FALSE(wait_until([&] { return writable(n1); }, 3s));
}

}  // namespace
}  // namespace autoctl::e2e

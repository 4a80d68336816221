// The operator commands of the built autoctl binary (perform failover|promotion, enable|disable
// maintenance, set node|formation, drop node) against a real monitor database with a running
// monitor service (tests/integration/monitor/monitor_fixture.hpp). Keepers are played through
// the SQL API: an ObedientKeepers thread reports, for every node, the state the monitor assigns,
// as well-behaved keepers would. autoctl runs as the unprivileged test user, from a copy of the
// binary in the cluster's directory. Waits are on conditions, never fixed sleeps.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "autoctl/pg/command.hpp"
#include "monitor_fixture.hpp"

#ifndef AUTOCTL_BINARY
#error "AUTOCTL_BINARY must name the autoctl executable"
#endif

namespace autoctl::testing {
namespace {

namespace fs = std::filesystem;
using fixture::TestUser;

// Reports, for every node of group 0, the state the monitor assigns, every 50 ms, in its own
// thread and connection; Postgres is "stopped" in the states where a keeper stops it.
class ObedientKeepers {
public:
    explicit ObedientKeepers(const std::string& conninfo) : thread_([this, conninfo] { run(conninfo); }) {}
    ~ObedientKeepers() {
        stop_ = true;
        thread_.join();
    }

private:
    void run(const std::string& conninfo) {
        KeeperPlayer p(conninfo);
        int tli = 1;
        while (!stop_) {
            std::vector<std::int64_t> ids;
            {
                pqxx::nontransaction tx(p.connection());
                for (const auto& row : tx.exec("SELECT nodeid FROM pgautofailover.node ORDER BY nodeid"))
                    ids.push_back(row[0].as<std::int64_t>());
            }
            for (const auto id : ids) {
                try {
                    const std::string goal = p.goal(id);
                    if (goal == "stop_replication") tli = 2;  // a promotion starts a new timeline
                    static const std::set<std::string> stopped = {"draining", "demote_timeout", "demoted",
                                                                  "maintenance", "dropped"};
                    static const std::set<std::string> writers = {"primary", "apply_settings", "wait_primary",
                                                                  "join_primary"};
                    p.report(id, goal, "0/3000000", stopped.count(goal) == 0, tli, writers.count(goal) ? "quorum" : "");
                } catch (const std::exception&) {
                    // the node was removed meanwhile
                }
            }
            std::this_thread::sleep_for(50ms);
        }
    }

    std::atomic<bool> stop_{false};
    std::thread thread_;
};

class OperatorCliTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!pg::try_find_bindir()) GTEST_SKIP() << "PostgreSQL is not installed";
        db_ = std::make_unique<MonitorDatabase>();
        service_ = std::make_unique<RunningMonitorService>(db_->owner_conninfo(), false);
        player_ = std::make_unique<KeeperPlayer>(db_->node_conninfo());
        binary_ = dir() / "autoctl";
        fs::copy_file(AUTOCTL_BINARY, binary_, fs::copy_options::overwrite_existing);
        ::chmod(binary_.c_str(), 0755);
        fixture::chown_to_test_user(binary_);
        ASSERT_TRUE(wait_for([&] {
            pqxx::nontransaction tx(player_->connection());
            return tx.exec("SELECT pgautofailover.monitor_service_is_running()")[0][0].as<bool>();
        }));
    }

    void TearDown() override {
        keepers_.reset();
        service_.reset();
    }

    const fs::path& dir() { return db_->cluster().dir(); }

    std::string monitor_uri() {
        return "postgres://autoctl_node@127.0.0.1:" + std::to_string(db_->cluster().port()) + "/pg_auto_failover";
    }

    pg::Command command(const std::vector<std::string>& args) {
        pg::Command c(binary_.string());
        c.args(args);
        c.clear_env()
            .env("PATH", "/usr/lib/postgresql/15/bin:/usr/bin:/bin")
            .env("HOME", dir().string())
            .env("LANG", "C")
            .env("PG_AUTOCTL_MONITOR", monitor_uri())
            .cwd(dir())
            .timeout(std::chrono::seconds(60));
        if (TestUser::get().run_as()) c.run_as(*TestUser::get().run_as());
        return c;
    }

    pg::CommandResult autoctl(const std::vector<std::string>& args) { return command(args).run_unchecked(); }

    // Two nodes up to primary/secondary (as monitor_service_test's bootstrap).
    std::pair<Registered, Registered> two_nodes() {
        auto& p = *player_;
        Registered a = p.register_node("127.0.0.1", 6001);
        p.set_sysid(a.id);
        p.report(a.id, "single");
        Registered b = p.register_node("127.0.0.1", 6002);
        db_->admin_exec("UPDATE pgautofailover.node SET health = 1, healthchecktime = now()");
        p.report(b.id, "wait_standby");
        EXPECT_TRUE(p.report_until_goal(a.id, "single", "wait_primary"));
        p.report(a.id, "wait_primary");
        EXPECT_TRUE(p.report_until_goal(b.id, "wait_standby", "catchingup"));
        p.set_sysid(b.id);
        EXPECT_TRUE(p.report_until_goal(b.id, "catchingup", "secondary"));
        p.report(b.id, "secondary");
        EXPECT_TRUE(p.report_until_goal(a.id, "wait_primary", "primary"));
        p.report(a.id, "primary", "0/3000000", true, 1, "quorum");
        return {a, b};
    }

    void start_keepers() { keepers_ = std::make_unique<ObedientKeepers>(db_->node_conninfo()); }

    std::string state_of(std::int64_t id) {
        pqxx::nontransaction tx(player_->connection());
        auto r = tx.exec_params("SELECT reportedstate::text || '/' || goalstate::text FROM pgautofailover.node "
                                "WHERE nodeid = $1",
                                id);
        return r.empty() ? "gone" : r[0][0].as<std::string>();
    }

    // A keeper node's configuration, as autoctl create postgres would write it; returns PGDATA.
    fs::path keeper_config(const std::string& name, int port) {
        const fs::path pgdata = dir() / name;
        fs::create_directories(pgdata);
        fixture::chown_to_test_user(pgdata);
        const fs::path config = dir() / ".config/autoctl" / pgdata.relative_path() / "autoctl.cfg";
        fs::create_directories(config.parent_path());
        std::ofstream(config) << "[pg_autoctl]\nrole = keeper\nmonitor = " << monitor_uri()
                              << "\nformation = default\ngroup = 0\nname = " << name
                              << "\nhostname = 127.0.0.1\n\n[postgresql]\npgdata = " << pgdata.string()
                              << "\nport = " << port << "\n\n[timeout]\nlisten_notifications_timeout = 20\n";
        for (fs::path p = config; p != dir(); p = p.parent_path()) fixture::chown_to_test_user(p);
        return pgdata;
    }

    std::unique_ptr<MonitorDatabase> db_;
    std::unique_ptr<RunningMonitorService> service_;
    std::unique_ptr<KeeperPlayer> player_;
    std::unique_ptr<ObedientKeepers> keepers_;
    fs::path binary_;
};

TEST_F(OperatorCliTest, PerformFailoverPrintsNotificationsUntilTheNewPrimary) {
    auto [a, b] = two_nodes();
    start_keepers();
    const auto result = autoctl({"perform", "failover", "--wait", "30"});
    ASSERT_EQ(result.exit_status, 0) << result.out << result.err;
    EXPECT_NE(result.err.find("Listening monitor notifications about state changes in formation \"default\" and "
                              "group 0"),
              std::string::npos)
        << result.err;
    EXPECT_EQ(result.out.rfind("    Time |   Name |  Node |      Host:Port |       Current State |      Assigned State\n"
                               "---------+--------+-------+----------------+---------------------+--------------------\n",
                               0),
              0u)
        << result.out;
    EXPECT_NE(result.out.find(" | node_2 |     2 | 127.0.0.1:6002 |           secondary |   prepare_promotion\n"),
              std::string::npos)
        << result.out;
    EXPECT_NE(result.out.find(" | node_2 |     2 | 127.0.0.1:6002 |             primary |             primary\n"),
              std::string::npos)
        << result.out;
    EXPECT_EQ(state_of(b.id), "primary/primary");
    EXPECT_TRUE(wait_for([&] { return state_of(a.id) == "secondary/secondary"; }));
}

TEST_F(OperatorCliTest, PerformFailoverTimesOutWhenTheKeepersDoNotFollow) {
    two_nodes();  // no keepers follow the new assignments
    const auto result = autoctl({"perform", "switchover", "--wait", "2"});
    EXPECT_EQ(result.exit_status, 6) << result.out << result.err;
    EXPECT_NE(result.err.find("Failed to wait until a new primary has been notified: not reached within 2 s"),
              std::string::npos)
        << result.err;
    EXPECT_NE(result.out.find("primary |            draining\n"), std::string::npos) << result.out;
    EXPECT_LT(result.elapsed, std::chrono::seconds(20));
}

TEST_F(OperatorCliTest, PerformFailoverRefusedWithOneNode) {
    Registered a = player_->register_node("127.0.0.1", 6001);
    player_->set_sysid(a.id);
    player_->report(a.id, "single");
    const auto result = autoctl({"perform", "failover"});
    EXPECT_EQ(result.exit_status, 6) << result.out << result.err;
    EXPECT_NE(result.err.find("cannot fail over: group 0 of formation \"default\" has only 1 node"), std::string::npos)
        << result.err;
}

TEST_F(OperatorCliTest, PerformPromotionOfTheStandby) {
    auto [a, b] = two_nodes();
    start_keepers();
    const auto result = autoctl({"perform", "promotion", "--name", b.name, "--wait", "30"});
    ASSERT_EQ(result.exit_status, 0) << result.out << result.err;
    EXPECT_EQ(state_of(b.id), "primary/primary");

    const auto again = autoctl({"perform", "promotion", "--name", b.name});
    EXPECT_EQ(again.exit_status, 0) << again.err;
    EXPECT_NE(again.err.find("is already the primary"), std::string::npos) << again.err;

    const auto unknown = autoctl({"perform", "promotion", "--name", "nope"});
    EXPECT_EQ(unknown.exit_status, 1) << unknown.err;
}

TEST_F(OperatorCliTest, SetAndGetCandidatePriority) {
    auto [a, b] = two_nodes();
    start_keepers();
    const auto set = autoctl({"set", "node", "candidate-priority", "--name", b.name, "90"});
    ASSERT_EQ(set.exit_status, 0) << set.out << set.err;
    EXPECT_GE(set.out.size(), 3u);
    EXPECT_EQ(set.out.substr(set.out.size() - 3), "90\n") << set.out;
    EXPECT_NE(set.out.find("apply_settings"), std::string::npos) << set.out;

    const auto get = autoctl({"get", "node", "candidate-priority", "--name", b.name});
    ASSERT_EQ(get.exit_status, 0) << get.err;
    EXPECT_EQ(get.out, "90\n");

    const auto json = autoctl({"set", "node", "candidate-priority", "--name", b.name, "--json", "80"});
    ASSERT_EQ(json.exit_status, 0) << json.err;
    EXPECT_EQ(nlohmann::json::parse(json.out), nlohmann::json::parse(R"({"candidate-priority": 80})"));

    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"set", "node", "candidate-priority", "--name", b.name, "101"},
          std::vector<std::string>{"set", "node", "candidate-priority", "--name", b.name, "--", "-1"}}) {
        const auto bad = autoctl(args);
        EXPECT_EQ(bad.exit_status, 1) << bad.err;
        EXPECT_NE(bad.err.find("candidate-priority value " + args.back() +
                               " is not valid. Valid values are integers from 0 to 100."),
                  std::string::npos)
            << bad.err;
    }
    const auto quorum = autoctl({"set", "node", "replication-quorum", "--name", b.name, "maybe"});
    EXPECT_EQ(quorum.exit_status, 1) << quorum.err;
    EXPECT_NE(quorum.err.find("replication-quorum value maybe is not valid."), std::string::npos) << quorum.err;
    EXPECT_EQ(autoctl({"get", "node", "candidate-priority", "--name", b.name}).out, "80\n");
}

TEST_F(OperatorCliTest, SetNumberSyncStandbys) {
    two_nodes();
    start_keepers();
    const auto set = autoctl({"set", "formation", "number-sync-standbys", "0"});
    ASSERT_EQ(set.exit_status, 0) << set.out << set.err;
    EXPECT_EQ(set.out.substr(set.out.size() - 2), "0\n") << set.out;
    EXPECT_NE(set.err.find("primary node has now set synchronous_standby_names = '"), std::string::npos) << set.err;

    // One standby cannot make two copies of each commit: the monitor refuses.
    const auto refused = autoctl({"set", "formation", "number-sync-standbys", "1"});
    EXPECT_EQ(refused.exit_status, 6) << refused.err;
    EXPECT_NE(refused.err.find("cannot set number_sync_standbys to 1"), std::string::npos) << refused.err;

    const auto bad = autoctl({"set", "formation", "number-sync-standbys", "--", "-1"});
    EXPECT_EQ(bad.exit_status, 1) << bad.err;
    EXPECT_NE(bad.err.find("number-sync-standbys value -1 is not valid. Expected a non-negative integer value."),
              std::string::npos)
        << bad.err;
    EXPECT_EQ(autoctl({"get", "formation", "number-sync-standbys"}).out, "0\n");
}

TEST_F(OperatorCliTest, MaintenanceOfTheStandbyAndRefusalOnThePrimary) {
    auto [a, b] = two_nodes();
    const fs::path primary_pgdata = keeper_config(a.name, 6001);
    const fs::path standby_pgdata = keeper_config(b.name, 6002);

    const auto refused = autoctl({"enable", "maintenance", "--pgdata", primary_pgdata.string()});
    EXPECT_EQ(refused.exit_status, 1) << refused.err;
    EXPECT_NE(refused.err.find("Enabling maintenance on a primary causes a failover"), std::string::npos) << refused.err;
    EXPECT_NE(refused.err.find("Please use --allow-failover to allow the command proceed"), std::string::npos)
        << refused.err;
    EXPECT_EQ(state_of(a.id), "primary/primary");

    start_keepers();
    const auto on = autoctl({"enable", "maintenance", "--pgdata", standby_pgdata.string()});
    ASSERT_EQ(on.exit_status, 0) << on.out << on.err;
    EXPECT_EQ(state_of(b.id), "maintenance/maintenance");
    EXPECT_NE(on.out.find("maintenance |         maintenance\n"), std::string::npos) << on.out;

    const auto off = autoctl({"disable", "maintenance", "--pgdata", standby_pgdata.string()});
    ASSERT_EQ(off.exit_status, 0) << off.out << off.err;
    EXPECT_EQ(state_of(b.id), "secondary/secondary");

    // Not in maintenance any more: the monitor refuses.
    const auto again = autoctl({"disable", "maintenance", "--pgdata", standby_pgdata.string()});
    EXPECT_EQ(again.exit_status, 6) << again.err;
    EXPECT_NE(again.err.find("is not in maintenance"), std::string::npos) << again.err;
}

TEST_F(OperatorCliTest, DropNodeThroughTheMonitor) {
    auto [a, b] = two_nodes();
    start_keepers();
    // The standby's keeper reports "dropped", then the monitor removes the row.
    const auto dropped = autoctl({"drop", "node", "--name", b.name, "--wait", "30"});
    ASSERT_EQ(dropped.exit_status, 0) << dropped.out << dropped.err;
    EXPECT_EQ(state_of(b.id), "gone");
    EXPECT_TRUE(wait_for([&] { return state_of(a.id) == "single/single"; })) << state_of(a.id);

    const auto unknown = autoctl({"drop", "node", "--hostname", "127.0.0.1", "--pgport", "6009"});
    EXPECT_EQ(unknown.exit_status, 6) << unknown.err;
    EXPECT_NE(unknown.err.find("couldn't find node with hostname \"127.0.0.1\" and port 6009"), std::string::npos)
        << unknown.err;

    const auto destroy = autoctl({"drop", "node", "--hostname", "127.0.0.1", "--pgport", "6001", "--destroy"});
    EXPECT_EQ(destroy.exit_status, 1) << destroy.err;
    EXPECT_EQ(state_of(a.id), "single/single");
}

TEST_F(OperatorCliTest, DropNodeForceRemovesAtOnce) {
    auto [a, b] = two_nodes();  // no keeper would ever report "dropped"
    const auto dropped = autoctl({"drop", "node", "--hostname", "127.0.0.1", "--pgport", "6002", "--force"});
    ASSERT_EQ(dropped.exit_status, 0) << dropped.out << dropped.err;
    EXPECT_EQ(state_of(b.id), "gone");
}

TEST_F(OperatorCliTest, DropThisNodeWithDestroy) {
    auto [a, b] = two_nodes();
    const fs::path pgdata = keeper_config(b.name, 6002);
    std::ofstream(pgdata / "PG_VERSION") << "15\n";  // not a real cluster: nothing runs there
    const auto dropped = autoctl({"drop", "node", "--pgdata", pgdata.string(), "--destroy", "--wait", "1"});
    ASSERT_EQ(dropped.exit_status, 0) << dropped.out << dropped.err;
    EXPECT_EQ(state_of(b.id), "gone");
    EXPECT_FALSE(fs::exists(pgdata));
    EXPECT_FALSE(fs::exists(dir() / ".config/autoctl" / pgdata.relative_path() / "autoctl.cfg"));
}

}  // namespace
}  // namespace autoctl::testing

// The monitor commands of the built autoctl binary (show, get, create|drop formation) against a
// real monitor database: a PgCluster with the roles autoctl and autoctl_node, the database
// pg_auto_failover owned by autoctl, and sql/monitor/*.sql applied as autoctl. No monitor
// service runs, so the nodes keep the goals register_node() gave them. autoctl runs as the
// unprivileged test user, from a copy of the binary in the cluster's directory.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "autoctl/pg/command.hpp"
#include "autoctl/pg/connection.hpp"
#include "support/pg_cluster.hpp"

#ifndef AUTOCTL_BINARY
#error "AUTOCTL_BINARY must name the autoctl executable"
#endif
#ifndef AUTOCTL_SOURCE_DIR
#error "AUTOCTL_SOURCE_DIR must name the source tree (for sql/monitor)"
#endif

namespace autoctl {
namespace {

namespace fs = std::filesystem;
using fixture::PgCluster;
using fixture::TestUser;

const std::string kOddName = "a'b;\"\xC3\xA9";  // a'b;"é: quotes, a semicolon, non-ASCII

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::size_t count_lines(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// A TCP port on 127.0.0.1 where nothing listens.
int closed_port() { return fixture::free_port(); }

class MonitorCliTest : public testing::Test {
protected:
    static void SetUpTestSuite() {
        if (!pg::try_find_bindir()) return;
        cluster_ = std::make_unique<PgCluster>();
        auto admin = cluster_->connect();
        admin.exec("CREATE ROLE autoctl LOGIN");
        admin.exec("CREATE ROLE autoctl_node LOGIN");
        admin.exec("CREATE DATABASE pg_auto_failover OWNER autoctl");

        // The monitor schema: sql/monitor/NNNN_*.sql in name order, in one transaction, as the owner.
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(fs::path(AUTOCTL_SOURCE_DIR) / "sql/monitor")) {
            const auto name = entry.path().filename().string();
            const bool numbered = name.size() > 5 && name[4] == '_' &&
                                  std::all_of(name.begin(), name.begin() + 4, [](char c) { return c >= '0' && c <= '9'; });
            if (numbered && entry.path().extension() == ".sql") files.push_back(entry.path());
        }
        std::sort(files.begin(), files.end());
        ASSERT_FALSE(files.empty());
        pg::Connection owner(conninfo("autoctl"));
        owner.transaction([&](pg::Transaction& tx) {
            for (const auto& file : files) tx.exec(read_text(file));
        });

        // Two nodes, registered as keepers do.
        pg::Connection node(conninfo("autoctl_node"));
        node.exec_params("SELECT * FROM pgautofailover.register_node($1, $2, $3, $4, $5)", "default", "localhost",
                         5501, "postgres", "node1");
        node.exec_params("SELECT * FROM pgautofailover.register_node($1, $2, $3, $4, $5)", "default", "localhost",
                         5502, "postgres", kOddName);

        // The binary, where the test user can run it (the build tree may be private to root).
        binary_ = cluster_->dir() / "autoctl";
        fs::copy_file(AUTOCTL_BINARY, binary_, fs::copy_options::overwrite_existing);
        ::chmod(binary_.c_str(), 0755);
        fixture::chown_to_test_user(binary_);
    }

    static void TearDownTestSuite() { cluster_.reset(); }

    void SetUp() override {
        if (!cluster_) GTEST_SKIP() << "PostgreSQL is not installed";
    }

    static pg::ConnInfo conninfo(const std::string& user) {
        auto info = cluster_->conninfo("pg_auto_failover");
        info.set_user(user);
        return info;
    }

    static std::string monitor_uri() {
        return "postgres://autoctl_node@127.0.0.1:" + std::to_string(cluster_->port()) + "/pg_auto_failover";
    }

    // Runs autoctl as the test user with a clean environment.
    static pg::CommandResult autoctl(const std::vector<std::string>& args, bool with_monitor = true) {
        pg::Command command(binary_.string());
        command.args(args);
        if (with_monitor) command.arg("--monitor", monitor_uri());
        command.clear_env()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", cluster_->dir().string())
            .env("LANG", "C")
            .cwd(cluster_->dir())
            .timeout(std::chrono::seconds(30));
        if (TestUser::get().run_as()) command.run_as(*TestUser::get().run_as());
        return command.run_unchecked();
    }

    static std::unique_ptr<PgCluster> cluster_;
    static fs::path binary_;
};

std::unique_ptr<PgCluster> MonitorCliTest::cluster_;
fs::path MonitorCliTest::binary_;

TEST_F(MonitorCliTest, ShowState) {
    const auto result = autoctl({"show", "state"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.err, "");
    EXPECT_EQ(result.out,
              "  Name |  Node |      Host:Port |  TLI: LSN |   Connection |      Reported State |      Assigned State\n"
              "-------+-------+----------------+-----------+--------------+---------------------+--------------------\n"
              " node1 |     1 | localhost:5501 |    1: 0/0 |       none ? |                init |              single\n" +
                  kOddName +
                  " |     2 | localhost:5502 |    1: 0/0 |       none ? |                init |        wait_standby\n"
                  "\n");
}

TEST_F(MonitorCliTest, ShowStateHealthMarkerAndGroup) {
    pg::Connection admin(cluster_->conninfo("pg_auto_failover"));
    admin.exec("UPDATE pgautofailover.node SET health = 0 WHERE nodeid = 1");
    auto result = autoctl({"show", "state", "--group", "0"});
    admin.exec("UPDATE pgautofailover.node SET health = -1 WHERE nodeid = 1");
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_NE(result.out.find("\n node1 |     1 | localhost:5501 |    1: 0/0 |       none ! |"), std::string::npos)
        << result.out;

    result = autoctl({"show", "state", "--group", "1"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(count_lines(result.out), 3u) << result.out;  // header, separator, empty line
}

TEST_F(MonitorCliTest, ShowStateJson) {
    const auto result = autoctl({"show", "state", "--json"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    ASSERT_TRUE(json.is_array());
    ASSERT_EQ(json.size(), 2u);
    EXPECT_EQ(json[0].at("nodename"), "node1");
    EXPECT_EQ(json[1].at("nodename"), kOddName);
    EXPECT_EQ(json[1].at("health"), -1);
    EXPECT_EQ(json[1].at("assigned_group_state"), "wait_standby");
    // jsonb_pretty: 4-space indentation, shorter keys first.
    EXPECT_EQ(result.out.rfind("[\n    {\n        \"health\": -1,\n        \"node_id\": 1,\n", 0), 0u) << result.out;
}

TEST_F(MonitorCliTest, ShowUri) {
    const auto result = autoctl({"show", "uri"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.out,
              "        Type |    Name | Connection String\n"
              "-------------+---------+-------------------------------\n"
              "     monitor | monitor | " + monitor_uri() + "\n" +
                  "   formation | default | postgres://localhost:5501,localhost:5502/postgres?"
                  "target_session_attrs=read-write&sslmode=prefer\n"
                  "\n");

    auto single = autoctl({"show", "uri", "--formation", "default"});
    ASSERT_EQ(single.exit_status, 0) << single.err;
    EXPECT_EQ(single.out,
              "postgres://localhost:5501,localhost:5502/postgres?target_session_attrs=read-write&sslmode=prefer\n");

    auto json = autoctl({"show", "uri", "--json"});
    ASSERT_EQ(json.exit_status, 0) << json.err;
    const auto rows = nlohmann::json::parse(json.out);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].at("type"), "monitor");
    EXPECT_EQ(rows[1].at("name"), "default");
}

TEST_F(MonitorCliTest, ShowEvents) {
    const auto result = autoctl({"show", "events", "--count", "5"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.out.rfind("                    Event Time |   Node |       Current State |      Assigned State "
                               "| Comment\n"
                               "-------------------------------+--------+---------------------+---------------------+"
                               "-----------\n",
                               0),
              0u)
        << result.out;
    EXPECT_EQ(count_lines(result.out), 5u) << result.out;  // header, separator, 2 events, empty line
    EXPECT_NE(result.out.find(" |    0/1 |                init |              single | Setting goal state of node 1 "
                              "\"node1\""),
              std::string::npos)
        << result.out;
    EXPECT_NE(result.out.find(" |    0/2 |                init |        wait_standby | Setting goal state of node 2 \"" +
                              kOddName + "\""),
              std::string::npos)
        << result.out;

    const auto one = autoctl({"show", "events", "--count", "1", "--json"});
    ASSERT_EQ(one.exit_status, 0) << one.err;
    const auto json = nlohmann::json::parse(one.out);
    ASSERT_EQ(json.size(), 1u);
    EXPECT_EQ(json[0].at("nodename"), kOddName);
}

TEST_F(MonitorCliTest, ShowSettingsAndGetters) {
    auto result = autoctl({"show", "settings"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const std::string expected =
        "  Context |    Name |                   Setting | Value\n"
        "----------+---------+---------------------------+------\n"
        "formation | default |      number_sync_standbys | 0    \n"
        "  primary |   node1 | synchronous_standby_names | ''   \n"
        "     node |   node1 |        candidate priority | 100  \n"
        "     node |  " + kOddName + " |        candidate priority | 100  \n"
        "     node |   node1 |        replication quorum | true \n"
        "     node |  " + kOddName + " |        replication quorum | true \n"
        "\n";
    EXPECT_EQ(result.out, expected);
    result = autoctl({"get", "formation", "settings"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.out, expected);

    result = autoctl({"show", "settings", "--json"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_EQ(json.at("formation").size(), 1u);
    EXPECT_EQ(json.at("primary").size(), 1u);
    EXPECT_EQ(json.at("nodes").size(), 4u);

    result = autoctl({"show", "standby-names"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.out, "''\n");
    result = autoctl({"show", "standby-names", "--group", "0", "--json"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(nlohmann::json::parse(result.out).at("synchronous_standby_names"), "");

    result = autoctl({"get", "formation", "number-sync-standbys"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.out, "0\n");
    result = autoctl({"get", "node", "candidate-priority", "--name", kOddName});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.out, "100\n");
    result = autoctl({"get", "node", "replication-quorum", "--name", kOddName, "--json"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(nlohmann::json::parse(result.out), (nlohmann::json{{"name", kOddName}, {"replication-quorum", true}}));
}

TEST_F(MonitorCliTest, CreateShowAndDropFormation) {
    auto result = autoctl({"create", "formation", "--formation", "f2", "--kind", "pgsql"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.out, "");
    EXPECT_NE(result.err.find(" INFO  Created formation \"f2\" of kind \"pgsql\" on the monitor, with secondary "
                              "enabled.\n"),
              std::string::npos)
        << result.err;

    result = autoctl({"show", "uri"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_NE(result.out.find("\n   formation |      f2 | \n"), std::string::npos) << result.out;

    result = autoctl({"show", "uri", "--formation", "f2"});  // no nodes yet
    EXPECT_EQ(result.exit_status, 6);
    EXPECT_NE(result.err.find("Formation \"f2\" currently has no nodes in group 0"), std::string::npos) << result.err;

    result = autoctl({"create", "formation", "--formation", "f2", "--kind", "pgsql"});
    EXPECT_EQ(result.exit_status, 6);
    EXPECT_NE(result.err.find("formation \"f2\" already exists"), std::string::npos) << result.err;

    result = autoctl({"drop", "formation", "--formation", "f2"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    result = autoctl({"show", "uri"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.out.find(" f2 "), std::string::npos) << result.out;

    result = autoctl({"drop", "formation", "--formation", "default"});  // it has nodes
    EXPECT_EQ(result.exit_status, 6);
    EXPECT_NE(result.err.find("still has nodes"), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("HINT: drop its nodes first"), std::string::npos) << result.err;
}

TEST_F(MonitorCliTest, UnknownFormationIsAClearError) {
    for (const auto& args : std::vector<std::vector<std::string>>{{"show", "state", "--formation", "nope"},
                                                                  {"show", "settings", "--formation", "nope"},
                                                                  {"drop", "formation", "--formation", "nope"}}) {
        const auto result = autoctl(args);
        EXPECT_EQ(result.exit_status, 6) << args[0] << " " << args[1];
        EXPECT_EQ(result.out, "");
        EXPECT_EQ(count_lines(result.err), 1u) << result.err;
        EXPECT_NE(result.err.find(" ERROR formation \"nope\" does not exist"), std::string::npos) << result.err;
    }
}

TEST_F(MonitorCliTest, UnreachableMonitorFailsFast) {
    const int port = closed_port();
    const auto started = std::chrono::steady_clock::now();
    const auto result = autoctl(
        {"show", "state", "--monitor", "postgres://autoctl_node@127.0.0.1:" + std::to_string(port) + "/pg_auto_failover"},
        false);
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
    EXPECT_EQ(result.exit_status, 6) << result.err;
    EXPECT_EQ(count_lines(result.err), 1u) << result.err;
    EXPECT_NE(result.err.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << result.err;
}

TEST_F(MonitorCliTest, WrongRoleIsOneLine) {
    const auto result = autoctl(
        {"show", "state", "--monitor",
         "postgres://nobody@127.0.0.1:" + std::to_string(cluster_->port()) + "/pg_auto_failover"},
        false);
    EXPECT_EQ(result.exit_status, 6) << result.err;
    EXPECT_EQ(count_lines(result.err), 1u) << result.err;
    EXPECT_NE(result.err.find("role \"nobody\" does not exist"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace autoctl

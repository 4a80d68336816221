// A formation end to end: the built autoctl binary creates a monitor and data nodes (create
// postgres --run), which reach primary and secondaries; show state and show uri describe them;
// create postgres refuses bad input and leaves nothing behind. See formation_fixture.hpp.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "autoctl/pg/controldata.hpp"
#include "formation_fixture.hpp"

namespace autoctl::e2e {
namespace {

using namespace std::chrono_literals;

class FormationE2E : public testing::Test {
protected:
    void SetUp() override { AUTOCTL_REQUIRE_POSTGRES(); }
};

// The ERROR lines of autoctl's log: a refusal is one clear line (the commands it ran are logged
// at INFO before it).
std::size_t error_lines(const std::string& err) {
    std::size_t count = 0;
    std::istringstream in(err);
    for (std::string line; std::getline(in, line);) {
        if (contains(line, " ERROR ")) ++count;
    }
    return count;
}

// show state (table and --json) and show uri, against the monitor's node table.
void check_show_commands(Formation& f) {
    auto result = f.autoctl({"show", "state", "--json"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const auto state = nlohmann::json::parse(result.out);
    ASSERT_EQ(state.size(), f.names().size()) << result.out;
    const auto primary = f.primary();
    ASSERT_TRUE(primary) << f.describe();
    for (const auto& node : state) {
        const std::string name = node.at("nodename");
        const std::string expected = name == *primary ? "primary" : "secondary";
        EXPECT_EQ(node.at("current_group_state"), expected) << name;
        EXPECT_EQ(node.at("assigned_group_state"), expected) << name;
        EXPECT_EQ(node.at("nodeport"), f.node(name).port()) << name;
        EXPECT_EQ(node.at("nodehost"), "127.0.0.1") << name;
        EXPECT_EQ(node.at("group_id"), 0) << name;
    }

    result = f.autoctl({"show", "state"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    for (const auto& name : f.names()) {
        const std::string expected = name == *primary ? "primary" : "secondary";
        EXPECT_TRUE(contains(result.out, name + " |")) << result.out;
        EXPECT_TRUE(contains(result.out, "127.0.0.1:" + std::to_string(f.node(name).port()) + " |")) << result.out;
        EXPECT_TRUE(contains(result.out, (name == *primary ? " read-write | " : " read-only | "))) << result.out;
    }

    // The formation URI: every node of group 0, in node id order, read-write sessions only.
    std::string hosts;
    for (const auto& name : f.names()) {
        hosts += (hosts.empty() ? "" : ",") + std::string("127.0.0.1:") + std::to_string(f.node(name).port());
    }
    const std::string uri = "postgres://" + hosts + "/postgres?target_session_attrs=read-write&sslmode=prefer";
    EXPECT_EQ(f.formation_uri(), uri);
    result = f.autoctl({"show", "uri"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_TRUE(contains(result.out, " monitor | monitor | " + f.monitor_uri() + "\n")) << result.out;
    EXPECT_TRUE(contains(result.out, " formation | default | " + uri + "\n")) << result.out;

    // The same through a data node's configuration (--pgdata) instead of --monitor.
    auto& any = f.node(f.names().back());
    result = any.autoctl({"show", "uri", "--formation", "default", "--pgdata", any.pgdata().string()});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.out, uri + "\n");
}

// The primary writes, every standby streams from it and replays what it wrote.
void check_replication(Formation& f) {
    const auto primary = f.primary();
    ASSERT_TRUE(primary) << f.describe();
    auto& p = f.node(*primary);
    EXPECT_EQ(p.sql("SELECT pg_is_in_recovery()::text")[0].text(0), "false");
    EXPECT_EQ(p.sql("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")[0].text(0),
              std::to_string(f.names().size() - 1));
    p.sql("CREATE TABLE e2e_replicated AS SELECT 42 AS answer");
    for (const auto& name : f.names()) {
        if (name == *primary) continue;
        auto& standby = f.node(name);
        EXPECT_EQ(standby.sql("SELECT pg_is_in_recovery()::text")[0].text(0), "true") << name;
        EXPECT_TRUE(wait_until(
            [&] {
                try {
                    return standby.sql("SELECT answer FROM e2e_replicated")[0].text(0) == "42";
                } catch (const std::exception&) {
                    return false;
                }
            },
            30s))
            << name;
    }
    // What the monitor computes is what the primary runs with.
    const auto names = f.monitor().connect().exec("SELECT pgautofailover.synchronous_standby_names('default', 0)");
    EXPECT_EQ(p.sql("SHOW synchronous_standby_names")[0].text(0), names[0].text(0));
}

TEST_F(FormationE2E, TwoNodesReachPrimaryAndSecondary) {
    const auto start = std::chrono::steady_clock::now();
    Formation f(2);
    std::cerr << "monitor + 2 nodes ready in " << elapsed_ms(start) << " ms\n";
    EXPECT_EQ(f.primary().value_or("none"), "node1") << f.describe();
    check_show_commands(f);
    check_replication(f);
    EXPECT_EQ(f.node("node1").sql("SHOW synchronous_standby_names")[0].text(0), "ANY 1 (pgautofailover_standby_2)");

    // status of a data node: its supervisor and Postgres.
    auto& n2 = f.node("node2");
    const auto result = n2.autoctl({"status", "--pgdata", n2.pgdata().string(), "--json"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const auto status = nlohmann::json::parse(result.out);
    EXPECT_EQ(status.at("postgres").at("status"), "ready") << result.out;
    EXPECT_EQ(status.at("postgres").at("port"), n2.port()) << result.out;
}

TEST_F(FormationE2E, ThreeNodesReachPrimaryAndSecondaries) {
    const auto start = std::chrono::steady_clock::now();
    Formation f(3);
    std::cerr << "monitor + 3 nodes ready in " << elapsed_ms(start) << " ms\n";
    EXPECT_EQ(f.primary().value_or("none"), "node1") << f.describe();
    check_show_commands(f);
    check_replication(f);
    EXPECT_EQ(f.node("node1").sql("SHOW synchronous_standby_names")[0].text(0),
              "ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)");
}

// drop node --destroy on a running standby: its keeper reports dropped and exits, the supervisor
// stops, the monitor forgets the node, the primary goes back to single, and nothing is left.
TEST_F(FormationE2E, DropNodeOfARunningStandby) {
    Formation f(2);
    auto& standby = f.node("node2");
    const auto pids = standby.pid_file_processes();
    ASSERT_FALSE(pids.empty());
    const auto result = standby.autoctl({"drop", "node", "--pgdata", standby.pgdata().string(), "--destroy"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_TRUE(contains(standby.log(), "this node was dropped from the monitor")) << standby.log();
    EXPECT_FALSE(standby.any_process_alive());
    EXPECT_FALSE(fs::exists(standby.pgdata()));
    EXPECT_FALSE(fs::exists(standby.config_file()));
    EXPECT_FALSE(fs::exists(standby.state_file()));
    EXPECT_TRUE(f.wait_for(
        [](const std::vector<NodeRow>& rows) { return rows.size() == 1 && rows[0].settled_in("single"); }, 60s))
        << f.describe();
}

// Every file under `dir` (Postgres's log directory, when it has one), concatenated.
std::string all_files_under(const fs::path& dir) {
    std::string text;
    std::error_code ec;
    for (const auto& entry : fs::recursive_directory_iterator(dir, ec)) {
        if (entry.is_regular_file()) text += read_text(entry.path());
    }
    return text;
}

// SQL as the test user over the node's unix socket (trust): with --auth scram-sha-256 the TCP
// rules ask the test user for a password it does not have.
// Waits for Postgres to be ready (the keeper may be starting it).
pg::Rows local_sql(const AutoctlNode& node, const std::string& query) {
    std::optional<pg::PostmasterPid> pid;
    const bool ready = wait_until(
        [&] {
            pid = pg::parse_postmaster_pid(read_text(node.pgdata() / "postmaster.pid"));
            return pid && !pid->socket_dir.empty() && pid->status == "ready";
        },
        60s);
    if (!ready) throw std::runtime_error("Postgres of " + node.label() + " is not ready");
    pg::ConnInfo info = node.tcp_conninfo();
    info.set_host(pid->socket_dir);
    return pg::Connection(info, pg::ConnectOptions{5s}).exec(query);
}

// --auth scram-sha-256: the standby cannot copy the primary until `config set
// replication.password` on both nodes; then it becomes secondary. The password is in no log, no
// output and no statement the primary's Postgres logged (only its SCRAM verifier is sent).
TEST_F(FormationE2E, ScramReplicationPasswordSetWhileRunning) {
    const std::string secret = "Xq7-e2e-replication-secret";
    Formation f;
    NodeOptions scram;
    scram.auth = "scram-sha-256";
    auto& primary = f.add_node(scram);
    ASSERT_TRUE(f.wait_settled({{"node1", "single"}}, 120s)) << f.describe();
    // Every statement the primary runs from now on goes to its log.
    local_sql(primary, "ALTER SYSTEM SET log_statement = 'all'");
    local_sql(primary, "SELECT pg_reload_conf()");

    auto& standby = f.add_node(scram);
    ASSERT_TRUE(f.wait_for(
        [](const std::vector<NodeRow>& rows) {
            return rows.size() == 2 && (rows[1].goal == "catchingup" || rows[0].goal == "catchingup");
        },
        120s))
        << f.describe();
    ASSERT_TRUE(wait_until([&] { return contains(standby.log(), "pg_basebackup"); }, 60s)) << standby.log();
    EXPECT_FALSE(f.wait_primary_and_secondaries(3s)) << "a standby without the password must not get in";

    // The password on standard input, so that it is not in any process's argv.
    const fs::path secret_file = f.monitor().dir() / "replication-password";
    {
        std::ofstream out(secret_file);
        out << secret << "\n";
    }
    fs::permissions(secret_file, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    const auto set_password = [&](const AutoctlNode& node) {
        return node.command({"config", "set", "--pgdata", node.pgdata().string(), "replication.password"})
            .input_file(secret_file)
            .timeout(30s)
            .run_unchecked();
    };
    std::vector<std::string> outputs;
    for (auto* node : {&primary, &standby}) {
        const auto set = set_password(*node);
        ASSERT_EQ(set.exit_status, 0) << set.err;
        EXPECT_EQ(set.out, "****\n");
        EXPECT_TRUE(contains(set.err, "Sent SIGHUP to autoctl")) << set.err;
        outputs.push_back(set.out + set.err);
    }
    ASSERT_TRUE(f.wait_primary_and_secondaries(120s)) << f.describe();
    EXPECT_TRUE(wait_until([&] { return contains(primary.log(), "set the new password of the replication role"); },
                           10s))
        << primary.log();

    const auto verifier = local_sql(primary, "SELECT rolpassword FROM pg_authid WHERE rolname = 'pgautofailover_replicator'");
    EXPECT_EQ(verifier.scalar().value_or("").rfind("SCRAM-SHA-256$", 0), 0u);
    // Postgres logs to the node's run.log (its stderr), or to PGDATA/log with a logging collector.
    const std::string primary_pg_log = primary.log() + all_files_under(primary.pgdata() / "log");
    EXPECT_TRUE(contains(primary_pg_log, "statement: ALTER ROLE pgautofailover_replicator PASSWORD 'SCRAM-SHA-256$"))
        << "the statement was logged, with the verifier only";

    for (auto* node : {&primary, &standby}) {
        const auto config = node->autoctl({"config", "get", "--pgdata", node->pgdata().string()});
        const auto json = node->autoctl({"config", "get", "--pgdata", node->pgdata().string(), "--json"});
        const auto key = node->autoctl({"config", "get", "--pgdata", node->pgdata().string(), "replication.password"});
        EXPECT_TRUE(contains(config.out, "password = ****")) << config.out;
        outputs.insert(outputs.end(), {config.out, json.out, key.out});
        EXPECT_EQ(fs::status(node->config_file()).permissions() & fs::perms::all,
                  fs::perms::owner_read | fs::perms::owner_write);
        EXPECT_TRUE(contains(read_text(node->config_file()), secret)) << "the file keeps it";
    }
    outputs.push_back(f.autoctl({"show", "state"}).out);
    outputs.push_back(f.autoctl({"show", "uri"}).out);
    for (const auto& text : outputs) EXPECT_FALSE(contains(text, secret)) << text;
    for (const auto& text : {primary.log(), standby.log(), f.monitor().log(), primary_pg_log,
                             all_files_under(standby.pgdata() / "log")}) {
        EXPECT_FALSE(contains(text, secret)) << "the password is in a log";
    }

    // A new password while the standby is stopped: set on the running primary (applied at the
    // reload), in the standby's file only; the standby applies it when it runs again, and streams.
    const auto stopped = standby.autoctl({"stop", "--pgdata", standby.pgdata().string()});
    ASSERT_EQ(stopped.exit_status, 0) << stopped.err;
    ASSERT_TRUE(wait_until([&] { return !standby.any_process_alive(); }, 60s));
    {
        std::ofstream out(secret_file, std::ios::trunc);
        out << secret << "-2\n";
    }
    for (auto* node : {&primary, &standby}) {
        const auto set = set_password(*node);
        ASSERT_EQ(set.exit_status, 0) << set.err;
    }
    f.run_node("node2");
    const auto streaming = [&] {
        try {
            return local_sql(primary, "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
                       .scalar()
                       .value_or("0") == "1";
        } catch (const std::exception&) {
            return false;
        }
    };
    EXPECT_TRUE(wait_until(streaming, 60s)) << standby.log("run2.log");
    // (The monitor may also send the standby through catchingup, which rewrites the file anyway;
    // the keeper applies the new password at start in every case.)
    EXPECT_TRUE(wait_until(
        [&] { return contains(standby.log("run2.log"), "following the primary with the new replication password"); },
        30s))
        << standby.log("run2.log");
    EXPECT_TRUE(f.wait_primary_and_secondaries(60s)) << f.describe();
    EXPECT_FALSE(contains(standby.log("run2.log") + primary.log(), secret)) << "the password is in a log";
}

// --- create postgres refuses bad input ---------------------------------------------------------

// No configuration, state or init file: the node can be created again from scratch.
void expect_nothing_left(const AutoctlNode& node) {
    EXPECT_FALSE(fs::exists(node.config_file())) << node.config_file();
    EXPECT_FALSE(fs::exists(node.state_file())) << node.state_file();
    EXPECT_FALSE(fs::exists(node.init_file())) << node.init_file();
    EXPECT_FALSE(fs::exists(node.pid_file())) << node.pid_file();
}

std::vector<std::string> create_args(const AutoctlNode& node, const std::string& monitor_uri) {
    return {"create",     "postgres",  "--pgdata", node.pgdata().string(), "--pgport", std::to_string(node.port()),
            "--hostname", "127.0.0.1", "--monitor", monitor_uri,          "--auth",   "trust",
            "--no-ssl",   "--name",    "lonely"};
}

TEST_F(FormationE2E, CreatePostgresRefusesAMonitorThatDoesNotAnswer) {
    AutoctlNode node("node");
    const std::string silent = "postgres://autoctl_node@127.0.0.1:" + std::to_string(fixture::free_port()) +
                               "/pg_auto_failover?sslmode=prefer";
    const auto result = node.autoctl(create_args(node, silent), {{"PGCONNECT_TIMEOUT", "2"}});
    EXPECT_EQ(result.exit_status, 6) << result.err;
    EXPECT_TRUE(contains(result.err, "cannot reach the monitor")) << result.err;
    EXPECT_TRUE(contains(result.err, "127.0.0.1:" + silent.substr(silent.rfind(':') + 1, 5))) << result.err;
    EXPECT_EQ(error_lines(result.err), 1u) << result.err;
    expect_nothing_left(node);
    EXPECT_FALSE(fs::exists(node.pgdata() / "PG_VERSION"));
}

TEST_F(FormationE2E, CreatePostgresRefusesAPortInUse) {
    AutoctlNode node("node");
    const int fd = listen_on_loopback(node.port());
    ASSERT_GE(fd, 0) << "cannot listen on 127.0.0.1:" << node.port() << ": " << std::strerror(errno);
    // The port check comes before the monitor is asked: no monitor is needed to see it.
    const std::string unused = "postgres://autoctl_node@127.0.0.1:" + std::to_string(fixture::free_port()) +
                               "/pg_auto_failover?sslmode=prefer";
    const auto result = node.autoctl(create_args(node, unused));
    ::close(fd);
    EXPECT_EQ(result.exit_status, 3) << result.err;
    EXPECT_TRUE(contains(result.err, "port " + std::to_string(node.port()) + " is already in use")) << result.err;
    EXPECT_EQ(error_lines(result.err), 1u) << result.err;
    expect_nothing_left(node);
}

TEST_F(FormationE2E, CreatePostgresRefusesAnotherClusterAndADuplicateName) {
    Formation f(1);
    ASSERT_TRUE(f.wait_settled({{"node1", "single"}}, 5s)) << f.describe();

    // A cluster initdb'd on its own: its system identifier is not the group's.
    fixture::PgClusterOptions options;
    options.start = false;
    options.superuser = fixture::TestUser::get().name();
    fixture::PgCluster cluster(options);
    AutoctlNode other("other", cluster.pgdata());
    auto result = other.autoctl(f.create_postgres_args(other, "node2"));
    EXPECT_EQ(result.exit_status, 1) << result.err;
    EXPECT_TRUE(contains(result.err, "system identifier")) << result.err;
    EXPECT_TRUE(contains(result.err, "use an empty --pgdata")) << result.err;
    EXPECT_EQ(error_lines(result.err), 1u) << result.err;
    expect_nothing_left(other);
    EXPECT_TRUE(fs::exists(cluster.pgdata() / "PG_VERSION")) << "the cluster is left alone";
    EXPECT_FALSE(live_postmaster(cluster.pgdata()));

    // A name that another node of the formation has.
    AutoctlNode dup("dup");
    result = dup.autoctl(f.create_postgres_args(dup, "node1"));
    EXPECT_EQ(result.exit_status, 6) << result.err;
    EXPECT_TRUE(contains(result.err, "node1")) << result.err;
    EXPECT_EQ(error_lines(result.err), 1u) << result.err;
    expect_nothing_left(dup);
    EXPECT_FALSE(fs::exists(dup.pgdata() / "PG_VERSION"));

    // Nothing was registered; the formation still has its one node, untouched.
    const auto rows = f.rows();
    ASSERT_EQ(rows.size(), 1u) << f.describe();
    EXPECT_TRUE(rows[0].settled_in("single")) << f.describe();
    EXPECT_EQ(f.monitor().connect().exec("SELECT count(*) FROM pgautofailover.node")[0].text(0), "1");

    // The refused nodes can be created afterwards with good input: here a second node, named
    // differently, on an empty PGDATA.
    result = dup.autoctl(f.create_postgres_args(dup, "node2"));
    EXPECT_EQ(result.exit_status, 0) << result.err;
    EXPECT_TRUE(fs::exists(dup.state_file()));
}

}  // namespace
}  // namespace autoctl::e2e

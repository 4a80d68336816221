// A Citus formation end to end: a monitor, a coordinator and one worker group with a primary and
// a standby, created with `autoctl create coordinator|worker --run` (default names and groups).
// Real Citus when it is installed; otherwise the test installs the SQL emulation of Citus's
// metadata API (tests/fixtures/citus_emulation.sql) in the coordinator's database right after the
// coordinator is up, before the workers register (autoctl never installs it).
//
// A planned failover of group 1 must leave the coordinator's pg_dist_node pointing at the new
// worker primary, through the prepared (then committed) citus_update_node.

#include <gtest/gtest.h>

#include <iostream>

#include "formation_fixture.hpp"
#include "support/citus_support.hpp"

namespace autoctl::e2e {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> create_args(const Formation& formation, const std::string& kind, const AutoctlNode& node) {
    return {"create",    kind,        "--pgdata", node.pgdata().string(), "--pgport", std::to_string(node.port()),
            "--hostname", "127.0.0.1", "--monitor", formation.monitor_uri(), "--auth",  "trust",
            "--no-ssl",  "--dbname",  "citus",    "--run"};
}

const NodeRow* find_row(const std::vector<NodeRow>& rows, const std::string& name) {
    for (const auto& row : rows) {
        if (row.name == name) return &row;
    }
    return nullptr;
}

bool settled(const std::vector<NodeRow>& rows, const std::string& name, const std::string& state) {
    const auto* row = find_row(rows, name);
    return row != nullptr && row->settled_in(state);
}

// host:port of group's primary row in the coordinator's pg_dist_node ("" when none).
std::string dist_node(const AutoctlNode& coordinator, int group) {
    try {
        pg::Connection conn(coordinator.tcp_conninfo("citus"), pg::ConnectOptions{std::chrono::seconds(5)});
        return conn
            .exec_params("SELECT nodename || ':' || nodeport FROM pg_dist_node WHERE groupid = $1 AND noderole = "
                         "'primary'",
                         group)
            .scalar()
            .value_or("");
    } catch (const std::exception&) {
        return "";
    }
}

TEST(CitusE2E, WorkerFailoverMovesTheCoordinatorsNode) {
    AUTOCTL_REQUIRE_POSTGRES();
    std::cout << "Citus under test: " << fixture::citus_flavour() << std::endl;
    Formation formation;
    AutoctlNode coordinator("coord0a");
    AutoctlNode worker_a("worker1a");
    AutoctlNode worker_b("worker1b");

    coordinator.start(create_args(formation, "coordinator", coordinator));
    ASSERT_TRUE(formation.wait_for([](const auto& rows) { return settled(rows, "coord0a", "single"); }, 90s))
        << formation.describe();
    // Reported single before its Postgres is started again by `run` (restart check): wait for it.
    ASSERT_TRUE(wait_until(
        [&] {
            try {
                pg::Connection(coordinator.tcp_conninfo("citus"), pg::ConnectOptions{std::chrono::seconds(2)});
                return true;
            } catch (const std::exception&) {
                return false;
            }
        },
        30s));
    if (!fixture::real_citus_installed()) {
        pg::Connection conn(coordinator.tcp_conninfo("citus"));
        fixture::install_citus(conn);
    }
    // The coordinator registers itself once its database has the node API.
    const std::string coordinator_address = "127.0.0.1:" + std::to_string(coordinator.port());
    ASSERT_TRUE(wait_until([&] { return dist_node(coordinator, 0) == coordinator_address; }, 30s))
        << "pg_dist_node group 0: " << dist_node(coordinator, 0);

    worker_a.start(create_args(formation, "worker", worker_a));
    ASSERT_TRUE(formation.wait_for([](const auto& rows) { return settled(rows, "worker1a", "single"); }, 90s))
        << formation.describe();
    const std::string a_address = "127.0.0.1:" + std::to_string(worker_a.port());
    EXPECT_EQ(dist_node(coordinator, 1), a_address);

    worker_b.start(create_args(formation, "worker", worker_b));
    ASSERT_TRUE(formation.wait_for(
        [](const auto& rows) { return settled(rows, "worker1a", "primary") && settled(rows, "worker1b", "secondary"); },
        120s))
        << formation.describe();
    EXPECT_EQ(dist_node(coordinator, 1), a_address);  // only primaries are registered
    {
        const auto state = formation.autoctl({"show", "state"});
        EXPECT_TRUE(state.is_success()) << state.err;
        std::cout << state.out;
    }

    const auto failover = formation.autoctl({"perform", "failover", "--group", "1"}, 120s);
    EXPECT_TRUE(failover.is_success()) << failover.out << failover.err;
    ASSERT_TRUE(formation.wait_for(
        [](const auto& rows) { return settled(rows, "worker1b", "primary") && settled(rows, "worker1a", "secondary"); },
        120s))
        << formation.describe();
    const std::string b_address = "127.0.0.1:" + std::to_string(worker_b.port());
    EXPECT_TRUE(wait_until([&] { return dist_node(coordinator, 1) == b_address; }, 10s))
        << "pg_dist_node group 1: " << dist_node(coordinator, 1);
    pg::Connection conn(coordinator.tcp_conninfo("citus"));
    EXPECT_EQ(conn.exec("SELECT count(*) FROM pg_prepared_xacts").scalar(), "0");
    EXPECT_TRUE(settled(formation.rows(), "coord0a", "single"));
}

}  // namespace
}  // namespace autoctl::e2e

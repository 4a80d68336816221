// The Citus metadata API the keepers call, against real Postgres: the functions themselves
// (real Citus when installed, else tests/fixtures/citus_emulation.sql, see citus_support.hpp),
// and autoctl's coordinator client (src/citus) on top of them: registration, the prepared
// citus_update_node of a worker failover, its commit and rollback, stale node removal.

#include <gtest/gtest.h>

#include <memory>

#include "autoctl/citus/coordinator.hpp"
#include "support/citus_support.hpp"
#include "support/pg_cluster.hpp"

namespace autoctl {
namespace {

using citus::ApiNaming;
using citus::CoordinatorClient;
using fixture::PgCluster;

class CitusTest : public ::testing::Test {
protected:
    // Two clusters whose addresses are the "workers" (real Citus connects to the nodes it adds).
    static void SetUpTestSuite() {
        if (!pg::try_find_bindir()) return;
        std::cout << "Citus under test: " << fixture::citus_flavour() << std::endl;
        for (int i = 0; i < 2; ++i) {
            workers_.push_back(std::make_unique<PgCluster>(fixture::citus_cluster_options()));
            if (fixture::real_citus_installed()) {
                auto conn = workers_.back()->connect();
                fixture::install_citus(conn);
            }
        }
    }
    static void TearDownTestSuite() { workers_.clear(); }

    void SetUp() override {
        AUTOCTL_REQUIRE_POSTGRES();
        coordinator_ = std::make_unique<PgCluster>(fixture::citus_cluster_options());
        conn_.emplace(coordinator_->connect());
    }
    void TearDown() override {
        // Prepared transactions would keep the cluster from stopping quickly.
        if (conn_) {
            for (const auto& row : conn_->exec("SELECT gid FROM pg_prepared_xacts")) {
                conn_->exec("ROLLBACK PREPARED '" + row.text(0) + "'");
            }
        }
        conn_.reset();
        coordinator_.reset();
    }

    void install() { fixture::install_citus(*conn_); }
    CoordinatorClient client() { return CoordinatorClient(coordinator_->conninfo()); }
    std::string worker_host() const { return "127.0.0.1"; }
    int worker_port(int i) const { return workers_.at(i)->port(); }
    std::string scalar(const std::string& sql) { return conn_->exec(sql).scalar().value_or("NULL"); }
    std::string node_at(int group) {
        return scalar("SELECT nodename || ':' || nodeport FROM pg_dist_node WHERE groupid = " + std::to_string(group) +
                      " AND noderole = 'primary'");
    }
    std::string arguments(const std::string& function) {
        return scalar("SELECT pg_get_function_arguments(oid) || ' -> ' || pg_get_function_result(oid) FROM pg_proc "
                      "WHERE proname = '" + function + "' AND pg_function_is_visible(oid)");
    }

    static std::vector<std::unique_ptr<PgCluster>> workers_;
    std::unique_ptr<PgCluster> coordinator_;
    std::optional<pg::Connection> conn_;
};

std::vector<std::unique_ptr<PgCluster>> CitusTest::workers_;

// --- The functions (Citus 13's names, arguments, defaults, return types) ---

TEST_F(CitusTest, FunctionsHaveCitus13Signatures) {
    install();
    const std::string add =
        "nodename text, nodeport integer, groupid integer DEFAULT '-1'::integer, noderole noderole DEFAULT "
        "'primary'::noderole, nodecluster name DEFAULT 'default'::name -> integer";
    EXPECT_EQ(arguments("citus_add_node"), add);
    EXPECT_EQ(arguments("master_add_node"), add);
    const std::string update =
        "node_id integer, new_node_name text, new_node_port integer, force boolean DEFAULT false, lock_cooldown "
        "integer DEFAULT 10000 -> void";
    EXPECT_EQ(arguments("citus_update_node"), update);
    EXPECT_EQ(arguments("master_update_node"), update);
    EXPECT_EQ(arguments("citus_remove_node"), "nodename text, nodeport integer -> void");
    EXPECT_EQ(arguments("master_remove_node"), "nodename text, nodeport integer -> void");
    EXPECT_EQ(arguments("citus_set_coordinator_host"),
              "host text, port integer DEFAULT (current_setting('port'::text))::integer, node_role noderole DEFAULT "
              "'primary'::noderole, node_cluster name DEFAULT 'default'::name -> void");
    EXPECT_EQ(arguments("citus_get_active_worker_nodes"),
              "OUT node_name text, OUT node_port bigint -> SETOF record");
    EXPECT_EQ(arguments("master_get_active_worker_nodes"),
              "OUT node_name text, OUT node_port bigint -> SETOF record");
}

TEST_F(CitusTest, AddNodeAssignsGroupsAndReturnsTheExistingId) {
    install();
    conn_->exec_params("SELECT citus_set_coordinator_host($1, $2)", "127.0.0.1", coordinator_->port());
    const auto a = conn_->exec_params("SELECT citus_add_node($1, $2)", worker_host(), worker_port(0)).scalar();
    const auto again = conn_->exec_params("SELECT citus_add_node($1, $2)", worker_host(), worker_port(0)).scalar();
    const auto b = conn_->exec_params("SELECT master_add_node($1, $2)", worker_host(), worker_port(1)).scalar();
    EXPECT_EQ(a, again);
    EXPECT_NE(a, b);
    EXPECT_EQ(scalar("SELECT count(DISTINCT groupid) FROM pg_dist_node WHERE groupid <> 0"), "2");
    const std::string workers = "127.0.0.1:" + std::to_string(worker_port(0)) + ",127.0.0.1:" +
                                std::to_string(worker_port(1));
    EXPECT_EQ(scalar("SELECT string_agg(node_name || ':' || node_port, ',' ORDER BY node_port) FROM "
                     "citus_get_active_worker_nodes()"),
              worker_port(0) < worker_port(1) ? workers
                                              : "127.0.0.1:" + std::to_string(worker_port(1)) + ",127.0.0.1:" +
                                                    std::to_string(worker_port(0)));
    EXPECT_EQ(scalar("SELECT count(*) FROM master_get_active_worker_nodes()"), "2");
}

TEST_F(CitusTest, UpdateNodeWithForceMovesTheNode) {
    install();
    const auto id = conn_->exec_params("SELECT citus_add_node($1, $2, groupid => 1)", worker_host(), worker_port(0))
                        .scalar()
                        .value();
    conn_->exec_params("SELECT citus_update_node($1::int, $2, $3, force => true, lock_cooldown => 1000)", id,
                       worker_host(), worker_port(1));
    EXPECT_EQ(node_at(1), "127.0.0.1:" + std::to_string(worker_port(1)));
    // The same address again is a no-op; master_update_node is the same function.
    conn_->exec_params("SELECT master_update_node($1::int, $2, $3)", id, worker_host(), worker_port(1));
    conn_->exec_params("SELECT master_update_node($1::int, $2, $3)", id, worker_host(), worker_port(0));
    EXPECT_EQ(node_at(1), "127.0.0.1:" + std::to_string(worker_port(0)));
    EXPECT_THROW(conn_->exec("SELECT citus_update_node(4242, 'nowhere', 1)"), pg::SqlError);
}

TEST_F(CitusTest, RemoveNodeAndSetCoordinatorHost) {
    install();
    conn_->exec_params("SELECT citus_set_coordinator_host($1, $2)", "127.0.0.1", coordinator_->port());
    EXPECT_EQ(node_at(0), "127.0.0.1:" + std::to_string(coordinator_->port()));
    conn_->exec_params("SELECT citus_add_node($1, $2)", worker_host(), worker_port(0));
    conn_->exec_params("SELECT citus_add_node($1, $2)", worker_host(), worker_port(1));
    EXPECT_EQ(scalar("SELECT count(*) FROM citus_get_active_worker_nodes()"), "2");  // not the coordinator
    conn_->exec_params("SELECT citus_remove_node($1, $2)", worker_host(), worker_port(0));
    conn_->exec_params("SELECT master_remove_node($1, $2)", worker_host(), worker_port(1));
    EXPECT_EQ(scalar("SELECT count(*) FROM citus_get_active_worker_nodes()"), "0");
    EXPECT_THROW(conn_->exec_params("SELECT citus_remove_node($1, $2)", worker_host(), worker_port(0)), pg::SqlError);
}

// --- autoctl's coordinator client ---

TEST_F(CitusTest, ClientProbesTheNodeApi) {
    auto c = client();
    EXPECT_FALSE(c.has_node_api());
    EXPECT_THROW(c.naming(), common::Error);
    install();
    EXPECT_TRUE(c.has_node_api());  // probed again: the API may come later
    EXPECT_EQ(c.naming(), ApiNaming::Citus);
    EXPECT_TRUE(c.update_supports_force());
}

TEST_F(CitusTest, ClientRegistersTheCoordinatorAndWorkers) {
    install();
    auto c = client();
    c.set_coordinator_host("127.0.0.1", coordinator_->port());
    c.set_coordinator_host("127.0.0.1", coordinator_->port());
    const auto id = c.add_node(worker_host(), worker_port(0), 1);
    EXPECT_EQ(c.add_node(worker_host(), worker_port(0), 1), id);  // re-run after a crash
    const auto nodes = c.nodes();
    ASSERT_EQ(nodes.size(), 2u);
    EXPECT_EQ(nodes[0].group, 0);
    EXPECT_EQ(nodes[1].group, 1);
    EXPECT_EQ(nodes[1].node_id, id);
    EXPECT_EQ(nodes[1].role, "primary");
    ASSERT_TRUE(c.primary_of_group(1));
    EXPECT_EQ(c.primary_of_group(1)->port, worker_port(0));
    EXPECT_FALSE(c.primary_of_group(2));
}

TEST_F(CitusTest, PreparedUpdateCommitMovesTheNode) {
    install();
    auto c = client();
    c.add_node(worker_host(), worker_port(0), 1);
    const auto gid = c.prepare_update_node(1, worker_host(), worker_port(1), 1000);
    EXPECT_EQ(gid, "citus_update_node 1");
    EXPECT_EQ(scalar("SELECT string_agg(gid, ',') FROM pg_prepared_xacts"), "citus_update_node 1");
    // Not visible before the commit.
    EXPECT_EQ(node_at(1), "127.0.0.1:" + std::to_string(worker_port(0)));
    // Re-running the prepare (a keeper that crashed after it) changes nothing.
    EXPECT_EQ(c.prepare_update_node(1, worker_host(), worker_port(1), 1000), gid);
    EXPECT_EQ(scalar("SELECT count(*) FROM pg_prepared_xacts"), "1");
    // The prepared transaction holds the row: another update of the group waits for it.
    auto other = coordinator_->connect();
    other.exec("SET lock_timeout = '200ms'");
    EXPECT_THROW(other.exec_params("SELECT citus_update_node(nodeid, 'elsewhere', 1) FROM pg_dist_node "
                                   "WHERE groupid = 1"),
                 pg::SqlError);
    EXPECT_TRUE(c.commit_update_node(1));
    EXPECT_EQ(node_at(1), "127.0.0.1:" + std::to_string(worker_port(1)));
    EXPECT_EQ(scalar("SELECT count(*) FROM pg_prepared_xacts"), "0");
    EXPECT_FALSE(c.commit_update_node(1));  // re-run: nothing left to commit
    EXPECT_FALSE(c.update_node(1, worker_host(), worker_port(1), 1000));  // already there
}

TEST_F(CitusTest, PreparedUpdateRollbackLeavesTheNode) {
    install();
    auto c = client();
    c.add_node(worker_host(), worker_port(0), 1);
    c.prepare_update_node(1, worker_host(), worker_port(1), 1000);
    EXPECT_TRUE(c.prepared_update_gid(1));
    EXPECT_FALSE(c.prepared_update_gid(2));
    EXPECT_TRUE(c.rollback_update_node(1));
    EXPECT_FALSE(c.rollback_update_node(1));
    EXPECT_EQ(node_at(1), "127.0.0.1:" + std::to_string(worker_port(0)));
    EXPECT_EQ(scalar("SELECT count(*) FROM pg_prepared_xacts"), "0");
    // Without a prepared transaction the update runs at once.
    EXPECT_TRUE(c.update_node(1, worker_host(), worker_port(1), 1000));
    EXPECT_EQ(node_at(1), "127.0.0.1:" + std::to_string(worker_port(1)));
}

TEST_F(CitusTest, PreparedUpdateOfAGroupWithoutRowIsEmpty) {
    install();
    auto c = client();
    EXPECT_EQ(c.prepare_update_node(3, worker_host(), worker_port(0), 1000), "citus_update_node 3");
    EXPECT_TRUE(c.commit_update_node(3));
    EXPECT_EQ(scalar("SELECT count(*) FROM pg_dist_node"), "0");
}

TEST_F(CitusTest, ClientFallsBackToMasterNames) {
    if (fixture::real_citus_installed()) GTEST_SKIP() << "plays an old Citus with the emulation only";
    install();
    conn_->exec("DROP FUNCTION citus_add_node, citus_update_node, citus_remove_node, citus_set_coordinator_host");
    auto c = client();
    EXPECT_EQ(c.naming(), ApiNaming::Master);
    c.set_coordinator_host("127.0.0.1", coordinator_->port());
    EXPECT_EQ(node_at(0), "127.0.0.1:" + std::to_string(coordinator_->port()));
    c.add_node(worker_host(), worker_port(0), 1);
    EXPECT_EQ(c.prepare_update_node(1, worker_host(), worker_port(1), 1000), "master_update_node 1");
    EXPECT_TRUE(c.commit_update_node(1));
    EXPECT_EQ(node_at(1), "127.0.0.1:" + std::to_string(worker_port(1)));
    c.remove_node(worker_host(), worker_port(1));
    EXPECT_EQ(scalar("SELECT count(*) FROM pg_dist_node"), "1");
}

TEST_F(CitusTest, RemoveStaleNodesKeepsTheCoordinatorAndKnownGroups) {
    install();
    auto c = client();
    c.set_coordinator_host("127.0.0.1", coordinator_->port());
    c.add_node(worker_host(), worker_port(0), 1);
    c.add_node(worker_host(), worker_port(1), 2);
    const auto removed = c.remove_stale_nodes({{0, "default"}, {1, "default"}});
    ASSERT_EQ(removed.size(), 1u);
    EXPECT_EQ(removed[0].group, 2);
    EXPECT_EQ(scalar("SELECT string_agg(groupid::text, ',' ORDER BY groupid) FROM pg_dist_node"), "0,1");
    EXPECT_TRUE(c.remove_stale_nodes({{0, "default"}, {1, "default"}}).empty());
}

TEST(CitusGid, NamesOfThePreparedTransaction) {
    EXPECT_EQ(citus::update_node_gid(2, ApiNaming::Citus), "citus_update_node 2");
    EXPECT_EQ(citus::update_node_gid(2, ApiNaming::Master), "master_update_node 2");
}

}  // namespace
}  // namespace autoctl

// pg::Connection against a real Postgres 15: queries, parameters, transactions, errors,
// LISTEN/NOTIFY, and connection failures.
#include <gtest/gtest.h>

#include <chrono>

#include "autoctl/common/error.hpp"
#include "autoctl/pg/connection.hpp"
#include "support/pg_cluster.hpp"

namespace autoctl::pg {
namespace {

using common::Error;
using common::ErrorKind;
using fixture::PgCluster;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

class ConnectionTest : public ::testing::Test {
protected:
    void SetUp() override {
        AUTOCTL_REQUIRE_POSTGRES();
        cluster_ = std::make_unique<PgCluster>();
    }
    std::unique_ptr<PgCluster> cluster_;
};

TEST_F(ConnectionTest, SelectOne) {
    auto conn = cluster_->connect();
    EXPECT_TRUE(conn.is_open());
    const auto rows = conn.exec("select 1 as one");
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows.columns(), std::vector<std::string>{"one"});
    EXPECT_EQ(rows.scalar(), "1");
    EXPECT_GE(conn.server_version(), 150000);
    EXPECT_GT(conn.backend_pid(), 0);
    EXPECT_EQ(conn.endpoint(), "127.0.0.1:" + std::to_string(cluster_->port()));
}

TEST_F(ConnectionTest, ExecParamsRoundTripsTextVerbatim) {
    auto conn = cluster_->connect();
    const std::vector<std::string> values = {
        "it's; DROP TABLE pg_class; --",
        "\"double\" and 'single' quotes",
        "$1 $$dollar$$ \\backslash\\ %s {}",
        "naïve café – 日本語 – 🐘",
        "line one\nline two\ttab",
        "",
    };
    for (const auto& value : values) {
        const auto rows = conn.exec_params("select $1::text, length($1::text), $1::text = $2::text", value, value);
        ASSERT_EQ(rows.size(), 1u);
        EXPECT_EQ(rows[0].text(0), value);
        EXPECT_TRUE(rows[0].as_bool(2));
    }
    const auto nulls = conn.exec_params("select $1::text is null, $2::int + 1, $3::bigint", std::nullopt, 41,
                                        std::int64_t{1} << 40);
    EXPECT_TRUE(nulls[0].as_bool(0));
    EXPECT_EQ(nulls[0].as_int64(1), 42);
    EXPECT_EQ(nulls[0].as_int64(2), std::int64_t{1} << 40);

    conn.exec("create table t (id int primary key, note text)");
    const auto inserted = conn.exec_params("insert into t values ($1, $2), ($3, $4)", 1, values[0], 2, values[3]);
    EXPECT_EQ(inserted.affected_rows(), 2u);
    const auto rows = conn.exec("select note from t order by id");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].text("note"), values[0]);
    EXPECT_EQ(rows[1].text("note"), values[3]);
    EXPECT_EQ(conn.exec("select count(*) from pg_class where relname = 'pg_class'").scalar(), "1");
}

TEST_F(ConnectionTest, LsnParameterAndColumn) {
    auto conn = cluster_->connect();
    const auto rows = conn.exec_params("select $1::pg_lsn + 16", fsm::Lsn{0x16B374D848});
    EXPECT_EQ(rows[0].as_lsn(0).value, 0x16B374D858u);
}

TEST_F(ConnectionTest, TransactionCommitsOrRollsBack) {
    auto conn = cluster_->connect();
    conn.exec("create table t (id int)");
    const auto count = conn.transaction([](Transaction& tx) {
        tx.exec_params("insert into t values ($1)", 1);
        return tx.exec("select count(*) from t")[0].as_int64(0);
    });
    EXPECT_EQ(count, 1);
    EXPECT_THROW(conn.transaction([](Transaction& tx) {
        tx.exec_params("insert into t values ($1)", 2);
        throw std::runtime_error("abort");
    }),
                 std::runtime_error);
    EXPECT_THROW(conn.transaction([](Transaction& tx) {
        tx.exec("insert into t values (3)");
        tx.exec("select * from missing_table");
    }),
                 SqlError);
    conn.transaction([](Transaction& tx) { tx.exec("insert into t values (4)"); }, Isolation::Serializable);
    EXPECT_EQ(conn.exec("select string_agg(id::text, ',' order by id) from t").scalar(), "1,4");
}

TEST_F(ConnectionTest, SqlErrorCarriesSqlstateAndEndpoint) {
    Connection conn(cluster_->conninfo(), {5s, ErrorKind::Monitor});
    try {
        conn.exec("select * from no_such_table");
        FAIL();
    } catch (const SqlError& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Monitor);
        EXPECT_EQ(e.sqlstate(), "42P01");
        const std::string message = e.what();
        EXPECT_NE(message.find("127.0.0.1:" + std::to_string(cluster_->port())), std::string::npos) << message;
        EXPECT_NE(message.find("no_such_table"), std::string::npos) << message;
    }
    EXPECT_EQ(conn.exec("select 2").scalar(), "2");  // the connection is still usable
}

TEST_F(ConnectionTest, ListenNotifyDeliversThePayload) {
    auto listener = cluster_->connect();
    auto sender = cluster_->connect();
    listener.listen("state changes");
    listener.listen("state changes");  // idempotent
    const std::string payload = R"({"type":"state","formation":"default","nodeId":1,"reportedState":"primary"})";
    sender.exec_params("select pg_notify($1, $2)", "state changes", payload);

    const auto started = Clock::now();
    const auto notification = listener.wait_notification(10s);
    ASSERT_TRUE(notification.has_value());
    EXPECT_LT(Clock::now() - started, 5s);
    EXPECT_EQ(notification->channel, "state changes");
    EXPECT_EQ(notification->payload, payload);
    EXPECT_EQ(notification->backend_pid, sender.backend_pid());

    // Several notifications queue up and come out in order.
    sender.exec("select pg_notify('state changes', 'a'); select pg_notify('state changes', 'b')");
    const auto a = listener.wait_notification(10s);
    const auto b = listener.wait_notification(10s);
    ASSERT_TRUE(a && b);
    EXPECT_EQ(a->payload, "a");
    EXPECT_EQ(b->payload, "b");
}

TEST_F(ConnectionTest, WaitNotificationTimesOutCleanly) {
    auto listener = cluster_->connect();
    listener.listen("state");
    const auto started = Clock::now();
    const auto notification = listener.wait_notification(300ms);
    const auto elapsed = Clock::now() - started;
    EXPECT_FALSE(notification.has_value());
    EXPECT_GE(elapsed, 300ms);
    EXPECT_LT(elapsed, 3s);
    EXPECT_FALSE(listener.wait_notification(0ms).has_value());
    EXPECT_EQ(listener.exec("select 1").scalar(), "1");  // still usable

    listener.unlisten("state");
    auto sender = cluster_->connect();
    sender.exec("notify state, 'ignored'");
    EXPECT_FALSE(listener.wait_notification(200ms).has_value());
}

TEST_F(ConnectionTest, CloseAndLostConnectionAreErrors) {
    auto conn = cluster_->connect();
    conn.close();
    EXPECT_FALSE(conn.is_open());
    EXPECT_THROW(conn.exec("select 1"), Error);

    auto victim = cluster_->connect();
    auto killer = cluster_->connect();
    killer.exec_params("select pg_terminate_backend($1, 10000)", victim.backend_pid());
    try {
        victim.exec("select 1");
        FAIL() << "expected the terminated connection to fail";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Postgres);
    }
    EXPECT_FALSE(victim.is_open());

    // Lost in the middle of a transaction: the error comes out of transaction(), nothing crashes.
    auto in_tx = cluster_->connect();
    const int pid = in_tx.backend_pid();
    EXPECT_THROW(in_tx.transaction([&](Transaction& tx) {
        tx.exec("select 1");
        killer.exec_params("select pg_terminate_backend($1, 10000)", pid);
        tx.exec("select 2");
    }),
                 Error);
    EXPECT_FALSE(in_tx.is_open());
    EXPECT_THROW(in_tx.exec("select 1"), Error);
}

TEST_F(ConnectionTest, WaitNotificationReportsALostConnection) {
    auto listener = cluster_->connect();
    listener.listen("state");
    auto killer = cluster_->connect();
    killer.exec_params("select pg_terminate_backend($1, 10000)", listener.backend_pid());
    const auto started = Clock::now();
    EXPECT_THROW(listener.wait_notification(10s), Error);
    EXPECT_LT(Clock::now() - started, 5s);
    EXPECT_FALSE(listener.is_open());
}

TEST(ConnectionFailure, ClosedPortFailsFastWithAClearError) {
    const int port = fixture::free_port();  // nobody listens there
    ConnInfo info;
    info.set_host("127.0.0.1").set_port(port).set_user("autoctl_node").set_password("hunter2").set_dbname("x");
    const auto started = Clock::now();
    try {
        Connection conn(info, {2s, ErrorKind::Monitor});
        FAIL() << "connected to a closed port";
    } catch (const Error& e) {
        const auto elapsed = Clock::now() - started;
        EXPECT_LT(elapsed, 5s);
        EXPECT_EQ(e.kind(), ErrorKind::Monitor);
        const std::string message = e.what();
        EXPECT_NE(message.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << message;
        EXPECT_NE(message.find("refused"), std::string::npos) << message;
        EXPECT_EQ(message.find("hunter2"), std::string::npos) << message;
    }
}

}  // namespace
}  // namespace autoctl::pg

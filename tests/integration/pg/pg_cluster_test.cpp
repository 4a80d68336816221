// initdb / pg_ctl / pg_controldata and the configuration files, on a real Postgres 15 run as the
// unprivileged test user.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <thread>

#include "autoctl/pg/conf_files.hpp"
#include "autoctl/pg/pg_ctl.hpp"
#include "support/pg_cluster.hpp"

namespace autoctl::pg {
namespace {

using fixture::PgCluster;
using fixture::PgClusterOptions;
using fixture::TestUser;

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::size_t count_of(const std::string& text, std::string_view needle) {
    std::size_t count = 0;
    for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1)) ++count;
    return count;
}

uid_t owner_of(const std::filesystem::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_uid;
}

TEST(PgCluster, RunsAsTheUnprivilegedUser) {
    AUTOCTL_REQUIRE_POSTGRES();
    PgCluster cluster;
    ASSERT_TRUE(cluster.is_running());
    ASSERT_GT(cluster.postmaster_pid(), 0);
    EXPECT_EQ(owner_of("/proc/" + std::to_string(cluster.postmaster_pid())), TestUser::get().uid());
    EXPECT_EQ(owner_of(cluster.pgdata()), TestUser::get().uid());

    auto conn = cluster.connect();
    EXPECT_EQ(conn.exec("select 1").scalar(), "1");
    EXPECT_EQ(conn.exec("select current_user").scalar(), "postgres");
    EXPECT_EQ(conn.exec("show server_encoding").scalar(), "UTF8");
    EXPECT_EQ(conn.exec("show listen_addresses").scalar(), "127.0.0.1");
    EXPECT_EQ(conn.exec("show unix_socket_directories").scalar(), cluster.socket_dir().string());

    // The unix socket in the temp dir works too.
    ConnInfo socket_info;
    socket_info.set_host(cluster.socket_dir().string()).set_port(cluster.port()).set_user("postgres");
    socket_info.set_dbname("postgres");
    Connection over_socket(socket_info);
    EXPECT_EQ(over_socket.exec("select 1").scalar(), "1");
    Connection over_uri(ConnInfo::parse(cluster.uri()));
    EXPECT_EQ(over_uri.exec("select current_database()").scalar(), "postgres");

    const auto status = cluster.pg_ctl().status(cluster.pgdata());
    ASSERT_TRUE(status.pid_file);
    EXPECT_EQ(status.pid_file->pid, cluster.postmaster_pid());
    EXPECT_EQ(status.pid_file->port, cluster.port());
    EXPECT_EQ(status.pid_file->status, "ready");
}

TEST(PgCluster, StopAndStartAgain) {
    AUTOCTL_REQUIRE_POSTGRES();
    PgCluster cluster;
    cluster.stop(StopMode::Fast);
    EXPECT_FALSE(cluster.is_running());
    EXPECT_FALSE(cluster.pg_ctl().status(cluster.pgdata()).is_running);
    cluster.stop(StopMode::Fast);  // idempotent
    cluster.start();
    EXPECT_TRUE(cluster.is_running());
    EXPECT_EQ(cluster.connect().exec("select 1").scalar(), "1");
}

TEST(PgCluster, ControlDataOfTheRealCluster) {
    AUTOCTL_REQUIRE_POSTGRES();
    PgCluster cluster;
    const auto data = cluster.pg_ctl().controldata(cluster.pgdata());
    EXPECT_NE(data.system_identifier, 0u);
    EXPECT_EQ(data.cluster_state, "in production");
    EXPECT_EQ(data.timeline, 1u);
    EXPECT_FALSE(data.checkpoint_lsn.is_zero());
    EXPECT_GE(data.checkpoint_lsn, data.redo_lsn);
    EXPECT_EQ(data.pg_control_version, 1300u);

    auto conn = cluster.connect();
    EXPECT_EQ(conn.exec("select system_identifier::text from pg_control_system()").scalar(),
              std::to_string(data.system_identifier));

    cluster.stop(StopMode::Fast);
    EXPECT_EQ(cluster.pg_ctl().controldata(cluster.pgdata()).cluster_state, "shut down");
}

TEST(PgCluster, StartFailureShowsTheServerLog) {
    AUTOCTL_REQUIRE_POSTGRES();
    PgCluster cluster(PgClusterOptions{false, "postgres", {}});
    write_auto_failover_conf(cluster.pgdata(), {{"shared_buffers", "not a size"}});
    try {
        cluster.start();
        FAIL() << "postgres started with an invalid setting";
    } catch (const common::Error& e) {
        const std::string message = e.what();
        EXPECT_EQ(e.kind(), common::ErrorKind::Command);
        EXPECT_NE(message.find("pg_ctl"), std::string::npos) << message;
        EXPECT_NE(message.find("shared_buffers"), std::string::npos) << message;
    }
}

TEST(ConfFiles, IncludeFileIsAppliedAndIdempotent) {
    AUTOCTL_REQUIRE_POSTGRES();
    PgCluster cluster(PgClusterOptions{false, "postgres", {}});
    const std::vector<Setting> settings = {{"work_mem", "7MB"}, {"cluster_name", "autoctl 'test' \\ node"}};
    write_auto_failover_conf(cluster.pgdata(), settings);
    write_auto_failover_conf(cluster.pgdata(), settings);
    EXPECT_FALSE(ensure_include_line(cluster.pgdata()));

    const auto conf = read_text(cluster.pgdata() / "postgresql.conf");
    EXPECT_EQ(count_of(conf, std::string(kIncludeLine)), 1u);
    const auto include_file = cluster.pgdata() / std::string(kAutoFailoverConfFile);
    EXPECT_EQ(owner_of(include_file), TestUser::get().uid());
    EXPECT_EQ(owner_of(cluster.pgdata() / "postgresql.conf"), TestUser::get().uid());

    cluster.start();
    auto conn = cluster.connect();
    EXPECT_EQ(conn.exec("show work_mem").scalar(), "7MB");
    EXPECT_EQ(conn.exec("show cluster_name").scalar(), "autoctl 'test' \\ node");
    const auto ours = conn.exec(
        "select name, applied, error is null from pg_file_settings "
        "where sourcefile like '%/postgresql-auto-failover.conf' order by seqno");
    ASSERT_EQ(ours.size(), 2u);
    EXPECT_EQ(ours[0].text(0), "work_mem");
    EXPECT_EQ(ours[1].text(0), "cluster_name");
    for (const auto& row : ours) {
        EXPECT_TRUE(row.as_bool(1)) << row.text(0);
        EXPECT_TRUE(row.as_bool(2)) << row.text(0);
    }

    // A rewrite while running, then a reload, changes the value.
    write_auto_failover_conf(cluster.pgdata(), {{"work_mem", "9MB"}});
    conn.exec("select pg_reload_conf()");
    auto fresh = cluster.connect();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (fresh.exec("show work_mem").scalar() != "9MB" && std::chrono::steady_clock::now() < deadline) {
        // The postmaster handles SIGHUP asynchronously; new backends see the new value after it.
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        fresh = cluster.connect();
    }
    EXPECT_EQ(fresh.exec("show work_mem").scalar(), "9MB");
}

TEST(ConfFiles, HbaRulesAreAppendedOnceAndValid) {
    AUTOCTL_REQUIRE_POSTGRES();
    PgCluster cluster;
    HbaRule rule;
    rule.type = HbaType::Host;
    rule.database = HbaName::name("my db");
    rule.user = HbaName::name("autoctl_node");
    rule.address = "10.1.2.3";
    rule.method = "scram-sha-256";
    HbaRule replication = rule;
    replication.database = HbaName::replication();
    const auto hba = cluster.pgdata() / "pg_hba.conf";
    EXPECT_TRUE(ensure_hba_rules(hba, {rule, replication}));
    EXPECT_FALSE(ensure_hba_rules(hba, {rule, replication}));
    const auto text = read_text(hba);
    EXPECT_EQ(count_of(text, std::string(kHbaComment)), 2u);
    EXPECT_EQ(owner_of(hba), TestUser::get().uid());

    auto conn = cluster.connect();
    EXPECT_EQ(conn.exec("select count(*) from pg_hba_file_rules where error is not null").scalar(), "0");
    const auto rows = conn.exec(
        "select array_to_string(database, ','), address, netmask, auth_method from pg_hba_file_rules "
        "where 'autoctl_node' = any(user_name) order by line_number");
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].text(0), "my db");
    EXPECT_EQ(rows[0].text(1), "10.1.2.3");
    EXPECT_EQ(rows[0].text(2), "255.255.255.255");
    EXPECT_EQ(rows[0].text(3), "scram-sha-256");
    EXPECT_EQ(rows[1].text(0), "replication");
}

}  // namespace
}  // namespace autoctl::pg

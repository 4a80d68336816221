#pragma once
// A real Postgres cluster for one test: initdb into a TempDir as the test user, started on
// 127.0.0.1 with a free port and its unix socket in the temp dir; stopped (immediate mode) and
// removed when the PgCluster goes away. When the current test failed, the server log is printed
// to stderr first.
//
//   TEST(MyPg, Works) {
//       AUTOCTL_REQUIRE_POSTGRES();
//       autoctl::fixture::PgCluster cluster;
//       auto conn = cluster.connect();
//       EXPECT_EQ(conn.exec("select 1").scalar(), "1");
//   }
//
// The cluster only ever stops the postmaster it started: by its PGDATA through pg_ctl, and as a
// last resort by the pid it recorded at start, never by process name.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autoctl/pg/bindir.hpp"
#include "autoctl/pg/connection.hpp"
#include "autoctl/pg/conninfo.hpp"
#include "autoctl/pg/pg_ctl.hpp"
#include "support/test_env.hpp"

// Skips the current test when no PostgreSQL installation is found.
#define AUTOCTL_REQUIRE_POSTGRES()                                                         \
    do {                                                                                    \
        if (!::autoctl::pg::try_find_bindir()) GTEST_SKIP() << "PostgreSQL is not installed"; \
    } while (false)

namespace autoctl::fixture {

struct PgClusterOptions {
    bool start = true;                 // start right after initdb
    std::string superuser = "postgres";
    // Extra settings given on the postgres command line (-c name=value).
    std::vector<std::pair<std::string, std::string>> settings;
};

class PgCluster {
public:
    explicit PgCluster(PgClusterOptions options = {});
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;
    ~PgCluster();

    // pg_ctl start on a free port (a new port is tried when another process took it meanwhile).
    void start();
    void stop(pg::StopMode mode = pg::StopMode::Fast);
    bool is_running() const;

    const std::filesystem::path& dir() const { return dir_.path(); }
    const std::filesystem::path& pgdata() const { return pgdata_; }
    const std::filesystem::path& socket_dir() const { return socket_dir_; }
    const std::filesystem::path& log_file() const { return log_file_; }
    int port() const { return port_; }
    const std::string& superuser() const { return options_.superuser; }
    // The postmaster this cluster started (0 when not running).
    pid_t postmaster_pid() const { return postmaster_pid_; }

    // Connection parameters for the superuser over TCP on 127.0.0.1.
    pg::ConnInfo conninfo(const std::string& dbname = "postgres") const;
    std::string uri(const std::string& dbname = "postgres") const { return conninfo(dbname).to_uri(); }
    pg::Connection connect(const std::string& dbname = "postgres") const;

    const pg::PgCtl& pg_ctl() const { return pg_ctl_; }
    std::string server_log() const;

private:
    void stop_for_good() noexcept;

    PgClusterOptions options_;
    TempDir dir_;
    std::filesystem::path pgdata_;
    std::filesystem::path socket_dir_;
    std::filesystem::path log_file_;
    pg::PgCtl pg_ctl_;
    int port_ = 0;
    pid_t postmaster_pid_ = 0;
};

}  // namespace autoctl::fixture

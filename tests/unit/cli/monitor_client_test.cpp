// Finding the monitor (--monitor, $PG_AUTOCTL_MONITOR, --pgdata) and libpq's messages, without a
// server.

#include "autoctl/cli/monitor_client.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

#include "autoctl/cli/command_line.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/ini_file.hpp"

namespace autoctl::cli {
namespace {

class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : name_(name) {
        if (const char* old = std::getenv(name)) old_ = old;
        if (value != nullptr) {
            ::setenv(name, value, 1);
        } else {
            ::unsetenv(name);
        }
    }
    ~ScopedEnv() {
        if (old_) {
            ::setenv(name_, old_->c_str(), 1);
        } else {
            ::unsetenv(name_);
        }
    }

private:
    const char* name_;
    std::optional<std::string> old_;
};

common::Config config_from(const std::string& text) {
    return common::Config::from_ini(common::IniFile::parse(text, "test.cfg"), "test.cfg");
}

const std::string kMonitorConfig =
    "[pg_autoctl]\nrole = monitor\nhostname = monitor.example\n\n"
    "[postgresql]\npgdata = /data/monitor\nport = 55432\n\n"
    "[ssl]\nsslmode = require\n";

const std::string kKeeperConfig =
    "[pg_autoctl]\nrole = keeper\n"
    "monitor = postgres://autoctl_node@monitor.example:55432/pg_auto_failover?sslmode=prefer\n"
    "formation = f1\ngroup = 2\nname = node_3\n\n"
    "[postgresql]\npgdata = /data/node1\nport = 55433\n";

TEST(MonitorClientTest, MonitorUriFromMonitorConfig) {
    const auto config = config_from(kMonitorConfig);
    EXPECT_EQ(monitor_uri_from_config(config, "autoctl"),
              "postgres://autoctl@localhost:55432/pg_auto_failover?sslmode=require");
    EXPECT_EQ(monitor_uri_from_config(config, "autoctl_node", "monitor.example"),
              "postgres://autoctl_node@monitor.example:55432/pg_auto_failover?sslmode=require");

    const auto with_host = config_from(
        "[pg_autoctl]\nrole = monitor\n[postgresql]\npgdata = /d\nport = 5432\nhost = /tmp/sock dir\n"
        "[ssl]\nsslmode = verify-full\nca_file = /etc/ssl/ca.crt\ncrl_file = /etc/ssl/crl.pem\n");
    EXPECT_EQ(monitor_uri_from_config(with_host, "autoctl"),
              "postgres://autoctl@%2Ftmp%2Fsock%20dir:5432/pg_auto_failover?sslmode=verify-full"
              "&sslrootcert=%2Fetc%2Fssl%2Fca.crt&sslcrl=%2Fetc%2Fssl%2Fcrl.pem");
    EXPECT_EQ(monitor_uri_from_config(with_host, "autoctl", "::1"),
              "postgres://autoctl@[::1]:5432/pg_auto_failover?sslmode=verify-full"
              "&sslrootcert=%2Fetc%2Fssl%2Fca.crt&sslcrl=%2Fetc%2Fssl%2Fcrl.pem");
}

TEST(MonitorClientTest, TargetFromConfig) {
    const auto monitor = monitor_target_from_config(config_from(kMonitorConfig));
    EXPECT_EQ(monitor.uri, "postgres://autoctl@localhost:55432/pg_auto_failover?sslmode=require");
    EXPECT_EQ(monitor.advertised_uri, "postgres://autoctl_node@monitor.example:55432/pg_auto_failover?sslmode=require");
    EXPECT_EQ(monitor.formation, "");
    EXPECT_EQ(monitor.group, -1);

    const auto keeper = monitor_target_from_config(config_from(kKeeperConfig));
    EXPECT_EQ(keeper.uri, "postgres://autoctl_node@monitor.example:55432/pg_auto_failover?sslmode=prefer");
    EXPECT_EQ(keeper.advertised_uri, keeper.uri);
    EXPECT_EQ(keeper.formation, "f1");
    EXPECT_EQ(keeper.group, 2);
    EXPECT_EQ(keeper.node_name, "node_3");

    auto disabled = config_from(kKeeperConfig);
    disabled.set("pg_autoctl.monitor", "PG_AUTOCTL_DISABLED");
    try {
        monitor_target_from_config(disabled);
        FAIL() << "expected an error";
    } catch (const common::Error& error) {
        EXPECT_EQ(error.kind(), common::ErrorKind::Config);
        EXPECT_NE(std::string(error.what()).find("--monitor"), std::string::npos) << error.what();
    }
}

TEST(MonitorClientTest, ConnectTimeout) {
    EXPECT_EQ(connect_timeout_from(nullptr), std::chrono::seconds(2));
    EXPECT_EQ(connect_timeout_from("5"), std::chrono::seconds(5));
    EXPECT_EQ(connect_timeout_from(""), std::chrono::seconds(2));
    EXPECT_EQ(connect_timeout_from("0"), std::chrono::seconds(2));
    EXPECT_EQ(connect_timeout_from("-3"), std::chrono::seconds(2));
    EXPECT_EQ(connect_timeout_from("2s"), std::chrono::seconds(2));
}

TEST(MonitorClientTest, ConnectionParams) {
    const ScopedEnv no_host("PGHOST", nullptr);
    const ScopedEnv no_port("PGPORT", nullptr);
    auto params = connection_params("postgres://autoctl_node:secret@10.0.0.5:6000/pg_auto_failover?sslmode=require");
    EXPECT_EQ(params.endpoint, "10.0.0.5:6000");
    EXPECT_EQ(params.sslmode, "require");
    EXPECT_EQ(params.sslrootcert, "");

    params = connection_params("postgresql://m1:5432,m2:5433/pg_auto_failover?sslrootcert=/ca.crt&sslcrl=/crl");
    EXPECT_EQ(params.endpoint, "m1:5432,m2:5433");
    EXPECT_EQ(params.sslmode, "prefer");
    EXPECT_EQ(params.sslrootcert, "/ca.crt");
    EXPECT_EQ(params.sslcrl, "/crl");

    EXPECT_EQ(connection_params("postgres:///pg_auto_failover").endpoint, "localhost:5432");
    EXPECT_EQ(connection_params("postgres://h1,h2:6000/x").endpoint, "h1:5432,h2:6000");  // ports per host
    EXPECT_EQ(connection_params("host=h1,h2 port=6000").endpoint, "h1:6000,h2:6000");  // one port for all
    EXPECT_EQ(connection_params("host=db port=7000 dbname=x").endpoint, "db:7000");

    try {
        connection_params("postgres://u:secret@host/db?nonsense=1");
        FAIL() << "expected an error";
    } catch (const common::Error& error) {
        EXPECT_EQ(error.kind(), common::ErrorKind::Usage);
        const std::string message = error.what();
        EXPECT_NE(message.find("nonsense"), std::string::npos) << message;
        EXPECT_EQ(message.find("secret"), std::string::npos) << message;
    }
}

TEST(MonitorClientTest, ConnectionParamsUseLibpqEnvironmentDefaults) {
    const ScopedEnv host("PGHOST", "envhost");
    const ScopedEnv port("PGPORT", "6543");
    EXPECT_EQ(connection_params("postgres:///pg_auto_failover").endpoint, "envhost:6543");
}

TEST(MonitorClientTest, OneLineLibpqError) {
    EXPECT_EQ(one_line_libpq_error("connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n"
                                   "\tIs the server running on that host and accepting TCP/IP connections?\n"),
              "Connection refused; Is the server running on that host and accepting TCP/IP connections?");
    EXPECT_EQ(one_line_libpq_error("connection to server at \"127.0.0.1\", port 5 failed: FATAL:  role \"x\" does "
                                   "not exist\n"),
              "role \"x\" does not exist");
    EXPECT_EQ(one_line_libpq_error("timeout expired\n"), "timeout expired");
    // Several servers tried: each keeps its name.
    EXPECT_EQ(one_line_libpq_error("connection to server at \"a\" (127.0.0.1), port 1 failed: Connection refused\n"
                                   "connection to server at \"b\", port 2 failed: Connection refused\n"),
              "connection to server at \"a\" (127.0.0.1), port 1 failed: Connection refused; "
              "connection to server at \"b\", port 2 failed: Connection refused");
}

// --monitor and --pgdata as parsed by CLI11.
struct Parsed {
    CLI::App app;
    MonitorTargetOptions options;
    explicit Parsed(std::vector<std::string> args) {
        options.add_to(app);
        std::reverse(args.begin(), args.end());
        app.parse(args);
    }
};

TEST(MonitorClientTest, ResolveMonitorOption) {
    const ScopedEnv no_env("PG_AUTOCTL_MONITOR", nullptr);
    const ScopedEnv no_pgdata("PGDATA", nullptr);
    Parsed parsed({"--monitor", "postgres://autoctl_node@m:5432/pg_auto_failover", "--pgdata", "/nowhere"});
    const auto target = parsed.options.resolve();  // --pgdata is ignored (a warning), not read
    EXPECT_EQ(target.uri, "postgres://autoctl_node@m:5432/pg_auto_failover");
    EXPECT_EQ(target.advertised_uri, target.uri);
    EXPECT_EQ(target.formation, "");
}

TEST(MonitorClientTest, ResolveMonitorFromEnvironment) {
    const ScopedEnv env("PG_AUTOCTL_MONITOR", "postgres://autoctl_node@envmonitor/pg_auto_failover");
    const ScopedEnv pgdata("PGDATA", "/nowhere");
    Parsed parsed({});
    EXPECT_EQ(parsed.options.resolve().uri, "postgres://autoctl_node@envmonitor/pg_auto_failover");
}

TEST(MonitorClientTest, ResolveWithNeitherIsFatalUsage) {
    const ScopedEnv no_env("PG_AUTOCTL_MONITOR", nullptr);
    const ScopedEnv no_pgdata("PGDATA", nullptr);
    Parsed parsed({});
    try {
        parsed.options.resolve();
        FAIL() << "expected an error";
    } catch (const FatalError& error) {
        EXPECT_EQ(error.kind(), common::ErrorKind::Usage);
        EXPECT_STREQ(error.what(), "Failed to set PGDATA either from the environment or from --pgdata");
    }
}

}  // namespace
}  // namespace autoctl::cli

// The monitor commands of the built binary, where no monitor is needed: option errors, the
// monitor not given, and a monitor that is not there (a closed port on 127.0.0.1).

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "../../support/process.hpp"
#include "../../support/temp_dir.hpp"

#ifndef AUTOCTL_BINARY
#error "AUTOCTL_BINARY must name the autoctl executable"
#endif

namespace autoctl {
namespace {

// A port on 127.0.0.1 that nothing listens on (bound, read, closed).
int closed_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    socklen_t length = sizeof address;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
        throw std::runtime_error("could not find a free port");
    }
    ::close(fd);
    return ntohs(address.sin_port);
}

std::size_t count_lines(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

class MonitorCliBinaryTest : public testing::Test {
protected:
    test::ProcessResult run(const std::vector<std::string>& args, const std::vector<std::string>& extra_env = {}) {
        std::vector<std::string> argv{AUTOCTL_BINARY};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<std::string> env{"HOME=" + (dir_ / "home").string(), "PATH=/usr/bin:/bin", "LANG=C"};
        env.insert(env.end(), extra_env.begin(), extra_env.end());
        return test::run_process(argv, env);
    }

    test::TempDir dir_;
};

TEST_F(MonitorCliBinaryTest, NeitherMonitorNorPgdata) {
    for (const auto& args : std::vector<std::vector<std::string>>{{"show", "state"},
                                                                  {"show", "events"},
                                                                  {"show", "uri"},
                                                                  {"show", "settings"},
                                                                  {"show", "standby-names"},
                                                                  {"get", "formation", "settings"},
                                                                  {"get", "formation", "number-sync-standbys"},
                                                                  {"get", "node", "candidate-priority"},
                                                                  {"drop", "formation", "--formation", "f2"},
                                                                  {"create", "formation", "--formation", "f2",
                                                                   "--kind", "pgsql"}}) {
        const auto result = run(args);
        EXPECT_EQ(result.exit_code, 1) << args[1];
        EXPECT_EQ(result.out, "");
        EXPECT_EQ(count_lines(result.err), 3u) << result.err;
        EXPECT_NE(result.err.find(" ERROR Failed to get value for environment variable 'PG_AUTOCTL_MONITOR', "
                                  "which is unset\n"),
                  std::string::npos)
            << result.err;
        EXPECT_NE(result.err.find(" WARN  This command also supports the --monitor option, which is not used here\n"),
                  std::string::npos);
        EXPECT_NE(result.err.find(" FATAL Failed to set PGDATA either from the environment or from --pgdata\n"),
                  std::string::npos);
    }
}

TEST_F(MonitorCliBinaryTest, UnreachableMonitorIsOneLineAndExit6) {
    const int port = closed_port();
    const std::string endpoint = "127.0.0.1:" + std::to_string(port);
    const std::string uri = "postgres://autoctl_node:secret@" + endpoint + "/pg_auto_failover";
    for (const auto& args : std::vector<std::vector<std::string>>{{"show", "state", "--monitor", uri},
                                                                  {"show", "uri", "--monitor", uri},
                                                                  {"get", "formation", "settings", "--monitor", uri}}) {
        const auto started = std::chrono::steady_clock::now();
        const auto result = run(args);
        EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
        EXPECT_EQ(result.exit_code, 6) << result.err;
        EXPECT_EQ(result.out, "");
        EXPECT_EQ(count_lines(result.err), 1u) << result.err;
        EXPECT_NE(result.err.find(" ERROR failed to connect to the monitor at " + endpoint + " "), std::string::npos)
            << result.err;
        EXPECT_NE(result.err.find("Connection refused"), std::string::npos) << result.err;
        EXPECT_EQ(result.err.find("secret"), std::string::npos) << result.err;
    }
}

TEST_F(MonitorCliBinaryTest, MonitorFromEnvironmentAndPgdataIgnored) {
    const std::string uri = "postgres://autoctl_node@127.0.0.1:" + std::to_string(closed_port()) + "/pg_auto_failover";
    auto result = run({"show", "state"}, {"PG_AUTOCTL_MONITOR=" + uri});
    EXPECT_EQ(result.exit_code, 6) << result.err;

    result = run({"show", "state", "--pgdata", (dir_ / "pgdata").string()}, {"PG_AUTOCTL_MONITOR=" + uri});
    EXPECT_EQ(result.exit_code, 6) << result.err;
    EXPECT_NE(result.err.find(" WARN  Given --monitor URI, the --pgdata option is ignored\n"), std::string::npos)
        << result.err;
}

TEST_F(MonitorCliBinaryTest, MonitorUriOfAMonitorNodeIsOffline) {
    test::write_text(dir_ / "home/.config/autoctl" / (dir_ / "monitor").relative_path() / "autoctl.cfg",
                     "[pg_autoctl]\nrole = monitor\nhostname = monitor.example\n\n"
                     "[postgresql]\npgdata = " + (dir_ / "monitor").string() + "\nport = 55432\n");
    auto result = run({"show", "uri", "--formation", "monitor", "--pgdata", (dir_ / "monitor").string()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "postgres://autoctl_node@monitor.example:55432/pg_auto_failover?sslmode=prefer\n");

    result = run({"show", "uri", "--formation", "monitor", "--json", "--pgdata", (dir_ / "monitor").string()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out,
              "{\n    \"monitor\": \"postgres://autoctl_node@monitor.example:55432/pg_auto_failover?sslmode=prefer\"\n}\n");
}

TEST_F(MonitorCliBinaryTest, KeeperWithoutMonitor) {
    test::write_text(dir_ / "home/.config/autoctl" / (dir_ / "node").relative_path() / "autoctl.cfg",
                     "[pg_autoctl]\nrole = keeper\nmonitor = PG_AUTOCTL_DISABLED\n\n"
                     "[postgresql]\npgdata = " + (dir_ / "node").string() + "\nport = 55433\n");
    const auto result = run({"show", "state", "--pgdata", (dir_ / "node").string()});
    EXPECT_EQ(result.exit_code, 2) << result.err;
    EXPECT_NE(result.err.find("use --monitor"), std::string::npos) << result.err;
}

TEST_F(MonitorCliBinaryTest, CreateFormationNeedsFormationAndKind) {
    const std::string uri = "postgres://autoctl_node@127.0.0.1:1/pg_auto_failover";
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"create", "formation", "--monitor", uri},
             {"create", "formation", "--formation", "f2", "--monitor", uri},
             {"create", "formation", "--kind", "pgsql", "--monitor", uri}}) {
        const auto result = run(args);
        EXPECT_EQ(result.exit_code, 1);
        EXPECT_EQ(count_lines(result.err), 1u) << result.err;
        EXPECT_NE(result.err.find(" ERROR Options --formation and --kind are mandatory\n"), std::string::npos)
            << result.err;
    }
    auto result = run({"create", "formation", "--formation", "f2", "--kind", "oracle", "--monitor", uri});
    EXPECT_EQ(result.exit_code, 1);
    result = run({"create", "formation", "--formation", "f2", "--kind", "citus", "--enable-secondary",
                  "--disable-secondary", "--monitor", uri});
    EXPECT_EQ(result.exit_code, 1);
    result = run({"drop", "formation", "--monitor", uri});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find(" ERROR Option --formation is mandatory\n"), std::string::npos) << result.err;
}

TEST_F(MonitorCliBinaryTest, OptionValuesAreChecked) {
    const std::string uri = "postgres://autoctl_node@127.0.0.1:1/pg_auto_failover";
    EXPECT_EQ(run({"show", "events", "--count", "-1", "--monitor", uri}).exit_code, 1);
    EXPECT_EQ(run({"show", "state", "--group", "x", "--monitor", uri}).exit_code, 1);
    EXPECT_EQ(run({"show", "state", "--monitor", "mysql://x"}).exit_code, 1);
    EXPECT_EQ(run({"show", "uri", "--group", "0", "--monitor", uri}).exit_code, 1);  // no --group here
}

}  // namespace
}  // namespace autoctl

// Runs the built autoctl binary (AUTOCTL_BINARY) and checks stdout, stderr and exit codes.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../../support/process.hpp"
#include "../../support/temp_dir.hpp"

#ifndef AUTOCTL_BINARY
#error "AUTOCTL_BINARY must name the autoctl executable"
#endif

namespace autoctl {
namespace {

const std::string kKeeperConfig =
    "[pg_autoctl]\n"
    "role = keeper\n"
    "monitor = postgres://autoctl_node@localhost:55432/pg_auto_failover?sslmode=prefer\n"
    "formation = default\n"
    "group = 0\n"
    "name = node_1\n"
    "hostname = localhost\n"
    "nodekind = standalone\n"
    "\n"
    "[postgresql]\n"
    "pgdata = /data/node1\n"
    "port = 55433\n";

const std::string kMonitorConfig =
    "[pg_autoctl]\n"
    "role = monitor\n"
    "\n"
    "[postgresql]\n"
    "pgdata = /data/monitor\n"
    "port = 55432\n";

std::size_t count_lines(const std::string& text) {
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

class AutoctlBinaryTest : public testing::Test {
protected:
    // Runs autoctl with HOME in the test's directory and no PGDATA unless given in `extra_env`.
    test::ProcessResult run(const std::vector<std::string>& args,
                            const std::vector<std::string>& extra_env = {}) {
        std::vector<std::string> argv{AUTOCTL_BINARY};
        argv.insert(argv.end(), args.begin(), args.end());
        std::vector<std::string> env{"HOME=" + (dir_ / "home").string(), "PATH=/usr/bin:/bin", "LANG=C"};
        env.insert(env.end(), extra_env.begin(), extra_env.end());
        return test::run_process(argv, env);
    }

    std::string pgdata() const { return (dir_ / "pgdata").string(); }
    std::filesystem::path config_file() const {
        return dir_ / "home/.config/autoctl" / (dir_ / "pgdata").relative_path() / "autoctl.cfg";
    }

    test::TempDir dir_;
};

TEST_F(AutoctlBinaryTest, VersionFlagAndCommand) {
    const std::string expected = "autoctl version 0.1.0\ncompatible with pg_auto_failover 2.2\n";
    for (const auto& args : {std::vector<std::string>{"--version"}, {"-V"}, {"version"}}) {
        const auto result = run(args);
        EXPECT_EQ(result.exit_code, 0) << args[0];
        EXPECT_EQ(result.out, expected) << args[0];
        EXPECT_EQ(result.err, "") << args[0];
    }
}

TEST_F(AutoctlBinaryTest, VersionJson) {
    const auto result = run({"version", "--json"});
    ASSERT_EQ(result.exit_code, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_EQ(json.at("autoctl"), "0.1.0");
    EXPECT_EQ(json.at("pg_auto_failover"), "2.2");
}

TEST_F(AutoctlBinaryTest, HelpFlagPrintsUsageOnStderr) {
    const auto result = run({"--help"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(result.err.rfind("autoctl: ", 0), 0u) << result.err;
    for (const char* line : {"  + config ", "  + show ", "    help ", "    version ", "-v,--verbose"}) {
        EXPECT_NE(result.err.find(line), std::string::npos) << line << " in\n" << result.err;
    }
}

TEST_F(AutoctlBinaryTest, LeafHelpShowsItsOptions) {
    const auto result = run({"config", "get", "--help"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_NE(result.err.find("usage: autoctl config get [OPTIONS] [section.key]"), std::string::npos)
        << result.err;
    EXPECT_NE(result.err.find("--pgdata"), std::string::npos);
    EXPECT_NE(result.err.find("PGDATA"), std::string::npos);
}

TEST_F(AutoctlBinaryTest, HelpCommandPrintsWholeTreeOnStdout) {
    const auto result = run({"help"});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.err, "");
    for (const char* text : {"  autoctl\n  + create ", "  + config ", "  autoctl config\n    check  Check", "    get    Get",
                             "    set    Set", "  autoctl show\n    uri            Show",
                             "    file           List", "  autoctl create\n    monitor      Initialize an autoctl monitor node\n    postgres     Initialize an autoctl data node (keeper)\n    coordinator  Initialize an autoctl Citus coordinator node (group 0)\n    worker       Initialize an autoctl Citus worker node\n    formation    Create",
                             "  autoctl drop\n    monitor    Drop the autoctl monitor\n    node       Drop a node from the autoctl monitor\n    formation  Drop",
                             "  autoctl get formation\n    settings  "}) {
        EXPECT_NE(result.out.find(text), std::string::npos) << text << " in\n" << result.out;
    }
}

TEST_F(AutoctlBinaryTest, UnknownCommandIsOneLineAndExit1) {
    auto result = run({"foo"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(result.err, "autoctl: foo: unknown command, see \"autoctl --help\"\n");

    result = run({"config", "foo"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.err, "autoctl config: foo: unknown command, see \"autoctl config --help\"\n");

    result = run({"config", "show", "file"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.err, "autoctl config: show: unknown command, see \"autoctl config --help\"\n");
}

TEST_F(AutoctlBinaryTest, UnknownOptionIsOneLineAndExit1) {
    auto result = run({"config", "get", "--bogus", "--pgdata", pgdata()});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.err,
              "autoctl config get: unknown option \"--bogus\", see \"autoctl config get --help\"\n");

    result = run({"--nope", "version"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("unknown option \"--nope\""), std::string::npos) << result.err;
    EXPECT_EQ(count_lines(result.err), 1u);
}

TEST_F(AutoctlBinaryTest, BadOrMissingValueIsOneLineAndExit1) {
    auto result = run({"version", "--json=maybe"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("autoctl version: "), std::string::npos) << result.err;
    EXPECT_NE(result.err.find("maybe"), std::string::npos) << result.err;
    EXPECT_EQ(count_lines(result.err), 1u) << result.err;

    result = run({"show", "file", "--pgdata"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("autoctl show file: --pgdata"), std::string::npos) << result.err;
    EXPECT_EQ(count_lines(result.err), 1u) << result.err;

    result = run({"config", "set", "--pgdata", pgdata(), "postgresql.port"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("config set postgresql.port: value is required"), std::string::npos) << result.err;
    EXPECT_EQ(count_lines(result.err), 1u) << result.err;

    // A password may come from standard input; an empty one is refused before anything is read.
    result = run({"config", "set", "--pgdata", pgdata(), "replication.password"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("no value on standard input"), std::string::npos) << result.err;
    EXPECT_EQ(count_lines(result.err), 1u) << result.err;

    result = run({"show", "file", "--pgdata", pgdata(), "--config", "--pid"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("--config excludes --pid"), std::string::npos) << result.err;

    result = run({"config", "get", "--pgdata", pgdata(), "a.b", "extra"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("unexpected argument \"extra\""), std::string::npos) << result.err;
}

TEST_F(AutoctlBinaryTest, CommandSetWithoutCommandListsCommands) {
    const auto result = run({"config"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_EQ(result.out, "");
    EXPECT_EQ(
        result.err.rfind("autoctl config: expected a command\n\nAvailable commands:\n  autoctl config\n", 0),
        0u)
        << result.err;
    for (const char* line : {"    check  ", "    get    ", "    set    "}) {
        EXPECT_NE(result.err.find(line), std::string::npos) << line;
    }
    EXPECT_EQ(run({}).err.rfind("autoctl: expected a command\n", 0), 0u);
}

TEST_F(AutoctlBinaryTest, MissingPgdataIsExit1) {
    const auto result = run({"config", "get"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("ERROR failed to set PGDATA either from the environment or from --pgdata"),
              std::string::npos)
        << result.err;
}

TEST_F(AutoctlBinaryTest, MissingConfigFileIsExit2) {
    const auto result = run({"config", "get", "--pgdata", pgdata()});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("configuration file \"" + config_file().string() + "\" does not exist"),
              std::string::npos)
        << result.err;
}

TEST_F(AutoctlBinaryTest, ShowFileFindsTheConfigFile) {
    const auto result = run({"show", "file", "--pgdata", pgdata(), "--config"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, config_file().string() + "\n");
}

TEST_F(AutoctlBinaryTest, ConfigGetSetRoundTrip) {
    test::write_text(config_file(), kKeeperConfig);

    auto result = run({"config", "get", "--pgdata", pgdata(), "postgresql.port"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "55433\n");

    result = run({"config", "set", "postgresql.port", "6000", "--pgdata", pgdata()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "6000\n");
    EXPECT_NE(test::read_text(config_file()).find("\nport = 6000\n"), std::string::npos);

    // PGDATA from the environment.
    result = run({"config", "get", "postgresql.port"}, {"PGDATA=" + pgdata()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "6000\n");

    // A default, for a key the file does not set.
    result = run({"config", "get", "--pgdata", pgdata(), "timeout.network_partition_timeout"});
    EXPECT_EQ(result.out, "20\n");

    // A negative value after "--".
    result = run({"config", "set", "--pgdata", pgdata(), "pg_autoctl.group", "--", "-1"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, "-1\n");

    // The whole file, then a blank line.
    result = run({"config", "get", "--pgdata", pgdata()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_EQ(result.out, test::read_text(config_file()) + "\n");
    EXPECT_NE(result.out.find("[timeout]\nnetwork_partition_timeout = 20\n"), std::string::npos);

    result = run({"config", "get", "--pgdata", pgdata(), "--json"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_EQ(json.at("postgresql").at("port"), 6000);
    EXPECT_EQ(json.at("pg_autoctl").at("group"), -1);
    EXPECT_EQ(json.at("pg_autoctl").at("role"), "keeper");
}

TEST_F(AutoctlBinaryTest, ConfigSetRejectsBadValuesWithExit2) {
    test::write_text(config_file(), kKeeperConfig);
    auto result = run({"config", "set", "--pgdata", pgdata(), "postgresql.port", "abc"});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("ERROR invalid value \"abc\" for \"postgresql.port\": expected an integer"),
              std::string::npos)
        << result.err;
    EXPECT_EQ(count_lines(result.err), 1u) << result.err;
    EXPECT_EQ(test::read_text(config_file()), kKeeperConfig);

    result = run({"config", "get", "--pgdata", pgdata(), "postgresql.nope"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("unknown configuration key \"postgresql.nope\""), std::string::npos)
        << result.err;

    result = run({"config", "set", "--pgdata", pgdata(), "nope.nope", "1"});
    EXPECT_EQ(result.exit_code, 1);
}

TEST_F(AutoctlBinaryTest, ConfigCheck) {
    test::write_text(config_file(), kKeeperConfig);
    auto result = run({"config", "check", "--pgdata", pgdata()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    EXPECT_NE(result.err.find(" INFO  configuration file \"" + config_file().string() +
                              "\" is a valid keeper configuration"),
              std::string::npos)
        << result.err;

    result = run({"-q", "config", "check", "--pgdata", pgdata()});
    EXPECT_EQ(result.exit_code, 0);
    EXPECT_EQ(result.err, "");

    test::write_text(config_file(), kKeeperConfig + "[ssl]\nactive = maybe\n");
    result = run({"config", "check", "--pgdata", pgdata()});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find(config_file().string() + ":14: invalid value \"maybe\" for \"ssl.active\""),
              std::string::npos)
        << result.err;

    test::write_text(config_file(), kKeeperConfig + "unknown_key = 1\n");
    result = run({"config", "check", "--pgdata", pgdata()});
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_NE(result.err.find("unknown key \"postgresql.unknown_key\""), std::string::npos) << result.err;
}

TEST_F(AutoctlBinaryTest, ShowFileTableAndJson) {
    auto result = run({"show", "file", "--pgdata", pgdata()});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const std::string data = (dir_ / "home/.local/share/autoctl").string() + pgdata();
    const std::string expected =
        "   File | Path\n"
        "--------+----------------\n"
        " Config | " +
        config_file().string() +
        "\n"
        "  State | " +
        data +
        "/autoctl.state\n"
        "   Init | " +
        data +
        "/autoctl.init\n"
        "    Pid | /tmp/autoctl" +
        pgdata() +
        "/autoctl.pid\n"
        "\n";
    EXPECT_EQ(result.out, expected);

    result =
        run({"show", "file", "--pgdata", pgdata(), "--json"}, {"XDG_RUNTIME_DIR=" + dir_.path().string()});
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_EQ(json.at("pid"), dir_.path().string() + "/autoctl" + pgdata() + "/autoctl.pid");
    EXPECT_EQ(json.size(), 4u);
}

TEST_F(AutoctlBinaryTest, ShowFileOnAMonitor) {
    test::write_text(config_file(), kMonitorConfig);
    auto result = run({"show", "file", "--pgdata", pgdata(), "--json"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    const auto json = nlohmann::json::parse(result.out);
    EXPECT_EQ(json.size(), 2u);
    EXPECT_TRUE(json.contains("config"));
    EXPECT_TRUE(json.contains("pid"));

    result = run({"show", "file", "--pgdata", pgdata(), "--state"});
    EXPECT_EQ(result.exit_code, 1);
    EXPECT_NE(result.err.find("a monitor has no state file"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace autoctl

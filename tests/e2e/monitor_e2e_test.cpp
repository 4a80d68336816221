// The monitor node end to end: the built autoctl binary creates a monitor (initdb, settings,
// roles, database, schema), runs it under its supervisor (postgres + monitor service), restarts
// a killed postgres, hands the monitor service over to a second one, stops, and refuses bad
// input. autoctl runs as the unprivileged test user from a copy of the binary in the test's
// directory, with HOME and XDG_RUNTIME_DIR there, so configuration and pid files land there too.
// Every wait is on a condition (polled), never a fixed sleep. Processes are stopped by the pid
// the test started (or, for the postmaster, the pid its own postmaster.pid names).

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "autoctl/common/tls.hpp"
#include "autoctl/pg/command.hpp"
#include "autoctl/pg/connection.hpp"
#include "autoctl/pg/controldata.hpp"
#include "autoctl/pg/pg_ctl.hpp"
#include "support/pg_cluster.hpp"

#ifndef AUTOCTL_BINARY
#error "AUTOCTL_BINARY must name the autoctl executable"
#endif

namespace autoctl {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using fixture::TempDir;
using fixture::TestUser;
using Env = std::vector<std::pair<std::string, std::string>>;

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

// Whether `pid` is a process that has not exited (a zombie counts as gone).
bool process_alive(pid_t pid) {
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return false;
    const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    const auto paren = stat.rfind(')');
    return !(paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z');
}

// Polls `condition` every 100 ms until it holds or `limit` passes.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(100ms);
    }
    return true;
}

// The pid written in a postmaster.pid whose process is alive.
std::optional<pid_t> live_postmaster(const fs::path& pgdata) {
    const auto parsed = pg::parse_postmaster_pid(read_text(pgdata / "postmaster.pid"));
    if (!parsed || !process_alive(parsed->pid)) return std::nullopt;
    return parsed->pid;
}

mode_t file_mode(const fs::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

// One autoctl node: its own directory with bin/autoctl, HOME and XDG_RUNTIME_DIR, a PGDATA and a
// port. Processes started with start() are stopped (SIGQUIT, then SIGKILL) if still running at
// the end, and a postmaster left in PGDATA is stopped with pg_ctl.
class AutoctlNode {
public:
    explicit AutoctlNode(std::optional<fs::path> pgdata = std::nullopt)
        : dir_("autoctl-e2e-"), port_(fixture::free_port()) {
        pgdata_ = pgdata ? *pgdata : dir_ / "pgdata";
        for (const auto* sub : {"bin", "home", "run"}) {
            fs::create_directory(dir_ / sub);
            fixture::chown_to_test_user(dir_ / sub);
        }
        binary_ = dir_ / "bin" / "autoctl";
        fs::copy_file(AUTOCTL_BINARY, binary_, fs::copy_options::overwrite_existing);
        ::chmod(binary_.c_str(), 0755);
        fixture::chown_to_test_user(binary_);
    }
    AutoctlNode(const AutoctlNode&) = delete;
    AutoctlNode& operator=(const AutoctlNode&) = delete;
    ~AutoctlNode() { cleanup(); }

    const fs::path& dir() const { return dir_.path(); }
    const fs::path& pgdata() const { return pgdata_; }
    int port() const { return port_; }
    fs::path config_file() const { return dir() / "home/.config/autoctl" / pgdata_.relative_path() / "autoctl.cfg"; }
    fs::path init_file() const { return dir() / "home/.local/share/autoctl" / pgdata_.relative_path() / "autoctl.init"; }
    fs::path pid_file() const { return dir() / "run/autoctl" / pgdata_.relative_path() / "autoctl.pid"; }

    std::vector<std::string> create_args(const std::vector<std::string>& extra) const {
        std::vector<std::string> args = {"create",     "monitor",   "--pgdata", pgdata_.string(), "--pgport",
                                         std::to_string(port_), "--hostname", "127.0.0.1", "--listen", "127.0.0.1"};
        args.insert(args.end(), extra.begin(), extra.end());
        return args;
    }
    std::string monitor_uri(const std::string& sslmode) const {
        return "postgres://autoctl_node@127.0.0.1:" + std::to_string(port_) + "/pg_auto_failover?sslmode=" + sslmode;
    }

    pg::Command command(const std::vector<std::string>& args, const Env& env = {}) const {
        pg::Command command(binary_.string());
        command.args(args);
        command.clear_env()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", (dir() / "home").string())
            .env("XDG_RUNTIME_DIR", (dir() / "run").string())
            .env("LANG", "C")
            .cwd(dir());
        for (const auto& [name, value] : env) command.env(name, value);
        if (TestUser::get().run_as()) command.run_as(*TestUser::get().run_as());
        return command;
    }

    pg::CommandResult autoctl(const std::vector<std::string>& args, const Env& env = {},
                              std::chrono::seconds timeout = 90s) const {
        return command(args, env).timeout(timeout).run_unchecked();
    }

    // Starts autoctl in the background, its output appended to <dir>/<log>.
    pid_t start(const std::vector<std::string>& args, const std::string& log, const Env& env = {}) {
        const pid_t pid = command(args, env).output_file(dir() / log).start_background();
        children_.push_back(pid);
        return pid;
    }
    std::string log(const std::string& name) const { return read_text(dir() / name); }

    // The exit status of a process started with start(), 128 + signal when killed, -1 when it
    // is still running after `limit`.
    int wait_exit(pid_t pid, std::chrono::milliseconds limit) {
        int status = 0;
        const bool exited = wait_until(
            [&] {
                const pid_t reaped = ::waitpid(pid, &status, WNOHANG);
                return reaped == pid || (reaped < 0 && errno == ECHILD);
            },
            limit);
        if (!exited) return -1;
        children_.erase(std::remove(children_.begin(), children_.end(), pid), children_.end());
        if (WIFEXITED(status)) return WEXITSTATUS(status);
        if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
        return -1;
    }

    pg::ConnInfo superuser_conninfo(const std::string& dbname = "pg_auto_failover") const {
        pg::ConnInfo info;
        info.set_host(pgdata_.string()).set_port(port_).set_user(TestUser::get().name()).set_dbname(dbname);
        info.set_application_name("autoctl-e2e");
        return info;
    }
    pg::Connection connect() const { return pg::Connection(superuser_conninfo(), pg::ConnectOptions{5s}); }

    // `show state --pgdata` succeeds: Postgres serves the monitor database.
    bool show_state_works() const { return autoctl({"show", "state", "--pgdata", pgdata_.string()}, {}, 30s).exit_status == 0; }

private:
    void cleanup() noexcept {
        for (const pid_t pid : std::vector<pid_t>(children_)) {
            if (wait_exit(pid, 0ms) >= 0) continue;
            ::kill(pid, SIGQUIT);
            if (wait_exit(pid, 30s) >= 0) continue;
            ::kill(pid, SIGKILL);
            wait_exit(pid, 10s);
        }
        if (const auto postmaster = live_postmaster(pgdata_)) {
            try {
                pg::PgCtl(pg::find_bindir(), TestUser::get().run_as()).stop(pgdata_, pg::StopMode::Immediate, 30s);
            } catch (const std::exception& e) {
                std::cerr << "pg_ctl stop failed for " << pgdata_ << ": " << e.what() << "\n";
            }
        }
        if (::testing::Test::HasFailure()) {
            for (const auto* name : {"run.log", "standby.log"}) {
                const auto text = log(name);
                if (!text.empty()) std::cerr << "---- " << name << " ----\n" << text << "---- end ----\n";
            }
        }
    }

    TempDir dir_;
    fs::path pgdata_;
    fs::path binary_;
    int port_;
    std::vector<pid_t> children_;
};

// The pid in application_name "autoctl-monitor-<pid>" of the session holding the monitor
// service's advisory lock (0 when none holds it).
pid_t active_monitor_service(pg::Connection& conn) {
    const auto rows = conn.exec(
        "SELECT a.application_name FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
        " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 4242 AND l.objid = 1 AND l.objsubid = 2");
    if (rows.empty()) return 0;
    const std::string name = rows[0].text(0);
    const std::string prefix = "autoctl-monitor-";
    return name.rfind(prefix, 0) == 0 ? static_cast<pid_t>(std::stol(name.substr(prefix.size()))) : 0;
}

class MonitorE2E : public testing::Test {
protected:
    void SetUp() override { AUTOCTL_REQUIRE_POSTGRES(); }
};

TEST_F(MonitorE2E, CreateRunShowRestartStopAndDrop) {
    AutoctlNode node;
    const std::string pgdata = node.pgdata().string();

    // create monitor from nothing.
    auto result = node.autoctl(node.create_args({"--auth", "trust", "--no-ssl"}));
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.out, node.monitor_uri("prefer") + "\n");
    EXPECT_TRUE(contains(result.err, "Monitor has been successfully initialized.")) << result.err;
    EXPECT_TRUE(fs::exists(node.pgdata() / "PG_VERSION"));
    EXPECT_FALSE(fs::exists(node.init_file()));
    EXPECT_FALSE(live_postmaster(node.pgdata())) << "create without --run stops Postgres";
    const std::string config = read_text(node.config_file());
    EXPECT_TRUE(contains(config, "role = monitor\n")) << config;
    EXPECT_TRUE(contains(config, "[monitor]\nhealth_check_period = 1000\n")) << config;
    const std::string conf = read_text(node.pgdata() / "postgresql-auto-failover.conf");
    EXPECT_TRUE(contains(conf, "cluster_name = 'autoctl monitor'\n")) << conf;
    EXPECT_TRUE(contains(conf, "unix_socket_directories = '" + pgdata + "'\n")) << conf;
    const std::string hba = read_text(node.pgdata() / "pg_hba.conf");
    EXPECT_TRUE(contains(hba, "host pg_auto_failover autoctl_node 127.0.0.1/32 trust # Auto-generated by autoctl"))
        << hba;
    EXPECT_EQ(file_mode(node.pgdata()), 0700u);

    // create again: the monitor exists, nothing changes.
    const auto config_time = fs::last_write_time(node.config_file());
    const std::string postgresql_conf = read_text(node.pgdata() / "postgresql.conf");
    result = node.autoctl(node.create_args({"--auth", "trust", "--no-ssl"}));
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_TRUE(contains(result.err, "exists already")) << result.err;
    EXPECT_TRUE(contains(result.err, "autoctl run --pgdata " + pgdata)) << result.err;
    EXPECT_EQ(result.out, node.monitor_uri("prefer") + "\n");
    EXPECT_EQ(read_text(node.config_file()), config);
    EXPECT_EQ(fs::last_write_time(node.config_file()), config_time);
    EXPECT_EQ(read_text(node.pgdata() / "postgresql-auto-failover.conf"), conf);
    EXPECT_EQ(read_text(node.pgdata() / "pg_hba.conf"), hba);
    EXPECT_EQ(read_text(node.pgdata() / "postgresql.conf"), postgresql_conf);
    EXPECT_FALSE(live_postmaster(node.pgdata()));

    result = node.autoctl({"status", "--pgdata", pgdata});
    EXPECT_EQ(result.exit_status, 3) << result.err;
    EXPECT_TRUE(contains(result.err, "autoctl is not running")) << result.err;

    // run, in the background.
    const pid_t supervisor = node.start({"run", "--pgdata", pgdata}, "run.log");
    ASSERT_TRUE(wait_until([&] { return node.show_state_works(); }, 60s)) << node.log("run.log");
    ASSERT_TRUE(process_alive(supervisor));

    result = node.autoctl({"status", "--pgdata", pgdata, "--json"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const auto status = nlohmann::json::parse(result.out);
    EXPECT_EQ(status.at("autoctl").at("pid"), supervisor);
    EXPECT_EQ(status.at("postgres").at("status"), "ready");
    EXPECT_EQ(status.at("postgres").at("port"), node.port());
    EXPECT_TRUE(contains(result.err, "autoctl is running with pid " + std::to_string(supervisor))) << result.err;
    EXPECT_EQ(read_text(node.pid_file()).rfind(std::to_string(supervisor) + "\n" + pgdata + "\n", 0), 0u);

    result = node.autoctl({"create", "monitor", "--pgdata", pgdata, "--auth", "trust", "--no-ssl", "--run"});
    EXPECT_EQ(result.exit_status, 3) << "create --run while it runs";
    EXPECT_TRUE(contains(result.err, "already running with pid " + std::to_string(supervisor))) << result.err;

    // show state and show uri, through --pgdata and through --monitor.
    for (const auto& target : std::vector<std::vector<std::string>>{{"--pgdata", pgdata},
                                                                    {"--monitor", node.monitor_uri("prefer")}}) {
        std::vector<std::string> args = {"show", "state"};
        args.insert(args.end(), target.begin(), target.end());
        result = node.autoctl(args);
        ASSERT_EQ(result.exit_status, 0) << target[0] << ": " << result.err;
        EXPECT_TRUE(contains(result.out, "Reported State |")) << result.out;

        args = {"show", "uri"};
        args.insert(args.end(), target.begin(), target.end());
        result = node.autoctl(args);
        ASSERT_EQ(result.exit_status, 0) << target[0] << ": " << result.err;
        EXPECT_TRUE(contains(result.out, " monitor | monitor | " + node.monitor_uri("prefer") + "\n")) << result.out;
        EXPECT_TRUE(contains(result.out, " formation | default | ")) << result.out;
    }

    // kill -9 of postgres: the supervisor starts it again.
    const auto first_postmaster = live_postmaster(node.pgdata());
    ASSERT_TRUE(first_postmaster);
    ASSERT_EQ(::kill(*first_postmaster, SIGKILL), 0);
    ASSERT_TRUE(wait_until(
        [&] {
            const auto now = live_postmaster(node.pgdata());
            return now && *now != *first_postmaster;
        },
        30s))
        << node.log("run.log");
    ASSERT_TRUE(wait_until([&] { return node.show_state_works(); }, 60s)) << node.log("run.log");
    EXPECT_TRUE(contains(node.log("run.log"), "monitor: postgres (pid " + std::to_string(*first_postmaster) +
                                                  ") was killed by SIGKILL; restarting it now"))
        << node.log("run.log");
    const auto second_postmaster = live_postmaster(node.pgdata());
    ASSERT_TRUE(second_postmaster);

    // reload: the supervisor and its services re-read the configuration.
    result = node.autoctl({"reload", "--pgdata", pgdata});
    EXPECT_EQ(result.exit_status, 0) << result.err;
    EXPECT_TRUE(wait_until([&] { return contains(node.log("run.log"), "no change for the monitor service"); }, 10s))
        << node.log("run.log");

    // stop: the supervisor and its postgres are gone, and so is the pid file.
    result = node.autoctl({"stop", "--pgdata", pgdata});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(node.wait_exit(supervisor, 30s), 0) << node.log("run.log");
    EXPECT_FALSE(process_alive(*second_postmaster));
    EXPECT_FALSE(fs::exists(node.pid_file()));
    EXPECT_TRUE(contains(node.log("run.log"), "monitor: stopped")) << node.log("run.log");

    result = node.autoctl({"status", "--pgdata", pgdata});
    EXPECT_EQ(result.exit_status, 3) << result.err;
    result = node.autoctl({"stop", "--pgdata", pgdata});
    EXPECT_EQ(result.exit_status, 12) << result.err;
    EXPECT_TRUE(contains(result.err, "autoctl is not running")) << result.err;

    // drop monitor --destroy: the configuration and PGDATA are removed.
    result = node.autoctl({"drop", "monitor", "--pgdata", pgdata, "--destroy"});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_FALSE(fs::exists(node.config_file()));
    EXPECT_FALSE(fs::exists(node.pgdata()));
}

TEST_F(MonitorE2E, SecondMonitorServiceTakesOverWhenTheActiveOneIsKilled) {
    AutoctlNode node;
    const std::string pgdata = node.pgdata().string();
    auto result = node.autoctl(node.create_args({"--auth", "trust", "--no-ssl"}));
    ASSERT_EQ(result.exit_status, 0) << result.err;
    const pid_t supervisor = node.start({"run", "--pgdata", pgdata}, "run.log");
    ASSERT_TRUE(wait_until([&] { return node.show_state_works(); }, 60s)) << node.log("run.log");

    auto conn = node.connect();
    pid_t first = 0;
    ASSERT_TRUE(wait_until([&] { return (first = active_monitor_service(conn)) != 0; }, 30s)) << node.log("run.log");
    // One node in group 0: a failover request on it is refused by the state machine.
    conn.exec("SELECT * FROM pgautofailover.register_node('default', '127.0.0.1', " +
              std::to_string(fixture::free_port()) + ", 'postgres')");

    // A second monitor service on the same database waits for the lock.
    const pid_t standby = node.start({"do", "service", "monitor", "--pgdata", pgdata}, "standby.log");
    ASSERT_TRUE(wait_until([&] { return contains(node.log("standby.log"), "waiting to take over"); }, 30s))
        << node.log("standby.log");
    EXPECT_EQ(active_monitor_service(conn), first);

    // Freeze the supervisor so that it cannot restart the service we kill (which would race the
    // standby for the lock), kill -9 the active service, and watch the standby take over.
    ASSERT_EQ(::kill(supervisor, SIGSTOP), 0);
    ASSERT_EQ(::kill(first, SIGKILL), 0);
    const auto killed_at = std::chrono::steady_clock::now();
    pid_t second = 0;
    const bool took_over = wait_until([&] { return (second = active_monitor_service(conn)) == standby; }, 10s);
    const auto takeover = std::chrono::steady_clock::now() - killed_at;
    ASSERT_EQ(::kill(supervisor, SIGCONT), 0);
    ASSERT_TRUE(took_over) << "active: " << second << "\n" << node.log("standby.log");
    std::cerr << "standby took over "
              << std::chrono::duration_cast<std::chrono::milliseconds>(takeover).count() << " ms after kill -9\n";
    EXPECT_TRUE(contains(node.log("standby.log"), "this monitor service is now the active one"));

    // The new active service carries out requests: perform_failover is refused (one node).
    conn.exec("SELECT pgautofailover.perform_failover('default', 0)");
    std::string request_status;
    ASSERT_TRUE(wait_until(
        [&] {
            const auto rows = conn.exec("SELECT status::text FROM pgautofailover.request ORDER BY requestid DESC LIMIT 1");
            request_status = rows.empty() ? "" : rows[0].text(0);
            return request_status != "" && request_status != "pending";
        },
        10s))
        << request_status;
    EXPECT_EQ(request_status, "refused");
    EXPECT_TRUE(wait_until([&] { return contains(node.log("standby.log"), "refused"); }, 5s)) << node.log("standby.log");

    // The supervisor, thawed, restarted the killed service, which now waits in turn.
    EXPECT_TRUE(wait_until(
        [&] { return contains(node.log("run.log"), "monitor: monitor service (pid " + std::to_string(first) + ") was killed by SIGKILL"); },
        10s))
        << node.log("run.log");

    ASSERT_EQ(::kill(standby, SIGTERM), 0);
    EXPECT_EQ(node.wait_exit(standby, 15s), 0) << node.log("standby.log");
    EXPECT_TRUE(contains(node.log("standby.log"), "monitor service: stopped"));
    result = node.autoctl({"stop", "--pgdata", pgdata, "--fast"});
    EXPECT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(node.wait_exit(supervisor, 30s), 0) << node.log("run.log");
}

TEST_F(MonitorE2E, SelfSignedSslFromTheEnvironment) {
    AutoctlNode node;
    const std::string pgdata = node.pgdata().string();
    // PGDATA, PGPORT, PG_AUTOCTL_AUTH_METHOD and PG_AUTOCTL_SSL_SELF_SIGNED instead of options.
    const Env env = {{"PGDATA", pgdata},
                     {"PGPORT", std::to_string(node.port())},
                     {"PG_AUTOCTL_AUTH_METHOD", "trust"},
                     {"PG_AUTOCTL_SSL_SELF_SIGNED", "true"}};
    auto result = node.autoctl({"create", "monitor", "--hostname", "127.0.0.1", "--listen", "127.0.0.1"}, env);
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(result.out, node.monitor_uri("require") + "\n");

    const auto cert = node.pgdata() / "server.crt";
    const auto key = node.pgdata() / "server.key";
    ASSERT_TRUE(fs::exists(cert));
    ASSERT_TRUE(fs::exists(key));
    EXPECT_EQ(file_mode(key), 0600u);
    EXPECT_EQ(common::certificate_common_name(cert), "127.0.0.1");
    EXPECT_TRUE(contains(read_text(node.pgdata() / "postgresql-auto-failover.conf"), "ssl = 'on'\n"));
    EXPECT_TRUE(contains(read_text(node.pgdata() / "pg_hba.conf"), "hostssl pg_auto_failover autoctl_node 127.0.0.1/32 trust"));

    const pid_t supervisor = node.start({"run"}, "run.log", env);
    ASSERT_TRUE(wait_until([&] { return node.show_state_works(); }, 60s)) << node.log("run.log");

    result = node.autoctl({"show", "uri", "--pgdata", pgdata});
    ASSERT_EQ(result.exit_status, 0) << result.err;
    EXPECT_TRUE(contains(result.out, " monitor | monitor | " + node.monitor_uri("require") + "\n")) << result.out;

    // Keepers' connections go over TLS; without TLS no rule lets autoctl_node in.
    result = node.autoctl({"show", "state", "--monitor", node.monitor_uri("require")});
    EXPECT_EQ(result.exit_status, 0) << result.err;
    result = node.autoctl({"show", "state", "--monitor", node.monitor_uri("disable")});
    EXPECT_EQ(result.exit_status, 6) << result.err;
    EXPECT_TRUE(contains(result.err, "no pg_hba.conf entry")) << result.err;

    result = node.autoctl({"stop"}, env);
    EXPECT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(node.wait_exit(supervisor, 30s), 0) << node.log("run.log");
}

TEST_F(MonitorE2E, InterruptedCreateIsFinishedByRunningItAgain) {
    // An existing cluster (superuser: the OS user) that cannot start: create fails half-way.
    fixture::PgClusterOptions options;
    options.start = false;
    options.superuser = TestUser::get().name();
    fixture::PgCluster cluster(options);
    AutoctlNode node(cluster.pgdata());
    const std::string pgdata = node.pgdata().string();
    const auto postgresql_conf = node.pgdata() / "postgresql.conf";
    const std::string original = read_text(postgresql_conf);
    std::ofstream(postgresql_conf, std::ios::app) << "shared_buffers = 'not a size'\n";

    auto result = node.autoctl(node.create_args({"--auth", "trust", "--no-ssl"}));
    EXPECT_EQ(result.exit_status, 5) << result.err;
    EXPECT_TRUE(contains(result.err, "the monitor is not complete")) << result.err;
    EXPECT_TRUE(fs::exists(node.config_file()));
    EXPECT_TRUE(fs::exists(node.init_file()));
    EXPECT_FALSE(live_postmaster(node.pgdata()));

    result = node.autoctl({"run", "--pgdata", pgdata});
    EXPECT_EQ(result.exit_status, 3) << result.err;
    EXPECT_TRUE(contains(result.err, "did not finish")) << result.err;

    // Fix the cluster (keeping autoctl's include line) and run the same command again.
    std::string fixed = read_text(postgresql_conf);
    fixed.erase(fixed.find("shared_buffers = 'not a size'\n"), std::string("shared_buffers = 'not a size'\n").size());
    std::ofstream(postgresql_conf, std::ios::trunc) << fixed;
    // ... with --run this time: it finishes the monitor, then runs it.
    const pid_t supervisor = node.start(node.create_args({"--auth", "trust", "--no-ssl", "--run"}), "run.log");
    ASSERT_TRUE(wait_until([&] { return node.show_state_works(); }, 60s)) << node.log("run.log");
    const std::string log = node.log("run.log");
    EXPECT_TRUE(contains(log, "Finishing an interrupted autoctl create monitor")) << log;
    EXPECT_TRUE(contains(log, "Using the existing Postgres cluster")) << log;
    EXPECT_TRUE(contains(log, node.monitor_uri("prefer") + "\n")) << log;
    EXPECT_FALSE(fs::exists(node.init_file()));
    result = node.autoctl({"status", "--pgdata", pgdata});
    EXPECT_EQ(result.exit_status, 0) << result.err;
    EXPECT_TRUE(contains(result.err, "autoctl is running with pid " + std::to_string(supervisor))) << result.err;
    result = node.autoctl({"stop", "--pgdata", pgdata, "--immediate"});
    EXPECT_EQ(result.exit_status, 0) << result.err;
    EXPECT_EQ(node.wait_exit(supervisor, 30s), 0) << node.log("run.log");
    EXPECT_FALSE(live_postmaster(node.pgdata()));
}

TEST_F(MonitorE2E, RefusesToRunAsRoot) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    TempDir dir("autoctl-e2e-root-");
    for (const auto& args : std::vector<std::vector<std::string>>{
             {"create", "monitor", "--pgdata", (dir / "pgdata").string(), "--auth", "trust", "--no-ssl"},
             {"run", "--pgdata", (dir / "pgdata").string()}}) {
        const auto result = pg::Command(AUTOCTL_BINARY)
                                .args(args)
                                .clear_env()
                                .env("PATH", "/usr/bin:/bin")
                                .env("HOME", dir.path().string())
                                .timeout(30s)
                                .run_unchecked();
        EXPECT_EQ(result.exit_status, 1) << args[0];
        EXPECT_TRUE(contains(result.err, "Postgres refuses to run as root: run autoctl as the OS user that will own PGDATA"))
            << result.err;
        EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    }
    EXPECT_FALSE(fs::exists(dir / "pgdata"));
}

TEST_F(MonitorE2E, RefusesAPortInUse) {
    AutoctlNode node;
    // Something else listens on the port.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(node.port()));
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    ASSERT_EQ(::listen(fd, 1), 0);

    const auto result = node.autoctl(node.create_args({"--auth", "trust", "--no-ssl"}));
    ::close(fd);
    EXPECT_EQ(result.exit_status, 3) << result.err;
    EXPECT_TRUE(contains(result.err, "port " + std::to_string(node.port()) + " is already in use on 127.0.0.1"))
        << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_FALSE(fs::exists(node.pgdata())) << "nothing is written before the checks";
    EXPECT_FALSE(fs::exists(node.config_file()));
}

TEST_F(MonitorE2E, RefusesANonEmptyDirectoryThatIsNotACluster) {
    AutoctlNode node;
    fs::create_directory(node.pgdata());
    std::ofstream(node.pgdata() / "notes.txt") << "mine\n";
    fixture::chown_to_test_user(node.pgdata());
    const auto result = node.autoctl(node.create_args({"--auth", "trust", "--no-ssl"}));
    EXPECT_EQ(result.exit_status, 1) << result.err;
    EXPECT_TRUE(contains(result.err, "is not empty and is not a Postgres cluster")) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
    EXPECT_EQ(read_text(node.pgdata() / "notes.txt"), "mine\n");
    EXPECT_FALSE(fs::exists(node.config_file()));
}

TEST_F(MonitorE2E, RequiresAnAuthAndAnSslChoice) {
    AutoctlNode node;
    auto result = node.autoctl(node.create_args({"--no-ssl"}));
    EXPECT_EQ(result.exit_status, 1) << result.err;
    EXPECT_TRUE(contains(result.err, "please use either --auth trust|md5|scram-sha-256|... or --skip-pg-hba"))
        << result.err;
    result = node.autoctl(node.create_args({"--auth", "trust"}));
    EXPECT_EQ(result.exit_status, 1) << result.err;
    EXPECT_TRUE(contains(result.err, "explicit SSL choice is required")) << result.err;
    result = node.autoctl(node.create_args({"--auth", "bogus", "--no-ssl"}));
    EXPECT_EQ(result.exit_status, 1) << result.err;
    EXPECT_TRUE(contains(result.err, "--auth \"bogus\" is not a pg_hba.conf method")) << result.err;
    EXPECT_FALSE(fs::exists(node.pgdata()));
    EXPECT_FALSE(fs::exists(node.config_file()));
}

}  // namespace
}  // namespace autoctl

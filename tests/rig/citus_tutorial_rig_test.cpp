// The Citus tutorial (pg_auto_failover's docs/citus-quickstart, /work/shared/reference/
// citus-tutorial.rst), replayed with network namespaces instead of docker compose: a monitor, a
// coordinator pair (coord0a, coord0b) and three worker pairs (worker1a/b, worker2a/b,
// worker3a/b), plus the application client "app", each in its own network namespace with its own
// address on a private bridge (netns_rig.hpp). Real Citus when it is installed; otherwise the SQL
// emulation of its metadata API (tests/fixtures/citus_emulation.sql), installed by the test in
// the coordinator's database (autoctl never installs it), where `companies` is a plain table.
//
// The steps, each asserted:
//   1. the 8 nodes reach primary/secondary with the tutorial's layout; show uri lists both
//      coordinators;
//   2. the coordinator's active workers are the three worker primaries;
//   3. the app creates `companies` and loads 75 generated rows;
//   4. perform failover --group 2: worker2b becomes primary and the coordinator lists it (timed);
//      meanwhile a probe thread (WriteBlockProbe) measures how long writes to group 2 block on
//      the coordinator (printed, not asserted; asserted: it ran, and no probe failed);
//   5. worker1a's pg_control removed and Postgres stopped: worker1b replaces it on the
//      coordinator, the app still counts 75 rows, worker1a heals as secondary;
//   6. the same on coord0a: coord0b becomes primary, 75 rows through the multi-host URI, coord0a
//      heals as secondary;
//   7. worker3a's link cut: its group fails over and worker3a fences itself (Postgres stops
//      accepting connections, seen from inside its namespace); the link restored, worker3a
//      rejoins as worker3b's secondary (timed);
//   8. teardown leaves no namespace, link, process or file.
//
// Needs root (CI runs the tests as root): when not root the test fails, it never skips.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "autoctl/common/log.hpp"
#include "autoctl/pg/connection.hpp"
#include "netns_rig.hpp"
#include "support/citus_support.hpp"
#include "support/test_env.hpp"

#ifndef AUTOCTL_BINARY
#error "AUTOCTL_BINARY must name the autoctl executable"
#endif

namespace autoctl::rig {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

long long ms_since(Clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// One row of `show state --json`.
struct StateRow {
    std::string name;
    std::string host;
    int port = 0;
    int group = -1;
    long long id = 0;
    std::string reported;
    std::string assigned;
    int health = 0;
    std::string kind;

    bool settled_in(const std::string& state) const { return reported == state && assigned == state; }
};

// The tutorial's nodes: name, group, host number on the rig's /24.
struct Member {
    std::string name;
    int group;
    int host;
    bool first;  // the "a" node, the group's first primary
};

const std::vector<Member> kMembers = {
    {"coord0a", 0, 10, true},  {"coord0b", 0, 11, false}, {"worker1a", 1, 21, true}, {"worker1b", 1, 22, false},
    {"worker2a", 2, 31, true}, {"worker2b", 2, 32, false}, {"worker3a", 3, 41, true}, {"worker3b", 3, 42, false},
};

// Stands in for a write through the coordinator to one worker group while that group fails
// over: from a thread that joined `client`'s network namespace (setns of that thread only), one
// pg::Connection to the coordinator's citus database loops, every ~5 ms,
//   BEGIN; SET LOCAL lock_timeout = '10s';
//   SELECT 1 FROM pg_dist_node WHERE groupid = <group> AND noderole = 'primary' FOR SHARE; COMMIT;
// The prepared citus_update_node transaction holds that row's lock between PREPARE TRANSACTION
// and COMMIT PREPARED (with the emulation; with real Citus the same metadata lock blocks writes
// to the group's shards), so a probe blocks for as long as a write would. Records the longest
// probe and the total time of the probes that took longer than kBlocked (a probe that does not
// wait takes about a millisecond). stop() (or the destructor) ends and joins the thread.
class WriteBlockProbe {
public:
    static constexpr auto kBlocked = std::chrono::milliseconds(50);

    WriteBlockProbe(std::string netns, pg::ConnInfo coordinator, int group)
        : netns_(std::move(netns)), info_(std::move(coordinator)), group_(group), thread_([this] { run(); }) {}
    WriteBlockProbe(const WriteBlockProbe&) = delete;
    WriteBlockProbe& operator=(const WriteBlockProbe&) = delete;
    ~WriteBlockProbe() { stop(); }

    // Waits (up to `limit`) until the probe has completed `count` iterations; false when it
    // failed first or the limit passed.
    bool wait_running(long long count, std::chrono::milliseconds limit) {
        wait_until([&] { return iterations_.load() >= count || failed_.load(); }, limit, 10ms);
        return iterations_.load() >= count && !failed_.load();
    }

    void stop() {
        stopping_ = true;
        if (thread_.joinable()) thread_.join();
    }

    long long iterations() const { return iterations_.load(); }
    // After stop().
    long long blocked_probes() const { return blocked_probes_; }
    long long max_ms() const { return max_us_ / 1000; }
    long long blocked_ms() const { return blocked_us_ / 1000; }
    long long lock_timeouts() const { return lock_timeouts_; }
    const std::vector<std::string>& errors() const { return errors_; }
    // Offsets of the first blocked probe's start and the last blocked probe's end from `origin`
    // (-1 when no probe blocked).
    long long first_blocked_ms(Clock::time_point origin) const { return offset(first_blocked_, origin); }
    long long last_unblocked_ms(Clock::time_point origin) const { return offset(last_unblocked_, origin); }

private:
    static long long offset(const std::optional<Clock::time_point>& at, Clock::time_point origin) {
        return at ? std::chrono::duration_cast<std::chrono::milliseconds>(*at - origin).count() : -1;
    }

    void fail(const std::string& what) {
        if (errors_.size() < 20) errors_.push_back(what);
        failed_ = true;
    }

    void run() {
        const std::string path = "/run/netns/" + netns_;
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return fail("open " + path + ": " + std::strerror(errno));
        const int joined = ::setns(fd, CLONE_NEWNET);
        const int setns_errno = errno;
        ::close(fd);
        if (joined != 0) return fail("setns " + path + ": " + std::strerror(setns_errno));

        std::optional<pg::Connection> conn;
        const std::string sql = "SELECT 1 FROM pg_dist_node WHERE groupid = " + std::to_string(group_) +
                                " AND noderole = 'primary' FOR SHARE";
        while (!stopping_) {
            const auto begin = Clock::now();
            try {
                if (!conn || !conn->is_open()) conn.emplace(info_, pg::ConnectOptions{std::chrono::seconds(3)});
                conn->transaction([&](pg::Transaction& tx) {
                    tx.exec("SET LOCAL lock_timeout = '10s'");
                    tx.exec(sql);
                });
                const auto end = Clock::now();
                const auto us = std::chrono::duration_cast<std::chrono::microseconds>(end - begin).count();
                max_us_ = std::max(max_us_, static_cast<long long>(us));
                if (end - begin >= kBlocked) {
                    ++blocked_probes_;
                    blocked_us_ += us;
                    if (!first_blocked_) first_blocked_ = begin;
                    last_unblocked_ = end;
                }
                ++iterations_;
            } catch (const pg::SqlError& e) {
                if (e.sqlstate() == "55P03") {
                    ++lock_timeouts_;
                    fail("lock timeout after " + std::to_string(ms_since(begin)) +
                         " ms (a prepared transaction left behind?): " + e.what());
                } else {
                    fail("SQLSTATE " + e.sqlstate() + ": " + e.what());
                }
                if (conn && !conn->is_open()) conn.reset();
            } catch (const std::exception& e) {
                fail(e.what());
                conn.reset();
                // Not a tight loop on a coordinator that refuses connections.
                std::this_thread::sleep_for(100ms);
            }
            std::this_thread::sleep_for(5ms);
        }
    }

    const std::string netns_;
    const pg::ConnInfo info_;
    const int group_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> failed_{false};
    std::atomic<long long> iterations_{0};
    // Written by the thread only, read after stop().
    long long blocked_probes_ = 0;
    long long max_us_ = 0;
    long long blocked_us_ = 0;
    long long lock_timeouts_ = 0;
    std::optional<Clock::time_point> first_blocked_;
    std::optional<Clock::time_point> last_unblocked_;
    std::vector<std::string> errors_;
    std::thread thread_;  // last: started once every member above is initialized
};

class Tutorial {
public:
    Tutorial() : rig(AUTOCTL_BINARY) {
        monitor = &rig.add_node("monitor", 2);
        app = &rig.add_node("app", 3);
        for (const auto& member : kMembers) rig.add_node(member.name, member.host);
        monitor_uri = "postgres://autoctl_node@" + monitor->address + ":5432/pg_auto_failover?sslmode=require";
    }

    RigNode& node(const std::string& name) { return rig.node(name); }
    std::string address(const std::string& name) { return node(name).address + ":5432"; }

    // `show state --json` through the monitor, from the monitor's namespace.
    std::vector<StateRow> rows() {
        const auto result = rig.autoctl(*monitor, {"show", "state", "--json", "--monitor", monitor_uri}, 20s);
        if (!result.is_success()) throw std::runtime_error("show state: " + result.err);
        std::vector<StateRow> rows;
        for (const auto& item : nlohmann::json::parse(result.out)) {
            StateRow row;
            row.name = item.value("nodename", "");
            row.host = item.value("nodehost", "");
            row.port = item.value("nodeport", 0);
            row.group = item.value("group_id", -1);
            row.id = item.value("node_id", 0LL);
            row.reported = item.value("current_group_state", "");
            row.assigned = item.value("assigned_group_state", "");
            row.health = item.value("health", 0);
            row.kind = item.value("formation_kind", "");
            rows.push_back(row);
        }
        last_rows = rows;
        return rows;
    }

    const StateRow* find(const std::vector<StateRow>& rows, const std::string& name) {
        for (const auto& row : rows) {
            if (row.name == name) return &row;
        }
        return nullptr;
    }

    bool settled(const std::vector<StateRow>& rows, const std::string& name, const std::string& state) {
        const auto* row = find(rows, name);
        return row != nullptr && row->settled_in(state);
    }

    // Waits until every named node has settled in its state.
    bool wait_settled(const std::map<std::string, std::string>& expected, std::chrono::milliseconds limit) {
        return wait_until(
            [&] {
                try {
                    const auto now = rows();
                    return std::all_of(expected.begin(), expected.end(),
                                       [&](const auto& e) { return settled(now, e.first, e.second); });
                } catch (const std::exception&) {
                    return false;
                }
            },
            limit, 300ms);
    }

    std::string describe() const {
        std::ostringstream out;
        out << "show state (last read):\n";
        for (const auto& row : last_rows) {
            out << "  " << row.name << " " << row.group << "/" << row.id << " " << row.host << ":" << row.port
                << " reported " << row.reported << ", assigned " << row.assigned << ", health " << row.health << "\n";
        }
        return out.str();
    }

    std::string show(const std::vector<std::string>& what) {
        std::vector<std::string> args = what;
        args.push_back("--monitor");
        args.push_back(monitor_uri);
        const auto result = rig.autoctl(*monitor, args, 20s);
        return result.out + result.err;
    }

    std::string node_conninfo(const std::string& name, const std::string& dbname = "citus") {
        return "host=" + node(name).address + " port=5432 dbname=" + dbname + " sslmode=require connect_timeout=3";
    }

    // One query through the app's URI (the formation's multi-host URI), from the app's namespace.
    pg::CommandResult app_sql(const std::string& sql, std::chrono::seconds timeout = 30s) {
        return rig.psql(*app, formation_uri, sql, timeout);
    }

    // citus_get_active_worker_nodes() on the coordinator, "host:port" sorted ("" on error).
    std::string active_workers() {
        const auto result = app_sql(
            "SELECT string_agg(node_name || ':' || node_port, ',' ORDER BY node_name) "
            "FROM citus_get_active_worker_nodes()",
            10s);
        return result.is_success() ? trim(result.out) : "";
    }

    // host:port of the group's primary row in the coordinator's pg_dist_node ("" when none).
    std::string dist_node(int group) {
        const auto result = app_sql("SELECT nodename || ':' || nodeport FROM pg_dist_node WHERE groupid = " +
                                        std::to_string(group) + " AND noderole = 'primary'",
                                    10s);
        return result.is_success() ? trim(result.out) : "";
    }

    std::string workers(const std::vector<std::string>& names) {
        std::vector<std::string> addresses;
        for (const auto& name : names) addresses.push_back(address(name));
        std::sort(addresses.begin(), addresses.end());
        std::string joined;
        for (const auto& a : addresses) joined += (joined.empty() ? "" : ",") + a;
        return joined;
    }

    // Whether Postgres on `name` accepts a connection, asked from inside its own namespace.
    bool accepts_connections(const std::string& name) {
        return rig.psql(node(name), node_conninfo(name, "postgres"), "SELECT 1", 5s).is_success();
    }

    static std::string trim(const std::string& text) {
        const auto begin = text.find_first_not_of(" \n\t\r");
        if (begin == std::string::npos) return "";
        const auto end = text.find_last_not_of(" \n\t\r");
        return text.substr(begin, end - begin + 1);
    }

    // The `create coordinator|worker` of a tutorial node.
    std::vector<std::string> create_args(const Member& member) {
        auto& n = node(member.name);
        std::vector<std::string> args = {"create",     member.group == 0 ? "coordinator" : "worker",
                                         "--pgdata",   n.pgdata.string(),
                                         "--pgport",   "5432",
                                         "--hostname", n.address,
                                         "--monitor",  monitor_uri,
                                         "--name",     member.name,
                                         "--ssl-self-signed",
                                         "--auth",     "trust",
                                         "--pg-hba-lan",
                                         "--dbname",   "citus"};
        if (member.group > 0) {
            args.push_back("--group");
            args.push_back(std::to_string(member.group));
        }
        args.push_back("--run");
        return args;
    }

    Rig rig;
    RigNode* monitor = nullptr;
    RigNode* app = nullptr;
    std::string monitor_uri;
    std::string formation_uri;
    std::vector<StateRow> last_rows;
};

TEST(CitusTutorialRig, ReplaysTheTutorialWithNetworkNamespaces) {
    if (::geteuid() != 0) {
        FAIL() << "the Citus tutorial rig needs root: it creates network namespaces, veth pairs and a bridge "
                  "(CI runs the tests as root; run `sudo ctest -L rig` or `make test` as root)";
    }
    const auto test_start = Clock::now();
    // Every command the rig runs would be logged at info level (ip, psql, show state polls).
    common::setup_logging(common::LogLevel::Warn);
    std::cout << "Citus under test: " << fixture::citus_flavour() << std::endl;
    const bool real_citus = fixture::real_citus_installed();

    auto tutorial = std::make_unique<Tutorial>();
    Tutorial& t = *tutorial;
    std::cout << "rig: bridge " << t.rig.bridge() << " " << t.rig.subnet() << ".0/24, namespaces " << t.rig.prefix()
              << "-*, files " << t.rig.dir() << std::endl;
    struct PrintLogsOnFailure {
        Tutorial& t;
        ~PrintLogsOnFailure() {
            if (::testing::Test::HasFailure()) std::cerr << t.describe() << t.rig.logs_tail() << std::endl;
        }
    } print_logs{t};

    // --- The monitor, then the coordinator, then the worker primaries, then the standbys. -------
    {
        const auto created = t.rig.autoctl(*t.monitor,
                                           {"create", "monitor", "--pgdata", t.monitor->pgdata.string(), "--pgport",
                                            "5432", "--hostname", t.monitor->address, "--ssl-self-signed", "--auth",
                                            "trust"},
                                           120s);
        ASSERT_TRUE(created.is_success()) << "create monitor: " << created.out << created.err;
        t.rig.start_autoctl(*t.monitor, {"run", "--pgdata", t.monitor->pgdata.string()});
        ASSERT_TRUE(wait_until(
            [&] {
                return t.rig.autoctl(*t.monitor, {"show", "state", "--monitor", t.monitor_uri}, 10s).is_success();
            },
            60s, 300ms))
            << "the monitor does not answer on " << t.monitor_uri << "\n"
            << t.rig.logs_tail();
    }
    std::cout << "monitor up after " << ms_since(test_start) << " ms" << std::endl;

    t.rig.start_autoctl(t.node("coord0a"), t.create_args(kMembers[0]));
    ASSERT_TRUE(t.wait_settled({{"coord0a", "single"}}, 120s)) << t.describe();
    ASSERT_TRUE(wait_until([&] { return t.accepts_connections("coord0a"); }, 60s)) << "coord0a does not answer";
    {
        // The emulation as a file, read by psql inside coord0a's namespace.
        const fs::path sql_file = t.rig.dir() / "citus_emulation.sql";
        {
            std::ofstream out(sql_file);
            out << fixture::citus_emulation_sql();
        }
        fs::permissions(sql_file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                      fs::perms::others_read);
        const auto installed =
            real_citus ? t.rig.psql(t.node("coord0a"), t.node_conninfo("coord0a"), "CREATE EXTENSION IF NOT EXISTS citus")
                       : t.rig.in_ns(t.node("coord0a"), t.rig.pg_program("psql").string(),
                                     {"-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", t.node_conninfo("coord0a"), "-f",
                                      sql_file.string()})
                             .timeout(60s)
                             .run_unchecked();
        ASSERT_TRUE(installed.is_success()) << "installing Citus: " << installed.err;
    }
    // The standbys may start now: the coordinator's copy, and the worker primaries.
    t.rig.start_autoctl(t.node("coord0b"), t.create_args(kMembers[1]));
    for (const auto& member : kMembers) {
        if (member.group > 0 && member.first) t.rig.start_autoctl(t.node(member.name), t.create_args(member));
    }
    ASSERT_TRUE(t.wait_settled({{"worker1a", "single"}, {"worker2a", "single"}, {"worker3a", "single"}}, 180s))
        << t.describe();
    for (const auto& member : kMembers) {
        if (member.group > 0 && !member.first) t.rig.start_autoctl(t.node(member.name), t.create_args(member));
    }

    // --- 1. All 8 nodes primary/secondary, the tutorial's layout; show uri. -----------------------
    {
        std::map<std::string, std::string> expected;
        for (const auto& member : kMembers) expected[member.name] = member.first ? "primary" : "secondary";
        ASSERT_TRUE(t.wait_settled(expected, 240s)) << t.describe();
        t.rig.track_processes();
        std::cout << "step 1: 8 nodes primary/secondary after " << ms_since(test_start) << " ms\n"
                  << t.show({"show", "state"}) << std::endl;
        const auto rows = t.rows();
        ASSERT_EQ(rows.size(), kMembers.size()) << t.describe();
        std::set<long long> ids;
        for (const auto& member : kMembers) {
            const auto* row = t.find(rows, member.name);
            ASSERT_NE(row, nullptr) << member.name << "\n" << t.describe();
            EXPECT_EQ(row->group, member.group) << member.name;
            EXPECT_EQ(row->host, t.node(member.name).address) << member.name;
            EXPECT_EQ(row->port, 5432) << member.name;
            EXPECT_EQ(row->kind, "citus") << member.name;
            EXPECT_TRUE(row->settled_in(member.first ? "primary" : "secondary")) << member.name;
            ids.insert(row->id);
        }
        EXPECT_EQ(ids.size(), kMembers.size()) << "node ids are not distinct";

        const auto uri = t.rig.autoctl(*t.monitor, {"show", "uri", "--json", "--monitor", t.monitor_uri}, 20s);
        ASSERT_TRUE(uri.is_success()) << uri.err;
        std::cout << t.show({"show", "uri"}) << std::endl;
        std::string monitor_line;
        for (const auto& item : nlohmann::json::parse(uri.out)) {
            if (item.value("type", "") == "formation" && item.value("name", "") == "default") {
                t.formation_uri = item.value("uri", "");
            }
            if (item.value("type", "") == "monitor") monitor_line = item.value("uri", "");
        }
        EXPECT_NE(monitor_line.find(t.monitor->address + ":5432/pg_auto_failover"), std::string::npos) << uri.out;
        ASSERT_FALSE(t.formation_uri.empty()) << uri.out;
        EXPECT_NE(t.formation_uri.find(t.address("coord0a")), std::string::npos) << t.formation_uri;
        EXPECT_NE(t.formation_uri.find(t.address("coord0b")), std::string::npos) << t.formation_uri;
        EXPECT_NE(t.formation_uri.find("/citus?"), std::string::npos) << t.formation_uri;
        EXPECT_NE(t.formation_uri.find("target_session_attrs=read-write"), std::string::npos) << t.formation_uri;
        EXPECT_NE(t.formation_uri.find("sslmode=require"), std::string::npos) << t.formation_uri;
    }

    // --- 2. The coordinator's active workers are the three worker primaries. -----------------------
    {
        const std::string expected = t.workers({"worker1a", "worker2a", "worker3a"});
        EXPECT_TRUE(wait_until([&] { return t.active_workers() == expected; }, 30s))
            << "citus_get_active_worker_nodes(): " << t.active_workers() << ", expected " << expected;
        EXPECT_EQ(t.dist_node(0), t.address("coord0a"));
        std::cout << "step 2: active workers " << t.active_workers() << std::endl;
    }

    // --- 3. The app creates the distributed table and loads 75 rows. ------------------------------
    {
        const auto created = t.app_sql(
            "CREATE TABLE companies (id bigserial PRIMARY KEY, name text NOT NULL, image_url text, "
            "created_at timestamp without time zone NOT NULL, updated_at timestamp without time zone NOT NULL)");
        ASSERT_TRUE(created.is_success()) << created.err;
        if (real_citus) {
            const auto distributed = t.app_sql("SELECT create_distributed_table('companies', 'id')");
            ASSERT_TRUE(distributed.is_success()) << distributed.err;
        } else {
            std::cout << "step 3: the emulation has no shards: companies stays a plain table on the coordinator"
                      << std::endl;
        }
        const auto loaded = t.app_sql(
            "INSERT INTO companies (name, image_url, created_at, updated_at) "
            "SELECT 'Company ' || i, 'https://example.com/logos/' || i || '.png', "
            "       now() - i * interval '1 day', now() FROM generate_series(1, 75) AS i");
        ASSERT_TRUE(loaded.is_success()) << loaded.err;
        const auto count = t.app_sql("SELECT count(*) FROM companies");
        ASSERT_TRUE(count.is_success()) << count.err;
        EXPECT_EQ(Tutorial::trim(count.out), "75");
        // A table on each worker primary, for the "writable through the coordinator" check below.
        for (const auto* name : {"worker1a", "worker2a", "worker3a"}) {
            const auto probe =
                t.rig.psql(*t.app, t.node_conninfo(name), "CREATE TABLE rig_probe (step int, at timestamptz DEFAULT now())");
            ASSERT_TRUE(probe.is_success()) << name << ": " << probe.err;
        }
    }

    // --- 4. perform failover --group 2, timed, with a write-block probe on the coordinator. --------
    {
        // From the app's namespace, to the coordinator primary (coord0a until step 6).
        pg::ConnInfo coordinator;
        coordinator.set_host(t.node("coord0a").address)
            .set_port(5432)
            .set_dbname("citus")
            .set_user(fixture::TestUser::get().name())
            .set_sslmode("require")
            .set_connect_timeout(3)
            .set_application_name("rig_write_block_probe");
        WriteBlockProbe probe(t.app->ns, coordinator, 2);
        // A baseline of unblocked probes before the failover.
        if (!probe.wait_running(20, 30s)) {
            probe.stop();
            FAIL() << "the write-block probe did not run: " << probe.iterations() << " probes, "
                   << (probe.errors().empty() ? "no error" : probe.errors().front());
        }
        const auto start = Clock::now();
        const auto probes_before = probe.iterations();
        const auto failover = t.rig.autoctl(
            *t.monitor, {"perform", "failover", "--group", "2", "--monitor", t.monitor_uri}, 120s);
        const auto command_ms = ms_since(start);
        EXPECT_TRUE(failover.is_success()) << failover.out << failover.err;
        std::cout << failover.out << std::endl;
        // Registered on the coordinator, and writable from the coordinator at that address.
        long long registered_ms = -1;
        const bool switched = wait_until(
            [&] {
                if (t.dist_node(2) != t.address("worker2b")) return false;
                if (registered_ms < 0) registered_ms = ms_since(start);
                std::string coordinator = "coord0a";
                return t.rig
                    .psql(t.node(coordinator), "host=" + t.node("worker2b").address +
                                                   " port=5432 dbname=citus sslmode=require connect_timeout=3",
                          "INSERT INTO rig_probe VALUES (4)", 5s)
                    .is_success();
            },
            90s, 100ms);
        const auto writable_ms = ms_since(start);
        ASSERT_TRUE(switched) << "pg_dist_node group 2: " << t.dist_node(2) << "\n" << t.describe();
        EXPECT_TRUE(t.wait_settled({{"worker2b", "primary"}, {"worker2a", "secondary"}}, 90s)) << t.describe();
        const auto settled_ms = ms_since(start);
        probe.stop();
        EXPECT_EQ(t.active_workers(), t.workers({"worker1a", "worker2b", "worker3a"}));
        std::cout << "step 4 timing: perform failover --group 2 returned after " << command_ms
                  << " ms; worker2b registered on the coordinator after " << registered_ms
                  << " ms, writable at that address after " << writable_ms << " ms; worker2b primary and worker2a "
                  << "secondary after " << settled_ms << " ms" << std::endl;
        std::cout << "step 4 write block (probe: SELECT ... FROM pg_dist_node WHERE groupid = 2 ... FOR SHARE on "
                  << "coord0a every ~5 ms, from the app's namespace): " << probe.iterations() << " probes ("
                  << probe.iterations() - probes_before << " after the failover command), longest "
                  << probe.max_ms() << " ms; " << probe.blocked_probes() << " probes over "
                  << WriteBlockProbe::kBlocked.count() << " ms, blocked " << probe.blocked_ms() << " ms in total";
        if (probe.blocked_probes() > 0) {
            std::cout << ", from " << probe.first_blocked_ms(start) << " ms to " << probe.last_unblocked_ms(start)
                      << " ms after the failover command";
        }
        std::cout << std::endl;
        EXPECT_GE(probe.iterations() - probes_before, 5) << "the write-block probe barely ran during the failover";
        EXPECT_EQ(probe.lock_timeouts(), 0) << "a probe waited 10 s for the group's pg_dist_node row: the prepared "
                                               "citus_update_node transaction was left behind?";
        EXPECT_TRUE(probe.errors().empty()) << [&] {
            std::string all;
            for (const auto& e : probe.errors()) all += e + "\n";
            return all;
        }();
    }

    // --- 5. Worker crash: worker1a loses pg_control and stops. -------------------------------------
    {
        auto& w1a = t.node("worker1a");
        const auto start = Clock::now();
        std::error_code ec;
        ASSERT_TRUE(fs::remove(w1a.pgdata / "global/pg_control", ec)) << ec.message();
        const auto stopped = t.rig.in_ns(w1a, t.rig.pg_program("pg_ctl").string(),
                                         {"stop", "-D", w1a.pgdata.string(), "-m", "immediate"})
                                 .timeout(60s)
                                 .run_unchecked();
        EXPECT_TRUE(stopped.is_success()) << stopped.out << stopped.err;
        ASSERT_TRUE(wait_until([&] { return t.dist_node(1) == t.address("worker1b"); }, 120s))
            << "pg_dist_node group 1: " << t.dist_node(1) << "\n"
            << t.describe();
        const auto registered_ms = ms_since(start);
        EXPECT_EQ(t.active_workers(), t.workers({"worker1b", "worker2b", "worker3a"}));
        const auto count = t.app_sql("SELECT count(*) FROM companies");
        EXPECT_TRUE(count.is_success()) << count.err;
        EXPECT_EQ(Tutorial::trim(count.out), "75");
        EXPECT_TRUE(t.wait_settled({{"worker1b", "primary"}, {"worker1a", "secondary"}}, 180s)) << t.describe();
        std::cout << "step 5: worker1b registered on the coordinator after " << registered_ms
                  << " ms; worker1a healed as secondary after " << ms_since(start) << " ms" << std::endl;
    }

    // --- 6. Coordinator crash: coord0a loses pg_control and stops. ----------------------------------
    {
        auto& c0a = t.node("coord0a");
        const auto start = Clock::now();
        std::error_code ec;
        ASSERT_TRUE(fs::remove(c0a.pgdata / "global/pg_control", ec)) << ec.message();
        const auto stopped = t.rig.in_ns(c0a, t.rig.pg_program("pg_ctl").string(),
                                         {"stop", "-D", c0a.pgdata.string(), "-m", "immediate"})
                                 .timeout(60s)
                                 .run_unchecked();
        EXPECT_TRUE(stopped.is_success()) << stopped.out << stopped.err;
        // The count through the multi-host URI, once coord0b is the writable coordinator.
        ASSERT_TRUE(wait_until(
            [&] {
                try {
                    const auto rows = t.rows();
                    const auto* b = t.find(rows, "coord0b");
                    return b != nullptr && b->assigned != "secondary" && b->reported != "secondary" &&
                           t.app_sql("SELECT pg_is_in_recovery()", 10s).out.find('f') != std::string::npos &&
                           t.app_sql("SELECT inet_server_addr()", 10s).out.find(t.node("coord0b").address) !=
                               std::string::npos;
                } catch (const std::exception&) {
                    return false;
                }
            },
            120s, 250ms))
            << t.describe();
        const auto promoted_ms = ms_since(start);
        const auto after = t.app_sql("SELECT count(*) FROM companies");
        EXPECT_TRUE(after.is_success()) << after.err;
        EXPECT_EQ(Tutorial::trim(after.out), "75");
        EXPECT_TRUE(wait_until([&] { return t.dist_node(0) == t.address("coord0b"); }, 60s))
            << "pg_dist_node group 0: " << t.dist_node(0);
        EXPECT_TRUE(t.wait_settled({{"coord0b", "primary"}, {"coord0a", "secondary"}}, 180s)) << t.describe();
        EXPECT_EQ(t.active_workers(), t.workers({"worker1b", "worker2b", "worker3a"}));
        std::cout << "step 6: coord0b serves the app's URI after " << promoted_ms << " ms; coord0a healed as "
                  << "secondary after " << ms_since(start) << " ms\n"
                  << t.show({"show", "state"}) << std::endl;
    }

    // --- 7. worker3a's link cut: its group fails over, worker3a fences itself. ----------------------
    {
        ASSERT_TRUE(t.wait_settled({{"worker3a", "primary"}, {"worker3b", "secondary"}}, 30s)) << t.describe();
        auto& w3a = t.node("worker3a");
        const auto start = Clock::now();
        t.rig.ip({"link", "set", w3a.host_veth, "down"});
        long long fenced_ms = -1;
        long long promoted_ms = -1;
        const bool done = wait_until(
            [&] {
                if (fenced_ms < 0 && !t.accepts_connections("worker3a")) fenced_ms = ms_since(start);
                if (promoted_ms < 0 && t.dist_node(3) == t.address("worker3b")) {
                    try {
                        const auto rows = t.rows();
                        if (t.settled(rows, "worker3b", "wait_primary") || t.settled(rows, "worker3b", "primary")) {
                            promoted_ms = ms_since(start);
                        }
                    } catch (const std::exception&) {
                        // the monitor did not answer this time
                    }
                }
                return fenced_ms >= 0 && promoted_ms >= 0;
            },
            120s, 250ms);
        ASSERT_TRUE(done) << "fenced after " << fenced_ms << " ms, worker3b registered and promoted after "
                          << promoted_ms << " ms; pg_dist_node group 3: " << t.dist_node(3) << "\n"
                          << t.describe();
        // Seen from inside worker3a's namespace: neither a connection nor a write is accepted.
        const auto write = t.rig.psql(w3a, t.node_conninfo("worker3a"), "INSERT INTO rig_probe VALUES (7)", 10s);
        EXPECT_FALSE(write.is_success()) << "worker3a still accepts writes: " << write.out;
        EXPECT_FALSE(t.accepts_connections("worker3a"));
        // Fenced by its keeper (network partition), not by anything else.
        {
            std::ifstream in(w3a.log_file());
            const std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            EXPECT_NE(log.find("demote_timeout"), std::string::npos) << "worker3a's keeper did not fence itself";
        }
        EXPECT_EQ(t.active_workers(), t.workers({"worker1b", "worker2b", "worker3b"}));
        const auto count = t.app_sql("SELECT count(*) FROM companies");
        EXPECT_EQ(Tutorial::trim(count.out), "75") << count.err;
        std::cout << "step 7: worker3a stopped accepting connections after " << fenced_ms
                  << " ms; worker3b promoted and registered on the coordinator after " << promoted_ms << " ms\n"
                  << t.show({"show", "state"}) << std::endl;

        // The link back: worker3a rejoins its group as worker3b's secondary.
        const auto restored = Clock::now();
        t.rig.ip({"link", "set", w3a.host_veth, "up"});
        EXPECT_TRUE(t.wait_settled({{"worker3b", "primary"}, {"worker3a", "secondary"}}, 90s))
            << "worker3a did not rejoin as secondary\n"
            << t.describe();
        const auto rejoined_ms = ms_since(restored);
        EXPECT_TRUE(t.accepts_connections("worker3a")) << "worker3a, secondary, does not accept connections";
        EXPECT_EQ(t.dist_node(3), t.address("worker3b"));
        EXPECT_EQ(t.active_workers(), t.workers({"worker1b", "worker2b", "worker3b"}));
        std::cout << "step 7: link restored; worker3b primary and worker3a secondary after " << rejoined_ms << " ms\n"
                  << t.show({"show", "state"}) << std::endl;
    }

    // --- 8. Teardown: nothing left behind. ----------------------------------------------------------
    {
        const std::string prefix = t.rig.prefix();
        const std::string bridge = t.rig.bridge();
        const fs::path dir = t.rig.dir();
        const auto start = Clock::now();
        const auto leftovers = t.rig.teardown();
        EXPECT_TRUE(leftovers.empty()) << [&] {
            std::string all;
            for (const auto& l : leftovers) all += l + "\n";
            return all;
        }();
        // Independently of the rig's own report.
        const auto namespaces = t.rig.ip({"netns", "list"}, false);
        EXPECT_EQ(namespaces.out.find(prefix + "-"), std::string::npos) << namespaces.out;
        const auto links = t.rig.ip({"-o", "link", "show"}, false);
        EXPECT_EQ(links.out.find(bridge), std::string::npos) << links.out;
        EXPECT_EQ(links.out.find(" av" + std::to_string(::getpid())), std::string::npos) << links.out;
        EXPECT_FALSE(fs::exists(dir)) << dir;
        std::cout << "step 8: teardown took " << ms_since(start) << " ms; whole test " << ms_since(test_start) << " ms"
                  << std::endl;
    }
}

}  // namespace
}  // namespace autoctl::rig

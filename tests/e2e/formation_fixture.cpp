#include "formation_fixture.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <stdexcept>

#include "autoctl/common/pid_file.hpp"
#include "autoctl/pg/controldata.hpp"
#include "autoctl/pg/pg_ctl.hpp"

#ifndef AUTOCTL_BINARY
#error "AUTOCTL_BINARY must name the autoctl executable"
#endif

namespace autoctl::e2e {

using namespace std::chrono_literals;
using fixture::TestUser;

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

bool contains(const std::string& text, const std::string& needle) { return text.find(needle) != std::string::npos; }

bool process_alive(pid_t pid) {
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return false;
    const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    const auto paren = stat.rfind(')');
    return !(paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z');
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(100ms);
    }
    return true;
}

std::optional<pid_t> live_postmaster(const fs::path& pgdata) {
    const auto parsed = pg::parse_postmaster_pid(read_text(pgdata / "postmaster.pid"));
    if (!parsed || !process_alive(parsed->pid)) return std::nullopt;
    return parsed->pid;
}

int listen_on_loopback(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 1) != 0) {
        const int err = errno;
        ::close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

long long elapsed_ms(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
}

namespace {

// Only processes of the test user are ever signalled: a pid read from a file may have been
// reused by an unrelated process meanwhile.
bool owned_by_test_user(pid_t pid) {
    struct stat st {};
    if (::stat(("/proc/" + std::to_string(pid)).c_str(), &st) != 0) return false;
    return st.st_uid == TestUser::get().uid();
}

void kill_if_ours(pid_t pid, int sig) {
    if (process_alive(pid) && owned_by_test_user(pid)) ::kill(pid, sig);
}

std::string tail(const std::string& text, std::size_t max) {
    return text.size() <= max ? text : "[...]\n" + text.substr(text.size() - max);
}

}  // namespace

// --- AutoctlNode ------------------------------------------------------------------------------

AutoctlNode::AutoctlNode(std::string label, std::optional<fs::path> pgdata)
    : label_(std::move(label)), dir_("autoctl-e2e-"), port_(fixture::free_port()) {
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

AutoctlNode::~AutoctlNode() { cleanup(); }

fs::path AutoctlNode::config_file() const {
    return dir() / "home/.config/autoctl" / pgdata_.relative_path() / "autoctl.cfg";
}
fs::path AutoctlNode::state_file() const {
    return dir() / "home/.local/share/autoctl" / pgdata_.relative_path() / "autoctl.state";
}
fs::path AutoctlNode::init_file() const {
    return dir() / "home/.local/share/autoctl" / pgdata_.relative_path() / "autoctl.init";
}
fs::path AutoctlNode::pid_file() const { return dir() / "run/autoctl" / pgdata_.relative_path() / "autoctl.pid"; }

std::vector<std::string> AutoctlNode::create_monitor_args(const std::vector<std::string>& extra) const {
    std::vector<std::string> args = {"create",   "monitor",   "--pgdata",  pgdata_.string(), "--pgport",
                                     std::to_string(port_), "--hostname", "127.0.0.1", "--listen", "127.0.0.1"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

std::string AutoctlNode::monitor_uri(const std::string& sslmode) const {
    return "postgres://autoctl_node@127.0.0.1:" + std::to_string(port_) + "/pg_auto_failover?sslmode=" + sslmode;
}

pg::Command AutoctlNode::command(const std::vector<std::string>& args, const Env& env) const {
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

pg::CommandResult AutoctlNode::autoctl(const std::vector<std::string>& args, const Env& env,
                                       std::chrono::seconds timeout) const {
    return command(args, env).timeout(timeout).run_unchecked();
}

pid_t AutoctlNode::start(const std::vector<std::string>& args, const std::string& log, const Env& env) {
    const pid_t pid = command(args, env).output_file(dir() / log).start_background();
    children_.push_back(pid);
    return pid;
}

std::string AutoctlNode::log(const std::string& name) const { return read_text(dir() / name); }

int AutoctlNode::wait_exit(pid_t pid, std::chrono::milliseconds limit) {
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

std::vector<pid_t> AutoctlNode::pid_file_processes() const {
    const auto contents = common::parse_pid_file(read_text(pid_file()));
    if (!contents) return {};
    std::vector<pid_t> pids = {contents->pid};
    for (const auto& [pid, name] : contents->services) pids.push_back(pid);
    return pids;
}

std::vector<pid_t> AutoctlNode::kill_everything() {
    std::vector<pid_t> pids = pid_file_processes();
    // On a data node the pid file already names the postmaster (the supervisor's `postgres`).
    if (const auto postmaster = live_postmaster(pgdata_);
        postmaster && std::find(pids.begin(), pids.end(), *postmaster) == pids.end()) {
        pids.push_back(*postmaster);
    }
    for (const pid_t pid : pids) kill_if_ours(pid, SIGSTOP);
    for (const pid_t pid : pids) kill_if_ours(pid, SIGKILL);
    seen_.insert(seen_.end(), pids.begin(), pids.end());
    for (const pid_t child : std::vector<pid_t>(children_)) {
        if (std::find(pids.begin(), pids.end(), child) != pids.end()) wait_exit(child, 10s);
    }
    wait_until([&] { return std::none_of(pids.begin(), pids.end(), process_alive); }, 10s);
    return pids;
}

bool AutoctlNode::any_process_alive() const {
    for (const pid_t pid : pid_file_processes()) {
        if (process_alive(pid)) return true;
    }
    return live_postmaster(pgdata_).has_value();
}

pg::ConnInfo AutoctlNode::socket_conninfo(const std::string& dbname) const {
    pg::ConnInfo info;
    info.set_host(pgdata_.string()).set_port(port_).set_user(TestUser::get().name()).set_dbname(dbname);
    info.set_application_name("autoctl-e2e");
    return info;
}

pg::ConnInfo AutoctlNode::tcp_conninfo(const std::string& dbname) const {
    pg::ConnInfo info;
    info.set_host("127.0.0.1").set_port(port_).set_user(TestUser::get().name()).set_dbname(dbname);
    info.set_application_name("autoctl-e2e");
    return info;
}

pg::Connection AutoctlNode::connect() const { return pg::Connection(socket_conninfo(), pg::ConnectOptions{5s}); }

pg::Rows AutoctlNode::sql(const std::string& query) const {
    pg::Connection conn(tcp_conninfo(), pg::ConnectOptions{5s});
    return conn.exec(query);
}

bool AutoctlNode::show_state_works() const {
    return autoctl({"show", "state", "--pgdata", pgdata_.string()}, {}, 30s).exit_status == 0;
}

void AutoctlNode::print_logs() const {
    for (const auto* name : {"run.log", "run2.log", "standby.log"}) {
        const auto text = log(name);
        if (!text.empty()) {
            std::cerr << "---- " << label_ << " " << name << " ----\n" << tail(text, 30000) << "---- end ----\n";
        }
    }
}

void AutoctlNode::cleanup() noexcept {
    if (::testing::Test::HasFailure()) print_logs();
    // Our children (supervisors, commands): immediate stop, then kill.
    for (const pid_t pid : std::vector<pid_t>(children_)) {
        if (wait_exit(pid, 0ms) >= 0) continue;
        ::kill(pid, SIGQUIT);
        if (wait_exit(pid, 30s) >= 0) continue;
        ::kill(pid, SIGKILL);
        wait_exit(pid, 10s);
    }
    // Services left by a supervisor killed with -9.
    std::vector<pid_t> others = pid_file_processes();
    others.insert(others.end(), seen_.begin(), seen_.end());
    for (const pid_t pid : others) kill_if_ours(pid, SIGKILL);
    if (const auto postmaster = live_postmaster(pgdata_)) {
        try {
            pg::PgCtl(pg::find_bindir(), TestUser::get().run_as()).stop(pgdata_, pg::StopMode::Immediate, 30s);
        } catch (const std::exception& e) {
            std::cerr << "pg_ctl stop failed for " << pgdata_ << ": " << e.what() << "\n";
            kill_if_ours(*postmaster, SIGKILL);
        }
    }
}

// --- Formation --------------------------------------------------------------------------------

Formation::Formation() : monitor_(std::make_unique<AutoctlNode>("monitor")) {
    // create, then run: with create --run the monitor's Postgres answers for a moment during
    // the create, before the supervisor restarts it.
    const auto created = monitor_->autoctl(monitor_->create_monitor_args({"--auth", "trust", "--no-ssl"}));
    if (created.exit_status != 0) throw std::runtime_error("create monitor failed: " + created.err);
    monitor_->start({"run", "--pgdata", monitor_->pgdata().string()});
    const bool up = wait_for([](const std::vector<NodeRow>&) { return true; }, 90s);
    if (!up) {
        monitor_->print_logs();
        throw std::runtime_error("the monitor did not start within 90 s");
    }
}

Formation::Formation(int nodes) : Formation() {
    add_node();
    if (!wait_settled({{"node1", "single"}}, 90s)) {
        for (const auto& [name, node] : nodes_) node->print_logs();
        throw std::runtime_error("node1 did not become single within 90 s:\n" + describe());
    }
    for (int i = 1; i < nodes; ++i) add_node();
    if (nodes > 1 && !wait_primary_and_secondaries(std::chrono::seconds(60 + 30 * nodes))) {
        for (const auto& [name, node] : nodes_) node->print_logs();
        throw std::runtime_error("the formation did not reach primary and secondaries:\n" + describe());
    }
}

Formation::~Formation() {
    // The data nodes first: their keepers would otherwise retry the monitor meanwhile.
    nodes_.clear();
    monitor_.reset();
}

std::vector<std::string> Formation::create_postgres_args(const AutoctlNode& node, const std::string& name,
                                                         const std::vector<std::string>& extra,
                                                         const std::string& auth) const {
    std::vector<std::string> args = {"create",    "postgres",  "--pgdata",    node.pgdata().string(),
                                     "--pgport",  std::to_string(node.port()), "--hostname", "127.0.0.1",
                                     "--monitor", monitor_uri(), "--auth", auth, "--no-ssl", "--name", name};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

AutoctlNode& Formation::add_node(const NodeOptions& options) {
    const std::string name = "node" + std::to_string(names_.size() + 1);
    auto node = std::make_unique<AutoctlNode>(name);
    auto args = create_postgres_args(*node, name, options.extra_args, options.auth);
    args.push_back("--run");
    node->start(args);
    names_.push_back(name);
    return *(nodes_[name] = std::move(node));
}

AutoctlNode& Formation::node(const std::string& name) {
    const auto it = nodes_.find(name);
    if (it == nodes_.end()) throw std::runtime_error("no node " + name);
    return *it->second;
}

pid_t Formation::run_node(const std::string& name) {
    auto& n = node(name);
    return n.start({"run", "--pgdata", n.pgdata().string()}, "run2.log");
}

std::vector<NodeRow> Formation::rows() const {
    pg::Connection conn(monitor_->socket_conninfo(), pg::ConnectOptions{5s});
    const auto result = conn.exec(
        "SELECT nodeid, nodename, nodeport, reportedstate::text, goalstate::text, reportedpgisrunning, health, "
        "       candidatepriority "
        "  FROM pgautofailover.node WHERE formationid = 'default' ORDER BY nodeid");
    std::vector<NodeRow> rows;
    for (const auto& r : result) {
        NodeRow row;
        row.id = r.as_int64(0);
        row.name = r.text(1);
        row.port = static_cast<int>(r.as_int64(2));
        row.reported = r.text(3);
        row.goal = r.text(4);
        row.pg_running = r.as_bool(5);
        row.health = static_cast<int>(r.as_int64(6));
        row.candidate_priority = static_cast<int>(r.as_int64(7));
        rows.push_back(row);
    }
    last_rows_ = rows;
    return rows;
}

bool Formation::wait_for(const std::function<bool(const std::vector<NodeRow>&)>& condition,
                         std::chrono::milliseconds limit) const {
    return wait_until(
        [&] {
            try {
                return condition(rows());
            } catch (const std::exception&) {
                return false;
            }
        },
        limit);
}

bool Formation::wait_settled(const std::map<std::string, std::string>& expected, std::chrono::milliseconds limit) const {
    return wait_for(
        [&](const std::vector<NodeRow>& rows) {
            std::size_t found = 0;
            for (const auto& row : rows) {
                const auto it = expected.find(row.name);
                if (it == expected.end()) continue;
                if (!row.settled_in(it->second)) return false;
                ++found;
            }
            return found == expected.size();
        },
        limit);
}

bool Formation::wait_primary_and_secondaries(std::chrono::milliseconds limit) const {
    return wait_for(
        [&](const std::vector<NodeRow>& rows) {
            if (rows.size() != names_.size()) return false;
            if (rows.size() == 1) return rows[0].settled_in("single");
            int primaries = 0;
            for (const auto& row : rows) {
                if (row.settled_in("primary")) {
                    ++primaries;
                } else if (!row.settled_in("secondary")) {
                    return false;
                }
            }
            return primaries == 1;
        },
        limit);
}

std::optional<std::string> Formation::primary() const {
    try {
        for (const auto& row : rows()) {
            if (row.settled_in("primary")) return row.name;
        }
    } catch (const std::exception&) {
    }
    return std::nullopt;
}

std::string Formation::describe() const {
    std::ostringstream out;
    out << "monitor's node table:\n";
    for (const auto& row : last_rows_) {
        out << "  " << row.id << " " << row.name << " :" << row.port << " reported " << row.reported << ", goal "
            << row.goal << (row.pg_running ? ", pg running" : ", pg down") << ", health " << row.health
            << ", priority " << row.candidate_priority << "\n";
    }
    return out.str();
}

pg::CommandResult Formation::autoctl(std::vector<std::string> args, std::chrono::seconds timeout) {
    args.push_back("--monitor");
    args.push_back(monitor_uri());
    return monitor_->autoctl(args, {}, timeout);
}

std::string Formation::formation_uri() {
    auto result = autoctl({"show", "uri", "--formation", "default"});
    if (result.exit_status != 0) throw std::runtime_error("show uri failed: " + result.err);
    while (!result.out.empty() && result.out.back() == '\n') result.out.pop_back();
    return result.out;
}

// --- Writer -----------------------------------------------------------------------------------

Writer::Writer(const std::string& uri) : info_(pg::ConnInfo::parse(uri)) {
    info_.set_user(TestUser::get().name()).set_connect_timeout(2).set_application_name("autoctl-e2e-writer");
    std::string error;
    const bool created = wait_until(
        [&] {
            try {
                pg::Connection conn(info_);
                conn.exec("CREATE TABLE IF NOT EXISTS autoctl_e2e_writes (id bigint PRIMARY KEY, "
                          "at timestamptz NOT NULL DEFAULT clock_timestamp())");
                return true;
            } catch (const std::exception& e) {
                error = e.what();
                return false;
            }
        },
        30s);
    if (!created) throw std::runtime_error("cannot create the writer's table through " + uri + ": " + error);
}

Writer::~Writer() { stop(); }

void Writer::start() {
    last_ack_ = std::chrono::steady_clock::now();
    thread_ = std::thread([this] { run(); });
}

void Writer::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void Writer::run() {
    std::int64_t next = 1;
    while (!stop_) {
        // A fresh id for every attempt: a failed COMMIT may still have been applied.
        const std::int64_t id = next++;
        try {
            pg::Connection conn(info_);
            conn.exec_params("INSERT INTO autoctl_e2e_writes (id) VALUES ($1)", id);
            const auto now = std::chrono::steady_clock::now();
            std::lock_guard<std::mutex> lock(mutex_);
            acknowledged_.push_back(id);
            longest_gap_ =
                std::max(longest_gap_, std::chrono::duration_cast<std::chrono::milliseconds>(now - last_ack_));
            last_ack_ = now;
        } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(mutex_);
            ++failures_;
            last_error_ = e.what();
        }
        // Pace the inserts: the machine also runs every node of the formation.
        std::this_thread::sleep_for(20ms);
    }
}

std::size_t Writer::acknowledged_count() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return acknowledged_.size();
}

bool Writer::wait_for_writes(std::size_t more, std::chrono::milliseconds limit) const {
    const std::size_t target = acknowledged_count() + more;
    return wait_until([&] { return acknowledged_count() >= target; }, limit);
}

std::vector<std::int64_t> Writer::missing_on(const AutoctlNode& node) const {
    std::vector<std::int64_t> acknowledged;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        acknowledged = acknowledged_;
    }
    std::vector<std::int64_t> present;
    for (const auto& row : node.sql("SELECT id FROM autoctl_e2e_writes ORDER BY id")) present.push_back(row.as_int64(0));
    std::vector<std::int64_t> missing;
    std::set_difference(acknowledged.begin(), acknowledged.end(), present.begin(), present.end(),
                        std::back_inserter(missing));
    return missing;
}

std::chrono::milliseconds Writer::longest_gap() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return longest_gap_;
}

std::size_t Writer::failures() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return failures_;
}

std::string Writer::last_error() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_error_;
}

std::string Writer::summary() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::to_string(acknowledged_.size()) + " inserts acknowledged, " + std::to_string(failures_) +
           " failed, longest gap between acknowledged inserts " + std::to_string(longest_gap_.count()) + " ms" +
           (last_error_.empty() ? "" : ", last error: " + last_error_);
}

bool writable(const AutoctlNode& node) {
    try {
        return node.sql("SELECT (NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off')::text")[0]
                   .text(0) == "true";
    } catch (const std::exception&) {
        return false;
    }
}

void expect_no_write_lost(const Writer& writer, const AutoctlNode& node) {
    std::cerr << "writer: " << writer.summary() << "\n";
    EXPECT_GT(writer.acknowledged_count(), 0u);
    const auto missing = writer.missing_on(node);
    EXPECT_TRUE(missing.empty()) << missing.size() << " acknowledged inserts are missing on " << node.label()
                                 << ", the first one is id " << (missing.empty() ? 0 : missing.front());
}

}  // namespace autoctl::e2e

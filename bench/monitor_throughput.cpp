// monitor_throughput: how many keepers one monitor serves, and what it costs when idle.
//
// Throughput run (--keepers N, --seconds S):
//   - a real Postgres 15 (tests/support PgCluster, max_connections N + 50, fsync on) holding the
//     monitor database, prepared as tests/integration/monitor/monitor_fixture.hpp does;
//   - the monitor service (MonitorService) in a forked child process, so that its CPU is read
//     alone from /proc/<child>/stat;
//   - N simulated keepers: N/2 pgsql formations of two nodes (a pgsql formation has one group),
//     each keeper on its own persistent libpq connection (role autoctl_node), driven by a few
//     threads with non-blocking libpq + epoll. Each keeper calls node_active once a second, the N
//     keepers spread evenly over the second. Keepers obey: the state they report is the last goal
//     the monitor assigned them (the transition itself takes no time);
//   - a steady stream of decisions: every --cycle-seconds, in each group (groups spread evenly),
//     the standby reports that its Postgres is not running. The monitor then walks the group
//     through   secondary -> catchingup + primary -> wait_primary   (D1, decided on the primary's
//     evaluation or the 1 s timer), catchingup -> secondary (D2), wait_primary -> primary (D3);
//   - one LISTEN state connection that timestamps every notification. With --keepers-listen every
//     keeper connection also LISTENs state, as design.md §1 has autoctl keepers do, and a keeper
//     reports at once when a notification gives it a new goal (otherwise it learns its goal from
//     node_active and reports the new state at its next tick, as pg_autoctl does).
//
// Figures, over the measurement window (after bootstrap and a warm-up):
//   - reports/s and node_active round trip p50/p99 (send to last result, every report);
//   - report -> NOTIFY: for each goal change announced on channel `state`, the time from sending
//     the report that enabled it (the last of the reports establishing the rule's preconditions)
//     to receiving the notification; p50/p99 over all decisions, and separately over the
//     decisions taken on the evaluation of that very report ("own"), which is the report ->
//     autoctl_report -> monitor service -> decision -> NOTIFY pipeline alone. The others waited
//     for another node's report or for the monitor's 1 s timer, which the rules require;
//   - CPU, in % of one core: the monitor service child, the monitor's postgres (postmaster, all its
//     children alive at either end of the window, and children reaped meanwhile via cutime/cstime),
//     and this process (the simulated keepers) for context.
//
// Health checks are OFF by default in the throughput run (node health is set to good once, as the
// integration tests do): every node would otherwise need a Postgres to answer. --health-checks
// turns them on against a tiny in-process responder that answers each check like a server that
// refuses the login (PQping counts that as up), one listening port per node, so the cost of the
// health checker itself (threads, one UPDATE per node per round) is in the figures.
//
// Idle run (--idle-seconds, default 60): a fresh cluster, the monitor service with health checks
// ON (against the responder), one formation with two nodes taken to primary/secondary by two
// keepers reporting once a second; then the CPU of the monitor's postgres (and of the service)
// over the window.
//
//   monitor_throughput [--keepers N] [--seconds S] [--idle-seconds I] [--json]
//                      [--cycle-seconds C] [--warmup W] [--threads T] [--health-checks]
//                      [--keepers-listen] [--no-fsync]
//
// Must run as root or as a user that can run Postgres (see tests/support/test_env.hpp).

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <pqxx/pqxx>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "autoctl/common/log.hpp"
#include "autoctl/monitor/monitor_service.hpp"
#include "autoctl/monitor/schema.hpp"
#include "support/pg_cluster.hpp"

namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using autoctl::fixture::PgCluster;
using autoctl::fixture::PgClusterOptions;

std::atomic<bool> g_interrupted{false};

void on_interrupt(int) { g_interrupted = true; }

std::int64_t mono_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// Sleeps until `deadline_ns` (monotonic), or until interrupted.
void sleep_until_ns(std::int64_t deadline_ns) {
    while (!g_interrupted) {
        const std::int64_t left = deadline_ns - mono_ns();
        if (left <= 0) return;
        std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::int64_t>(left, 100'000'000)));
    }
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc

struct ProcTimes {
    bool ok = false;
    int ppid = 0;
    long long utime = 0, stime = 0, cutime = 0, cstime = 0;  // clock ticks
};

ProcTimes read_proc_times(pid_t pid) {
    ProcTimes t;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return t;
    char buf[1024];
    const ssize_t n = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (n <= 0) return t;
    buf[n] = '\0';
    const char* paren = std::strrchr(buf, ')');
    if (paren == nullptr) return t;
    // Fields after the command: state(3) ppid(4) pgrp session tty_nr tpgid flags minflt cminflt
    // majflt cmajflt(13) utime(14) stime(15) cutime(16) cstime(17).
    std::istringstream in(paren + 2);
    char state = 0;
    long long skip = 0;
    in >> state >> t.ppid;
    for (int i = 0; i < 9; ++i) in >> skip;
    in >> t.utime >> t.stime >> t.cutime >> t.cstime;
    t.ok = static_cast<bool>(in);
    return t;
}

// A process's own CPU (all its threads, living and exited) plus that of its reaped children.
long long process_ticks(pid_t pid) {
    const auto t = read_proc_times(pid);
    return t.ok ? t.utime + t.stime + t.cutime + t.cstime : 0;
}

// A Postgres cluster's CPU: the postmaster, the children it reaped (cutime/cstime), and every
// child alive now. Taken at both ends of a window, the difference counts every backend that ran
// in it, also those that started or ended meanwhile.
struct ClusterTicks {
    long long ticks = 0;
    int processes = 0;
};

ClusterTicks cluster_ticks(pid_t postmaster) {
    ClusterTicks r;
    r.ticks = process_ticks(postmaster);
    r.processes = 1;
    DIR* dir = ::opendir("/proc");
    if (dir == nullptr) return r;
    while (const dirent* e = ::readdir(dir)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        const pid_t pid = static_cast<pid_t>(std::atol(e->d_name));
        const auto t = read_proc_times(pid);
        if (!t.ok || t.ppid != postmaster) continue;
        r.ticks += t.utime + t.stime;
        ++r.processes;
    }
    ::closedir(dir);
    return r;
}

// The whole machine, from /proc/stat: ticks spent busy (everything but idle and iowait), summed
// over CPUs.
struct MachineTicks {
    long long busy = 0;
};

MachineTicks machine_ticks() {
    MachineTicks m;
    std::ifstream in("/proc/stat");
    std::string cpu;
    long long v[10] = {};
    in >> cpu;
    for (auto& x : v) in >> x;
    // user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
    m.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return m;
}

double cpu_percent(long long ticks, double seconds) {
    static const long hz = ::sysconf(_SC_CLK_TCK);
    return seconds > 0 ? 100.0 * static_cast<double>(ticks) / static_cast<double>(hz) / seconds : 0.0;
}

// ---------------------------------------------------------------------------------------------
// Percentiles

struct Percentiles {
    std::size_t count = 0;
    double p50_ms = 0, p99_ms = 0, max_ms = 0;
};

Percentiles percentiles(std::vector<std::int64_t> ns) {
    Percentiles p;
    p.count = ns.size();
    if (ns.empty()) return p;
    std::sort(ns.begin(), ns.end());
    auto rank = [&](double q) {
        std::size_t i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(ns.size())));
        return ns[std::min(ns.size() - 1, i == 0 ? 0 : i - 1)];
    };
    p.p50_ms = rank(0.50) / 1e6;
    p.p99_ms = rank(0.99) / 1e6;
    p.max_ms = ns.back() / 1e6;
    return p;
}

json to_json(const Percentiles& p) {
    return json{{"count", p.count}, {"p50_ms", p.p50_ms}, {"p99_ms", p.p99_ms}, {"max_ms", p.max_ms}};
}

// ---------------------------------------------------------------------------------------------
// Health check responder: one listening port per node on 127.0.0.1. Answers SSLRequest and
// GSSENCRequest with 'N', and a startup packet with a FATAL ErrorResponse (SQLSTATE 28000), which
// PQping reports as PQPING_OK ("the server is up"), then closes.

class HealthResponder {
public:
    explicit HealthResponder(int count) {
        epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
        stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (epfd_ < 0 || stop_fd_ < 0) throw std::runtime_error("epoll/eventfd failed");
        add(stop_fd_, kStopTag);
        for (int i = 0; i < count; ++i) {
            const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            socklen_t len = sizeof addr;
            if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0 ||
                ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
                throw std::runtime_error(std::string("health responder bind/listen: ") + std::strerror(errno));
            listen_fds_.push_back(fd);
            ports_.push_back(ntohs(addr.sin_port));
            add(fd, kListenTag | static_cast<std::uint64_t>(fd));
        }
        thread_ = std::thread([this] { run(); });
    }
    ~HealthResponder() {
        const std::uint64_t one = 1;
        (void)!::write(stop_fd_, &one, sizeof one);
        if (thread_.joinable()) thread_.join();
        for (auto& [fd, buf] : conns_) ::close(fd);
        for (int fd : listen_fds_) ::close(fd);
        ::close(stop_fd_);
        ::close(epfd_);
    }
    HealthResponder(const HealthResponder&) = delete;
    HealthResponder& operator=(const HealthResponder&) = delete;

    const std::vector<int>& ports() const { return ports_; }
    long long answered() const { return answered_.load(); }

private:
    static constexpr std::uint64_t kStopTag = 1ULL << 62;
    static constexpr std::uint64_t kListenTag = 1ULL << 61;

    void add(int fd, std::uint64_t tag) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = tag;
        if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0)
            throw std::runtime_error(std::string("epoll_ctl: ") + std::strerror(errno));
    }

    void drop(int fd) {
        ::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, nullptr);
        ::close(fd);
        conns_.erase(fd);
    }

    static std::uint32_t be32(const std::string& s, std::size_t at) {
        std::uint32_t v;
        std::memcpy(&v, s.data() + at, 4);
        return ntohl(v);
    }

    void serve(int fd) {
        char buf[4096];
        for (;;) {
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n > 0) {
                conns_[fd].append(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
            drop(fd);  // EOF or error
            return;
        }
        std::string& in = conns_[fd];
        while (in.size() >= 8) {
            const std::uint32_t len = be32(in, 0);
            if (len < 8 || len > 10000) {
                drop(fd);
                return;
            }
            if (in.size() < len) return;
            const std::uint32_t code = be32(in, 4);
            in.erase(0, len);
            if (code == 80877103 || code == 80877104) {  // SSLRequest, GSSENCRequest
                (void)!::write(fd, "N", 1);
                continue;
            }
            static const std::string body = std::string("SFATAL") + '\0' + "VFATAL" + '\0' + "C28000" + '\0' +
                                            "Mmonitor_throughput health responder" + '\0' + '\0';
            std::string msg = "E";
            const std::uint32_t blen = htonl(static_cast<std::uint32_t>(body.size() + 4));
            msg.append(reinterpret_cast<const char*>(&blen), 4);
            msg += body;
            (void)!::write(fd, msg.data(), msg.size());
            answered_.fetch_add(1);
            drop(fd);
            return;
        }
    }

    void run() {
        std::vector<epoll_event> events(256);
        for (;;) {
            const int n = ::epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), -1);
            if (n < 0) {
                if (errno == EINTR) continue;
                return;
            }
            for (int i = 0; i < n; ++i) {
                const std::uint64_t tag = events[i].data.u64;
                if (tag == kStopTag) return;
                if (tag & kListenTag) {
                    const int lfd = static_cast<int>(tag & 0xffffffffULL);
                    for (;;) {
                        const int c = ::accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
                        if (c < 0) break;
                        conns_[c];
                        add(c, static_cast<std::uint64_t>(c));
                    }
                } else {
                    serve(static_cast<int>(tag));
                }
            }
        }
    }

    int epfd_ = -1;
    int stop_fd_ = -1;
    std::vector<int> listen_fds_;
    std::vector<int> ports_;
    std::unordered_map<int, std::string> conns_;
    std::atomic<long long> answered_{0};
    std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// The monitor service in a child process.

std::atomic<bool> g_child_stop{false};
void on_child_term(int) { g_child_stop = true; }

class MonitorServiceProcess {
public:
    // Forks. Call while this process has no other thread and no open connection.
    MonitorServiceProcess(const std::string& conninfo, bool health_checks, const std::string& log_path)
        : log_path_(log_path) {
        std::cout.flush();
        std::cerr.flush();
        pid_ = ::fork();
        if (pid_ < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
        if (pid_ == 0) child(conninfo, health_checks, log_path);  // never returns
    }
    ~MonitorServiceProcess() { stop(); }
    MonitorServiceProcess(const MonitorServiceProcess&) = delete;
    MonitorServiceProcess& operator=(const MonitorServiceProcess&) = delete;

    pid_t pid() const { return pid_; }
    bool alive() {
        if (pid_ <= 0) return false;
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return false;
        }
        return true;
    }
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        const auto deadline = std::chrono::steady_clock::now() + 15s;
        int status = 0;
        for (;;) {
            const pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_ || (r < 0 && errno != EINTR)) break;
            if (std::chrono::steady_clock::now() > deadline) {
                std::cerr << "monitor service child " << pid_ << " did not stop: SIGKILL\n";
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                break;
            }
            std::this_thread::sleep_for(20ms);
        }
        pid_ = -1;
    }
    std::string log_tail(std::size_t bytes = 4000) const {
        std::ifstream in(log_path_, std::ios::binary);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        return text.size() > bytes ? text.substr(text.size() - bytes) : text;
    }

private:
    [[noreturn]] static void child(const std::string& conninfo, bool health_checks, const std::string& log_path) {
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        struct sigaction sa {};
        sa.sa_handler = on_child_term;
        ::sigaction(SIGTERM, &sa, nullptr);
        ::sigaction(SIGINT, &sa, nullptr);
        const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd >= 0) {
            ::dup2(fd, 1);
            ::dup2(fd, 2);
            ::close(fd);
        }
        int code = 0;
        try {
            autoctl::common::setup_logging(autoctl::common::LogLevel::Info);
            autoctl::monitor::MonitorServiceOptions o;
            o.conninfo = conninfo;
            o.enable_health_checks = health_checks;
            o.lock_retry = 100ms;
            autoctl::monitor::MonitorService(o).run(g_child_stop);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "monitor service failed: %s\n", e.what());
            code = 2;
        }
        std::fflush(nullptr);
        ::_exit(code);  // never run the parent's destructors (PgCluster, TempDir) here
    }

    pid_t pid_ = -1;
    std::string log_path_;
};

// ---------------------------------------------------------------------------------------------
// Node states as the SQL API spells them.

constexpr std::array<const char*, 22> kStates = {
    "unknown",     "init",          "single",         "wait_primary",     "primary",          "draining",
    "demote_timeout", "demoted",    "catchingup",     "secondary",        "prepare_promotion", "stop_replication",
    "wait_standby", "maintenance",  "join_primary",   "apply_settings",   "prepare_maintenance", "wait_maintenance",
    "report_lsn",  "fast_forward",  "join_secondary", "dropped"};
constexpr int kNoState = -1;

int state_index(std::string_view name) {
    for (std::size_t i = 0; i < kStates.size(); ++i)
        if (name == kStates[i]) return static_cast<int>(i);
    return kNoState;
}
const int kSingle = state_index("single"), kWaitPrimary = state_index("wait_primary"),
          kPrimary = state_index("primary"), kCatchingUp = state_index("catchingup"),
          kSecondary = state_index("secondary"), kWaitStandby = state_index("wait_standby");

// ---------------------------------------------------------------------------------------------
// Simulated keepers.

struct Group;

struct Keeper {
    std::int64_t id = 0;
    Group* group = nullptr;
    std::string formation;
    std::string id_text;
    PGconn* conn = nullptr;
    int fd = -1;
    bool listens = false;
    bool dead = false;

    // Owned by the keeper's thread.
    int current = kNoState;  // the state it reports: its last assigned goal, reached at once
    int goal = kNoState;
    bool fault = false;      // reports "Postgres not running" until the monitor reacts
    bool in_flight = false;
    bool want_out = false;   // EPOLLOUT armed
    bool wake_now = false;   // report at once (a notification assigned a new goal)
    std::int64_t phase_ns = 0;
    std::int64_t next_due_ns = 0;
    std::int64_t sent_ns = 0;
    int last_sent_state = kNoState;
    bool last_sent_running = true;
    std::string result_goal;

    // Read by the listener thread: when this keeper first reported each state (latest run of it),
    // and when its latest fault began.
    std::array<std::atomic<std::int64_t>, kStates.size()> first_report_ns{};
    std::atomic<std::int64_t> fault_ns{0};
};

struct Group {
    std::string formation;
    Keeper* primary = nullptr;  // registered first; stays the primary (no failover in this cycle)
    Keeper* standby = nullptr;
    std::int64_t next_fault_ns = 0;
};

constexpr const char* kNodeActiveSql =
    "SELECT assigned_group_state::text FROM pgautofailover.node_active($1, $2::bigint, $3::int, "
    "$4::pgautofailover.replication_state, $5::bool, $6::int, $7::pg_lsn, $8)";

struct ThreadStats {
    std::vector<std::int64_t> rtt_ns;  // node_active round trips completed in the window
    long long reports = 0;             // completed in the window
    std::vector<long long> per_second; // completed in each second of the window
    long long skipped = 0;             // ticks skipped because the previous report was still running
    long long errors = 0;
    long long faults = 0;              // faults injected in the window
    std::string first_error;
};

struct EngineConfig {
    bool keepers_listen = false;
    std::int64_t cycle_ns = 0;  // 0: no faults
    int threads = 2;
};

class KeeperEngine {
public:
    KeeperEngine(std::vector<std::unique_ptr<Keeper>>& keepers, std::vector<std::unique_ptr<Group>>& groups,
                 EngineConfig config)
        : keepers_(keepers), groups_(groups), config_(config) {}

    ~KeeperEngine() { stop(); }

    void start(std::int64_t start_ns) {
        const int t = std::max(1, std::min<int>(config_.threads, static_cast<int>(groups_.size())));
        stats_.resize(t);
        const std::int64_t n = static_cast<std::int64_t>(keepers_.size());
        // Evenly spread over the second, in a shuffled order (fixed seed): the two keepers of a
        // group report in no fixed order and at no fixed distance, as independent machines would.
        std::vector<std::int64_t> slots(static_cast<std::size_t>(n));
        for (std::int64_t i = 0; i < n; ++i) slots[static_cast<std::size_t>(i)] = i;
        std::shuffle(slots.begin(), slots.end(), std::mt19937(42));
        for (std::int64_t i = 0; i < n; ++i) {
            keepers_[i]->phase_ns = slots[static_cast<std::size_t>(i)] * 1'000'000'000 / n;
            keepers_[i]->next_due_ns = start_ns + keepers_[i]->phase_ns;
        }
        for (int i = 0; i < t; ++i) threads_.emplace_back([this, i, t] { run(i, t); });
    }

    // Faults are injected from `first_ns` on, group g at first_ns + g * cycle / groups + k * cycle.
    void enable_faults(std::int64_t first_ns) {
        const std::int64_t g = static_cast<std::int64_t>(groups_.size());
        for (std::int64_t i = 0; i < g; ++i) groups_[i]->next_fault_ns = first_ns + i * config_.cycle_ns / g;
        faults_on_ = config_.cycle_ns > 0;
    }
    void set_window(std::int64_t from_ns, std::int64_t to_ns) {
        window_to_ = to_ns;
        window_from_ = from_ns;
    }
    void stop() {
        stop_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
        threads_.clear();
    }
    const std::vector<ThreadStats>& stats() const { return stats_; }

private:
    bool in_window(std::int64_t t) const { return t >= window_from_.load() && t <= window_to_.load(); }

    void arm(int epfd, Keeper& k, bool out) {
        if (k.want_out == out) return;
        epoll_event ev{};
        ev.events = out ? (EPOLLIN | EPOLLOUT) : static_cast<std::uint32_t>(EPOLLIN);
        ev.data.ptr = &k;
        ::epoll_ctl(epfd, EPOLL_CTL_MOD, k.fd, &ev);
        k.want_out = out;
    }

    void fail(ThreadStats& st, Keeper& k, const std::string& what) {
        ++st.errors;
        if (st.first_error.empty()) st.first_error = "node " + k.id_text + ": " + what;
    }

    // The keeper learned its goal (from node_active or a notification): it runs the transition,
    // which takes no time here, and reports the new state from now on.
    void learn_goal(Keeper& k, int goal) {
        if (goal == kNoState || goal == k.goal) return;
        k.goal = goal;
        k.current = goal;
        if (k.fault && goal != kSecondary) k.fault = false;  // the monitor reacted: Postgres is back
    }

    void maybe_inject_fault(Keeper& k, std::int64_t now, ThreadStats& st) {
        Group& g = *k.group;
        if (!faults_on_ || &k != g.standby || k.fault || now < g.next_fault_ns) return;
        const Keeper& p = *g.primary;
        if (!(k.current == kSecondary && k.goal == kSecondary && p.current == kPrimary && p.goal == kPrimary)) return;
        k.fault = true;
        g.next_fault_ns += config_.cycle_ns;
        if (g.next_fault_ns < now) g.next_fault_ns = now + config_.cycle_ns;
        if (in_window(now)) ++st.faults;
    }

    void send(int epfd, Keeper& k, std::int64_t now, ThreadStats& st) {
        maybe_inject_fault(k, now, st);
        const bool running = !k.fault;
        const int state = k.current;
        if (state != k.last_sent_state) k.first_report_ns[state].store(now);
        if (!running && k.last_sent_running) k.fault_ns.store(now);
        k.last_sent_state = state;
        k.last_sent_running = running;
        // A primary sees its standby as a quorum standby in pg_stat_replication.
        const char* values[8] = {k.formation.c_str(), k.id_text.c_str(), "0", kStates[state],
                                 running ? "true" : "false", "1", "0/3000000", state == kPrimary ? "quorum" : ""};
        if (PQsendQueryParams(k.conn, kNodeActiveSql, 8, nullptr, values, nullptr, nullptr, 0) != 1) {
            fail(st, k, PQerrorMessage(k.conn));
            k.dead = true;
            return;
        }
        k.in_flight = true;
        k.sent_ns = now;
        k.result_goal.clear();
        const int f = PQflush(k.conn);
        if (f < 0) {
            fail(st, k, PQerrorMessage(k.conn));
            k.dead = true;
        } else {
            arm(epfd, k, f == 1);
        }
    }

    static std::int64_t payload_node_id(const char* payload) {
        const char* p = std::strstr(payload, "\"nodeId\": ");
        return p != nullptr ? std::strtoll(p + 10, nullptr, 10) : 0;
    }
    static int payload_goal(const char* payload) {
        const char* p = std::strstr(payload, "\"goalState\": \"");
        if (p == nullptr) return kNoState;
        p += 14;
        const char* e = std::strchr(p, '"');
        return e != nullptr ? state_index(std::string_view(p, static_cast<std::size_t>(e - p))) : kNoState;
    }

    void readable(int epfd, Keeper& k, ThreadStats& st) {
        if (PQconsumeInput(k.conn) != 1) {
            fail(st, k, PQerrorMessage(k.conn));
            k.dead = true;
            ::epoll_ctl(epfd, EPOLL_CTL_DEL, k.fd, nullptr);
            return;
        }
        while (PGnotify* n = PQnotifies(k.conn)) {
            if (k.listens && payload_node_id(n->extra) == k.id) {
                const int goal = payload_goal(n->extra);
                if (goal != kNoState && goal != k.goal) {
                    learn_goal(k, goal);
                    k.wake_now = true;
                }
            }
            PQfreemem(n);
        }
        while (k.in_flight && !PQisBusy(k.conn)) {
            PGresult* r = PQgetResult(k.conn);
            if (r == nullptr) {
                const std::int64_t done = mono_ns();
                k.in_flight = false;
                if (in_window(done)) {
                    ++st.reports;
                    st.rtt_ns.push_back(done - k.sent_ns);
                    const auto second = static_cast<std::size_t>((done - window_from_.load()) / 1'000'000'000);
                    if (st.per_second.size() <= second) st.per_second.resize(second + 1);
                    ++st.per_second[second];
                }
                if (!k.result_goal.empty()) learn_goal(k, state_index(k.result_goal));
                break;
            }
            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
                k.result_goal = PQgetvalue(r, 0, 0);
            } else {
                fail(st, k, PQresultErrorMessage(r));
            }
            PQclear(r);
        }
    }

    void run(int index, int count) {
        ThreadStats& st = stats_[index];
        const int epfd = ::epoll_create1(EPOLL_CLOEXEC);
        std::vector<Keeper*> mine;
        for (std::size_t g = static_cast<std::size_t>(index); g < groups_.size(); g += static_cast<std::size_t>(count)) {
            mine.push_back(groups_[g]->primary);
            mine.push_back(groups_[g]->standby);
        }
        for (Keeper* k : mine) {
            epoll_event ev{};
            ev.events = EPOLLIN;
            ev.data.ptr = k;
            ::epoll_ctl(epfd, EPOLL_CTL_ADD, k->fd, &ev);
        }
        std::vector<epoll_event> events(256);
        while (!stop_.load() && !g_interrupted.load()) {
            std::int64_t now = mono_ns();
            std::int64_t next = now + 50'000'000;
            for (Keeper* k : mine) {
                if (k->dead) continue;
                if (now >= k->next_due_ns) {
                    // The keeper's one-second tick. A tick that finds the previous report still
                    // running is skipped (and counted), as a keeper loop would be late.
                    if (k->in_flight) {
                        if (in_window(now)) ++st.skipped;
                    } else {
                        k->wake_now = false;
                        send(epfd, *k, now, st);
                    }
                    while (k->next_due_ns <= now) k->next_due_ns += 1'000'000'000;
                } else if (k->wake_now && !k->in_flight) {
                    k->wake_now = false;  // a notification assigned a new goal: report at once
                    send(epfd, *k, now, st);
                }
                if (!k->in_flight) next = std::min(next, k->wake_now ? now : k->next_due_ns);
            }
            const int timeout_ms = static_cast<int>(std::max<std::int64_t>(0, (next - mono_ns() + 999'999) / 1'000'000));
            const int n = ::epoll_wait(epfd, events.data(), static_cast<int>(events.size()), timeout_ms);
            for (int i = 0; i < n; ++i) {
                Keeper& k = *static_cast<Keeper*>(events[i].data.ptr);
                if (k.dead) continue;
                if (events[i].events & EPOLLOUT) {
                    const int f = PQflush(k.conn);
                    if (f < 0) {
                        fail(st, k, PQerrorMessage(k.conn));
                        k.dead = true;
                        continue;
                    }
                    arm(epfd, k, f == 1);
                }
                if (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) readable(epfd, k, st);
            }
        }
        ::close(epfd);
    }

    std::vector<std::unique_ptr<Keeper>>& keepers_;
    std::vector<std::unique_ptr<Group>>& groups_;
    EngineConfig config_;
    std::vector<std::thread> threads_;
    std::vector<ThreadStats> stats_;
    std::atomic<bool> stop_{false};
    std::atomic<bool> faults_on_{false};
    std::atomic<std::int64_t> window_from_{std::numeric_limits<std::int64_t>::max()};
    std::atomic<std::int64_t> window_to_{std::numeric_limits<std::int64_t>::max()};
};

// ---------------------------------------------------------------------------------------------
// The LISTEN state connection: timestamps every notification and attributes goal changes.

struct DecisionStats {
    std::vector<std::int64_t> all_ns;  // every decision of the cycle, from its enabling report
    std::vector<std::int64_t> own_ns;  // decided on the evaluation of the enabling report itself
    std::vector<std::int64_t> d1_ns, d2_ns, d3_ns;
    long long notifications = 0;       // every `state` notification in the window
    long long decisions = 0;           // goal changes in the window
    std::map<std::string, long long> unexpected;  // goal changes outside the cycle ("a->b")
};

class Listener {
public:
    Listener(const std::string& conninfo, const std::unordered_map<std::int64_t, Keeper*>& by_id)
        : by_id_(by_id) {
        conn_ = PQconnectdb(conninfo.c_str());
        if (PQstatus(conn_) != CONNECTION_OK) throw std::runtime_error(std::string("listener: ") + PQerrorMessage(conn_));
        PGresult* r = PQexec(conn_, "LISTEN state");
        PQclear(r);
        // The goals as they are now; every later notification that changes one is a decision.
        r = PQexec(conn_, "SELECT nodeid, goalstate::text FROM pgautofailover.node");
        for (int i = 0; i < PQntuples(r); ++i)
            goals_[std::strtoll(PQgetvalue(r, i, 0), nullptr, 10)] = state_index(PQgetvalue(r, i, 1));
        PQclear(r);
        thread_ = std::thread([this] { run(); });
    }
    ~Listener() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        PQfinish(conn_);
    }
    void set_window(std::int64_t from_ns, std::int64_t to_ns) {
        window_to_ = to_ns;
        window_from_ = from_ns;
    }
    // Call after the thread stopped or the window closed.
    DecisionStats take() {
        std::lock_guard<std::mutex> lock(mutex_);
        return stats_;
    }

private:
    void handle(const char* payload, std::int64_t now) {
        auto j = json::parse(payload, nullptr, false);
        if (!j.is_object()) return;
        const std::int64_t node = j.value("nodeId", std::int64_t{0});
        const int goal = state_index(j.value("goalState", std::string()));
        const bool in_window = now >= window_from_.load() && now <= window_to_.load();
        std::lock_guard<std::mutex> lock(mutex_);
        if (in_window) ++stats_.notifications;
        int& known = goals_[node];
        const int before = known;
        if (goal == before || goal == kNoState) return;
        known = goal;
        if (!in_window) return;
        ++stats_.decisions;
        auto it = by_id_.find(node);
        if (it == by_id_.end()) return;
        const Keeper* k = it->second;
        const Group& g = *k->group;
        const Keeper& p = *g.primary;
        const Keeper& s = *g.standby;
        const bool is_s = k == &s;
        std::int64_t enabler = 0;
        bool own = false;
        std::vector<std::int64_t>* per_kind = nullptr;
        if ((is_s && before == kSecondary && goal == kCatchingUp) || (!is_s && before == kPrimary && goal == kWaitPrimary)) {
            enabler = s.fault_ns.load();  // D1: decided on the primary's report or the timer
            per_kind = &stats_.d1_ns;
        } else if (is_s && before == kCatchingUp && goal == kSecondary) {
            const std::int64_t by_s = s.first_report_ns[kCatchingUp].load();
            const std::int64_t by_p = p.first_report_ns[kWaitPrimary].load();
            enabler = std::max(by_s, by_p);
            own = by_s >= by_p;  // the standby's own evaluation runs rule 14
            per_kind = &stats_.d2_ns;
        } else if (!is_s && before == kWaitPrimary && goal == kPrimary) {
            const std::int64_t by_p = p.first_report_ns[kWaitPrimary].load();
            const std::int64_t by_s = s.first_report_ns[kSecondary].load();
            enabler = std::max(by_p, by_s);
            own = by_p >= by_s;  // the primary's own evaluation runs its rules
            per_kind = &stats_.d3_ns;
        } else {
            ++stats_.unexpected[std::string(before == kNoState ? "?" : kStates[before]) + "->" + kStates[goal]];
            return;
        }
        if (enabler <= 0 || enabler > now) {
            ++stats_.unexpected["unattributed " + std::string(kStates[goal])];
            return;
        }
        const std::int64_t latency = now - enabler;
        stats_.all_ns.push_back(latency);
        per_kind->push_back(latency);
        if (own) stats_.own_ns.push_back(latency);
    }

    void run() {
        const int fd = PQsocket(conn_);
        while (!stop_.load()) {
            pollfd pfd{fd, POLLIN, 0};
            const int r = ::poll(&pfd, 1, 100);
            if (r <= 0) continue;
            const std::int64_t now = mono_ns();
            if (PQconsumeInput(conn_) != 1) {
                std::cerr << "listener: " << PQerrorMessage(conn_);
                return;
            }
            while (PGnotify* n = PQnotifies(conn_)) {
                handle(n->extra, now);
                PQfreemem(n);
            }
        }
    }

    PGconn* conn_ = nullptr;
    const std::unordered_map<std::int64_t, Keeper*>& by_id_;
    std::unordered_map<std::int64_t, int> goals_;
    DecisionStats stats_;
    std::mutex mutex_;
    std::atomic<bool> stop_{false};
    std::atomic<std::int64_t> window_from_{std::numeric_limits<std::int64_t>::max()};
    std::atomic<std::int64_t> window_to_{std::numeric_limits<std::int64_t>::max()};
    std::thread thread_;
};

// ---------------------------------------------------------------------------------------------
// One run: a cluster, a monitor, keepers, a window.

struct PhaseConfig {
    std::string name;
    int keepers = 100;
    bool one_default_formation = false;  // idle: the "default" formation; else one per group
    double seconds = 20;
    double warmup = 10;
    double cycle_seconds = 0;  // 0: no faults (idle)
    bool health_checks = false;
    bool keepers_listen = false;
    bool fsync = true;
    int threads = 2;
    bool measure_decisions = true;
};

struct PhaseResult {
    json j;
    bool ok = false;
};

std::string conninfo_for(const PgCluster& cluster, const std::string& user, const std::string& app) {
    auto info = cluster.conninfo("pg_auto_failover");
    info.set_user(user);
    info.set_application_name(app);
    return info.to_libpq();
}

void log_step(const std::string& phase, const std::string& text) {
    std::cerr << "[" << phase << "] " << text << std::endl;
}

PhaseResult run_phase(const PhaseConfig& c) {
    PhaseResult out;
    const int n_keepers = c.keepers - c.keepers % 2;
    const int n_groups = n_keepers / 2;
    log_step(c.name, "starting Postgres (max_connections " + std::to_string(n_keepers + 50) + ")");

    PgClusterOptions po;
    po.settings = {{"max_connections", std::to_string(n_keepers + 50)}, {"fsync", c.fsync ? "on" : "off"}};
    PgCluster cluster(po);
    {
        auto admin = cluster.connect();
        admin.exec("CREATE ROLE autoctl LOGIN");
        admin.exec("CREATE ROLE autoctl_node LOGIN");
        admin.exec("CREATE DATABASE pg_auto_failover OWNER autoctl");
        pqxx::connection owner(conninfo_for(cluster, "autoctl", "bench setup"));
        autoctl::monitor::install_or_upgrade_schema(owner);
    }
    const std::string owner_conninfo = conninfo_for(cluster, "autoctl", "autoctl monitor service");
    const std::string node_conninfo = conninfo_for(cluster, "autoctl_node", "bench keeper");
    const std::string super_conninfo = conninfo_for(cluster, "postgres", "bench admin");

    // Fork the monitor service before this process has any thread or connection.
    const std::string log_path = (cluster.dir() / "monitor-service.log").string();
    MonitorServiceProcess service(owner_conninfo, c.health_checks, log_path);
    {
        pqxx::connection probe(node_conninfo);
        const auto deadline = std::chrono::steady_clock::now() + 30s;
        for (;;) {
            pqxx::nontransaction tx(probe);
            if (tx.exec("SELECT pgautofailover.monitor_service_is_running()")[0][0].as<bool>()) break;
            if (std::chrono::steady_clock::now() > deadline || !service.alive())
                throw std::runtime_error("the monitor service did not start:\n" + service.log_tail());
            std::this_thread::sleep_for(50ms);
        }
    }
    std::unique_ptr<HealthResponder> responder;
    if (c.health_checks) responder = std::make_unique<HealthResponder>(n_keepers);

    // Formations and nodes, through the SQL API.
    log_step(c.name, "registering " + std::to_string(n_keepers) + " nodes in " + std::to_string(n_groups) +
                         (c.one_default_formation ? " group" : " formations"));
    std::vector<std::unique_ptr<Keeper>> keepers;
    std::vector<std::unique_ptr<Group>> groups;
    {
        pqxx::connection owner(owner_conninfo);
        pqxx::connection node(node_conninfo);
        for (int g = 0; g < n_groups; ++g) {
            auto group = std::make_unique<Group>();
            if (c.one_default_formation) {
                group->formation = "default";
            } else {
                char name[32];
                std::snprintf(name, sizeof name, "f%05d", g);
                group->formation = name;
                pqxx::work tx(owner);
                tx.exec_params("SELECT pgautofailover.create_formation($1, 'pgsql', 'postgres', true, 0)",
                               group->formation);
                tx.commit();
            }
            for (int member = 0; member < 2; ++member) {
                const int index = g * 2 + member;
                const int port = responder ? responder->ports()[static_cast<std::size_t>(index)] : 20000 + index;
                pqxx::work tx(node);
                auto r = tx.exec_params(
                    "SELECT assigned_node_id, assigned_group_state::text FROM pgautofailover.register_node("
                    "$1, '127.0.0.1', $2, 'postgres', '', 7000000000000000001, -1, -1, 'init', 'standalone', 50, true)",
                    group->formation, port);
                tx.commit();
                auto k = std::make_unique<Keeper>();
                k->id = r[0][0].as<std::int64_t>();
                k->id_text = std::to_string(k->id);
                k->formation = group->formation;
                k->group = group.get();
                k->goal = k->current = state_index(r[0][1].as<std::string>());
                (member == 0 ? group->primary : group->standby) = k.get();
                keepers.push_back(std::move(k));
            }
            groups.push_back(std::move(group));
        }
        // As the integration tests do: the monitor's health checks have seen every node up.
        pqxx::connection super(super_conninfo);
        pqxx::nontransaction tx(super);
        tx.exec("UPDATE pgautofailover.node SET health = 1, healthchecktime = now()");
    }
    for (const auto& g : groups) {
        if (g->primary->goal != kSingle || g->standby->goal != kWaitStandby)
            throw std::runtime_error("unexpected registration states in " + g->formation);
    }

    // One persistent connection per keeper.
    log_step(c.name, "connecting " + std::to_string(n_keepers) + " keepers");
    std::unordered_map<std::int64_t, Keeper*> by_id;
    for (auto& k : keepers) {
        k->conn = PQconnectdb(node_conninfo.c_str());
        if (PQstatus(k->conn) != CONNECTION_OK)
            throw std::runtime_error("keeper connection " + std::to_string(by_id.size()) + ": " + PQerrorMessage(k->conn));
        if (c.keepers_listen) {
            PQclear(PQexec(k->conn, "LISTEN state"));
            k->listens = true;
        }
        PQsetnonblocking(k->conn, 1);
        k->fd = PQsocket(k->conn);
        by_id[k->id] = k.get();
    }
    struct CloseAll {
        std::vector<std::unique_ptr<Keeper>>& keepers;
        ~CloseAll() {
            for (auto& k : keepers)
                if (k->conn != nullptr) PQfinish(k->conn);
        }
    } close_all{keepers};

    EngineConfig ec;
    ec.keepers_listen = c.keepers_listen;
    ec.cycle_ns = static_cast<std::int64_t>(c.cycle_seconds * 1e9);
    ec.threads = c.threads;
    KeeperEngine engine(keepers, groups, ec);
    const std::int64_t t_start = mono_ns();
    engine.start(t_start);

    // Bootstrap: single/wait_standby -> primary/secondary in every group.
    log_step(c.name, "bootstrapping every group to primary/secondary");
    {
        pqxx::connection probe(super_conninfo);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60 + n_keepers / 2);
        int ready = 0;
        for (;;) {
            {
                pqxx::nontransaction tx(probe);
                ready = tx.exec("SELECT count(*) FROM pgautofailover.node WHERE reportedstate = goalstate AND "
                                "goalstate IN ('primary', 'secondary')")[0][0]
                            .as<int>();
            }
            if (ready == n_keepers) break;
            if (g_interrupted) throw std::runtime_error("interrupted");
            if (!service.alive()) throw std::runtime_error("the monitor service exited:\n" + service.log_tail());
            if (std::chrono::steady_clock::now() > deadline)
                throw std::runtime_error("bootstrap incomplete: " + std::to_string(ready) + "/" +
                                         std::to_string(n_keepers) + " nodes are primary/secondary");
            std::this_thread::sleep_for(250ms);
        }
    }
    const double bootstrap_s = (mono_ns() - t_start) / 1e9;
    log_step(c.name, "bootstrapped in " + std::to_string(bootstrap_s).substr(0, 5) + " s; warm-up " +
                         std::to_string(c.warmup).substr(0, 4) + " s, then measuring " +
                         std::to_string(c.seconds).substr(0, 5) + " s");

    std::unique_ptr<Listener> listener;
    if (c.measure_decisions) listener = std::make_unique<Listener>(node_conninfo, by_id);
    if (c.cycle_seconds > 0) engine.enable_faults(mono_ns());

    const std::int64_t t0 = mono_ns() + static_cast<std::int64_t>(c.warmup * 1e9);
    const std::int64_t t1 = t0 + static_cast<std::int64_t>(c.seconds * 1e9);
    engine.set_window(t0, t1);
    if (listener) listener->set_window(t0, t1);

    int backends = 0;
    {
        pqxx::connection probe(super_conninfo);
        pqxx::nontransaction tx(probe);
        backends = tx.exec("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'")[0][0].as<int>();
    }
    sleep_until_ns(t0);
    const std::int64_t m0 = mono_ns();
    const auto pg0 = cluster_ticks(cluster.postmaster_pid());
    const long long svc0 = process_ticks(service.pid());
    const long long self0 = process_ticks(::getpid());
    const auto machine0 = machine_ticks();
    const long long pings0 = responder ? responder->answered() : 0;
    sleep_until_ns(t1);
    const auto pg1 = cluster_ticks(cluster.postmaster_pid());
    const long long svc1 = process_ticks(service.pid());
    const long long self1 = process_ticks(::getpid());
    const auto machine1 = machine_ticks();
    const std::int64_t m1 = mono_ns();
    const long long pings1 = responder ? responder->answered() : 0;
    const bool service_alive = service.alive();
    if (g_interrupted) throw std::runtime_error("interrupted");

    engine.stop();
    DecisionStats ds;
    if (listener) {
        ds = listener->take();
        listener.reset();
    }
    const double window = (m1 - m0) / 1e9;       // for CPU figures
    const double counted = (t1 - t0) / 1e9;      // reports and notifications are counted in [t0, t1]

    long long reports = 0, skipped = 0, errors = 0, faults = 0;
    std::vector<std::int64_t> rtt;
    std::string first_error;
    for (const auto& st : engine.stats()) {
        reports += st.reports;
        skipped += st.skipped;
        errors += st.errors;
        faults += st.faults;
        rtt.insert(rtt.end(), st.rtt_ns.begin(), st.rtt_ns.end());
        if (first_error.empty()) first_error = st.first_error;
    }
    // Every node still reporting its goal at the end (no keeper fell silent)?
    int nodes_converged = 0;
    {
        pqxx::connection probe(super_conninfo);
        pqxx::nontransaction tx(probe);
        nodes_converged = tx.exec("SELECT count(*) FROM pgautofailover.node WHERE now() - reporttime < interval '5 s'")[0][0]
                              .as<int>();
    }
    service.stop();

    json j;
    j["phase"] = c.name;
    j["keepers"] = n_keepers;
    j["groups"] = n_groups;
    j["formations"] = c.one_default_formation ? 1 : n_groups;
    j["window_s"] = window;
    j["bootstrap_s"] = bootstrap_s;
    j["health_checks"] = c.health_checks;
    j["keepers_listen"] = c.keepers_listen;
    j["fsync"] = c.fsync;
    j["cycle_s"] = c.cycle_seconds;
    j["client_backends"] = backends;
    j["reports_per_s"] = reports / counted;
    j["node_active"] = to_json(percentiles(rtt));
    j["skipped_ticks"] = skipped;
    j["errors"] = errors;
    if (!first_error.empty()) j["first_error"] = first_error;
    j["nodes_reporting_at_end"] = nodes_converged;
    j["monitor_service_cpu_pct"] = cpu_percent(svc1 - svc0, window);
    j["monitor_postgres_cpu_pct"] = cpu_percent(pg1.ticks - pg0.ticks, window);
    j["monitor_postgres_processes"] = pg1.processes;
    j["keepers_process_cpu_pct"] = cpu_percent(self1 - self0, window);
    {
        // Everything else on the machine in the same window (other work slows the figures down).
        const long long busy = machine1.busy - machine0.busy;
        const long long ours = (pg1.ticks - pg0.ticks) + (svc1 - svc0) + (self1 - self0);
        j["machine_busy_cpu_pct"] = cpu_percent(busy, window);
        j["other_processes_cpu_pct"] = cpu_percent(std::max(0LL, busy - ours), window);
        j["cpu_cores"] = std::thread::hardware_concurrency();
    }
    {
        std::vector<long long> timeline;
        for (const auto& st : engine.stats()) {
            if (timeline.size() < st.per_second.size()) timeline.resize(st.per_second.size());
            for (std::size_t i = 0; i < st.per_second.size(); ++i) timeline[i] += st.per_second[i];
        }
        timeline.resize(static_cast<std::size_t>(std::ceil(counted)));
        j["reports_completed_per_second"] = timeline;
    }
    j["monitor_service_alive"] = service_alive;
    if (responder) j["health_checks_answered_per_s"] = (pings1 - pings0) / window;
    if (c.measure_decisions) {
        j["faults_injected"] = faults;
        j["state_notifications_per_s"] = ds.notifications / counted;
        j["decisions_per_s"] = ds.decisions / counted;
        j["report_to_notify_all"] = to_json(percentiles(ds.all_ns));
        j["report_to_notify_own"] = to_json(percentiles(ds.own_ns));
        j["report_to_notify_d1"] = to_json(percentiles(ds.d1_ns));
        j["report_to_notify_d2"] = to_json(percentiles(ds.d2_ns));
        j["report_to_notify_d3"] = to_json(percentiles(ds.d3_ns));
        json unexpected = json::object();
        for (const auto& [k, v] : ds.unexpected) unexpected[k] = v;
        j["unexpected_decisions"] = unexpected;
    }
    out.j = j;
    out.ok = service_alive && errors == 0;
    if (!service_alive) std::cerr << "monitor service log tail:\n" << service.log_tail() << "\n";
    return out;
}

// ---------------------------------------------------------------------------------------------

struct Options {
    int keepers = 100;
    double seconds = 20;
    double idle_seconds = 60;
    double cycle_seconds = 10;
    double warmup = 10;
    int threads = 2;
    bool json = false;
    bool health_checks = false;
    bool keepers_listen = false;
    bool fsync = true;
};

[[noreturn]] void usage(int code) {
    std::cout
        << "usage: monitor_throughput [options]\n"
           "  --keepers N         simulated keepers (N/2 two-node formations), default 100\n"
           "  --seconds S         throughput measurement window, default 20 (0: skip)\n"
           "  --idle-seconds I    idle measurement window (2-node formation), default 60 (0: skip)\n"
           "  --cycle-seconds C   each group's standby fails once every C seconds, default 10\n"
           "  --warmup W          seconds between bootstrap and the window, default 10\n"
           "  --threads T         keeper driver threads, default 2\n"
           "  --health-checks     throughput run with the monitor's health checks on (fake responders)\n"
           "  --keepers-listen    every keeper LISTENs state and reacts at once, as autoctl keepers do\n"
           "  --no-fsync          monitor Postgres with fsync off\n"
           "  --json              machine-readable output on stdout\n";
    std::exit(code);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(2);
            return argv[++i];
        };
        try {
            if (a == "--keepers") o.keepers = std::stoi(value());
            else if (a == "--seconds") o.seconds = std::stod(value());
            else if (a == "--idle-seconds") o.idle_seconds = std::stod(value());
            else if (a == "--cycle-seconds") o.cycle_seconds = std::stod(value());
            else if (a == "--warmup") o.warmup = std::stod(value());
            else if (a == "--threads") o.threads = std::stoi(value());
            else if (a == "--json") o.json = true;
            else if (a == "--health-checks") o.health_checks = true;
            else if (a == "--keepers-listen") o.keepers_listen = true;
            else if (a == "--no-fsync") o.fsync = false;
            else if (a == "-h" || a == "--help") usage(0);
            else {
                std::cerr << "unknown option " << a << "\n";
                usage(2);
            }
        } catch (const std::invalid_argument&) {
            std::cerr << "bad value for " << a << "\n";
            usage(2);
        }
    }
    if (o.keepers < 2 && o.seconds > 0) {
        std::cerr << "--keepers must be at least 2\n";
        usage(2);
    }
    return o;
}

std::string fmt(double v, int decimals = 1) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

void print_table(const json& throughput, const json& idle) {
    if (!throughput.is_null()) {
        const json& t = throughput;
        std::cout << "\nmonitor throughput (" << t["groups"] << " two-node formations, each standby failing every "
                  << fmt(t["cycle_s"].get<double>(), 0) << " s; health checks "
                  << (t["health_checks"].get<bool>() ? "on" : "off") << "; keepers "
                  << (t["keepers_listen"].get<bool>() ? "LISTEN state" : "poll once a second") << "; fsync "
                  << (t["fsync"].get<bool>() ? "on" : "off") << "; window " << fmt(t["window_s"].get<double>()) << " s)\n";
        std::printf("%8s %10s %11s %21s %21s %18s %11s %12s\n", "keepers", "reports/s", "decisions/s",
                    "report->notify p50/p99", "  own-report p50/p99", "node_active p50/p99", "service CPU",
                    "postgres CPU");
        auto pair = [](const json& p) {
            return fmt(p["p50_ms"].get<double>()) + " / " + fmt(p["p99_ms"].get<double>()) + " ms";
        };
        std::printf("%8d %10s %11s %21s %21s %18s %10s%% %11s%%\n", t["keepers"].get<int>(),
                    fmt(t["reports_per_s"].get<double>()).c_str(), fmt(t["decisions_per_s"].get<double>()).c_str(),
                    pair(t["report_to_notify_all"]).c_str(), pair(t["report_to_notify_own"]).c_str(),
                    pair(t["node_active"]).c_str(), fmt(t["monitor_service_cpu_pct"].get<double>()).c_str(),
                    fmt(t["monitor_postgres_cpu_pct"].get<double>()).c_str());
        std::cout << "  decisions measured: " << t["report_to_notify_all"]["count"] << " (own-report "
                  << t["report_to_notify_own"]["count"] << "); by kind p50/p99 ms: D1 standby down "
                  << pair(t["report_to_notify_d1"]) << ", D2 caught up " << pair(t["report_to_notify_d2"])
                  << ", D3 back to primary " << pair(t["report_to_notify_d3"]) << "\n";
        std::cout << "  keepers process CPU " << fmt(t["keepers_process_cpu_pct"].get<double>()) << "%, "
                  << t["client_backends"] << " client backends, skipped ticks " << t["skipped_ticks"] << ", errors "
                  << t["errors"] << ", unexpected decisions " << t["unexpected_decisions"].dump() << "\n";
        const auto& tl = t["reports_completed_per_second"];
        long long lo = 0, hi = 0;
        if (!tl.empty()) {
            lo = *std::min_element(tl.begin(), tl.end());
            hi = *std::max_element(tl.begin(), tl.end());
        }
        std::cout << "  reports completed per second: min " << lo << ", max " << hi
                  << "; machine busy " << fmt(t["machine_busy_cpu_pct"].get<double>()) << "% of a core ("
                  << t["cpu_cores"] << " cores), of which other processes "
                  << fmt(t["other_processes_cpu_pct"].get<double>()) << "%";
        if (t.contains("health_checks_answered_per_s"))
            std::cout << "; health checks answered " << fmt(t["health_checks_answered_per_s"].get<double>()) << "/s";
        std::cout << "\n";
        if (t.contains("first_error")) std::cout << "  first error: " << t["first_error"].get<std::string>() << "\n";
    }
    if (!idle.is_null()) {
        std::cout << "\nidle monitor (one formation, primary + secondary, keepers reporting once a second, health "
                     "checks on, "
                  << fmt(idle["window_s"].get<double>()) << " s): monitor postgres CPU "
                  << fmt(idle["monitor_postgres_cpu_pct"].get<double>(), 2) << "% of a core, monitor service CPU "
                  << fmt(idle["monitor_service_cpu_pct"].get<double>(), 2) << "%, node_active p50/p99 "
                  << fmt(idle["node_active"]["p50_ms"].get<double>(), 2) << " / "
                  << fmt(idle["node_active"]["p99_ms"].get<double>(), 2) << " ms (other processes on the machine: "
                  << fmt(idle["other_processes_cpu_pct"].get<double>()) << "% of a core)\n";
    }
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    ::sigaction(SIGINT, &sa, nullptr);
    ::sigaction(SIGTERM, &sa, nullptr);
    ::signal(SIGPIPE, SIG_IGN);
    if (!autoctl::pg::try_find_bindir()) {
        std::cerr << "PostgreSQL is not installed\n";
        return 2;
    }
    json throughput, idle;
    bool ok = true;
    try {
        if (o.seconds > 0) {
            PhaseConfig c;
            c.name = "throughput";
            c.keepers = o.keepers;
            c.seconds = o.seconds;
            c.warmup = o.warmup;
            c.cycle_seconds = o.cycle_seconds;
            c.health_checks = o.health_checks;
            c.keepers_listen = o.keepers_listen;
            c.fsync = o.fsync;
            c.threads = o.threads;
            auto r = run_phase(c);
            throughput = r.j;
            ok = ok && r.ok;
        }
        if (o.idle_seconds > 0 && !g_interrupted) {
            PhaseConfig c;
            c.name = "idle";
            c.keepers = 2;
            c.one_default_formation = true;
            c.seconds = o.idle_seconds;
            c.warmup = 5;
            c.cycle_seconds = 0;
            c.health_checks = true;
            c.keepers_listen = o.keepers_listen;
            c.fsync = o.fsync;
            c.threads = 1;
            c.measure_decisions = false;
            auto r = run_phase(c);
            idle = r.j;
            ok = ok && r.ok;
        }
    } catch (const std::exception& e) {
        std::cerr << "monitor_throughput: " << e.what() << "\n";
        return 1;
    }
    if (o.json) {
        json all;
        all["throughput"] = throughput;
        all["idle"] = idle;
        all["cpu_cores"] = std::thread::hardware_concurrency();
        std::cout << all.dump(2) << "\n";
    } else {
        print_table(throughput, idle);
    }
    return ok ? 0 : 1;
}

// The group simulation behind the property tests. See property_model.hpp for the overview and
// property_invariants_test.cpp for the invariants' statements.
//
// What a step does, on a fake clock advancing `step` (250 ms) at a time:
//   faults (fault phases only) -> scheduled heals -> the Postgres controllers restart crashed
//   servers -> the client writes -> streaming replication -> commit acknowledgements -> health
//   checks (every second) -> keeper loops that are due (every second, or at once when woken by a
//   notification or after a successful transition) -> the monitor's timer (decide_group, every
//   second) -> operator requests (fault phases only).
// The writer invariants are checked after every phase and after every single keeper loop, so a
// window of two writers inside a step is seen.

#include "property_model.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <deque>
#include <sstream>
#include <vector>

#include "autoctl/fsm/keeper_transitions.hpp"
#include "autoctl/fsm/monitor_rules.hpp"
#include "autoctl/fsm/operator_requests.hpp"
#include "autoctl/fsm/predicates.hpp"

namespace autoctl::fsm::property {

namespace {

using S = NodeState;
using A = KeeperAction;
using namespace std::chrono_literals;

constexpr int kMaxNodes = 8;
constexpr Duration kKeeperSleep{1000};                  // PG_AUTOCTL_KEEPER_SLEEP_TIME
constexpr Duration kNetworkPartitionTimeout{5000};      // autoctl's network_partition_timeout
constexpr int kHealthCheckAttempts = 3;                 // health_check_max_retries 2, plus the first
constexpr std::size_t kMaxPendingCommits = 32;          // concurrent client sessions per node

// splitmix64: a small, portable generator, so a seed replays the same on every platform.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(0) {
        // Hash the seed so that nearby seeds do not replay shifted copies of one sequence.
        state_ = seed ^ 0x632BE59BD9B4E019ULL;
        state_ = next() ^ seed;
        state_ = next();
    }
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        return z ^ (z >> 31);
    }
    std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next() % n; }
    bool chance(double p) { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0) < p; }
    Duration between(Duration lo, Duration hi) {
        return Duration{lo.count() + static_cast<Duration::rep>(below(static_cast<std::uint64_t>(hi.count() - lo.count()) + 1))};
    }

private:
    std::uint64_t state_;
};

struct WalEntry {
    std::uint64_t id;       // unique across the run: two histories share an entry only by copying it
    std::uint64_t end_lsn;
    int tli;
};

// synchronous_standby_names as Postgres applies it: '' or ANY k (names).
struct SyncNames {
    int k = 0;
    std::vector<std::int64_t> ids;
    bool empty() const { return ids.empty(); }
    std::string str() const {
        if (ids.empty()) return "''";
        std::string s = "ANY " + std::to_string(k) + " (";
        for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
        return s + ")";
    }
};

SyncNames parse_sync_names(const std::string& text) {
    SyncNames names;
    if (text.empty()) return names;
    // "ANY 2 (pgautofailover_standby_2, pgautofailover_standby_3)"
    names.k = std::stoi(text.substr(text.find(' ') + 1));
    const std::string prefix = "pgautofailover_standby_";
    for (auto pos = text.find(prefix); pos != std::string::npos; pos = text.find(prefix, pos)) {
        pos += prefix.size();
        auto end = pos;
        while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end]))) ++end;
        names.ids.push_back(std::stoll(text.substr(pos, end - pos)));
        pos = end;
    }
    return names;
}

// What lives in PGDATA and survives restarts (postgresql.auto.conf, standby.signal, the standby
// setup file, the WAL).
struct PgData {
    bool initialized = false;
    std::vector<WalEntry> wal;
    bool standby_signal = false;
    std::int64_t upstream = 0;          // primary_conninfo host; 0: none
    std::uint64_t recovery_target = 0;  // recovery_target_lsn (fast_forward); 0: none
    SyncNames sync_names;               // ALTER SYSTEM synchronous_standby_names
    bool read_only = false;             // ALTER SYSTEM default_transaction_read_only
};

// The Postgres controller's expected status file (pg_autoctl.pg), in the runtime directory.
enum class Expected { None, Running, Stopped };

struct Report {
    NodeState state = S::Init;
    bool pg_running = false;
    int tli = 0;
    Lsn lsn{};
    std::string sync_state;  // best pg_stat_replication.sync_state of the node's standbys
};

struct Pending {
    std::size_t index;
    std::uint64_t id;
};

struct Acked {
    std::size_t index;
    std::uint64_t id;
    std::int64_t node;
    TimePoint at;
};

struct SimNode {
    std::int64_t id = 0;
    std::string name;
    bool registered = false;

    // Host, network faults and the keeper process.
    bool host_up = true;
    TimePoint host_restart_at{};
    TimePoint pg_crashed_at{};
    bool keeper_paused = false;
    TimePoint keeper_resume_at{};
    Duration next_report_delay{0};    // late report: the next node_active call takes this long
    TimePoint replication_stall_until{};

    // Postgres.
    PgData data;
    bool running = false;
    bool in_recovery = false;
    Expected expected = Expected::None;

    // The keeper's state file and loop.
    NodeState current = S::Init;
    NodeState assigned = S::Init;
    TimePoint last_monitor_contact{};    // zero: never
    TimePoint last_secondary_contact{};  // zero: never
    std::uint64_t standby_target_lsn = 0;
    std::uint64_t ff_target = 0;  // fast_forward in progress: target LSN and source node
    std::int64_t ff_source = 0;
    int pg_down_reports = 0;
    TimePoint next_loop{};
    bool wake = false;
    bool inflight = false;  // a node_active call is on its way (late report)
    TimePoint deliver_at{};
    Report inflight_report;

    // Client sessions waiting for their COMMIT.
    std::vector<Pending> pending;
    bool was_writable = false;
    TimePoint fencing_impossible_at{};  // last time the node was writable and could not fence
    NodeState last_writable_report = S::Unknown;  // the last writable state it reported
};

bool is_demote_state(NodeState s) { return s == S::Draining || s == S::DemoteTimeout || s == S::Demoted; }

bool is_prefix(const std::vector<WalEntry>& a, const std::vector<WalEntry>& b) {
    // Entries are unique and only ever copied with everything before them, so the last entry
    // decides whether a is a prefix of b.
    if (a.size() > b.size()) return false;
    return a.empty() || b[a.size() - 1].id == a.back().id;
}

std::size_t common_prefix(const std::vector<WalEntry>& a, const std::vector<WalEntry>& b) {
    std::size_t lo = 0, hi = std::min(a.size(), b.size());
    while (lo < hi) {  // largest n with a[n-1] == b[n-1]; prefix property makes this monotone
        std::size_t mid = (lo + hi + 1) / 2;
        if (a[mid - 1].id == b[mid - 1].id) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

std::string ms(TimePoint t, TimePoint origin) {
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(t - origin).count();
    std::ostringstream out;
    out << d / 1000 << "." << (d % 1000) / 100 << "s";
    return out.str();
}

}  // namespace

struct Model::Impl {
    ModelConfig cfg;
    Rng rng;
    std::optional<Violation> violation;
    ModelStats stats;
    std::deque<std::string> log;

    TimePoint origin;
    TimePoint now;
    long step_no = 0;
    bool faults_on = false;

    GroupSnapshot g;  // the monitor's store
    std::vector<SimNode> nodes;  // index = node id - 1
    std::array<std::array<bool, kMaxNodes + 1>, kMaxNodes + 1> cut{};  // 0: the monitor
    std::array<std::array<TimePoint, kMaxNodes + 1>, kMaxNodes + 1> heal_at{};
    std::array<int, kMaxNodes + 1> health_failures{};

    std::uint64_t next_wal_id = 1;
    int next_tli = 1;
    std::vector<Acked> durable;  // commits acknowledged under synchronous replication
    std::int64_t last_writer = 0;

    explicit Impl(ModelConfig c) : cfg(c), rng(c.seed) {
        origin = TimePoint{} + std::chrono::hours(24 * 365 * 50);
        now = origin;
        g.formation = Formation{};
        g.group = 0;
        g.now = now;
        g.monitor_start = now;
        g.timing = Timing{};
        for (int i = 1; i <= cfg.nodes; ++i) {
            SimNode n;
            n.id = i;
            n.name = "node_" + std::to_string(i);
            nodes.push_back(n);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Logging and violations.

    std::deque<std::string> recent;  // the last distinct lines, without their time stamps
    long suppressed = 0;

    void note(const std::string& line) {
        // Keepers retry every second: keep the trace readable by dropping a line that appeared
        // among the last few ones.
        if (std::find(recent.begin(), recent.end(), line) != recent.end()) {
            ++suppressed;
            return;
        }
        if (suppressed > 0) log.push_back("    (" + std::to_string(suppressed) + " repeated lines omitted)");
        suppressed = 0;
        recent.push_back(line);
        if (recent.size() > 6) recent.pop_front();
        log.push_back("[" + ms(now, origin) + "] " + line);
        if (log.size() > 4000) log.pop_front();
    }

    void fail(const std::string& invariant, const std::string& detail) {
        if (violation) return;
        violation = Violation{invariant, detail + "\n" + describe_group()};
        note("VIOLATION " + invariant + ": " + detail);
    }

    SimNode& node(std::int64_t id) { return nodes[static_cast<std::size_t>(id - 1)]; }
    const SimNode& node(std::int64_t id) const { return nodes[static_cast<std::size_t>(id - 1)]; }

    std::string describe_node(const SimNode& n) const {
        std::ostringstream out;
        out << "node " << n.id << ": host " << (n.host_up ? "up" : "DOWN");
        if (cut[0][static_cast<std::size_t>(n.id)]) out << " cut-from-monitor";
        for (const auto& o : nodes)
            if (o.id != n.id && cut[static_cast<std::size_t>(n.id)][static_cast<std::size_t>(o.id)])
                out << " cut-from-" << o.id;
        if (n.keeper_paused) out << " keeper-paused";
        if (n.inflight) out << " report-in-flight";
        out << " | pg " << (n.running ? (n.in_recovery ? "standby" : (n.data.read_only ? "primary-ro" : "primary"))
                                      : "stopped");
        out << " ssn=" << n.data.sync_names.str() << " upstream=" << n.data.upstream
            << (n.data.standby_signal ? " standby.signal" : "") << " wal=" << n.data.wal.size() << " tli="
            << (n.data.wal.empty() ? 0 : n.data.wal.back().tli) << " | keeper " << to_string(n.current) << "->"
            << to_string(n.assigned);
        if (const Node* row = g.find(n.id))
            out << " | monitor " << to_string(row->reported) << "/" << to_string(row->goal) << " health "
                << to_string(row->health) << " pg " << (row->pg_is_running ? "up" : "down") << " lsn "
                << row->lsn.value << " prio " << row->candidate_priority << (row->replication_quorum ? " quorum" : " async");
        return out.str();
    }

    std::string describe_group() const {
        std::ostringstream out;
        out << "  nss=" << g.formation.number_sync_standbys << " monitor s_s_n='" << synchronous_standby_names(g)
            << "'\n";
        for (const auto& n : nodes)
            if (n.registered) out << "  " << describe_node(n) << "\n";
        return out.str();
    }

    // ---------------------------------------------------------------------------------------------
    // Network.

    bool link(std::int64_t a, std::int64_t b) const {
        return !cut[static_cast<std::size_t>(a)][static_cast<std::size_t>(b)];
    }
    bool monitor_link(const SimNode& n) const { return n.host_up && link(0, n.id); }
    bool peer_link(const SimNode& a, const SimNode& b) const { return a.host_up && b.host_up && link(a.id, b.id); }
    void set_cut(std::int64_t a, std::int64_t b, bool value, TimePoint until = {}) {
        auto i = static_cast<std::size_t>(a), j = static_cast<std::size_t>(b);
        cut[i][j] = cut[j][i] = value;
        heal_at[i][j] = heal_at[j][i] = until;
    }

    // ---------------------------------------------------------------------------------------------
    // Postgres.

    static Lsn lsn_of(const SimNode& n) { return n.data.wal.empty() ? Lsn{} : Lsn{n.data.wal.back().end_lsn}; }
    static int tli_of(const SimNode& n) { return n.data.wal.empty() ? 0 : n.data.wal.back().tli; }

    bool writable(const SimNode& n) const {
        return n.host_up && n.running && !n.in_recovery && !n.data.read_only;
    }

    // s streams WAL from u right now.
    bool streaming(const SimNode& s, const SimNode& u) const {
        return s.id != u.id && s.running && s.in_recovery && s.data.upstream == u.id && u.running &&
               peer_link(s, u) && is_prefix(s.data.wal, u.data.wal);
    }

    bool has_streaming_standby(const SimNode& p) const {
        for (const auto& s : nodes)
            if (s.registered && streaming(s, p)) return true;
        return false;
    }

    // Restriction of invariants 1-3, a pg_auto_failover design gap: replication_quorum = false
    // takes effect on the monitor at once (the election stops waiting for the node), while the
    // primary applies it lazily, on its way out of apply_settings, and until then still waits for,
    // and acknowledges through, that standby. Closing the gap needs the monitor to know which
    // settings the primary applied (set_replication_quorum refuses the change without a stable,
    // healthy primary, which narrows the window). An acknowledgement that needs a standby the
    // monitor already considers asynchronous is not protected: `protected_only` leaves them out.
    bool monitor_says_quorum(std::int64_t id) const {
        const Node* row = g.find(id);
        return row != nullptr && row->replication_quorum;
    }

    int named_streaming(const SimNode& p, std::size_t min_size, bool protected_only = false) const {
        int count = 0;
        for (auto id : p.data.sync_names.ids) {
            if (id < 1 || id > cfg.nodes || id == p.id) continue;
            if (protected_only && !monitor_says_quorum(id)) continue;
            const SimNode& s = node(id);
            if (streaming(s, p) && s.data.wal.size() >= min_size) ++count;
        }
        return count;
    }

    // The node accepts a write and can acknowledge it now: asynchronously, or with enough of the
    // standbys its synchronous_standby_names lists streaming from it.
    bool can_acknowledge(const SimNode& n) const {
        if (!writable(n)) return false;
        if (n.data.sync_names.empty()) return true;
        return named_streaming(n, 0, /*protected_only=*/true) >= n.data.sync_names.k;
    }

    // The node could acknowledge a synchronous commit now or later, were every network partition
    // healed and every host up: enough of the standbys it names are configured to stream from it
    // and have a history they can stream from it.
    bool could_acknowledge_synchronously(const SimNode& m) const {
        if (m.data.sync_names.empty()) return false;
        int count = 0;
        for (auto id : m.data.sync_names.ids) {
            if (id < 1 || id > cfg.nodes || id == m.id || !monitor_says_quorum(id)) continue;
            const SimNode& s = node(id);
            bool standby = s.data.standby_signal || (s.running && s.in_recovery);
            // A stopped Postgres counts only if the controller restarts it as it is (expected
            // running). Otherwise its keeper decides what it streams from when it starts it again
            // (it follows the monitor's primary), or the operator owns it (maintenance).
            if (!s.running && s.expected != Expected::Running) continue;
            if (s.registered && standby && s.data.upstream == m.id && is_prefix(s.data.wal, m.data.wal)) ++count;
        }
        return count >= m.data.sync_names.k;
    }

    void append_wal(SimNode& n, std::uint64_t bytes, int tli) {
        std::uint64_t lsn = n.data.wal.empty() ? 0x3000000 : n.data.wal.back().end_lsn;
        n.data.wal.push_back(WalEntry{next_wal_id++, lsn + bytes, tli});
    }

    void pg_start(SimNode& n) {
        if (n.running || !n.host_up || !n.data.initialized) return;
        n.running = true;
        // Without standby.signal Postgres ends recovery and accepts writes (crash recovery only:
        // no new timeline).
        n.in_recovery = n.data.standby_signal;
        note(n.name + ": postgres started as " + (n.in_recovery ? "standby" : "primary"));
    }

    void pg_stop(SimNode& n) {
        if (!n.running) return;
        n.running = false;
        n.in_recovery = false;
        n.pending.clear();  // the sessions waiting for COMMIT get an error: not acknowledged
        note(n.name + ": postgres stopped");
    }

    void ensure_running(SimNode& n) {
        n.expected = Expected::Running;
        pg_start(n);
    }
    void ensure_stopped(SimNode& n) {
        n.expected = Expected::Stopped;
        pg_stop(n);
    }
    void restart(SimNode& n) {
        pg_stop(n);
        ensure_running(n);
    }

    void promote(SimNode& n) {
        if (!n.running || !n.in_recovery) return;
        n.in_recovery = false;
        n.data.standby_signal = false;
        n.data.upstream = 0;
        n.data.recovery_target = 0;
        append_wal(n, 128, ++next_tli);  // end-of-recovery record on a new timeline
        note(n.name + ": promoted to timeline " + std::to_string(next_tli));
    }

    void set_sync_names(SimNode& n, const SyncNames& names) {
        n.data.sync_names = names;
        if (names.empty() && !n.pending.empty()) {
            // Emptying synchronous_standby_names releases the waiters; disable_sync_rep also
            // pg_cancel_backend()s them. Either way the client sees COMMIT: acknowledged, async.
            stats.async_acks += static_cast<long>(n.pending.size());
            n.pending.clear();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // The monitor.

    // The monitor's clock for one event it processes (a node_active call, a timer pass, a request):
    // the step's time plus one microsecond per event, so that report and goal-change times keep the
    // order in which the monitor handled them within a step.
    long monitor_events = 0;
    TimePoint monitor_now() { return now + std::chrono::microseconds(++monitor_events); }

    void apply_decision(const Decision& d, const std::string& source) {
        if (d.empty()) return;
        if (d.rule == "new_primary_after_old_primary_demoted") {
            if (d.reason.find("every quorum standby") != std::string::npos) {
                ++stats.early_releases;
                check_early_release(d);
            } else if (d.reason.find("primary_demote_timeout") != std::string::npos) {
                ++stats.drain_timeouts;
            }
        }
        apply(g, d);
        std::string line = source + ": " + d.rule;
        for (const auto& a : d.assignments) line += " " + std::to_string(a.node_id) + "->" + std::string(to_string(a.goal));
        for (const auto& p : d.priority_changes)
            line += " prio(" + std::to_string(p.node_id) + ")=" + std::to_string(p.candidate_priority);
        for (const auto& q : d.quorum_changes)
            line += " quorum(" + std::to_string(q.node_id) + ")=" + (q.replication_quorum ? "true" : "false");
        if (d.number_sync_standbys >= 0) line += " nss=" + std::to_string(d.number_sync_standbys);
        if (d.rule == "new_primary_after_old_primary_demoted") line += " [" + d.reason + "]";
        note(line);
        // NOTIFY state: every keeper of the group that listens wakes up.
        if (!d.assignments.empty())
            for (auto& n : nodes)
                if (n.registered && monitor_link(n)) n.wake = true;
    }

    // autoctl's early release of rule 24 (old_primary_cannot_acknowledge_commits) claims that the
    // old primary can no longer acknowledge a commit. Check the claim against the real node when
    // the monitor acts on it: not now (not even asynchronously), not once partitions heal.
    void check_early_release(const Decision& d) {
        for (const auto& a : d.assignments) {
            if (a.goal != S::Demoted) continue;
            const SimNode& m = node(a.node_id);
            if (!writable(m)) continue;
            if (m.data.sync_names.empty() || can_acknowledge(m) || could_acknowledge_synchronously(m))
                fail("early_release_sound",
                     "rule 24 released the new primary early while old primary " + m.name +
                         " can still acknowledge commits (synchronous_standby_names=" + m.data.sync_names.str() + ")");
        }
    }

    NodeState node_active(SimNode& n, const Report& r) {
        Node* row = g.find(n.id);
        g.now = monitor_now();
        // node_active wakes the monitor service only for a report that can change a decision
        // (sql/monitor/0002_1_quiet_reports.sql); the same conditions, on the row before the update.
        const bool wakes_monitor = row->reported != r.state || row->goal != r.state ||
                                   row->pg_is_running != r.pg_running || row->sync_state != r.sync_state ||
                                   (r.tli > 0 && row->tli != r.tli) || (!r.lsn.is_zero() && row->lsn != r.lsn) ||
                                   g.now - row->report_time > std::chrono::seconds(2) ||
                                   row->report_time < row->state_change_time;
        if (row->reported != r.state) {
            row->state_change_time = g.now;
            note(n.name + " reports " + std::string(to_string(r.state)) + (r.pg_running ? "" : " (pg down)"));
        }
        row->reported = r.state;
        row->report_time = g.now;
        if (can_take_writes(r.state)) n.last_writable_report = r.state;
        row->pg_is_running = r.pg_running;
        row->sync_state = r.sync_state;
        if (r.tli > 0) row->tli = r.tli;
        if (!r.lsn.is_zero()) row->lsn = r.lsn;
        const NodeState goal = row->goal;
        if (!wakes_monitor) return goal;
        // The service: the reporting node first, then the whole group (monitor_service.cpp).
        Decision d = decide(g, n.id);
        apply_decision(d, n.name + " node_active");
        for (const auto& more : decide_group(g)) apply_decision(more, n.name + " node_active, group");
        return g.find(n.id) != nullptr ? g.find(n.id)->goal : goal;
    }

    void health_checks() {
        for (auto& n : nodes) {
            if (!n.registered) continue;
            Node* row = g.find(n.id);
            bool ok = monitor_link(n) && n.running;
            auto& failures = health_failures[static_cast<std::size_t>(n.id)];
            if (ok) {
                failures = 0;
                if (row->health != Health::Good) note(n.name + " marked healthy");
                row->health = Health::Good;
            } else if (++failures >= kHealthCheckAttempts) {
                if (row->health != Health::Bad) note(n.name + " marked unhealthy");
                row->health = Health::Bad;
            }
            row->health_check_time = now;
        }
    }

    void monitor_timer() {
        g.now = monitor_now();
        for (const auto& d : decide_group(g)) apply_decision(d, "monitor timer");
    }

    // ---------------------------------------------------------------------------------------------
    // The keeper.

    bool report_pg_is_running(SimNode& n) {
        if (n.running) {
            n.pg_down_reports = 0;
            return true;
        }
        // In PRIMARY a down Postgres is hidden until it failed to restart a few times (§4.4).
        if (n.current == S::Primary) return ++n.pg_down_reports <= 3;
        return false;
    }

    Report collect_report(SimNode& n) {
        Report r;
        r.state = n.current;
        r.pg_running = report_pg_is_running(n);
        if (n.running) {
            r.tli = tli_of(n);
            r.lsn = lsn_of(n);
            // quorum > sync > potential > async: "quorum" for a streaming standby listed in an
            // ANY k synchronous_standby_names, "async" for any other streaming standby.
            if (!n.in_recovery)
                for (const auto& s : nodes) {
                    if (!s.registered || !streaming(s, n)) continue;
                    const auto& ids = n.data.sync_names.ids;
                    if (std::find(ids.begin(), ids.end(), s.id) != ids.end()) {
                        r.sync_state = "quorum";
                        break;
                    }
                    r.sync_state = "async";
                }
        }
        return r;
    }

    // pg_rewind onto `source`: the WAL shared with it is kept, what diverged is dropped (the rest
    // streams in), and postgresql.auto.conf comes from the source. A failed rewind falls back to
    // pg_basebackup, with the same result here.
    void rewind_onto(SimNode& n, const SimNode& source, const std::string& why) {
        pg_stop(n);
        n.data.wal.resize(common_prefix(n.data.wal, source.data.wal));
        n.data.sync_names = source.data.sync_names;
        n.data.read_only = source.data.read_only;
        n.data.upstream = 0;
        note(n.name + ": pg_rewind onto " + source.name + " (" + why + ")");
    }

    // KEEPER REQUIREMENT (autoctl_keeper_fixes): a standby follows the monitor's current primary.
    // Returns true when it had to change its upstream (pg_rewind first when its WAL diverged).
    bool refollow_monitor_primary(SimNode& n) {
        const SimNode* p = monitor_primary();
        if (p == nullptr || p->id == n.id || n.data.upstream == p->id) return false;
        if (!p->running || !peer_link(n, *p)) return false;
        if (n.data.initialized && !is_prefix(n.data.wal, p->data.wal)) {
            rewind_onto(n, *p, "diverged from the monitor's primary");
            ++stats.follow_rewinds;
        }
        n.data.upstream = p->id;
        n.data.standby_signal = true;
        n.data.recovery_target = 0;
        restart(n);
        note(n.name + ": follows " + p->name + ", the monitor's primary");
        return true;
    }

    // KEEPER REQUIREMENT (autoctl_keeper_fixes): in a state that takes writes, Postgres is not
    // default_transaction_read_only. That setting lives in postgresql.auto.conf, which pg_basebackup
    // and pg_rewind copy: a node cloned from a primary still in stop_replication (read-only until
    // promote_standby_to_primary) inherits it, and pg_auto_failover's fsm_promote_standby
    // (prepare_promotion -> wait_primary, rule 22) never resets it: a read-only primary for good.
    void ensure_writable_setting(SimNode& n) {
        if (cfg.autoctl_keeper_fixes && can_take_writes(n.current) && n.running && n.data.read_only) {
            n.data.read_only = false;
            note(n.name + ": default_transaction_read_only reset to off");
        }
    }

    void ensure_current_state(SimNode& n) {
        ensure_writable_setting(n);
        // pg_auto_failover only ensures Postgres runs in secondary and catchingup; a standby that
        // missed a failover (down at the time) keeps streaming from, or trying to stream from, a
        // node that is no longer the primary.
        if (cfg.autoctl_keeper_fixes && (n.current == S::Secondary || n.current == S::CatchingUp))
            refollow_monitor_primary(n);
        switch (n.current) {
            case S::Single: case S::Primary: case S::WaitPrimary: case S::JoinPrimary: case S::ApplySettings:
            case S::PreparePromotion: case S::StopReplication: case S::Secondary: case S::ReportLsn:
            case S::CatchingUp:
                ensure_running(n);
                break;
            case S::Demoted: case S::DemoteTimeout: case S::Draining:
                ensure_stopped(n);
                break;
            default:
                break;
        }
    }

    // §4.5 self-fencing, run when node_active failed. autoctl refreshes last_secondary_contact on
    // every loop that sees a standby streaming (design.md: "loses both the monitor and every
    // standby for network_partition_timeout"); pg_auto_failover only while the monitor is lost.
    void check_for_network_partitions(SimNode& n) {
        if (n.current != S::Primary) return;
        if (has_streaming_standby(n)) {
            n.last_secondary_contact = now;
            return;
        }
        const TimePoint zero{};
        if (n.last_monitor_contact != zero && n.last_secondary_contact != zero &&
            now - n.last_monitor_contact > kNetworkPartitionTimeout &&
            now - n.last_secondary_contact > kNetworkPartitionTimeout && n.assigned != S::DemoteTimeout) {
            n.assigned = S::DemoteTimeout;
            ++stats.fenced;
            note(n.name + ": network partition detected, demoting itself");
        }
    }

    const SimNode* monitor_primary() const {  // pgautofailover.get_primary()
        const Node* p = primary_node(g);
        return p == nullptr ? nullptr : &node(p->id);
    }

    // Executes one keeper transition against the node's Postgres; false means "failed, retry at
    // the next loop" (transitions are idempotent).
    bool execute(SimNode& n, KeeperAction action, NodeState target, bool monitor_ok) {
        switch (action) {
            case A::None:
            case A::PrepareReplication:
            case A::PrepareStandbyForPromotion:
                return true;

            case A::InitPrimary: {
                if (!n.data.initialized) {
                    n.data = PgData{};
                    n.data.initialized = true;
                    append_wal(n, 4096, 1);
                }
                ensure_running(n);
                if (n.in_recovery) promote(n);
                set_sync_names(n, {});
                return n.running;
            }

            case A::DisableReplication:
            case A::ResumeAsPrimary:
                ensure_running(n);
                if (!n.running) return false;
                set_sync_names(n, {});
                n.standby_target_lsn = 0;
                return true;

            case A::DisableSyncRep:
                if (!n.running) return false;
                set_sync_names(n, {});
                return true;

            case A::EnableSyncRep: {
                if (!monitor_ok || !n.running) return false;
                g.now = monitor_now();
                set_sync_names(n, parse_sync_names(synchronous_standby_names(g)));
                if (n.data.sync_names.empty()) return true;
                // Wait until a synchronous standby flushed the LSN seen at first entry; the target
                // is cached until disable_replication, as pg_auto_failover does.
                if (n.standby_target_lsn == 0) {
                    if (named_streaming(n, 0) == 0) return false;
                    n.standby_target_lsn = lsn_of(n).value;
                }
                for (auto id : n.data.sync_names.ids) {
                    if (id < 1 || id > cfg.nodes || id == n.id) continue;
                    const SimNode& s = node(id);
                    if (streaming(s, n) && lsn_of(s).value >= n.standby_target_lsn) return true;
                }
                return false;
            }

            case A::StartPostgres:
                ensure_running(n);
                return n.running;

            case A::StopPostgres:
                ensure_stopped(n);
                return true;

            case A::CheckpointAndStopPostgres:
            case A::StopPostgresForPrimaryMaintenance:
                if (n.running) n.data.upstream = 0;  // ALTER SYSTEM RESET primary_conninfo
                ensure_stopped(n);
                return true;

            case A::StopPostgresAndSetupStandby:
                ensure_stopped(n);
                n.expected = Expected::None;  // the controller lets go during maintenance
                n.data.standby_signal = true;
                n.data.upstream = 0;
                return true;

            case A::InitStandby:
            case A::RewindOrInit:
            case A::RestartStandby: {
                if (!monitor_ok) return false;
                const SimNode* p = monitor_primary();
                if (p == nullptr || p->id == n.id || !p->running || !peer_link(n, *p)) return false;
                if (action == A::InitStandby || !n.data.initialized) {
                    pg_stop(n);
                    n.data.wal = p->data.wal;  // pg_basebackup, which copies postgresql.auto.conf too
                    n.data.sync_names = p->data.sync_names;
                    n.data.read_only = p->data.read_only;
                } else {
                    rewind_onto(n, *p, "rejoining");
                }
                n.data.initialized = true;
                n.data.standby_signal = true;
                n.data.upstream = p->id;
                n.data.recovery_target = 0;
                ensure_running(n);
                note(n.name + ": " + std::string(to_string(action)) + " from " + p->name + ", wal=" +
                     std::to_string(n.data.wal.size()));
                return n.running;
            }

            case A::FollowNewPrimary: {
                if (!monitor_ok) return false;
                const SimNode* p = monitor_primary();
                if (p == nullptr || p->id == n.id) return false;
                // fsm_follow_new_primary first opens a replication connection to the new primary.
                if (!p->running || !peer_link(n, *p)) return false;
                if (cfg.autoctl_keeper_fixes) {
                    // KEEPER REQUIREMENTS. (1) Rewind a node whose WAL diverged from the new
                    // primary's: pg_auto_failover never does, and such a node (an old primary sent
                    // through report_lsn by a later election, an async standby that missed the
                    // election) fails the timeline check forever. (2) Check that the new primary's
                    // history can be followed *before* rewriting primary_conninfo: pg_auto_failover
                    // restarts Postgres on the new upstream, then checks the timeline and may fail
                    // the transition, leaving a node whose state says report_lsn (disconnected,
                    // frozen LSN) streaming from, and acknowledging for, the primary.
                    if (n.data.initialized && !is_prefix(n.data.wal, p->data.wal)) {
                        rewind_onto(n, *p, "diverged from the new primary");
                        ++stats.follow_rewinds;
                    }
                }
                if (n.data.upstream != p->id || !n.data.standby_signal || n.data.recovery_target != 0 || !n.running ||
                    !n.in_recovery) {
                    n.data.upstream = p->id;
                    n.data.standby_signal = true;
                    n.data.recovery_target = 0;
                    restart(n);
                }
                if (!n.running) return false;
                if (cfg.autoctl_keeper_fixes) return true;
                // pg_auto_failover: going to secondary, the timeline must already be the upstream's.
                if (target == S::Secondary) return is_prefix(n.data.wal, p->data.wal) && tli_of(n) == tli_of(*p);
                return true;
            }

            case A::PrepareForSecondary: {
                // KEEPER REQUIREMENT: follow the monitor's current primary before becoming its
                // secondary. pg_auto_failover only checks the timeline against the node's own
                // upstream, so a standby that followed a primary demoted meanwhile (it missed the
                // failover) ends up a "secondary" cascading from another standby. The timeline
                // check then runs at the next loop.
                if (cfg.autoctl_keeper_fixes && monitor_ok && refollow_monitor_primary(n)) return false;
                if (n.data.upstream == 0) return false;
                const SimNode& u = node(n.data.upstream);
                return n.running && peer_link(n, u) && u.running && tli_of(n) == tli_of(u);
            }

            case A::StopReplication:
                ensure_running(n);
                if (!n.running) return false;
                n.data.read_only = true;
                promote(n);
                set_sync_names(n, {});
                n.standby_target_lsn = 0;
                return true;

            case A::PromoteStandbyToPrimary:
                if (!n.running) return false;
                n.data.read_only = false;
                return true;

            case A::PromoteStandby:
                ensure_running(n);
                if (!n.running) return false;
                promote(n);
                set_sync_names(n, {});
                n.standby_target_lsn = 0;
                return true;

            case A::StartMaintenanceOnStandby:
                n.expected = Expected::None;
                return true;

            case A::ReportLsn:
            case A::ReportLsnAndDropSlots:
                // Restart as a standby without primary_conninfo: disconnects and freezes the LSN.
                n.data.upstream = 0;
                n.data.standby_signal = true;
                n.data.recovery_target = 0;
                restart(n);
                return n.running;

            case A::FastForward: {
                if (!monitor_ok) return false;
                g.now = monitor_now();
                // fsm_fast_forward fetches the most advanced standby and its LSN once, then polls
                // until replay reaches it: keep that target while the transition is retried.
                if (n.ff_target == 0) {
                    // get_most_advanced_standby: one of the most advanced standbys, preferring one
                    // that reported its LSN (report_lsn) and that the monitor sees healthy.
                    auto most = most_advanced_standbys(g);
                    if (most.empty()) return false;
                    n.ff_target = most.front()->lsn.value;
                    n.ff_source = 0;
                    int best = -1;
                    for (const Node* m : most) {
                        if (m->id == n.id) continue;
                        int score = (is_current_state(m, S::ReportLsn) ? 2 : 0) + (is_healthy(g, m) ? 1 : 0);
                        if (score > best) {
                            best = score;
                            n.ff_source = m->id;
                        }
                    }
                }
                const std::uint64_t target_lsn = n.ff_target;
                if (n.ff_source == 0)  // the candidate is itself the most advanced standby
                    return n.running && n.in_recovery && lsn_of(n).value >= target_lsn;
                const SimNode& from = node(n.ff_source);
                if (!from.running || !peer_link(n, from)) {
                    n.ff_target = 0;  // the connection fails: the transition fails, fetched again
                    return false;
                }
                // Done when replay holds the source's WAL up to the target. pg_auto_failover compares
                // pg_last_wal_replay_lsn() with the target, positions only: a candidate whose WAL
                // diverged on an older timeline passes at once without the source's commits.
                // KEEPER REQUIREMENT: compare on the source's timeline (with autoctl_keeper_fixes
                // off the model uses pg_auto_failover's position-only check).
                auto reached = [&] {
                    if (!cfg.autoctl_keeper_fixes) return lsn_of(n).value >= target_lsn;
                    std::size_t k = 0;
                    while (k < from.data.wal.size() && from.data.wal[k].end_lsn <= target_lsn) ++k;
                    return k > 0 && n.data.wal.size() >= k && n.data.wal[k - 1].id == from.data.wal[k - 1].id;
                };
                if (n.running && n.in_recovery && reached()) return true;
                if (cfg.autoctl_keeper_fixes && n.data.initialized && from.running && peer_link(n, from) &&
                    !is_prefix(n.data.wal, from.data.wal)) {
                    // KEEPER REQUIREMENT (as for follow_new_primary): a candidate whose WAL diverged
                    // from the source's can never replay up to it; pg_auto_failover would poll
                    // forever. Rewind onto the source first (pg_rewind accepts a standby source).
                    rewind_onto(n, from, "diverged from the most advanced standby");
                    ++stats.follow_rewinds;
                }
                if (n.data.upstream != from.id || n.data.recovery_target != target_lsn || !n.running) {
                    n.data.upstream = from.id;
                    n.data.recovery_target = target_lsn;
                    n.data.standby_signal = true;
                    restart(n);
                }
                return n.running && reached();
            }

            case A::CleanupAsPrimary:
                // Empty the standby setup; promotion happens at stop_replication. The reference
                // (§4.6) also removes standby.signal, so that a restart (a crash, the controller)
                // brings the candidate up as a writable primary before it was ever promoted, while
                // the old primary may still be acknowledging (pg_auto_failover's
                // fsm_cleanup_and_resume_as_primary even restarts Postgres right away). KEEPER
                // REQUIREMENT: keep standby.signal until stop_replication's pg_ctl promote.
                if (!cfg.autoctl_keeper_fixes) n.data.standby_signal = false;
                n.data.upstream = 0;
                n.data.recovery_target = 0;
                return true;

            default:
                fail("model", "keeper action " + std::string(to_string(action)) + " is not modelled");
                return false;
        }
    }

    void keeper_loop(SimNode& n) {
        Report r = collect_report(n);
        if (n.next_report_delay > Duration{0}) {
            // The node_active call hangs; the report it carries is stale when it arrives.
            n.inflight = true;
            n.deliver_at = now + n.next_report_delay;
            n.inflight_report = r;
            n.next_report_delay = Duration{0};
            note(n.name + ": node_active delayed");
            return;
        }
        keeper_continue(n, r);
    }

    void keeper_continue(SimNode& n, const Report& r) {
        const bool monitor_ok = monitor_link(n);
        if (monitor_ok) {
            n.assigned = node_active(n, r);
            n.last_monitor_contact = now;
        } else {
            check_for_network_partitions(n);
        }
        if (n.current == S::Primary && has_streaming_standby(n)) n.last_secondary_contact = now;

        if (n.assigned != n.current) {
            if (monitor_ok && !is_demote_state(n.assigned) && !is_demote_state(n.current) && n.current != S::Secondary)
                ensure_current_state(n);
            auto row = find_keeper_transition(n.current, n.assigned, NodeKind::Standalone);
            if (!row) {
                // pg_autoctl logs "does not know how to reach state X from Y" and retries at the
                // next loop; a persistent gap shows up as a liveness failure.
                std::string pair = std::string(to_string(n.current)) + "->" + std::string(to_string(n.assigned));
                if (std::find(stats.missing_transitions.begin(), stats.missing_transitions.end(), pair) ==
                    stats.missing_transitions.end())
                    stats.missing_transitions.push_back(pair);
                note(n.name + ": no keeper transition " + pair);
                return;
            }
            if (n.assigned != S::FastForward) n.ff_target = 0;
            bool ok = execute(n, row->action, n.assigned, monitor_ok);
            if (!ok && cfg.autoctl_keeper_fixes && monitor_ok &&
                (n.current == S::Secondary || n.current == S::CatchingUp)) {
                // KEEPER REQUIREMENT: a standby whose transition cannot complete (follow_new_primary
                // without a primary to follow) keeps its Postgres running. pg_auto_failover skips
                // ensure_current_state before transitions out of secondary, so after a reboot it
                // stays down, though an election may need its WAL (fast_forward source).
                ensure_running(n);
            }
            if (ok) {
                n.ff_target = 0;
                note(n.name + ": " + std::string(to_string(n.current)) + " -> " + std::string(to_string(n.assigned)) +
                     " (" + std::string(to_string(row->action)) + ")");
                n.current = n.assigned;
                n.wake = true;
                ensure_writable_setting(n);
            }
        } else if (monitor_ok) {
            ensure_current_state(n);
        }
    }

    void run_keepers() {
        std::vector<std::size_t> order(nodes.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
        for (auto i : order) {
            SimNode& n = nodes[i];
            if (n.keeper_paused && now >= n.keeper_resume_at) {  // resumes right into its loop
                n.keeper_paused = false;
                n.wake = true;
                note(n.name + ": keeper resumes");
            }
            if (!n.registered || !n.host_up || n.keeper_paused) continue;
            if (n.inflight) {
                if (now < n.deliver_at) continue;
                n.inflight = false;
                keeper_continue(n, n.inflight_report);
                n.next_loop = now + kKeeperSleep;
            } else if (n.wake || now >= n.next_loop) {
                n.wake = false;
                n.next_loop = now + kKeeperSleep;
                keeper_loop(n);
            } else {
                continue;
            }
            observe(n.name + " keeper loop");
            if (violation) return;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Data plane: controller, client, replication, acknowledgements.

    void controllers() {
        for (auto& n : nodes) {
            if (!n.registered || !n.host_up || n.running || n.expected != Expected::Running) continue;
            if (n.pg_crashed_at >= now) continue;  // restarted at the next step
            pg_start(n);
        }
    }

    void client_writes() {
        for (auto& n : nodes) {
            if (!n.registered || !writable(n) || n.pending.size() >= kMaxPendingCommits || !rng.chance(0.6)) continue;
            append_wal(n, 8192 + rng.below(4u << 20), tli_of(n));
            n.pending.push_back(Pending{n.data.wal.size() - 1, n.data.wal.back().id});
        }
    }

    void replicate() {
        for (auto& s : nodes) {
            if (!s.registered || s.data.upstream == 0 || now < s.replication_stall_until) continue;
            const SimNode& u = node(s.data.upstream);
            if (!streaming(s, u)) continue;
            std::size_t have = s.data.wal.size(), avail = u.data.wal.size();
            if (have >= avail) continue;
            std::size_t take = rng.chance(0.85) ? avail : have + rng.below(avail - have + 1);
            if (s.data.recovery_target != 0)
                while (take > have && u.data.wal[take - 1].end_lsn > s.data.recovery_target) --take;
            s.data.wal.insert(s.data.wal.end(), u.data.wal.begin() + static_cast<std::ptrdiff_t>(have),
                              u.data.wal.begin() + static_cast<std::ptrdiff_t>(take));
        }
    }

    void acknowledge() {
        for (auto& n : nodes) {
            if (n.pending.empty()) continue;
            if (!n.host_up || !n.running || n.in_recovery) {
                n.pending.clear();
                continue;
            }
            if (n.data.sync_names.empty()) {
                stats.async_acks += static_cast<long>(n.pending.size());
                n.pending.clear();
                continue;
            }
            std::vector<Pending> still;
            for (const auto& p : n.pending) {
                if (named_streaming(n, p.index + 1) >= n.data.sync_names.k) {
                    if (named_streaming(n, p.index + 1, /*protected_only=*/true) >= n.data.sync_names.k) {
                        durable.push_back(Acked{p.index, p.id, n.id, now});
                        ++stats.sync_acks;
                    } else {
                        ++stats.unprotected_sync_acks;  // see monitor_says_quorum
                    }
                } else {
                    still.push_back(p);
                }
            }
            n.pending.swap(still);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Invariants 1-3 (see property_invariants_test.cpp for their statements).

    // pg_auto_failover's known gap, which the invariants are restricted for: a writer with
    // synchronous_standby_names = '' (wait_primary, apply_settings or single on the way, or a primary
    // whose standbys are all asynchronous) keeps acknowledging asynchronous commits while cut off,
    // and the monitor promotes another node after primary_demote_timeout. Fencing (§4.5) only runs
    // in PRIMARY, only if the keeper process runs at all, and never while a standby (an
    // asynchronous one, here) still streams from the node.
    // Precisely: the monitor has already taken the node's writable goal away, its keeper has not
    // received that goal yet (cut off, hung, or its node_active call still in flight), and fencing
    // cannot apply: its local state is not PRIMARY, or its keeper cannot run (paused, node_active
    // in flight), or a standby still streams from it; or that was the case less than
    // network_partition_timeout (plus one keeper loop) ago. An async writer that could fence all
    // along is not excused: the monitor must not have released another writer before it fenced.
    // Whether §4.5 fencing cannot apply to the node right now.
    bool fencing_impossible(const SimNode& n) const {
        return n.current != S::Primary || n.keeper_paused || n.inflight || has_streaming_standby(n);
    }

    bool isolated_async_writer(const SimNode& n) const {
        if (!writable(n) || !n.data.sync_names.empty()) return false;
        // Once fencing becomes possible it takes network_partition_timeout, checked at each keeper
        // loop; a node that could fence all along is not excused at all (the monitor must wait).
        if (n.fencing_impossible_at == TimePoint{} ||
            now - n.fencing_impossible_at > kNetworkPartitionTimeout + kKeeperSleep)
            return false;
        const Node* row = g.find(n.id);
        return row != nullptr && !can_take_writes(row->goal) && can_take_writes(n.assigned);
    }

    void observe(const std::string& where) {
        if (violation) return;
        for (auto& n : nodes) {
            if (!n.registered) continue;
            if (writable(n) && fencing_impossible(n)) n.fencing_impossible_at = now;
            bool w = writable(n);
            if (w && !n.was_writable) became_writable(n, where);
            n.was_writable = w;
        }
        check_single_acknowledger(where);
    }

    // Restriction of invariant 3, pg_auto_failover's design for wait_primary: a primary that runs
    // without a synchronous standby (wait_primary: synchronous_standby_names is '') holds on its own
    // everything it has, including commits acknowledged synchronously in an earlier term whose
    // other copy was on a primary since demoted. The monitor still fails over from it (within
    // promote_wal_log_threshold), accepting the loss of what only it holds. Precisely: every other
    // node holding the commit is on the primary side for the monitor (the failed primary and
    // earlier demoted primaries, which elections leave out), and one of them last served writes as
    // wait_primary. A commit that a standby-side node holds is never excused.
    bool lost_with_async_primary(const SimNode& n, const Acked& c) const {
        bool holders = false, async_holder = false;
        for (const auto& h : nodes) {
            if (h.id == n.id || !h.registered) continue;
            if (!(c.index < h.data.wal.size() && h.data.wal[c.index].id == c.id)) continue;
            holders = true;
            const Node* row = g.find(h.id);
            if (row == nullptr || !(belongs_to_primary(row->reported) || row->reported == S::Demoted)) return false;
            if (h.last_writable_report == S::WaitPrimary) async_holder = true;
        }
        return holders && async_holder;
    }

    // The replication_quorum gap (see monitor_says_quorum), at failover time: clearing a standby's
    // replication_quorum also stops the election from waiting for commits it already acknowledged.
    // Precisely: every standby-side node holding the commit is one the monitor now flags
    // replication_quorum = false (the others holding it are on the primary side).
    bool held_only_by_standbys_made_async(const SimNode& n, const Acked& c) const {
        bool async_holder = false;
        for (const auto& h : nodes) {
            if (h.id == n.id || !h.registered) continue;
            if (!(c.index < h.data.wal.size() && h.data.wal[c.index].id == c.id)) continue;
            const Node* row = g.find(h.id);
            if (row == nullptr) return false;
            if (belongs_to_primary(row->reported) || row->reported == S::Demoted) continue;
            if (row->replication_quorum) return false;
            async_holder = true;
        }
        return async_holder;
    }

    // Restriction of invariant 3, maintenance: the operator owns the Postgres of a node in
    // maintenance, so the monitor can neither ask its LSN nor wait for it (the election waits only
    // while its Postgres runs: it may still stream from the old primary). A commit it acknowledged
    // after its last LSN report, before its Postgres stopped, is not protected. Precisely: every
    // standby-side node holding the commit is in maintenance (keeper and monitor) with Postgres
    // stopped.
    bool held_only_by_stopped_maintenance_nodes(const SimNode& n, const Acked& c) const {
        bool maintenance_holder = false;
        for (const auto& h : nodes) {
            if (h.id == n.id || !h.registered) continue;
            if (!(c.index < h.data.wal.size() && h.data.wal[c.index].id == c.id)) continue;
            const Node* row = g.find(h.id);
            if (row == nullptr) return false;
            if (belongs_to_primary(row->reported) || row->reported == S::Demoted) continue;
            if (!(h.current == S::Maintenance && is_in_maintenance(row) && !h.running)) return false;
            maintenance_holder = true;
        }
        return maintenance_holder;
    }

    void became_writable(SimNode& n, const std::string& where) {
        ++stats.writers;
        if (last_writer != n.id) ++stats.writer_changes;
        note(n.name + " became writable (" + where + ")");
        last_writer = n.id;
        // Invariant 2, for a node that takes over as a writer whose commits can be acknowledged. A
        // zombie old primary restarted by its controller before it fenced itself, whose standbys all
        // follow the new primary, accepts writes that can never be acknowledged: invariant 1 watches
        // it at every step, but it did not take over from anyone.
        const bool can_ever_acknowledge =
            (n.data.sync_names.empty() || could_acknowledge_synchronously(n)) && !isolated_async_writer(n);
        for (const auto& m : nodes) {
            if (!can_ever_acknowledge) break;
            if (m.id == n.id || !m.registered || !writable(m)) continue;
            if (could_acknowledge_synchronously(m))
                fail("promotion_after_old_primary",
                     n.name + " became writable while " + m.name +
                         " can still acknowledge synchronous commits (" + where + ")");
        }
        // Invariant 3, for the same writers: the zombie above is not "the current primary".
        if (!can_ever_acknowledge) return;
        std::vector<Acked> kept;
        int lost = 0;
        for (const auto& c : durable) {
            if (c.index < n.data.wal.size() && n.data.wal[c.index].id == c.id) {
                kept.push_back(c);
                continue;
            }
            if (lost_with_async_primary(n, c)) {  // gone for good: no longer tracked
                ++lost;
                continue;
            }
            if (held_only_by_standbys_made_async(n, c)) {
                ++stats.lost_with_async_flagged_standby;
                continue;
            }
            if (held_only_by_stopped_maintenance_nodes(n, c)) {
                ++stats.lost_in_maintenance;
                continue;
            }
            fail("no_acknowledged_commit_lost",
                 n.name + " became writable without commit " + std::to_string(c.id) + " (position " +
                     std::to_string(c.index) + ") acknowledged synchronously by node " + std::to_string(c.node) +
                     " at " + ms(c.at, origin) + " (" + where + ")");
            return;
        }
        if (lost > 0) {
            ++stats.lost_with_wait_primary;
            note(n.name + " became writable without " + std::to_string(lost) +
                 " synchronously acknowledged commits that only a failed wait_primary held");
        }
        durable.swap(kept);
    }

    void check_single_acknowledger(const std::string& where) {
        std::vector<const SimNode*> ackers;
        for (const auto& n : nodes)
            if (n.registered && can_acknowledge(n) && !isolated_async_writer(n)) ackers.push_back(&n);
        if (ackers.size() < 2) return;
        std::string names;
        for (const auto* a : ackers) names += " " + a->name + "(" + a->data.sync_names.str() + ")";
        fail("single_acknowledger", "nodes that can acknowledge a write at the same time:" + names + " (" + where + ")");
    }

    // ---------------------------------------------------------------------------------------------
    // Faults.

    SimNode& random_node() { return nodes[rng.below(nodes.size())]; }

    void inject_faults() {
        for (auto& n : nodes) {
            if (!n.registered) continue;
            if (n.host_up && rng.chance(0.0015)) {
                n.host_up = false;
                pg_stop(n);
                n.inflight = false;
                n.ff_target = 0;  // the keeper process restarts: a fast_forward starts over
                n.host_restart_at = now + rng.between(2s, 40s);
                ++stats.faults;
                note("FAULT " + n.name + ": host crash");
            }
            if (n.host_up && n.running && rng.chance(0.002)) {
                pg_stop(n);
                n.pg_crashed_at = now;
                ++stats.faults;
                note("FAULT " + n.name + ": postgres crash");
            }
            if (link(0, n.id) && rng.chance(0.0015)) {
                set_cut(0, n.id, true, now + rng.between(1s, 30s));
                ++stats.faults;
                note("FAULT " + n.name + ": cut from the monitor");
            }
            if (rng.chance(0.0015)) {
                TimePoint until = now + rng.between(1s, 30s);
                for (const auto& o : nodes)
                    if (o.id != n.id) set_cut(n.id, o.id, true, until);
                ++stats.faults;
                note("FAULT " + n.name + ": cut from its peers");
            }
            if (!n.keeper_paused && rng.chance(0.001)) {
                n.keeper_paused = true;
                n.keeper_resume_at = now + rng.between(1s, 20s);
                ++stats.faults;
                note("FAULT " + n.name + ": keeper paused");
            }
            if (!n.inflight && n.next_report_delay == Duration{0} && rng.chance(0.003)) {
                n.next_report_delay = rng.between(500ms, 12s);
                ++stats.faults;
            }
            if (now >= n.replication_stall_until && rng.chance(0.001)) {
                n.replication_stall_until = now + rng.between(1s, 20s);
                ++stats.faults;
                note("FAULT " + n.name + ": replication stalls");
            }
        }
        if (rng.chance(0.001)) {
            // A network split: the monitor and every node land on a random side.
            std::array<bool, kMaxNodes + 1> side{};
            for (int i = 0; i <= cfg.nodes; ++i) side[static_cast<std::size_t>(i)] = rng.chance(0.5);
            TimePoint until = now + rng.between(1s, 30s);
            std::string desc;
            for (int i = 0; i <= cfg.nodes; ++i)
                for (int j = i + 1; j <= cfg.nodes; ++j)
                    if (side[static_cast<std::size_t>(i)] != side[static_cast<std::size_t>(j)]) set_cut(i, j, true, until);
            for (int i = 0; i <= cfg.nodes; ++i)
                desc += (side[static_cast<std::size_t>(i)] ? " A" : " B") + std::to_string(i);
            ++stats.faults;
            note("FAULT network split (0 = monitor):" + desc);
        }
        if (rng.chance(0.004)) operator_request();
    }

    void expire_faults() {
        for (auto& n : nodes) {
            if (!n.registered) continue;
            if (!n.host_up && now >= n.host_restart_at) host_restart(n);
        }
        for (int i = 0; i <= cfg.nodes; ++i)
            for (int j = i + 1; j <= cfg.nodes; ++j)
                if (cut[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)] &&
                    now >= heal_at[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)])
                    set_cut(i, j, false);
    }

    void host_restart(SimNode& n) {
        n.host_up = true;
        n.expected = Expected::None;  // the runtime directory is empty after a reboot
        n.next_loop = now;
        note(n.name + ": host restarted");
    }

    void heal_all() {
        for (auto& n : nodes) {
            if (!n.registered) continue;
            if (!n.host_up) host_restart(n);
            n.keeper_paused = false;
            n.next_report_delay = Duration{0};
            n.replication_stall_until = TimePoint{};
        }
        for (auto& row : cut) row.fill(false);
        note("HEAL everything");
    }

    void operator_request() {
        ++stats.operator_requests;
        g.now = monitor_now();
        const SimNode& n = random_node();
        RequestOutcome out;
        std::string what;
        switch (rng.below(9)) {
            case 0:
            case 1:
                what = "perform_failover";
                out = perform_failover(g);
                break;
            case 2:
                what = "perform_promotion " + n.name;
                out = perform_promotion(g, n.name);
                break;
            case 3: {
                bool allow = rng.chance(0.5);
                what = "start_maintenance " + n.name + (allow ? " --allow-failover" : "");
                out = start_maintenance(g, n.id, allow);
                break;
            }
            case 4:
                what = "stop_maintenance " + n.name;
                out = stop_maintenance(g, n.id);
                break;
            case 5: {
                int value = static_cast<int>(rng.below(3));
                what = "set number_sync_standbys " + std::to_string(value);
                out = set_number_sync_standbys(g, value);
                break;
            }
            case 6: {
                bool quorum = rng.chance(0.6);
                what = "set replication_quorum " + n.name + " " + (quorum ? "true" : "false");
                out = set_replication_quorum(g, n.name, quorum);
                break;
            }
            default: {
                static constexpr int kPriorities[] = {0, 50, 50, 100};
                int prio = kPriorities[rng.below(4)];
                // Keep two candidates: with fewer, a lost primary can legitimately never be replaced.
                int candidates = 0;
                for (const auto& row : g.nodes)
                    if (row.id != n.id && row.candidate_priority > 0) ++candidates;
                if (prio == 0 && candidates < 2) return;
                what = "set candidate_priority " + n.name + " " + std::to_string(prio);
                out = set_candidate_priority(g, n.name, prio);
                break;
            }
        }
        if (out.accepted) {
            ++stats.operator_accepted;
            apply_decision(out.decision, "operator " + what);
            note("OPERATOR " + what + ": accepted");
        } else {
            note("OPERATOR " + what + ": refused (" + out.refusal.message + ")");
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Steps, bootstrap, liveness.

    void step() {
        now += cfg.step;
        monitor_events = 0;
        g.now = now;
        ++step_no;
        ++stats.steps;
        const bool second = step_no % (1000 / cfg.step.count()) == 0;
        if (faults_on) inject_faults();
        expire_faults();
        controllers();
        observe("controller");
        client_writes();
        replicate();
        acknowledge();
        observe("replication");
        if (violation) return;
        if (second) health_checks();
        run_keepers();
        if (violation) return;
        if (second) monitor_timer();
        observe("end of step");
    }

    bool converged(std::string* why) const {
        const SimNode* primary = nullptr;
        bool any_quorum_standby = false;
        for (const auto& n : nodes) {
            const Node* row = g.find(n.id);
            if (row->goal != row->reported || n.current != row->goal || n.assigned != row->goal) {
                if (why) *why = n.name + " has not converged";
                return false;
            }
            if (row->goal == S::Primary || row->goal == S::WaitPrimary) {
                if (primary != nullptr) {
                    if (why) *why = "two primaries";
                    return false;
                }
                primary = &n;
            } else if (row->goal != S::Secondary) {
                if (why) *why = n.name + " is " + std::string(to_string(row->goal));
                return false;
            } else if (row->replication_quorum) {
                any_quorum_standby = true;
            }
        }
        if (primary == nullptr) {
            if (why) *why = "no primary";
            return false;
        }
        if (g.find(primary->id)->goal == S::WaitPrimary && any_quorum_standby) {
            if (why) *why = "wait_primary with a quorum standby";
            return false;
        }
        // The data plane agrees: the primary takes and acknowledges writes, every standby streams.
        if (!can_acknowledge(*primary)) {
            if (why) *why = primary->name + " cannot acknowledge writes";
            return false;
        }
        for (const auto& n : nodes)
            if (n.id != primary->id && !streaming(n, *primary)) {
                if (why) *why = n.name + " does not stream from " + primary->name;
                return false;
            }
        return true;
    }

    bool converge(const char* phase) {
        const TimePoint start = now;
        int since_operator = 0;
        while (now - start < cfg.convergence_bound) {
            step();
            if (violation) return false;
            if (converged(nullptr)) {
                auto took = std::chrono::duration_cast<std::chrono::milliseconds>(now - start).count();
                stats.max_convergence_ms = std::max<long>(stats.max_convergence_ms, took);
                note(std::string("CONVERGED (") + phase + ") after " + std::to_string(took) + " ms");
                return true;
            }
            // The operator ends maintenance, as a runbook would.
            if (++since_operator % 8 == 0)
                for (const auto& n : nodes) {
                    const Node* row = g.find(n.id);
                    if (!is_in_maintenance(row) && row->reported != S::Maintenance) continue;
                    RequestOutcome out = stop_maintenance(g, n.id);
                    if (out.accepted) apply_decision(out.decision, "operator stop_maintenance " + n.name);
                }
        }
        std::string why;
        converged(&why);
        fail("liveness", std::string("no convergence within ") + std::to_string(cfg.convergence_bound.count() / 1000) +
                             " s after faults stopped (" + phase + "): " + why);
        return false;
    }

    bool bootstrap() {
        for (auto& n : nodes) {
            TimePoint deadline = now + 120s;
            while (!n.registered) {
                if (now > deadline) {
                    fail("liveness", n.name + " could not register");
                    return false;
                }
                RegistrationRequest req;
                req.host = "10.0.0." + std::to_string(n.id);
                req.name = n.name;
                g.now = monitor_now();
                auto out = register_node(g.formation, g.nodes, req, n.id, g.now, g.monitor_start, g.timing);
                if (out.accepted) {
                    g.formation = out.formation;
                    g.nodes.push_back(out.node);
                    apply_decision(out.decision, "register " + n.name);
                    n.registered = true;
                    n.next_loop = now;
                    note(n.name + " registered with goal " + std::string(to_string(out.node.goal)));
                }
                // The first node must be single before the next ones can find a primary.
                for (int i = 0; i < 8 || (n.id == 1 && node(1).current != S::Single && now < deadline); ++i) {
                    step();
                    if (violation) return false;
                }
            }
        }
        return converge("bootstrap");
    }

    bool run() {
        if (cfg.nodes < 2 || cfg.nodes > kMaxNodes) {
            fail("model", "unsupported group size");
            return false;
        }
        if (!bootstrap()) return false;
        for (int i = 1; i <= cfg.fault_steps; ++i) {
            faults_on = true;
            step();
            faults_on = false;
            if (violation) return false;
            if (i % cfg.heal_every == 0 || i == cfg.fault_steps) {
                ++stats.heals;
                heal_all();
                if (!converge("after faults")) return false;
            }
        }
        return true;
    }
};

Model::Model(ModelConfig config) : impl_(std::make_unique<Impl>(config)) {}
Model::~Model() = default;
bool Model::run() { return impl_->run(); }
const std::optional<Violation>& Model::violation() const { return impl_->violation; }
const ModelStats& Model::stats() const { return impl_->stats; }

std::string Model::trace() const {
    std::string out = "last events:\n";
    for (const auto& line : impl_->log) out += "  " + line + "\n";
    out += "group now:\n" + impl_->describe_group();
    return out;
}

}  // namespace autoctl::fsm::property

#pragma once
// Helpers of the end-to-end tests: the built autoctl binary run as real processes, as the
// unprivileged test user, on loopback ports with real Postgres 15.
//
// - AutoctlNode: one autoctl node (monitor or data node) with its own directory holding a copy of
//   the binary, HOME and XDG_RUNTIME_DIR, so that its configuration, state and pid files land
//   there. It remembers every process it starts and, at the end, stops them by pid, then the
//   services named in its pid file and the postmaster named in PGDATA/postmaster.pid (never by
//   process name).
// - Formation: a monitor and data nodes ("node1", "node2", ...) created with `autoctl create
//   postgres --run`; it reads the monitor's node table over SQL to wait for conditions.
// - Writer: a thread that inserts sequential ids through the formation's multi-host URI, one
//   fresh connection per insert, and records the acknowledged ones.
//
// Every wait polls a condition with a limit; none is a fixed sleep.

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "autoctl/pg/command.hpp"
#include "autoctl/pg/connection.hpp"
#include "autoctl/pg/conninfo.hpp"
#include "support/pg_cluster.hpp"
#include "support/test_env.hpp"

namespace autoctl::e2e {

namespace fs = std::filesystem;
using Env = std::vector<std::pair<std::string, std::string>>;

std::string read_text(const fs::path& path);
bool contains(const std::string& text, const std::string& needle);

// Whether `pid` is a process that has not exited (a zombie counts as gone).
bool process_alive(pid_t pid);

// Polls `condition` every 100 ms until it holds or `limit` passes.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit);

// The pid written in a postmaster.pid whose process is alive.
std::optional<pid_t> live_postmaster(const fs::path& pgdata);

// Something else listening on 127.0.0.1:`port` (the caller closes the descriptor); -1 with errno
// set when the port cannot be taken.
int listen_on_loopback(int port);

// Milliseconds since `start`, for the timings the tests print.
long long elapsed_ms(std::chrono::steady_clock::time_point start);

class AutoctlNode {
public:
    // `label` names the node in messages and printed logs.
    explicit AutoctlNode(std::string label = "node", std::optional<fs::path> pgdata = std::nullopt);
    AutoctlNode(const AutoctlNode&) = delete;
    AutoctlNode& operator=(const AutoctlNode&) = delete;
    ~AutoctlNode();

    const std::string& label() const { return label_; }
    const fs::path& dir() const { return dir_.path(); }
    const fs::path& pgdata() const { return pgdata_; }
    int port() const { return port_; }
    fs::path config_file() const;
    fs::path state_file() const;
    fs::path init_file() const;
    fs::path pid_file() const;

    // `create monitor` on this node's PGDATA and port, listening on 127.0.0.1.
    std::vector<std::string> create_monitor_args(const std::vector<std::string>& extra) const;
    // The URI of this node as a monitor.
    std::string monitor_uri(const std::string& sslmode = "prefer") const;

    // The autoctl command as the test user, with this node's environment.
    pg::Command command(const std::vector<std::string>& args, const Env& env = {}) const;
    pg::CommandResult autoctl(const std::vector<std::string>& args, const Env& env = {},
                              std::chrono::seconds timeout = std::chrono::seconds(90)) const;

    // Starts autoctl in the background, its output appended to <dir>/<log>.
    pid_t start(const std::vector<std::string>& args, const std::string& log = "run.log", const Env& env = {});
    std::string log(const std::string& name = "run.log") const;

    // The exit status of a process started with start(), 128 + signal when killed, -1 when it is
    // still running after `limit`.
    int wait_exit(pid_t pid, std::chrono::milliseconds limit);

    // The supervisor and its services as the pid file names them (empty when there is none).
    std::vector<pid_t> pid_file_processes() const;
    // kill -9 of every process of this node, frozen first (SIGSTOP) so that none of them reacts
    // to the others' death: the supervisor, its services and the postmaster. Returns the pids.
    std::vector<pid_t> kill_everything();
    // Whether any process of this node (supervisor, services, postmaster) is alive.
    bool any_process_alive() const;

    // The test user (a superuser of the node's Postgres) over the unix socket in PGDATA; the
    // monitor's Postgres listens there.
    pg::ConnInfo socket_conninfo(const std::string& dbname = "pg_auto_failover") const;
    // The test user over TCP on 127.0.0.1:port (data nodes).
    pg::ConnInfo tcp_conninfo(const std::string& dbname = "postgres") const;
    pg::Connection connect() const;
    // One query over TCP on a fresh connection (throws when Postgres does not answer).
    pg::Rows sql(const std::string& query) const;

    // `show state --pgdata` succeeds: Postgres serves the monitor database.
    bool show_state_works() const;

    // Prints the tail of this node's logs to stderr (done at destruction when the test failed).
    void print_logs() const;

private:
    void cleanup() noexcept;

    std::string label_;
    fixture::TempDir dir_;
    fs::path pgdata_;
    fs::path binary_;
    int port_;
    std::vector<pid_t> children_;
    std::vector<pid_t> seen_;  // services and postmasters seen at kill_everything()
};

// One node as the monitor's node table shows it.
struct NodeRow {
    std::int64_t id = 0;
    std::string name;
    int port = 0;
    std::string reported;
    std::string goal;
    bool pg_running = false;
    int health = 0;
    int candidate_priority = 0;

    bool settled_in(const std::string& state) const { return reported == state && goal == state; }
};

struct NodeOptions {
    std::vector<std::string> extra_args;  // more options for create postgres
    std::string auth = "trust";           // --auth
};

class Formation {
public:
    // Creates the monitor and runs it; no data node yet.
    Formation();
    // Creates the monitor and `nodes` data nodes, and waits for one primary and secondaries.
    explicit Formation(int nodes);
    Formation(const Formation&) = delete;
    Formation& operator=(const Formation&) = delete;
    ~Formation();

    AutoctlNode& monitor() { return *monitor_; }
    std::string monitor_uri() const { return monitor_->monitor_uri(); }

    // The arguments of `create postgres` for a node named `name` on `node`'s PGDATA and port.
    std::vector<std::string> create_postgres_args(const AutoctlNode& node, const std::string& name,
                                                  const std::vector<std::string>& extra = {},
                                                  const std::string& auth = "trust") const;
    // A new data node "node<N>", created and run in the background (create postgres --run).
    AutoctlNode& add_node(const NodeOptions& options = {});
    AutoctlNode& node(const std::string& name);
    const std::vector<std::string>& names() const { return names_; }
    // `autoctl run` of a node whose processes are gone.
    pid_t run_node(const std::string& name);

    // The monitor's rows for the formation (throws when the monitor does not answer).
    std::vector<NodeRow> rows() const;
    // Waits until `condition` holds for the rows (monitor errors count as "not yet").
    bool wait_for(const std::function<bool(const std::vector<NodeRow>&)>& condition,
                  std::chrono::milliseconds limit) const;
    // Waits until every named node has reported its assigned state, `state`.
    bool wait_settled(const std::map<std::string, std::string>& expected, std::chrono::milliseconds limit) const;
    // Waits for one settled primary and every other node settled in secondary (a lone node:
    // settled in single).
    bool wait_primary_and_secondaries(std::chrono::milliseconds limit) const;
    // The node settled in primary, if any.
    std::optional<std::string> primary() const;
    // The last rows read, as a table, for failure messages.
    std::string describe() const;

    // An autoctl command run from the monitor's directory with --monitor appended.
    pg::CommandResult autoctl(std::vector<std::string> args, std::chrono::seconds timeout = std::chrono::seconds(90));
    // `show uri --formation default`.
    std::string formation_uri();

private:
    std::unique_ptr<AutoctlNode> monitor_;
    std::map<std::string, std::unique_ptr<AutoctlNode>> nodes_;
    std::vector<std::string> names_;
    mutable std::vector<NodeRow> last_rows_;
};

// Inserts ids 1, 2, 3, ... into table autoctl_e2e_writes through a multi-host URI with
// target_session_attrs=read-write, a fresh connection per insert, and records the ids whose
// COMMIT was acknowledged.
class Writer {
public:
    // Creates the table through `uri` (waiting up to 30 s for a writable node).
    explicit Writer(const std::string& uri);
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    ~Writer();

    void start();
    void stop();
    std::size_t acknowledged_count() const;
    // Waits until `more` further inserts are acknowledged.
    bool wait_for_writes(std::size_t more, std::chrono::milliseconds limit) const;
    // The acknowledged ids that the node does not have (throws when it cannot be read).
    std::vector<std::int64_t> missing_on(const AutoctlNode& node) const;
    // The longest time between two acknowledged inserts, and failed inserts so far.
    std::chrono::milliseconds longest_gap() const;
    std::size_t failures() const;
    std::string last_error() const;
    std::string summary() const;

private:
    void run();

    pg::ConnInfo info_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<std::int64_t> acknowledged_;
    std::size_t failures_ = 0;
    std::string last_error_;
    std::chrono::steady_clock::time_point last_ack_;
    std::chrono::milliseconds longest_gap_{0};
};

// Postgres on `node` answers over TCP and takes writes (not in recovery, not read-only).
bool writable(const AutoctlNode& node);

// Every insert `writer` saw acknowledged is on `node` (the primary at the end of a test); prints
// the writer's summary.
void expect_no_write_lost(const Writer& writer, const AutoctlNode& node);

}  // namespace autoctl::e2e

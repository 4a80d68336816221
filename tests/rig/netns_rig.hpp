#pragma once
// The network-namespace rig of the Citus tutorial (tests/rig): every node, the monitor and the
// application client in its own network namespace, each with one address on a private bridge
// that the rig creates and removes.
//
//   root namespace:  bridge actlbr<pid>, 10.A.B.1/24
//                    veth av<pid>n<i>  (the bridge side of node i)
//   namespace actl<pid>-<name>:  lo up, veth av<pid>p<i> with 10.A.B.<n>/24
//
// Programs run inside a namespace as argument vectors (pg::Command, never a shell):
//   ip netns exec <ns> setpriv --reuid=<test user> --regid=... --init-groups -- <program> ...
// (setns needs root, so the switch to the unprivileged test user happens after it.)
//
// The rig remembers every process it started or saw (autoctl supervisors, their services from
// the pid files, postmasters from postmaster.pid) and, at teardown (explicit, or from the
// destructor even when the test failed): `autoctl stop` of every node, then SIGKILL of whatever
// is left in its namespaces (`ip netns pids`, processes that are ours by construction), then the
// namespaces, the bridge and the directory. teardown() returns what it could not remove.
//
// Requires root (namespaces, links). The caller fails, never skips, when not root.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "autoctl/pg/command.hpp"

namespace autoctl::rig {

namespace fs = std::filesystem;

// One namespace of the rig: a node (monitor, coordinator, worker) or the app client.
struct RigNode {
    std::string name;       // "monitor", "coord0a", "worker1b", "app"
    int index = 0;          // position in the rig, names the veths
    std::string ns;         // actl<pid>-<name>
    std::string host_veth;  // bridge side, in the root namespace
    std::string ns_veth;    // inside the namespace
    std::string address;    // 10.A.B.N
    fs::path dir;           // <rig dir>/<name>: home, run, pgdata, logs
    fs::path pgdata;        // <dir>/pgdata
    std::optional<pid_t> supervisor;  // the `autoctl ... --run` / `autoctl run` we started

    fs::path log_file() const { return dir / "autoctl.log"; }
    fs::path pid_file() const;  // $XDG_RUNTIME_DIR/autoctl/<pgdata>/autoctl.pid
};

class Rig {
public:
    // Picks a free 10.A.B.0/24, creates the bridge and the rig directory (owned by the test
    // user), and copies the autoctl binary there. Throws when not root or when a step fails.
    explicit Rig(fs::path autoctl_binary);
    Rig(const Rig&) = delete;
    Rig& operator=(const Rig&) = delete;
    ~Rig();

    const std::string& prefix() const { return prefix_; }
    const std::string& bridge() const { return bridge_; }
    const std::string& subnet() const { return subnet_; }  // "10.A.B"
    const fs::path& dir() const { return dir_; }

    // A namespace with its veth on the bridge and the address <subnet>.<host>.
    RigNode& add_node(const std::string& name, int host);
    RigNode& node(const std::string& name);
    std::vector<RigNode*> nodes();

    // `program args...` inside the node's namespace, as the test user, with the node's HOME and
    // XDG_RUNTIME_DIR, from the node's directory.
    pg::Command in_ns(const RigNode& node, const std::string& program, const std::vector<std::string>& args,
                      const std::vector<std::pair<std::string, std::string>>& env = {}) const;
    // `ip ...` in the root namespace, as root; throws when it fails.
    pg::CommandResult ip(const std::vector<std::string>& args, bool check = true) const;

    // The autoctl binary (the rig's copy) inside the node's namespace.
    pg::CommandResult autoctl(const RigNode& node, const std::vector<std::string>& args,
                              std::chrono::seconds timeout = std::chrono::seconds(60)) const;
    // Starts autoctl in the background inside the node's namespace, output appended to
    // node.log_file(); remembered as the node's supervisor.
    pid_t start_autoctl(RigNode& node, const std::vector<std::string>& args);
    // psql -X -A -t -q -v ON_ERROR_STOP=1 -d <conninfo> -c <sql> inside the node's namespace.
    pg::CommandResult psql(const RigNode& node, const std::string& conninfo, const std::string& sql,
                           std::chrono::seconds timeout = std::chrono::seconds(30)) const;
    // A Postgres program (pg_ctl, ...) of the bindir autoctl uses.
    fs::path pg_program(const std::string& name) const;

    // Records the pids named by the nodes' pid files and postmaster.pid files.
    void track_processes();
    // Whether the process runs in one of the rig's namespaces (so that it is ours to signal).
    bool in_rig_namespace(pid_t pid) const;
    // The pids in the node's namespace (`ip netns pids`).
    std::vector<pid_t> namespace_pids(const RigNode& node) const;

    // Stops everything and removes everything; idempotent. Returns the leftovers (namespaces,
    // links, live processes, files), empty when none.
    std::vector<std::string> teardown() noexcept;

    // The last `bytes` of every node's log (for failure messages).
    std::string logs_tail(std::size_t bytes = 6000) const;

private:
    void setup_files_and_bridge();
    void reap_children(std::chrono::milliseconds limit);

    fs::path source_binary_;
    fs::path binary_;
    std::string ip_;
    pid_t pid_;
    std::string prefix_;  // actl<pid>
    std::string bridge_;
    std::string subnet_;
    fs::path dir_;
    bool bridge_created_ = false;
    bool torn_down_ = false;
    std::vector<std::unique_ptr<RigNode>> nodes_;
    std::set<std::string> created_namespaces_;
    std::set<pid_t> children_;  // processes we started and must reap
    std::set<pid_t> seen_;      // every pid of ours we ever saw
};

// Polls `condition` every `period` until it holds or `limit` passes.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit,
                std::chrono::milliseconds period = std::chrono::milliseconds(250));

bool process_alive(pid_t pid);

}  // namespace autoctl::rig

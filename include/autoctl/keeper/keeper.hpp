#pragma once
// The keeper of one data node (design.md §3): every second, or at once when the monitor notifies
// a change in its group, it reads its Postgres, reports to the monitor with node_active, and when
// the monitor assigned another state runs the transition of the keeper table
// (fsm::find_keeper_transition) on real Postgres, then persists the new state atomically.
//
// A transition that fails is logged and retried at the next step; the current state only moves
// once the transition finished, so every transition is written to be re-run from the start.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "autoctl/citus/coordinator.hpp"
#include "autoctl/common/config.hpp"
#include "autoctl/common/paths.hpp"
#include "autoctl/fsm/keeper_transitions.hpp"
#include "autoctl/keeper/keeper_monitor.hpp"
#include "autoctl/keeper/keeper_state.hpp"
#include "autoctl/keeper/local_postgres.hpp"
#include "autoctl/keeper/transition_pending.hpp"

namespace autoctl::keeper {

// How the keeper gets Postgres started or stopped: through the supervisor when it
// runs (autoctl run), with pg_ctl while `autoctl create postgres` initialises the node.
class PostgresService {
public:
    virtual ~PostgresService() = default;
    // Asks for Postgres to run; true once it accepts connections, false after `wait`.
    virtual bool start(std::chrono::milliseconds wait) = 0;
    // Stops Postgres (fast) and returns once it is stopped; throws when it does not stop.
    virtual void stop() = 0;
    // Lets go of Postgres: the operator owns it (maintenance).
    virtual void release() = 0;
};

// Through the supervisor: the expected-status file (supervised_postgres.hpp).
std::unique_ptr<PostgresService> supervised_service(const common::NodePaths& paths, const LocalPostgres& pg);
// pg_ctl start/stop directly (no supervisor).
std::unique_ptr<PostgresService> pg_ctl_service(const LocalPostgres& pg);

// States in which this node's Postgres accepts writes. A node restarted in one of them keeps
// Postgres stopped until the monitor confirms the state (prepare_restart_check): meanwhile the
// monitor may have promoted another node, and a read-write client must not find two primaries.
bool is_writable_state(fsm::NodeState state);

// Before the supervisor starts: keeps Postgres stopped when the node stopped in a writable state.
void prepare_restart_check(const common::NodePaths& paths);

class Keeper {
public:
    // `supervised`: Postgres is the supervisor's (autoctl run); otherwise pg_ctl's (create).
    Keeper(common::NodePaths paths, common::Config config, bool supervised);

    // One step of the loop. Returns true when the next step should run at once (a transition
    // just finished), false when the keeper may wait for a notification or the next second.
    bool step();

    // A new replication.password after a reload (see keeper.cpp).
    void apply_replication_password();

    // How long to wait between two steps when nothing wakes the keeper.
    std::chrono::milliseconds loop_interval(std::chrono::steady_clock::time_point now) const;

    // Waits for a `state` notification of the group, at most `timeout`.
    void wait(std::chrono::milliseconds timeout);

    // Runs steps until `stop` is set. Returns when the node was dropped (true) or stopped.
    bool run(const std::atomic<bool>& stop, std::atomic<bool>& reload);

    // The transition of the keeper table from `from` to `to`; throws when it fails or when no
    // row exists. Public for `autoctl do fsm` and for `create postgres`, which runs the first one.
    void transition(fsm::NodeState from, fsm::NodeState to);

    const KeeperState& state() const { return state_; }
    KeeperState& mutable_state() { return state_; }
    void save_state() const;
    const common::Config& config() const { return config_; }

    // The initialisation of a first node (init -> single): initdb or adopt, settings, roles,
    // database, start. Shared with `autoctl create postgres`.
    void init_primary();

private:
    // Steps of step().
    bool read_postgres(std::time_t now);
    bool report_to_monitor(std::time_t now);
    void check_network_partition(std::time_t now);
    void ensure_current_state();
    KeeperMonitor& monitor();

    // The Postgres operations of the keeper table, by action (transitions.cpp).
    void run_action(fsm::KeeperAction action, fsm::NodeState from, fsm::NodeState to);
    void ensure_running();
    void ensure_stopped();
    Upstream primary_upstream();
    void disable_replication();
    void apply_synchronous_standby_names(bool wait_for_standby);
    void init_standby();
    void rewind_or_init();
    void follow_primary();
    void prepare_for_secondary();
    void stop_replication();
    void promote_to_primary();
    void report_lsn(bool drop_slots);
    void fast_forward();
    void refresh_other_nodes();

    // Citus nodes (citus_transitions.cpp).
    void run_citus_action(fsm::KeeperAction action);
    bool is_citus_node() const;
    bool is_citus_coordinator() const;
    int citus_lock_cooldown() const;
    std::string citus_host() const;
    pg::ConnInfo citus_local_conninfo() const;
    citus::CoordinatorClient citus_coordinator();
    void citus_setup_local();
    bool citus_register_coordinator();
    void citus_register_worker();
    void citus_init_primary();
    void citus_prepare_update();
    void citus_commit_update();
    void citus_rollback_update();
    void citus_refresh();

    std::string formation() const { return config_.get("pg_autoctl.formation"); }
    std::string sslmode() const { return config_.get("ssl.sslmode"); }
    std::string password() const { return config_.get("replication.password"); }
    std::string describe() const;  // node 1 "node_1" (state)

    common::NodePaths paths_;
    common::Config config_;
    LocalPostgres pg_;
    std::unique_ptr<PostgresService> postgres_;
    std::unique_ptr<KeeperMonitor> monitor_;
    bool listening_ = false;
    KeeperState state_;
    mutable std::optional<KeeperState> saved_;  // what the state file holds, once written here
    std::string pending_;                        // the last TransitionPending logged
    bool password_pending_ = false;              // apply replication.password once Postgres runs
    // The last new assignment or transition (loop_interval).
    std::chrono::steady_clock::time_point last_change_ = std::chrono::steady_clock::now();
    PostgresReport report_;
    bool pg_running_ = false;
    // A primary's Postgres failed to start and the keeper tries again before reporting it down
    // (read_postgres): the monitor gets the last report read, and nothing else waits for it.
    bool pg_restarting_ = false;
    bool monitor_reached_ = false;
    bool dropped_reported_ = false;  // the last node_active said "dropped" (or the node is gone)
    // The coordinator's connection to its own database (pg_dist_node upkeep).
    std::optional<citus::CoordinatorClient> local_citus_;
};

}  // namespace autoctl::keeper

// The keeper loop: read Postgres, report, transition, persist (design.md §3, reference §4.2).

#include "autoctl/keeper/keeper.hpp"

#include <thread>

#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/keeper/supervised_postgres.hpp"

namespace autoctl::keeper {

namespace {

using common::Error;
using common::ErrorKind;
using fsm::NodeState;

std::shared_ptr<spdlog::logger> log() { return common::logger("keeper"); }

// How far behind the state file's contact timestamps may be (keeper_state.hpp, needs_saving).
constexpr std::int64_t kContactSlackSeconds = 5;

}  // namespace

bool is_writable_state(NodeState state) {
    return state == NodeState::Single || state == NodeState::Primary || state == NodeState::WaitPrimary ||
           state == NodeState::JoinPrimary || state == NodeState::ApplySettings;
}

void prepare_restart_check(const common::NodePaths& paths) {
    const auto state = load_keeper_state(paths.state);
    if (state && is_writable_state(state->current)) {
        write_expected_status(expected_status_file(paths.pid), ExpectedStatus::Stopped);
    }
}

Keeper::Keeper(common::NodePaths paths, common::Config config, bool supervised)
    : paths_(std::move(paths)), config_(std::move(config)), pg_(config_) {
    postgres_ = supervised ? supervised_service(paths_, pg_) : pg_ctl_service(pg_);
    if (auto loaded = load_keeper_state(paths_.state)) state_ = *loaded;
}

void Keeper::save_state() const {
    save_keeper_state(paths_.state, state_);
    saved_ = state_;
}

std::string Keeper::describe() const {
    return "node " + std::to_string(state_.node_id) + " \"" + config_.get("pg_autoctl.name") + "\"";
}

KeeperMonitor& Keeper::monitor() {
    if (!monitor_) {
        listening_ = false;
        monitor_ = std::make_unique<KeeperMonitor>(config_.get("pg_autoctl.monitor"));
    }
    return *monitor_;
}

// Whether Postgres answers, and what it reports. In primary, a Postgres that does not come back is
// hidden from the monitor until it failed to start postgresql_restart_failure_max_retries times
// (or for postgresql_restart_failure_timeout): a restart is cheaper than a failover.
bool Keeper::read_postgres(std::time_t now) {
    pg_running_ = false;
    pg_restarting_ = false;
    if (pg_.is_ready()) {
        try {
            report_ = pg_.report();
            pg_running_ = true;
        } catch (const Error& e) {
            log()->debug("{}: cannot read Postgres's status: {}", describe(), e.what());
        }
    }
    if (pg_running_) {
        state_.pg_start_failures = 0;
        state_.first_start_failure = 0;
        return true;
    }
    const auto expected = read_expected_status(expected_status_file(paths_.pid));
    if (is_writable_state(state_.current) && expected == ExpectedStatus::Stopped) {
        // The restart check (prepare_restart_check): Postgres is healthy on disk and starts as
        // soon as the monitor confirms this state; until then it is not reported down.
        log()->info("{} ({}): Postgres starts once the monitor confirms this state", describe(),
                    fsm::to_string(state_.current));
        return true;
    }
    if (state_.current != NodeState::Primary || expected != ExpectedStatus::Running) return false;
    if (postgres_->start(std::chrono::seconds(1))) {
        return read_postgres(now);
    }
    if (state_.first_start_failure == 0) state_.first_start_failure = now;
    ++state_.pg_start_failures;
    const auto max_retries = config_.get_int("timeout.postgresql_restart_failure_max_retries");
    const auto timeout = config_.get_int("timeout.postgresql_restart_failure_timeout");
    if (state_.pg_start_failures >= max_retries || now - state_.first_start_failure > timeout) {
        log()->warn("{} (primary): Postgres failed to start {} times: reporting it down to the monitor", describe(),
                    state_.pg_start_failures);
        return false;
    }
    log()->warn("{} (primary): Postgres failed to start {}/{} times before reporting to the monitor, trying again",
                describe(), state_.pg_start_failures, max_retries);
    pg_restarting_ = true;
    return true;
}

bool Keeper::report_to_monitor(std::time_t now) {
    NodeReport report;
    report.formation = formation();
    report.node_id = state_.node_id;
    report.group = state_.group;
    report.current = state_.current;
    report.pg_is_running = read_postgres(now);
    // While a restart is tried, the last values read: an empty sync_state would tell the monitor
    // that this primary acknowledged commits without a standby, and keep it from promoting a
    // standby before the drain timeout once Postgres is reported down.
    if (pg_running_ || pg_restarting_) {
        report.timeline = report_.timeline;
        report.lsn = report_.lsn;
        report.sync_state = report_.sync_state;
        if (pg_running_ && report_.standby_count > 0) state_.last_secondary_contact = now;
    }
    try {
        const auto assignment = monitor().node_active(report);
        state_.last_monitor_contact = now;
        if (assignment.state != state_.assigned) {
            last_change_ = std::chrono::steady_clock::now();
            log()->info("{} ({}): the monitor assigns {}", describe(), fsm::to_string(state_.current),
                        fsm::to_string(assignment.state));
        }
        state_.assigned = assignment.state;
        state_.group = assignment.group;
        dropped_reported_ = report.current == NodeState::Dropped;
        return true;
    } catch (const pg::SqlError& e) {
        // The monitor deletes a dropped node once it reported dropped: "couldn't find node".
        if (e.sqlstate() == "42704" && state_.current == NodeState::Dropped) {
            dropped_reported_ = true;
            return true;
        }
        monitor_.reset();
        log()->warn("{} ({}): failed to get the goal state from the monitor: {}", describe(),
                    fsm::to_string(state_.current), e.what());
        return false;
    } catch (const Error& e) {
        monitor_.reset();
        log()->warn("{} ({}): failed to get the goal state from the monitor: {}", describe(),
                    fsm::to_string(state_.current), e.what());
        return false;
    }
}

// A primary that can reach neither the monitor nor any standby for network_partition_timeout
// may be on the losing side of a partition while the monitor promotes a standby: it stops
// Postgres so that two nodes never accept writes.
void Keeper::check_network_partition(std::time_t now) {
    if (state_.current != NodeState::Primary) return;
    if (pg_running_ && report_.standby_count > 0) return;
    const auto timeout = config_.get_int("timeout.network_partition_timeout");
    const auto since_monitor = now - state_.last_monitor_contact;
    const auto since_standby = now - state_.last_secondary_contact;
    if (state_.last_monitor_contact > 0 && since_monitor > timeout && since_standby > timeout) {
        log()->warn("{} (primary): no contact with the monitor for {} s nor with any standby for {} s: this node "
                    "may be cut off from the formation, demoting it (demote_timeout)",
                    describe(), since_monitor, since_standby);
        state_.assigned = NodeState::DemoteTimeout;
    }
}

bool Keeper::step() {
    const std::time_t now = std::time(nullptr);
    if (auto loaded = load_keeper_state(paths_.state)) {
        // `autoctl do fsm assign` may have changed the file; our counters are newer.
        state_.current = loaded->current;
        state_.assigned = loaded->assigned;
    }
    monitor_reached_ = report_to_monitor(now);
    if (!monitor_reached_) check_network_partition(now);

    bool transitioned = false;
    if (state_.assigned != state_.current) {
        const NodeState from = state_.current;
        const NodeState to = state_.assigned;
        try {
            transition(from, to);
            state_.current = to;
            transitioned = true;
            pending_.clear();
            last_change_ = std::chrono::steady_clock::now();
            log()->info("{}: reached state {} (from {})", describe(), fsm::to_string(to), fsm::to_string(from));
        } catch (const TransitionPending& e) {
            const std::string what = std::string(fsm::to_string(to)) + ": " + e.what();
            const auto level = what == pending_ ? spdlog::level::debug : spdlog::level::info;
            log()->log(level, "{} ({}): on the way to {}", describe(), fsm::to_string(from), what);
            pending_ = what;
        } catch (const Error& e) {
            pending_.clear();
            log()->error("{} ({}): failed to transition to {}: {}; retrying", describe(), fsm::to_string(from),
                         fsm::to_string(to), e.what());
        }
    } else if (monitor_reached_ && !pg_restarting_) {
        // (During a restart, ensure_running() would block the loop, and the reports, for 30 s.)
        try {
            ensure_current_state();
            // A password set with `config set` while autoctl was stopped: applied once Postgres runs.
            if (password_pending_ && pg_.is_ready()) {
                password_pending_ = false;
                apply_replication_password();
            }
        } catch (const Error& e) {
            log()->warn("{} ({}): {}", describe(), fsm::to_string(state_.current), e.what());
        }
    }
    if (!saved_ || needs_saving(*saved_, state_, kContactSlackSeconds)) save_state();
    return transitioned;
}

void Keeper::wait(std::chrono::milliseconds timeout) {
    if (monitor_) {
        try {
            if (!listening_) {
                monitor_->listen_state();
                listening_ = true;
            }
            monitor_->wait_for_group_change(formation(), state_.group, timeout);
            return;
        } catch (const Error& e) {
            monitor_.reset();
            log()->debug("{}: lost the monitor connection while waiting: {}", describe(), e.what());
        }
    }
    std::this_thread::sleep_for(timeout);
}

// `autoctl config set replication.password` on every node, the primary first: the primary sets
// the role's password (its verifier), a standby writes its password file and follows the primary
// again (primary_conninfo names the file); a node still copying the primary uses it at its next
// try. With --auth scram-sha-256 or md5 this is how standbys are let in. Also run once at start,
// for a password set while autoctl was stopped.
void Keeper::apply_replication_password() {
    pg_.set_replication_password(password());
    if (password().empty()) return;
    try {
        if (pg_.is_ready() && !pg_.in_recovery()) {
            pg_.create_replication_role(password());
            log()->info("{} ({}): set the new password of the replication role", describe(),
                        fsm::to_string(state_.current));
        } else if (pg_.has_standby_signal() &&
                   (state_.current == NodeState::Secondary || state_.current == NodeState::CatchingUp)) {
            follow_primary();
            log()->info("{} ({}): following the primary with the new replication password", describe(),
                        fsm::to_string(state_.current));
        }
    } catch (const Error& e) {
        log()->error("{} ({}): cannot apply the new replication password: {}", describe(),
                     fsm::to_string(state_.current), e.what());
    }
}

// Once a second, as pg_auto_failover; four times a second for a while after a state change that
// left this node in a passing state (catchingup, wait_primary, demoted, ...): those steps wait on
// another node's progress (a standby catching up, a new primary confirmed), which this node learns
// from its own reports, not from a notification. A node at rest (single, primary, secondary,
// maintenance) costs one report a second.
std::chrono::milliseconds Keeper::loop_interval(std::chrono::steady_clock::time_point now) const {
    constexpr auto kBusyWindow = std::chrono::seconds(10);
    const bool at_rest = state_.current == state_.assigned &&
                         (state_.current == NodeState::Single || state_.current == NodeState::Primary ||
                          state_.current == NodeState::Secondary || state_.current == NodeState::Maintenance);
    if (!at_rest && now - last_change_ < kBusyWindow) return std::chrono::milliseconds(250);
    return std::chrono::seconds(1);
}

bool Keeper::run(const std::atomic<bool>& stop, std::atomic<bool>& reload) {
    password_pending_ = !password().empty();
    log()->info("{}: keeper started in state {} (assigned {})", describe(), fsm::to_string(state_.current),
                fsm::to_string(state_.assigned));
    while (!stop) {
        if (reload) {
            try {
                const std::string previous_password = password();
                config_ = common::Config::load(paths_.config);
                log()->info("{}: reloaded the configuration", describe());
                if (password() != previous_password) apply_replication_password();
            } catch (const Error& e) {
                log()->error("{}: cannot reload the configuration, keeping the current one: {}", describe(), e.what());
            }
            reload = false;
        }
        bool at_once = false;
        try {
            at_once = step();
        } catch (const Error& e) {
            log()->error("{}: keeper step failed: {}", describe(), e.what());
        }
        // One more report after reaching dropped, so that the monitor sees it and removes the node.
        if (state_.current == NodeState::Dropped && state_.assigned == NodeState::Dropped && monitor_reached_ &&
            dropped_reported_) {
            log()->info("{}: this node was dropped from the monitor: stopping", describe());
            return true;
        }
        if (!at_once && !stop) wait(loop_interval(std::chrono::steady_clock::now()));
    }
    return false;
}

}  // namespace autoctl::keeper

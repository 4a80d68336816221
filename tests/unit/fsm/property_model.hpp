#pragma once
// A deterministic simulation of one group for the property tests (property_invariants_test.cpp):
// the monitor (stored snapshot, decide() on node_active, decide_group() on a timer, health checks),
// one keeper per node (its loop, the keeper transition table executed against a model of Postgres,
// self-fencing), Postgres itself (WAL history, standby.signal, primary_conninfo,
// synchronous_standby_names, default_transaction_read_only, streaming replication with lag and
// synchronous acknowledgement), a client that writes to whatever accepts writes, and faults.
//
// Everything is driven by one seeded random generator and a fake clock, so a seed replays exactly.
//
// Simplifications: one group, Standalone nodes only (no Citus), no node registration after the
// bootstrap and no removal; WAL is a list of commits (no checkpoints, slots or WAL recycling, so
// a standby can always stream what it misses); Postgres starts and stops instantly and never fails
// to; a standby copies what its upstream has, sometimes only part of it, within a step; the client
// can reach every node that is up; the monitor itself never fails and keeps its clock.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "autoctl/fsm/group.hpp"

namespace autoctl::fsm::property {

struct ModelConfig {
    int nodes = 3;
    std::uint64_t seed = 1;
    int fault_steps = 10000;  // steps with faults, not counting the convergence phases
    int heal_every = 1000;    // heal everything and check liveness every this many fault steps
    Duration step{250};       // one simulation step on the fake clock
    Duration convergence_bound{300000};  // liveness: converge within this much simulated time
    // Keeper requirements the property tests found (pg_auto_failover's keeper lacks them; set to
    // false to see its behaviour fail the checks, see property_model.cpp):
    //  - follow_new_primary and fast_forward pg_rewind a node whose WAL diverged from the node it
    //    must stream from (otherwise it is stuck for good);
    //  - fast_forward is done when replay holds the source's WAL up to the target LSN, on the
    //    source's timeline (pg_auto_failover compares positions only);
    //  - follow_new_primary checks the new primary's timeline before rewriting primary_conninfo;
    //  - a standby in secondary or catchingup follows the monitor's current primary;
    //  - a node in a writable state is not default_transaction_read_only;
    //  - a standby whose transition cannot complete keeps its Postgres running;
    //  - fast_forward -> prepare_promotion keeps standby.signal until stop_replication promotes.
    bool autoctl_keeper_fixes = true;
};

struct Violation {
    std::string invariant;  // "single_acknowledger", "promotion_after_old_primary", ...
    std::string detail;
};

struct ModelStats {
    int steps = 0;
    int writers = 0;             // times a node became writable
    int writer_changes = 0;      // ... and it was not the previous writer
    long sync_acks = 0;
    long async_acks = 0;
    long unprotected_sync_acks = 0;  // needed a standby the monitor already made asynchronous
    int lost_with_wait_primary = 0;  // failovers from a wait_primary that lost commits only it held
    int lost_with_async_flagged_standby = 0;  // commits held only by standbys made asynchronous
    int lost_in_maintenance = 0;     // commits held only by stopped nodes in maintenance
    int heals = 0;
    long max_convergence_ms = 0;
    int faults = 0;
    int operator_requests = 0;
    int operator_accepted = 0;
    int fenced = 0;              // primaries that demoted themselves after a partition
    int early_releases = 0;      // rule 24 released by old_primary_cannot_acknowledge_commits
    int drain_timeouts = 0;      // rule 24 released by the drain timeout
    int follow_rewinds = 0;      // follow_new_primary or fast_forward had to pg_rewind a diverged node
    std::vector<std::string> missing_transitions;  // (current, assigned) pairs without a keeper row
};

class Model {
public:
    explicit Model(ModelConfig config);
    ~Model();
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;

    // Bootstraps the group, runs the fault steps with periodic heal-and-converge phases, then a
    // final one. Returns false at the first invariant violation.
    bool run();

    const std::optional<Violation>& violation() const;
    const ModelStats& stats() const;
    // The last events (faults, transitions, decisions, writer changes) and the group as it is now.
    std::string trace() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace autoctl::fsm::property

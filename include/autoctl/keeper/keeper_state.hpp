#pragma once
// The keeper's local state file (autoctl.state, next to the node's other data files): which node
// this is on the monitor, the state it is in and the state it was assigned, and the timestamps the
// network-partition and restart rules need. Written atomically (a crash leaves either the old or
// the new state, never a mix) after a keeper step that changed it; see needs_saving().

#include <cstdint>
#include <filesystem>
#include <optional>

#include "autoctl/fsm/node_state.hpp"

namespace autoctl::keeper {

struct KeeperState {
    std::int64_t node_id = -1;  // -1 until registered
    int group = -1;
    fsm::NodeState current = fsm::NodeState::Init;
    fsm::NodeState assigned = fsm::NodeState::Init;
    // Unix seconds; 0 = never.
    std::int64_t last_monitor_contact = 0;
    std::int64_t last_secondary_contact = 0;
    // Failed Postgres starts while the node should run (the "restart 3 times, then report" rule).
    int pg_start_failures = 0;
    std::int64_t first_start_failure = 0;
    // The LSN a new primary waits for a synchronous standby to reach before it reports primary
    // ("" when not waiting).
    std::string standby_target_lsn;
};

// Whether `now` must be written when `saved` is what the file holds: any change but the contact
// timestamps, or a contact timestamp newer by contact_slack_s or more. Writing the timestamps of
// every one-second loop would cost two fsyncs a second; a file up to contact_slack_s behind only
// makes a keeper restarted while cut off fence its primary that much sooner (the safe side).
bool needs_saving(const KeeperState& saved, const KeeperState& now, std::int64_t contact_slack_s);

// nullopt when the file does not exist; Error{State} naming the file when it cannot be parsed.
std::optional<KeeperState> load_keeper_state(const std::filesystem::path& file);

// Writes the file atomically (mode 0644).
void save_keeper_state(const std::filesystem::path& file, const KeeperState& state);

}  // namespace autoctl::keeper

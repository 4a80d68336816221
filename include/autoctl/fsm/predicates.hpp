#pragma once
// Facts derived from a group snapshot, as pg_auto_failover's node_metadata.c defines them.
// Time is read from the snapshot, never from a clock.

#include <vector>

#include "autoctl/fsm/group.hpp"

namespace autoctl::fsm {

// goal == reported == state
bool is_current_state(const Node* node, NodeState state);
// goal == reported and writable, or the primary <-> apply_settings round trip
bool is_in_primary_state(const Node* node);
bool is_being_demoted_primary(const Node* node);
bool is_demoted_primary(const Node* node);
bool is_being_promoted(const Node* node);
bool candidate_is_ready_to_stream_wal(const Node* node);
bool is_participating_in_promotion(const Node* node);
bool is_in_maintenance(const Node* node);

bool is_reporting(const GroupSnapshot& g, const Node* node);
bool is_unhealthy(const GroupSnapshot& g, const Node* node);  // true for a missing node
bool is_healthy(const GroupSnapshot& g, const Node* node);
bool is_drain_time_expired(const GroupSnapshot& g, const Node* node);
bool is_healthy_sync_standby(const GroupSnapshot& g, const Node* node);

// true when either node is missing; false when either LSN is unknown (0/0)
bool wal_difference_within(const Node* a, const Node* b, std::uint64_t delta);

// Nodes whose goal is not dropped, by id.
std::vector<const Node*> active_nodes(const GroupSnapshot& g);
std::vector<const Node*> other_active_nodes(const GroupSnapshot& g, const Node& node);

const Node* primary_node(const GroupSnapshot& g);             // first node whose goal can take writes
const Node* primary_or_demoted_node(const GroupSnapshot& g);  // ... else the old primary on its way out
const Node* node_to_failover_from(const GroupSnapshot& g);
bool is_failover_in_progress(const GroupSnapshot& g);
const Node* candidate_being_promoted(const GroupSnapshot& g);

int count_healthy_candidates(const GroupSnapshot& g, const std::vector<const Node*>& nodes);
int count_healthy_sync_standbys(const GroupSnapshot& g, const std::vector<const Node*>& nodes);
int count_sync_standbys(const std::vector<const Node*>& nodes);  // replication_quorum, any state

// The standbys whose LSN is the most advanced (timeline first), old primaries excluded.
std::vector<const Node*> most_advanced_standbys(const GroupSnapshot& g);

// autoctl's promotion guard: the old primary had synchronous replication on, and every quorum
// standby has stopped replicating from it, so it can no longer acknowledge a commit.
bool old_primary_cannot_acknowledge_commits(const GroupSnapshot& g, const Node& old_primary);

}  // namespace autoctl::fsm

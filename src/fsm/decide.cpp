// The group state machine's rules, in pg_auto_failover's evaluation order (reference §2.4).
// Each rule is a small function: it returns true when it matched, after recording its assignments
// and the sentence that explains them. The primary's own rules are in primary_rules.cpp and the
// multi-standby election in election.cpp.

#include <array>

#include "autoctl/fsm/monitor_rules.hpp"
#include "autoctl/fsm/predicates.hpp"
#include "step.hpp"

namespace autoctl::fsm {

using S = NodeState;

namespace detail {
namespace {

struct Ctx {
    const Node* a = nullptr;  // the active node
    const Node* p = nullptr;  // the primary, or the old primary on its way out; may be null
    int node_count = 0;       // nodes whose goal is not dropped
    bool citus_worker = false;
};

using RuleFn = bool (*)(Step&, const Ctx&);
struct Rule {
    std::string_view name;
    RuleFn fn;
};

bool cur_any(const Node* n, std::initializer_list<NodeState> states) {
    for (auto s : states)
        if (is_current_state(n, s)) return true;
    return false;
}

// rule 0
bool dropped_node_is_removed(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::Dropped)) return false;
    s.decision.delete_node_id = c.a->id;
    s.message("Removing " + describe(*c.a) + " from formation \"" + s.group.formation.id + "\"");
    s.match("dropped_node_is_removed", describe(*c.a) + " reported dropped, so its row is removed");
    return true;
}

// rule 1
bool node_being_dropped_waits(Step& s, const Ctx& c) {
    if (c.a->goal != S::Dropped) return false;
    s.match("node_being_dropped_waits", describe(*c.a) + " is being dropped: waiting for it to report dropped");
    return true;
}

// rule 2
bool maintenance_is_left_by_operator_only(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::Maintenance)) return false;
    s.match("maintenance_is_left_by_operator_only",
            describe(*c.a) + " is in maintenance: only stop_maintenance brings it back");
    return true;
}

// rule 3
bool lone_node_becomes_single(Step& s, const Ctx& c) {
    if (c.node_count != 1 || is_current_state(c.a, S::Single) || c.a->candidate_priority <= 0) return false;
    s.assign(*c.a, S::Single, goal_sentence(*c.a, S::Single, "as there is no other node"));
    s.match("lone_node_becomes_single", describe(*c.a) + " is the only node of its group");
    return true;
}

// rule 4
bool lone_non_candidate_reports_lsn(Step& s, const Ctx& c) {
    if (c.node_count != 1 || is_current_state(c.a, S::Single) || c.a->candidate_priority != 0) return false;
    s.assign(*c.a, S::ReportLsn,
             goal_sentence(*c.a, S::ReportLsn, "as it is the only node and its candidate priority is 0"));
    s.match("lone_non_candidate_reports_lsn",
            describe(*c.a) + " is the only node but can not be promoted (candidate priority 0)");
    return true;
}

// rule 5
bool primary_rules(Step& s, const Ctx& c) {
    if (!is_in_primary_state(c.a)) return false;
    proceed_for_primary(s, c.a->id);
    s.match("primary_reported", describe(*c.a) + " is the primary: nothing to change");
    return true;
}

// rule 6
bool primary_lost_with_several_standbys(Step& s, const Ctx& c) {
    if (c.node_count <= 2 || !is_unhealthy(s.group, c.p)) return false;
    if (c.p != nullptr) {
        std::vector<const Node*> standbys;
        for (const auto* n : other_active_nodes(s.group, *c.p))
            if (n->goal == S::Secondary) standbys.push_back(n);
        if (is_in_primary_state(c.p) && !is_current_state(c.p, S::WaitPrimary) &&
            count_healthy_candidates(s.group, standbys) >= 1) {
            s.assign(*c.p, S::Draining, goal_sentence(*c.p, S::Draining, "after it became unhealthy"));
        } else if (is_current_state(c.p, S::PrepareMaintenance)) {
            s.assign(*c.p, S::Maintenance,
                     goal_sentence(*c.p, S::Maintenance, "after it converged to prepare_maintenance"));
        }
    }
    if (proceed_for_ms_failover(s, c.a->id, c.p ? c.p->id : 0)) {
        s.match("primary_lost_with_several_standbys",
                "the primary is unhealthy and the group has more than two nodes: electing a new primary");
        return true;
    }
    return false;  // continue with the next rules, keeping any assignment made above
}

// Rules 7 and 8 must not send a standby of an election back to the primary that came back while
// the elected candidate is still being promoted: that primary would acknowledge commits through it
// again, and the candidate, elected on older LSNs, would then be promoted without them (property
// tests). The standbys join the candidate once it streams WAL (join_secondary).
bool election_candidate_pending(const Step& s) { return candidate_being_promoted(s.group) != nullptr; }

// The node reported since its goal last changed. The monitor timer also decides for nodes that did
// not just report: a goal set in the same pass (report_lsn after a cancelled promotion) must not be
// taken for the node's state, or the next goal may be one its keeper cannot reach (property tests).
bool reported_since_goal(const Node* n) { return n != nullptr && n->report_time >= n->state_change_time; }

// The primary, possibly between primary and apply_settings (is_in_primary_state): standbys may join
// it, it waits for one in enable_sync_rep on its way back to primary.
bool primary_or_applying_settings(const Node* p) {
    return is_in_primary_state(p) && (p->goal == S::Primary || p->goal == S::ApplySettings);
}

// rule 7
bool report_lsn_joins_wait_primary(Step& s, const Ctx& c) {
    // Also while the wait_primary is on its way to primary (as rules 27 and 29 allow): it waits in
    // enable_sync_rep for a synchronous standby to stream, so keeping the reporting standbys away
    // would deadlock the group (found by the property tests).
    const bool wait_primary_to_primary =
        c.p != nullptr && c.p->reported == S::WaitPrimary && c.p->goal == S::Primary;
    if (!is_current_state(c.a, S::ReportLsn) || !reported_since_goal(c.a) || election_candidate_pending(s) ||
        !(cur_any(c.p, {S::WaitPrimary, S::JoinPrimary}) || wait_primary_to_primary) || !is_healthy(s.group, c.p))
        return false;
    s.assign(*c.a, S::Secondary,
             goal_sentence(*c.a, S::Secondary, "after " + describe(*c.p) + " converged to " +
                                                   std::string(to_string(c.p->reported))));
    s.match("report_lsn_joins_wait_primary", "a new primary is serving: the reporting standby follows it");
    return true;
}

// rule 8
bool report_lsn_joins_primary(Step& s, const Ctx& c) {
    // Also while the primary goes through apply_settings (is_in_primary_state): on its way back to
    // primary it waits in enable_sync_rep for a synchronous standby (deadlock otherwise, as rule 7).
    if (!is_current_state(c.a, S::ReportLsn) || !reported_since_goal(c.a) || election_candidate_pending(s) ||
        !primary_or_applying_settings(c.p) ||
        !is_healthy(s.group, c.p))
        return false;
    s.assign(*c.a, S::Secondary,
             goal_sentence(*c.a, S::Secondary, "after " + describe(*c.p) + " converged to " +
                                                   std::string(to_string(c.p->reported))));
    s.match("report_lsn_joins_primary", "the primary is serving: the reporting standby follows it");
    return true;
}

// rule 9
bool fast_forwarded_candidate_prepares_promotion(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::FastForward)) return false;
    // The keeper fetched WAL up to the target it read when it started; after a cancelled and
    // re-run election that target can be older than the most advanced standby now (property
    // tests). Promote only a candidate that reports the most advanced timeline and LSN; otherwise
    // it reports its LSN again and the election runs with it.
    const auto most_advanced = most_advanced_standbys(s.group);
    if (!most_advanced.empty() &&
        (c.a->tli != most_advanced.front()->tli || c.a->lsn < most_advanced.front()->lsn)) {
        s.assign(*c.a, S::ReportLsn,
                 goal_sentence(*c.a, S::ReportLsn, "as it is still behind " + describe(*most_advanced.front())));
        s.match("fast_forwarded_candidate_still_behind",
                "the elected standby did not reach the most advanced standby's LSN: the election runs again");
        return true;
    }
    s.assign(*c.a, S::PreparePromotion,
             goal_sentence(*c.a, S::PreparePromotion, "after it fetched the missing WAL"));
    s.match("fast_forwarded_candidate_prepares_promotion",
            "the elected standby caught up with the most advanced one and can be promoted");
    return true;
}

// rule 10
bool election_continues(Step& s, const Ctx& c) {
    if (!cur_any(c.a, {S::ReportLsn, S::FastForward})) return false;
    // The election decides for this node, even when it decides to wait.
    proceed_for_ms_failover(s, c.a->id, c.p ? c.p->id : 0);
    s.match("election_continues", "the reporting standby takes part in the election of a new primary");
    return true;
}

// rule 11
bool standby_catches_up_with_wait_primary(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::WaitStandby) || !cur_any(c.p, {S::WaitPrimary, S::JoinPrimary})) return false;
    s.assign(*c.a, S::CatchingUp,
             goal_sentence(*c.a, S::CatchingUp, "after " + describe(*c.p) + " converged to " +
                                                    std::string(to_string(c.p->goal))));
    s.match("standby_catches_up_with_wait_primary", "the primary is ready to stream WAL to the new standby");
    return true;
}

// rule 12
bool quorum_standby_joins_primary(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::WaitStandby) || !is_current_state(c.p, S::Primary) ||
        !c.a->replication_quorum)
        return false;
    s.assign(*c.a, S::CatchingUp,
             goal_sentence(*c.a, S::CatchingUp, "after " + describe(*c.p) + " converged to primary"));
    s.assign(*c.p, S::ApplySettings,
             goal_sentence(*c.p, S::ApplySettings, "to add " + describe(*c.a) + " to synchronous_standby_names"));
    s.match("quorum_standby_joins_primary",
            "a quorum standby joins a primary, which applies the new synchronous_standby_names");
    return true;
}

// rule 13
bool async_standby_joins_primary(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::WaitStandby) || !is_current_state(c.p, S::Primary) ||
        c.a->replication_quorum)
        return false;
    s.assign(*c.a, S::CatchingUp,
             goal_sentence(*c.a, S::CatchingUp, "after " + describe(*c.p) + " converged to primary"));
    s.match("async_standby_joins_primary", "an asynchronous standby joins the primary");
    return true;
}

// rule 14
bool caught_up_standby_becomes_secondary(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::CatchingUp) || !cur_any(c.p, {S::WaitPrimary, S::JoinPrimary, S::Primary}) ||
        !is_healthy(s.group, c.a) || c.a->tli != c.p->tli ||
        !wal_difference_within(c.a, c.p, s.group.timing.enable_sync_wal_log_threshold))
        return false;
    s.assign(*c.a, S::Secondary,
             goal_sentence(*c.a, S::Secondary, "after it caught up with " + describe(*c.p)));
    s.match("caught_up_standby_becomes_secondary",
            "the standby is healthy, on the primary's timeline and within the WAL lag threshold");
    return true;
}

// rule 15
bool secondary_replaces_unhealthy_primary(Step& s, const Ctx& c) {
    // Never a second candidate: with more than two nodes rule 6 lets this rule run when the election
    // waits for a candidate being promoted (property tests: two nodes promoted).
    if (!is_current_state(c.a, S::Secondary) || election_candidate_pending(s) || !is_in_primary_state(c.p) ||
        !is_unhealthy(s.group, c.p) ||
        !is_healthy(s.group, c.a) || c.a->candidate_priority <= 0 ||
        !wal_difference_within(c.a, c.p, s.group.timing.promote_wal_log_threshold))
        return false;
    s.assign(*c.a, S::PreparePromotion,
             goal_sentence(*c.a, S::PreparePromotion, "after " + describe(*c.p) + " became unhealthy"));
    s.assign(*c.p, S::Draining, goal_sentence(*c.p, S::Draining, "after it became unhealthy"));
    s.match("secondary_replaces_unhealthy_primary",
            "the primary is unhealthy and a healthy secondary within the WAL threshold takes over");
    return true;
}

// rule 16
bool standby_enters_maintenance_after_wait_primary(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::WaitMaintenance) || !is_current_state(c.p, S::WaitPrimary)) return false;
    s.assign(*c.a, S::Maintenance,
             goal_sentence(*c.a, S::Maintenance, "after " + describe(*c.p) + " converged to wait_primary"));
    s.match("standby_enters_maintenance_after_wait_primary",
            "the primary no longer waits for this standby, which may now stop for maintenance");
    return true;
}

// rule 17
bool standby_enters_maintenance(Step& s, const Ctx& c) {
    // Also without any primary (a failover emptied the group's primary role): nothing waits for
    // this standby any more, and waiting would leave it where stop_maintenance can not reach it
    // (property tests).
    if (!is_current_state(c.a, S::WaitMaintenance) || (c.p != nullptr && c.p->goal == S::WaitPrimary)) return false;
    s.assign(*c.a, S::Maintenance, goal_sentence(*c.a, S::Maintenance, "as requested"));
    s.match("standby_enters_maintenance", "the standby may now stop for maintenance");
    return true;
}

// rule 18
bool candidate_promoted_for_primary_maintenance(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::PreparePromotion) || !is_current_state(c.p, S::PrepareMaintenance)) return false;
    s.assign(*c.a, S::StopReplication,
             goal_sentence(*c.a, S::StopReplication,
                           "after " + describe(*c.p) + " converged to prepare_maintenance"));
    s.match("candidate_promoted_for_primary_maintenance",
            "the primary stopped for maintenance: the candidate stops replicating and promotes");
    return true;
}

// rule 19
bool citus_worker_promoted_at_once(Step& s, const Ctx& c) {
    // A primary entering maintenance is waited for, as in rule 21: rule 18 then promotes through
    // stop_replication and rule 23 keeps it in maintenance (pg_auto_failover demotes it instead when
    // the candidate reports first, losing the operator's maintenance request).
    if (!is_current_state(c.a, S::PreparePromotion) || c.p == nullptr || !c.citus_worker ||
        is_in_maintenance(c.p))
        return false;
    s.assign(*c.a, S::WaitPrimary,
             goal_sentence(*c.a, S::WaitPrimary, "as the coordinator now blocks writes to this worker group"));
    s.assign(*c.p, S::Demoted, goal_sentence(*c.p, S::Demoted, "after a failover of its worker group"));
    s.match("citus_worker_promoted_at_once",
            "a Citus worker's writes are blocked by the coordinator's prepared citus_update_node, so no "
            "demote timeout is needed");
    return true;
}

// rule 20
bool citus_worker_promoted_without_primary(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::PreparePromotion) || c.p != nullptr || !c.citus_worker) return false;
    s.assign(*c.a, S::WaitPrimary, goal_sentence(*c.a, S::WaitPrimary, "as its worker group has no primary"));
    s.match("citus_worker_promoted_without_primary", "the worker group has no primary left");
    return true;
}

// rule 21
bool candidate_stops_replication(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::PreparePromotion) || c.p == nullptr || is_in_maintenance(c.p)) return false;
    // A stale election: the candidate was elected while the primary was unhealthy, but the primary
    // is healthy again and was never demoted (its goal still takes writes). Since the election it
    // may have acknowledged commits through standbys that rejoined it, which the candidate lacks:
    // promoting the candidate now would lose them (property tests). Cancel the promotion instead;
    // the candidate reports its LSN again and then follows the primary (rule 8).
    if (c.p != c.a && can_take_writes(c.p->goal) && is_healthy(s.group, c.p)) {
        s.assign(*c.a, S::ReportLsn,
                 goal_sentence(*c.a, S::ReportLsn, "as " + describe(*c.p) + " is healthy again: the failover is cancelled"));
        s.match("stale_promotion_cancelled",
                "the primary came back before the candidate was promoted: the failover is cancelled");
        return true;
    }
    s.assign(*c.a, S::StopReplication,
             goal_sentence(*c.a, S::StopReplication, "after it converged to prepare_promotion"));
    // An old primary told wait_primary that did not report it may have turned synchronous
    // replication off after its last report (which still shows primary and a quorum standby):
    // demoted, so that rule 24 waits for its report or the drain timeout, never releasing early.
    // An old primary already told to be demoted (a stale one: its last report still says primary)
    // keeps that goal: its keeper has no way back to demote_timeout. Rule 24 then waits for it to
    // report demoted, or for its drain time (property tests, both).
    if (c.p->goal == S::WaitPrimary && c.p->reported != S::WaitPrimary)
        s.assign(*c.p, S::Demoted,
                 goal_sentence(*c.p, S::Demoted, "after " + describe(*c.a) + " converged to prepare_promotion"));
    else if (c.p->goal != S::Demoted)
        s.assign(*c.p, S::DemoteTimeout,
             goal_sentence(*c.p, S::DemoteTimeout, "after " + describe(*c.a) + " converged to prepare_promotion"));
    s.match("candidate_stops_replication",
            "the candidate promotes read-only while the old primary is demoted");
    return true;
}

// rule 22
bool candidate_promoted_without_primary(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::PreparePromotion) || c.p != nullptr) return false;
    s.assign(*c.a, S::WaitPrimary,
             goal_sentence(*c.a, S::WaitPrimary, "as no other node can take writes"));
    s.match("candidate_promoted_without_primary", "no node belongs to the primary any more: promote at once");
    return true;
}

// rule 23
bool new_primary_after_primary_maintenance(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::StopReplication) || !is_current_state(c.p, S::PrepareMaintenance)) return false;
    s.assign(*c.a, S::WaitPrimary, goal_sentence(*c.a, S::WaitPrimary, "after it promoted"));
    s.assign(*c.p, S::Maintenance,
             goal_sentence(*c.p, S::Maintenance, "after " + describe(*c.a) + " promoted"));
    s.match("new_primary_after_primary_maintenance",
            "the old primary is stopped for maintenance: the promoted node takes writes");
    return true;
}

// rule 24, with autoctl's faster release (docs/state-machine.md)
bool new_primary_after_old_primary_demoted(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::StopReplication)) return false;
    if (c.p == nullptr) {
        // The old primary was removed while the candidate promoted: nothing is left to wait for, as
        // in rule 22 (Citus workers: rule 26). pg_auto_failover leaves the group stuck here.
        if (c.citus_worker) return false;
        s.assign(*c.a, S::WaitPrimary, goal_sentence(*c.a, S::WaitPrimary, "as no other node can take writes"));
        // A node still told demote_timeout (an earlier candidate that promoted but whose report
        // does not belong to the primary, so it is not P) is demoted too, or it stays there for
        // good: only rule 24 moves demote_timeout on (property tests).
        for (const auto* n : other_active_nodes(s.group, *c.a))
            if (n->goal == S::DemoteTimeout)
                s.assign(*n, S::Demoted, goal_sentence(*n, S::Demoted, "after " + describe(*c.a) + " promoted"));
        s.match("new_primary_after_old_primary_demoted",
                "no node belongs to the old primary any more (it was removed): the promoted node takes writes");
        return true;
    }
    std::string why;
    if (is_current_state(c.p, S::DemoteTimeout))
        why = "the old primary reported that it stopped";
    else if (c.p->goal == S::DemoteTimeout && old_primary_cannot_acknowledge_commits(s.group, *c.p))
        why = "every quorum standby stopped replicating from the old primary, which can no longer "
              "acknowledge a commit";
    else if (is_drain_time_expired(s.group, c.p))
        why = "the old primary did not report within primary_demote_timeout";
    else if (c.p->goal == S::Demoted && c.p->reported == S::Demoted)
        why = "the old primary reported that it stopped";
    else if (c.p->goal == S::Demoted && s.group.now - c.p->state_change_time >= s.group.timing.primary_demote_timeout)
        why = "the old primary did not report within primary_demote_timeout";
    else
        return false;
    s.assign(*c.a, S::WaitPrimary, goal_sentence(*c.a, S::WaitPrimary, "after " + describe(*c.p) + " was demoted"));
    s.assign(*c.p, S::Demoted, goal_sentence(*c.p, S::Demoted, "after " + describe(*c.a) + " promoted"));
    // As in the branch above: another node still told demote_timeout (not P any more) is demoted.
    for (const auto* n : other_active_nodes(s.group, *c.a))
        if (n->goal == S::DemoteTimeout)
            s.assign(*n, S::Demoted, goal_sentence(*n, S::Demoted, "after " + describe(*c.a) + " promoted"));
    s.match("new_primary_after_old_primary_demoted", why);
    return true;
}

// rule 25
bool citus_worker_new_primary(Step& s, const Ctx& c) {
    // As in rule 19: never demote a primary the operator put in maintenance (rules 23 and 26 finish).
    if (!is_current_state(c.a, S::StopReplication) || c.p == nullptr || !c.citus_worker || is_in_maintenance(c.p))
        return false;
    s.assign(*c.a, S::WaitPrimary, goal_sentence(*c.a, S::WaitPrimary, "after it promoted"));
    s.assign(*c.p, S::Demoted, goal_sentence(*c.p, S::Demoted, "after " + describe(*c.a) + " promoted"));
    s.match("citus_worker_new_primary", "a Citus worker's writes are blocked by the coordinator");
    return true;
}

// rule 26
bool citus_worker_new_primary_without_primary(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::StopReplication) || c.p != nullptr || !c.citus_worker) return false;
    s.assign(*c.a, S::WaitPrimary, goal_sentence(*c.a, S::WaitPrimary, "as its worker group has no primary"));
    s.match("citus_worker_new_primary_without_primary", "the worker group has no primary left");
    return true;
}

// rule 27
bool demoted_node_rejoins_promoting_primary(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::Demoted) || !is_healthy(s.group, c.p) ||
        (c.p->reported != S::WaitPrimary && c.p->reported != S::JoinPrimary) || c.p->goal != S::Primary)
        return false;
    s.assign(*c.a, S::CatchingUp,
             goal_sentence(*c.a, S::CatchingUp, "after " + describe(*c.p) + " became the primary"));
    s.match("demoted_node_rejoins_promoting_primary", "the old primary rejoins as a standby");
    return true;
}

// rule 28
bool demoted_node_rejoins(Step& s, const Ctx& c) {
    // Also while the primary goes through apply_settings: on its way back to primary it waits in
    // enable_sync_rep for a synchronous standby (deadlock otherwise, as in rule 8).
    if (!is_current_state(c.a, S::Demoted) || !is_healthy(s.group, c.p) ||
        !(cur_any(c.p, {S::JoinPrimary, S::WaitPrimary, S::Primary}) || primary_or_applying_settings(c.p)))
        return false;
    s.assign(*c.a, S::CatchingUp,
             goal_sentence(*c.a, S::CatchingUp, "after " + describe(*c.p) + " converged to " +
                                                    std::string(to_string(c.p->reported))));
    s.match("demoted_node_rejoins", "the old primary rejoins as a standby");
    return true;
}

// rule 29
bool joined_secondary_follows_wait_primary(Step& s, const Ctx& c) {
    if (!is_current_state(c.a, S::JoinSecondary) || c.p == nullptr || c.p->reported != S::WaitPrimary ||
        (c.p->goal != S::WaitPrimary && c.p->goal != S::Primary))
        return false;
    s.assign(*c.a, S::Secondary,
             goal_sentence(*c.a, S::Secondary, "after " + describe(*c.p) + " converged to wait_primary"));
    s.match("joined_secondary_follows_wait_primary", "a standby of the election follows the new primary");
    proceed_for_primary(s, c.p->id);
    return true;
}

// rule 30
bool joined_secondary_follows_primary(Step& s, const Ctx& c) {
    // Also through apply_settings, as rules 8 and 28.
    if (!is_current_state(c.a, S::JoinSecondary) ||
        !(is_current_state(c.p, S::Primary) || primary_or_applying_settings(c.p)))
        return false;
    s.assign(*c.a, S::Secondary,
             goal_sentence(*c.a, S::Secondary, "after " + describe(*c.p) + " converged to " +
                                                   std::string(to_string(c.p->reported))));
    s.match("joined_secondary_follows_primary", "a standby of the election follows the primary");
    return true;
}

// Rules before the primary is looked up.
constexpr std::array<Rule, 6> kEarlyRules{{
    {"dropped_node_is_removed", dropped_node_is_removed},
    {"node_being_dropped_waits", node_being_dropped_waits},
    {"maintenance_is_left_by_operator_only", maintenance_is_left_by_operator_only},
    {"lone_node_becomes_single", lone_node_becomes_single},
    {"lone_non_candidate_reports_lsn", lone_non_candidate_reports_lsn},
    {"primary_reported", primary_rules},
}};

// Rules that need the primary (or the old primary on its way out), in order.
constexpr std::array<Rule, 25> kRules{{
    {"primary_lost_with_several_standbys", primary_lost_with_several_standbys},
    {"report_lsn_joins_wait_primary", report_lsn_joins_wait_primary},
    {"report_lsn_joins_primary", report_lsn_joins_primary},
    {"fast_forwarded_candidate_prepares_promotion", fast_forwarded_candidate_prepares_promotion},
    {"election_continues", election_continues},
    {"standby_catches_up_with_wait_primary", standby_catches_up_with_wait_primary},
    {"quorum_standby_joins_primary", quorum_standby_joins_primary},
    {"async_standby_joins_primary", async_standby_joins_primary},
    {"caught_up_standby_becomes_secondary", caught_up_standby_becomes_secondary},
    {"secondary_replaces_unhealthy_primary", secondary_replaces_unhealthy_primary},
    {"standby_enters_maintenance_after_wait_primary", standby_enters_maintenance_after_wait_primary},
    {"standby_enters_maintenance", standby_enters_maintenance},
    {"candidate_promoted_for_primary_maintenance", candidate_promoted_for_primary_maintenance},
    {"citus_worker_promoted_at_once", citus_worker_promoted_at_once},
    {"citus_worker_promoted_without_primary", citus_worker_promoted_without_primary},
    {"candidate_stops_replication", candidate_stops_replication},
    {"candidate_promoted_without_primary", candidate_promoted_without_primary},
    {"new_primary_after_primary_maintenance", new_primary_after_primary_maintenance},
    {"new_primary_after_old_primary_demoted", new_primary_after_old_primary_demoted},
    {"citus_worker_new_primary", citus_worker_new_primary},
    {"citus_worker_new_primary_without_primary", citus_worker_new_primary_without_primary},
    {"demoted_node_rejoins_promoting_primary", demoted_node_rejoins_promoting_primary},
    {"demoted_node_rejoins", demoted_node_rejoins},
    {"joined_secondary_follows_wait_primary", joined_secondary_follows_wait_primary},
    {"joined_secondary_follows_primary", joined_secondary_follows_primary},
}};

}  // namespace

bool proceed_group_state(Step& s, std::int64_t active_id) {
    Ctx c;
    c.a = s.node(active_id);
    if (c.a == nullptr) return false;
    c.node_count = static_cast<int>(active_nodes(s.group).size());
    c.citus_worker = s.group.formation.kind == FormationKind::Citus && c.a->group > 0;
    for (const auto& rule : kEarlyRules)
        if (rule.fn(s, c)) return true;

    c.p = primary_or_demoted_node(s.group);
    if (c.p == nullptr && !is_failover_in_progress(s.group)) {
        s.message("group " + std::to_string(s.group.group) + " of formation \"" + s.group.formation.id +
                  "\" has no primary node and no failover in progress");
        return false;
    }
    for (const auto& rule : kRules)
        if (rule.fn(s, c)) return true;
    // Only rule 6 assigns goals and then lets the next rules run: when none of them matched, its
    // assignments (old primary draining, standbys report_lsn) still need a rule name for the events.
    if (!s.decision.assignments.empty())
        s.match("primary_lost_with_several_standbys",
                "the primary is unhealthy and the group has more than two nodes: every standby reports its "
                "LSN before the election");
    return false;
}

}  // namespace detail

Decision decide(const GroupSnapshot& group, std::int64_t active_node_id) {
    detail::Step s(group);
    detail::proceed_group_state(s, active_node_id);
    return s.decision;
}

std::vector<std::string_view> monitor_rule_names() {
    std::vector<std::string_view> names;
    for (const auto& r : detail::kEarlyRules) names.push_back(r.name);
    for (const auto& r : detail::kRules) names.push_back(r.name);
    return names;
}

}  // namespace autoctl::fsm

// The multi-standby election (reference §2.6): every candidate reports its LSN, the most advanced
// among the highest candidate priority wins, and a lagging winner first fetches the missing WAL.

#include <algorithm>

#include "autoctl/fsm/monitor_rules.hpp"
#include "autoctl/fsm/predicates.hpp"
#include "step.hpp"

namespace autoctl::fsm::detail {

using S = NodeState;

namespace {

bool proceed_with_candidate(Step& s, const Node* a, const Node* candidate) {
    if (is_current_state(a, S::ReportLsn) && candidate_is_ready_to_stream_wal(candidate)) {
        s.assign(*a, S::JoinSecondary,
                 goal_sentence(*a, S::JoinSecondary, "after " + describe(*candidate) + " got selected as the failover candidate"));
        s.match("standby_joins_elected_primary", "the elected node is ready to stream WAL");
        return true;
    }
    return false;
}

bool must_report_lsn(const Node* n) {
    auto reported = n->reported;
    auto goal = n->goal;
    return ((reported == S::Secondary || reported == S::CatchingUp) &&
            (goal == S::Secondary || goal == S::CatchingUp)) ||
           (reported == S::Maintenance && goal == S::CatchingUp) || is_current_state(n, S::Draining) ||
           is_current_state(n, S::Demoted) || (reported == S::Demoted && goal == S::CatchingUp);
}

struct CandidateList {
    std::vector<const Node*> candidates;
    int quorum_candidates = 0;
    int missing = 0;
};

CandidateList build_candidate_list(Step& s) {
    CandidateList list;
    const int nss = s.group.formation.number_sync_standbys;
    for (const auto* n : active_nodes(s.group)) {
        bool primary_side = is_in_primary_state(n) || is_being_demoted_primary(n) || is_demoted_primary(n);
        if (primary_side && !(is_current_state(n, S::Draining) || is_current_state(n, S::Demoted))) continue;
        // Sent back to follow the primary (rules 7, 8, 29) but not yet reported there: it may already
        // stream from the primary and acknowledge commits its last reported LSN does not show, so
        // its LSN must be reported again (property tests).
        const bool may_follow_primary_unreported =
            (n->goal == S::Secondary || n->goal == S::CatchingUp) &&
            (n->reported == S::ReportLsn || n->reported == S::JoinSecondary);
        if (is_unhealthy(s.group, n) && !is_reporting(s.group, n)) {
            // A dead quorum standby whose LSN is unknown might hold acknowledged commits. Its LSN is
            // known (frozen) only if it reported report_lsn after its goal last changed: a goal set
            // since (secondary, then report_lsn again) may have had it follow the primary meanwhile.
            const bool frozen_lsn_known = n->reported == S::ReportLsn && !may_follow_primary_unreported &&
                                          n->report_time >= n->state_change_time;
            if (n->replication_quorum && !frozen_lsn_known) ++list.missing;
            continue;
        }
        // A report_lsn node counts once it reported after its goal was last set: goal == reported
        // can also come from assigning report_lsn again to a node whose newer state (it may have
        // followed the primary since) has not reached the monitor. And only with Postgres running:
        // a report without Postgres carries no LSN, and the stored one predates report_lsn
        // (property tests).
        if (is_current_state(n, S::ReportLsn) && n->report_time >= n->state_change_time && n->pg_is_running) {
            list.candidates.push_back(n);
            if (n->replication_quorum || nss == 0) ++list.quorum_candidates;
        } else if (n->goal == S::ReportLsn) {
            ++list.missing;
        } else if (is_in_maintenance(n) && n->replication_quorum && n->pg_is_running) {
            // Maintenance hands Postgres to the operator without stopping it: this quorum standby
            // stays in synchronous_standby_names and may still stream from the old primary, which
            // keeps acknowledging commits through it. Promoting anyone would lose them (property
            // tests): wait until the operator ends maintenance or stops its Postgres. (A node in
            // maintenance with Postgres stopped, such as an old primary stopped for maintenance,
            // does not block.)
            s.message(describe(*n) + " is in maintenance with Postgres running and might hold acknowledged "
                      "commits: the election waits for it");
            ++list.missing;
        } else if (is_current_state(n, S::JoinSecondary)) {
            // No candidate is being promoted any more (else step 1 returned): it has nobody to join,
            // and left alone a quorum node never counts for number_sync_standbys (property tests).
            // Its Postgres is stopped with the LSN it reported in report_lsn: ask it to report
            // again, without waiting for it.
            s.assign(*n, S::ReportLsn, goal_sentence(*n, S::ReportLsn, "to find the failover candidate"));
        } else if (must_report_lsn(n) || may_follow_primary_unreported) {
            s.assign(*n, S::ReportLsn, goal_sentence(*n, S::ReportLsn, "to find the failover candidate"));
            ++list.missing;
        }
    }
    return list;
}

}  // namespace

}  // namespace autoctl::fsm::detail

namespace autoctl::fsm {

const Node* select_failover_candidate(const GroupSnapshot& g, const std::vector<const Node*>& candidates,
                             const Node* primary, std::string* why_not) {
    auto most_advanced = most_advanced_standbys(g);
    if (most_advanced.empty()) return nullptr;
    const Node* first = most_advanced.front();
    // Only a standby too far *behind* the old primary's last report risks losing data. One ahead of
    // it (the primary kept streaming after it last reached the monitor) loses nothing, and a stopped
    // primary never reports a newer LSN: blocking on it would block the election for good.
    const bool standby_ahead = !first->lsn.is_zero() && primary != nullptr && !primary->lsn.is_zero() &&
                               first->lsn >= primary->lsn;
    if (primary != nullptr && !standby_ahead &&
        !wal_difference_within(first, primary, g.timing.promote_wal_log_threshold)) {
        if (why_not)
            *why_not = "the most advanced standby " + describe(*first) + " is more than promote_wal_log_threshold behind " +
                       describe(*primary) + ": not promoting, to avoid losing data";
        return nullptr;
    }
    std::vector<const Node*> sorted;
    for (const auto* n : candidates)
        if (n->candidate_priority > 0) sorted.push_back(n);
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Node* a, const Node* b) { return a->candidate_priority > b->candidate_priority; });
    const Node* selected = nullptr;
    for (const auto* n : sorted) {
        if (is_unhealthy(g, n)) continue;
        if (selected != nullptr && n->candidate_priority < selected->candidate_priority) break;
        if (selected == nullptr || n->lsn > selected->lsn) selected = n;
    }
    if (selected == nullptr) {
        if (why_not) *why_not = "no healthy node with a candidate priority above 0 reported its LSN";
        return nullptr;
    }
    if (selected->lsn < first->lsn) {
        bool a_most_advanced_is_healthy = std::any_of(most_advanced.begin(), most_advanced.end(),
                                                      [&](const Node* n) { return is_healthy(g, n); });
        if (!a_most_advanced_is_healthy) {
            if (why_not)
                *why_not = "the selected candidate " + describe(*selected) +
                           " is behind and no most advanced standby is healthy to fetch WAL from";
            return nullptr;
        }
    }
    return selected;
}

}  // namespace autoctl::fsm

namespace autoctl::fsm::detail {

bool proceed_for_ms_failover(Step& s, std::int64_t active_id, std::int64_t primary_id) {
    const Node* a = s.node(active_id);
    const Node* p = primary_id ? s.node(primary_id) : nullptr;

    // A candidate is already being promoted: the others join it once it streams WAL. Never elect a
    // second one meanwhile, not even while the first looks unhealthy: pg_auto_failover re-elects
    // when the candidate reported fast_forward or stop_replication and is not healthy, but the
    // first candidate keeps its goal and both get promoted (property tests: a candidate restarting
    // during fast_forward).
    if (const Node* c = candidate_being_promoted(s.group)) return proceed_with_candidate(s, a, c);

    // Elect only to replace a primary that is unhealthy or already demoted. Rule 10 runs for every
    // standby left in report_lsn, also once the primary is back: electing then would demote a
    // primary that may be acknowledging commits, on evidence older than its last report (property
    // tests). Rules 7 and 8 bring those standbys back to it instead.
    if (p != nullptr && can_take_writes(p->goal) && !is_unhealthy(s.group, p)) return false;

    CandidateList list = build_candidate_list(s);
    const int nss = s.group.formation.number_sync_standbys;
    if (list.missing > 0) {
        s.message("Failover still in progress after " + std::to_string(list.candidates.size()) +
                  " nodes reported their LSN and we are waiting for " + std::to_string(list.missing) +
                  " nodes to report");
        return false;
    }
    if (list.candidates.empty()) return false;
    if (list.quorum_candidates < nss + 1) {
        s.message("Failover is blocked: " + std::to_string(list.quorum_candidates) +
                  " quorum nodes reported their LSN and " + std::to_string(nss + 1) +
                  " nodes are required in the quorum to satisfy number_sync_standbys=" + std::to_string(nss));
        return false;
    }

    std::string why_not;
    const Node* selected = select_failover_candidate(s.group, list.candidates, p, &why_not);
    if (selected == nullptr) {
        s.message("Failover is blocked: " + why_not);
        return false;
    }
    const Lsn most_advanced_lsn = most_advanced_standbys(s.group).front()->lsn;
    const int most_advanced_tli = most_advanced_standbys(s.group).front()->tli;

    // Undo perform_promotion's boost and perform_failover's penalty.
    if (selected->candidate_priority > 100)
        s.set_priority(*selected, selected->candidate_priority - 101,
                       "Updating candidate priority back to " + std::to_string(selected->candidate_priority - 101) +
                           " for " + describe(*selected));
    for (const auto* n : list.candidates)
        if (n->candidate_priority < 0)
            s.set_priority(*n, n->candidate_priority + 101,
                           "Updating candidate priority back to " + std::to_string(n->candidate_priority + 101) +
                               " for " + describe(*n));

    // The same LSN on an older timeline is not the same WAL (an old primary of an earlier failover
    // can take part in a later election): such a candidate must fetch the WAL too (property tests).
    if (selected->lsn == most_advanced_lsn && selected->tli == most_advanced_tli) {
        s.assign(*selected, S::PreparePromotion,
                 goal_sentence(*selected, S::PreparePromotion, "as it is the most advanced candidate with the highest priority"));
        s.match("candidate_elected", describe(*selected) + " has the highest candidate priority and the most advanced LSN");
    } else {
        s.assign(*selected, S::FastForward,
                 goal_sentence(*selected, S::FastForward, "to fetch the WAL it misses from the most advanced standby"));
        s.match("candidate_elected_needs_fast_forward",
                describe(*selected) + " has the highest candidate priority but must first fetch missing WAL");
    }
    return true;
}

}  // namespace autoctl::fsm::detail

// Rules that run when the primary itself reports (reference §2.5): it moves between wait_primary
// and primary as quorum standbys come and go, and demotes standbys that became unhealthy.

#include "autoctl/fsm/predicates.hpp"
#include "step.hpp"

namespace autoctl::fsm::detail {

using S = NodeState;

namespace {

void assign_primary_goal(Step& s, const Node& p, NodeState target, const std::string& why) {
    s.assign(p, target, goal_sentence(p, target, why));
}

}  // namespace

bool proceed_for_primary(Step& s, std::int64_t primary_id) {
    const Node* p = s.node(primary_id);
    if (p == nullptr) return false;
    auto others = other_active_nodes(s.group, *p);
    const int nss = s.group.formation.number_sync_standbys;

    // P1: a standby registered next to a single node.
    if (is_current_state(p, S::Single)) {
        for (const auto* o : others) {
            if (!is_current_state(o, S::WaitStandby)) continue;
            assign_primary_goal(s, *p, S::WaitPrimary, "after " + describe(*o) + " joined");
            s.match("single_prepares_for_standby", "a standby joined the single node");
            return true;
        }
        return false;
    }

    // P3: join_primary is legacy; finish it.
    if (is_current_state(p, S::JoinPrimary)) {
        assign_primary_goal(s, *p, S::Primary, "after it converged to join_primary");
        s.match("join_primary_becomes_primary", "join_primary is not used any more");
        return true;
    }

    if (!is_current_state(p, S::Primary) && !is_current_state(p, S::WaitPrimary) &&
        !is_current_state(p, S::ApplySettings))
        return false;

    // A failover candidate elected while this primary was unhealthy is stale now that the primary
    // reports healthy again: since the election, standbys may have rejoined it and acknowledged
    // commits the candidate lacks, and promoting the candidate would lose them (property tests).
    // Cancel the promotion while the candidate is still a standby; it reports its LSN again and
    // follows this primary (rule 8).
    if (is_healthy(s.group, p)) {
        const Node* c = candidate_being_promoted(s.group);
        if (c != nullptr && c->id != p->id && (c->goal == S::FastForward || c->goal == S::PreparePromotion)) {
            s.assign(*c, S::ReportLsn,
                     goal_sentence(*c, S::ReportLsn, "as " + describe(*p) + " is healthy again: the failover is cancelled"));
            s.match("stale_promotion_cancelled",
                    "the primary came back before the candidate was promoted: the failover is cancelled");
            return true;
        }
    }

    // P2: count the standbys that can acknowledge commits, demoting the unhealthy ones.
    int replication_quorum_count = static_cast<int>(others.size());
    int secondary_count = replication_quorum_count;
    int secondary_quorum_count = replication_quorum_count;
    bool demoted_a_standby = false;
    for (const auto* o : others) {
        if (o->goal == S::Secondary && o->reported != S::ReportLsn && o->reported != S::JoinSecondary &&
            is_unhealthy(s.group, o)) {
            s.assign(*o, S::CatchingUp, goal_sentence(*o, S::CatchingUp, "after it became unhealthy"));
            demoted_a_standby = true;
            --secondary_count;
            --secondary_quorum_count;
        } else if (!is_current_state(o, S::Secondary)) {
            --secondary_count;
            --secondary_quorum_count;
        } else if (!o->replication_quorum) {
            --secondary_quorum_count;
        }
        if (!o->replication_quorum) --replication_quorum_count;
    }
    if (demoted_a_standby)
        s.match("unhealthy_standby_catches_up",
                "a secondary became unhealthy: it no longer counts until it catches up again");

    // P2a: only asynchronous standbys: sync rep is never on; primary as soon as one is secondary.
    if (replication_quorum_count == 0) {
        NodeState target = secondary_count == 0 ? S::WaitPrimary : S::Primary;
        assign_primary_goal(s, *p, target,
                            secondary_count == 0 ? "as no standby is a healthy secondary"
                                                 : "as its standbys are all asynchronous");
        s.match("primary_with_async_standbys_only", "no standby takes part in the replication quorum");
        return true;
    }

    // P2b: no quorum secondary left. With number_sync_standbys = 0 accept writes without a standby
    // (wait_primary); with N >= 1 stay primary so that writes block: durability over availability.
    if (!is_current_state(p, S::WaitPrimary) && secondary_quorum_count == 0) {
        NodeState target = nss == 0 ? S::WaitPrimary : S::Primary;
        if (p->goal != target) {
            assign_primary_goal(s, *p, target, "as no quorum standby is a healthy secondary");
            s.match("primary_lost_quorum_standbys", nss == 0
                        ? "no quorum standby is available and number_sync_standbys is 0: writes continue "
                          "without synchronous replication"
                        : "no quorum standby is available and number_sync_standbys >= 1: writes wait");
            return true;
        }
    }

    // P2c: a quorum secondary is back: enable synchronous replication.
    if (is_current_state(p, S::WaitPrimary) && secondary_quorum_count > 0) {
        assign_primary_goal(s, *p, S::Primary, "now that a quorum standby is a healthy secondary");
        s.match("wait_primary_becomes_primary", "a quorum standby is a healthy secondary again");
        return true;
    }

    // P2d: settings were applied.
    if (is_current_state(p, S::ApplySettings)) {
        NodeState target = (nss == 0 && secondary_quorum_count == 0) ? S::WaitPrimary : S::Primary;
        assign_primary_goal(s, *p, target, "after it applied replication settings");
        s.match("settings_applied", "the primary applied the new replication settings");
        return true;
    }
    s.match("primary_reported", describe(*p) + " is the primary and its standbys are as expected");
    return true;
}

}  // namespace autoctl::fsm::detail

// Operator requests (reference §2.9). Each validates the request, records the assignments it makes,
// then lets the group state machine proceed, exactly as the monitor does inside one transaction.

#include "autoctl/fsm/operator_requests.hpp"

#include "autoctl/fsm/monitor_rules.hpp"
#include "autoctl/fsm/predicates.hpp"
#include "step.hpp"

namespace autoctl::fsm {

using S = NodeState;
using detail::goal_sentence;
using detail::Step;

namespace {

std::string group_label(const GroupSnapshot& g) {
    return "group " + std::to_string(g.group) + " of formation \"" + g.formation.id + "\"";
}

RequestOutcome accepted(Step& s) {
    RequestOutcome out;
    out.decision = std::move(s.decision);
    return out;
}

const Node* first_other(const GroupSnapshot& g, const Node& node) {
    auto others = other_active_nodes(g, node);
    return others.empty() ? nullptr : others.front();
}

// The primary applies new replication settings on its way out of apply_settings.
void primary_applies_settings(Step& s, const std::string& why) {
    const Node* p = primary_node(s.group);
    if (p == nullptr) return;
    // Only a primary with no transition pending: one told wait_primary and not yet reported there
    // (it may have applied it already) would look primary again through apply_settings (property
    // tests). Otherwise it fetches the new settings on its next way to primary (enable_sync_rep).
    if (is_current_state(p, S::Primary) || is_current_state(p, S::WaitPrimary))
        s.assign(*p, S::ApplySettings, goal_sentence(*p, S::ApplySettings, why));
}

}  // namespace

RequestOutcome perform_failover(const GroupSnapshot& group) {
    Step s(group);
    auto nodes = active_nodes(s.group);
    if (nodes.size() < 2)
        return RequestOutcome::refuse("cannot fail over: " + group_label(group) + " has only " +
                                          std::to_string(nodes.size()) + " node",
                                      "add a standby node first");
    const Node* p = node_to_failover_from(s.group);
    if (p == nullptr)
        return RequestOutcome::refuse("cannot fail over: " + group_label(group) +
                                          " has no primary in a stable state (single or primary)",
                                      "wait until `autoctl show state` shows a primary, then retry");
    auto others = other_active_nodes(s.group, *p);
    if (nodes.size() == 2) {
        const Node* standby = others.front();
        if (!is_current_state(p, S::Primary) || !is_current_state(standby, S::Secondary))
            return RequestOutcome::refuse("cannot fail over: primary node is not in a stable state",
                                          "wait until the primary is primary and the standby is secondary");
        if (standby->candidate_priority <= 0)
            return RequestOutcome::refuse("cannot fail over: " + describe(*standby) + " has candidate priority 0",
                                          "set a candidate priority above 0 on it first");
        s.assign(*p, S::Draining, goal_sentence(*p, S::Draining, "after a user-initiated failover"));
        s.assign(*standby, S::PreparePromotion,
                 goal_sentence(*standby, S::PreparePromotion, "after a user-initiated failover"));
        s.match("perform_failover", "an operator asked for a failover of " + group_label(group));
        return accepted(s);
    }
    if (count_healthy_candidates(s.group, others) < 1)
        return RequestOutcome::refuse("cannot fail over: " + group_label(group) +
                                          " has no healthy secondary with a candidate priority above 0",
                                      "check `autoctl show state`; at least one standby must be secondary");
    s.match("perform_failover", "an operator asked for a failover of " + group_label(group));
    s.assign(*p, S::Draining, goal_sentence(*p, S::Draining, "after a user-initiated failover"));
    s.set_priority(*p, p->candidate_priority - 101,
                   "Updating candidate priority to " + std::to_string(p->candidate_priority - 101) + " for " +
                       describe(*p));
    if (const Node* standby = first_other(s.group, *p)) detail::proceed_group_state(s, standby->id);
    return accepted(s);
}

RequestOutcome perform_promotion(const GroupSnapshot& group, const std::string& node_name) {
    const Node* n = group.find_by_name(node_name);
    if (n == nullptr || n->goal == S::Dropped)
        return RequestOutcome::refuse("node \"" + node_name + "\" is not a member of " + group_label(group),
                                      "check the node names with `autoctl show state`");
    if (is_current_state(n, S::Single) || is_current_state(n, S::Primary)) {
        RequestOutcome out;
        out.notices.push_back("cannot perform promotion: node " + node_name + " is already the primary");
        return out;
    }
    if (!is_current_state(n, S::Secondary) && !is_current_state(n, S::ReportLsn))
        return RequestOutcome::refuse("cannot perform promotion: node " + node_name + " is in state " +
                                          std::string(to_string(n->reported)) +
                                          ", only a secondary node can be promoted",
                                      "wait until the node is secondary");
    if (n->candidate_priority <= 0)
        return RequestOutcome::refuse("cannot perform promotion: node " + node_name + " has candidate priority 0",
                                      "set its candidate priority above 0 first");
    if (active_nodes(group).size() <= 2) {
        RequestOutcome out = perform_failover(group);
        if (out.accepted) out.decision.rule = "perform_promotion";
        return out;
    }
    GroupSnapshot boosted = group;
    boosted.find(n->id)->candidate_priority += 101;
    RequestOutcome out = perform_failover(boosted);
    if (!out.accepted) return out;
    // The boost is stored with the failover; the election removes it again.
    out.decision.priority_changes.insert(
        out.decision.priority_changes.begin(),
        PriorityChange{n->id, n->candidate_priority + 101,
                       "Updating candidate priority to " + std::to_string(n->candidate_priority + 101) + " for " +
                           describe(*n)});
    out.decision.rule = "perform_promotion";
    out.decision.reason = "an operator asked to promote " + describe(*n);
    return out;
}

RequestOutcome start_maintenance(const GroupSnapshot& group, std::int64_t node_id, bool allow_failover) {
    Step s(group);
    const Node* n = s.node(node_id);
    if (n == nullptr || n->goal == S::Dropped)
        return RequestOutcome::refuse("node " + std::to_string(node_id) + " is not a member of " + group_label(group));
    if (n->goal == S::Maintenance || n->reported == S::Maintenance) return RequestOutcome{};
    const bool is_primary = is_current_state(n, S::Primary);
    // A standby must be current secondary or catchingup: with another goal pending (report_lsn in an
    // election) its keeper may already have left that state, and could never reach maintenance
    // from there, nor leave it (property tests).
    if (!is_primary && ((n->reported != S::Secondary && n->reported != S::CatchingUp) || n->goal != n->reported))
        return RequestOutcome::refuse("cannot start maintenance: " + describe(*n) + " is in state " +
                                          std::string(to_string(n->reported)) +
                                          ", maintenance needs a primary, secondary or catchingup node",
                                      "wait until the node is secondary");
    auto others = other_active_nodes(s.group, *n);
    RequestOutcome notices;
    const int nss = s.group.formation.number_sync_standbys;
    if (nss > 0 && count_healthy_sync_standbys(s.group, others) + (is_healthy_sync_standby(s.group, n) ? 1 : 0) <= nss &&
        is_healthy_sync_standby(s.group, n))
        notices.notices.push_back("Starting maintenance on " + describe(*n) +
                                  " will block writes on the primary until it is back: number_sync_standbys is " +
                                  std::to_string(nss));

    if (is_primary) {
        if (!allow_failover)
            return RequestOutcome::refuse("cannot start maintenance: " + describe(*n) + " is the primary",
                                          "use --allow-failover to fail over to a standby first");
        if (count_healthy_candidates(s.group, others) < 1)
            return RequestOutcome::refuse("cannot start maintenance on the primary: no healthy secondary can be promoted",
                                          "check `autoctl show state`");
        s.match("start_maintenance", "an operator put the primary in maintenance, which fails over");
        s.assign(*n, S::PrepareMaintenance, goal_sentence(*n, S::PrepareMaintenance, "as requested by the operator"));
        if (others.size() == 1) {
            s.assign(*others.front(), S::PreparePromotion,
                     goal_sentence(*others.front(), S::PreparePromotion, "as its primary enters maintenance"));
        } else {
            detail::proceed_group_state(s, others.front()->id);
        }
    } else {
        const Node* p = primary_node(s.group);
        if (!is_current_state(p, S::Primary))
            return RequestOutcome::refuse("cannot start maintenance: the primary of " + group_label(group) +
                                              " is not in the primary state",
                                          "wait until the primary is primary, then retry");
        s.match("start_maintenance", "an operator put a standby in maintenance");
        if (nss == 0 && count_healthy_sync_standbys(s.group, others) + (is_healthy_sync_standby(s.group, n) ? 1 : 0) == 1 &&
            is_healthy_sync_standby(s.group, n)) {
            s.assign(*p, S::WaitPrimary, goal_sentence(*p, S::WaitPrimary, "as its only synchronous standby enters maintenance"));
            s.assign(*n, S::WaitMaintenance, goal_sentence(*n, S::WaitMaintenance, "as requested by the operator"));
        } else {
            s.assign(*n, S::Maintenance, goal_sentence(*n, S::Maintenance, "as requested by the operator"));
        }
    }
    RequestOutcome out = accepted(s);
    out.notices = std::move(notices.notices);
    return out;
}

RequestOutcome stop_maintenance(const GroupSnapshot& group, std::int64_t node_id) {
    Step s(group);
    const Node* n = s.node(node_id);
    if (n == nullptr || n->goal == S::Dropped)
        return RequestOutcome::refuse("node " + std::to_string(node_id) + " is not a member of " + group_label(group));
    const auto count = active_nodes(s.group).size();
    if (!is_current_state(n, S::Maintenance) && !(count > 2 && is_current_state(n, S::PrepareMaintenance)))
        return RequestOutcome::refuse("cannot stop maintenance: " + describe(*n) + " is not in maintenance (it is " +
                                          std::string(to_string(n->reported)) + ")",
                                      "wait until it reports maintenance");
    s.match("stop_maintenance", "an operator ended maintenance of " + describe(*n));
    if (count == 1) {
        s.assign(*n, S::Single, goal_sentence(*n, S::Single, "as there is no other node"));
        return accepted(s);
    }
    const Node* p = primary_or_demoted_node(s.group);
    if (p == nullptr || p == n) {
        if (count == 2)
            return RequestOutcome::refuse("cannot stop maintenance: " + group_label(group) + " has no primary node",
                                          "check `autoctl show state`");
        s.assign(*n, S::ReportLsn, goal_sentence(*n, S::ReportLsn, "to take part in the election of a primary"));
    } else if (is_failover_in_progress(s.group)) {
        s.assign(*n, S::ReportLsn, goal_sentence(*n, S::ReportLsn, "as a failover is in progress"));
    } else {
        s.assign(*n, S::CatchingUp, goal_sentence(*n, S::CatchingUp, "after the end of its maintenance"));
    }
    return accepted(s);
}

RequestOutcome set_candidate_priority(const GroupSnapshot& group, const std::string& node_name, int priority) {
    Step s(group);
    const Node* n = s.group.find_by_name(node_name);
    if (n == nullptr || n->goal == S::Dropped)
        return RequestOutcome::refuse("node \"" + node_name + "\" is not a member of " + group_label(group));
    if (priority < 0 || priority > 100)
        return RequestOutcome::refuse("invalid candidate priority " + std::to_string(priority),
                                      "use a value between 0 and 100");
    if (n->cluster != "default" && priority != 0)
        return RequestOutcome::refuse("node \"" + node_name + "\" is a read replica of cluster \"" + n->cluster +
                                      "\": its candidate priority must be 0");
    const Node* p = primary_node(s.group);
    if (is_current_state(p, S::ApplySettings))
        return RequestOutcome::refuse("cannot change settings while the primary applies settings",
                                      "retry in a moment");
    RequestOutcome notices;
    if (priority == 0) {
        int candidates = 0;
        for (const auto* o : active_nodes(s.group))
            if (o->id != n->id && o->candidate_priority > 0) ++candidates;
        if (candidates < 2)
            notices.notices.push_back("fewer than 2 nodes will have a non-zero candidate priority in " +
                                      group_label(group) + ": failover may become impossible");
    }
    s.match("set_candidate_priority", "an operator changed the candidate priority of " + describe(*n));
    s.set_priority(*n, priority, "Updating candidate priority to " + std::to_string(priority) + " for " + describe(*n));
    if (active_nodes(s.group).size() > 1)
        primary_applies_settings(s, "to apply the new candidate priority of " + describe(*n));
    RequestOutcome out = accepted(s);
    out.notices = std::move(notices.notices);
    return out;
}

RequestOutcome set_replication_quorum(const GroupSnapshot& group, const std::string& node_name, bool quorum) {
    Step s(group);
    const Node* n = s.group.find_by_name(node_name);
    if (n == nullptr || n->goal == S::Dropped)
        return RequestOutcome::refuse("node \"" + node_name + "\" is not a member of " + group_label(group));
    const Node* p = primary_node(s.group);
    if (is_current_state(p, S::ApplySettings))
        return RequestOutcome::refuse("cannot change settings while the primary applies settings",
                                      "retry in a moment");
    // The primary applies the change on its way out of apply_settings; until then it still waits
    // for (and acknowledges through) the node, but the election would stop counting a lost
    // asynchronous node as missing at once. So only a stable, healthy primary can take the change
    // (property tests: a failing primary acknowledged through a node made asynchronous meanwhile).
    if (!quorum && (p == nullptr || !(is_current_state(p, S::Primary) || is_current_state(p, S::WaitPrimary)) ||
                    !is_healthy(s.group, p)))
        return RequestOutcome::refuse("cannot set replication quorum to false on node \"" + node_name +
                                          "\" now: the primary of " + group_label(group) +
                                          " must be primary or wait_primary and healthy to apply it",
                                      "retry once `autoctl show state` shows a healthy primary");
    const int nss = s.group.formation.number_sync_standbys;
    if (!quorum && nss > 0) {
        int quorum_standbys = 0;
        for (const auto* o : active_nodes(s.group))
            if (o->id != n->id && o != p && o->replication_quorum) ++quorum_standbys;
        if (nss + 1 > quorum_standbys)
            return RequestOutcome::refuse("cannot set replication quorum to false on node \"" + node_name +
                                              "\": number_sync_standbys " + std::to_string(nss) + " requires " +
                                              std::to_string(nss + 1) + " quorum standbys",
                                          "lower number_sync_standbys first");
    }
    s.match("set_replication_quorum", "an operator changed the replication quorum of " + describe(*n));
    if (n->replication_quorum != quorum) {
        s.group.find(n->id)->replication_quorum = quorum;
        s.decision.quorum_changes.push_back(QuorumChange{
            n->id, quorum,
            std::string("Updating replicationQuorum to ") + (quorum ? "true" : "false") + " for " + describe(*n)});
    }
    if (active_nodes(s.group).size() > 1)
        primary_applies_settings(s, "to apply the new replication quorum of " + describe(*n));
    return accepted(s);
}

RequestOutcome set_number_sync_standbys(const GroupSnapshot& group, int nss) {
    Step s(group);
    if (nss < 0)
        return RequestOutcome::refuse("invalid number_sync_standbys " + std::to_string(nss), "use 0 or more");
    const Node* p = primary_node(s.group);
    if (!is_current_state(p, S::Primary) && !is_current_state(p, S::WaitPrimary))
        return RequestOutcome::refuse("cannot set number_sync_standbys: the primary of " + group_label(group) +
                                          " is not in a stable state",
                                      "wait until it is primary or wait_primary");
    int quorum_standbys = 0;
    for (const auto* o : other_active_nodes(s.group, *p))
        if (o->replication_quorum) ++quorum_standbys;
    if (nss > 0 && nss + 1 > quorum_standbys)
        return RequestOutcome::refuse("cannot set number_sync_standbys to " + std::to_string(nss) + ": at least " +
                                          std::to_string(nss + 1) + " quorum standbys are required and " +
                                          group_label(group) + " has " + std::to_string(quorum_standbys),
                                      "add standbys with replication quorum first");
    s.match("set_number_sync_standbys", "an operator set number_sync_standbys to " + std::to_string(nss));
    s.decision.number_sync_standbys = nss;
    s.group.formation.number_sync_standbys = nss;
    s.message("Setting number_sync_standbys to " + std::to_string(nss) + " for formation \"" + s.group.formation.id + "\"");
    s.assign(*p, S::ApplySettings, goal_sentence(*p, S::ApplySettings, "to apply number_sync_standbys " + std::to_string(nss)));
    return accepted(s);
}

RequestOutcome remove_node(const GroupSnapshot& group, std::int64_t node_id, bool force) {
    Step s(group);
    const Node* n = s.node(node_id);
    if (n == nullptr)
        return RequestOutcome::refuse("node " + std::to_string(node_id) + " is not a member of " + group_label(group));
    s.match("remove_node", "an operator removed " + describe(*n));
    if (is_current_state(n, S::Dropped) || force) {
        s.decision.delete_node_id = n->id;
        s.message("Removing " + describe(*n) + " from formation \"" + s.group.formation.id + "\"");
        return accepted(s);
    }
    if (n->goal == S::Dropped) return accepted(s);
    auto others = other_active_nodes(s.group, *n);
    const bool was_primary = can_take_writes(n->goal);
    if (was_primary)
        for (const auto* o : others)
            if (!is_in_maintenance(o))
                s.assign(*o, S::ReportLsn, goal_sentence(*o, S::ReportLsn, "as the primary is being removed"));
    s.assign(*n, S::Dropped, goal_sentence(*n, S::Dropped, "as requested by the operator"));

    const int nss = s.group.formation.number_sync_standbys;
    int remaining_quorum_standbys = count_sync_standbys(others) - 1;
    if (remaining_quorum_standbys < nss + 1) {
        int new_nss = std::max(remaining_quorum_standbys - 1, 0);
        if (new_nss != nss) {
            s.decision.number_sync_standbys = new_nss;
            s.group.formation.number_sync_standbys = new_nss;
            s.message("Setting number_sync_standbys to " + std::to_string(new_nss) + " for formation \"" +
                      s.group.formation.id + "\" now that " + describe(*n) + " is removed");
        }
    }
    if (others.empty()) return accepted(s);
    if (was_primary) {
        detail::proceed_group_state(s, others.front()->id);
    } else if (const Node* p = primary_node(s.group)) {
        NodeState before = p->goal;
        detail::proceed_group_state(s, p->id);
        if (p->goal == before && p->goal != S::ApplySettings)
            primary_applies_settings(s, "to remove " + describe(*n) + " from synchronous_standby_names");
    }
    return accepted(s);
}

}  // namespace autoctl::fsm

// The multi-standby election (reference §2.6): report_lsn, missing nodes, the quorum candidate
// count, select_failover_candidate (priority, then LSN), fast_forward and the priority undo.

#include "rules_helpers.hpp"

namespace autoctl::fsm::testing {
namespace {

using namespace rules;

// A dead primary (goal draining) and standbys that all reported their LSN.
GroupSnapshot election(std::vector<Node> standbys) {
    std::vector<Node> nodes{node(1, S::Primary, S::Draining)};
    for (auto& n : standbys) nodes.push_back(std::move(n));
    auto g = group(std::move(nodes));
    make_dead(g, 1);
    return g;
}

Node reported(std::int64_t id, int priority, Lsn lsn) {
    Node n = node(id, S::ReportLsn);
    n.candidate_priority = priority;
    n.lsn = lsn;
    return n;
}

std::vector<const Node*> candidates(const GroupSnapshot& g) {
    std::vector<const Node*> list;
    for (const auto& n : g.nodes)
        if (is_current_state(&n, S::ReportLsn)) list.push_back(&n);
    return list;
}

// ---- step 2: who must report its LSN ----

TEST(Election_ReportLsn, EveryStandbyThatFollowedTheOldPrimaryIsAsked) {
    auto g = group({node(1, S::Primary), node(2, S::Secondary), node(3, S::CatchingUp),
                    node(4, S::Maintenance, S::CatchingUp), node(5, S::Demoted, S::CatchingUp),
                    node(6, S::Maintenance), node(7, S::WaitStandby)});
    g.find(6)->pg_is_running = false;  // the operator stopped it: it holds nothing the election needs
    make_dead(g, 1);
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "1:draining 2:report_lsn 3:report_lsn 4:report_lsn 5:report_lsn ");
    for (std::int64_t id : {2, 3, 4, 5})
        EXPECT_EQ(reason_for(d, id), sentence(id, S::ReportLsn, "to find the failover candidate"));
    EXPECT_TRUE(has_message(d, "after 0 nodes reported their LSN and we are waiting for 4 nodes to report"))
        << all_messages(d);
}

TEST(Election_ReportLsn, QuorumStandbyInMaintenanceWithPostgresRunningBlocks) {
    // Maintenance leaves Postgres running: it may still stream from the old primary and hold
    // acknowledged commits, so the election waits for it.
    auto g = group({node(1, S::Primary), node(2, S::Secondary), node(3, S::Maintenance)});
    make_dead(g, 1);
    Decision d = decide(g, 2);
    EXPECT_TRUE(has_message(d, "is in maintenance with Postgres running")) << all_messages(d);
    EXPECT_TRUE(has_message(d, "waiting for 2 nodes to report")) << all_messages(d);
}

TEST(Election_ReportLsn, DrainedLiveOldPrimaryIsAskedToo) {
    // perform_failover with 3 nodes: the old primary stopped Postgres in draining.
    auto g = group({node(1, S::Draining), node(2, S::Secondary), node(3, S::Secondary)});
    g.find(1)->pg_is_running = false;
    g.find(1)->candidate_priority = 50 - 101;
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "1:report_lsn 2:report_lsn 3:report_lsn ");
    EXPECT_EQ(reason_for(d, 1), sentence(1, S::ReportLsn, "to find the failover candidate"));
}

TEST(Election_ReportLsn, NotWhileOldPrimaryIsStillDraining) {
    // Reported primary, goal draining: the old primary is skipped, not asked for its LSN.
    auto g = group({node(1, S::Primary, S::Draining), node(2, S::Secondary), node(3, S::Secondary)});
    make_dead(g, 1);
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "2:report_lsn 3:report_lsn ");
}

// ---- step 3: waiting ----

TEST(Election_MissingNodes, NodeAskedButNotReportedYetBlocks) {
    auto g = election({reported(2, 50, mb(48)), node(3, S::Secondary, S::ReportLsn)});
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "");
    EXPECT_TRUE(has_message(d, "after 1 nodes reported their LSN and we are waiting for 1 nodes to report"))
        << all_messages(d);
}

TEST(Election_MissingNodes, DeadQuorumStandbyWithUnknownLsnBlocks) {
    auto g = election({reported(2, 50, mb(48)), reported(3, 50, mb(48)), node(4, S::Secondary)});
    make_dead(g, 4);
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "");
    EXPECT_TRUE(has_message(d, "waiting for 1 nodes to report")) << all_messages(d);
}

TEST(Election_MissingNodes, DeadNodeThatAlreadyReportedItsLsnDoesNotBlock) {
    auto g = election({reported(2, 50, mb(48)), reported(3, 50, mb(47)), reported(4, 50, mb(40))});
    make_dead(g, 4);
    // It reported report_lsn after its goal was set, so its LSN is known and frozen.
    g.find(4)->state_change_time = g.find(4)->report_time;
    Decision d = decide(g, 3);
    EXPECT_EQ(goals(d), "2:prepare_promotion ");
    EXPECT_EQ(d.rule, "candidate_elected");
}

TEST(Election_QuorumCandidateCount, NeedsNumberSyncStandbysPlusOneQuorumCandidates) {
    auto g = election({reported(2, 50, mb(48)), reported(3, 50, mb(48)), reported(4, 50, mb(48))});
    g.formation.number_sync_standbys = 2;
    g.find(4)->replication_quorum = false;
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "");
    EXPECT_TRUE(has_message(d, "2 quorum nodes reported their LSN and 3 nodes are required in the quorum to "
                               "satisfy number_sync_standbys=2"))
        << all_messages(d);
    g.formation.number_sync_standbys = 1;
    EXPECT_EQ(goals(decide(g, 2)), "2:prepare_promotion ");
}

TEST(Election_QuorumCandidateCount, WithNss0AsyncCandidatesCount) {
    auto g = election({reported(2, 50, mb(48)), reported(3, 50, mb(48))});
    g.find(2)->replication_quorum = false;
    g.find(3)->replication_quorum = false;
    EXPECT_EQ(goals(decide(g, 2)), "2:prepare_promotion ");
}

TEST(Election_QuorumCandidateCount, NoCandidateNoElection) {
    // Nobody can report an LSN: a new standby still waiting and a standby in maintenance.
    auto g = group({node(1, S::Primary, S::Draining), node(2, S::WaitStandby), node(3, S::Maintenance)});
    g.find(3)->pg_is_running = false;
    make_dead(g, 1);
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "");
    EXPECT_TRUE(d.empty());
    EXPECT_FALSE(has_message(d, "Failover")) << all_messages(d);
}

// ---- select_failover_candidate ----

TEST(Election_SelectFailoverCandidate, HighestPriorityWinsOverMostAdvancedLsn) {
    auto g = election({reported(2, 50, mb(48)), reported(3, 90, mb(47)), reported(4, 10, mb(48))});
    std::string why;
    const Node* selected = select_failover_candidate(g, candidates(g), g.find(1), &why);
    ASSERT_NE(selected, nullptr) << why;
    EXPECT_EQ(selected->id, 3);
}

TEST(Election_SelectFailoverCandidate, EqualPriorityTieBrokenOnLsn) {
    auto g = election({reported(2, 50, mb(46)), reported(3, 50, mb(48)), reported(4, 50, mb(47))});
    const Node* selected = select_failover_candidate(g, candidates(g), g.find(1));
    ASSERT_NE(selected, nullptr);
    EXPECT_EQ(selected->id, 3);
}

TEST(Election_SelectFailoverCandidate, PriorityZeroIsNeverSelected) {
    auto g = election({reported(2, 0, mb(48)), reported(3, 1, mb(40))});
    const Node* selected = select_failover_candidate(g, candidates(g), g.find(1));
    ASSERT_NE(selected, nullptr);
    EXPECT_EQ(selected->id, 3) << "priority 1 behind beats priority 0 ahead";

    g.find(3)->candidate_priority = 0;
    std::string why;
    EXPECT_EQ(select_failover_candidate(g, candidates(g), g.find(1), &why), nullptr);
    EXPECT_EQ(why, "no healthy node with a candidate priority above 0 reported its LSN");
}

TEST(Election_SelectFailoverCandidate, NegativePriorityOfOldPrimaryIsNeverSelected) {
    auto g = election({reported(2, -51, mb(48)), reported(3, 50, mb(48))});
    const Node* selected = select_failover_candidate(g, candidates(g), nullptr);
    ASSERT_NE(selected, nullptr);
    EXPECT_EQ(selected->id, 3);
}

TEST(Election_SelectFailoverCandidate, UnhealthyCandidateIsSkipped) {
    auto g = election({reported(2, 90, mb(48)), reported(3, 50, mb(48))});
    g.find(2)->pg_is_running = false;
    const Node* selected = select_failover_candidate(g, candidates(g), g.find(1));
    ASSERT_NE(selected, nullptr);
    EXPECT_EQ(selected->id, 3);
}

TEST(Election_SelectFailoverCandidate, NotBeyondPromoteWalThresholdOfOldPrimary) {
    auto g = election({reported(2, 50, mb(48)), reported(3, 50, mb(47))});
    g.find(1)->lsn = Lsn{mb(64).value + 1};  // 16 MB + 1 byte ahead of the most advanced standby
    std::string why;
    EXPECT_EQ(select_failover_candidate(g, candidates(g), g.find(1), &why), nullptr);
    EXPECT_EQ(why, "the most advanced standby " + desc(2) + " is more than promote_wal_log_threshold behind " +
                       desc(1) + ": not promoting, to avoid losing data");
    g.find(1)->lsn = mb(64);
    EXPECT_NE(select_failover_candidate(g, candidates(g), g.find(1)), nullptr);
}

TEST(Election_SelectFailoverCandidate, LaggingWinnerNeedsAHealthyMostAdvancedStandby) {
    auto g = election({reported(2, 90, mb(40)), reported(3, 50, mb(48))});
    g.find(3)->health = Health::Bad;  // still reporting, but not healthy: nobody to fetch WAL from
    std::string why;
    EXPECT_EQ(select_failover_candidate(g, candidates(g), g.find(1), &why), nullptr);
    EXPECT_EQ(why, "the selected candidate " + desc(2) +
                       " is behind and no most advanced standby is healthy to fetch WAL from");
}

TEST(Election_SelectFailoverCandidate, BlockedElectionIsLogged) {
    auto g = election({reported(2, 50, mb(48)), reported(3, 50, mb(47))});
    g.find(1)->lsn = mb(100);
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "");
    EXPECT_TRUE(has_message(d, "Failover is blocked: the most advanced standby " + desc(2) +
                                   " is more than promote_wal_log_threshold behind"))
        << all_messages(d);
}

// ---- PromoteSelectedNode ----

TEST(Election_CandidateElected, MostAdvancedWinnerPreparesPromotion) {
    auto g = election({reported(2, 50, mb(47)), reported(3, 50, mb(48))});
    Decision d = decide(g, 2);
    EXPECT_EQ(d.rule, "candidate_elected");
    EXPECT_EQ(d.reason, desc(3) + " has the highest candidate priority and the most advanced LSN");
    EXPECT_EQ(goals(d), "3:prepare_promotion ");
    EXPECT_EQ(reason_for(d, 3),
              sentence(3, S::PreparePromotion, "as it is the most advanced candidate with the highest priority"));
}

TEST(Election_CandidateElectedNeedsFastForward, LaggingWinnerFastForwards) {
    auto g = election({reported(2, 90, mb(47)), reported(3, 50, mb(48))});
    Decision d = decide(g, 3);
    EXPECT_EQ(d.rule, "candidate_elected_needs_fast_forward");
    EXPECT_EQ(d.reason, desc(2) + " has the highest candidate priority but must first fetch missing WAL");
    EXPECT_EQ(goals(d), "2:fast_forward ");
    EXPECT_EQ(reason_for(d, 2),
              sentence(2, S::FastForward, "to fetch the WAL it misses from the most advanced standby"));
}

TEST(Election_PriorityUndo, PromotionBoostAndFailoverPenaltyAreUndone) {
    // After perform_promotion(node_2) on a 3-node group: node 2 was boosted to 50 + 101, the old
    // primary (node 1, now report_lsn like the others) penalised to 50 - 101.
    auto g = group({reported(1, -51, mb(48)), reported(2, 151, mb(47)), reported(3, 50, mb(48))});
    Decision d = decide(g, 3);
    EXPECT_EQ(goals(d), "2:fast_forward ");
    ASSERT_EQ(d.priority_changes.size(), 2u);
    EXPECT_EQ(d.priority_changes[0].node_id, 2);
    EXPECT_EQ(d.priority_changes[0].candidate_priority, 50);
    EXPECT_EQ(d.priority_changes[0].reason, "Updating candidate priority back to 50 for " + desc(2));
    EXPECT_EQ(d.priority_changes[1].node_id, 1);
    EXPECT_EQ(d.priority_changes[1].candidate_priority, 50);
    EXPECT_EQ(d.priority_changes[1].reason, "Updating candidate priority back to 50 for " + desc(1));
}

TEST(Election_PriorityUndo, NothingToUndoWithPlainPriorities) {
    auto g = election({reported(2, 50, mb(48)), reported(3, 50, mb(48))});
    Decision d = decide(g, 2);
    EXPECT_EQ(goals(d), "2:prepare_promotion ");
    EXPECT_TRUE(d.priority_changes.empty());
}

// ---- step 1: a candidate is already being promoted ----

TEST(Election_StandbyJoinsElectedPrimary, WaitsUntilCandidateStreamsWal) {
    auto g = election({node(2, S::ReportLsn, S::PreparePromotion), reported(3, 50, mb(48))});
    Decision d = decide(g, 3);
    EXPECT_EQ(goals(d), "") << "the candidate has not promoted yet";
    EXPECT_NE(d.rule, "standby_joins_elected_primary");

    g.find(2)->reported = S::PreparePromotion;
    g.find(2)->goal = S::StopReplication;
    d = decide(g, 3);
    EXPECT_EQ(d.rule, "standby_joins_elected_primary");
    EXPECT_EQ(goals(d), "3:join_secondary ");
}

}  // namespace
}  // namespace autoctl::fsm::testing

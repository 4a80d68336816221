#include "autoctl/monitor/group_store.hpp"

#include <pqxx/pqxx>

namespace autoctl::monitor {

using namespace autoctl::fsm;

namespace {

TimePoint from_epoch_us(long long us) { return TimePoint{} + std::chrono::microseconds(us); }

constexpr const char* kEpochUs = "(extract(epoch FROM {})::numeric * 1000000)::bigint";

std::string epoch_us(const std::string& column) {
    std::string expr = kEpochUs;
    return expr.replace(expr.find("{}"), 2, column);
}

}  // namespace

void lock_group(pqxx::transaction_base& tx, const GroupKey& key) {
    tx.exec_params("SELECT pg_advisory_xact_lock(4244, hashtext($1 || '/' || $2))", key.formation, key.group);
}

fsm::GroupSnapshot load_group(pqxx::transaction_base& tx, const GroupKey& key, const fsm::Timing& timing,
                              fsm::TimePoint monitor_start) {
    GroupSnapshot g;
    g.group = key.group;
    g.timing = timing;
    g.monitor_start = monitor_start;

    auto f = tx.exec_params(
        "SELECT formationid, kind, dbname, opt_secondary, number_sync_standbys, " + epoch_us("clock_timestamp()") +
            " FROM pgautofailover.formation WHERE formationid = $1",
        key.formation);
    if (f.empty()) {
        g.formation.id = key.formation;
        return g;
    }
    g.formation.id = f[0][0].as<std::string>();
    g.formation.kind = parse_formation_kind(f[0][1].as<std::string>()).value_or(FormationKind::Pgsql);
    g.formation.dbname = f[0][2].as<std::string>();
    g.formation.opt_secondary = f[0][3].as<bool>();
    g.formation.number_sync_standbys = f[0][4].as<int>();
    g.now = from_epoch_us(f[0][5].as<long long>());

    auto rows = tx.exec_params(
        "SELECT nodeid, nodename, nodehost, nodeport, groupid, goalstate::text, reportedstate::text, "
        "       coalesce(reportedpgisrunning, true), coalesce(reportedrepstate, ''), reportedtli, reportedlsn::text, " +
            epoch_us("reporttime") + ", " + epoch_us("healthchecktime") + ", " + epoch_us("statechangetime") +
            ", health, candidatepriority, replicationquorum, nodecluster"
            "  FROM pgautofailover.node WHERE formationid = $1 AND groupid = $2 ORDER BY nodeid FOR UPDATE",
        key.formation, key.group);
    for (const auto& r : rows) {
        Node n;
        n.id = r[0].as<std::int64_t>();
        n.name = r[1].as<std::string>();
        n.host = r[2].as<std::string>();
        n.port = r[3].as<int>();
        n.group = r[4].as<int>();
        n.goal = parse_node_state(r[5].as<std::string>()).value_or(NodeState::Unknown);
        n.reported = parse_node_state(r[6].as<std::string>()).value_or(NodeState::Unknown);
        n.pg_is_running = r[7].as<bool>();
        n.sync_state = r[8].as<std::string>();
        n.tli = r[9].as<int>();
        n.lsn = Lsn::parse(r[10].as<std::string>()).value_or(Lsn{});
        n.report_time = from_epoch_us(r[11].as<long long>());
        n.health_check_time = from_epoch_us(r[12].as<long long>());
        n.state_change_time = from_epoch_us(r[13].as<long long>());
        int health = r[14].as<int>();
        n.health = health == 1 ? Health::Good : health == 0 ? Health::Bad : Health::Unknown;
        n.candidate_priority = r[15].as<int>();
        n.replication_quorum = r[16].as<bool>();
        n.cluster = r[17].as<std::string>();
        g.nodes.push_back(std::move(n));
    }
    return g;
}

std::vector<GroupKey> list_groups(pqxx::transaction_base& tx) {
    std::vector<GroupKey> keys;
    for (const auto& r : tx.exec("SELECT DISTINCT formationid, groupid FROM pgautofailover.node ORDER BY 1, 2"))
        keys.push_back(GroupKey{r[0].as<std::string>(), r[1].as<int>()});
    return keys;
}

void store_decision(pqxx::transaction_base& tx, const fsm::GroupSnapshot& group, const fsm::Decision& d) {
    for (const auto& p : d.priority_changes) {
        tx.exec_params("UPDATE pgautofailover.node SET candidatepriority = $2 WHERE nodeid = $1", p.node_id,
                       p.candidate_priority);
        tx.exec_params("SELECT pgautofailover.record_event($1, $2)", p.node_id, p.reason);
    }
    for (const auto& q : d.quorum_changes) {
        tx.exec_params("UPDATE pgautofailover.node SET replicationquorum = $2 WHERE nodeid = $1", q.node_id,
                       q.replication_quorum);
        tx.exec_params("SELECT pgautofailover.record_event($1, $2)", q.node_id, q.reason);
    }
    if (d.number_sync_standbys >= 0)
        tx.exec_params("UPDATE pgautofailover.formation SET number_sync_standbys = $2 WHERE formationid = $1",
                       group.formation.id, d.number_sync_standbys);
    for (const auto& a : d.assignments) {
        tx.exec_params(
            "UPDATE pgautofailover.node SET goalstate = $2::pgautofailover.replication_state, "
            "statechangetime = now() WHERE nodeid = $1",
            a.node_id, std::string(to_string(a.goal)));
        tx.exec_params("SELECT pgautofailover.record_event($1, $2)", a.node_id, a.reason);
    }
    if (d.delete_node_id > 0)
        tx.exec_params("DELETE FROM pgautofailover.node WHERE nodeid = $1", d.delete_node_id);
    for (const auto& m : d.messages) tx.exec_params("SELECT pg_notify('log', $1)", m);
}

}  // namespace autoctl::monitor

#include "autoctl/keeper/keeper_monitor.hpp"

#include <nlohmann/json.hpp>

#include "autoctl/common/error.hpp"
#include "autoctl/keeper/transition_pending.hpp"

namespace autoctl::keeper {

namespace {

using common::Error;
using common::ErrorKind;

pg::ConnInfo monitor_conninfo(const std::string& uri) {
    auto info = pg::ConnInfo::parse(uri);
    if (!info.has("application_name")) info.set("application_name", "autoctl_keeper");
    // A monitor behind a cut link (no RST, no FIN) must not block a call for TCP's retransmission
    // timeout (minutes): the network partition check needs node_active to fail within seconds.
    for (const auto& [key, value] : {std::pair<const char*, const char*>{"keepalives", "1"},
                                     {"keepalives_idle", "2"},
                                     {"keepalives_interval", "1"},
                                     {"keepalives_count", "3"},
                                     {"tcp_user_timeout", "5000"}}) {
        if (!info.has(key)) info.set(key, value);
    }
    return info;
}

fsm::NodeState state_of(const std::string& name) {
    auto state = fsm::parse_node_state(name);
    if (!state) throw Error(ErrorKind::Monitor, "the monitor assigned an unknown state \"" + name + "\"");
    return *state;
}

Assignment assignment_of(const pg::Row& row) {
    Assignment a;
    a.node_id = row.as_int64(0);
    a.group = static_cast<int>(row.as_int64(1));
    a.state = state_of(row.text(2));
    a.candidate_priority = static_cast<int>(row.as_int64(3));
    a.replication_quorum = row.as_bool(4);
    if (row.size() > 5 && !row.is_null(5)) a.name = row.text(5);
    return a;
}

NodeAddress address_of(const pg::Row& row) {
    NodeAddress n;
    n.node_id = row.as_int64(0);
    n.name = row.text(1);
    n.host = row.text(2);
    n.port = static_cast<int>(row.as_int64(3));
    if (!row.is_null(4)) n.lsn = row.as_lsn(4);
    n.is_primary = !row.is_null(5) && row.as_bool(5);
    return n;
}

}  // namespace

KeeperMonitor::KeeperMonitor(const std::string& uri)
    : conn_(monitor_conninfo(uri), {std::chrono::seconds(2), ErrorKind::Monitor}) {}

Assignment KeeperMonitor::register_node(const Registration& r) {
    const auto rows = conn_.exec_params(
        "SELECT * FROM pgautofailover.register_node($1, $2, $3, $4, $5, $6, -1, $7, "
        "$8::pgautofailover.replication_state, $9, $10, $11, 'default')",
        r.formation, r.host, r.port, r.dbname, r.name, static_cast<std::int64_t>(r.system_identifier), r.group,
        std::string(fsm::to_string(r.initial_state)), r.node_kind, r.candidate_priority, r.replication_quorum);
    if (rows.size() != 1) throw Error(ErrorKind::Monitor, "register_node returned no assignment");
    return assignment_of(rows[0]);
}

Assignment KeeperMonitor::node_active(const NodeReport& r) {
    const auto rows = conn_.exec_params(
        "SELECT * FROM pgautofailover.node_active($1, $2, $3, $4::pgautofailover.replication_state, $5, $6, "
        "$7::pg_lsn, $8)",
        r.formation, r.node_id, r.group, std::string(fsm::to_string(r.current)), r.pg_is_running, r.timeline, r.lsn,
        r.sync_state);
    if (rows.size() != 1) throw Error(ErrorKind::Monitor, "node_active returned no assignment");
    return assignment_of(rows[0]);
}

NodeAddress KeeperMonitor::get_primary(const std::string& formation, int group) {
    const auto rows = conn_.exec_params(
        "SELECT primary_node_id, primary_name, primary_host, primary_port, NULL::pg_lsn, true "
        "FROM pgautofailover.get_primary($1, $2)",
        formation, group);
    if (rows.empty() || rows[0].is_null(0)) {
        throw TransitionPending("the monitor knows no primary in formation \"" + formation + "\" group " +
                                std::to_string(group) + " yet");
    }
    return address_of(rows[0]);
}

std::vector<NodeAddress> KeeperMonitor::get_other_nodes(std::int64_t node_id) {
    std::vector<NodeAddress> nodes;
    for (const auto& row : conn_.exec_params("SELECT * FROM pgautofailover.get_other_nodes($1)", node_id)) {
        nodes.push_back(address_of(row));
    }
    return nodes;
}

std::optional<NodeAddress> KeeperMonitor::get_most_advanced_standby(const std::string& formation, int group) {
    const auto rows =
        conn_.exec_params("SELECT * FROM pgautofailover.get_most_advanced_standby($1, $2)", formation, group);
    if (rows.empty()) return std::nullopt;
    return address_of(rows[0]);
}

std::string KeeperMonitor::synchronous_standby_names(const std::string& formation, int group) {
    const auto rows =
        conn_.exec_params("SELECT pgautofailover.synchronous_standby_names($1, $2)", formation, group);
    return rows.scalar().value_or("");
}

void KeeperMonitor::set_node_system_identifier(std::int64_t node_id, std::uint64_t system_identifier) {
    conn_.exec_params("SELECT pgautofailover.set_node_system_identifier($1, $2)", node_id,
                      static_cast<std::int64_t>(system_identifier));
}

std::vector<std::uint64_t> KeeperMonitor::group_system_identifiers(const std::string& formation, int group) {
    std::vector<std::uint64_t> ids;
    for (const auto& row : conn_.exec_params(
             "SELECT DISTINCT sysidentifier FROM pgautofailover.node "
             " WHERE formationid = $1 AND groupid = greatest($2, 0) AND coalesce(sysidentifier, 0) <> 0",
             formation, group)) {
        ids.push_back(static_cast<std::uint64_t>(row.as_int64(0)));
    }
    return ids;
}

std::optional<NodeAddress> KeeperMonitor::find_node(const std::string& formation, const std::string& host, int port) {
    const auto rows = conn_.exec_params(
        "SELECT nodeid, nodename, nodehost, nodeport, reportedlsn, false FROM pgautofailover.node "
        " WHERE formationid = $1 AND nodehost = $2 AND nodeport = $3",
        formation, host, port);
    if (rows.empty()) return std::nullopt;
    return address_of(rows[0]);
}

void KeeperMonitor::listen_state() { conn_.listen("state"); }

bool KeeperMonitor::wait_for_group_change(const std::string& formation, int group, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool changed = false;
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        // Once something arrived, only drain what is already there.
        const auto wait = changed || now >= deadline
                              ? std::chrono::milliseconds(0)
                              : std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        auto n = conn_.wait_notification(wait);
        if (!n) return changed;
        try {
            const auto payload = nlohmann::json::parse(n->payload);
            if (payload.value("formation", std::string()) == formation && payload.value("groupId", -1) == group) {
                changed = true;
            }
        } catch (const nlohmann::json::exception&) {
            // Not one of the monitor's payloads: ignore it.
        }
    }
}

}  // namespace autoctl::keeper

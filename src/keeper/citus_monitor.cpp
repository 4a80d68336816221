// The monitor functions only Citus nodes call (keeper_monitor.hpp).

#include "autoctl/keeper/keeper_monitor.hpp"

namespace autoctl::keeper {

std::optional<NodeAddress> KeeperMonitor::get_coordinator(const std::string& formation) {
    const auto rows = conn_.exec_params("SELECT node_host, node_port FROM pgautofailover.get_coordinator($1)", formation);
    if (rows.empty() || rows[0].is_null(0)) return std::nullopt;
    NodeAddress n;
    n.host = rows[0].text(0);
    n.port = static_cast<int>(rows[0].as_int64(1));
    n.is_primary = true;
    return n;
}

std::vector<FormationNode> KeeperMonitor::get_formation_nodes(const std::string& formation) {
    std::vector<FormationNode> out;
    for (const auto& row : conn_.exec_params(
             "SELECT node_id, nodename, nodehost, nodeport, group_id, nodecluster FROM pgautofailover.current_state($1)",
             formation)) {
        FormationNode n;
        n.node_id = row.as_int64(0);
        n.name = row.text(1);
        n.host = row.text(2);
        n.port = static_cast<int>(row.as_int64(3));
        n.group = static_cast<int>(row.as_int64(4));
        if (!row.is_null(5)) n.cluster = row.text(5);
        out.push_back(std::move(n));
    }
    return out;
}

}  // namespace autoctl::keeper

#include "autoctl/monitor/requests.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "autoctl/fsm/operator_requests.hpp"
#include "autoctl/monitor/group_store.hpp"

namespace autoctl::monitor {

using namespace autoctl::fsm;
using json = nlohmann::json;

namespace {

RequestOutcome run_request(const std::string& kind, const GroupSnapshot& g, std::int64_t node_id, const json& args) {
    const Node* node = node_id > 0 ? g.find(node_id) : nullptr;
    if (kind == "failover") return perform_failover(g);
    if (kind == "number_sync_standbys") return set_number_sync_standbys(g, args.value("number_sync_standbys", 0));
    if (node == nullptr)
        return RequestOutcome::refuse("node " + std::to_string(node_id) + " is not a member of group " +
                                      std::to_string(g.group) + " of formation \"" + g.formation.id + "\"");
    if (kind == "promotion") return perform_promotion(g, node->name);
    if (kind == "start_maintenance") return start_maintenance(g, node_id, args.value("allow_failover", false));
    if (kind == "stop_maintenance") return stop_maintenance(g, node_id);
    if (kind == "candidate_priority") return set_candidate_priority(g, node->name, args.value("candidate_priority", -1));
    if (kind == "replication_quorum") return set_replication_quorum(g, node->name, args.value("replication_quorum", true));
    if (kind == "remove_node") return remove_node(g, node_id, args.value("force", false));
    return RequestOutcome::refuse("unknown request kind \"" + kind + "\"");
}

}  // namespace

std::vector<std::int64_t> pending_requests(pqxx::transaction_base& tx) {
    std::vector<std::int64_t> ids;
    for (const auto& r : tx.exec("SELECT requestid FROM pgautofailover.request WHERE status = 'pending' ORDER BY requestid"))
        ids.push_back(r[0].as<std::int64_t>());
    return ids;
}

RequestResult handle_request(pqxx::transaction_base& tx, std::int64_t request_id, const Timing& timing,
                             TimePoint monitor_start) {
    RequestResult result;
    result.request_id = request_id;
    auto rows = tx.exec_params(
        "SELECT formationid, coalesce(groupid, 0), coalesce(nodeid, 0), kind, arguments::text "
        "  FROM pgautofailover.request WHERE requestid = $1 AND status = 'pending' FOR UPDATE SKIP LOCKED",
        request_id);
    if (rows.empty()) return result;
    result.found = true;
    GroupKey key{rows[0][0].as<std::string>(), rows[0][1].as<int>()};
    const auto node_id = rows[0][2].as<std::int64_t>();
    const auto kind = rows[0][3].as<std::string>();
    const auto args = json::parse(rows[0][4].as<std::string>(), nullptr, false);

    lock_group(tx, key);
    GroupSnapshot g = load_group(tx, key, timing, monitor_start);
    RequestOutcome outcome = run_request(kind, g, node_id, args.is_object() ? args : json::object());
    result.accepted = outcome.accepted;
    if (outcome.accepted) {
        store_decision(tx, g, outcome.decision);
        for (const auto& n : outcome.notices) result.message += (result.message.empty() ? "" : "\n") + n;
    } else {
        result.message = outcome.refusal.message;
        if (!outcome.refusal.hint.empty()) result.message += " (" + outcome.refusal.hint + ")";
    }
    const std::string status = result.accepted ? "done" : "refused";
    tx.exec_params(
        "UPDATE pgautofailover.request SET status = $2, message = $3, finished = now() WHERE requestid = $1",
        request_id, status, result.message);
    json payload = {{"request", request_id}, {"status", status}, {"message", result.message}};
    tx.exec_params("SELECT pg_notify('autoctl_request_done', $1)", payload.dump());
    return result;
}

}  // namespace autoctl::monitor

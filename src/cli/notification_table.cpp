#include "notification_table.hpp"

#include <algorithm>
#include <ctime>
#include <iterator>
#include <nlohmann/json.hpp>
#include <ostream>

#include "autoctl/cli/show_format.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"

namespace autoctl::cli {

namespace {

using common::Error;
using common::ErrorKind;
using Clock = std::chrono::steady_clock;

constexpr const char* kStateChannel = "state";
constexpr const char* kRequestDoneChannel = "autoctl_request_done";
// The monitor service carries a request out at once; this only bounds a service that died.
constexpr std::chrono::seconds kRequestTimeout{30};
// The rows are read again at least this often, notifications or not.
constexpr std::chrono::milliseconds kRecheckPeriod{1000};
constexpr std::size_t kStateWidth = 19;  // "prepare_maintenance"

constexpr const char* kNodeColumns =
    "SELECT nodeid, groupid, nodename, nodehost, nodeport, reportedstate::text, goalstate::text, health "
    "  FROM pgautofailover.node ";

std::vector<NodeStatus> to_nodes(const QueryResult& result) {
    std::vector<NodeStatus> nodes;
    for (std::size_t i = 0; i < result.rows.size(); ++i) {
        NodeStatus n;
        n.id = std::stoll(result.text(i, 0));
        n.group = std::stoi(result.text(i, 1));
        n.name = result.text(i, 2);
        n.host = result.text(i, 3);
        n.port = std::stoi(result.text(i, 4));
        n.reported = result.text(i, 5);
        n.goal = result.text(i, 6);
        n.health = result.is_null(i, 7) ? -1 : std::stoi(result.text(i, 7));
        nodes.push_back(std::move(n));
    }
    return nodes;
}

}  // namespace

std::vector<NodeStatus> group_nodes(MonitorClient& client, const std::string& formation, int group) {
    return to_nodes(client.query(std::string(kNodeColumns) + "WHERE formationid = $1 AND groupid = $2 ORDER BY nodeid",
                                 {formation, std::to_string(group)}));
}

std::optional<NodeStatus> find_node(MonitorClient& client, const std::string& formation, const std::string& name) {
    auto nodes = to_nodes(client.query(std::string(kNodeColumns) + "WHERE formationid = $1 AND nodename = $2",
                                       {formation, name}));
    if (nodes.empty()) return std::nullopt;
    return nodes.front();
}

std::optional<StateNotification> parse_state_notification(std::string_view payload) {
    const auto json = nlohmann::json::parse(payload, nullptr, false);
    if (!json.is_object() || json.value("type", "") != "state") return std::nullopt;
    try {
        StateNotification n;
        n.formation = json.at("formation").get<std::string>();
        n.group = json.at("groupId").get<int>();
        n.node_id = json.at("nodeId").get<std::int64_t>();
        n.name = json.at("name").get<std::string>();
        n.host = json.at("host").get<std::string>();
        n.port = json.at("port").get<int>();
        n.reported = json.at("reportedState").get<std::string>();
        n.goal = json.at("goalState").get<std::string>();
        return n;
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;
    }
}

// --- the table ------------------------------------------------------------------------------

NotificationTable::NotificationTable(const std::vector<NodeStatus>& nodes, bool citus) : citus_(citus) {
    for (const auto& n : nodes) {
        name_width_ = std::max(name_width_, display_width(n.name));
        node_width_ = std::max(node_width_, display_width(node_label(n.group, n.id)));
        host_width_ = std::max(host_width_, display_width(n.host + ":" + std::to_string(n.port)));
    }
}

std::string NotificationTable::node_label(int group, std::int64_t id) const {
    return citus_ ? std::to_string(group) + "/" + std::to_string(id) : std::to_string(id);
}

std::string NotificationTable::header() const {
    std::string out = align_right("Time", 8) + " | " + align_right("Name", name_width_) + " | " +
                      align_right("Node", node_width_) + " | " + align_right("Host:Port", host_width_) + " | " +
                      align_right("Current State", kStateWidth) + " | " + align_right("Assigned State", kStateWidth) +
                      "\n";
    const std::size_t widths[] = {8, name_width_, node_width_, host_width_, kStateWidth, kStateWidth};
    for (std::size_t i = 0; i < std::size(widths); ++i) {
        if (i > 0) out += "-+-";
        out.append(widths[i], '-');
    }
    return out + "\n";
}

std::string NotificationTable::row(const StateNotification& n, std::string_view time) const {
    return align_right(time, 8) + " | " + align_right(n.name, name_width_) + " | " +
           align_right(node_label(n.group, n.node_id), node_width_) + " | " +
           align_right(n.host + ":" + std::to_string(n.port), host_width_) + " | " +
           align_right(n.reported, kStateWidth) + " | " + align_right(n.goal, kStateWidth) + "\n";
}

std::string clock_time_now() {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    localtime_r(&now, &local);
    char text[16];
    std::strftime(text, sizeof text, "%H:%M:%S", &local);
    return text;
}

// --- following the group ----------------------------------------------------------------------

GroupWatch::GroupWatch(MonitorClient& client, std::string formation, int group, std::ostream& out, bool table)
    : client_(client), formation_(std::move(formation)), group_(group), out_(out), table_(table) {
    // Before anything is asked: what the monitor does at once must not be missed.
    client_.listen(kStateChannel);
    client_.listen(kRequestDoneChannel);
}

std::string GroupWatch::submit(const std::string& sql, const QueryParams& params) {
    // The operator functions do not return the request's id: the row this transaction inserted
    // (xmin is our transaction id) tells which answer on autoctl_request_done is ours.
    std::string request_id;
    client_.query("BEGIN");
    try {
        client_.query(sql, params);
        const auto found = client_.query(
            "SELECT requestid FROM pgautofailover.request WHERE xmin = pg_current_xact_id()::xid "
            " ORDER BY requestid DESC LIMIT 1");
        if (!found.empty()) request_id = found.text(0, 0);
        client_.query("COMMIT");
    } catch (const Error&) {
        try {
            client_.query("ROLLBACK");
        } catch (const Error&) {
            // the first error is the one to report
        }
        throw;
    }
    if (request_id.empty()) return {};  // nothing for the monitor service to do

    common::logger("cli")->debug("waiting for the monitor service to carry out request {}", request_id);
    const auto deadline = Clock::now() + kRequestTimeout;
    while (Clock::now() < deadline) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        for (auto& notification : client_.wait_notifications(left)) {
            if (notification.channel != kRequestDoneChannel) {
                pending_.push_back(std::move(notification));
                continue;
            }
            const auto answer = nlohmann::json::parse(notification.payload, nullptr, false);
            if (!answer.is_object() || !answer.contains("request") ||
                answer["request"].dump() != request_id) {
                continue;  // another operator's request
            }
            const std::string message = answer.value("message", "");
            if (answer.value("status", "") != "done") {
                throw Error(ErrorKind::Monitor, message.empty() ? "the monitor refused the request" : message);
            }
            return message;
        }
    }
    throw Error(ErrorKind::Monitor, "the monitor service did not answer request " + request_id + " within " +
                                        std::to_string(kRequestTimeout.count()) +
                                        " s: check that autoctl run is running on the monitor");
}

void GroupWatch::start_table() {
    if (printer_) return;
    auto log = common::logger("cli");
    log->info("Listening monitor notifications about state changes in formation \"{}\" and group {}", formation_,
              group_);
    const auto kind = client_.query("SELECT kind FROM pgautofailover.formation WHERE formationid = $1", {formation_});
    const bool citus = !kind.empty() && kind.text(0, 0) == "citus";
    printer_.emplace(group_nodes(client_, formation_, group_), citus);
    if (table_) {
        log->info("Following table displays times when notifications are received");
        out_ << printer_->header() << std::flush;
    }
}

void GroupWatch::show(const std::vector<Notification>& notifications) {
    for (const auto& notification : notifications) {
        if (notification.channel != kStateChannel) continue;
        const auto state = parse_state_notification(notification.payload);
        if (!state || state->formation != formation_ || state->group != group_) continue;
        if (table_) {
            out_ << printer_->row(*state, clock_time_now()) << std::flush;
        } else {
            common::logger("cli")->info("New state for node {} \"{}\" ({}:{}): {} ➜ {}", state->node_id, state->name,
                                        state->host, state->port, state->reported, state->goal);
        }
    }
}

bool GroupWatch::wait_until(const Condition& done, std::chrono::seconds timeout) {
    start_table();
    show(pending_);
    pending_.clear();
    const auto deadline = Clock::now() + timeout;
    while (true) {
        if (done(group_nodes(client_, formation_, group_))) return true;
        const auto now = Clock::now();
        if (now >= deadline) return false;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
        show(client_.wait_notifications(std::min(left, kRecheckPeriod)));
    }
}

}  // namespace autoctl::cli

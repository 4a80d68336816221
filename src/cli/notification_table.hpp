#pragma once
// Following one group of a formation through the monitor's notifications, as pg_autoctl's
// operator commands do (reference §5.8): LISTEN before asking, ask (an operator function records
// a request that the monitor service carries out and answers on channel autoctl_request_done),
// then print one table row per "state" notification of the group until a condition on the
// group's nodes holds, or the time is up. Private to src/cli; any command that waits for the
// monitor (perform, enable|disable maintenance, set, drop node, the keeper's commands) uses it.
//
// The condition is checked on the node rows as the monitor has them after each batch of
// notifications, and at least every second: a notification may be missed (the monitor service
// restarted) or never come (a deleted row), and the rows are the truth.

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "autoctl/cli/monitor_client.hpp"

namespace autoctl::cli {

// One node as the monitor has it.
struct NodeStatus {
    std::int64_t id = 0;
    int group = 0;
    std::string name;
    std::string host;
    int port = 0;
    std::string reported;  // reportedstate
    std::string goal;      // goalstate
    int health = -1;

    // Reported and assigned `state`: the node has settled there.
    bool settled_in(std::string_view state) const { return reported == state && goal == state; }
};

// The nodes of one group, by node id.
std::vector<NodeStatus> group_nodes(MonitorClient& client, const std::string& formation, int group);

// The node called `name` in `formation`, if there is one.
std::optional<NodeStatus> find_node(MonitorClient& client, const std::string& formation, const std::string& name);

// A "state" notification (pgautofailover.state_payload()).
struct StateNotification {
    std::string formation;
    int group = 0;
    std::int64_t node_id = 0;
    std::string name;
    std::string host;
    int port = 0;
    std::string reported;
    std::string goal;
};

// nullopt when the payload is not a state notification's JSON.
std::optional<StateNotification> parse_state_notification(std::string_view payload);

// The table's text: `"%8s | %*s | %*s | %*s | %19s | %19s"` with the name, node and host:port
// widths of the nodes known when it starts (at least those of their titles). Node is the node
// id, or group/id in a Citus formation, as in `show state`.
class NotificationTable {
public:
    NotificationTable(const std::vector<NodeStatus>& nodes, bool citus);

    std::string header() const;  // the titles and the separator line
    std::string row(const StateNotification& notification, std::string_view time) const;

private:
    std::string node_label(int group, std::int64_t id) const;

    bool citus_;
    std::size_t name_width_ = 4;
    std::size_t node_width_ = 5;
    std::size_t host_width_ = 10;
};

// "HH:MM:SS", local time.
std::string clock_time_now();

class GroupWatch {
public:
    // LISTENs on "state" and "autoctl_request_done" at once, before anything is asked. With
    // `table` false (--json) the notifications are logged on stderr instead of printed.
    GroupWatch(MonitorClient& client, std::string formation, int group, std::ostream& out, bool table = true);

    // Calls an operator function (`sql`, one statement) and finds the request it recorded, in
    // one transaction; then waits for the monitor service's answer. Returns the answer's message
    // (notices, often empty). Error{Monitor}: the monitor's reason when it refused, or no answer
    // within 30 s.
    std::string submit(const std::string& sql, const QueryParams& params);

    using Condition = std::function<bool(const std::vector<NodeStatus>&)>;

    // Prints the header (once), then a row per state notification of the group, until
    // `done(group nodes)` holds: true, or `timeout` passes first: false.
    bool wait_until(const Condition& done, std::chrono::seconds timeout);

    int group() const { return group_; }

private:
    void show(const std::vector<Notification>& notifications);
    void start_table();

    MonitorClient& client_;
    std::string formation_;
    int group_;
    std::ostream& out_;
    bool table_;
    std::optional<NotificationTable> printer_;
    std::vector<Notification> pending_;  // state notifications received while waiting for an answer
};

}  // namespace autoctl::cli

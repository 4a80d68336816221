// The notification table of the operator commands (reference §5.8) and the parsing of the
// monitor's "state" notifications: pure functions, no monitor.

#include <gtest/gtest.h>

#include "../../../src/cli/notification_table.hpp"

namespace autoctl::cli {
namespace {

NodeStatus node(std::int64_t id, int group, const std::string& name, const std::string& host, int port) {
    NodeStatus n;
    n.id = id;
    n.group = group;
    n.name = name;
    n.host = host;
    n.port = port;
    return n;
}

TEST(NotificationTable, HeaderAndRowsAlignOnTheKnownNodes) {
    const NotificationTable table({node(1, 0, "node_1", "localhost", 5501), node(12, 0, "node_12", "localhost", 5502)},
                                  false);
    EXPECT_EQ(table.header(),
              "    Time |    Name |  Node |      Host:Port |       Current State |      Assigned State\n"
              "---------+---------+-------+----------------+---------------------+--------------------\n");
    StateNotification n;
    n.formation = "default";
    n.node_id = 1;
    n.name = "node_1";
    n.host = "localhost";
    n.port = 5501;
    n.reported = "primary";
    n.goal = "draining";
    EXPECT_EQ(table.row(n, "17:02:43"),
              "17:02:43 |  node_1 |     1 | localhost:5501 |             primary |            draining\n");
}

TEST(NotificationTable, CitusNodesShowGroupAndId) {
    const NotificationTable table({node(3, 1, "w1", "10.0.0.1", 5432)}, true);
    StateNotification n;
    n.group = 1;
    n.node_id = 3;
    n.name = "w1";
    n.host = "10.0.0.1";
    n.port = 5432;
    n.reported = "secondary";
    n.goal = "secondary";
    EXPECT_NE(table.row(n, "00:00:01").find(" |   1/3 | 10.0.0.1:5432 |"), std::string::npos) << table.row(n, "x");
}

TEST(NotificationTable, ParsesTheMonitorsStatePayload) {
    const auto n = parse_state_notification(
        R"({"type": "state", "formation": "default", "groupId": 0, "nodeId": 2, "name": "a'b", )"
        R"("host": "127.0.0.1", "port": 6002, "reportedState": "secondary", "goalState": "prepare_promotion", )"
        R"("health":"good"})");
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(n->node_id, 2);
    EXPECT_EQ(n->name, "a'b");
    EXPECT_EQ(n->port, 6002);
    EXPECT_EQ(n->goal, "prepare_promotion");
    EXPECT_FALSE(parse_state_notification("not json").has_value());
    EXPECT_FALSE(parse_state_notification(R"({"type": "log", "message": "x"})").has_value());
    EXPECT_FALSE(parse_state_notification(R"({"type": "state", "formation": "default"})").has_value());
}

}  // namespace
}  // namespace autoctl::cli

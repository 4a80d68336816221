// The show tables, byte for byte against pg_autoctl's outputs (reference §5.1 to §5.4 and the
// Citus tutorial).

#include "autoctl/cli/show_format.hpp"

#include <gtest/gtest.h>

namespace autoctl::cli {
namespace {

StateRow node(std::string name, std::int64_t id, std::string host, int port, std::string lsn, std::string reported,
              std::string assigned, int health, int group = 0, std::string kind = "pgsql", int tli = 1) {
    StateRow row;
    row.formation_kind = std::move(kind);
    row.name = std::move(name);
    row.host = std::move(host);
    row.port = port;
    row.group_id = group;
    row.node_id = id;
    row.reported_state = std::move(reported);
    row.assigned_state = std::move(assigned);
    row.tli = tli;
    row.lsn = std::move(lsn);
    row.health = health;
    return row;
}

TEST(ShowFormatTest, DisplayWidthCountsCodePoints) {
    EXPECT_EQ(display_width(""), 0u);
    EXPECT_EQ(display_width("node_1"), 6u);
    EXPECT_EQ(display_width("a'b;\"\xC3\xA9"), 6u);     // a'b;"é: 7 bytes
    EXPECT_EQ(display_width("\xE6\x97\xA5\xE6\x9C\xAC"), 2u);  // 日本
    EXPECT_EQ(display_width("\xF0\x9F\x90\x98"), 1u);        // one 4-byte character
    EXPECT_EQ(display_width("a\x80"), 2u);                 // a stray continuation byte
    EXPECT_EQ(align_right("\xC3\xA9", 3), "  \xC3\xA9");
    EXPECT_EQ(align_left("\xC3\xA9", 3), "\xC3\xA9  ");
    EXPECT_EQ(align_right("toolong", 3), "toolong");
}

TEST(ShowFormatTest, ConnectionColumn) {
    EXPECT_EQ(connection_column("single", 1), "read-write");
    EXPECT_EQ(connection_column("single", 0), "read-write !");
    EXPECT_EQ(connection_column("single", -1), "read-write ?");
    for (const char* state : {"primary", "wait_primary", "join_primary", "prepare_maintenance", "apply_settings"}) {
        EXPECT_EQ(connection_column(state, 1), "read-write") << state;
    }
    for (const char* state : {"secondary", "catchingup", "prepare_promotion", "stop_replication", "wait_maintenance",
                              "fast_forward", "join_secondary", "report_lsn"}) {
        EXPECT_EQ(connection_column(state, 1), "read-only") << state;
    }
    for (const char* state :
         {"init", "dropped", "wait_standby", "demoted", "demote_timeout", "draining", "maintenance", "unknown"}) {
        EXPECT_EQ(connection_column(state, 1), "none") << state;
    }
    EXPECT_EQ(connection_column("#any state#", 1), "unknown");
    EXPECT_EQ(connection_column("secondary", 0), "read-only !");
}

// Reference §5.1, observed: health -1 ("?"), then 0 ("!").
TEST(ShowFormatTest, StateObservedSingleNode) {
    EXPECT_EQ(format_state_table({node("node_1", 1, "localhost", 55433, "0/155A068", "single", "single", -1)}),
              "  Name |  Node |       Host:Port |       TLI: LSN |   Connection |      Reported State |      Assigned State\n"
              "-------+-------+-----------------+----------------+--------------+---------------------+--------------------\n"
              "node_1 |     1 | localhost:55433 |   1: 0/155A068 | read-write ? |              single |              single\n"
              "\n");
    const auto table = format_state_table({node("node_1", 1, "localhost", 55433, "0/155A068", "single", "single", 0)});
    EXPECT_NE(table.find("\nnode_1 |     1 | localhost:55433 |   1: 0/155A068 | read-write ! |              single |"
                         "              single\n"),
              std::string::npos)
        << table;
}

// Reference §5.1, the documentation's three-node example (healthy: no marker).
TEST(ShowFormatTest, StateThreeNodes) {
    EXPECT_EQ(format_state_table({node("node1", 1, "localhost", 5501, "0/4000678", "primary", "primary", 1),
                                  node("node2", 2, "localhost", 5502, "0/4000678", "secondary", "secondary", 1),
                                  node("node3", 3, "localhost", 5503, "0/4000678", "secondary", "secondary", 1)}),
              " Name |  Node |      Host:Port |       TLI: LSN |   Connection |      Reported State |      Assigned State\n"
              "------+-------+----------------+----------------+--------------+---------------------+--------------------\n"
              "node1 |     1 | localhost:5501 |   1: 0/4000678 |   read-write |             primary |             primary\n"
              "node2 |     2 | localhost:5502 |   1: 0/4000678 |    read-only |           secondary |           secondary\n"
              "node3 |     3 | localhost:5503 |   1: 0/4000678 |    read-only |           secondary |           secondary\n"
              "\n");
}

// The Citus tutorial (reference/citus-tutorial.rst): Node is group/id, "!" for failed health checks.
TEST(ShowFormatTest, StateCitusGroupsAndHealthMarkers) {
    const std::vector<StateRow> rows{
        node("coord0a", 1, "cd52db444544", 5432, "0/200C4A0", "wait_primary", "wait_primary", 1, 0, "citus"),
        node("coord0b", 2, "66a31034f2e4", 5432, "0/0", "wait_standby", "catchingup", 0, 0, "citus"),
        node("worker1a", 3, "dae7c062e2c1", 5432, "0/2003B18", "wait_primary", "wait_primary", 1, 1, "citus"),
        node("worker1b", 4, "397e6069b09b", 5432, "0/0", "wait_standby", "catchingup", 0, 1, "citus"),
    };
    EXPECT_EQ(format_state_table(rows),
              "    Name |  Node |         Host:Port |       TLI: LSN |   Connection |      Reported State |      Assigned State\n"
              "---------+-------+-------------------+----------------+--------------+---------------------+--------------------\n"
              " coord0a |   0/1 | cd52db444544:5432 |   1: 0/200C4A0 |   read-write |        wait_primary |        wait_primary\n"
              " coord0b |   0/2 | 66a31034f2e4:5432 |         1: 0/0 |       none ! |        wait_standby |          catchingup\n"
              "worker1a |   1/3 | dae7c062e2c1:5432 |   1: 0/2003B18 |   read-write |        wait_primary |        wait_primary\n"
              "worker1b |   1/4 | 397e6069b09b:5432 |         1: 0/0 |       none ! |        wait_standby |          catchingup\n"
              "\n");
}

TEST(ShowFormatTest, StateTimelineOverThreeDigits) {
    const auto table = format_state_table({node("n", 1, "h", 1, "0/1", "primary", "primary", 1, 0, "pgsql", 1234)});
    EXPECT_NE(table.find(" | 1234: 0/1 | "), std::string::npos) << table;
}

// Names are shown verbatim; a non-ASCII name lines up with the others (widths in characters).
TEST(ShowFormatTest, StateNamesVerbatimAndAligned) {
    const std::string name = "a'b;\"\xC3\xA9";  // a'b;"é
    EXPECT_EQ(format_state_table({node("node1", 1, "localhost", 5501, "0/0", "init", "single", -1),
                                  node(name, 2, "localhost", 5502, "0/0", "init", "wait_standby", -1)}),
              "  Name |  Node |      Host:Port |  TLI: LSN |   Connection |      Reported State |      Assigned State\n"
              "-------+-------+----------------+-----------+--------------+---------------------+--------------------\n"
              " node1 |     1 | localhost:5501 |    1: 0/0 |       none ? |                init |              single\n"
              "a'b;\"\xC3\xA9 |     2 | localhost:5502 |    1: 0/0 |       none ? |                init |        wait_standby\n"
              "\n");
}

TEST(ShowFormatTest, StateWithoutNodes) {
    EXPECT_EQ(format_state_table({}),
              "Name |  Node |  Host:Port |  TLI: LSN |   Connection |      Reported State |      Assigned State\n"
              "-----+-------+------------+-----------+--------------+---------------------+--------------------\n"
              "\n");
}

// Reference §5.2, observed.
TEST(ShowFormatTest, Events) {
    const std::vector<EventRow> rows{
        {"2026-11-25 17:02:29.16777+00", 1, 0, "init", "single",
         "Setting goal state of node 1 \"node_1\" (localhost:55433) to single as there is no other node."},
        {"2026-11-25 17:02:31.542364+00", 1, 0, "single", "single",
         "New state is reported by node 1 \"node_1\" (localhost:55433): \"single\""},
    };
    EXPECT_EQ(format_events_table(rows),
              "                    Event Time |   Node |       Current State |      Assigned State | Comment\n"
              "-------------------------------+--------+---------------------+---------------------+-----------\n"
              "  2026-11-25 17:02:29.16777+00 |    0/1 |                init |              single | Setting goal "
              "state of node 1 \"node_1\" (localhost:55433) to single as there is no other node.\n"
              " 2026-11-25 17:02:31.542364+00 |    0/1 |              single |              single | New state is "
              "reported by node 1 \"node_1\" (localhost:55433): \"single\"\n"
              "\n");
}

TEST(ShowFormatTest, EventsWithoutRows) {
    EXPECT_EQ(format_events_table({}),
              "                    Event Time |   Node |       Current State |      Assigned State | Comment\n"
              "-------------------------------+--------+---------------------+---------------------+-----------\n"
              "\n");
}

// Reference §5.3, observed; a formation without nodes has an empty URI.
TEST(ShowFormatTest, Uri) {
    EXPECT_EQ(format_uri_table({
                  {"monitor", "monitor", "postgres://autoctl_node@localhost:55432/pg_auto_failover?sslmode=prefer"},
                  {"formation", "default",
                   "postgres://localhost:55433/postgres?target_session_attrs=read-write&sslmode=prefer"},
                  {"formation", "f2", ""},
              }),
              "        Type |    Name | Connection String\n"
              "-------------+---------+-------------------------------\n"
              "     monitor | monitor | postgres://autoctl_node@localhost:55432/pg_auto_failover?sslmode=prefer\n"
              "   formation | default | postgres://localhost:55433/postgres?target_session_attrs=read-write&sslmode=prefer\n"
              "   formation |      f2 | \n"
              "\n");
}

TEST(ShowFormatTest, UriLongFormationName) {
    const auto table = format_uri_table({{"monitor", "monitor", "m"}, {"formation", "formation-b", "u"}});
    EXPECT_EQ(table,
              "        Type |        Name | Connection String\n"
              "-------------+-------------+-------------------------------\n"
              "     monitor |     monitor | m\n"
              "   formation | formation-b | u\n"
              "\n");
}

// Reference §5.4, observed: the value is left-aligned, so lines end with spaces.
TEST(ShowFormatTest, Settings) {
    EXPECT_EQ(format_settings_table({
                  {"formation", "default", "number_sync_standbys", "0"},
                  {"primary", "node_1", "synchronous_standby_names", "''"},
                  {"node", "node_1", "candidate priority", "50"},
                  {"node", "node_1", "replication quorum", "true"},
              }),
              "  Context |    Name |                   Setting | Value\n"
              "----------+---------+---------------------------+------\n"
              "formation | default |      number_sync_standbys | 0    \n"
              "  primary |  node_1 | synchronous_standby_names | ''   \n"
              "     node |  node_1 |        candidate priority | 50   \n"
              "     node |  node_1 |        replication quorum | true \n"
              "\n");
}

TEST(ShowFormatTest, SettingsLongValue) {
    const std::string names = "'ANY 1 (pgautofailover_standby_2, pgautofailover_standby_3)'";
    ASSERT_EQ(names.size(), 60u);
    const auto table = format_settings_table({
        {"formation", "default", "number_sync_standbys", "1"},
        {"primary", "node_1", "synchronous_standby_names", names},
    });
    EXPECT_EQ(table,
              "  Context |    Name |                   Setting | Value" + std::string(55, ' ') + "\n" +
                  "----------+---------+---------------------------+-" + std::string(60, '-') + "\n" +
                  "formation | default |      number_sync_standbys | 1" + std::string(59, ' ') + "\n" +
                  "  primary |  node_1 | synchronous_standby_names | " + names + "\n" + "\n");
}

}  // namespace
}  // namespace autoctl::cli

#pragma once
// The tables printed by `show state`, `show events`, `show uri` and `show settings`, as pure
// functions (rows in, text out), with pg_autoctl 2.0's exact layouts (reference §5.1 to §5.4):
// columns joined by " | ", a separator line of dashes joined by "-+-", one line per row, then one
// empty line.
//
// Widths are counted in characters (UTF-8 code points), not bytes. pg_autoctl pads with printf's
// %*s, which counts bytes, so a name such as "é1" is one column short there and the table no
// longer lines up. Counting code points keeps every '|' of a column in the same place for text
// in any alphabet without combining marks or double-width characters (for ASCII the output is
// byte for byte pg_autoctl's). Invalid UTF-8 bytes count one column each.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace autoctl::cli {

// Columns counted as characters: UTF-8 code points (continuation bytes are not counted).
std::size_t display_width(std::string_view text);

// `text` padded with spaces on the left (right-aligned, printf's %*s) or on the right
// (left-aligned, %-*s) to `width` characters; text that is already wider is left as is.
std::string align_right(std::string_view text, std::size_t width);
std::string align_left(std::string_view text, std::size_t width);

// One node, as pgautofailover.current_state() returns it.
struct StateRow {
    std::string formation_kind;  // "pgsql" or "citus"
    std::string name;
    std::string host;
    int port = 0;
    int group_id = 0;
    std::int64_t node_id = 0;
    std::string reported_state;  // current_group_state
    std::string assigned_state;  // assigned_group_state
    int tli = 0;
    std::string lsn;  // "0/155A068"
    int health = -1;  // 1 good, 0 bad (health check failed), -1 not checked yet
};

// "read-write", "read-only", "none" (or "unknown" for "#any state#") from the reported state,
// followed by " !" when health is 0 and " ?" when health is -1.
std::string connection_column(std::string_view reported_state, int health);

// `show state`: Name | Node | Host:Port | TLI: LSN | Connection | Reported State | Assigned State.
// Node is the node id for a pgsql formation, group/id for Citus (the kind of the first row).
std::string format_state_table(const std::vector<StateRow>& rows);

// One event, as pgautofailover.last_events() returns it.
struct EventRow {
    std::string time;  // timestamptz as Postgres prints it
    std::int64_t node_id = 0;
    int group_id = 0;
    std::string reported_state;
    std::string goal_state;
    std::string description;
};

// `show events`: fixed widths 30, 6, 19, 19, then the comment.
std::string format_events_table(const std::vector<EventRow>& rows);

struct UriRow {
    std::string type;  // "monitor", "formation", "read-replica"
    std::string name;
    std::string uri;  // may be empty: a formation without nodes
};

// `show uri`: Type (12) | Name | Connection String.
std::string format_uri_table(const std::vector<UriRow>& rows);

struct SettingRow {
    std::string context;  // "formation", "primary", "node"
    std::string name;     // the formation or node name
    std::string setting;
    std::string value;
};

// `show settings`: Context (9) | Name | Setting | Value, the value left-aligned.
std::string format_settings_table(const std::vector<SettingRow>& rows);

}  // namespace autoctl::cli

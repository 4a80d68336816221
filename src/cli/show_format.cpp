#include "autoctl/cli/show_format.hpp"

#include <algorithm>
#include <array>

namespace autoctl::cli {

namespace {

enum class Align { Right, Left };

struct Column {
    std::string header;
    std::size_t min_width;  // pg_autoctl's minimum (often the header's length, sometimes more)
    Align align = Align::Right;
    bool fixed = false;  // width is min_width whatever the values (show events)
};

std::string aligned(std::string_view text, std::size_t width, Align align) {
    return align == Align::Right ? align_right(text, width) : align_left(text, width);
}

// Header, separator, one line per row, then an empty line. A column's width is the widest of its
// header minimum and its values, unless it is fixed (printf's "%30s": longer values overflow).
class Table {
public:
    explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }

    // `last_unpadded`: the last column is printed as is (no padding), and its separator has
    // `last_dashes` dashes.
    std::string render(bool last_unpadded = false, std::size_t last_dashes = 0) const {
        std::vector<std::size_t> widths;
        for (std::size_t i = 0; i < columns_.size(); ++i) {
            std::size_t width = columns_[i].min_width;
            if (!columns_[i].fixed) {
                for (const auto& row : rows_) width = std::max(width, display_width(row[i]));
            }
            widths.push_back(width);
        }
        const std::size_t last = columns_.size() - 1;

        std::string out;
        auto line = [&](auto cell) {
            for (std::size_t i = 0; i < columns_.size(); ++i) {
                if (i > 0) out += " | ";
                out += cell(i);
            }
            out += "\n";
        };
        line([&](std::size_t i) {
            if (last_unpadded && i == last) return columns_[i].header;
            return aligned(columns_[i].header, widths[i], columns_[i].align);
        });
        for (std::size_t i = 0; i < columns_.size(); ++i) {
            if (i > 0) out += "-+-";
            out.append(last_unpadded && i == last ? last_dashes : widths[i], '-');
        }
        out += "\n";
        for (const auto& row : rows_) {
            line([&](std::size_t i) {
                if (last_unpadded && i == last) return row[i];
                return aligned(row[i], widths[i], columns_[i].align);
            });
        }
        out += "\n";
        return out;
    }

private:
    std::vector<Column> columns_;
    std::vector<std::vector<std::string>> rows_;
};

bool is_one_of(std::string_view state, std::initializer_list<std::string_view> states) {
    return std::find(states.begin(), states.end(), state) != states.end();
}

// The widest reported/assigned state name, "prepare_maintenance".
constexpr std::size_t kStateWidth = 19;
// strlen("read-write *"): a connection type and its health marker.
constexpr std::size_t kConnectionWidth = 12;

}  // namespace

std::size_t display_width(std::string_view text) {
    std::size_t width = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        const bool continuation = (byte & 0xC0) == 0x80;
        if (!continuation) {
            ++width;
            continue;
        }
        // A continuation byte belongs to the character its lead byte started; a stray one (after
        // an ASCII byte, or first) counts as a column of its own.
        const auto previous = i > 0 ? static_cast<unsigned char>(text[i - 1]) : 0;
        if (i == 0 || previous < 0x80) ++width;
    }
    return width;
}

std::string align_right(std::string_view text, std::size_t width) {
    const std::size_t used = display_width(text);
    std::string out(used < width ? width - used : 0, ' ');
    out += text;
    return out;
}

std::string align_left(std::string_view text, std::size_t width) {
    const std::size_t used = display_width(text);
    std::string out(text);
    out.append(used < width ? width - used : 0, ' ');
    return out;
}

std::string connection_column(std::string_view reported_state, int health) {
    std::string type;
    if (is_one_of(reported_state, {"single", "primary", "wait_primary", "join_primary", "prepare_maintenance",
                                   "apply_settings"})) {
        type = "read-write";
    } else if (is_one_of(reported_state, {"secondary", "catchingup", "prepare_promotion", "stop_replication",
                                          "wait_maintenance", "fast_forward", "join_secondary",
                                          "report_lsn"})) {
        type = "read-only";
    } else if (reported_state == "#any state#") {
        type = "unknown";
    } else {
        type = "none";
    }
    if (health == 0) type += " !";
    if (health == -1) type += " ?";
    return type;
}

std::string format_state_table(const std::vector<StateRow>& rows) {
    const bool citus = !rows.empty() && rows.front().formation_kind == "citus";
    Table table({{"Name", 4},
                 {"Node", 5},
                 {"Host:Port", 10},
                 {"TLI: LSN", 9},
                 {"Connection", kConnectionWidth},
                 {"Reported State", kStateWidth},
                 {"Assigned State", kStateWidth}});
    for (const auto& row : rows) {
        const std::string node = citus ? std::to_string(row.group_id) + "/" + std::to_string(row.node_id)
                                       : std::to_string(row.node_id);
        // sprintf("%3d: %s", tli, lsn)
        const std::string tli = std::to_string(row.tli);
        const std::string tli_lsn = align_right(tli, 3) + ": " + row.lsn;
        table.add({row.name, node, row.host + ":" + std::to_string(row.port), tli_lsn,
                   connection_column(row.reported_state, row.health), row.reported_state, row.assigned_state});
    }
    return table.render();
}

std::string format_events_table(const std::vector<EventRow>& rows) {
    Table table({{"Event Time", 30, Align::Right, true},
                 {"Node", 6, Align::Right, true},
                 {"Current State", kStateWidth, Align::Right, true},
                 {"Assigned State", kStateWidth, Align::Right, true},
                 {"Comment", 0, Align::Left, true}});
    for (const auto& row : rows) {
        table.add({row.time, std::to_string(row.group_id) + "/" + std::to_string(row.node_id), row.reported_state,
                   row.goal_state, row.description});
    }
    return table.render(true, 10);
}

std::string format_uri_table(const std::vector<UriRow>& rows) {
    Table table({{"Type", 12, Align::Right, true}, {"Name", 7}, {"Connection String", 0, Align::Left, true}});
    for (const auto& row : rows) table.add({row.type, row.name, row.uri});
    return table.render(true, 30);
}

std::string format_settings_table(const std::vector<SettingRow>& rows) {
    Table table({{"Context", 9, Align::Right, true}, {"Name", 4}, {"Setting", 7}, {"Value", 5, Align::Left}});
    for (const auto& row : rows) table.add({row.context, row.name, row.setting, row.value});
    return table.render();
}

}  // namespace autoctl::cli

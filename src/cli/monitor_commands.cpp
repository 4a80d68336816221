#include "monitor_commands.hpp"

#include <ostream>

#include "autoctl/cli/show_format.hpp"
#include "autoctl/common/error.hpp"

namespace autoctl::cli {

void MonitorQueryArgs::add_to(CLI::App& app, bool with_group, bool with_json) {
    target.add_to(app);
    formation_option = scope.add_formation_to(app);
    if (with_group) group_option = scope.add_group_to(app);
    if (with_json) output.add_to(app);
}

std::string MonitorQueryArgs::formation(const MonitorTarget& target_found) const {
    if (formation_given()) return scope.formation;
    if (!target_found.formation.empty()) return target_found.formation;
    return scope.formation;
}

void require_formation(MonitorClient& client, const std::string& formation) {
    const auto result = client.query(
        "SELECT EXISTS (SELECT 1 FROM pgautofailover.formation WHERE formationid = $1), "
        "       (SELECT string_agg(formationid, ', ' ORDER BY formationid) "
        "          FROM pgautofailover.formation)",
        {formation});
    if (result.text(0, 0) == "t") return;
    std::string message =
        "formation \"" + formation + "\" does not exist (monitor at " + client.params().endpoint + ")";
    if (!result.is_null(0, 1)) message += "; HINT: the formations are: " + result.text(0, 1);
    throw common::Error(common::ErrorKind::Monitor, message);
}

void print_formation_settings(const MonitorQueryArgs& args, CommandContext& context) {
    const auto target = args.target.resolve();
    const std::string formation = args.formation(target);
    auto client = connect_to_monitor(target);
    require_formation(*client, formation);

    constexpr const char* kOrder =
        "ORDER BY CASE context WHEN 'formation' THEN 0 WHEN 'primary' THEN 1 WHEN 'node' THEN 2 ELSE 3 END, "
        "setting, group_id, node_id";
    if (args.output.json) {
        const auto result = client->query(
            "WITH s AS (SELECT * FROM pgautofailover.formation_settings($1)) "
            "SELECT jsonb_pretty(jsonb_build_object("
            " 'formation', coalesce((SELECT jsonb_agg(row_to_json(s) ORDER BY setting, group_id, node_id) "
            "                          FROM s WHERE context = 'formation'), '[]'),"
            " 'primary', coalesce((SELECT jsonb_agg(row_to_json(s) ORDER BY setting, group_id, node_id) "
            "                        FROM s WHERE context = 'primary'), '[]'),"
            " 'nodes', coalesce((SELECT jsonb_agg(row_to_json(s) ORDER BY setting, group_id, node_id) "
            "                      FROM s WHERE context = 'node'), '[]')))",
            {formation});
        context.out << result.text(0, 0) << "\n";
        return;
    }
    const auto result = client->query(
        std::string("SELECT context, nodename, setting, value FROM pgautofailover.formation_settings($1) ") + kOrder,
        {formation});
    if (result.empty()) {
        throw common::Error(common::ErrorKind::Monitor,
                            "the monitor has no settings for formation \"" + formation + "\"");
    }
    std::vector<SettingRow> rows;
    for (std::size_t i = 0; i < result.rows.size(); ++i) {
        rows.push_back({result.text(i, 0), result.text(i, 1), result.text(i, 2), result.text(i, 3)});
    }
    context.out << format_settings_table(rows);
}

}  // namespace autoctl::cli

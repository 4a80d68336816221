// autoctl show state|events|uri|settings|standby-names: what the monitor knows (reference §5).
//
// Tables are built here from the monitor's rows (show_format.hpp); --json prints what the monitor
// itself builds with jsonb_pretty(), as pg_autoctl does, except where pg_autoctl builds the JSON
// client-side (show uri --formation, show standby-names).

#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>

#include "autoctl/cli/commands.hpp"
#include "autoctl/cli/show_format.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "monitor_commands.hpp"

namespace autoctl::cli {

namespace {

using common::Error;
using common::ErrorKind;

int to_int(const std::string& text) { return std::stoi(text); }

// --json of a set-returning monitor function: the monitor's own jsonb_pretty() of the rows, as
// pg_autoctl prints them.
void print_json_rows(MonitorClient& client, const std::string& from, const std::string& alias,
                     const std::string& order_by, const QueryParams& params, std::ostream& out) {
    const auto result = client.query("SELECT jsonb_pretty(coalesce(jsonb_agg(row_to_json(" + alias + ") ORDER BY " +
                                         order_by + "), '[]')) FROM " + from + " AS " + alias,
                                     params);
    out << result.text(0, 0) << "\n";
}

const CLI::Validator kCount(
    [](std::string& value) -> std::string {
        if (!value.empty() && value.size() <= 9 && value.find_first_not_of("0123456789") == std::string::npos) {
            return {};
        }
        return "expected a number of events (0, 1, 2, ...), got \"" + value + "\"";
    },
    "N");

// --- show state ----------------------------------------------------------------------------

void show_state(const MonitorQueryArgs& args, CommandContext& context) {
    const auto target = args.target.resolve();
    const std::string formation = args.formation(target);
    auto client = connect_to_monitor(target);
    require_formation(*client, formation);

    QueryParams params{formation};
    std::string from = "pgautofailover.current_state($1::text)";
    if (args.group_given()) {
        from = "pgautofailover.current_state($1::text, $2::int)";
        params.push_back(std::to_string(args.scope.group));
    }
    if (args.output.json) {
        print_json_rows(*client, from, "state", "state.group_id, state.node_id", params, context.out);
        return;
    }
    const auto result = client->query(
        "SELECT formation_kind, nodename, nodehost, nodeport, group_id, node_id, current_group_state, "
        "       assigned_group_state, reported_tli, reported_lsn, health "
        "  FROM " + from + " ORDER BY group_id, node_id",
        params);
    std::vector<StateRow> rows;
    for (std::size_t i = 0; i < result.rows.size(); ++i) {
        StateRow row;
        row.formation_kind = result.text(i, 0);
        row.name = result.text(i, 1);
        row.host = result.text(i, 2);
        row.port = to_int(result.text(i, 3));
        row.group_id = to_int(result.text(i, 4));
        row.node_id = std::stoll(result.text(i, 5));
        row.reported_state = result.text(i, 6);
        row.assigned_state = result.text(i, 7);
        row.tli = to_int(result.text(i, 8));
        row.lsn = result.text(i, 9);
        row.health = to_int(result.text(i, 10));
        rows.push_back(std::move(row));
    }
    context.out << format_state_table(rows);
}

// --- show events ---------------------------------------------------------------------------

struct ShowEventsArgs : MonitorQueryArgs {
    int count = 10;
};

void show_events(const ShowEventsArgs& args, CommandContext& context) {
    const auto target = args.target.resolve();
    const std::string formation = args.formation(target);
    auto client = connect_to_monitor(target);
    require_formation(*client, formation);

    QueryParams params{formation, std::to_string(args.count)};
    std::string from = "pgautofailover.last_events(formation_id => $1::text, count => $2::int)";
    if (args.group_given()) {
        from = "pgautofailover.last_events(formation_id => $1::text, group_id => $3::int, count => $2::int)";
        params.push_back(std::to_string(args.scope.group));
    }
    if (args.output.json) {
        print_json_rows(*client, from, "event", "event.eventtime, event.eventid", params, context.out);
        return;
    }
    const auto result = client->query(
        "SELECT eventtime, nodeid, groupid, reportedstate, goalstate, description FROM " + from +
            " ORDER BY eventtime, eventid",
        params);
    std::vector<EventRow> rows;
    for (std::size_t i = 0; i < result.rows.size(); ++i) {
        rows.push_back({result.text(i, 0), std::stoll(result.text(i, 1)), to_int(result.text(i, 2)),
                        result.text(i, 3), result.text(i, 4), result.text(i, 5)});
    }
    context.out << format_events_table(rows);
}

// --- show uri ------------------------------------------------------------------------------

struct ShowUriArgs : MonitorQueryArgs {
    std::string citus_cluster = "default";
};

// The monitor row: the URI given (or found), its password masked: the output is often pasted.
std::string monitor_row_uri(const MonitorTarget& target) { return common::redact_conninfo(target.advertised_uri); }

void show_uri(const ShowUriArgs& args, CommandContext& context) {
    const auto target = args.target.resolve();
    const std::string monitor_uri = monitor_row_uri(target);

    // --formation monitor: no connection needed.
    if (args.formation_given() && args.scope.formation == "monitor") {
        if (args.output.json) {
            nlohmann::ordered_json json;
            json["monitor"] = monitor_uri;
            context.out << json.dump(4) << "\n";
        } else {
            context.out << monitor_uri << "\n";
        }
        return;
    }

    auto client = connect_to_monitor(target);
    const auto& ssl = client->params();
    if (args.formation_given()) {
        const std::string& formation = args.scope.formation;
        require_formation(*client, formation);
        const auto result = client->query("SELECT pgautofailover.formation_uri($1, $2, $3, $4, $5)",
                                          {formation, args.citus_cluster, ssl.sslmode, ssl.sslrootcert, ssl.sslcrl});
        if (result.empty() || result.is_null(0, 0)) {
            throw Error(ErrorKind::Monitor, "Formation \"" + formation + "\" currently has no nodes in group 0" +
                                                (args.citus_cluster == "default"
                                                     ? std::string()
                                                     : " of cluster \"" + args.citus_cluster + "\""));
        }
        if (args.output.json) {
            nlohmann::ordered_json json;
            json["monitor"] = monitor_uri;
            json[formation] = result.text(0, 0);
            context.out << json.dump(4) << "\n";
        } else {
            context.out << result.text(0, 0) << "\n";
        }
        return;
    }

    const std::string rows_sql =
        "SELECT 0 AS k, 'monitor' AS type, 'monitor' AS name, $4::text AS uri "
        "UNION ALL "
        "SELECT 1, 'formation', f.formationid, pgautofailover.formation_uri(f.formationid, 'default', $1, $2, $3) "
        "  FROM pgautofailover.formation f "
        "UNION ALL "
        "SELECT DISTINCT 2, 'read-replica', n.nodecluster, "
        "       pgautofailover.formation_uri(n.formationid, n.nodecluster, $1, $2, $3) "
        "  FROM pgautofailover.node n WHERE n.groupid = 0 AND n.nodecluster <> 'default'";
    const QueryParams params{ssl.sslmode, ssl.sslrootcert, ssl.sslcrl, monitor_uri};
    if (args.output.json) {
        const auto result = client->query(
            "SELECT jsonb_pretty(jsonb_agg(jsonb_build_object('type', type, 'name', name, 'uri', uri) "
            "ORDER BY k, name)) FROM (" + rows_sql + ") AS u",
            params);
        context.out << result.text(0, 0) << "\n";
        return;
    }
    const auto result = client->query("SELECT type, name, uri FROM (" + rows_sql + ") AS u ORDER BY k, name", params);
    std::vector<UriRow> rows;
    for (std::size_t i = 0; i < result.rows.size(); ++i) {
        rows.push_back({result.text(i, 0), result.text(i, 1), result.text(i, 2)});
    }
    context.out << format_uri_table(rows);
}

// --- show standby-names --------------------------------------------------------------------

// --group, else the keeper's own group (in its own formation), else the formation's only group.
int target_group(const MonitorQueryArgs& args, const MonitorTarget& target, const std::string& formation,
                 MonitorClient& client) {
    if (args.group_given()) return args.scope.group;
    if (target.group >= 0 && formation == target.formation) return target.group;
    const auto result = client.query(
        "SELECT DISTINCT groupid FROM pgautofailover.node WHERE formationid = $1 ORDER BY groupid", {formation});
    if (result.rows.size() > 1) {
        std::string groups;
        for (std::size_t i = 0; i < result.rows.size(); ++i) groups += (i > 0 ? ", " : "") + result.text(i, 0);
        throw Error(ErrorKind::Usage, "formation \"" + formation + "\" has several groups (" + groups +
                                          "): please use --group to choose one");
    }
    const int group = result.empty() ? 0 : to_int(result.text(0, 0));
    common::logger("cli")->info("Targeting group {} in formation \"{}\"", group, formation);
    return group;
}

void show_standby_names(const MonitorQueryArgs& args, CommandContext& context) {
    const auto target = args.target.resolve();
    const std::string formation = args.formation(target);
    auto client = connect_to_monitor(target);
    require_formation(*client, formation);
    const int group = target_group(args, target, formation, *client);
    const auto result = client->query("SELECT pgautofailover.synchronous_standby_names($1::text, $2::int)",
                                      {formation, std::to_string(group)});
    const std::string names = result.empty() ? std::string() : result.text(0, 0);
    if (args.output.json) {
        nlohmann::ordered_json json;
        json["formation"] = formation;
        json["group"] = group;
        json["synchronous_standby_names"] = names;
        context.out << json.dump(4) << "\n";
    } else {
        context.out << "'" << names << "'\n";
    }
}

// The footer of every command here.
constexpr const char* kTargetHelp = kMonitorAndFormationHelp;

}  // namespace

void register_show_monitor_commands(CommandLine& command_line, CLI::App& show) {
    auto uri_args = std::make_shared<ShowUriArgs>();
    auto* uri = command_line.add_command(show, "uri", "Show the postgres uri to use to connect to autoctl nodes",
                                         [uri_args](CommandContext& context) { show_uri(*uri_args, context); });
    uri->footer(std::string(kTargetHelp) +
                "\nWithout --formation: a table of the monitor and every formation; --formation monitor\n"
                "prints the monitor's URI, --formation NAME that formation's URI.");
    uri_args->add_to(*uri, false);
    uri->add_option("--citus-cluster", uri_args->citus_cluster, "Citus read-replica cluster (with --formation)")
        ->type_name("NAME");

    auto events_args = std::make_shared<ShowEventsArgs>();
    auto* events =
        command_line.add_command(show, "events", "Prints monitor's events for a given formation and group",
                                 [events_args](CommandContext& context) { show_events(*events_args, context); });
    events->footer(kTargetHelp);
    events_args->add_to(*events, true);
    events->add_option("--count", events_args->count, "how many events to show (default: 10)")
        ->type_name("N")
        ->check(kCount);

    auto state_args = std::make_shared<MonitorQueryArgs>();
    auto* state =
        command_line.add_command(show, "state", "Prints monitor's state of nodes in a given formation and group",
                                 [state_args](CommandContext& context) { show_state(*state_args, context); });
    state->footer(std::string(kTargetHelp) +
                  "\nConnection is marked \"!\" when the monitor's health check failed, \"?\" before the\n"
                  "first health check.");
    state_args->add_to(*state, true);

    auto settings_args = std::make_shared<MonitorQueryArgs>();
    auto* settings = command_line.add_command(
        show, "settings", "Print replication settings for a formation from the monitor",
        [settings_args](CommandContext& context) { print_formation_settings(*settings_args, context); });
    settings->footer(kTargetHelp);
    settings_args->add_to(*settings, false);

    auto names_args = std::make_shared<MonitorQueryArgs>();
    auto* names = command_line.add_command(
        show, "standby-names", "Prints synchronous_standby_names for a given group",
        [names_args](CommandContext& context) { show_standby_names(*names_args, context); });
    names->footer(std::string(kTargetHelp) +
                  "\n--group defaults to the node's group, else the formation's only group.");
    names_args->add_to(*names, true);
}

}  // namespace autoctl::cli

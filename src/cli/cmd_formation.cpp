// autoctl create formation, autoctl drop formation: formations on the monitor.

#include <memory>

#include "autoctl/cli/commands.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "monitor_commands.hpp"

namespace autoctl::cli {

namespace {

using common::Error;
using common::ErrorKind;

struct CreateFormationArgs : MonitorQueryArgs {
    std::string kind;
    std::string dbname = "postgres";
    bool enable_secondary = false;
    bool disable_secondary = false;
    int number_sync_standbys = 0;
};

void create_formation(const CreateFormationArgs& args, CommandContext&) {
    if (!args.formation_given() || args.kind.empty()) {
        throw Error(ErrorKind::Usage, "Options --formation and --kind are mandatory");
    }
    const auto target = args.target.resolve();
    auto client = connect_to_monitor(target);
    const bool secondary = !args.disable_secondary;
    client->query("SELECT * FROM pgautofailover.create_formation($1, $2, $3, $4, $5)",
                  {args.scope.formation, args.kind, args.dbname, secondary ? "true" : "false",
                   std::to_string(args.number_sync_standbys)});
    common::logger("cli")->info("Created formation \"{}\" of kind \"{}\" on the monitor, with secondary {}.",
                                args.scope.formation, args.kind, secondary ? "enabled" : "disabled");
}

void drop_formation(const MonitorQueryArgs& args, CommandContext&) {
    if (!args.formation_given()) throw Error(ErrorKind::Usage, "Option --formation is mandatory");
    const auto target = args.target.resolve();
    auto client = connect_to_monitor(target);
    client->query("SELECT pgautofailover.drop_formation($1)", {args.scope.formation});
    common::logger("cli")->info("Dropped formation \"{}\" from the monitor.", args.scope.formation);
}

const CLI::Validator kNonNegative(
    [](std::string& value) -> std::string {
        if (!value.empty() && value.size() <= 9 && value.find_first_not_of("0123456789") == std::string::npos) {
            return {};
        }
        return "expected a non-negative integer, got \"" + value + "\"";
    },
    "N");

constexpr const char* kTargetHelp = kMonitorTargetHelp;

}  // namespace

void register_formation_commands(CommandLine& command_line) {
    auto* create = command_line.add_command_set(command_line.root(), "create", "Create an autoctl node, or formation");
    auto create_args = std::make_shared<CreateFormationArgs>();
    auto* formation = command_line.add_command(
        *create, "formation", "Create a new formation on the autoctl monitor",
        [create_args](CommandContext& context) { create_formation(*create_args, context); });
    formation->footer(std::string(kTargetHelp) + "\n--formation and --kind are mandatory.");
    create_args->add_to(*formation, false, false);
    formation->add_option("--kind", create_args->kind, "formation kind, either \"pgsql\" or \"citus\"")
        ->type_name("KIND")
        ->check(CLI::IsMember({"pgsql", "citus"}));
    formation->add_option("--dbname", create_args->dbname, "name for postgres database (default: postgres)")
        ->type_name("NAME");
    auto* enable = formation->add_flag("--enable-secondary", create_args->enable_secondary,
                                       "create a formation that has multiple nodes that can be used for fail over "
                                       "when others have issues (the default)");
    auto* disable = formation->add_flag("--disable-secondary", create_args->disable_secondary,
                                        "create a citus formation without nodes to fail over to");
    enable->excludes(disable);
    formation->add_option("--number-sync-standbys", create_args->number_sync_standbys,
                          "minimum number of standbys to confirm write (default: 0)")
        ->type_name("N")
        ->check(kNonNegative);

    auto* drop = command_line.add_command_set(command_line.root(), "drop", "Drop an autoctl node, or formation");
    auto drop_args = std::make_shared<MonitorQueryArgs>();
    auto* drop_formation_command = command_line.add_command(
        *drop, "formation", "Drop a formation on the autoctl monitor",
        [drop_args](CommandContext& context) { drop_formation(*drop_args, context); });
    drop_formation_command->footer(std::string(kTargetHelp) +
                                   "\n--formation is mandatory; the formation must have no nodes left.");
    drop_args->add_to(*drop_formation_command, false, false);
}

}  // namespace autoctl::cli

// autoctl config check|get|set: read and change a node's autoctl.cfg.

#include <memory>
#include <ostream>

#include "autoctl/cli/commands.hpp"
#include "autoctl/cli/options.hpp"
#include "autoctl/common/config.hpp"
#include "autoctl/common/log.hpp"

namespace autoctl::cli {

namespace {

struct ConfigGetArgs {
    PgdataOption pgdata;
    OutputOptions output;
    std::string key;
};

struct ConfigSetArgs {
    PgdataOption pgdata;
    std::string key;
    std::string value;
};

struct ConfigCheckArgs {
    PgdataOption pgdata;
    OutputOptions output;
};

void config_get(const ConfigGetArgs& args, CommandContext& context) {
    const auto config = common::Config::load(args.pgdata.paths().config);
    if (!args.key.empty()) {
        context.out << config.get(args.key) << "\n";
    } else if (args.output.json) {
        context.out << config.to_json().dump(4) << "\n";
    } else {
        context.out << config.serialize() << "\n";
    }
}

void config_set(const ConfigSetArgs& args, CommandContext& context) {
    const auto file = args.pgdata.paths().config;
    auto config = common::Config::load(file);
    config.set(args.key, args.value);
    config.save(file);
    // Print the value as read back from the file.
    context.out << common::Config::load(file).get(args.key) << "\n";
}

void config_check(const ConfigCheckArgs& args, CommandContext& context) {
    const auto file = args.pgdata.paths().config;
    const auto config = common::Config::load(file);
    common::logger("cli")->info("configuration file \"{}\" is a valid {} configuration", file.string(),
                                common::to_string(config.role()));
    if (args.output.json) {
        nlohmann::ordered_json json;
        json["config"] = config.to_json();
        context.out << json.dump(4) << "\n";
    }
}

}  // namespace

void register_config_commands(CommandLine& command_line) {
    auto* config =
        command_line.add_command_set(command_line.root(), "config", "Manages the autoctl configuration");

    auto check_args = std::make_shared<ConfigCheckArgs>();
    auto* check = command_line.add_command(
        *config, "check", "Check autoctl configuration",
        [check_args](CommandContext& context) { config_check(*check_args, context); });
    check->footer(
        "For now this checks the configuration file only (syntax, known keys, value types,\n"
        "required keys); it does not yet connect to Postgres or to the monitor.");
    check_args->pgdata.add_to(*check);
    check_args->output.add_to(*check);

    auto get_args = std::make_shared<ConfigGetArgs>();
    auto* get =
        command_line.add_command(*config, "get", "Get the value of a given autoctl configuration variable",
                                 [get_args](CommandContext& context) { config_get(*get_args, context); });
    get->footer("Without a key, prints the whole configuration file (--json: as a JSON object).");
    get_args->pgdata.add_to(*get);
    get_args->output.add_to(*get);
    get->add_option("section.key", get_args->key, "the variable, e.g. postgresql.port");

    auto set_args = std::make_shared<ConfigSetArgs>();
    auto* set =
        command_line.add_command(*config, "set", "Set the value of a given autoctl configuration variable",
                                 [set_args](CommandContext& context) { config_set(*set_args, context); });
    set->footer(
        "Validates the value, rewrites the configuration file atomically and prints the value\n"
        "read back from the file. Use -- before a value that starts with '-'.");
    set_args->pgdata.add_to(*set);
    set->add_option("section.key", set_args->key, "the variable, e.g. postgresql.port")->required();
    set->add_option("value", set_args->value, "its new value")->required();
}

}  // namespace autoctl::cli

// autoctl config check|get|set: read and change a node's autoctl.cfg.

#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>

#include "autoctl/cli/commands.hpp"
#include "autoctl/cli/options.hpp"
#include "autoctl/common/config.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/common/pid_file.hpp"

namespace autoctl::cli {

namespace {

using common::Error;
using common::ErrorKind;

struct ConfigGetArgs {
    PgdataOption pgdata;
    OutputOptions output;
    std::string key;
};

struct ConfigSetArgs {
    PgdataOption pgdata;
    std::string key;
    std::optional<std::string> value;
};

struct ConfigCheckArgs {
    PgdataOption pgdata;
    OutputOptions output;
};

void config_get(const ConfigGetArgs& args, CommandContext& context) {
    // Passwords are never printed: read them in the file (mode 0600) if needed.
    const auto config = common::Config::load(args.pgdata.paths().config).masked();
    if (!args.key.empty()) {
        context.out << config.get(args.key) << "\n";
    } else if (args.output.json) {
        context.out << config.to_json().dump(4) << "\n";
    } else {
        context.out << config.serialize() << "\n";
    }
}

// A password given on the command line shows in the process list while the command runs: without
// a value, a secret key reads it from the first line of standard input instead.
std::string value_to_set(const ConfigSetArgs& args) {
    if (args.value) return *args.value;
    if (!common::is_secret_key(args.key)) {
        throw Error(ErrorKind::Usage, "config set " + args.key +
                                          ": value is required (only a password may come from standard input)");
    }
    std::string line;
    // From a terminal: a prompt, and no echo of what is typed.
    const bool tty = ::isatty(STDIN_FILENO) == 1;
    termios saved{};
    if (tty && ::tcgetattr(STDIN_FILENO, &saved) == 0) {
        termios quiet = saved;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        std::cerr << args.key << ": " << std::flush;
    }
    const bool got = static_cast<bool>(std::getline(std::cin, line));
    if (tty) {
        ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        std::cerr << "\n";
    }
    if (!got || line.empty()) {
        throw Error(ErrorKind::Usage, "config set " + args.key +
                                          ": no value on standard input (give it on the first line, e.g. from a "
                                          "file: autoctl config set " + args.key + " < file)");
    }
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

void config_set(const ConfigSetArgs& args, CommandContext& context) {
    const auto paths = args.pgdata.paths();
    const std::string value = value_to_set(args);
    auto config = common::Config::load(paths.config);
    config.set(args.key, value);
    config.save(paths.config);
    // Print the value as read back from the file.
    context.out << common::Config::load(paths.config).masked().get(args.key) << "\n";
    // A running node applies it now (as `autoctl reload` would).
    const auto probe = common::probe_pid_file(paths.pid);
    if (probe.running) {
        if (::kill(probe.pid, SIGHUP) != 0) {
            throw Error(ErrorKind::Internal, "the value is saved, but signalling autoctl (pid " +
                                                 std::to_string(probe.pid) + ") failed: " + std::strerror(errno) +
                                                 ": run autoctl reload");
        }
        common::logger("cli")->info("Sent SIGHUP to autoctl (pid {}) to reload its configuration", probe.pid);
    }
}

void config_check(const ConfigCheckArgs& args, CommandContext& context) {
    const auto file = args.pgdata.paths().config;
    const auto config = common::Config::load(file);
    common::logger("cli")->info("configuration file \"{}\" is a valid {} configuration", file.string(),
                                common::to_string(config.role()));
    if (args.output.json) {
        nlohmann::ordered_json json;
        json["config"] = config.masked().to_json();
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
        "Validates the value, rewrites the configuration file atomically, prints the value read\n"
        "back from the file (passwords as ****) and makes a running autoctl reload it. Without a\n"
        "value, a password (replication.password) is read from the first line of standard input,\n"
        "so that it does not show in the process list. Use -- before a value that starts with '-'.");
    set_args->pgdata.add_to(*set);
    set->add_option("section.key", set_args->key, "the variable, e.g. postgresql.port")->required();
    set->add_option("value", set_args->value, "its new value (a password: standard input when absent)");
}

}  // namespace autoctl::cli

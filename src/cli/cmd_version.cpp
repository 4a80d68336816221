// autoctl version, autoctl help.

#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>

#include "autoctl/cli/commands.hpp"
#include "autoctl/cli/options.hpp"

#ifndef AUTOCTL_VERSION
#error "AUTOCTL_VERSION must be defined by the build (the CMake project version)"
#endif

namespace autoctl::cli {

std::string version_string() { return AUTOCTL_VERSION; }

void print_version(std::ostream& out, bool json) {
    if (json) {
        nlohmann::ordered_json object;
        object["autoctl"] = version_string();
        object["pg_auto_failover"] = kPgAutoFailoverVersion;
        out << object.dump(4) << "\n";
    } else {
        out << "autoctl version " << version_string() << "\n"
            << "compatible with pg_auto_failover " << kPgAutoFailoverVersion << "\n";
    }
}

void register_version_commands(CommandLine& command_line) {
    CLI::App& root = command_line.root();

    auto* help =
        command_line.add_command(root, "help", "print help message",
                                 [&root](CommandContext& context) { context.out << command_tree(root); });
    help->footer("Prints every command, command set by command set, on stdout.");

    auto output = std::make_shared<OutputOptions>();
    auto* version = command_line.add_command(
        root, "version", "print autoctl version",
        [output](CommandContext& context) { print_version(context.out, output->json); });
    output->add_to(*version);
}

}  // namespace autoctl::cli

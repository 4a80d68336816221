#pragma once
// The autoctl command tree: CLI11 underneath, pg_autoctl's conventions on top.
//
// - Commands form a tree of command sets (with sub-commands) and leaves (with an action).
// - A command set reached without a sub-command prints "<breadcrumb>: expected a command" and the
//   available commands on stderr, exit 1. Unknown commands, unknown options, unexpected arguments,
//   bad values and missing arguments give one line on stderr naming the problem, exit 1.
// - Root options -v/--verbose (counted), -q/--quiet and -V/--version are declared once, on the
//   root, and accepted anywhere on the command line.
// - --help (and -h) prints the usage of the command it follows, on stderr, exit 0, as pg_autoctl
//   does; `autoctl help` prints the whole tree on stdout.
//
// Exceptions: run() lets CLI::ParseError and autoctl::common::Error through; main() catches them
// (report_parse_error() formats CLI11's errors).

#include <CLI/CLI.hpp>
#include <functional>
#include <iosfwd>
#include <map>
#include <string>

#include "autoctl/common/error.hpp"

namespace autoctl::cli {

// An error main() logs at FATAL level, where pg_autoctl ends with log_fatal() (same exit code
// mapping as any common::Error).
class FatalError : public common::Error {
public:
    using common::Error::Error;
};

// The root options; read by commands after parsing (logging is set up from them once).
struct GlobalOptions {
    int verbose = 0;
    bool quiet = false;
    bool version = false;
};

// What a leaf's action gets.
struct CommandContext {
    std::ostream& out;  // data
    std::ostream& err;  // messages that are not log lines
    const GlobalOptions& global;
};

// A leaf's action; returns normally on success, throws autoctl::common::Error on failure.
using CommandAction = std::function<void(CommandContext&)>;

class CommandLine {
public:
    // Builds the whole command tree.
    CommandLine();
    CommandLine(const CommandLine&) = delete;
    CommandLine& operator=(const CommandLine&) = delete;

    // Parses `argv`, checks what CLI11 lets through (unknown commands and options, extra
    // arguments), sets the log level from -v/-q, and runs the selected command. Returns the exit
    // code; throws CLI::ParseError for CLI11's own errors and common::Error from the command.
    int run(int argc, const char* const argv[], std::ostream& out, std::ostream& err);

    // Prints a CLI11 parse error: the usage of the command for --help (returns 0), or one line
    // "<breadcrumb>: <problem>, see "<breadcrumb> --help"" (returns 1).
    int report_parse_error(const CLI::ParseError& error, std::ostream& err) const;

    CLI::App& root() { return app_; }
    const GlobalOptions& global() const { return global_; }

    // Tree building, used by the register_* functions. add_command_set() returns the existing
    // command set of that name under `parent` when there is one (several files add to "show").
    CLI::App* add_command_set(CLI::App& parent, const std::string& name, const std::string& description);
    CLI::App* add_command(CLI::App& parent, const std::string& name, const std::string& description,
                          CommandAction action);

private:
    CLI::App app_;
    GlobalOptions global_;
    std::map<const CLI::App*, CommandAction> actions_;
};

// "autoctl config get": the names from the root down to `app`.
std::string breadcrumb(const CLI::App& app);

// The deepest command selected by the last parse (the root when none was).
const CLI::App& selected_command(const CLI::App& root);

// A command set's listing, as pg_autoctl prints it:
//   "  autoctl config\n    check  Check ...\n    get    Get ...\n"  ('+' marks a command set).
std::string command_listing(const CLI::App& set);

// The whole tree, every command set's listing followed by a blank line, depth first.
std::string command_tree(const CLI::App& root);

// Is `app` a command set (it has visible or hidden sub-commands)?
bool is_command_set(const CLI::App& app);

}  // namespace autoctl::cli

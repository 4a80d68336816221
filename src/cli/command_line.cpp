#include "autoctl/cli/command_line.hpp"

#include <algorithm>
#include <ostream>

#include "autoctl/cli/commands.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"

namespace autoctl::cli {

namespace {

std::vector<const CLI::App*> visible_subcommands(const CLI::App& app) {
    return app.get_subcommands(
        [](const CLI::App* sub) { return !sub->get_name().empty() && !sub->get_group().empty(); });
}

std::string usage_line(const CLI::App& app) {
    std::string line = breadcrumb(app);
    if (is_command_set(app)) return line + " <command> ...";
    const auto options = app.get_options([](const CLI::Option* opt) { return opt->nonpositional(); });
    if (!options.empty()) line += " [OPTIONS]";
    for (const auto* opt : app.get_options([](const CLI::Option* o) { return o->get_positional(); })) {
        const auto name = opt->get_name(true, false);
        line += opt->get_required() ? " " + name : " [" + name + "]";
    }
    return line;
}

// pg_autoctl's help layout: "<breadcrumb>: <description>", the usage line, the help text, the
// options (CLI11's own rendering), then the available commands of a command set.
class HelpFormatter : public CLI::Formatter {
public:
    HelpFormatter() { column_width(26); }

    std::string make_help(const CLI::App* app, std::string, CLI::AppFormatMode mode) const override {
        if (mode == CLI::AppFormatMode::Sub) return make_expanded(app);
        std::string out = breadcrumb(*app) + ": " + app->get_description() + "\n";
        out += "usage: " + usage_line(*app) + "\n";
        if (const auto text = app->get_footer(); !text.empty()) out += "\n" + text + "\n";
        out += make_positionals(app);
        out += make_groups(app, mode);
        if (is_command_set(*app)) out += "\nAvailable commands:\n" + command_listing(*app);
        out += "\n";
        return out;
    }
};

// The command the user was in when parsing stopped: deepest of the first selected chain.
const CLI::App& deepest(const CLI::App& root) { return selected_command(root); }

// Problems CLI11 lets through with allow_extras(): returns the message, or "" when none.
std::string leftover_problem(const CLI::App& root) {
    const CLI::App& command = deepest(root);
    const std::string where = breadcrumb(command);
    const std::string hint = ", see \"" + where + " --help\"";

    // A second command selected at some level, through fallthrough: "config show".
    for (const CLI::App* level = &root; level != nullptr;) {
        const auto selected = level->get_subcommands();
        if (selected.size() > 1) {
            return where + ": " + selected[1]->get_name() + ": unknown command" + hint;
        }
        level = selected.empty() ? nullptr : selected.front();
    }
    for (const auto& arg : root.remaining(true)) {
        if (arg == "--") continue;
        if (arg.size() > 1 && arg.front() == '-') {
            return where + ": unknown option \"" + arg + "\"" + hint;
        }
        if (is_command_set(command)) return where + ": " + arg + ": unknown command" + hint;
        return where + ": unexpected argument \"" + arg + "\"" + hint;
    }
    return {};
}

}  // namespace

std::string breadcrumb(const CLI::App& app) {
    std::string path = app.get_name();
    for (const CLI::App* parent = app.get_parent(); parent != nullptr; parent = parent->get_parent()) {
        path = parent->get_name() + " " + path;
    }
    return path;
}

const CLI::App& selected_command(const CLI::App& root) {
    const CLI::App* current = &root;
    while (true) {
        const auto selected = current->get_subcommands();
        if (selected.empty()) return *current;
        current = selected.front();
    }
}

bool is_command_set(const CLI::App& app) {
    return !app.get_subcommands([](const CLI::App* sub) { return !sub->get_name().empty(); }).empty();
}

std::string command_listing(const CLI::App& set) {
    const auto subs = visible_subcommands(set);
    std::size_t width = 0;
    for (const auto* sub : subs) width = std::max(width, sub->get_name().size());
    std::string out = "  " + breadcrumb(set) + "\n";
    for (const auto* sub : subs) {
        out += "  ";
        out += is_command_set(*sub) ? '+' : ' ';
        out += ' ';
        out += sub->get_name();
        out.append(width - sub->get_name().size(), ' ');
        out += "  " + sub->get_description() + "\n";
    }
    return out;
}

std::string command_tree(const CLI::App& root) {
    std::string out = command_listing(root) + "\n";
    for (const auto* sub : visible_subcommands(root)) {
        if (is_command_set(*sub)) out += command_tree(*sub);
    }
    return out;
}

CommandLine::CommandLine()
    : app_("high availability for PostgreSQL, compatible with pg_auto_failover", "autoctl") {
    // Set before adding sub-commands: CLI11 copies these settings to each new sub-command.
    app_.formatter(std::make_shared<HelpFormatter>());
    app_.allow_extras();  // unknown words are reported by run(), in our words
    app_.fallthrough();   // root options are accepted after the command words too
    app_.footer("Every command also accepts -v, -vv, -vvv (more logs), -q (errors only) and -V.");
    app_.add_flag("-v,--verbose", global_.verbose, "more logs: -v info, -vv debug, -vvv trace");
    app_.add_flag("-q,--quiet", global_.quiet, "log errors only");
    app_.add_flag("-V,--version", global_.version, "print autoctl version and exit");

    // pg_autoctl's order: create, drop, config, show, get, (do), run, stop, reload, status, then
    // help and version; create monitor, postgres, coordinator, worker, then formation.
    register_monitor_node_commands(*this);
    register_keeper_node_commands(*this);
    register_citus_node_commands(*this);
    register_drop_node_commands(*this);
    register_formation_commands(*this);
    register_config_commands(*this);
    register_show_commands(*this);
    register_maintenance_commands(*this);
    register_get_commands(*this);
    register_set_commands(*this);
    register_perform_commands(*this);
    register_service_commands(*this);
    register_keeper_service_commands(*this);
    register_version_commands(*this);
}

CLI::App* CommandLine::add_command_set(CLI::App& parent, const std::string& name,
                                       const std::string& description) {
    const auto existing = parent.get_subcommands([&](const CLI::App* sub) { return sub->get_name() == name; });
    if (!existing.empty()) return existing.front();
    auto* set = parent.add_subcommand(name, description);
    set->footer("");
    return set;
}

CLI::App* CommandLine::add_command(CLI::App& parent, const std::string& name, const std::string& description,
                                   CommandAction action) {
    auto* command = parent.add_subcommand(name, description);
    command->footer("");
    actions_[command] = std::move(action);
    return command;
}

int CommandLine::run(int argc, const char* const argv[], std::ostream& out, std::ostream& err) {
    app_.parse(argc, argv);
    common::setup_logging(common::log_level_from_flags(global_.verbose, global_.quiet));

    if (global_.version) {
        print_version(out, false);
        return common::to_int(common::ExitCode::Quit);
    }
    if (const auto problem = leftover_problem(app_); !problem.empty()) {
        err << problem << "\n";
        return common::to_int(common::exit_code_for(common::ErrorKind::Usage));
    }
    const CLI::App& command = selected_command(app_);
    const auto action = actions_.find(&command);
    if (action == actions_.end()) {
        err << breadcrumb(command) << ": expected a command\n\n"
            << "Available commands:\n"
            << command_listing(command) << "\n";
        return common::to_int(common::exit_code_for(common::ErrorKind::Usage));
    }
    CommandContext context{out, err, global_};
    action->second(context);
    return common::to_int(common::ExitCode::Quit);
}

int CommandLine::report_parse_error(const CLI::ParseError& error, std::ostream& err) const {
    const CLI::App& command = deepest(app_);
    if (dynamic_cast<const CLI::CallForHelp*>(&error) != nullptr ||
        dynamic_cast<const CLI::CallForAllHelp*>(&error) != nullptr) {
        err << command.help();
        return common::to_int(common::ExitCode::Quit);
    }
    const std::string where = breadcrumb(command);
    err << where << ": " << error.what() << ", see \"" << where << " --help\"\n";
    return common::to_int(common::exit_code_for(common::ErrorKind::Usage));
}

}  // namespace autoctl::cli

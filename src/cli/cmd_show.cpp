// autoctl show file: where a node keeps its files. (The show commands that query the monitor are
// in cmd_show_monitor.cpp.)

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "autoctl/cli/commands.hpp"
#include "autoctl/cli/options.hpp"
#include "autoctl/common/config.hpp"
#include "autoctl/common/error.hpp"
#include "monitor_commands.hpp"

namespace autoctl::cli {

namespace {

struct ShowFileArgs {
    PgdataOption pgdata;
    OutputOptions output;
    bool all = false;
    bool config = false;
    bool state = false;
    bool init = false;
    bool pid = false;
};

struct FileRow {
    std::string label;  // "Config"
    std::string key;    // "config"
    std::filesystem::path path;
};

// The node's role from its configuration file; a node without one yet is shown as a keeper.
common::ConfigRole role_of(const common::NodePaths& paths) {
    std::error_code ec;
    if (!std::filesystem::exists(paths.config, ec)) return common::ConfigRole::Keeper;
    return common::Config::load(paths.config).role();
}

void show_file(const ShowFileArgs& args, CommandContext& context) {
    const auto paths = args.pgdata.paths();
    const bool is_monitor = role_of(paths) == common::ConfigRole::Monitor;
    if (is_monitor && (args.state || args.init)) {
        throw common::Error(common::ErrorKind::Usage,
                            std::string("a monitor has no ") + (args.state ? "state" : "init") + " file");
    }

    std::vector<FileRow> rows;
    const bool single = args.config || args.state || args.init || args.pid;
    if (!single || args.config) rows.push_back({"Config", "config", paths.config});
    if ((!single && !is_monitor) || args.state) rows.push_back({"State", "state", paths.state});
    if ((!single && !is_monitor) || args.init) rows.push_back({"Init", "init", paths.init});
    if (!single || args.pid) rows.push_back({"Pid", "pid", paths.pid});

    if (args.output.json) {
        nlohmann::ordered_json json = nlohmann::ordered_json::object();
        for (const auto& row : rows) json[row.key] = row.path.string();
        context.out << json.dump(4) << "\n";
        return;
    }
    if (single) {
        context.out << rows.front().path.string() << "\n";
        return;
    }
    char line[32];
    std::snprintf(line, sizeof line, "%7s | %s\n", "File", "Path");
    context.out << line << "--------+----------------\n";
    for (const auto& row : rows) {
        std::snprintf(line, sizeof line, "%7s | ", row.label.c_str());
        context.out << line << row.path.string() << "\n";
    }
    context.out << "\n";
}

}  // namespace

void register_show_commands(CommandLine& command_line) {
    auto* show = command_line.add_command_set(command_line.root(), "show", "Show autoctl information");
    register_show_monitor_commands(command_line, *show);  // uri, events, state, settings, standby-names

    auto args = std::make_shared<ShowFileArgs>();
    auto* file = command_line.add_command(*show, "file", "List autoctl internal files (config, state, pid)",
                                          [args](CommandContext& context) { show_file(*args, context); });
    file->footer("Prints the paths only. A node without a configuration file yet is shown as a keeper.");
    args->pgdata.add_to(*file);
    args->output.add_to(*file);
    auto* all = file->add_flag("--all", args->all, "all the files (the default)");
    auto* config = file->add_flag("--config", args->config, "the configuration file");
    auto* state = file->add_flag("--state", args->state, "the state file (keeper only)");
    auto* init = file->add_flag("--init", args->init, "the init file (keeper only)");
    auto* pid = file->add_flag("--pid", args->pid, "the pid file");
    const std::vector<CLI::Option*> choices{all, config, state, init, pid};
    for (std::size_t i = 0; i < choices.size(); ++i) {
        for (std::size_t j = i + 1; j < choices.size(); ++j) choices[i]->excludes(choices[j]);
    }
}

}  // namespace autoctl::cli

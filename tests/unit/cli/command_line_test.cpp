// The command tree, run in-process.

#include "autoctl/cli/command_line.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "autoctl/cli/commands.hpp"

namespace autoctl::cli {
namespace {

struct Outcome {
    int exit_code;
    std::string out;
    std::string err;
};

Outcome run(std::vector<std::string> args) {
    args.insert(args.begin(), "autoctl");
    std::vector<const char*> argv;
    for (const auto& arg : args) argv.push_back(arg.c_str());
    CommandLine command_line;
    std::ostringstream out;
    std::ostringstream err;
    int code = 0;
    try {
        code = command_line.run(static_cast<int>(argv.size()), argv.data(), out, err);
    } catch (const CLI::ParseError& error) {
        code = command_line.report_parse_error(error, err);
    }
    return {code, out.str(), err.str()};
}

TEST(CommandLineTest, RootListingHasPgAutoctlLayout) {
    ::unsetenv("PG_AUTOCTL_DEBUG");  // the debug tree lists "do" too
    CommandLine command_line;
    EXPECT_EQ(command_listing(command_line.root()),
              "  autoctl\n"
              "  + create   Create an autoctl node, or formation\n"
              "  + drop     Drop an autoctl node, or formation\n"
              "  + config   Manages the autoctl configuration\n"
              "  + show     Show autoctl information\n"
              "  + enable   Enable a feature on a formation\n"
              "  + disable  Disable a feature on a formation\n"
              "  + get      Get an autoctl node, or formation setting\n"
              "  + set      Set an autoctl node, or formation setting\n"
              "  + perform  Perform an action orchestrated by the monitor\n"
              "    run      Run the autoctl service (monitor or keeper)\n"
              "    stop     signal the autoctl service for it to stop\n"
              "    reload   signal the autoctl for it to reload its configuration\n"
              "    status   Display the current status of the autoctl service\n"
              "    help     print help message\n"
              "    version  print autoctl version\n");
}

TEST(CommandLineTest, DebugTreeListsDoService) {
    ::setenv("PG_AUTOCTL_DEBUG", "", 1);  // set, even empty, as pg_autoctl
    CommandLine command_line;
    ::unsetenv("PG_AUTOCTL_DEBUG");
    const auto tree = command_tree(command_line.root());
    EXPECT_NE(tree.find("  + do       Internal commands and sub-processes (debug)\n    run "), std::string::npos) << tree;
    EXPECT_NE(tree.find("\n  autoctl do service\n    monitor  "), std::string::npos) << tree;

    CommandLine normal;
    EXPECT_EQ(command_tree(normal.root()).find(" do "), std::string::npos);
}

TEST(CommandLineTest, TreeIsDepthFirstWithBlankLines) {
    CommandLine command_line;
    const auto tree = command_tree(command_line.root());
    const auto config = tree.find("\n  autoctl config\n");
    const auto show = tree.find("\n  autoctl show\n");
    ASSERT_NE(config, std::string::npos);
    ASSERT_NE(show, std::string::npos);
    EXPECT_LT(config, show);
    EXPECT_EQ(tree.substr(tree.size() - 2), "\n\n");
}

TEST(CommandLineTest, GetTree) {
    CommandLine command_line;
    auto* get = command_line.root().get_subcommand("get");
    EXPECT_EQ(command_listing(*get),
              "  autoctl get\n"
              "  + node       get a node property from the monitor\n"
              "  + formation  get a formation property from the monitor\n");
    EXPECT_EQ(command_listing(*get->get_subcommand("node")),
              "  autoctl get node\n"
              "    replication-quorum  get replication-quorum property from the monitor\n"
              "    candidate-priority  get candidate property from the monitor\n");
    EXPECT_EQ(command_listing(*get->get_subcommand("formation")),
              "  autoctl get formation\n"
              "    settings              get replication settings for a formation from the monitor\n"
              "    number-sync-standbys  get number_sync_standbys for a formation from the monitor\n");
}

TEST(CommandLineTest, AddCommandSetReturnsTheExistingSet) {
    CommandLine command_line;
    auto* show = command_line.root().get_subcommand("show");
    EXPECT_EQ(command_line.add_command_set(command_line.root(), "show", "other"), show);
    EXPECT_EQ(show->get_description(), "Show autoctl information");
}

TEST(CommandLineTest, BreadcrumbAndSets) {
    CommandLine command_line;
    auto* config = command_line.root().get_subcommand("config");
    auto* get = config->get_subcommand("get");
    EXPECT_EQ(breadcrumb(*get), "autoctl config get");
    EXPECT_TRUE(is_command_set(command_line.root()));
    EXPECT_TRUE(is_command_set(*config));
    EXPECT_FALSE(is_command_set(*get));
}

TEST(CommandLineTest, VerbosityIsCountedAnywhere) {
    CommandLine command_line;
    std::vector<const char*> argv{"autoctl", "-vv", "version", "-v"};
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(command_line.run(static_cast<int>(argv.size()), argv.data(), out, err), 0);
    EXPECT_EQ(command_line.global().verbose, 3);
    EXPECT_NE(out.str().find("autoctl version " + version_string()), std::string::npos);
}

TEST(CommandLineTest, HelpAndErrorsInProcess) {
    auto outcome = run({"show", "--help"});
    EXPECT_EQ(outcome.exit_code, 0);
    EXPECT_EQ(
        outcome.err.rfind("autoctl show: Show autoctl information\nusage: autoctl show <command> ...\n", 0),
        0u)
        << outcome.err;

    outcome = run({"show"});
    EXPECT_EQ(outcome.exit_code, 1);
    EXPECT_EQ(outcome.err,
              "autoctl show: expected a command\n\nAvailable commands:\n  autoctl show\n"
              "    uri            Show the postgres uri to use to connect to autoctl nodes\n"
              "    events         Prints monitor's events for a given formation and group\n"
              "    state          Prints monitor's state of nodes in a given formation and group\n"
              "    settings       Print replication settings for a formation from the monitor\n"
              "    standby-names  Prints synchronous_standby_names for a given group\n"
              "    file           List autoctl internal files (config, state, pid)\n\n");

    outcome = run({"show", "nope"});
    EXPECT_EQ(outcome.exit_code, 1);
    EXPECT_EQ(outcome.err, "autoctl show: nope: unknown command, see \"autoctl show --help\"\n");
}

}  // namespace
}  // namespace autoctl::cli

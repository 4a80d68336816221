#pragma once
// The keeper node named by --pgdata, as the operator commands that act on "this node" see it
// (enable|disable maintenance, drop node --pgdata): its files, its configuration, and where its
// monitor is. Private to src/cli.

#include <chrono>
#include <string>
#include <string_view>

#include "autoctl/cli/monitor_client.hpp"
#include "autoctl/cli/options.hpp"
#include "autoctl/common/config.hpp"
#include "autoctl/common/paths.hpp"

namespace autoctl::cli {

struct LocalKeeper {
    common::NodePaths paths;
    common::Config config;
    std::string formation;  // pg_autoctl.formation
    std::string name;       // pg_autoctl.name
};

// Loads the configuration of --pgdata (or $PGDATA). Error{Config} when it is a monitor's
// ("The command autoctl <command> does not apply to a monitor node."), and when the node has no
// name yet (it never registered).
LocalKeeper load_local_keeper(const PgdataOption& pgdata, std::string_view command);

// The keeper's monitor; Error{Config} when it runs without one.
MonitorTarget monitor_of(const LocalKeeper& keeper);

// How long to wait for the monitor's notifications: timeout.listen_notifications_timeout, or 60 s
// when it is 0 (pg_autoctl 2.0 writes 0 in new files and means its default).
std::chrono::seconds notifications_timeout(const common::Config& config);

}  // namespace autoctl::cli

#include "local_keeper.hpp"

#include "autoctl/common/error.hpp"
#include "node_support.hpp"

namespace autoctl::cli {

using common::Error;
using common::ErrorKind;

LocalKeeper load_local_keeper(const PgdataOption& pgdata, std::string_view command) {
    const auto paths = pgdata.paths();
    auto config = load_node_config(paths);
    if (config.role() == common::ConfigRole::Monitor) {
        throw Error(ErrorKind::Config,
                    "The command autoctl " + std::string(command) + " does not apply to a monitor node.");
    }
    LocalKeeper keeper{paths, config, config.get("pg_autoctl.formation"), config.get("pg_autoctl.name")};
    if (keeper.name.empty()) {
        throw Error(ErrorKind::Config, "the configuration " + paths.config.string() +
                                           " has no pg_autoctl.name: this node never registered with a monitor");
    }
    return keeper;
}

MonitorTarget monitor_of(const LocalKeeper& keeper) { return monitor_target_from_config(keeper.config); }

std::chrono::seconds notifications_timeout(const common::Config& config) {
    const auto seconds = config.get_int("timeout.listen_notifications_timeout");
    return std::chrono::seconds(seconds > 0 ? seconds : 60);
}

}  // namespace autoctl::cli

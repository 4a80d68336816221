#include "autoctl/keeper/keeper_state.hpp"

#include <nlohmann/json.hpp>

#include "autoctl/common/atomic_file.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/paths.hpp"

namespace autoctl::keeper {

namespace {

using common::Error;
using common::ErrorKind;

fsm::NodeState state_from(const nlohmann::json& json, const char* key, const std::filesystem::path& file) {
    const auto name = json.at(key).get<std::string>();
    const auto state = fsm::parse_node_state(name);
    if (!state) {
        throw Error(ErrorKind::State, "state file \"" + file.string() + "\": unknown " + key + " \"" + name + "\"");
    }
    return *state;
}

}  // namespace

std::optional<KeeperState> load_keeper_state(const std::filesystem::path& file) {
    std::error_code ec;
    if (!std::filesystem::exists(file, ec)) return std::nullopt;
    const std::string text = common::read_text_file(file, ErrorKind::State);
    try {
        const auto json = nlohmann::json::parse(text);
        KeeperState state;
        state.node_id = json.at("node_id").get<std::int64_t>();
        state.group = json.at("group").get<int>();
        state.current = state_from(json, "current_role", file);
        state.assigned = state_from(json, "assigned_role", file);
        state.last_monitor_contact = json.value("last_monitor_contact", std::int64_t{0});
        state.last_secondary_contact = json.value("last_secondary_contact", std::int64_t{0});
        state.pg_start_failures = json.value("pg_start_failures", 0);
        state.first_start_failure = json.value("first_start_failure", std::int64_t{0});
        state.standby_target_lsn = json.value("standby_target_lsn", std::string());
        return state;
    } catch (const nlohmann::json::exception& e) {
        throw Error(ErrorKind::State, "state file \"" + file.string() + "\" is not valid: " + e.what() +
                                          " (remove it only if this node was dropped from the monitor)");
    }
}

bool needs_saving(const KeeperState& saved, const KeeperState& now, std::int64_t contact_slack_s) {
    if (saved.node_id != now.node_id || saved.group != now.group || saved.current != now.current ||
        saved.assigned != now.assigned || saved.pg_start_failures != now.pg_start_failures ||
        saved.first_start_failure != now.first_start_failure || saved.standby_target_lsn != now.standby_target_lsn) {
        return true;
    }
    return now.last_monitor_contact - saved.last_monitor_contact >= contact_slack_s ||
           now.last_secondary_contact - saved.last_secondary_contact >= contact_slack_s ||
           now.last_monitor_contact < saved.last_monitor_contact ||
           now.last_secondary_contact < saved.last_secondary_contact;
}

void save_keeper_state(const std::filesystem::path& file, const KeeperState& state) {
    nlohmann::ordered_json json;
    json["node_id"] = state.node_id;
    json["group"] = state.group;
    json["current_role"] = std::string(fsm::to_string(state.current));
    json["assigned_role"] = std::string(fsm::to_string(state.assigned));
    json["last_monitor_contact"] = state.last_monitor_contact;
    json["last_secondary_contact"] = state.last_secondary_contact;
    json["pg_start_failures"] = state.pg_start_failures;
    json["first_start_failure"] = state.first_start_failure;
    json["standby_target_lsn"] = state.standby_target_lsn;
    common::create_parent_directories(file, ErrorKind::State);
    common::write_file_atomic(file, json.dump(2) + "\n", 0644, ErrorKind::State);
}

}  // namespace autoctl::keeper

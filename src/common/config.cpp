#include "autoctl/common/config.hpp"

#include <charconv>

#include "autoctl/common/atomic_file.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/paths.hpp"

namespace autoctl::common {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kNoMin = std::numeric_limits<std::int64_t>::min();
constexpr std::int64_t kNoMax = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kIntMax = std::numeric_limits<std::int32_t>::max();
constexpr bool kRequired = true;

constexpr KeySpec text(std::string_view section, std::string_view key, std::string_view def = "",
                       bool required = false) {
    return KeySpec{section, key, ValueType::String, def, required, "", kNoMin, kNoMax};
}
constexpr KeySpec secret_text(std::string_view section, std::string_view key) {
    return KeySpec{section, key, ValueType::String, "", false, "", kNoMin, kNoMax, true};
}
constexpr KeySpec path(std::string_view section, std::string_view key, bool required = false) {
    return KeySpec{section, key, ValueType::Path, "", required, "", kNoMin, kNoMax};
}
constexpr KeySpec integer(std::string_view section, std::string_view key, std::string_view def,
                          std::int64_t min, std::int64_t max, bool required = false) {
    return KeySpec{section, key, ValueType::Int, def, required, "", min, max};
}
constexpr KeySpec boolean(std::string_view section, std::string_view key, std::string_view def) {
    return KeySpec{section, key, ValueType::Bool, def, false, "", kNoMin, kNoMax};
}
constexpr KeySpec word(std::string_view section, std::string_view key, std::string_view def,
                       std::string_view allowed, bool required = false) {
    return KeySpec{section, key, ValueType::Enum, def, required, allowed, kNoMin, kNoMax};
}

constexpr std::string_view kSslModes = "disable|allow|prefer|require|verify-ca|verify-full";

// The keeper's autoctl.cfg, in the order pg_autoctl writes it.
constexpr KeySpec kKeeperKeys[] = {
    word("pg_autoctl", "role", "keeper", "keeper", kRequired),
    text("pg_autoctl", "monitor"),  // a postgres:// URI, or PG_AUTOCTL_DISABLED
    text("pg_autoctl", "formation", "default"),
    integer("pg_autoctl", "group", "0", -1, kIntMax),  // -1: not yet assigned by the monitor
    text("pg_autoctl", "name"),
    text("pg_autoctl", "hostname"),
    word("pg_autoctl", "nodekind", "standalone", "standalone|coordinator|worker"),

    path("postgresql", "pgdata", kRequired),
    path("postgresql", "pg_ctl"),
    text("postgresql", "username"),
    text("postgresql", "dbname", "postgres"),
    text("postgresql", "host"),
    integer("postgresql", "port", "", 1, 65535, kRequired),
    integer("postgresql", "proxyport", "0", 0, 65535),
    text("postgresql", "listen_addresses", "*"),
    text("postgresql", "auth_method", "trust"),
    word("postgresql", "hba_level", "minimal", "skip|minimal|app"),

    boolean("ssl", "active", "0"),
    word("ssl", "sslmode", "prefer", kSslModes),
    path("ssl", "ca_file"),
    path("ssl", "crl_file"),
    path("ssl", "cert_file"),
    path("ssl", "key_file"),

    text("replication", "maximum_backup_rate", "100M"),
    path("replication", "backup_directory"),
    secret_text("replication", "password"),

    integer("timeout", "network_partition_timeout", "20", 0, kIntMax),
    integer("timeout", "prepare_promotion_catchup", "30", 0, kIntMax),
    integer("timeout", "prepare_promotion_walreceiver", "5", 0, kIntMax),
    integer("timeout", "postgresql_restart_failure_timeout", "20", 0, kIntMax),
    integer("timeout", "postgresql_restart_failure_max_retries", "3", 0, kIntMax),
    integer("timeout", "listen_notifications_timeout", "60", 0, kIntMax),
    integer("timeout", "citus_master_update_node_lock_cooldown", "10000", 0, kIntMax),
    integer("timeout", "citus_coordinator_wait_max_retries", "100", 0, kIntMax),
    integer("timeout", "citus_coordinator_wait_timeout", "300", 0, kIntMax),

    word("citus", "role", "primary", "primary|secondary"),
    text("citus", "cluster_name"),
};

// The monitor's autoctl.cfg (note sslmode before active, as pg_autoctl writes it).
constexpr KeySpec kMonitorKeys[] = {
    word("pg_autoctl", "role", "monitor", "monitor", kRequired),
    text("pg_autoctl", "hostname"),

    path("postgresql", "pgdata", kRequired),
    path("postgresql", "pg_ctl"),
    text("postgresql", "username", "autoctl_node"),
    text("postgresql", "dbname", "pg_auto_failover"),
    text("postgresql", "host"),
    integer("postgresql", "port", "", 1, 65535, kRequired),
    text("postgresql", "listen_addresses", "*"),
    text("postgresql", "auth_method", "trust"),

    word("ssl", "sslmode", "prefer", kSslModes),
    boolean("ssl", "active", "0"),
    path("ssl", "ca_file"),
    path("ssl", "crl_file"),
    path("ssl", "cert_file"),
    path("ssl", "key_file"),

    // The monitor service's timing, named after pg_auto_failover's GUCs (pgautofailover.*), with
    // autoctl's defaults (design.md §4). Durations in milliseconds, thresholds in bytes.
    integer("monitor", "health_check_period", "1000", 100, kIntMax),
    integer("monitor", "health_check_timeout", "2000", 100, kIntMax),
    integer("monitor", "health_check_max_retries", "2", 0, 1000),
    integer("monitor", "node_considered_unhealthy_timeout", "5000", 0, kIntMax),
    integer("monitor", "startup_grace_period", "10000", 0, kIntMax),
    integer("monitor", "primary_demote_timeout", "10000", 0, kIntMax),
    integer("monitor", "enable_sync_wal_log_threshold", "16777216", 0, kNoMax),
    integer("monitor", "promote_wal_log_threshold", "16777216", 0, kNoMax),
};

// Read-only alias kept from pg_autoctl 1.x: a keeper's pg_autoctl.nodename is its hostname.
constexpr std::string_view kAliasSection = "pg_autoctl";
constexpr std::string_view kAliasKey = "nodename";
constexpr std::string_view kAliasTarget = "pg_autoctl.hostname";

const ConfigSchema kKeeperSchema{std::begin(kKeeperKeys), std::end(kKeeperKeys)};
const ConfigSchema kMonitorSchema{std::begin(kMonitorKeys), std::end(kMonitorKeys)};

bool parse_int(std::string_view text, std::int64_t& out) {
    if (text.empty()) return false;
    const char* first = text.data();
    const char* last = text.data() + text.size();
    if (*first == '+') ++first;
    const auto result = std::from_chars(first, last, out);
    return result.ec == std::errc() && result.ptr == last;
}

std::vector<std::string_view> split_allowed(std::string_view allowed) {
    std::vector<std::string_view> words;
    std::size_t pos = 0;
    while (pos <= allowed.size()) {
        const auto bar = allowed.find('|', pos);
        const auto end = bar == std::string_view::npos ? allowed.size() : bar;
        words.push_back(allowed.substr(pos, end - pos));
        pos = end + 1;
    }
    return words;
}

// Splits "section.key" at its first dot; returns false when either part is empty.
bool split_dotted(std::string_view dotted, std::string_view& section, std::string_view& key) {
    const auto dot = dotted.find('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 1 == dotted.size()) return false;
    section = dotted.substr(0, dot);
    key = dotted.substr(dot + 1);
    return true;
}

std::string quote(std::string_view text) { return "\"" + std::string(text) + "\""; }

std::string where(const std::string& origin, int line) {
    return line > 0 ? origin + ":" + std::to_string(line) : origin;
}

ConfigRole role_from_ini(const IniFile& ini, const std::string& origin) {
    const auto* entry = ini.find("pg_autoctl", "role");
    if (entry == nullptr) {
        throw Error(ErrorKind::Config,
                    origin + ": missing required key \"pg_autoctl.role\" (keeper or monitor)");
    }
    if (entry->value == "keeper") return ConfigRole::Keeper;
    if (entry->value == "monitor") return ConfigRole::Monitor;
    throw Error(ErrorKind::Config, where(origin, entry->line) + ": invalid value " + quote(entry->value) +
                                       " for \"pg_autoctl.role\": expected one of: keeper, monitor");
}

}  // namespace

std::string_view to_string(ConfigRole role) { return role == ConfigRole::Keeper ? "keeper" : "monitor"; }

std::string_view to_string(ValueType type) {
    switch (type) {
        case ValueType::String: return "string";
        case ValueType::Int: return "integer";
        case ValueType::Bool: return "boolean";
        case ValueType::Enum: return "enum";
        case ValueType::Path: return "path";
    }
    return "string";
}

std::string KeySpec::dotted() const { return std::string(section) + "." + std::string(key); }

std::string KeySpec::expected() const {
    switch (type) {
        case ValueType::String: return "a single-line string without leading or trailing spaces";
        case ValueType::Int: {
            std::string text = "an integer";
            if (min != kNoMin && max != kNoMax) {
                text += " between " + std::to_string(min) + " and " + std::to_string(max);
            } else if (min != kNoMin) {
                text += " >= " + std::to_string(min);
            } else if (max != kNoMax) {
                text += " <= " + std::to_string(max);
            }
            return text;
        }
        case ValueType::Bool: return "a boolean, 0 or 1";
        case ValueType::Enum: {
            std::string text = "one of: ";
            bool first = true;
            for (const auto word : split_allowed(allowed)) {
                if (!first) text += ", ";
                first = false;
                text += word;
            }
            return text;
        }
        case ValueType::Path: return "an absolute path";
    }
    return "a string";
}

const KeySpec* ConfigSchema::find(std::string_view section, std::string_view key) const {
    for (const auto& spec : *this) {
        if (spec.section == section && spec.key == key) return &spec;
    }
    return nullptr;
}

const ConfigSchema& schema_for(ConfigRole role) {
    return role == ConfigRole::Keeper ? kKeeperSchema : kMonitorSchema;
}

std::string check_value(const KeySpec& spec, std::string_view value) {
    if (value.empty()) return spec.required ? "a value is required, expected " + spec.expected() : "";
    if (value.find_first_of("\n\r") != std::string_view::npos || value.front() == ' ' ||
        value.front() == '\t' || value.back() == ' ' || value.back() == '\t') {
        return "expected " + spec.expected();
    }
    switch (spec.type) {
        case ValueType::String: return "";
        case ValueType::Int: {
            std::int64_t number = 0;
            if (!parse_int(value, number) || number < spec.min || number > spec.max) {
                return "expected " + spec.expected();
            }
            return "";
        }
        case ValueType::Bool: return value == "0" || value == "1" ? "" : "expected " + spec.expected();
        case ValueType::Enum:
            for (const auto word : split_allowed(spec.allowed)) {
                if (value == word) return "";
            }
            return "expected " + spec.expected();
        case ValueType::Path: return value.front() == '/' ? "" : "expected " + spec.expected();
    }
    return "";
}

Config::Config(ConfigRole role) : role_(role) {
    for (const auto& spec : schema()) values_.emplace_back(spec.default_value);
}

Config Config::with_defaults(ConfigRole role) { return Config(role); }

Config Config::load(const fs::path& file) {
    std::error_code ec;
    if (!fs::exists(file, ec)) {
        throw Error(ErrorKind::Config, "configuration file " + quote(file.string()) + " does not exist");
    }
    return from_ini(IniFile::read(file), file.string());
}

Config Config::from_ini(const IniFile& ini, const std::string& origin) {
    Config config(role_from_ini(ini, origin));
    const auto& schema = config.schema();
    const IniEntry* alias = nullptr;

    for (const auto& section : ini.sections()) {
        for (const auto& entry : section.entries) {
            const auto* spec = schema.find(section.name, entry.key);
            if (spec == nullptr && config.role_ == ConfigRole::Keeper && section.name == kAliasSection &&
                entry.key == kAliasKey) {
                alias = &entry;
                continue;
            }
            if (spec == nullptr) {
                throw Error(ErrorKind::Config, where(origin, entry.line) + ": unknown key " +
                                                   quote(section.name + "." + entry.key) + " in a " +
                                                   std::string(to_string(config.role_)) + " configuration");
            }
            if (const auto problem = check_value(*spec, entry.value); !problem.empty()) {
                throw Error(ErrorKind::Config, where(origin, entry.line) + ": invalid value " +
                                                   quote(entry.value) + " for " + quote(spec->dotted()) +
                                                   ": " + problem);
            }
            config.values_[static_cast<std::size_t>(spec - schema.begin())] = entry.value;
        }
    }
    if (alias != nullptr && ini.find("pg_autoctl", "hostname") == nullptr) {
        config.values_[config.index_of(kAliasTarget)] = alias->value;
    }
    config.check_required(origin);
    return config;
}

std::size_t Config::index_of(std::string_view dotted_key) const {
    std::string_view section;
    std::string_view key;
    if (split_dotted(dotted_key, section, key)) {
        const auto& s = schema();
        if (const auto* spec = s.find(section, key); spec != nullptr) {
            return static_cast<std::size_t>(spec - s.begin());
        }
    }
    throw Error(ErrorKind::Usage, "unknown configuration key " + quote(dotted_key) + " for a " +
                                      std::string(to_string(role_)) +
                                      ", expected \"section.key\" as listed by \"autoctl config get\"");
}

std::string Config::get(std::string_view dotted_key) const {
    if (role_ == ConfigRole::Keeper && dotted_key == "pg_autoctl.nodename") {
        return values_[index_of(kAliasTarget)];
    }
    return values_[index_of(dotted_key)];
}

std::int64_t Config::get_int(std::string_view dotted_key) const {
    const auto index = index_of(dotted_key);
    std::int64_t number = 0;
    if (!parse_int(values_[index], number)) {
        throw Error(ErrorKind::Config, quote(dotted_key) + " has no integer value");
    }
    return number;
}

bool Config::get_bool(std::string_view dotted_key) const { return get(dotted_key) == "1"; }

void Config::set(std::string_view dotted_key, std::string_view value) {
    if (role_ == ConfigRole::Keeper && dotted_key == "pg_autoctl.nodename") {
        throw Error(ErrorKind::Usage,
                    "\"pg_autoctl.nodename\" is a read-only alias, set \"pg_autoctl.hostname\"");
    }
    const auto index = index_of(dotted_key);
    const auto& spec = *(schema().begin() + index);
    if (const auto problem = check_value(spec, value); !problem.empty()) {
        throw Error(ErrorKind::Config,
                    "invalid value " + quote(value) + " for " + quote(spec.dotted()) + ": " + problem);
    }
    values_[index] = std::string(value);
}

void Config::check_required(const std::string& origin) const {
    std::size_t index = 0;
    for (const auto& spec : schema()) {
        if (spec.required && values_[index].empty()) {
            throw Error(ErrorKind::Config, origin + ": missing required key " + quote(spec.dotted()) + " (" +
                                               spec.expected() + ")");
        }
        ++index;
    }
}

IniFile Config::to_ini() const {
    IniFile ini;
    std::size_t index = 0;
    for (const auto& spec : schema()) {
        const auto& value = values_[index++];
        if (!value.empty()) ini.set(spec.section, spec.key, value);
    }
    return ini;
}

nlohmann::ordered_json Config::to_json() const {
    nlohmann::ordered_json json = nlohmann::ordered_json::object();
    std::size_t index = 0;
    for (const auto& spec : schema()) {
        const auto& value = values_[index++];
        if (value.empty()) continue;
        auto& section = json[std::string(spec.section)];
        std::int64_t number = 0;
        if ((spec.type == ValueType::Int || spec.type == ValueType::Bool) && parse_int(value, number)) {
            section[std::string(spec.key)] = number;
        } else {
            section[std::string(spec.key)] = value;
        }
    }
    return json;
}

bool is_secret_key(std::string_view dotted_key) {
    const auto dot = dotted_key.find('.');
    if (dot == std::string_view::npos) return false;
    for (const auto role : {ConfigRole::Keeper, ConfigRole::Monitor}) {
        const KeySpec* spec = schema_for(role).find(dotted_key.substr(0, dot), dotted_key.substr(dot + 1));
        if (spec != nullptr && spec->secret) return true;
    }
    return false;
}

Config Config::masked() const {
    Config copy = *this;
    std::size_t index = 0;
    for (const auto& spec : schema()) {
        auto& value = copy.values_[index++];
        if (spec.secret && !value.empty()) value = "****";
    }
    return copy;
}

void Config::save(const fs::path& file) const {
    check_required(file.string());
    create_parent_directories(file, ErrorKind::Config);
    write_file_atomic(file, serialize(), 0600, ErrorKind::Config);
}

}  // namespace autoctl::common

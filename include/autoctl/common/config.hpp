#pragma once
// Typed autoctl.cfg files: the keeper and monitor schemas, loading, validation and saving.
//
// Each schema is declared once, as a table of KeySpec rows in the order pg_autoctl writes the
// keys (reference §6). `pg_autoctl.role` chooses the schema. Values are kept as the strings
// stored in the file; every write goes through the same validation as a load.

#include <cstdint>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "autoctl/common/ini_file.hpp"

namespace autoctl::common {

enum class ConfigRole { Keeper, Monitor };
std::string_view to_string(ConfigRole role);  // "keeper", "monitor"

enum class ValueType {
    String,  // any single-line text without leading or trailing spaces
    Int,     // a decimal integer, within [min, max]
    Bool,    // 0 or 1
    Enum,    // one of the allowed words
    Path,    // an absolute path
};
std::string_view to_string(ValueType type);

struct KeySpec {
    std::string_view section;
    std::string_view key;
    ValueType type;
    std::string_view default_value;  // "" = none; an empty value is not written to the file
    bool required;
    std::string_view allowed;  // Enum: allowed words separated by '|'
    std::int64_t min;          // Int only
    std::int64_t max;          // Int only
    bool secret = false;       // a password: masked in everything autoctl prints (Config::masked)

    std::string dotted() const;    // "section.key"
    std::string expected() const;  // "an integer between 1 and 65535", "one of: skip, minimal, app"
};

// A schema is a fixed table; iterate it with range-for.
struct ConfigSchema {
    const KeySpec* first;
    const KeySpec* last;
    const KeySpec* begin() const { return first; }
    const KeySpec* end() const { return last; }
    const KeySpec* find(std::string_view section, std::string_view key) const;
};

const ConfigSchema& schema_for(ConfigRole role);

// Whether "section.key" is a password in any role's schema (replication.password).
bool is_secret_key(std::string_view dotted_key);

// Checks `value` against `spec`; returns the empty string when valid, else what is wrong
// (e.g. "expected an integer between 1 and 65535"). Empty values are valid unless required.
std::string check_value(const KeySpec& spec, std::string_view value);

class Config {
public:
    // Every key at its default; required keys without a default are empty until set.
    static Config with_defaults(ConfigRole role);

    // Loads and validates a file. Every problem is Error{ErrorKind::Config} naming the file:
    // missing file, syntax error (with the line), unknown `pg_autoctl.role`, unknown key, invalid
    // value (naming the key, the value and the expected type), missing required key.
    static Config load(const std::filesystem::path& file);

    // Same as load() on already-parsed text; `origin` names the source in error messages.
    static Config from_ini(const IniFile& ini, const std::string& origin);

    ConfigRole role() const { return role_; }
    const ConfigSchema& schema() const { return schema_for(role_); }

    // Value of "section.key" (the default when the file did not set it). An unknown key throws
    // Error{ErrorKind::Usage}.
    std::string get(std::string_view dotted_key) const;
    std::int64_t get_int(std::string_view dotted_key) const;
    bool get_bool(std::string_view dotted_key) const;

    // Sets "section.key" after validation. Unknown key: Error{ErrorKind::Usage}; invalid value:
    // Error{ErrorKind::Config}.
    void set(std::string_view dotted_key, std::string_view value);

    // Throws Error{ErrorKind::Config} naming the first required key that is empty.
    void check_required(const std::string& origin) const;

    // The file contents: keys in schema order, empty values left out.
    IniFile to_ini() const;
    std::string serialize() const { return to_ini().serialize(); }

    // {"section": {"key": value}} in schema order; Int and Bool values as numbers.
    nlohmann::ordered_json to_json() const;

    // A copy with every non-empty secret value (replication.password) replaced by "****", for
    // everything autoctl prints: config get/set, --json.
    Config masked() const;

    // Writes the file atomically with mode 0600 (it may hold a password), creating its
    // directories (0755).
    void save(const std::filesystem::path& file) const;

private:
    explicit Config(ConfigRole role);
    std::size_t index_of(std::string_view dotted_key) const;  // throws Error{Usage}

    ConfigRole role_;
    std::vector<std::string> values_;  // one per schema row, in schema order
};

}  // namespace autoctl::common

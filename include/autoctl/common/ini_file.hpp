#pragma once
// A small INI reader and writer with pg_autoctl's conventions.
//
// Syntax: "[section]" headers, "key = value" lines, full-line comments starting with '#' or ';',
// blank lines. Keys and values are trimmed; a value is everything after the first '=' (so it may
// contain '=', '#' or ';'), and is never unquoted. A key outside any section, a duplicate key in a
// section, and any other line are errors that name the file and the line. A repeated section
// header continues the earlier section.
//
// Sections and keys keep their order. Writing gives "[section]" then "key = value" lines, with one
// blank line between sections; comments are not kept.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace autoctl::common {

struct IniEntry {
    std::string key;
    std::string value;
    int line = 0;  // where it was read (0 when set in memory)
};

struct IniSection {
    std::string name;
    std::vector<IniEntry> entries;
    int line = 0;
};

class IniFile {
public:
    // Parses text; `origin` names the source in error messages (a file name). Throws
    // Error{ErrorKind::Config} with "<origin>:<line>: <problem>".
    static IniFile parse(std::string_view text, const std::string& origin);

    // Reads and parses a file. A missing or unreadable file throws Error{ErrorKind::Config}.
    static IniFile read(const std::filesystem::path& path);

    std::string serialize() const;

    const std::vector<IniSection>& sections() const { return sections_; }
    const IniSection* find_section(std::string_view section) const;
    const IniEntry* find(std::string_view section, std::string_view key) const;
    std::optional<std::string> get(std::string_view section, std::string_view key) const;

    // Replaces the value of an existing key, or appends the key (and the section) at the end.
    void set(std::string_view section, std::string_view key, std::string_view value);
    // Removes a key; returns whether it existed. Empty sections are kept.
    bool erase(std::string_view section, std::string_view key);

private:
    IniSection& section_for_write(std::string_view section);

    std::vector<IniSection> sections_;
};

}  // namespace autoctl::common

#include "autoctl/common/ini_file.hpp"

#include "autoctl/common/atomic_file.hpp"
#include "autoctl/common/error.hpp"

namespace autoctl::common {

namespace {

std::string_view trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t\r");
    return text.substr(first, last - first + 1);
}

bool is_valid_name(std::string_view name) {
    if (name.empty()) return false;
    for (const char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '_' || c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

[[noreturn]] void fail(const std::string& origin, int line, const std::string& problem) {
    throw Error(ErrorKind::Config, origin + ":" + std::to_string(line) + ": " + problem);
}

}  // namespace

IniFile IniFile::parse(std::string_view text, const std::string& origin) {
    IniFile ini;
    IniSection* current = nullptr;
    int line_number = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto end = text.find('\n', pos);
        const auto raw = text.substr(pos, end == std::string_view::npos ? text.size() - pos : end - pos);
        pos = end == std::string_view::npos ? text.size() : end + 1;
        ++line_number;

        const auto line = trim(raw);
        if (line.empty() || line.front() == '#' || line.front() == ';') continue;

        if (line.front() == '[') {
            if (line.back() != ']') {
                fail(origin, line_number, "expected \"[section]\", got \"" + std::string(line) + "\"");
            }
            const auto name = trim(line.substr(1, line.size() - 2));
            if (!is_valid_name(name)) {
                fail(origin, line_number, "invalid section name \"" + std::string(name) + "\"");
            }
            current = &ini.section_for_write(name);
            if (current->line == 0) current->line = line_number;
            continue;
        }

        const auto equal = line.find('=');
        if (equal == std::string_view::npos) {
            fail(origin, line_number, "expected \"key = value\", got \"" + std::string(line) + "\"");
        }
        const auto key = trim(line.substr(0, equal));
        const auto value = trim(line.substr(equal + 1));
        if (!is_valid_name(key)) {
            fail(origin, line_number, "invalid key name \"" + std::string(key) + "\"");
        }
        if (current == nullptr) {
            fail(origin, line_number, "key \"" + std::string(key) + "\" is outside of any [section]");
        }
        for (const auto& entry : current->entries) {
            if (entry.key == key) {
                fail(origin, line_number,
                     "duplicate key \"" + current->name + "." + std::string(key) + "\" (first set on line " +
                         std::to_string(entry.line) + ")");
            }
        }
        current->entries.push_back(IniEntry{std::string(key), std::string(value), line_number});
    }
    return ini;
}

IniFile IniFile::read(const std::filesystem::path& path) {
    return parse(read_text_file(path, ErrorKind::Config), path.string());
}

std::string IniFile::serialize() const {
    std::string out;
    bool first = true;
    for (const auto& section : sections_) {
        if (!first) out += '\n';
        first = false;
        out += '[';
        out += section.name;
        out += "]\n";
        for (const auto& entry : section.entries) {
            out += entry.key;
            out += " = ";
            out += entry.value;
            out += '\n';
        }
    }
    return out;
}

const IniSection* IniFile::find_section(std::string_view section) const {
    for (const auto& s : sections_) {
        if (s.name == section) return &s;
    }
    return nullptr;
}

const IniEntry* IniFile::find(std::string_view section, std::string_view key) const {
    const auto* s = find_section(section);
    if (s == nullptr) return nullptr;
    for (const auto& entry : s->entries) {
        if (entry.key == key) return &entry;
    }
    return nullptr;
}

std::optional<std::string> IniFile::get(std::string_view section, std::string_view key) const {
    const auto* entry = find(section, key);
    if (entry == nullptr) return std::nullopt;
    return entry->value;
}

void IniFile::set(std::string_view section, std::string_view key, std::string_view value) {
    auto& s = section_for_write(section);
    for (auto& entry : s.entries) {
        if (entry.key == key) {
            entry.value = std::string(value);
            return;
        }
    }
    s.entries.push_back(IniEntry{std::string(key), std::string(value), 0});
}

bool IniFile::erase(std::string_view section, std::string_view key) {
    for (auto& s : sections_) {
        if (s.name != section) continue;
        for (auto it = s.entries.begin(); it != s.entries.end(); ++it) {
            if (it->key == key) {
                s.entries.erase(it);
                return true;
            }
        }
    }
    return false;
}

IniSection& IniFile::section_for_write(std::string_view section) {
    for (auto& s : sections_) {
        if (s.name == section) return s;
    }
    sections_.push_back(IniSection{std::string(section), {}, 0});
    return sections_.back();
}

}  // namespace autoctl::common

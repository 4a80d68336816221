// Text helpers for commands: shell quoting for display and the tail of a program's output.

#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "autoctl/pg/command.hpp"

namespace autoctl::pg {

namespace {

bool is_safe_shell_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::strchr("_@%+=:,./-", c) != nullptr;
}

}  // namespace

std::string shell_quote(std::string_view word) {
    if (word.empty()) return "''";
    bool safe = true;
    for (const char c : word) {
        if (c == '\0' || !is_safe_shell_char(c)) {
            safe = false;
            break;
        }
    }
    if (safe) return std::string(word);
    std::string quoted = "'";
    for (const char c : word) {
        if (c == '\'') {
            quoted += "'\\''";
        } else {
            quoted += c;
        }
    }
    quoted += '\'';
    return quoted;
}

std::string last_lines(std::string_view text, std::size_t count) {
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        auto line = text.substr(start, end - start);
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
            line.remove_suffix(1);
        }
        if (!line.empty()) lines.push_back(line);
        start = end + 1;
    }
    const std::size_t first = lines.size() > count ? lines.size() - count : 0;
    std::string joined;
    for (std::size_t i = first; i < lines.size(); ++i) {
        if (!joined.empty()) joined += "; ";
        joined += lines[i];
    }
    return joined;
}

}  // namespace autoctl::pg

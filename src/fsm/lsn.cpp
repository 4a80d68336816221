#include "autoctl/fsm/lsn.hpp"

#include <cstdio>

namespace autoctl::fsm {

std::string Lsn::to_string() const {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(value >> 32),
                  static_cast<unsigned>(value & 0xffffffffu));
    return buf;
}

namespace {

std::optional<std::uint32_t> parse_hex32(std::string_view text) {
    if (text.empty() || text.size() > 8) return std::nullopt;
    std::uint32_t result = 0;
    for (char c : text) {
        int digit;
        if (c >= '0' && c <= '9') digit = c - '0';
        else if (c >= 'a' && c <= 'f') digit = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') digit = c - 'A' + 10;
        else return std::nullopt;
        result = (result << 4) | static_cast<std::uint32_t>(digit);
    }
    return result;
}

}  // namespace

std::optional<Lsn> Lsn::parse(std::string_view text) {
    auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    auto high = parse_hex32(text.substr(0, slash));
    auto low = parse_hex32(text.substr(slash + 1));
    if (!high || !low) return std::nullopt;
    return Lsn{(static_cast<std::uint64_t>(*high) << 32) | *low};
}

}  // namespace autoctl::fsm

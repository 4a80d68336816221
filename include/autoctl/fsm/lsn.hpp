#pragma once
// A WAL position. Stored as one 64-bit number; converted to Postgres's "X/Y" text only at the edges.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace autoctl::fsm {

struct Lsn {
    std::uint64_t value = 0;

    constexpr bool is_zero() const { return value == 0; }
    friend constexpr bool operator==(Lsn a, Lsn b) { return a.value == b.value; }
    friend constexpr bool operator!=(Lsn a, Lsn b) { return a.value != b.value; }
    friend constexpr bool operator<(Lsn a, Lsn b) { return a.value < b.value; }
    friend constexpr bool operator<=(Lsn a, Lsn b) { return a.value <= b.value; }
    friend constexpr bool operator>(Lsn a, Lsn b) { return a.value > b.value; }
    friend constexpr bool operator>=(Lsn a, Lsn b) { return a.value >= b.value; }

    std::string to_string() const;                              // "16/B374D848"
    static std::optional<Lsn> parse(std::string_view text);     // nullopt when malformed
};

// |a - b| in bytes.
constexpr std::uint64_t lsn_distance(Lsn a, Lsn b) {
    return a.value > b.value ? a.value - b.value : b.value - a.value;
}

}  // namespace autoctl::fsm

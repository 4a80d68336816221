#pragma once
// Where the PostgreSQL programs (initdb, pg_ctl, postgres, pg_controldata, ...) are installed.
//
// Searched in this order, the first hit wins:
//   1. $AUTOCTL_PG_BINDIR (must contain pg_ctl)
//   2. `$PG_CONFIG --bindir`
//   3. /usr/lib/postgresql/15/bin, when it exists (Debian's PostgreSQL 15)
//   4. `pg_config --bindir`, with pg_config found in PATH

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace autoctl::pg {

inline constexpr std::string_view kDebianPg15Bindir = "/usr/lib/postgresql/15/bin";

struct PgBindir {
    std::filesystem::path dir;
    std::string source;  // how it was found, for logs: "AUTOCTL_PG_BINDIR", "PG_CONFIG", ...

    // The full path of one program in this directory: program("pg_ctl").
    std::filesystem::path program(std::string_view name) const { return dir / std::string(name); }

    // The directory of a configured pg_ctl path (the config key postgresql.pg_ctl).
    static PgBindir from_pg_ctl(const std::filesystem::path& pg_ctl);
};

// Throws Error{Command} naming the places searched when none has the programs.
PgBindir find_bindir();

// The same search, nullopt instead of an error (tests skip when Postgres is not installed).
std::optional<PgBindir> try_find_bindir();

}  // namespace autoctl::pg

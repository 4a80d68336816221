#include "autoctl/pg/bindir.hpp"

#include <unistd.h>

#include <cstdlib>

#include "autoctl/common/error.hpp"
#include "autoctl/pg/command.hpp"

namespace autoctl::pg {

using common::Error;
using common::ErrorKind;

namespace {

bool has_pg_ctl(const std::filesystem::path& dir) {
    std::error_code ec;
    const auto pg_ctl = dir / "pg_ctl";
    return std::filesystem::is_regular_file(pg_ctl, ec) && ::access(pg_ctl.c_str(), X_OK) == 0;
}

std::string env_or_empty(const char* name) {
    const char* value = std::getenv(name);
    return value != nullptr ? value : "";
}

// `pg_config --bindir`; throws Error{Command} when it fails.
std::filesystem::path bindir_from_pg_config(const std::string& pg_config) {
    auto result = Command(pg_config).arg("--bindir").c_locale().timeout(std::chrono::seconds(30)).run();
    std::string dir = result.out;
    while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r' || dir.back() == ' ')) dir.pop_back();
    if (dir.empty()) throw Error(ErrorKind::Command, "\"" + pg_config + " --bindir\" printed nothing");
    if (!has_pg_ctl(dir)) {
        throw Error(ErrorKind::Command, "\"" + pg_config + " --bindir\" gave \"" + dir + "\", which has no pg_ctl");
    }
    return dir;
}

bool pg_config_in_path() {
    const std::string path = env_or_empty("PATH");
    std::size_t start = 0;
    while (start <= path.size()) {
        auto end = path.find(':', start);
        if (end == std::string::npos) end = path.size();
        const auto candidate = std::filesystem::path(end > start ? path.substr(start, end - start) : ".") / "pg_config";
        if (::access(candidate.c_str(), X_OK) == 0) return true;
        start = end + 1;
    }
    return false;
}

}  // namespace

PgBindir PgBindir::from_pg_ctl(const std::filesystem::path& pg_ctl) {
    return PgBindir{pg_ctl.parent_path(), "pg_ctl path " + pg_ctl.string()};
}

PgBindir find_bindir() {
    if (const auto dir = env_or_empty("AUTOCTL_PG_BINDIR"); !dir.empty()) {
        if (!has_pg_ctl(dir)) {
            throw Error(ErrorKind::Command, "AUTOCTL_PG_BINDIR is \"" + dir + "\", which has no pg_ctl");
        }
        return PgBindir{dir, "AUTOCTL_PG_BINDIR"};
    }
    if (const auto pg_config = env_or_empty("PG_CONFIG"); !pg_config.empty()) {
        try {
            return PgBindir{bindir_from_pg_config(pg_config), "PG_CONFIG"};
        } catch (const Error& e) {
            throw e.with_context("PG_CONFIG is \"" + pg_config + "\"");
        }
    }
    if (has_pg_ctl(std::string(kDebianPg15Bindir))) return PgBindir{std::string(kDebianPg15Bindir), "debian default"};
    if (pg_config_in_path()) return PgBindir{bindir_from_pg_config("pg_config"), "pg_config in PATH"};
    throw Error(ErrorKind::Command,
                "could not find the PostgreSQL programs: set AUTOCTL_PG_BINDIR to their directory, set PG_CONFIG "
                "to a pg_config program, install PostgreSQL 15 in " +
                    std::string(kDebianPg15Bindir) + ", or put pg_config in PATH");
}

std::optional<PgBindir> try_find_bindir() {
    try {
        return find_bindir();
    } catch (const Error&) {
        return std::nullopt;
    }
}

}  // namespace autoctl::pg

#include "support/citus_support.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "autoctl/common/error.hpp"
#include "autoctl/pg/bindir.hpp"
#include "autoctl/pg/command.hpp"

#ifndef AUTOCTL_SOURCE_DIR
#error "AUTOCTL_SOURCE_DIR must name the source tree (tests/fixtures)"
#endif

namespace autoctl::fixture {

namespace fs = std::filesystem;

bool real_citus_installed() {
    static const bool installed = [] {
        const auto bindir = pg::try_find_bindir();
        if (!bindir) return false;
        try {
            auto result = pg::Command(bindir->program("pg_config").string()).arg("--pkglibdir").run_unchecked();
            std::string dir = result.out;
            while (!dir.empty() && (dir.back() == '\n' || dir.back() == '\r')) dir.pop_back();
            std::error_code ec;
            if (result.is_success() && !dir.empty()) return fs::exists(fs::path(dir) / "citus.so", ec);
        } catch (const common::Error&) {
        }
        return false;
    }();
    return installed;
}

std::string citus_flavour() {
    return real_citus_installed() ? "real Citus" : "the Citus emulation (tests/fixtures/citus_emulation.sql)";
}

std::string citus_emulation_sql() {
    const fs::path file = fs::path(AUTOCTL_SOURCE_DIR) / "tests" / "fixtures" / "citus_emulation.sql";
    std::ifstream in(file);
    if (!in) throw common::Error(common::ErrorKind::Internal, "cannot read " + file.string());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

PgClusterOptions citus_cluster_options() {
    PgClusterOptions options;
    options.settings.push_back({"max_prepared_transactions", "20"});
    if (real_citus_installed()) options.settings.push_back({"shared_preload_libraries", "citus"});
    return options;
}

void install_citus(pg::Connection& conn) {
    if (real_citus_installed()) {
        conn.exec("CREATE EXTENSION IF NOT EXISTS citus");
    } else {
        conn.exec(citus_emulation_sql());
    }
}

}  // namespace autoctl::fixture

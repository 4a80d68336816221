// Finding the PostgreSQL programs: AUTOCTL_PG_BINDIR, then PG_CONFIG, then Debian's directory.
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "autoctl/common/error.hpp"
#include "autoctl/pg/bindir.hpp"

namespace autoctl::pg {
namespace {

// Saves and restores the variables find_bindir() reads (each test runs in its own process under
// ctest, but not when the binary runs all tests at once).
class BindirTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!try_find_bindir()) GTEST_SKIP() << "PostgreSQL is not installed";
        for (const char* name : {"AUTOCTL_PG_BINDIR", "PG_CONFIG"}) {
            const char* value = std::getenv(name);
            saved_.emplace_back(name, value != nullptr ? std::optional<std::string>(value) : std::nullopt);
            ::unsetenv(name);
        }
        real_ = find_bindir().dir;
    }
    void TearDown() override {
        for (const auto& [name, value] : saved_) {
            if (value) {
                ::setenv(name.c_str(), value->c_str(), 1);
            } else {
                ::unsetenv(name.c_str());
            }
        }
    }
    std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
    std::filesystem::path real_;
};

TEST_F(BindirTest, EnvironmentVariableWins) {
    ::setenv("AUTOCTL_PG_BINDIR", real_.c_str(), 1);
    const auto found = find_bindir();
    EXPECT_EQ(found.dir, real_);
    EXPECT_EQ(found.source, "AUTOCTL_PG_BINDIR");
    EXPECT_EQ(found.program("pg_ctl"), real_ / "pg_ctl");
}

TEST_F(BindirTest, EnvironmentVariableWithoutPgCtlIsAClearError) {
    ::setenv("AUTOCTL_PG_BINDIR", "/nonexistent/autoctl/bin", 1);
    try {
        find_bindir();
        FAIL();
    } catch (const common::Error& e) {
        EXPECT_EQ(e.kind(), common::ErrorKind::Command);
        EXPECT_NE(std::string(e.what()).find("/nonexistent/autoctl/bin"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(try_find_bindir());
}

TEST_F(BindirTest, PgConfigIsAsked) {
    ::setenv("PG_CONFIG", (real_ / "pg_config").c_str(), 1);
    const auto found = find_bindir();
    EXPECT_EQ(found.source, "PG_CONFIG");
    EXPECT_EQ(std::filesystem::canonical(found.dir), std::filesystem::canonical(real_));

    ::setenv("PG_CONFIG", "/nonexistent/pg_config", 1);
    EXPECT_THROW(find_bindir(), common::Error);
}

TEST_F(BindirTest, FromPgCtlPath) {
    const auto bindir = PgBindir::from_pg_ctl(real_ / "pg_ctl");
    EXPECT_EQ(bindir.dir, real_);
}

}  // namespace
}  // namespace autoctl::pg

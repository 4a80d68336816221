#pragma once
// Test environment for tests that run Postgres: an unprivileged OS user, temporary directories
// that user owns, and free TCP ports.
//
// Postgres refuses to run as root. When the tests run as root (CI, containers), TestUser makes
// sure the OS user "autoctl-test" exists (creating it with useradd) and Postgres programs run as
// that user through pg::RunAs; otherwise they run as the current user.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "autoctl/pg/command.hpp"

namespace autoctl::fixture {

inline constexpr std::string_view kTestUserName = "autoctl-test";
inline constexpr std::string_view kTestUserHome = "/var/lib/autoctl-test";

class TestUser {
public:
    // The process-wide test user; the first call may create the OS user (when root).
    static const TestUser& get();

    const std::string& name() const { return name_; }
    uid_t uid() const { return uid_; }
    gid_t gid() const { return gid_; }
    // Whether programs must switch to this user (we are root): then run_as() has a value.
    bool is_other_user() const { return run_as_.has_value(); }
    const std::optional<pg::RunAs>& run_as() const { return run_as_; }

private:
    TestUser() = default;
    std::string name_;
    uid_t uid_ = 0;
    gid_t gid_ = 0;
    std::optional<pg::RunAs> run_as_;
};

// A fresh directory /tmp/<prefix>XXXXXX with mode 0700, owned by the test user, removed with
// everything in it at scope exit, unless AUTOCTL_KEEP_TMP is set (then its path is printed).
class TempDir {
public:
    explicit TempDir(std::string_view prefix = "autoctl-pg-");
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir();

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path operator/(std::string_view name) const { return path_ / std::string(name); }

private:
    std::filesystem::path path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
int free_port();

// Gives `path` to the test user (no-op unless we are root).
void chown_to_test_user(const std::filesystem::path& path);

}  // namespace autoctl::fixture

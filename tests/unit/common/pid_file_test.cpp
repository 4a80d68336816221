// The pid file: parsing, and the lock that tells a live supervisor from a stale file, across
// processes (POSIX record locks do not conflict within one process, so the holder is a child).

#include "autoctl/common/pid_file.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autoctl/common/error.hpp"
#include "../../support/temp_dir.hpp"

namespace autoctl::common {
namespace {

PidFileContents contents_for(pid_t pid) {
    PidFileContents c;
    c.pid = pid;
    c.pgdata = "/data/monitor";
    c.version = "0.1.0";
    return c;
}

// A child process that holds the pid file until it is killed.
pid_t hold_in_child(const std::filesystem::path& path) {
    int ready[2];
    if (::pipe(ready) != 0) return -1;
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(ready[0]);
        try {
            auto file = PidFile::acquire(path, contents_for(::getpid()));
            char ok = 'y';
            if (::write(ready[1], &ok, 1) != 1) ::_exit(2);
            while (true) ::pause();
        } catch (...) {
            ::_exit(1);
        }
    }
    ::close(ready[1]);
    char ok = 0;
    const bool acquired = ::read(ready[0], &ok, 1) == 1 && ok == 'y';
    ::close(ready[0]);
    return acquired ? pid : -1;
}

TEST(PidFileTest, ParsesAndFormats) {
    PidFileContents c = contents_for(42);
    c.services = {{43, "postgres"}, {44, "monitor service"}};
    const std::string text = format_pid_file(c);
    EXPECT_EQ(text, "42\n/data/monitor\n0.1.0\n43 postgres\n44 monitor service\n");
    const auto parsed = parse_pid_file(text);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->pid, 42);
    EXPECT_EQ(parsed->services, c.services);
    EXPECT_FALSE(parse_pid_file(""));
    EXPECT_FALSE(parse_pid_file("abc\n"));
    EXPECT_FALSE(parse_pid_file("-3\n"));
}

TEST(PidFileTest, MissingFileIsNotRunning) {
    test::TempDir dir;
    const auto probe = probe_pid_file(dir / "nope/autoctl.pid");
    EXPECT_FALSE(probe.running);
    EXPECT_EQ(probe.pid, 0);
}

TEST(PidFileTest, LiveHolderIsRunningAndStaleFileIsTakenOver) {
    test::TempDir dir;
    const auto path = dir / "run/autoctl/data/autoctl.pid";
    const pid_t child = hold_in_child(path);
    ASSERT_GT(child, 0);

    auto probe = probe_pid_file(path);
    EXPECT_TRUE(probe.running);
    EXPECT_EQ(probe.pid, child);
    try {
        PidFile::acquire(path, contents_for(::getpid()));
        ADD_FAILURE() << "acquired a pid file another process holds";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::State);
        EXPECT_NE(std::string(e.what()).find("already running with pid " + std::to_string(child)), std::string::npos)
            << e.what();
    }

    // kill -9: the kernel drops the lock; the file stays, stale.
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
    probe = probe_pid_file(path);
    EXPECT_FALSE(probe.running);
    EXPECT_EQ(probe.pid, child);

    auto file = PidFile::acquire(path, contents_for(::getpid()));
    EXPECT_EQ(file.stale_pid(), child);
    PidFileContents updated = contents_for(::getpid());
    updated.services = {{7, "postgres"}};
    file.update(updated);
    EXPECT_EQ(test::read_text(path), format_pid_file(updated));
    file.release();
    EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace autoctl::common

// pg::Command runs real programs: argv never goes through a shell, the environment reaches only
// the child, timeouts kill the process group, and run_as switches to the test user.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "autoctl/common/error.hpp"
#include "autoctl/pg/command.hpp"
#include "support/test_env.hpp"

namespace autoctl::pg {
namespace {

using common::Error;
using common::ErrorKind;
using fixture::TempDir;
using fixture::TestUser;
using namespace std::chrono_literals;

bool process_gone(pid_t pid) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')');
    return text.empty() || (paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z');
}

// Polls `condition` until it holds or `limit` passes.
template <typename F>
bool wait_until(F condition, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

TEST(Command, ArgumentsAreNotInterpretedByAShell) {
    TempDir dir("autoctl-cmd-");
    const auto marker = dir / "pwned";
    const std::string nasty = "x; touch " + marker.string() + "; rm -rf " + (dir / "nothing").string();
    const auto result = Command("/bin/echo").arg(nasty).arg("$(id)").arg("`id`").arg("*").arg("a  b").arg("").run();
    EXPECT_EQ(result.out, nasty + " $(id) `id` * a  b \n");
    EXPECT_FALSE(std::filesystem::exists(marker));
    EXPECT_EQ(result.exit_status, 0);
}

TEST(Command, StandardInputIsDevNullOrTheGivenFile) {
    EXPECT_EQ(Command("/bin/cat").run().out, "");
    TempDir dir("autoctl-cmd-");
    const auto file = dir / "input";
    std::ofstream(file) << "first line\nsecond\n";
    EXPECT_EQ(Command("/bin/cat").input_file(file).run().out, "first line\nsecond\n");
}

TEST(Command, ProgramIsFoundInPath) {
    const auto result = Command("echo").arg("hello").run();
    EXPECT_EQ(result.out, "hello\n");
}

TEST(Command, EnvironmentReachesOnlyTheChild) {
    ASSERT_EQ(std::getenv("AUTOCTL_TEST_SECRET"), nullptr);
    Command cmd("/usr/bin/env");
    cmd.env("AUTOCTL_TEST_SECRET", "s3cret value; $(id)");
    const auto result = cmd.run();
    EXPECT_NE(result.out.find("\nAUTOCTL_TEST_SECRET=s3cret value; $(id)\n"), std::string::npos);
    EXPECT_EQ(std::getenv("AUTOCTL_TEST_SECRET"), nullptr);
    EXPECT_EQ(cmd.display().find("s3cret"), std::string::npos);
    EXPECT_NE(result.out.find("PATH="), std::string::npos);  // inherited
}

TEST(Command, ClearEnvKeepsOnlyTheAdditions) {
    const auto result = Command("/usr/bin/env").clear_env().env("ONLY", "this").c_locale().run();
    EXPECT_EQ(result.out, "ONLY=this\nLANG=C\nLC_ALL=C\n");
}

TEST(Command, WorkingDirectory) {
    TempDir dir("autoctl-cmd-");
    const auto result = Command("/bin/pwd").cwd(dir.path()).run();
    EXPECT_EQ(result.out, dir.path().string() + "\n");
}

TEST(Command, FailureNamesProgramStatusAndLastStderrLines) {
    try {
        Command("/bin/sh").arg("-c").arg("echo one >&2; echo two >&2; echo 'last words' >&2; exit 3").run();
        FAIL() << "expected an error";
    } catch (const Error& e) {
        const std::string message = e.what();
        EXPECT_EQ(e.kind(), ErrorKind::Command);
        EXPECT_NE(message.find("\"sh\""), std::string::npos) << message;
        EXPECT_NE(message.find("status 3"), std::string::npos) << message;
        EXPECT_NE(message.find("last words"), std::string::npos) << message;
    }
}

TEST(Command, RunUncheckedReturnsTheStatus) {
    const auto result = Command("/bin/sh").arg("-c").arg("echo out; echo err >&2; exit 4").run_unchecked();
    EXPECT_EQ(result.exit_status, 4);
    EXPECT_EQ(result.out, "out\n");
    EXPECT_EQ(result.err, "err\n");
    EXPECT_FALSE(result.is_success());
}

TEST(Command, MissingProgramIsAClearError) {
    try {
        Command("autoctl-no-such-program").run();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Command);
        EXPECT_NE(std::string(e.what()).find("not found"), std::string::npos) << e.what();
    }
    try {
        Command("/nonexistent/bin/prog").run();
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("could not execute"), std::string::npos) << e.what();
    }
}

TEST(Command, TimeoutKillsTheWholeProcessGroup) {
    // The shell starts a grandchild in the same process group and prints its pid.
    const auto started = std::chrono::steady_clock::now();
    const auto result = Command("/bin/sh")
                            .arg("-c")
                            .arg("sleep 60 & echo $!; wait")
                            .timeout(300ms)
                            .run_unchecked();
    const auto elapsed = std::chrono::steady_clock::now() - started;
    EXPECT_TRUE(result.timed_out);
    EXPECT_EQ(result.term_signal, SIGKILL);
    EXPECT_LT(elapsed, 10s);
    EXPECT_GE(elapsed, 300ms);
    const pid_t grandchild = static_cast<pid_t>(std::stol(result.out));
    EXPECT_TRUE(wait_until([&] { return process_gone(grandchild); }, 5s)) << "grandchild " << grandchild << " survived";
}

TEST(Command, TimeoutIsAnErrorFromRun) {
    try {
        Command("/bin/sleep").arg("60").timeout(100ms).run();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Command);
        EXPECT_NE(std::string(e.what()).find("timed out"), std::string::npos) << e.what();
    }
}

TEST(Command, LargeOutputOnBothStreamsDoesNotDeadlock) {
    const auto result = Command("/bin/sh")
                            .arg("-c")
                            .arg("head -c 1000000 /dev/zero; head -c 700000 /dev/zero >&2")
                            .timeout(60s)
                            .run();
    EXPECT_EQ(result.out.size(), 1000000u);
    EXPECT_EQ(result.err.size(), 700000u);
}

TEST(Command, GrandchildHoldingThePipeDoesNotBlock) {
    // The child exits at once, but leaves a background process with our stdout open.
    const auto started = std::chrono::steady_clock::now();
    const auto result = Command("/bin/sh").arg("-c").arg("sleep 30 & echo $!").timeout(20s).run();
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
    const pid_t grandchild = static_cast<pid_t>(std::stol(result.out));
    ::kill(grandchild, SIGKILL);  // our own process's descendant, by its pid
}

TEST(Command, OutputToFile) {
    TempDir dir("autoctl-cmd-");
    const auto file = dir / "out.log";
    Command("/bin/sh").arg("-c").arg("echo to-out; echo to-err >&2").output_file(file).run();
    std::ifstream in(file);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text, "to-out\nto-err\n");
}

TEST(Command, StartBackgroundReturnsAProcessGroupLeader) {
    const pid_t pid = Command("/bin/sleep").arg("60").output(Output::Discard).start_background();
    ASSERT_GT(pid, 0);
    EXPECT_EQ(::getpgid(pid), pid);
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGTERM);

    EXPECT_THROW(Command("/bin/true").start_background(), Error);  // Output::Capture
    EXPECT_THROW(Command("/nonexistent/prog").output(Output::Discard).start_background(), Error);
}

TEST(Command, RunAsRunsAsTheTestUser) {
    const auto& user = TestUser::get();
    if (!user.is_other_user()) GTEST_SKIP() << "not root: run_as needs privileges";
    const auto uid = Command("/usr/bin/id").arg("-u").run_as(*user.run_as()).run();
    EXPECT_EQ(uid.out, std::to_string(user.uid()) + "\n");
    const auto gid = Command("/usr/bin/id").arg("-g").run_as(*user.run_as()).run();
    EXPECT_EQ(gid.out, std::to_string(user.gid()) + "\n");
    const auto groups = Command("/usr/bin/id").arg("-G").run_as(*user.run_as()).run();
    std::istringstream group_ids(groups.out);
    for (std::string id; group_ids >> id;) EXPECT_NE(id, "0") << "root's group kept: " << groups.out;
    const auto env = Command("/usr/bin/env").run_as(*user.run_as()).run();
    EXPECT_NE(env.out.find("\nUSER=" + user.name() + "\n"), std::string::npos) << env.out;
    const auto pwd = Command("/bin/pwd").run_as(*user.run_as()).run();
    EXPECT_EQ(pwd.out, "/\n");
}

TEST(Command, RunAsUnknownUserIsAnError) {
    EXPECT_THROW(RunAs::user("autoctl-no-such-user"), Error);
}

}  // namespace
}  // namespace autoctl::pg

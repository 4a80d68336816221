// The supervisor with real child processes (/bin/sleep, /bin/sh): restart of a killed service,
// stop on a signal, and a fatal exit status. The stop signal is sent to the thread that runs the
// supervisor (pthread_kill): it is the one that blocks it and waits for it.

#include "autoctl/common/supervisor.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

extern char** environ;

namespace autoctl::common {
namespace {

using namespace std::chrono_literals;

pid_t spawn(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);  // the supervisor blocks signals: not its children
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, args[0], nullptr, &attr, args.data(), environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) throw Error(ErrorKind::Command, "posix_spawn failed");
    return pid;
}

bool alive(pid_t pid) { return ::kill(pid, 0) == 0; }

template <typename F>
bool wait_until(F condition, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
    return true;
}

struct Starts {
    std::mutex mutex;
    std::vector<pid_t> pids;
    void add(pid_t pid) {
        std::lock_guard<std::mutex> lock(mutex);
        pids.push_back(pid);
    }
    std::vector<pid_t> get() {
        std::lock_guard<std::mutex> lock(mutex);
        return pids;
    }
};

ServiceSpec sleeper(const std::string& name, Starts& starts) {
    ServiceSpec spec;
    spec.name = name;
    spec.start = [&starts] {
        const pid_t pid = spawn({"/bin/sleep", "30"});
        starts.add(pid);
        return pid;
    };
    spec.smart_signal = SIGTERM;
    spec.first_restart_delay = 0ms;
    return spec;
}

TEST(SupervisorTest, RestartsAKilledServiceAndStopsOnSigterm) {
    Starts first, second;
    SupervisorOptions options;
    options.role = "test";
    Supervisor supervisor(options, {sleeper("first", first), sleeper("second", second)});
    const pthread_t runner = ::pthread_self();

    std::thread driver([&] {
        if (!wait_until([&] { return first.get().size() == 1 && second.get().size() == 1; }, 5s)) return;
        ::kill(first.get()[0], SIGKILL);
        if (!wait_until([&] { return first.get().size() == 2; }, 5s)) return;
        ::pthread_kill(runner, SIGTERM);
    });
    const auto result = supervisor.run();
    driver.join();

    EXPECT_EQ(result.exit_code, ExitCode::Quit) << result.message;
    ASSERT_EQ(first.get().size(), 2u);
    ASSERT_EQ(second.get().size(), 1u);
    for (const pid_t pid : {first.get()[0], first.get()[1], second.get()[0]}) EXPECT_FALSE(alive(pid)) << pid;
}

TEST(SupervisorTest, FatalExitStatusStopsEverything) {
    Starts other;
    ServiceSpec failing;
    failing.name = "failing";
    failing.start = [] { return spawn({"/bin/sh", "-c", "exit 122"}); };
    SupervisorOptions options;
    options.role = "test";
    Supervisor supervisor(options, {sleeper("other", other), failing});
    const auto result = supervisor.run();
    EXPECT_EQ(result.exit_code, ExitCode::Fatal);
    EXPECT_NE(result.message.find("failing"), std::string::npos) << result.message;
    ASSERT_EQ(other.get().size(), 1u);
    EXPECT_FALSE(alive(other.get()[0]));
}

TEST(SupervisorTest, GivesUpOnAServiceThatKeepsDying) {
    ServiceSpec dying;
    dying.name = "dying";
    dying.start = [] { return spawn({"/bin/sh", "-c", "exit 1"}); };
    dying.first_restart_delay = 0ms;
    dying.backoff_base = 1ms;
    dying.max_restart_delay = 5ms;
    SupervisorOptions options;
    options.role = "test";
    options.max_restarts = 3;
    Supervisor supervisor(options, {dying});
    const auto result = supervisor.run();
    EXPECT_EQ(result.exit_code, ExitCode::Fatal);
    EXPECT_NE(result.message.find("giving up"), std::string::npos) << result.message;
}

// A data node's Postgres follows the keeper's expected status: Stop stops it (fast signal) without
// a restart, Run starts it again, Leave neither starts nor restarts it. SIGUSR1 makes the
// supervisor look at once.
TEST(SupervisorTest, FollowsWhatTheServiceWants) {
    Starts starts;
    std::atomic<Wanted> wanted{Wanted::Run};
    ServiceSpec spec = sleeper("postgres", starts);
    spec.fast_signal = SIGINT;
    spec.wanted = [&wanted] { return wanted.load(); };
    SupervisorOptions options;
    options.role = "test";
    Supervisor supervisor(options, {spec});
    const pthread_t runner = ::pthread_self();

    std::vector<std::string> failures;
    std::thread driver([&] {
        auto check = [&](bool ok, const char* what) {
            if (!ok) failures.push_back(what);
            return ok;
        };
        if (!check(wait_until([&] { return starts.get().size() == 1; }, 5s), "first start")) return;
        wanted = Wanted::Stop;
        ::pthread_kill(runner, SIGUSR1);
        if (!check(wait_until([&] { return !alive(starts.get()[0]); }, 5s), "stopped on Stop")) return;
        check(!wait_until([&] { return starts.get().size() > 1; }, 300ms), "not restarted while Stop");
        wanted = Wanted::Run;
        ::pthread_kill(runner, SIGUSR1);
        if (!check(wait_until([&] { return starts.get().size() == 2; }, 5s), "started again on Run")) return;
        wanted = Wanted::Leave;
        ::kill(starts.get()[1], SIGKILL);
        if (!check(wait_until([&] { return !alive(starts.get()[1]); }, 5s), "killed")) return;
        check(!wait_until([&] { return starts.get().size() > 2; }, 300ms), "not restarted while Leave");
        ::pthread_kill(runner, SIGTERM);
    });
    const auto result = supervisor.run();
    driver.join();
    EXPECT_TRUE(failures.empty()) << failures.front();
    EXPECT_EQ(result.exit_code, ExitCode::Quit) << result.message;
    EXPECT_EQ(starts.get().size(), 2u);
    for (const pid_t pid : starts.get()) EXPECT_FALSE(alive(pid)) << pid;
}

TEST(SupervisorTest, RestartsForeverAServiceThatSaysSo) {
    Starts starts;
    ServiceSpec dying;
    dying.name = "dying";
    dying.start = [&starts] {
        const pid_t pid = spawn({"/bin/sh", "-c", "exit 1"});
        starts.add(pid);
        return pid;
    };
    dying.first_restart_delay = 0ms;
    dying.backoff_base = 1ms;
    dying.max_restart_delay = 5ms;
    dying.restart_forever = true;
    SupervisorOptions options;
    options.role = "test";
    options.max_restarts = 3;
    Supervisor supervisor(options, {dying});
    const pthread_t runner = ::pthread_self();
    std::thread driver([&] {
        wait_until([&] { return starts.get().size() >= 10; }, 20s);
        ::pthread_kill(runner, SIGTERM);
    });
    const auto result = supervisor.run();
    driver.join();
    EXPECT_EQ(result.exit_code, ExitCode::Quit) << result.message;
    EXPECT_GE(starts.get().size(), 10u);
}

}  // namespace
}  // namespace autoctl::common

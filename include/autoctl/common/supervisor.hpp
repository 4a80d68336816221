#pragma once
// The supervisor of `autoctl run` (design.md §1, reference §9): one process that starts a node's
// services (postgres, then the monitor service or the keeper), restarts them when they die, and
// stops them in order on a signal.
//
//   SIGTERM  stop cleanly: services are stopped one at a time, last started first, each with its
//            `smart` signal, and each is waited for before the next one is signalled
//   SIGINT   stop fast: every service gets its `fast` signal at once
//   SIGQUIT  stop immediately: every service gets its `immediate` signal at once
//   SIGHUP   reload: on_reload(), then each running service gets its reload signal
//   SIGUSR1  look at once at what each service `wanted` (otherwise looked at every second)
//
// A stronger stop signal during a stop upgrades it. A service that does not exit within its
// stop_timeout gets its immediate signal, then SIGKILL 10 s later.
//
// Restarts: a service that dies outside a stop is restarted after first_restart_delay; when it
// dies again without having run for 10 s the delay doubles from backoff_base up to
// max_restart_delay. Exit status 121 (the node was dropped) stops the supervisor cleanly; exit
// status 122 (fatal), or more than max_restarts restarts of one service within restart_window,
// stops it with a failure (unless the service has restart_forever).
//
// A service with `wanted` runs only while it answers Run: on Stop it gets its fast signal and is
// not restarted when it exits; on Leave it is neither started nor stopped (a data node's Postgres
// follows the keeper's expected status this way, see keeper/supervised_postgres.hpp).
//
// Children are reaped by pid (waitpid(pid)), never waitpid(-1): pg::Command reaps its own.
// The supervisor blocks SIGTERM, SIGINT, SIGQUIT, SIGHUP and SIGCHLD while it runs and waits for
// them with sigtimedwait(); call run() from the main thread before any other thread exists.

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <functional>
#include <string>
#include <vector>

#include "autoctl/common/error.hpp"
#include "autoctl/common/pid_file.hpp"

namespace autoctl::common {

enum class ShutdownMode { Smart = 0, Fast = 1, Immediate = 2 };

std::string_view to_string(ShutdownMode mode);  // "smart", "fast", "immediate"

// What a service with `wanted` should be doing now.
enum class Wanted { Run, Stop, Leave };

struct ServiceSpec {
    std::string name;  // "postgres", "monitor service"
    // Starts the service's process and returns its pid (a child of this process). Throws on
    // failure; the failure counts as a death for the restart policy.
    std::function<pid_t()> start;
    // Optional: false while the service must not start yet (e.g. until postgres is ready).
    std::function<bool()> can_start;
    // Optional: whether it should run at all now (see above); without it, Run. Must not throw.
    std::function<Wanted()> wanted;
    // Restarted however often it dies: something else (the keeper) decides what a dying service
    // means, and max_restarts does not stop the supervisor for it.
    bool restart_forever = false;

    int smart_signal = SIGTERM;
    int fast_signal = SIGINT;
    int immediate_signal = SIGQUIT;
    int reload_signal = SIGHUP;
    std::chrono::milliseconds stop_timeout{60000};

    std::chrono::milliseconds first_restart_delay{0};
    std::chrono::milliseconds backoff_base{250};
    std::chrono::milliseconds max_restart_delay{1000};
};

struct SupervisorOptions {
    std::string role;                 // log prefix: "monitor: postgres started with pid 123"
    PidFile* pid_file = nullptr;      // rewritten with the service pids (optional)
    PidFileContents pid_contents;     // the first lines of the pid file
    std::function<void()> on_reload;  // SIGHUP, before the services are signalled; may throw
    int max_restarts = 10;
    std::chrono::seconds restart_window{300};
};

struct SupervisorResult {
    ExitCode exit_code = ExitCode::Quit;  // Quit after a stop on a signal or a dropped node
    std::string message;                  // why it stopped with a failure
};

class Supervisor {
public:
    Supervisor(SupervisorOptions options, std::vector<ServiceSpec> services);
    ~Supervisor();
    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // Runs until every service is stopped after a stop signal (or a fatal service failure).
    SupervisorResult run();

private:
    struct Service;
    void start_due(std::chrono::steady_clock::time_point now);
    void reap(std::chrono::steady_clock::time_point now);
    void on_exit(Service& service, int status, std::chrono::steady_clock::time_point now);
    void schedule_restart(Service& service, std::chrono::steady_clock::time_point now, const std::string& how);
    void request_stop(ShutdownMode mode, const std::string& why);
    void drive_stop(std::chrono::steady_clock::time_point now);
    void reload();
    void refresh_wanted();
    void follow_wanted(std::chrono::steady_clock::time_point now);
    std::chrono::milliseconds next_wait(std::chrono::steady_clock::time_point now) const;
    void update_pid_file();
    bool any_running() const;

    SupervisorOptions options_;
    std::vector<Service> services_;
    bool stopping_ = false;
    ShutdownMode mode_ = ShutdownMode::Smart;
    SupervisorResult result_;
};

}  // namespace autoctl::common

#include "autoctl/common/supervisor.hpp"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <optional>

#include "autoctl/common/log.hpp"

namespace autoctl::common {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

// Nothing is polled faster than this when idle: children's deaths and signals wake the loop at
// once, restart delays and stop escalations set their own deadlines.
constexpr milliseconds kIdleWait{1000};
constexpr milliseconds kStoppingWait{100};
constexpr milliseconds kKillAfter{10000};      // after the immediate signal, before SIGKILL
constexpr std::chrono::seconds kHealthyRun{10};  // a run this long resets the backoff

const char* signal_name(int sig) {
    switch (sig) {
        case SIGTERM: return "SIGTERM";
        case SIGINT: return "SIGINT";
        case SIGQUIT: return "SIGQUIT";
        case SIGHUP: return "SIGHUP";
        case SIGUSR1: return "SIGUSR1";
        case SIGKILL: return "SIGKILL";
        case SIGCHLD: return "SIGCHLD";
        case SIGSEGV: return "SIGSEGV";
        case SIGABRT: return "SIGABRT";
        default: return nullptr;
    }
}

std::string describe_signal(int sig) {
    const char* name = signal_name(sig);
    return name != nullptr ? std::string(name) : "signal " + std::to_string(sig);
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "was killed by " + describe_signal(WTERMSIG(status));
    return "stopped (status " + std::to_string(status) + ")";
}

std::string describe_delay(milliseconds delay) {
    if (delay.count() == 0) return "now";
    if (delay.count() % 1000 == 0) return "in " + std::to_string(delay.count() / 1000) + " s";
    return "in " + std::to_string(delay.count()) + " ms";
}

}  // namespace

std::string_view to_string(ShutdownMode mode) {
    switch (mode) {
        case ShutdownMode::Smart: return "smart";
        case ShutdownMode::Fast: return "fast";
        case ShutdownMode::Immediate: return "immediate";
    }
    return "smart";
}

struct Supervisor::Service {
    ServiceSpec spec;
    pid_t pid = 0;
    Clock::time_point started{};
    Clock::time_point next_start{};
    int quick_failures = 0;                // deaths in a row without a healthy run
    std::deque<Clock::time_point> restarts;  // within the restart window
    std::optional<ShutdownMode> signalled;   // the stop signal sent, if any
    Clock::time_point signalled_at{};
    int escalation = 0;                      // 1: immediate signal sent on timeout, 2: SIGKILL sent
    bool gave_up = false;
    bool stop_wanted = false;                // signalled because `wanted` said Stop
    Wanted wanted = Wanted::Run;             // spec.wanted(), asked once per wake-up (it may read a file)

    int stop_signal(ShutdownMode mode) const {
        switch (mode) {
            case ShutdownMode::Smart: return spec.smart_signal;
            case ShutdownMode::Fast: return spec.fast_signal;
            case ShutdownMode::Immediate: return spec.immediate_signal;
        }
        return spec.smart_signal;
    }
};

Supervisor::Supervisor(SupervisorOptions options, std::vector<ServiceSpec> services) : options_(std::move(options)) {
    for (auto& spec : services) {
        Service service;
        service.spec = std::move(spec);
        services_.push_back(std::move(service));
    }
}

Supervisor::~Supervisor() = default;

SupervisorResult Supervisor::run() {
    auto log = logger(options_.role);
    sigset_t set;
    sigemptyset(&set);
    for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD, SIGUSR1}) sigaddset(&set, sig);
    sigset_t previous;
    ::pthread_sigmask(SIG_BLOCK, &set, &previous);

    refresh_wanted();
    start_due(Clock::now());
    while (true) {
        const auto wait_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(next_wait(Clock::now())).count();
        timespec wait{static_cast<time_t>(wait_ns / 1000000000), static_cast<long>(wait_ns % 1000000000)};
        siginfo_t info{};
        const int sig = ::sigtimedwait(&set, &info, &wait);
        switch (sig) {
            case SIGTERM: request_stop(ShutdownMode::Smart, "received SIGTERM"); break;
            case SIGINT: request_stop(ShutdownMode::Fast, "received SIGINT"); break;
            case SIGQUIT: request_stop(ShutdownMode::Immediate, "received SIGQUIT"); break;
            case SIGHUP: reload(); break;
            default: break;  // SIGCHLD, SIGUSR1, timeout, EINTR: look at the children below
        }
        const auto now = Clock::now();
        refresh_wanted();
        reap(now);
        if (stopping_) {
            drive_stop(now);
            if (!any_running()) break;
        } else {
            follow_wanted(now);
            start_due(now);
        }
    }
    ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    if (result_.exit_code == ExitCode::Quit) {
        log->info("{}: stopped", options_.role);
    } else {
        log->error("{}: stopped: {}", options_.role, result_.message);
    }
    return result_;
}

bool Supervisor::any_running() const {
    return std::any_of(services_.begin(), services_.end(), [](const Service& s) { return s.pid > 0; });
}

milliseconds Supervisor::next_wait(Clock::time_point now) const {
    if (stopping_) return kStoppingWait;
    milliseconds wait = kIdleWait;
    for (const auto& s : services_) {
        if (s.pid > 0 || s.gave_up) continue;
        if (s.next_start <= now) {
            // Due but not started: can_start said no; ask again soon.
            if (s.spec.can_start) wait = std::min(wait, kStoppingWait);
            continue;
        }
        wait = std::min(wait, std::chrono::duration_cast<milliseconds>(s.next_start - now) + milliseconds(1));
    }
    return std::max(wait, milliseconds(1));
}

void Supervisor::refresh_wanted() {
    for (auto& s : services_) s.wanted = s.spec.wanted ? s.spec.wanted() : Wanted::Run;
}

void Supervisor::follow_wanted(Clock::time_point now) {
    auto log = logger(options_.role);
    for (auto& s : services_) {
        if (s.wanted != Wanted::Stop || s.pid <= 0 || s.stop_wanted) continue;
        log->info("{}: stopping {} (pid {}) as asked: sending {}", options_.role, s.spec.name, s.pid,
                  describe_signal(s.spec.fast_signal));
        if (::kill(s.pid, s.spec.fast_signal) != 0 && errno != ESRCH) {
            log->warn("{}: failed to signal {} (pid {}): {}", options_.role, s.spec.name, s.pid, std::strerror(errno));
        }
        s.stop_wanted = true;
        s.signalled_at = now;
    }
}

void Supervisor::update_pid_file() {
    if (options_.pid_file == nullptr || !options_.pid_file->held()) return;
    PidFileContents contents = options_.pid_contents;
    contents.services.clear();
    for (const auto& s : services_) {
        if (s.pid > 0) contents.services.emplace_back(s.pid, s.spec.name);
    }
    try {
        options_.pid_file->update(contents);
    } catch (const Error& e) {
        logger(options_.role)->warn("{}: {}", options_.role, e.what());
    }
}

void Supervisor::start_due(Clock::time_point now) {
    auto log = logger(options_.role);
    for (auto& s : services_) {
        if (s.pid > 0 || now < s.next_start) continue;
        if (s.wanted != Wanted::Run) continue;
        if (s.spec.can_start && !s.spec.can_start()) continue;
        try {
            s.pid = s.spec.start();
            s.started = Clock::now();
            s.signalled.reset();
            s.escalation = 0;
            s.stop_wanted = false;
            log->info("{}: {} started with pid {}", options_.role, s.spec.name, s.pid);
            update_pid_file();
        } catch (const std::exception& e) {
            s.pid = 0;
            log->error("{}: failed to start {}: {}", options_.role, s.spec.name, e.what());
            schedule_restart(s, now, "failed to start");
            if (stopping_) return;
        }
    }
}

void Supervisor::reap(Clock::time_point now) {
    for (auto& s : services_) {
        if (s.pid <= 0) continue;
        int status = 0;
        const pid_t reaped = ::waitpid(s.pid, &status, WNOHANG);
        if (reaped == s.pid) {
            on_exit(s, status, now);
        } else if (reaped < 0 && errno == ECHILD) {
            logger(options_.role)->warn("{}: {} (pid {}) is not our child any more", options_.role, s.spec.name, s.pid);
            s.pid = 0;
            update_pid_file();
        }
    }
}

void Supervisor::on_exit(Service& s, int status, Clock::time_point now) {
    auto log = logger(options_.role);
    const pid_t pid = s.pid;
    s.pid = 0;
    update_pid_file();
    const std::string how = describe_status(status);
    if (stopping_) {
        log->info("{}: {} (pid {}) {}", options_.role, s.spec.name, pid, how);
        return;
    }
    if (s.stop_wanted) {
        log->info("{}: {} (pid {}) {}: stopped as asked", options_.role, s.spec.name, pid, how);
        s.stop_wanted = false;
        s.quick_failures = 0;
        s.next_start = now;
        return;
    }
    if (s.wanted == Wanted::Leave) {
        // Nobody asked for it to run: not a failure, and not restarted until asked.
        log->info("{}: {} (pid {}) {}", options_.role, s.spec.name, pid, how);
        s.next_start = now;
        return;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == to_int(ExitCode::Dropped)) {
        log->info("{}: {} (pid {}) {}: this node was dropped", options_.role, s.spec.name, pid, how);
        request_stop(ShutdownMode::Fast, "the node was dropped");
        return;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == to_int(ExitCode::Fatal)) {
        log->error("{}: {} (pid {}) {}: a fatal error, it is not restarted", options_.role, s.spec.name, pid, how);
        result_ = {ExitCode::Fatal, s.spec.name + " failed with a fatal error (see its log above)"};
        request_stop(ShutdownMode::Fast, s.spec.name + " failed");
        return;
    }
    if (now - s.started >= kHealthyRun) s.quick_failures = 0;
    schedule_restart(s, now, "(pid " + std::to_string(pid) + ") " + how);
}

void Supervisor::schedule_restart(Service& s, Clock::time_point now, const std::string& how) {
    auto log = logger(options_.role);
    s.restarts.push_back(now);
    while (!s.restarts.empty() && now - s.restarts.front() > options_.restart_window) s.restarts.pop_front();
    if (!s.spec.restart_forever && static_cast<int>(s.restarts.size()) > options_.max_restarts) {
        s.gave_up = true;
        const std::string message = s.spec.name + " died " + std::to_string(s.restarts.size()) + " times within " +
                                    std::to_string(options_.restart_window.count()) + " s: giving up";
        log->error("{}: {} {}; {}", options_.role, s.spec.name, how, message);
        result_ = {ExitCode::Fatal, message};
        request_stop(ShutdownMode::Fast, s.spec.name + " keeps failing");
        return;
    }
    milliseconds delay = s.spec.first_restart_delay;
    if (s.quick_failures > 0) {
        delay = s.spec.backoff_base;
        for (int i = 1; i < s.quick_failures && delay < s.spec.max_restart_delay; ++i) delay *= 2;
        delay = std::min(delay, s.spec.max_restart_delay);
    }
    ++s.quick_failures;
    s.next_start = now + delay;
    log->warn("{}: {} {}; restarting it {}", options_.role, s.spec.name, how, describe_delay(delay));
}

void Supervisor::request_stop(ShutdownMode mode, const std::string& why) {
    auto log = logger(options_.role);
    if (stopping_ && mode <= mode_) {
        log->info("{}: {}: already stopping ({})", options_.role, why, to_string(mode_));
        return;
    }
    std::string plan;
    switch (mode) {
        case ShutdownMode::Smart: plan = "stopping the services one at a time, last started first"; break;
        case ShutdownMode::Fast: plan = "stopping every service now (fast)"; break;
        case ShutdownMode::Immediate: plan = "stopping every service immediately"; break;
    }
    log->info("{}: {}: {}", options_.role, why, plan);
    stopping_ = true;
    mode_ = mode;
}

void Supervisor::drive_stop(Clock::time_point now) {
    auto log = logger(options_.role);
    auto send = [&](Service& s, int sig) {
        if (::kill(s.pid, sig) != 0 && errno != ESRCH) {
            log->warn("{}: failed to send {} to {} (pid {}): {}", options_.role, describe_signal(sig), s.spec.name,
                      s.pid, std::strerror(errno));
        }
    };
    // Smart: only the last running service, and only once the ones after it are gone.
    for (auto it = services_.rbegin(); it != services_.rend(); ++it) {
        Service& s = *it;
        if (s.pid <= 0) continue;
        if (!s.signalled || *s.signalled < mode_) {
            const int sig = s.stop_signal(mode_);
            log->info("{}: sending {} to {} (pid {})", options_.role, describe_signal(sig), s.spec.name, s.pid);
            send(s, sig);
            s.signalled = mode_;
            s.signalled_at = now;
            s.escalation = 0;
        } else if (s.escalation == 0 && now - s.signalled_at > s.spec.stop_timeout) {
            log->warn("{}: {} (pid {}) did not stop within {} ms: sending {}", options_.role, s.spec.name, s.pid,
                      s.spec.stop_timeout.count(), describe_signal(s.spec.immediate_signal));
            send(s, s.spec.immediate_signal);
            s.escalation = 1;
            s.signalled_at = now;
        } else if (s.escalation == 1 && now - s.signalled_at > kKillAfter) {
            log->warn("{}: {} (pid {}) is still running: sending SIGKILL", options_.role, s.spec.name, s.pid);
            send(s, SIGKILL);
            s.escalation = 2;
        }
        if (mode_ == ShutdownMode::Smart) break;
    }
}

void Supervisor::reload() {
    auto log = logger(options_.role);
    if (stopping_) {
        log->info("{}: received SIGHUP while stopping: ignored", options_.role);
        return;
    }
    log->info("{}: received SIGHUP: reloading the configuration", options_.role);
    if (options_.on_reload) {
        try {
            options_.on_reload();
        } catch (const std::exception& e) {
            log->error("{}: reload failed, keeping the previous configuration: {}", options_.role, e.what());
            return;
        }
    }
    for (auto& s : services_) {
        if (s.pid > 0 && s.spec.reload_signal != 0) ::kill(s.pid, s.spec.reload_signal);
    }
}

}  // namespace autoctl::common

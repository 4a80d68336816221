#include "autoctl/keeper/postgres_controller.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "autoctl/common/atomic_file.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/common/paths.hpp"
#include "autoctl/pg/command.hpp"
#include "autoctl/pg/controldata.hpp"

namespace autoctl::keeper {

namespace fs = std::filesystem;
using common::ErrorKind;

fs::path expected_status_file(const fs::path& pid_file) { return pid_file.parent_path() / "autoctl.pg"; }

std::optional<ExpectedStatus> read_expected_status(const fs::path& file) {
    std::ifstream in(file);
    if (!in) return std::nullopt;
    std::string word;
    in >> word;
    if (word == "running") return ExpectedStatus::Running;
    if (word == "stopped") return ExpectedStatus::Stopped;
    return std::nullopt;
}

void write_expected_status(const fs::path& file, ExpectedStatus status) {
    if (read_expected_status(file) == status) return;
    common::create_parent_directories(file, ErrorKind::Internal);
    common::write_file_atomic(file, status == ExpectedStatus::Running ? "running\n" : "stopped\n", 0644);
}

void remove_expected_status(const fs::path& file) {
    std::error_code ec;
    fs::remove(file, ec);
}

namespace {

// A postmaster that is not our child (left from a previous controller killed with -9).
pid_t foreign_postmaster(const fs::path& pgdata) {
    std::ifstream in(pgdata / "postmaster.pid");
    if (!in) return 0;
    std::ostringstream text;
    text << in.rdbuf();
    const auto pid = pg::parse_postmaster_pid(text.str());
    if (!pid || pid->pid <= 0) return 0;
    return ::kill(pid->pid, 0) == 0 ? pid->pid : 0;
}

}  // namespace

int run_postgres_controller(const ControllerOptions& options) {
    auto log = common::logger("postgres");
    sigset_t signals;
    sigemptyset(&signals);
    for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGCHLD}) sigaddset(&signals, sig);
    sigprocmask(SIG_BLOCK, &signals, nullptr);

    pid_t child = 0;
    int stop_signal = 0;  // the signal sent to Postgres for the controller's own stop
    auto last_start = std::chrono::steady_clock::now() - std::chrono::hours(1);
    bool stop_sent = false;
    for (;;) {
        if (child > 0) {
            int status = 0;
            const pid_t done = ::waitpid(child, &status, WNOHANG);
            if (done == child) {
                if (WIFSIGNALED(status)) {
                    log->warn("Postgres (pid {}) was terminated by signal {}", child, WTERMSIG(status));
                } else if (WEXITSTATUS(status) != 0 && !stop_sent) {
                    log->warn("Postgres (pid {}) exited with status {}", child, WEXITSTATUS(status));
                } else {
                    log->info("Postgres (pid {}) has stopped", child);
                }
                child = 0;
                stop_sent = false;
            }
        }
        if (stop_signal != 0) {
            if (child == 0) return 0;
        } else {
            const auto expected = read_expected_status(options.status_file);
            const auto now = std::chrono::steady_clock::now();
            if (expected == ExpectedStatus::Running && child == 0) {
                if (const pid_t other = foreign_postmaster(options.pgdata); other != 0) {
                    // Postgres refuses a second postmaster on one PGDATA anyway; ask this one to
                    // stop so that the next start is ours (and supervised).
                    log->warn("Postgres runs at \"{}\" with pid {} outside of autoctl: stopping it (fast)",
                              options.pgdata.string(), other);
                    ::kill(other, SIGINT);
                } else if (now - last_start >= std::chrono::seconds(1)) {
                    last_start = now;
                    try {
                        child = pg::Command(options.postgres_program.string())
                                    .arg("-D", options.pgdata)
                                    .output(pg::Output::Inherit)
                                    .start_background();
                        log->info("Started Postgres with pid {}", child);
                    } catch (const common::Error& e) {
                        log->error("Failed to start Postgres: {}", e.what());
                    }
                }
            } else if (expected == ExpectedStatus::Stopped && child > 0 && !stop_sent) {
                log->info("Stopping Postgres (pid {}, fast)", child);
                ::kill(child, SIGINT);
                stop_sent = true;
            }
        }

        timespec timeout{0, 100 * 1000 * 1000};
        siginfo_t info;
        const int sig = ::sigtimedwait(&signals, &info, &timeout);
        if (sig == SIGHUP) {
            if (child > 0) ::kill(child, SIGHUP);
        } else if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
            const int pg_signal = sig == SIGQUIT ? SIGQUIT : SIGINT;
            if (stop_signal != pg_signal) {
                stop_signal = pg_signal;
                if (child > 0) {
                    log->info("Stopping Postgres (pid {}, {})", child, sig == SIGQUIT ? "immediate" : "fast");
                    ::kill(child, pg_signal);
                    stop_sent = true;
                }
            }
        }
    }
}

}  // namespace autoctl::keeper

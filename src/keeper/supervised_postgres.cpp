#include "autoctl/keeper/supervised_postgres.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
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

// A postmaster that is not our child (left from a supervisor killed with -9).
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

common::ServiceSpec postgres_service_spec(const SupervisedPostgresOptions& options) {
    common::ServiceSpec spec;
    spec.name = "postgres";
    spec.start = [options] {
        if (const pid_t other = foreign_postmaster(options.pgdata); other != 0) {
            // Postgres refuses a second postmaster on one PGDATA anyway.
            ::kill(other, SIGINT);
            throw common::Error(ErrorKind::Postgres, "Postgres runs at \"" + options.pgdata.string() + "\" with pid " +
                                                         std::to_string(other) +
                                                         " outside of autoctl: asked it to stop (fast)");
        }
        return pg::Command(options.postgres_program.string())
            .arg("-D", options.pgdata)
            .output(pg::Output::Inherit)
            .start_background();
    };
    spec.wanted = [file = options.status_file] {
        const auto expected = read_expected_status(file);
        if (!expected) return common::Wanted::Leave;
        return *expected == ExpectedStatus::Running ? common::Wanted::Run : common::Wanted::Stop;
    };
    // Keepers and clients keep connections open, which a smart shutdown would wait for: even a
    // clean stop is Postgres's fast shutdown (it still ends with a shutdown checkpoint).
    spec.smart_signal = SIGINT;
    spec.fast_signal = SIGINT;
    spec.immediate_signal = SIGQUIT;
    spec.reload_signal = SIGHUP;
    spec.stop_timeout = std::chrono::seconds(60);
    spec.first_restart_delay = std::chrono::milliseconds(0);
    spec.backoff_base = std::chrono::milliseconds(250);
    spec.max_restart_delay = std::chrono::milliseconds(1000);
    spec.restart_forever = true;
    return spec;
}

void wake_supervisor() {
    const char* supervisor = std::getenv("AUTOCTL_SUPERVISOR_PID");
    if (supervisor == nullptr || std::to_string(::getppid()) != supervisor) return;
    ::kill(::getppid(), SIGUSR1);
}

}  // namespace autoctl::keeper

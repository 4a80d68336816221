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
#include "autoctl/pg/controldata.hpp"
#include "autoctl/pg/postmaster_service.hpp"

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
    common::ServiceSpec spec = pg::postmaster_service(options.postgres_program, options.pgdata);
    spec.start = [options, start = spec.start] {
        if (const pid_t other = foreign_postmaster(options.pgdata); other != 0) {
            // Postgres refuses a second postmaster on one PGDATA anyway.
            ::kill(other, SIGINT);
            throw common::Error(ErrorKind::Postgres, "Postgres runs at \"" + options.pgdata.string() + "\" with pid " +
                                                         std::to_string(other) +
                                                         " outside of autoctl: asked it to stop (fast)");
        }
        return start();
    };
    spec.wanted = [file = options.status_file] {
        const auto expected = read_expected_status(file);
        if (!expected) return common::Wanted::Leave;
        return *expected == ExpectedStatus::Running ? common::Wanted::Run : common::Wanted::Stop;
    };
    spec.restart_forever = true;
    return spec;
}

void wake_supervisor() {
    const char* supervisor = std::getenv("AUTOCTL_SUPERVISOR_PID");
    if (supervisor == nullptr || std::to_string(::getppid()) != supervisor) return;
    ::kill(::getppid(), SIGUSR1);
}

}  // namespace autoctl::keeper

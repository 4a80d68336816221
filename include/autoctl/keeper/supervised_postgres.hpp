#pragma once
// Who starts and stops a data node's Postgres. The keeper never runs Postgres itself: it writes
// the expected status (a small file in the runtime directory, next to the pid file), wakes the
// supervisor with SIGUSR1 and waits; the supervisor keeps the postmaster as its own child in that
// status (the `postgres` service below), and restarts it at once when it dies. Without the file
// (maintenance: the operator owns Postgres) Postgres is left alone.
//
// The supervisor runs the postmaster itself rather than through a controller process of its
// own: one process fewer per node (each autoctl process maps ~11 MB of the binary and its
// libraries), and nothing in between to fail.

#include <chrono>
#include <filesystem>
#include <optional>

#include "autoctl/common/supervisor.hpp"

namespace autoctl::keeper {

enum class ExpectedStatus { Running, Stopped };

// <runtime dir>/autoctl.pg, beside the pid file.
std::filesystem::path expected_status_file(const std::filesystem::path& pid_file);

std::optional<ExpectedStatus> read_expected_status(const std::filesystem::path& file);
void write_expected_status(const std::filesystem::path& file, ExpectedStatus status);
void remove_expected_status(const std::filesystem::path& file);

struct SupervisedPostgresOptions {
    std::filesystem::path pgdata;
    std::filesystem::path postgres_program;  // bindir/postgres
    std::filesystem::path status_file;
};

// The supervisor's `postgres` service of a data node: runs while the expected status is running,
// is stopped fast when it is stopped, left alone without a status; restarted however often it
// dies (the keeper counts failed restarts and tells the monitor). A postmaster left running
// outside autoctl is asked to stop (fast) so that the next start is supervised.
common::ServiceSpec postgres_service_spec(const SupervisedPostgresOptions& options);

// Tells the supervisor that the expected status changed (SIGUSR1 to the parent process, only when
// it is the supervisor named in $AUTOCTL_SUPERVISOR_PID). Without it the supervisor still looks
// every second.
void wake_supervisor();

}  // namespace autoctl::keeper

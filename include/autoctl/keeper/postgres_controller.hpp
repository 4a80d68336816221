#pragma once
// Who starts and stops a data node's Postgres. The keeper never runs Postgres itself: it writes
// the expected status (a small file in the runtime directory, next to the pid file) and waits;
// the postgres controller, a service of the supervisor, keeps Postgres as its own child in that
// status, and restarts it within a second when it dies. Without the file (maintenance: the
// operator owns Postgres) the controller leaves Postgres alone.

#include <chrono>
#include <filesystem>
#include <optional>

namespace autoctl::keeper {

enum class ExpectedStatus { Running, Stopped };

// <runtime dir>/autoctl.pg, beside the pid file.
std::filesystem::path expected_status_file(const std::filesystem::path& pid_file);

std::optional<ExpectedStatus> read_expected_status(const std::filesystem::path& file);
void write_expected_status(const std::filesystem::path& file, ExpectedStatus status);
void remove_expected_status(const std::filesystem::path& file);

struct ControllerOptions {
    std::filesystem::path pgdata;
    std::filesystem::path postgres_program;  // bindir/postgres
    std::filesystem::path status_file;
};

// The controller's loop (`autoctl do service postgres`): runs until SIGTERM (stops Postgres with
// a fast shutdown, since keepers and clients keep connections open), SIGINT (fast) or SIGQUIT
// (immediate); SIGHUP is passed on to Postgres. Returns the process exit code.
int run_postgres_controller(const ControllerOptions& options);

}  // namespace autoctl::keeper

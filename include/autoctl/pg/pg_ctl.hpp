#pragma once
// Control of one local Postgres data directory with Postgres's own programs: initdb, pg_ctl,
// pg_controldata. Each runs as an argv (pg::Command), optionally as another OS user (root runs
// Postgres as an unprivileged user: Postgres refuses to run as root).
//
// pg_ctl is the one place where a shell is involved, and it is pg_ctl's, not ours: `pg_ctl start`
// runs `exec postgres -D "<pgdata>" <-o text> < /dev/null >> "<logfile>" 2>&1` through /bin/sh.
// So every token we put in -o is shell-quoted (postgres_options()), and a PGDATA or log file path
// containing ", $, ` or \ (which pg_ctl's double quotes would not protect) is refused.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "autoctl/pg/bindir.hpp"
#include "autoctl/pg/command.hpp"
#include "autoctl/pg/controldata.hpp"

namespace autoctl::pg {

enum class StopMode { Smart, Fast, Immediate };

std::string_view to_string(StopMode mode);  // "smart", "fast", "immediate"

struct InitdbOptions {
    std::string auth = "trust";                   // --auth (local and host)
    std::optional<std::string> auth_host;         // then --auth-local=<auth> --auth-host=<this>
    std::string username;                         // --username: the superuser; empty: the OS user
    std::string encoding = "UTF8";                // --encoding
    std::string locale = "C";                     // --locale
    std::optional<std::filesystem::path> pwfile;  // --pwfile: the superuser password, never in argv
    bool data_checksums = false;                  // --data-checksums
    bool no_sync = false;                         // --no-sync: for tests only
};

struct StartOptions {
    std::filesystem::path logfile;                  // -l (required)
    std::optional<int> port;                        // -p
    std::optional<std::filesystem::path> socket_dir;  // -k (unix_socket_directories)
    std::optional<std::string> listen_addresses;    // -c listen_addresses=...
    std::vector<std::pair<std::string, std::string>> settings;  // -c name=value, in order
    std::chrono::seconds wait_timeout{60};          // -w -t: wait until it accepts connections
};

// The -o text for pg_ctl start: "-p 5432 -k '/tmp/a b' -c listen_addresses=127.0.0.1 ...", each
// token quoted for pg_ctl's /bin/sh. Pure.
std::string postgres_options(const StartOptions& options);

struct PostgresStatus {
    bool is_running = false;                 // postmaster.pid names a live process
    std::optional<PostmasterPid> pid_file;   // parsed postmaster.pid, when readable
};

class PgCtl {
public:
    explicit PgCtl(PgBindir bindir, std::optional<RunAs> run_as = std::nullopt);

    // initdb -D pgdata; throws Error{Command}.
    void initdb(const std::filesystem::path& pgdata, const InitdbOptions& options) const;
    // pg_ctl start -w; returns once Postgres accepts connections. Does nothing when it already
    // runs. On failure the Error{Command} ends with the last lines of the server log.
    void start(const std::filesystem::path& pgdata, const StartOptions& options) const;
    // pg_ctl stop -w -m mode; does nothing when Postgres is not running.
    void stop(const std::filesystem::path& pgdata, StopMode mode,
              std::chrono::seconds timeout = std::chrono::seconds(60)) const;
    // Reads postmaster.pid and checks that its process exists (kill 0).
    PostgresStatus status(const std::filesystem::path& pgdata) const;
    // pg_controldata in the C locale, parsed.
    ControlData controldata(const std::filesystem::path& pgdata) const;

    // A Command for one program of the bindir, with run_as applied.
    Command command(std::string_view program) const;
    const PgBindir& bindir() const { return bindir_; }
    const std::optional<RunAs>& run_as() const { return run_as_; }

private:
    PgBindir bindir_;
    std::optional<RunAs> run_as_;
};

}  // namespace autoctl::pg

#pragma once
// Errors with a kind, and the one map from kinds to pg_autoctl's process exit codes.
//
// Code throws autoctl::common::Error when an operation cannot continue; main() (and, later, one
// keeper step and one monitor request) catches it, logs one line and exits with
// exit_code_for(kind). Nothing else turns an error into an exit code.

#include <stdexcept>
#include <string>
#include <string_view>

namespace autoctl::common {

// pg_autoctl's exit codes (defaults.h), kept for compatibility with scripts and tests.
enum class ExitCode : int {
    Quit = 0,               // success
    BadArgs = 1,            // command line errors
    BadConfig = 2,          // configuration file errors
    BadState = 3,           // state file errors, service already running or not running
    Pgsql = 4,              // Postgres query errors
    Pgctl = 5,              // pg_ctl and other Postgres program errors
    Monitor = 6,            // monitor unreachable or refused the request
    Coordinator = 7,        // Citus coordinator errors
    Keeper = 8,             // keeper initialisation errors
    Reload = 9,             // reload errors
    InternalError = 12,     // a bug, or a file we cannot read or write
    ExtensionMissing = 13,  // the monitor extension is missing
    Dropped = 121,          // the node was dropped from the monitor: stop, do not restart
    Fatal = 122,            // a service failed for good: stop, do not restart
};

int to_int(ExitCode code);
std::string_view to_string(ExitCode code);  // "BAD_ARGS", "BAD_CONFIG", ...

// What went wrong, from the caller's point of view.
enum class ErrorKind {
    Usage,             // bad command line: unknown option, bad value, missing argument
    Config,            // configuration file missing, unreadable or invalid
    State,             // state file invalid, or the service is in the wrong state
    Postgres,          // SQL error on the local Postgres
    Command,           // an external program (pg_ctl, initdb, ...) failed
    Monitor,           // the monitor is unreachable or refused
    Citus,             // the Citus coordinator is unreachable or refused
    Keeper,            // keeper initialisation failed
    Reload,            // reloading the configuration failed
    Internal,          // a bug, or an I/O failure we cannot attribute
    ExtensionMissing,  // the monitor schema or extension is missing
    Dropped,           // this node was dropped from its formation
    Fatal,             // unrecoverable: the supervisor must not restart the service
};

std::string_view to_string(ErrorKind kind);  // "usage", "config", ...

// The only mapping from error kinds to exit codes.
ExitCode exit_code_for(ErrorKind kind);

class Error : public std::runtime_error {
public:
    Error(ErrorKind kind, const std::string& message);

    ErrorKind kind() const noexcept { return kind_; }

    // The same error with "context: " prepended, for catch-add-context-rethrow.
    Error with_context(std::string_view context) const;

private:
    ErrorKind kind_;
};

}  // namespace autoctl::common

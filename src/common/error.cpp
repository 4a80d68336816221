#include "autoctl/common/error.hpp"

namespace autoctl::common {

int to_int(ExitCode code) { return static_cast<int>(code); }

std::string_view to_string(ExitCode code) {
    switch (code) {
        case ExitCode::Quit: return "QUIT";
        case ExitCode::BadArgs: return "BAD_ARGS";
        case ExitCode::BadConfig: return "BAD_CONFIG";
        case ExitCode::BadState: return "BAD_STATE";
        case ExitCode::Pgsql: return "PGSQL";
        case ExitCode::Pgctl: return "PGCTL";
        case ExitCode::Monitor: return "MONITOR";
        case ExitCode::Coordinator: return "COORDINATOR";
        case ExitCode::Keeper: return "KEEPER";
        case ExitCode::Reload: return "RELOAD";
        case ExitCode::InternalError: return "INTERNAL_ERROR";
        case ExitCode::ExtensionMissing: return "EXTENSION_MISSING";
        case ExitCode::Dropped: return "DROPPED";
        case ExitCode::Fatal: return "FATAL";
    }
    return "INTERNAL_ERROR";
}

std::string_view to_string(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::Usage: return "usage";
        case ErrorKind::Config: return "config";
        case ErrorKind::State: return "state";
        case ErrorKind::Postgres: return "postgres";
        case ErrorKind::Command: return "command";
        case ErrorKind::Monitor: return "monitor";
        case ErrorKind::Citus: return "citus";
        case ErrorKind::Keeper: return "keeper";
        case ErrorKind::Reload: return "reload";
        case ErrorKind::Internal: return "internal";
        case ErrorKind::ExtensionMissing: return "extension_missing";
        case ErrorKind::Dropped: return "dropped";
        case ErrorKind::Fatal: return "fatal";
    }
    return "internal";
}

ExitCode exit_code_for(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::Usage: return ExitCode::BadArgs;
        case ErrorKind::Config: return ExitCode::BadConfig;
        case ErrorKind::State: return ExitCode::BadState;
        case ErrorKind::Postgres: return ExitCode::Pgsql;
        case ErrorKind::Command: return ExitCode::Pgctl;
        case ErrorKind::Monitor: return ExitCode::Monitor;
        case ErrorKind::Citus: return ExitCode::Coordinator;
        case ErrorKind::Keeper: return ExitCode::Keeper;
        case ErrorKind::Reload: return ExitCode::Reload;
        case ErrorKind::Internal: return ExitCode::InternalError;
        case ErrorKind::ExtensionMissing: return ExitCode::ExtensionMissing;
        case ErrorKind::Dropped: return ExitCode::Dropped;
        case ErrorKind::Fatal: return ExitCode::Fatal;
    }
    return ExitCode::InternalError;
}

Error::Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}

Error Error::with_context(std::string_view context) const {
    std::string message(context);
    message += ": ";
    message += what();
    return Error(kind_, message);
}

}  // namespace autoctl::common

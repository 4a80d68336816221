#pragma once
// Logging: every log line goes to stderr (data goes to stdout), formatted as pg_autoctl does:
//
//   HH:MM:SS <pid> <LEVEL padded to 5> <message>
//   17:02:43 16078 INFO  Node name is now "node a"
//
// Levels TRACE DEBUG INFO WARN ERROR FATAL; colours only when stderr is a terminal. Every message
// goes through redact_conninfo() before it is written, so passwords never reach a log.

#include <spdlog/spdlog.h>
#include <memory>
#include <string>
#include <string_view>

namespace autoctl::common {

enum class LogLevel { Trace, Debug, Info, Warn, Error, Fatal };

std::string_view to_string(LogLevel level);  // "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"

// The command line's verbosity: -q gives ERROR, -v INFO, -vv DEBUG, -vvv (or more) TRACE;
// the default is INFO. -q wins over -v.
LogLevel log_level_from_flags(int verbose_count, bool quiet);

// Sets up the stderr sink and the default logger (idempotent; call again to change the level).
void setup_logging(LogLevel level);

// The logger of one component ("cli", "keeper", "monitor", "pg", "citus"), sharing the sink and
// level set by setup_logging(). Creates it on first use.
std::shared_ptr<spdlog::logger> logger(std::string_view component);

// Masks passwords in connection strings found anywhere in `text`, as "****":
//   key/value conninfo   password=secret      password='a b'     -> password=****
//   URI user info        postgres://user:secret@host/db          -> postgres://user:****@host/db
//   URI parameters       postgres://host/db?password=secret&x=1  -> ...?password=****&x=1
std::string redact_conninfo(std::string_view text);

}  // namespace autoctl::common

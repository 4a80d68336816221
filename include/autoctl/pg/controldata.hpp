#pragma once
// Pure parsers for what Postgres writes about a data directory: `pg_controldata` output (run
// with LC_ALL=C) and the postmaster.pid file. No I/O: unit-tested on captured text.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "autoctl/fsm/lsn.hpp"

namespace autoctl::pg {

struct ControlData {
    std::uint32_t pg_control_version = 0;  // "pg_control version number"
    std::uint32_t catalog_version = 0;     // "Catalog version number"
    std::uint64_t system_identifier = 0;   // "Database system identifier"
    std::string cluster_state;             // "shut down", "in production", "in archive recovery", ...
    fsm::Lsn checkpoint_lsn;               // "Latest checkpoint location"
    fsm::Lsn redo_lsn;                     // "Latest checkpoint's REDO location"
    std::uint32_t timeline = 0;            // "Latest checkpoint's TimeLineID"
    fsm::Lsn min_recovery_end_lsn;         // "Minimum recovery ending location"
    std::uint32_t data_checksum_version = 0;  // "Data page checksum version" (0: checksums off)
};

// Parses `pg_controldata` output in the C locale. Throws Error{Command} naming the first
// missing or malformed field.
ControlData parse_controldata(std::string_view text);

// The lines of postmaster.pid, as written by the postmaster (PG 10 and later).
struct PostmasterPid {
    pid_t pid = 0;
    std::filesystem::path pgdata;
    std::int64_t start_time = 0;   // seconds since the epoch
    int port = 0;
    std::string socket_dir;        // first unix_socket_directories entry, empty when none
    std::string listen_address;    // first listen_addresses entry, empty when none
    std::string status;            // "starting", "stopping", "ready", "standby"; empty in old files
};

// Parses the file's text; nullopt when it is empty, truncated or malformed (the postmaster is
// writing it, or it is not a postmaster.pid).
std::optional<PostmasterPid> parse_postmaster_pid(std::string_view text);

}  // namespace autoctl::pg

#pragma once
// The pid file that guards a PGDATA against two autoctl supervisors (reference §6, §9).
//
//   ${XDG_RUNTIME_DIR:-/tmp}/autoctl/<pgdata>/autoctl.pid
//
// Liveness is a POSIX record lock (fcntl F_SETLK) held on the whole file for as long as the
// supervisor runs, not the pid written in it: the kernel drops the lock when the process dies,
// however it dies (kill -9 included), so a stale file is recognised without guessing whether a
// recycled pid is still "ours", and F_GETLK names the holder's pid without taking the lock.
// The lock is per process and is not inherited by fork(), so children never hold it. The flip
// side of POSIX record locks: closing *any* descriptor of the file drops the process's lock, so
// the holding process must not open the file again (probe_pid_file() is for other processes).
//
// Contents (text, rewritten in place while the lock is held, so the lock stays on one inode):
//   line 1  supervisor pid
//   line 2  PGDATA
//   line 3  autoctl version
//   then one "<pid> <service>" line per running service.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace autoctl::common {

struct PidFileContents {
    pid_t pid = 0;
    std::string pgdata;
    std::string version;
    std::vector<std::pair<pid_t, std::string>> services;  // (pid, name)
};

// Parses the text of a pid file; nullopt when the first line is not a pid.
std::optional<PidFileContents> parse_pid_file(const std::string& text);
std::string format_pid_file(const PidFileContents& contents);

// What another process sees when it looks at a pid file without taking it.
struct PidFileProbe {
    bool running = false;         // a process holds the lock
    pid_t pid = 0;                // the holder (running), else the pid written in a stale file (0: none)
    std::optional<PidFileContents> contents;  // what the file says, when readable
};

// Looks at the pid file without locking it. A missing file is "not running".
PidFileProbe probe_pid_file(const std::filesystem::path& path);

// The pid file held by this process.
class PidFile {
public:
    // Creates (mode 0644, parent directories 0755) or opens the file and takes its lock.
    // Throws Error{State} "autoctl is already running with pid N" when another process holds it.
    // A stale file (no holder) is taken over; `stale_pid` tells which pid it named (0: none).
    static PidFile acquire(const std::filesystem::path& path, const PidFileContents& contents);

    PidFile(PidFile&& other) noexcept;
    PidFile& operator=(PidFile&& other) noexcept;
    PidFile(const PidFile&) = delete;
    PidFile& operator=(const PidFile&) = delete;
    ~PidFile();  // release(): removes the file and drops the lock

    // Rewrites the contents in place (the lock stays held).
    void update(const PidFileContents& contents);
    // Removes the file, then closes it (which drops the lock). Idempotent.
    void release() noexcept;

    const std::filesystem::path& path() const { return path_; }
    pid_t stale_pid() const { return stale_pid_; }
    bool held() const { return fd_ >= 0; }

private:
    PidFile(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
    std::filesystem::path path_;
    int fd_ = -1;
    pid_t stale_pid_ = 0;
};

}  // namespace autoctl::common

#include "autoctl/common/pid_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>

#include "autoctl/common/error.hpp"
#include "autoctl/common/paths.hpp"

namespace autoctl::common {

namespace {

std::string errno_text(int err) { return std::strerror(err); }


std::optional<pid_t> parse_pid(std::string_view text) {
    long value = 0;
    const auto result = std::from_chars(text.data(), text.data() + text.size(), value);
    if (result.ec != std::errc() || result.ptr != text.data() + text.size() || value <= 0) return std::nullopt;
    return static_cast<pid_t>(value);
}

std::string read_fd(int fd) {
    std::string text;
    char buffer[4096];
    off_t offset = 0;
    while (true) {
        const ssize_t n = ::pread(fd, buffer, sizeof buffer, offset);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        text.append(buffer, static_cast<std::size_t>(n));
        offset += n;
    }
    return text;
}

struct flock whole_file(short type) {
    struct flock lock {};
    lock.l_type = type;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0;
    lock.l_len = 0;
    return lock;
}

}  // namespace

std::optional<PidFileContents> parse_pid_file(const std::string& text) {
    std::istringstream in(text);
    std::string line;
    PidFileContents contents;
    if (!std::getline(in, line)) return std::nullopt;
    const auto pid = parse_pid(line);
    if (!pid) return std::nullopt;
    contents.pid = *pid;
    if (std::getline(in, line)) contents.pgdata = line;
    if (std::getline(in, line)) contents.version = line;
    while (std::getline(in, line)) {
        const auto space = line.find(' ');
        if (space == std::string::npos) continue;
        const auto service_pid = parse_pid(std::string_view(line).substr(0, space));
        if (!service_pid) continue;
        contents.services.emplace_back(*service_pid, line.substr(space + 1));
    }
    return contents;
}

std::string format_pid_file(const PidFileContents& contents) {
    std::string text = std::to_string(contents.pid) + "\n" + contents.pgdata + "\n" + contents.version + "\n";
    for (const auto& [pid, name] : contents.services) text += std::to_string(pid) + " " + name + "\n";
    return text;
}

PidFileProbe probe_pid_file(const std::filesystem::path& path) {
    PidFileProbe probe;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return probe;
        throw Error(ErrorKind::Internal, "failed to open the pid file " + quoted(path) + ": " + errno_text(errno));
    }
    probe.contents = parse_pid_file(read_fd(fd));
    struct flock lock = whole_file(F_WRLCK);
    const int rc = ::fcntl(fd, F_GETLK, &lock);
    const int err = errno;
    ::close(fd);  // we hold no lock on it: closing drops nothing
    if (rc != 0) throw Error(ErrorKind::Internal, "failed to inspect the lock of " + quoted(path) + ": " + errno_text(err));
    if (lock.l_type != F_UNLCK) {
        probe.running = true;
        probe.pid = lock.l_pid;
    } else if (probe.contents) {
        probe.pid = probe.contents->pid;
    }
    return probe;
}

// Whether `path` still names the file open as `fd` (a releasing supervisor unlinks the file
// before it closes it: a lock taken on the unlinked inode guards nothing).
static bool is_same_file(int fd, const std::filesystem::path& path) {
    struct stat by_fd {};
    struct stat by_path {};
    if (::fstat(fd, &by_fd) != 0 || ::stat(path.c_str(), &by_path) != 0) return false;
    return by_fd.st_dev == by_path.st_dev && by_fd.st_ino == by_path.st_ino;
}

PidFile PidFile::acquire(const std::filesystem::path& path, const PidFileContents& contents) {
    create_parent_directories(path, ErrorKind::Internal);
    int fd = -1;
    for (int attempt = 0;; ++attempt) {
        fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            throw Error(ErrorKind::Internal, "failed to open the pid file " + quoted(path) + ": " + errno_text(errno));
        }
        struct flock lock = whole_file(F_WRLCK);
        if (::fcntl(fd, F_SETLK, &lock) != 0 || is_same_file(fd, path) || attempt >= 10) break;
        ::close(fd);  // the file was removed under us: open the new one
    }
    struct flock lock = whole_file(F_WRLCK);
    if (::fcntl(fd, F_SETLK, &lock) != 0) {
        const int err = errno;
        if (err != EAGAIN && err != EACCES) {
            ::close(fd);
            throw Error(ErrorKind::Internal, "failed to lock the pid file " + quoted(path) + ": " + errno_text(err));
        }
        struct flock holder = whole_file(F_WRLCK);
        pid_t pid = 0;
        if (::fcntl(fd, F_GETLK, &holder) == 0 && holder.l_type != F_UNLCK) pid = holder.l_pid;
        if (pid == 0) {
            if (const auto written = parse_pid_file(read_fd(fd))) pid = written->pid;
        }
        ::close(fd);
        throw Error(ErrorKind::State, "autoctl is already running with pid " + std::to_string(pid) +
                                          " (pid file " + quoted(path) + ")");
    }
    PidFile file(path, fd);
    if (const auto previous = parse_pid_file(read_fd(fd))) file.stale_pid_ = previous->pid;
    file.update(contents);
    return file;
}

PidFile::PidFile(PidFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(other.fd_), stale_pid_(other.stale_pid_) {
    other.fd_ = -1;
}

PidFile& PidFile::operator=(PidFile&& other) noexcept {
    if (this != &other) {
        release();
        path_ = std::move(other.path_);
        fd_ = other.fd_;
        stale_pid_ = other.stale_pid_;
        other.fd_ = -1;
    }
    return *this;
}

PidFile::~PidFile() { release(); }

void PidFile::update(const PidFileContents& contents) {
    if (fd_ < 0) throw Error(ErrorKind::Internal, "the pid file " + quoted(path_) + " is not held");
    const std::string text = format_pid_file(contents);
    // Write first, then cut what is left of a longer previous text: line 1 (our pid) never
    // disappears for a reader.
    std::size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::pwrite(fd_, text.data() + written, text.size() - written, static_cast<off_t>(written));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw Error(ErrorKind::Internal, "failed to write the pid file " + quoted(path_) + ": " + errno_text(errno));
        written += static_cast<std::size_t>(n);
    }
    if (::ftruncate(fd_, static_cast<off_t>(text.size())) != 0) {
        throw Error(ErrorKind::Internal, "failed to truncate the pid file " + quoted(path_) + ": " + errno_text(errno));
    }
}

void PidFile::release() noexcept {
    if (fd_ < 0) return;
    ::unlink(path_.c_str());
    ::close(fd_);
    fd_ = -1;
}

}  // namespace autoctl::common

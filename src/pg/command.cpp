#include "autoctl/pg/command.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"

extern char** environ;

namespace autoctl::pg {

using common::Error;
using common::ErrorKind;
using Clock = std::chrono::steady_clock;

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// A file descriptor closed at scope exit.
class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    Fd(Fd&& other) noexcept : fd_(other.release()) {}
    Fd& operator=(Fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = other.release();
        }
        return *this;
    }
    ~Fd() { reset(); }

    int get() const { return fd_; }
    int release() {
        const int fd = fd_;
        fd_ = -1;
        return fd;
    }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

// Moves `fd` to a number >= 3 (so the child's dup2 onto 0, 1, 2 cannot clobber it) with
// close-on-exec set.
Fd above_stdio(int fd) {
    if (fd >= 3) return Fd(fd);
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, 3);
    const int err = errno;
    ::close(fd);
    if (moved < 0) throw Error(ErrorKind::Command, "could not duplicate a file descriptor: " + errno_text(err));
    return Fd(moved);
}

std::pair<Fd, Fd> make_pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        throw Error(ErrorKind::Command, "could not create a pipe: " + errno_text(errno));
    }
    Fd read_end = above_stdio(fds[0]);
    Fd write_end = above_stdio(fds[1]);
    return {std::move(read_end), std::move(write_end)};
}

Fd open_fd(const std::filesystem::path& path, int flags, mode_t mode = 0) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    if (fd < 0) {
        throw Error(ErrorKind::Command, "could not open \"" + path.string() + "\": " + errno_text(errno));
    }
    return above_stdio(fd);
}

bool is_executable_file(const std::filesystem::path& path) {
    std::error_code ec;
    return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

// What the child reports through the close-on-exec pipe when it fails before execve.
struct ChildFailure {
    int stage;  // index into kStageNames
    int err;
};
constexpr std::array<const char*, 7> kStageNames = {
    "set the process group", "redirect standard streams", "set supplementary groups",
    "set the group id",      "set the user id",            "change directory",
    "execute",
};

}  // namespace

// Everything the child needs, computed before fork: after fork the child only calls
// async-signal-safe functions on these arrays.
struct detail::PreparedCommand {
    std::string path;
    std::vector<std::string> env_strings;
    std::vector<char*> argv;
    std::vector<char*> envp;
    std::string cwd;
};

Command::Command(std::string program) { argv_.push_back(std::move(program)); }

Command& Command::arg(std::string value) {
    argv_.push_back(std::move(value));
    return *this;
}

Command& Command::arg(std::string option, std::string value) {
    argv_.push_back(std::move(option));
    argv_.push_back(std::move(value));
    return *this;
}

Command& Command::args(const std::vector<std::string>& values) {
    argv_.insert(argv_.end(), values.begin(), values.end());
    return *this;
}

Command& Command::env(std::string name, std::string value) {
    if (name.empty() || name.find('=') != std::string::npos) {
        throw Error(ErrorKind::Internal, "invalid environment variable name \"" + name + "\"");
    }
    for (auto& entry : env_) {
        if (entry.first == name) {
            entry.second = std::move(value);
            return *this;
        }
    }
    env_.emplace_back(std::move(name), std::move(value));
    return *this;
}

Command& Command::clear_env() {
    clear_env_ = true;
    return *this;
}

Command& Command::c_locale() { return env("LANG", "C").env("LC_ALL", "C"); }

Command& Command::cwd(std::filesystem::path dir) {
    cwd_ = std::move(dir);
    return *this;
}

Command& Command::timeout(std::chrono::milliseconds limit) {
    timeout_ = limit;
    return *this;
}

Command& Command::run_as(RunAs identity) {
    run_as_ = std::move(identity);
    return *this;
}

Command& Command::output(Output mode) {
    output_ = mode;
    return *this;
}

Command& Command::input_file(std::filesystem::path file) {
    input_file_ = std::move(file);
    return *this;
}

Command& Command::output_file(std::filesystem::path file) {
    output_ = Output::File;
    output_file_ = std::move(file);
    return *this;
}

std::string Command::program_name() const { return std::filesystem::path(argv_.front()).filename().string(); }

std::string Command::display() const {
    std::string text;
    for (const auto& word : argv_) {
        if (!text.empty()) text += ' ';
        text += shell_quote(common::redact_conninfo(word));
    }
    return text;
}

void Command::prepare(detail::PreparedCommand& p) const {

    // The child's environment: ours (unless cleared) minus overridden names, plus the additions.
    std::vector<std::pair<std::string, std::string>> additions = env_;
    if (run_as_) {
        auto add_default = [&](const std::string& name, const std::string& value) {
            for (const auto& entry : additions) {
                if (entry.first == name) return;
            }
            additions.emplace_back(name, value);
        };
        if (!run_as_->name.empty()) {
            add_default("USER", run_as_->name);
            add_default("LOGNAME", run_as_->name);
        }
        if (!run_as_->home.empty()) add_default("HOME", run_as_->home.string());
    }
    auto overridden = [&](std::string_view entry) {
        const auto eq = entry.find('=');
        const auto name = entry.substr(0, eq);
        for (const auto& add : additions) {
            if (add.first == name) return true;
        }
        return false;
    };
    std::string path_var;
    if (!clear_env_) {
        for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
            std::string_view entry(*e);
            if (overridden(entry)) continue;
            if (entry.substr(0, 5) == "PATH=") path_var = std::string(entry.substr(5));
            p.env_strings.emplace_back(entry);
        }
    }
    for (const auto& [name, value] : additions) {
        if (name == "PATH") path_var = value;
        p.env_strings.push_back(name + "=" + value);
    }

    // The program: a path as given, or the first executable match in the child's PATH.
    const std::string& program = argv_.front();
    if (program.empty()) throw Error(ErrorKind::Internal, "empty program name");
    if (program.find('/') != std::string::npos) {
        p.path = program;
    } else {
        if (path_var.empty() && clear_env_) path_var = "/usr/bin:/bin";
        std::size_t start = 0;
        while (start <= path_var.size()) {
            auto end = path_var.find(':', start);
            if (end == std::string::npos) end = path_var.size();
            const std::string dir = end > start ? path_var.substr(start, end - start) : std::string(".");
            const auto candidate = std::filesystem::path(dir) / program;
            if (is_executable_file(candidate)) {
                p.path = candidate.string();
                break;
            }
            start = end + 1;
        }
        if (p.path.empty()) throw Error(ErrorKind::Command, "program \"" + program + "\" not found in PATH");
    }

    for (const auto& word : argv_) p.argv.push_back(const_cast<char*>(word.c_str()));
    p.argv.push_back(nullptr);
    for (auto& entry : p.env_strings) p.envp.push_back(entry.data());
    p.envp.push_back(nullptr);
    if (cwd_) {
        p.cwd = cwd_->string();
    } else if (run_as_) {
        p.cwd = "/";
    }
}

namespace {

struct ChildFds {
    int out = -1;  // becomes fd 1 (or -1: inherit)
    int err = -1;  // becomes fd 2 (or -1: inherit)
    int in = -1;   // becomes fd 0
    int report = -1;  // close-on-exec pipe for ChildFailure
};

[[noreturn]] void child_fail(int report_fd, int stage) {
    ChildFailure failure{stage, errno};
    ssize_t ignored = ::write(report_fd, &failure, sizeof failure);
    (void)ignored;
    ::_exit(127);
}

// Runs in the child after fork: async-signal-safe calls only.
[[noreturn]] void exec_child(const ChildFds& fds, const std::optional<RunAs>& run_as, const char* path,
                             char* const* argv, char* const* envp, const char* cwd) {
    if (::setpgid(0, 0) != 0) child_fail(fds.report, 0);

    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP) continue;
        sigaction(sig, &dfl, nullptr);  // fails harmlessly on the signals reserved by glibc
    }

    if (::dup2(fds.in, 0) < 0) child_fail(fds.report, 1);
    if (fds.out >= 0 && ::dup2(fds.out, 1) < 0) child_fail(fds.report, 1);
    if (fds.err >= 0 && ::dup2(fds.err, 2) < 0) child_fail(fds.report, 1);
    // Only 0, 1, 2 and the report pipe (close-on-exec) survive.
    if (fds.report > 3) ::close_range(3, static_cast<unsigned>(fds.report) - 1, 0);
    ::close_range(static_cast<unsigned>(fds.report) + 1, ~0U, 0);

    if (run_as) {
        if (::setgroups(run_as->groups.size(), run_as->groups.data()) != 0) child_fail(fds.report, 2);
        if (::setgid(run_as->gid) != 0) child_fail(fds.report, 3);
        if (::setuid(run_as->uid) != 0) child_fail(fds.report, 4);
    }
    if (cwd != nullptr && *cwd != '\0' && ::chdir(cwd) != 0) child_fail(fds.report, 5);
    ::execve(path, argv, envp);
    child_fail(fds.report, 6);
}

// Reads the child's report pipe until EOF (execve succeeded) or a ChildFailure arrives.
std::optional<ChildFailure> read_child_failure(int fd) {
    ChildFailure failure{};
    std::size_t got = 0;
    auto* bytes = reinterpret_cast<char*>(&failure);
    while (got < sizeof failure) {
        const ssize_t n = ::read(fd, bytes + got, sizeof failure - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    if (got < sizeof failure) return std::nullopt;
    return failure;
}

int wait_for(pid_t pid) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    return status;
}

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
    const long fd = ::syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0) {
        ::fcntl(static_cast<int>(fd), F_SETFD, FD_CLOEXEC);
        return static_cast<int>(fd);
    }
#else
    (void)pid;
#endif
    return -1;
}

// Appends what can be read from `fd` now; returns false at EOF or on a read error.
bool read_some(int fd, std::string& sink) {
    char buffer[8192];
    while (true) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            sink.append(buffer, static_cast<std::size_t>(n));
            return true;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return true;
        return false;
    }
}

// Reads what is left in a pipe without blocking (a grandchild may keep the write end open).
void drain(int fd, std::string& sink) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    char buffer[8192];
    while (true) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n > 0) {
            sink.append(buffer, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return;
    }
}

std::string describe_duration(std::chrono::milliseconds d) {
    if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
    return std::to_string(d.count()) + " ms";
}

}  // namespace

namespace {

struct Spawned {
    pid_t pid = -1;
    Fd out_read;
    Fd err_read;
};

// Forks and execs; returns once execve succeeded (or throws with the reason it did not).
Spawned spawn(const Command& command, const detail::PreparedCommand&, const std::optional<RunAs>&, Output,
              const std::filesystem::path& output_file, const std::filesystem::path& input_file);

}  // namespace

CommandResult Command::run() const {
    CommandResult result = run_unchecked();
    if (result.is_success()) return result;
    std::string message = "command \"" + program_name() + "\" ";
    if (result.timed_out) {
        message += "timed out after " + describe_duration(*timeout_) + " and was killed";
    } else if (result.term_signal != 0) {
        message += "was terminated by signal " + std::to_string(result.term_signal) + " (" +
                   strsignal(result.term_signal) + ")";
    } else {
        message += "exited with status " + std::to_string(result.exit_status);
    }
    const auto tail = last_lines(result.err, 5);
    if (!tail.empty()) message += ": " + common::redact_conninfo(tail);
    throw Error(ErrorKind::Command, message);
}

CommandResult Command::run_unchecked() const {
    common::logger("pg")->info("{}", display());
    detail::PreparedCommand prepared;
    prepare(prepared);
    const auto started = Clock::now();
    Spawned child = spawn(*this, prepared, run_as_, output_, output_file_, input_file_);

    CommandResult result;
    Fd pidfd(open_pidfd(child.pid));
    const bool has_deadline = timeout_.has_value();
    const Clock::time_point deadline = has_deadline ? started + *timeout_ : Clock::time_point::max();
    bool killed = false;
    bool exited = false;
    int status = 0;

    while (!exited) {
        std::array<pollfd, 3> fds{};
        nfds_t count = 0;
        int out_index = -1;
        int err_index = -1;
        int pid_index = -1;
        if (child.out_read.get() >= 0) {
            out_index = static_cast<int>(count);
            fds[count++] = {child.out_read.get(), POLLIN, 0};
        }
        if (child.err_read.get() >= 0) {
            err_index = static_cast<int>(count);
            fds[count++] = {child.err_read.get(), POLLIN, 0};
        }
        if (pidfd.get() >= 0) {
            pid_index = static_cast<int>(count);
            fds[count++] = {pidfd.get(), POLLIN, 0};
        }
        int wait_ms = -1;
        if (has_deadline && !killed) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
            wait_ms = static_cast<int>(std::clamp<long long>(left.count() + 1, 0, 3600 * 1000));
        }
        if (pidfd.get() < 0) wait_ms = wait_ms < 0 ? 20 : std::min(wait_ms, 20);  // no pidfd: poll waitpid

        const int ready = ::poll(fds.data(), count, wait_ms);
        if (ready < 0 && errno != EINTR) {
            throw Error(ErrorKind::Command, "poll failed while running \"" + program_name() + "\": " + errno_text(errno));
        }
        if (ready > 0) {
            if (out_index >= 0 && fds[out_index].revents != 0 && !read_some(child.out_read.get(), result.out)) {
                child.out_read.reset();
            }
            if (err_index >= 0 && fds[err_index].revents != 0 && !read_some(child.err_read.get(), result.err)) {
                child.err_read.reset();
            }
        }
        const bool pid_ready = pid_index >= 0 && ready > 0 && fds[pid_index].revents != 0;
        if (pid_ready) {
            status = wait_for(child.pid);
            exited = true;
        } else if (pidfd.get() < 0) {
            const pid_t reaped = ::waitpid(child.pid, &status, WNOHANG);
            if (reaped == child.pid) exited = true;
        }
        if (!exited && !killed && has_deadline && Clock::now() >= deadline) {
            ::kill(-child.pid, SIGKILL);
            killed = true;
            result.timed_out = true;
        }
    }
    if (child.out_read.get() >= 0) drain(child.out_read.get(), result.out);
    if (child.err_read.get() >= 0) drain(child.err_read.get(), result.err);

    if (WIFEXITED(status)) result.exit_status = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) result.term_signal = WTERMSIG(status);
    result.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    return result;
}

pid_t Command::start_background() const {
    if (output_ == Output::Capture) {
        throw Error(ErrorKind::Internal,
                    "start_background cannot capture the output of \"" + program_name() + "\"");
    }
    common::logger("pg")->info("{}", display());
    detail::PreparedCommand prepared;
    prepare(prepared);
    Spawned child = spawn(*this, prepared, run_as_, output_, output_file_, input_file_);
    return child.pid;
}

namespace {

Spawned spawn(const Command& command, const detail::PreparedCommand& prepared, const std::optional<RunAs>& run_as,
              Output output, const std::filesystem::path& output_file, const std::filesystem::path& input_file) {
    Spawned spawned;
    Fd in = open_fd(input_file.empty() ? std::filesystem::path("/dev/null") : input_file, O_RDONLY);
    Fd out_write;
    Fd err_write;
    switch (output) {
        case Output::Capture: {
            auto out_pipe = make_pipe();
            auto err_pipe = make_pipe();
            spawned.out_read = std::move(out_pipe.first);
            out_write = std::move(out_pipe.second);
            spawned.err_read = std::move(err_pipe.first);
            err_write = std::move(err_pipe.second);
            break;
        }
        case Output::Inherit:
            break;
        case Output::Discard:
            out_write = open_fd("/dev/null", O_WRONLY);
            err_write = open_fd("/dev/null", O_WRONLY);
            break;
        case Output::File:
            out_write = open_fd(output_file, O_WRONLY | O_CREAT | O_APPEND, 0600);
            err_write = above_stdio(::fcntl(out_write.get(), F_DUPFD_CLOEXEC, 3));
            break;
    }
    auto report = make_pipe();

    ChildFds fds;
    fds.in = in.get();
    fds.out = out_write.get();
    fds.err = err_write.get();
    fds.report = report.second.get();

    const pid_t pid = ::fork();
    if (pid < 0) {
        throw Error(ErrorKind::Command, "could not fork to run \"" + command.program_name() + "\": " + errno_text(errno));
    }
    if (pid == 0) {
        exec_child(fds, run_as, prepared.path.c_str(), prepared.argv.data(), prepared.envp.data(),
                   prepared.cwd.empty() ? nullptr : prepared.cwd.c_str());
    }
    ::setpgid(pid, pid);  // also done in the child: whichever runs first wins the race
    report.second.reset();
    out_write.reset();
    err_write.reset();

    if (const auto failure = read_child_failure(report.first.get())) {
        wait_for(pid);
        const int stage = failure->stage >= 0 && failure->stage < static_cast<int>(kStageNames.size())
                              ? failure->stage
                              : static_cast<int>(kStageNames.size()) - 1;
        std::string message = "could not " + std::string(kStageNames[static_cast<std::size_t>(stage)]) +
                              " for \"" + command.program_name() + "\"";
        if (stage == static_cast<int>(kStageNames.size()) - 1) message += " (" + prepared.path + ")";
        if (stage >= 2 && stage <= 4 && run_as) message += " as user \"" + run_as->name + "\"";
        message += ": " + errno_text(failure->err);
        throw Error(ErrorKind::Command, message);
    }
    spawned.pid = pid;
    return spawned;
}

}  // namespace

}  // namespace autoctl::pg

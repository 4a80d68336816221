#pragma once
// External programs (initdb, pg_ctl, pg_basebackup, ...) run as argument vectors: fork + execve,
// never a shell, never system() or popen().
//
//   auto result = Command(bindir.program("initdb"))
//                     .arg("-D", pgdata)
//                     .arg("--auth=trust")
//                     .env("PGPASSWORD", secret)        // only in the child's environment
//                     .run_as(RunAs::user("postgres"))  // root runs Postgres as an unprivileged user
//                     .timeout(std::chrono::seconds(60))
//                     .run();                           // throws Error{Command} on failure
//
// The child gets its own process group (a timeout kills the whole group), /dev/null as standard
// input (or the file given to input_file()), only the file descriptors 0, 1 and 2, default signal dispositions, and the parent's
// environment plus the env() additions (or only the additions after clear_env()). run() logs the
// argv, shell-quoted and with connection-string passwords masked, at info level on the "pg" logger.
//
// run() and run_unchecked() reap their child with waitpid(pid): a process-wide SIGCHLD handler
// that reaps every child (waitpid(-1)) would steal the status, so the supervisor must reap by pid.

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autoctl::pg {

namespace detail {
struct PreparedCommand;  // argv, envp and the resolved path, built before fork (command.cpp)
}

// The OS identity a child process switches to before execve (setgroups, setgid, setuid). Only a
// privileged parent (root) can switch to another user.
struct RunAs {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;    // supplementary groups, set with setgroups()
    std::string name;             // the user name, for messages and USER/LOGNAME
    std::filesystem::path home;   // HOME for the child, when not empty

    // Looks the user up in the password database (getpwnam, getgrouplist). Throws
    // Error{Command} when there is no such user.
    static RunAs user(const std::string& name);
};

// Where a child's standard output and standard error go.
enum class Output {
    Capture,  // read into CommandResult::out / err (run() only)
    Inherit,  // the parent's stdout and stderr
    Discard,  // /dev/null
    File,     // appended to the file given to output_file()
};

struct CommandResult {
    int exit_status = -1;   // the exit code when the child exited normally, otherwise -1
    int term_signal = 0;    // the signal that terminated the child, otherwise 0
    bool timed_out = false; // the timeout expired and the process group was killed
    std::string out;        // captured standard output (Output::Capture)
    std::string err;        // captured standard error (Output::Capture)
    std::chrono::milliseconds elapsed{0};

    bool is_success() const { return !timed_out && term_signal == 0 && exit_status == 0; }
};

class Command {
public:
    // `program` is a path, or a name searched in the child's PATH.
    explicit Command(std::string program);

    Command& arg(std::string value);
    Command& arg(const char* value) { return arg(std::string(value)); }
    Command& arg(std::string option, std::string value);  // two argv entries: option, value
    Command& arg(std::string option, const char* value) { return arg(std::move(option), std::string(value)); }
    Command& arg(const std::filesystem::path& value) { return arg(value.string()); }
    Command& arg(std::string option, const std::filesystem::path& value) {
        return arg(std::move(option), value.string());
    }
    Command& args(const std::vector<std::string>& values);

    // Sets NAME=value in the child's environment only (never in autoctl's own environment, never
    // in argv, never in display()). Use it for secrets such as PGPASSWORD.
    Command& env(std::string name, std::string value);
    // The child starts from an empty environment plus the env() additions.
    Command& clear_env();
    // LANG=C and LC_ALL=C, for programs whose output gets parsed.
    Command& c_locale();

    // The child's working directory. Without one, a child that runs as another user starts in
    // "/" (the parent's directory may be unreadable to that user); otherwise it inherits ours.
    Command& cwd(std::filesystem::path dir);
    // Kills the child's process group (SIGKILL) when the child runs longer (run() only).
    Command& timeout(std::chrono::milliseconds limit);
    Command& run_as(RunAs identity);

    // Standard output and standard error of the child; the default is Output::Capture.
    Command& output(Output mode);
    Command& output_file(std::filesystem::path file);  // Output::File, appending, mode 0600
    // Standard input read from this file instead of /dev/null (e.g. a password, kept out of argv).
    Command& input_file(std::filesystem::path file);

    // Runs the child to completion. Throws Error{Command} naming the program, its exit status (or
    // signal, or the timeout) and the last lines of its standard error when it does not succeed,
    // or when it cannot be started.
    CommandResult run() const;
    // Same, but returns the result whatever the exit status; throws only when the program could
    // not be started.
    CommandResult run_unchecked() const;
    // Starts the child in its own process group and returns its pid without waiting; the caller
    // reaps it (waitpid). Output::Capture is refused: use output_file(), Inherit or Discard.
    pid_t start_background() const;

    // The argv shell-quoted for logs, with connection-string passwords masked.
    std::string display() const;
    const std::vector<std::string>& argv() const { return argv_; }
    // The program's file name without its directory: "initdb".
    std::string program_name() const;

private:
    void prepare(detail::PreparedCommand& p) const;  // fills p in place: p holds pointers into itself

    std::vector<std::string> argv_;
    std::vector<std::pair<std::string, std::string>> env_;
    bool clear_env_ = false;
    std::optional<std::filesystem::path> cwd_;
    std::optional<std::chrono::milliseconds> timeout_;
    std::optional<RunAs> run_as_;
    Output output_ = Output::Capture;
    std::filesystem::path output_file_;
    std::filesystem::path input_file_;
};

// One word quoted for a POSIX shell: left alone when it has only safe characters, otherwise in
// single quotes with each ' written as '\''. The empty string gives ''.
std::string shell_quote(std::string_view word);

// The last `count` non-empty lines of `text`, joined with "; " (for error messages).
std::string last_lines(std::string_view text, std::size_t count);

}  // namespace autoctl::pg

#include "autoctl/pg/pg_ctl.hpp"

#include <signal.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"

namespace autoctl::pg {

using common::Error;
using common::ErrorKind;

namespace {

// pg_ctl puts these paths inside double quotes in a /bin/sh command line.
void check_shell_safe_path(const std::filesystem::path& path, std::string_view what) {
    const auto text = path.string();
    if (text.find_first_of("\"$`\\\n") != std::string::npos) {
        throw Error(ErrorKind::Config, std::string(what) + " \"" + text +
                                           "\" contains a character pg_ctl cannot pass safely (\", $, `, \\ or newline)");
    }
}

std::string read_file_or_empty(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

bool process_exists(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

}  // namespace

std::string_view to_string(StopMode mode) {
    switch (mode) {
        case StopMode::Smart: return "smart";
        case StopMode::Fast: return "fast";
        case StopMode::Immediate: return "immediate";
    }
    return "fast";
}

std::string postgres_options(const StartOptions& options) {
    std::vector<std::string> tokens;
    if (options.port) {
        tokens.emplace_back("-p");
        tokens.push_back(std::to_string(*options.port));
    }
    if (options.socket_dir) {
        tokens.emplace_back("-k");
        tokens.push_back(options.socket_dir->string());
    }
    if (options.listen_addresses) {
        tokens.emplace_back("-c");
        tokens.push_back("listen_addresses=" + *options.listen_addresses);
    }
    for (const auto& [name, value] : options.settings) {
        tokens.emplace_back("-c");
        tokens.push_back(name + "=" + value);
    }
    std::string text;
    for (const auto& token : tokens) {
        if (!text.empty()) text += ' ';
        text += shell_quote(token);
    }
    return text;
}

PgCtl::PgCtl(PgBindir bindir, std::optional<RunAs> run_as) : bindir_(std::move(bindir)), run_as_(std::move(run_as)) {}

Command PgCtl::command(std::string_view program) const {
    Command command(bindir_.program(program).string());
    if (run_as_) command.run_as(*run_as_);
    return command;
}

void PgCtl::initdb(const std::filesystem::path& pgdata, const InitdbOptions& options) const {
    auto cmd = command("initdb");
    cmd.arg("--pgdata", pgdata);
    if (options.auth_host) {
        cmd.arg("--auth-local=" + options.auth).arg("--auth-host=" + *options.auth_host);
    } else {
        cmd.arg("--auth=" + options.auth);
    }
    cmd.arg("--encoding=" + options.encoding).arg("--locale=" + options.locale).arg("--no-instructions");
    if (!options.username.empty()) cmd.arg("--username=" + options.username);
    if (options.pwfile) cmd.arg("--pwfile=" + options.pwfile->string());
    if (options.data_checksums) cmd.arg("--data-checksums");
    if (options.no_sync) cmd.arg("--no-sync");
    cmd.c_locale().timeout(std::chrono::minutes(10)).run();
}

void PgCtl::start(const std::filesystem::path& pgdata, const StartOptions& options) const {
    check_shell_safe_path(pgdata, "PGDATA");
    check_shell_safe_path(options.logfile, "log file");
    if (status(pgdata).is_running) {
        common::logger("pg")->info("postgres is already running in \"{}\"", pgdata.string());
        return;
    }
    auto cmd = command("pg_ctl");
    cmd.arg("start").arg("--pgdata", pgdata).arg("--log", options.logfile).arg("--wait");
    cmd.arg("--timeout=" + std::to_string(options.wait_timeout.count()));
    const auto postgres_opts = postgres_options(options);
    if (!postgres_opts.empty()) cmd.arg("--options", postgres_opts);
    cmd.timeout(options.wait_timeout + std::chrono::seconds(30));
    try {
        cmd.run();
    } catch (const Error& e) {
        const auto log_tail = last_lines(read_file_or_empty(options.logfile), 5);
        std::string message = std::string(e.what()) + "; server log \"" + options.logfile.string() + "\"";
        message += log_tail.empty() ? " is empty" : ": " + common::redact_conninfo(log_tail);
        throw Error(e.kind(), message);
    }
}

void PgCtl::stop(const std::filesystem::path& pgdata, StopMode mode, std::chrono::seconds timeout) const {
    if (!status(pgdata).is_running) return;
    auto cmd = command("pg_ctl");
    cmd.arg("stop").arg("--pgdata", pgdata).arg("--mode", std::string(to_string(mode))).arg("--wait");
    cmd.arg("--timeout=" + std::to_string(timeout.count()));
    cmd.timeout(timeout + std::chrono::seconds(30)).run();
}

PostgresStatus PgCtl::status(const std::filesystem::path& pgdata) const {
    PostgresStatus result;
    result.pid_file = parse_postmaster_pid(read_file_or_empty(pgdata / "postmaster.pid"));
    result.is_running = result.pid_file && process_exists(result.pid_file->pid);
    return result;
}

ControlData PgCtl::controldata(const std::filesystem::path& pgdata) const {
    auto result = command("pg_controldata").arg(pgdata).c_locale().timeout(std::chrono::seconds(60)).run();
    try {
        return parse_controldata(result.out);
    } catch (const Error& e) {
        throw e.with_context("pg_controldata \"" + pgdata.string() + "\"");
    }
}

}  // namespace autoctl::pg

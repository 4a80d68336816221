#include "node_support.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
#include <vector>

#include "autoctl/cli/commands.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/common/paths.hpp"
#include "autoctl/common/supervisor.hpp"
#include "autoctl/monitor/monitor_node.hpp"
#include "autoctl/pg/command.hpp"
#include "autoctl/pg/conf_files.hpp"
#include "autoctl/pg/controldata.hpp"
#include "autoctl/pg/pg_ctl.hpp"
#include "autoctl/pg/postmaster_service.hpp"

namespace autoctl::cli {

namespace fs = std::filesystem;
using common::Error;
using common::ErrorKind;

namespace {

constexpr std::size_t kSocketPathMax = 107;  // sizeof(sockaddr_un::sun_path) - 1

using common::quoted;

std::string trim(std::string_view text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(" \t");
    return std::string(text.substr(first, last - first + 1));
}

std::string address_text(const sockaddr* addr) {
    char text[INET6_ADDRSTRLEN] = {0};
    if (addr->sa_family == AF_INET) {
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, text, sizeof text);
    } else if (addr->sa_family == AF_INET6) {
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr, text, sizeof text);
    }
    return text;
}

// Binds one address; returns 0 or the errno of bind().
int try_bind(const sockaddr* addr, socklen_t length) {
    const int fd = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr->sa_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    const int rc = ::bind(fd, addr, length);
    const int err = rc == 0 ? 0 : errno;
    ::close(fd);
    return err;
}

std::string read_small_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// postmaster.pid says "ready" and names a live process.
bool postgres_is_ready(const fs::path& pgdata) {
    const auto pid_file = pg::parse_postmaster_pid(read_small_file(pgdata / "postmaster.pid"));
    return pid_file && pid_file->status == "ready" && pid_file->pid > 0 && ::kill(pid_file->pid, 0) == 0;
}

}  // namespace

// pg_hba.conf methods (Postgres 15); "skip" is --skip-pg-hba.
const std::vector<std::string> kAuthMethods = {"trust", "reject", "scram-sha-256", "md5", "password", "gss",
                                               "sspi",  "ident",  "peer",          "pam", "ldap",     "radius",
                                               "cert",  "skip"};

void check_auth_options(const AuthOptions& auth) {
    auth.validate();
    if (!auth.auth.empty() && std::find(kAuthMethods.begin(), kAuthMethods.end(), auth.auth) == kAuthMethods.end()) {
        throw Error(ErrorKind::Usage, "--auth \"" + auth.auth +
                                          "\" is not a pg_hba.conf method: use trust, md5, scram-sha-256, cert, ... "
                                          "or --skip-pg-hba");
    }
}

const CLI::Validator& port_validator() {
    static const CLI::Validator validator(
        [](std::string& value) -> std::string {
            if (!value.empty() && value.size() <= 5 && value.find_first_not_of("0123456789") == std::string::npos) {
                const int port = std::stoi(value);
                if (port >= 1 && port <= 65535) return {};
            }
            return "expected a port number between 1 and 65535, got \"" + value + "\"";
        },
        "PORT");
    return validator;
}

std::string absolute_file(const std::string& file, const char* option) {
    if (file.empty()) return file;
    const auto path = common::absolute_pgdata_from_process(file);
    if (::access(path.c_str(), R_OK) != 0) {
        throw Error(ErrorKind::Usage, std::string(option) + " " + quoted(path) + " cannot be read: " + std::strerror(errno));
    }
    return path.string();
}

// --pgctl made absolute (not resolved: a symbolic link to a wrapper must keep its directory).
fs::path pg_ctl_path(const std::string& given) {
    const fs::path path = fs::absolute(given).lexically_normal();
    if (::access(path.c_str(), X_OK) != 0) {
        throw Error(ErrorKind::Usage, "--pgctl " + quoted(path) + " is not an executable program: " + std::strerror(errno));
    }
    return path;
}

void set_ssl_config(common::Config& config, const SslOptions& ssl, const common::NodePaths& paths) {
    config.set("ssl.sslmode", ssl.effective_ssl_mode());
    const bool active = !ssl.no_ssl;
    config.set("ssl.active", active ? "1" : "0");
    if (ssl.self_signed) {
        config.set("ssl.ca_file", "");
        config.set("ssl.crl_file", "");
        config.set("ssl.cert_file", (paths.pgdata / "server.crt").string());
        config.set("ssl.key_file", (paths.pgdata / "server.key").string());
    } else {
        config.set("ssl.ca_file", absolute_file(ssl.ca_file, "--ssl-ca-file"));
        config.set("ssl.crl_file", absolute_file(ssl.crl_file, "--ssl-crl-file"));
        config.set("ssl.cert_file", absolute_file(ssl.server_cert, "--server-cert"));
        config.set("ssl.key_file", absolute_file(ssl.server_key, "--server-key"));
    }
}


PgdataState inspect_pgdata(const fs::path& pgdata) {
    std::error_code ec;
    const auto status = fs::status(pgdata, ec);
    if (status.type() == fs::file_type::not_found) return PgdataState::Missing;
    if (ec) throw Error(ErrorKind::Usage, "cannot inspect PGDATA " + quoted(pgdata) + ": " + ec.message());
    if (!fs::is_directory(status)) {
        throw Error(ErrorKind::Usage, "PGDATA " + quoted(pgdata) + " exists and is not a directory: choose another --pgdata");
    }
    if (is_postgres_cluster(pgdata)) return PgdataState::Cluster;
    fs::directory_iterator it(pgdata, ec);
    if (ec) throw Error(ErrorKind::Usage, "cannot read PGDATA " + quoted(pgdata) + ": " + ec.message());
    if (it == fs::directory_iterator()) return PgdataState::Empty;
    throw Error(ErrorKind::Usage, "PGDATA " + quoted(pgdata) +
                                      " is not empty and is not a Postgres cluster (no PG_VERSION): use an empty or "
                                      "missing directory, or an existing Postgres data directory");
}

fs::path data_node_socket_directory(const common::NodePaths& paths) {
    const fs::path runtime = paths.pid.parent_path();
    if ((runtime / ".s.PGSQL.65535").string().size() <= kSocketPathMax) return runtime;
    char name[32];
    std::snprintf(name, sizeof name, "autoctl-%08zx", std::hash<std::string>{}(paths.pgdata.string()) & 0xffffffffu);
    return fs::path("/tmp") / name;
}

void ensure_socket_directory(const fs::path& dir) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return;
    fs::create_directories(dir, ec);
    if (ec) throw Error(ErrorKind::Internal, "cannot create the socket directory " + quoted(dir) + ": " + ec.message());
    ::chmod(dir.c_str(), 0700);
}

common::ServiceSpec autoctl_subprocess_service(const std::string& name, const std::string& service,
                                              const fs::path& pgdata, const GlobalOptions& global) {
    std::vector<std::string> verbosity;
    if (global.quiet) {
        verbosity.push_back("-q");
    } else {
        for (int i = 0; i < global.verbose && i < 3; ++i) verbosity.push_back("-v");
    }
    common::ServiceSpec spec;
    spec.name = name;
    spec.start = [exe = self_executable(), verbosity, service, pgdata, supervisor_pid = std::to_string(::getpid())] {
        pg::Command command(exe);
        command.args(verbosity).arg("do").arg("service").arg(service).arg("--pgdata", pgdata);
        command.env("PG_AUTOCTL_DEBUG", "1").env("AUTOCTL_SUPERVISOR_PID", supervisor_pid);
        return command.output(pg::Output::Inherit).start_background();
    };
    spec.smart_signal = SIGTERM;
    spec.fast_signal = SIGTERM;
    spec.immediate_signal = SIGQUIT;
    spec.reload_signal = SIGHUP;
    spec.first_restart_delay = std::chrono::milliseconds(500);
    spec.backoff_base = std::chrono::milliseconds(500);
    spec.max_restart_delay = std::chrono::milliseconds(5000);
    return spec;
}

void refuse_root() {
    if (::geteuid() == 0) {
        throw Error(ErrorKind::Usage,
                    "Postgres refuses to run as root: run autoctl as the OS user that will own PGDATA");
    }
}

void check_socket_path_length(const fs::path& pgdata, int port) {
    const std::string socket = (pgdata / (".s.PGSQL." + std::to_string(port))).string();
    if (socket.size() > kSocketPathMax) {
        throw Error(ErrorKind::Usage, "PGDATA " + quoted(pgdata) + " is too long to hold the Postgres unix socket " +
                                          "(\"" + socket + "\" has " + std::to_string(socket.size()) +
                                          " characters, at most " + std::to_string(kSocketPathMax) +
                                          " fit): use a shorter path");
    }
}

void check_port_available(const std::string& listen_addresses, int port) {
    auto log = common::logger("cli");
    std::vector<std::string> entries;
    std::stringstream list(listen_addresses);
    for (std::string entry; std::getline(list, entry, ',');) {
        entry = trim(entry);
        if (!entry.empty()) entries.push_back(entry);
    }
    const std::string port_text = std::to_string(port);
    for (const auto& entry : entries) {
        std::vector<std::pair<sockaddr_storage, socklen_t>> addresses;
        if (entry == "*") {
            sockaddr_in v4{};
            v4.sin_family = AF_INET;
            v4.sin_port = htons(static_cast<std::uint16_t>(port));
            v4.sin_addr.s_addr = htonl(INADDR_ANY);
            sockaddr_in6 v6{};
            v6.sin6_family = AF_INET6;
            v6.sin6_port = htons(static_cast<std::uint16_t>(port));
            v6.sin6_addr = in6addr_any;
            sockaddr_storage a{};
            std::memcpy(&a, &v4, sizeof v4);
            addresses.emplace_back(a, static_cast<socklen_t>(sizeof v4));
            std::memcpy(&a, &v6, sizeof v6);
            addresses.emplace_back(a, static_cast<socklen_t>(sizeof v6));
        } else {
            addrinfo hints{};
            hints.ai_family = AF_UNSPEC;
            hints.ai_socktype = SOCK_STREAM;
            hints.ai_flags = AI_NUMERICSERV;
            addrinfo* found = nullptr;
            const int rc = ::getaddrinfo(entry.c_str(), port_text.c_str(), &hints, &found);
            if (rc != 0) {
                throw Error(ErrorKind::Usage, "listen address \"" + entry + "\" does not resolve (" +
                                                  ::gai_strerror(rc) + "): check --listen");
            }
            for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
                sockaddr_storage a{};
                std::memcpy(&a, ai->ai_addr, ai->ai_addrlen);
                addresses.emplace_back(a, ai->ai_addrlen);
            }
            ::freeaddrinfo(found);
        }
        for (const auto& [storage, length] : addresses) {
            const auto* addr = reinterpret_cast<const sockaddr*>(&storage);
            const int err = try_bind(addr, length);
            const std::string where = (entry == "*" ? "*" : address_text(addr)) + " port " + port_text;
            if (err == 0) continue;
            if (err == EADDRINUSE) {
                throw Error(ErrorKind::State, "port " + port_text + " is already in use on " +
                                                  (addr->sa_family == AF_INET6 ? "[" + address_text(addr) + "]"
                                                                                : address_text(addr)) +
                                                  ": another program listens there; stop it, or choose another "
                                                  "--pgport (or another --listen address)");
            }
            if (err == EACCES) {
                throw Error(ErrorKind::Usage, "port " + port_text + " needs privileges this user does not have (" +
                                                  where + "): choose a --pgport above 1023");
            }
            if (err == EAFNOSUPPORT && entry == "*") continue;  // no IPv6 on this host
            log->warn("cannot bind {} ({}): Postgres will not listen there", where, std::strerror(err));
        }
    }
}

std::string discover_hostname() {
    // The source address of a route towards a public address; connect() on UDP sends nothing.
    for (const char* target : {"8.8.8.8", "2001:4860:4860::8888"}) {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_DGRAM;
        hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
        addrinfo* found = nullptr;
        if (::getaddrinfo(target, "53", &hints, &found) != 0) continue;
        std::string address;
        const int fd = ::socket(found->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) {
            sockaddr_storage local{};
            socklen_t length = sizeof local;
            if (::connect(fd, found->ai_addr, found->ai_addrlen) == 0 &&
                ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
                address = address_text(reinterpret_cast<const sockaddr*>(&local));
            }
            ::close(fd);
        }
        ::freeaddrinfo(found);
        if (!address.empty() && address != "0.0.0.0" && address != "::") return address;
    }
    return "localhost";
}

pg::PgBindir bindir_for(const common::Config& config) {
    const std::string pg_ctl = config.get("postgresql.pg_ctl");
    if (!pg_ctl.empty()) {
        std::error_code ec;
        if (!fs::exists(pg_ctl, ec)) {
            throw Error(ErrorKind::Config, "postgresql.pg_ctl is \"" + pg_ctl +
                                               "\", which does not exist: fix it with autoctl config set "
                                               "postgresql.pg_ctl <path>");
        }
        return pg::PgBindir::from_pg_ctl(pg_ctl);
    }
    return pg::find_bindir();
}

std::string self_executable() {
    if (const char* path = std::getenv("PG_AUTOCTL_DEBUG_BIN_PATH"); path != nullptr && *path != '\0') return path;
    std::error_code ec;
    const auto resolved = fs::read_symlink("/proc/self/exe", ec);
    if (!ec && fs::exists(resolved, ec)) return resolved.string();
    return "/proc/self/exe";  // the binary was replaced or removed: exec what is running
}

common::Config load_node_config(const common::NodePaths& paths) {
    std::error_code ec;
    if (!fs::exists(paths.config, ec)) {
        throw Error(ErrorKind::Config, "there is no autoctl node at PGDATA " + quoted(paths.pgdata) +
                                           " (no configuration file " + quoted(paths.config) +
                                           "): create it first, e.g. with autoctl create monitor");
    }
    return common::Config::load(paths.config);
}

bool is_postgres_cluster(const fs::path& pgdata) {
    std::error_code ec;
    return fs::is_regular_file(pgdata / "PG_VERSION", ec);
}

common::PidFileContents own_pid_contents(const common::NodePaths& paths) {
    common::PidFileContents contents;
    contents.pid = ::getpid();
    contents.pgdata = paths.pgdata.string();
    contents.version = version_string();
    return contents;
}

bool stop_supervisor(const common::NodePaths& paths, int sig, std::chrono::seconds timeout) {
    auto log = common::logger("cli");
    const auto probe = common::probe_pid_file(paths.pid);
    if (!probe.running) return false;
    if (::kill(probe.pid, sig) != 0) {
        throw Error(ErrorKind::Internal, "failed to signal autoctl (pid " + std::to_string(probe.pid) +
                                             "): " + std::strerror(errno));
    }
    log->info("Sent {} to autoctl (pid {}), waiting for it to stop", sig == SIGTERM ? "SIGTERM"
                                                                     : sig == SIGINT ? "SIGINT"
                                                                     : sig == SIGQUIT ? "SIGQUIT"
                                                                                      : std::to_string(sig),
              probe.pid);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
        const auto now_probe = common::probe_pid_file(paths.pid);
        if (!now_probe.running || now_probe.pid != probe.pid) break;
        if (std::chrono::steady_clock::now() >= deadline) {
            throw Error(ErrorKind::State, "autoctl (pid " + std::to_string(probe.pid) + ") is still running " +
                                              std::to_string(timeout.count()) +
                                              " s after the stop signal: see its log, or use --immediate");
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    log->info("autoctl (pid {}) has stopped", probe.pid);
    return true;
}

void run_monitor_node(const common::NodePaths& paths, const GlobalOptions& global,
                      std::optional<common::PidFile> held) {
    refuse_root();
    auto log = common::logger("monitor");
    auto config = std::make_shared<common::Config>(load_node_config(paths));
    if (config->role() != common::ConfigRole::Monitor) {
        throw Error(ErrorKind::Config, "PGDATA " + quoted(paths.pgdata) +
                                           " is a keeper node: autoctl run only runs a monitor for now");
    }
    std::error_code ec;
    if (fs::exists(paths.init, ec)) {
        throw Error(ErrorKind::State, "autoctl create monitor did not finish for PGDATA " + quoted(paths.pgdata) +
                                          " (" + quoted(paths.init) +
                                          " exists): run the same autoctl create monitor command again to finish it");
    }
    const fs::path pgdata = config->get("postgresql.pgdata");
    if (!is_postgres_cluster(pgdata)) {
        throw Error(ErrorKind::Config, "PGDATA " + quoted(pgdata) +
                                           " is not a Postgres cluster (no PG_VERSION): the monitor's data directory "
                                           "is gone; drop the monitor and create it again");
    }
    const int port = static_cast<int>(config->get_int("postgresql.port"));
    check_socket_path_length(pgdata, port);

    common::PidFile pid_file =
        held ? std::move(*held) : common::PidFile::acquire(paths.pid, own_pid_contents(paths));
    if (!held && pid_file.stale_pid() != 0) {
        log->info("monitor: replaced a stale pid file (pid {} is not running)", pid_file.stale_pid());
    }

    const auto bindir = bindir_for(*config);
    const pg::PgCtl pg_ctl(bindir);
    if (const auto status = pg_ctl.status(pgdata); status.is_running) {
        log->warn("monitor: Postgres already runs at {} with pid {}, outside of autoctl: stopping it (fast) to run it "
                  "under this supervisor",
                  quoted(pgdata), status.pid_file->pid);
        pg_ctl.stop(pgdata, pg::StopMode::Fast);
    }
    check_port_available(config->get("postgresql.listen_addresses"), port);
    // Settings changed with `autoctl config set` since the last run take effect now.
    pg::write_auto_failover_conf(pgdata, monitor::monitor_postgres_settings(*config));

    common::ServiceSpec postgres = pg::postmaster_service(bindir.program("postgres"), pgdata);

    common::ServiceSpec service = autoctl_subprocess_service("monitor service", "monitor", pgdata, global);
    service.can_start = [pgdata] { return postgres_is_ready(pgdata); };
    service.stop_timeout = std::chrono::seconds(10);

    common::SupervisorOptions options;
    options.role = "monitor";
    options.pid_file = &pid_file;
    options.pid_contents = own_pid_contents(paths);
    options.on_reload = [config, paths, pgdata] {
        auto fresh = load_node_config(paths);
        if (fresh.role() != common::ConfigRole::Monitor) {
            throw Error(ErrorKind::Config, quoted(paths.config) + " is not a monitor configuration any more");
        }
        for (const char* key : {"postgresql.port", "postgresql.pgdata"}) {
            if (fresh.get(key) != config->get(key)) {
                common::logger("monitor")->warn("monitor: {} changed from {} to {}: restart autoctl to apply it", key,
                                                config->get(key), fresh.get(key));
            }
        }
        pg::write_auto_failover_conf(pgdata, monitor::monitor_postgres_settings(fresh));
        *config = fresh;
    };

    log->info("monitor: starting the supervisor for PGDATA {} (pid {})", quoted(pgdata), ::getpid());
    common::Supervisor supervisor(std::move(options), {std::move(postgres), std::move(service)});
    const auto result = supervisor.run();
    pid_file.release();
    if (result.exit_code != common::ExitCode::Quit) throw Error(ErrorKind::Fatal, result.message);
}

}  // namespace autoctl::cli

#include "support/pg_cluster.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "autoctl/common/error.hpp"

namespace autoctl::fixture {

namespace {

constexpr int kStartAttempts = 5;

bool process_exists(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

// Whether /proc/<pid> is a zombie (gone for our purposes: it only waits for its parent).
bool is_zombie(pid_t pid) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')');
    return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

// Polls until `pid` is gone (or a zombie), at most `limit`.
bool wait_until_gone(pid_t pid, std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (process_exists(pid) && !is_zombie(pid)) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

}  // namespace

PgCluster::PgCluster(PgClusterOptions options)
    : options_(std::move(options)),
      dir_("autoctl-pg-"),
      pgdata_(dir_.path() / "pgdata"),
      socket_dir_(dir_.path()),
      log_file_(dir_.path() / "postgres.log"),
      pg_ctl_(pg::find_bindir(), TestUser::get().run_as()) {
    pg::InitdbOptions initdb;
    initdb.auth = "trust";
    initdb.username = options_.superuser;
    initdb.no_sync = true;
    pg_ctl_.initdb(pgdata_, initdb);
    if (options_.start) start();
}

PgCluster::~PgCluster() {
    if (::testing::Test::HasFailure()) {
        std::cerr << "---- server log " << log_file_.string() << " ----\n"
                  << server_log() << "---- end of server log ----\n";
    }
    stop_for_good();
}

void PgCluster::start() {
    for (int attempt = 1;; ++attempt) {
        port_ = free_port();
        pg::StartOptions start;
        start.logfile = log_file_;
        start.port = port_;
        start.socket_dir = socket_dir_;
        start.listen_addresses = "127.0.0.1";
        start.settings = {{"fsync", "off"}, {"max_connections", "20"}, {"shared_buffers", "16MB"}};
        start.settings.insert(start.settings.end(), options_.settings.begin(), options_.settings.end());
        start.wait_timeout = std::chrono::seconds(60);
        try {
            pg_ctl_.start(pgdata_, start);
            break;
        } catch (const common::Error& e) {
            // Another process may have taken the port between free_port() and the bind.
            const bool port_taken = server_log().find("Address already in use") != std::string::npos;
            if (!port_taken || attempt >= kStartAttempts) throw;
            std::ofstream(log_file_, std::ios::trunc).close();
        }
    }
    const auto status = pg_ctl_.status(pgdata_);
    if (!status.is_running || !status.pid_file) {
        throw std::runtime_error("postgres started but postmaster.pid names no live process in " + pgdata_.string());
    }
    postmaster_pid_ = status.pid_file->pid;
}

void PgCluster::stop(pg::StopMode mode) {
    pg_ctl_.stop(pgdata_, mode, std::chrono::seconds(60));
    postmaster_pid_ = 0;
}

bool PgCluster::is_running() const { return pg_ctl_.status(pgdata_).is_running; }

void PgCluster::stop_for_good() noexcept {
    if (postmaster_pid_ == 0 && !is_running()) return;
    try {
        pg_ctl_.stop(pgdata_, pg::StopMode::Immediate, std::chrono::seconds(30));
    } catch (const std::exception& e) {
        std::cerr << "pg_ctl stop -m immediate failed for " << pgdata_.string() << ": " << e.what() << "\n";
    }
    // Last resort: the pid we recorded, only while postmaster.pid still names it.
    if (postmaster_pid_ > 0 && process_exists(postmaster_pid_) && !is_zombie(postmaster_pid_)) {
        const auto status = pg_ctl_.status(pgdata_);
        if (status.pid_file && status.pid_file->pid == postmaster_pid_) {
            std::cerr << "killing postmaster " << postmaster_pid_ << " of " << pgdata_.string() << "\n";
            ::kill(postmaster_pid_, SIGKILL);
            wait_until_gone(postmaster_pid_, std::chrono::seconds(10));
        }
    }
    postmaster_pid_ = 0;
}

pg::ConnInfo PgCluster::conninfo(const std::string& dbname) const {
    pg::ConnInfo info;
    info.set_host("127.0.0.1").set_port(port_).set_user(options_.superuser).set_dbname(dbname);
    info.set_application_name("autoctl-tests");
    return info;
}

pg::Connection PgCluster::connect(const std::string& dbname) const {
    return pg::Connection(conninfo(dbname), pg::ConnectOptions{std::chrono::seconds(5), common::ErrorKind::Postgres});
}

std::string PgCluster::server_log() const {
    std::ifstream in(log_file_, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace autoctl::fixture

// The files that make a data directory a standby, and the programs that copy one from another
// node: pg_basebackup (a fresh copy) and pg_rewind (rewinds a former primary onto the new one).

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "autoctl/common/atomic_file.hpp"
#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/keeper/local_postgres.hpp"
#include "autoctl/pg/command.hpp"
#include "autoctl/pg/conninfo.hpp"

namespace autoctl::keeper {

namespace {

namespace fs = std::filesystem;
using common::Error;
using common::ErrorKind;

constexpr const char* kPassFile = "autoctl-replication.pgpass";

pg::ConnInfo replication_conninfo(const Upstream& upstream, const std::string& sslmode) {
    pg::ConnInfo info;
    info.set("host", upstream.host).set("port", std::to_string(upstream.port)).set("user", kReplicationUser);
    info.set("sslmode", sslmode.empty() ? "prefer" : sslmode);
    info.set("connect_timeout", "2");
    return info;
}

// A .pgpass line escapes ':' and '\'.
std::string pgpass_escape(const std::string& text) {
    std::string out;
    for (char c : text) {
        if (c == ':' || c == '\\') out += '\\';
        out += c;
    }
    return out;
}

// Flushes the file system holding `dir` with one syncfs(2) instead of an fsync per file (what
// pg_basebackup, pg_rewind and initdb --sync-only do): seconds faster on a data directory of
// thousands of files, and just as durable for what Postgres reads at its next start.
void sync_file_system(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) throw Error(ErrorKind::Internal, "cannot open \"" + dir.string() + "\" to sync it");
    const int rc = ::syncfs(fd);
    ::close(fd);
    if (rc != 0) throw Error(ErrorKind::Internal, "syncfs of \"" + dir.string() + "\" failed");
}

}  // namespace

void LocalPostgres::write_standby_setup(const std::optional<Upstream>& upstream, std::int64_t own_node_id,
                                        const std::string& sslmode) const {
    std::vector<pg::Setting> settings;
    if (upstream) {
        auto info = replication_conninfo(*upstream, sslmode);
        info.set("application_name", standby_slot_name(own_node_id));
        if (!password_.empty()) {
            common::write_file_atomic(pgdata_ / kPassFile, "*:*:*:" + std::string(kReplicationUser) + ":" +
                                                               pgpass_escape(password_) + "\n",
                                      0600, ErrorKind::Config);
            info.set("passfile", (pgdata_ / kPassFile).string());
        }
        settings.push_back({"primary_conninfo", info.to_libpq()});
        settings.push_back({"primary_slot_name", standby_slot_name(own_node_id)});
    }
    settings.push_back({"recovery_target_timeline", "latest"});
    std::string text = "# Standby settings written by autoctl: do not edit.\n";
    for (const auto& s : settings) text += s.name + " = " + pg::quote_conf_value(s.value) + "\n";
    common::write_file_atomic(pgdata_ / kStandbyConfFile, text, 0600, ErrorKind::Config);
    if (!has_standby_signal()) common::write_file_atomic(pgdata_ / "standby.signal", "", 0600, ErrorKind::Config);
}

void LocalPostgres::remove_standby_signal() const {
    std::error_code ec;
    fs::remove(pgdata_ / "standby.signal", ec);
    common::write_file_atomic(pgdata_ / kStandbyConfFile, "# This node is not a standby.\n", 0600, ErrorKind::Config);
}

bool LocalPostgres::has_standby_signal() const {
    std::error_code ec;
    return fs::exists(pgdata_ / "standby.signal", ec);
}

void LocalPostgres::reset_copied_primary_settings() const {
    const auto file = pgdata_ / "postgresql.auto.conf";
    std::error_code ec;
    if (!fs::exists(file, ec)) return;
    std::istringstream in(common::read_text_file(file, ErrorKind::Config));
    std::string out;
    bool changed = false;
    for (std::string line; std::getline(in, line);) {
        if (line.rfind("synchronous_standby_names", 0) == 0 || line.rfind("default_transaction_read_only", 0) == 0) {
            changed = true;
            continue;
        }
        out += line + "\n";
    }
    if (changed) common::write_file_atomic(file, out, 0600, ErrorKind::Config);
}

void LocalPostgres::basebackup(const Upstream& upstream, const std::optional<std::string>& slot,
                               const std::string& sslmode, const std::string& password,
                               const std::string& backup_dir) const {
    auto log = common::logger("keeper");
    const fs::path target = backup_dir.empty() ? fs::path(pgdata_.string() + ".autoctl-backup") : fs::path(backup_dir);
    std::error_code ec;
    fs::remove_all(target, ec);
    pg::Command command(bindir_.program("pg_basebackup").string());
    command.arg("--pgdata", target)
        .arg("-w")
        .arg("--dbname", replication_conninfo(upstream, sslmode).to_libpq())
        .arg("--wal-method=stream")
        .arg("--checkpoint=fast")
        .arg("--no-sync");  // the copy is synced once, below, with the rename
    if (!maximum_backup_rate_.empty()) command.arg("--max-rate", maximum_backup_rate_);
    if (slot) command.arg("--slot", *slot);
    if (!password.empty()) command.env("PGPASSWORD", password);
    command.env("PGAPPNAME", "autoctl_basebackup").c_locale().timeout(std::chrono::hours(6));
    log->info("Copying the data of {}:{} with pg_basebackup{}", upstream.host, upstream.port,
              slot ? " (slot " + *slot + ")" : std::string());
    command.run();
    sync_file_system(target);

    // Swap the directories: the old data stays until the new copy is complete.
    const fs::path old = pgdata_.string() + ".autoctl-old";
    fs::remove_all(old, ec);
    if (fs::exists(pgdata_, ec)) fs::rename(pgdata_, old);
    fs::rename(target, pgdata_);
    ::chmod(pgdata_.c_str(), 0700);
    sync_file_system(pgdata_);  // the renames
    fs::remove_all(old, ec);
    // The copy holds the upstream's configuration files: ours replace them.
    write_settings();
    reset_copied_primary_settings();
}

void LocalPostgres::rewind(const Upstream& upstream, const std::string& sslmode, const std::string& password) const {
    auto info = replication_conninfo(upstream, sslmode);
    info.set("dbname", "postgres");
    pg::Command command(bindir_.program("pg_rewind").string());
    command.arg("--target-pgdata", pgdata_).arg("--source-server", info.to_libpq()).arg("--no-sync");
    if (!password.empty()) command.env("PGPASSWORD", password);
    command.c_locale().timeout(std::chrono::hours(1));
    common::logger("keeper")->info("Rewinding PGDATA onto {}:{} with pg_rewind", upstream.host, upstream.port);
    command.run();
    sync_file_system(pgdata_);
    write_settings();
    reset_copied_primary_settings();
}

}  // namespace autoctl::keeper

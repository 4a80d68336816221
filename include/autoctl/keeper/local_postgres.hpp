#pragma once
// The keeper's own Postgres: its settings, what it reports, and the SQL and file operations the
// transitions are made of. Postgres is started and stopped by the supervisor
// (supervised_postgres.hpp), never here; everything here works on a running server through the
// unix socket (in the node's runtime directory), as the OS user that owns it, or on the files of a stopped one.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "autoctl/common/config.hpp"
#include "autoctl/fsm/lsn.hpp"
#include "autoctl/pg/bindir.hpp"
#include "autoctl/pg/conf_files.hpp"
#include "autoctl/pg/connection.hpp"

namespace autoctl::keeper {

inline constexpr const char* kReplicationUser = "pgautofailover_replicator";
inline constexpr const char* kHealthCheckUser = "pgautofailover_monitor";
inline constexpr const char* kStandbyConfFile = "postgresql-auto-failover-standby.conf";

// pgautofailover_standby_<id>: the replication slot and application_name of node <id>.
std::string standby_slot_name(std::int64_t node_id);

// Where another node of the group is, for replication.
struct Upstream {
    std::string host;
    int port = 0;
};

// What the keeper reads from its running Postgres for node_active.
struct PostgresReport {
    bool in_recovery = false;
    fsm::Lsn lsn;            // flush LSN on a primary, received (else replayed) LSN on a standby
    int timeline = 0;        // 0 when unknown
    std::string sync_state;  // best sync_state among our standbys: quorum > sync > potential > async
    bool wal_receiver_streaming = false;
    int standby_count = 0;   // pgautofailover_standby_* rows in pg_stat_replication
};

class LocalPostgres {
public:
    explicit LocalPostgres(const common::Config& config);

    const std::filesystem::path& pgdata() const { return pgdata_; }
    int port() const { return port_; }
    const pg::PgBindir& bindir() const { return bindir_; }

    // The settings autoctl owns, written to postgresql-auto-failover.conf (which ends with an
    // include_if_exists of the standby file), and the include line in postgresql.conf.
    std::vector<pg::Setting> settings() const;
    void write_settings() const;

    // Whether Postgres accepts connections (PQping).
    bool is_ready() const;
    // Waits until is_ready(), at most `timeout`.
    bool wait_ready(std::chrono::milliseconds timeout) const;

    PostgresReport report();

    // SQL on the running server; each opens (or reuses) the local superuser connection.
    pg::Rows exec(const std::string& sql);
    pg::Rows exec_params(const std::string& sql, const std::vector<pg::Param>& params);
    void alter_system(const std::string& name, const std::string& value);
    void reset_system(const std::string& name);
    void reload();
    void checkpoint();
    bool in_recovery();
    // pg_promote(wait => true); no-op when not in recovery.
    void promote();
    // Creates pgautofailover_standby_<id> for each id, drops the other inactive
    // pgautofailover_standby_* slots.
    void maintain_replication_slots(const std::vector<std::int64_t>& node_ids);
    void drop_replication_slots();
    // The replication role and the grants pg_rewind needs; the password when one is configured.
    void create_replication_role(const std::string& password);
    void create_health_check_role();
    void create_database(const std::string& dbname);
    // Whether a synchronous (sync or quorum) standby has flushed `target`.
    bool sync_standby_reached(fsm::Lsn target);
    void close();
    // After a reload: the password written in the standby's password file from now on.
    void set_replication_password(std::string password) { password_ = std::move(password); }
    // The verifier of `password` for role `user` (SCRAM or md5, as the server's
    // password_encryption says), to send instead of the password itself.
    std::string encrypted_password(const std::string& user, const std::string& password) const;

    // Files of the standby setup. primary_conninfo is left out without an upstream (report_lsn:
    // replay what we have, connect to nobody).
    void write_standby_setup(const std::optional<Upstream>& upstream, std::int64_t own_node_id,
                             const std::string& sslmode) const;
    void remove_standby_signal() const;
    bool has_standby_signal() const;
    // Removes settings that only mean something on the primary they were copied from
    // (synchronous_standby_names, default_transaction_read_only) from postgresql.auto.conf.
    void reset_copied_primary_settings() const;

    // pg_basebackup from `upstream` into a new directory that then replaces PGDATA.
    void basebackup(const Upstream& upstream, const std::optional<std::string>& slot, const std::string& sslmode,
                    const std::string& password, const std::string& backup_dir) const;
    // pg_rewind from `upstream`; Postgres must be stopped. Throws Error{Command} on failure.
    void rewind(const Upstream& upstream, const std::string& sslmode, const std::string& password) const;

private:
    pg::Connection& connection();

    std::filesystem::path pgdata_;
    int port_ = 0;
    // Not PGDATA: pg_rewind would try to copy the socket file from its source.
    std::filesystem::path socket_dir_;
    std::string listen_addresses_;
    pg::PgBindir bindir_;
    std::string auth_method_;
    bool ssl_active_ = false;
    std::string ssl_cert_file_;
    std::string ssl_key_file_;
    std::string ssl_ca_file_;
    std::string maximum_backup_rate_;
    std::string password_;  // replication.password: never logged
    std::optional<pg::Connection> conn_;
};

}  // namespace autoctl::keeper

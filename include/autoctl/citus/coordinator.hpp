#pragma once
// What autoctl asks of a Citus coordinator (design.md §3, reference §5): its keepers, never the
// monitor, connect to the coordinator's database as the local OS user and
//   - register the coordinator itself (group 0) and each worker group's primary;
//   - move a worker group to its new primary in two phases: citus_update_node(..., force => true,
//     lock_cooldown => N) prepared as a transaction before the standby is promoted (Citus then
//     blocks writes to that group), committed after the promotion, rolled back when the failover
//     is aborted;
//   - remove the pg_dist_node rows of groups that no longer exist (coordinator primary only).
//
// Citus 10 and later name the functions citus_*; older releases master_*. The names are probed
// once per connection in pg_proc, so the same code also runs against the SQL emulation of the
// tests (tests/fixtures/citus_emulation.sql), which autoctl never installs.
//
// Every step can be re-run after a crash: registration checks pg_dist_node first, the prepared
// update checks pg_prepared_xacts. Every failure is Error{Citus}.

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "autoctl/pg/connection.hpp"
#include "autoctl/pg/conninfo.hpp"

namespace autoctl::citus {

// Function names of the node API: citus_add_node, ... (Citus >= 10) or master_add_node, ...
enum class ApiNaming { Citus, Master };

struct DistNode {
    std::int64_t node_id = 0;
    int group = 0;
    std::string host;
    int port = 0;
    std::string role;  // primary, secondary, unavailable
    std::string cluster = "default";
    bool is_active = true;
};

// The gid of the prepared citus_update_node of a group: "citus_update_node <group>" with the
// citus_* names, pg_autoctl's "master_update_node <group>" with the master_* names.
std::string update_node_gid(int group, ApiNaming naming);

// The connection parameters of a coordinator: its host and port (from the monitor), the
// formation's database, the OS user (libpq's default) unless `user` is given.
pg::ConnInfo coordinator_conninfo(const std::string& host, int port, const std::string& dbname,
                                  const std::string& sslmode = "", const std::string& user = "");

// The local Citus installation, on a connection to the node's own database.
// Whether the citus extension can be created (pg_available_extensions).
bool extension_available(pg::Connection& conn);
// Whether it is created in this database.
bool extension_installed(pg::Connection& conn);

class CoordinatorClient {
public:
    // Connects at once (connect timeout 2 s unless the ConnInfo sets one).
    explicit CoordinatorClient(const pg::ConnInfo& info);
    // On an open connection (the coordinator's own keeper, on its local database).
    explicit CoordinatorClient(pg::Connection conn);

    pg::Connection& connection() { return conn_; }

    // Whether the database has pg_dist_node and the node functions (Citus, or the emulation).
    bool has_node_api();
    // Which names the functions have; Error{Citus} when there is no node API.
    ApiNaming naming();
    // Whether the update function takes force and lock_cooldown (Citus >= 8.3).
    bool update_supports_force();

    std::vector<DistNode> nodes();
    // The primary row of a group in the default cluster, if any.
    std::optional<DistNode> primary_of_group(int group);

    // Registers host:port as the primary of `group` (a worker), returning its node id; a node
    // already registered at host:port keeps its row (and its id is returned).
    std::int64_t add_node(const std::string& host, int port, int group);
    // Registers the coordinator itself as group 0, or moves the group 0 row to host:port.
    void set_coordinator_host(const std::string& host, int port);

    // The prepared transaction of `group` (either gid), if any.
    std::optional<std::string> prepared_update_gid(int group);
    // BEGIN; update_node(primary of `group` -> host:port, force, lock_cooldown); PREPARE
    // TRANSACTION. Nothing when a prepared transaction of the group exists already. With no row
    // for the group, an empty transaction is prepared (as pg_autoctl does). Returns the gid.
    std::string prepare_update_node(int group, const std::string& host, int port, int lock_cooldown_ms);
    // COMMIT PREPARED / ROLLBACK PREPARED of the group's transaction; false when there is none.
    bool commit_update_node(int group);
    bool rollback_update_node(int group);
    // Points the group's primary row at host:port in one transaction, when it does not already
    // (after a crash lost the prepared transaction, or a failover that was aborted). Returns
    // whether a row changed.
    bool update_node(int group, const std::string& host, int port, int lock_cooldown_ms);

    void remove_node(const std::string& host, int port);
    // Removes the rows whose (group, cluster) is not in `groups` (group 0 is always kept).
    // Returns the rows removed; a row Citus refuses to remove (shards placed on it) is skipped
    // and named in `refused`.
    std::vector<DistNode> remove_stale_nodes(const std::set<std::pair<int, std::string>>& groups,
                                             std::vector<std::string>* refused = nullptr);

private:
    void probe();
    std::string fn(const char* suffix);  // "citus_add_node" or "master_add_node"

    pg::Connection conn_;
    bool probed_ = false;
    bool has_api_ = false;
    ApiNaming naming_ = ApiNaming::Citus;
    bool force_ = false;
    bool set_coordinator_host_ = false;
};

}  // namespace autoctl::citus

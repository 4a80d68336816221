// The Citus coordinator as autoctl's keepers use it (coordinator.hpp).

#include "autoctl/citus/coordinator.hpp"

#include "autoctl/common/error.hpp"

namespace autoctl::citus {

namespace {

using common::Error;
using common::ErrorKind;

std::string literal(const std::string& text) {
    std::string out = "'";
    for (const char c : text) {
        if (c == '\'') out += '\'';
        out += c;
    }
    return out + "'";
}

DistNode node_of(const pg::Row& row) {
    DistNode n;
    n.node_id = row.as_int64(0);
    n.group = static_cast<int>(row.as_int64(1));
    n.host = row.text(2);
    n.port = static_cast<int>(row.as_int64(3));
    n.role = row.text(4);
    n.cluster = row.text(5);
    n.is_active = row.as_bool(6);
    return n;
}

constexpr const char* kNodeColumns =
    "SELECT nodeid, groupid, nodename, nodeport, noderole::text, nodecluster::text, isactive FROM pg_dist_node";

}  // namespace

std::string update_node_gid(int group, ApiNaming naming) {
    return std::string(naming == ApiNaming::Citus ? "citus_update_node " : "master_update_node ") +
           std::to_string(group);
}

pg::ConnInfo coordinator_conninfo(const std::string& host, int port, const std::string& dbname,
                                  const std::string& sslmode, const std::string& user) {
    pg::ConnInfo info;
    info.set_host(host).set_port(port).set_dbname(dbname);
    if (!user.empty()) info.set_user(user);
    if (!sslmode.empty()) info.set_sslmode(sslmode);
    info.set_connect_timeout(2).set_application_name("autoctl_keeper");
    return info;
}

bool extension_available(pg::Connection& conn) {
    return conn.exec("SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'citus')")
        .scalar()
        .value_or("f") == "t";
}

bool extension_installed(pg::Connection& conn) {
    return conn.exec("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')").scalar().value_or("f") ==
           "t";
}

CoordinatorClient::CoordinatorClient(const pg::ConnInfo& info)
    : conn_(info, pg::ConnectOptions{std::chrono::seconds(2), ErrorKind::Citus}) {}

CoordinatorClient::CoordinatorClient(pg::Connection conn) : conn_(std::move(conn)) {}

void CoordinatorClient::probe() {
    // A database without the API is probed again next time: the emulation (tests) or
    // CREATE EXTENSION may come later.
    if (probed_ && has_api_) return;
    const auto rows = conn_.exec(
        "SELECT to_regclass('pg_dist_node') IS NOT NULL, "
        "EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'citus_add_node' AND pg_function_is_visible(oid)), "
        "EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'citus_update_node' AND pg_function_is_visible(oid)), "
        "EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'master_add_node' AND pg_function_is_visible(oid)), "
        "EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'master_update_node' AND pg_function_is_visible(oid)), "
        "EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'citus_set_coordinator_host' "
        "AND pg_function_is_visible(oid))");
    const auto& r = rows[0];
    const bool citus_names = r.as_bool(1) && r.as_bool(2);
    const bool master_names = r.as_bool(3) && r.as_bool(4);
    probed_ = true;
    has_api_ = r.as_bool(0) && (citus_names || master_names);
    if (!has_api_) return;
    naming_ = citus_names ? ApiNaming::Citus : ApiNaming::Master;
    set_coordinator_host_ = r.as_bool(5);
    force_ = conn_.exec_params(
                      "SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = $1 AND pg_function_is_visible(oid) "
                      "AND proargnames @> ARRAY['force', 'lock_cooldown'])",
                      fn("update_node"))
                 .scalar()
                 .value_or("f") == "t";
}

bool CoordinatorClient::has_node_api() {
    probe();
    return has_api_;
}

ApiNaming CoordinatorClient::naming() {
    probe();
    if (!has_api_) {
        throw Error(ErrorKind::Citus, "the database " + conn_.endpoint() +
                                          " has no Citus node API (pg_dist_node, citus_add_node): is the citus "
                                          "extension created there?");
    }
    return naming_;
}

bool CoordinatorClient::update_supports_force() {
    naming();
    return force_;
}

std::string CoordinatorClient::fn(const char* suffix) {
    return std::string(naming_ == ApiNaming::Citus ? "citus_" : "master_") + suffix;
}

std::vector<DistNode> CoordinatorClient::nodes() {
    naming();
    std::vector<DistNode> out;
    for (const auto& row : conn_.exec(std::string(kNodeColumns) + " ORDER BY groupid, nodeid")) {
        out.push_back(node_of(row));
    }
    return out;
}

std::optional<DistNode> CoordinatorClient::primary_of_group(int group) {
    naming();
    const auto rows = conn_.exec_params(std::string(kNodeColumns) +
                                            " WHERE groupid = $1 AND noderole = 'primary' AND nodecluster = "
                                            "'default' ORDER BY nodeid LIMIT 1",
                                        group);
    if (rows.empty()) return std::nullopt;
    return node_of(rows[0]);
}

std::int64_t CoordinatorClient::add_node(const std::string& host, int port, int group) {
    naming();
    const auto existing =
        conn_.exec_params("SELECT nodeid FROM pg_dist_node WHERE nodename = $1 AND nodeport = $2", host, port);
    if (!existing.empty()) return existing[0].as_int64(0);
    // Before Citus 9.1 the function returned the pg_dist_node row: its first column is the id
    // either way.
    const auto rows = conn_.exec_params("SELECT * FROM " + fn("add_node") +
                                            "($1::text, $2::int, groupid => $3::int, noderole => 'primary', "
                                            "nodecluster => 'default')",
                                        host, port, group);
    if (rows.empty()) throw Error(ErrorKind::Citus, fn("add_node") + " returned no node id");
    return rows[0].as_int64(0);
}

void CoordinatorClient::set_coordinator_host(const std::string& host, int port) {
    naming();
    const auto current = primary_of_group(0);
    if (current && current->host == host && current->port == port) return;
    if (set_coordinator_host_) {
        conn_.exec_params("SELECT citus_set_coordinator_host($1::text, $2::int)", host, port);
    } else if (!current) {
        conn_.exec_params("SELECT * FROM " + fn("add_node") +
                              "($1::text, $2::int, groupid => 0, noderole => 'primary', nodecluster => 'default')",
                          host, port);
    } else {
        update_node(0, host, port, 10000);
    }
}

std::optional<std::string> CoordinatorClient::prepared_update_gid(int group) {
    const auto rows = conn_.exec_params(
        "SELECT gid FROM pg_prepared_xacts WHERE gid IN ($1, $2) AND database = current_database() LIMIT 1",
        update_node_gid(group, ApiNaming::Citus), update_node_gid(group, ApiNaming::Master));
    if (rows.empty()) return std::nullopt;
    return rows[0].text(0);
}

namespace {

// The update of a group's primary row to host:port, as one statement; no row when it points
// there already.
std::string update_sql(const std::string& function, bool force) {
    return "SELECT " + function + "(nodeid, $2::text, $3::int" +
           (force ? ", force => true, lock_cooldown => $4::int" : "") +
           ") FROM pg_dist_node WHERE groupid = $1 AND noderole = 'primary' AND nodecluster = 'default' "
           "AND (nodename, nodeport) IS DISTINCT FROM ($2::text, $3::int)";
}

std::vector<pg::Param> update_params(bool force, int group, const std::string& host, int port, int cooldown) {
    std::vector<pg::Param> params{group, host, port};
    if (force) params.emplace_back(cooldown);
    return params;
}

}  // namespace

std::string CoordinatorClient::prepare_update_node(int group, const std::string& host, int port,
                                                   int lock_cooldown_ms) {
    naming();
    if (auto gid = prepared_update_gid(group)) return *gid;
    const std::string gid = update_node_gid(group, naming_);
    conn_.exec("BEGIN");
    try {
        conn_.exec_params(update_sql(fn("update_node"), force_),
                          update_params(force_, group, host, port, lock_cooldown_ms));
        conn_.exec("PREPARE TRANSACTION " + literal(gid));
    } catch (const Error&) {
        try {
            conn_.exec("ROLLBACK");
        } catch (const Error&) {
        }
        throw;
    }
    return gid;
}

bool CoordinatorClient::commit_update_node(int group) {
    const auto gid = prepared_update_gid(group);
    if (!gid) return false;
    conn_.exec("COMMIT PREPARED " + literal(*gid));
    return true;
}

bool CoordinatorClient::rollback_update_node(int group) {
    const auto gid = prepared_update_gid(group);
    if (!gid) return false;
    conn_.exec("ROLLBACK PREPARED " + literal(*gid));
    return true;
}

bool CoordinatorClient::update_node(int group, const std::string& host, int port, int lock_cooldown_ms) {
    naming();
    const auto rows = conn_.exec_params(update_sql(fn("update_node"), force_),
                                        update_params(force_, group, host, port, lock_cooldown_ms));
    return !rows.empty();
}

void CoordinatorClient::remove_node(const std::string& host, int port) {
    naming();
    conn_.exec_params("SELECT " + fn("remove_node") + "($1::text, $2::int)", host, port);
}

std::vector<DistNode> CoordinatorClient::remove_stale_nodes(const std::set<std::pair<int, std::string>>& groups,
                                                            std::vector<std::string>* refused) {
    std::vector<DistNode> removed;
    for (const auto& node : nodes()) {
        if (node.group == 0 || groups.count({node.group, node.cluster}) > 0) continue;
        try {
            remove_node(node.host, node.port);
            removed.push_back(node);
        } catch (const pg::SqlError& e) {
            if (refused) refused->push_back(node.host + ":" + std::to_string(node.port) + ": " + e.what());
        }
    }
    return removed;
}

}  // namespace autoctl::citus

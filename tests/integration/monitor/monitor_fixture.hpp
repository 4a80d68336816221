#pragma once
// A monitor database on a real Postgres (PgCluster), its schema installed by autoctl, a monitor
// service running in a thread, and a KeeperPlayer that plays keepers through the SQL API as role
// autoctl_node. Waits are on conditions (polling the database), never fixed sleeps.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <pqxx/pqxx>
#include <string>
#include <thread>
#include <vector>

#include "autoctl/monitor/monitor_service.hpp"
#include "autoctl/monitor/schema.hpp"
#include "support/pg_cluster.hpp"

namespace autoctl::testing {

using namespace std::chrono_literals;

inline std::string conninfo_for(const fixture::PgCluster& cluster, const std::string& user) {
    auto info = cluster.conninfo("pg_auto_failover");
    info.set_user(user);
    return info.to_libpq();
}

class MonitorDatabase {
public:
    MonitorDatabase() {
        auto admin = cluster_.connect();
        admin.exec("CREATE ROLE autoctl LOGIN");
        admin.exec("CREATE ROLE autoctl_node LOGIN");
        admin.exec("CREATE DATABASE pg_auto_failover OWNER autoctl");
        pqxx::connection owner(owner_conninfo());
        monitor::install_or_upgrade_schema(owner);
    }
    fixture::PgCluster& cluster() { return cluster_; }
    std::string owner_conninfo() const { return conninfo_for(cluster_, "autoctl"); }
    std::string node_conninfo() const { return conninfo_for(cluster_, "autoctl_node"); }
    std::string superuser_conninfo() const { return conninfo_for(cluster_, "postgres"); }

    // Runs SQL as the superuser (test setup that no role of autoctl may do, e.g. set health).
    void admin_exec(const std::string& sql) {
        pqxx::connection c(superuser_conninfo());
        pqxx::nontransaction tx(c);
        tx.exec(sql);
    }

private:
    fixture::PgCluster cluster_;
};

class RunningMonitorService {
public:
    RunningMonitorService(const std::string& conninfo, bool health_checks, fsm::Timing timing = {}) {
        monitor::MonitorServiceOptions o;
        o.conninfo = conninfo;
        o.enable_health_checks = health_checks;
        o.timing = timing;
        o.lock_retry = 100ms;
        thread_ = std::thread([this, o] {
            try {
                monitor::MonitorService(o).run(stop_);
            } catch (const std::exception& e) {
                error_ = e.what();
            }
        });
    }
    ~RunningMonitorService() { stop(); }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    const std::string& error() const { return error_; }

private:
    std::atomic<bool> stop_{false};
    std::thread thread_;
    std::string error_;
};

struct Registered {
    std::int64_t id;
    int group;
    std::string state;
    std::string name;
};

// Plays keepers through the SQL API, as autoctl_node.
class KeeperPlayer {
public:
    explicit KeeperPlayer(const std::string& conninfo) : conn_(conninfo) {}

    Registered register_node(const std::string& host, int port, const std::string& name = "",
                             const std::string& kind = "standalone", int priority = 50, bool quorum = true,
                             int group = -1, const std::string& formation = "default",
                             const std::string& dbname = "postgres") {
        pqxx::work tx(conn_);
        auto r = tx.exec_params(
            "SELECT assigned_node_id, assigned_group_id, assigned_group_state::text, assigned_node_name "
            "FROM pgautofailover.register_node($1, $2, $3, $4, $5, 0, -1, $6, 'init', $7, $8, $9)",
            formation, host, port, dbname, name, group, kind, priority, quorum);
        tx.commit();
        return Registered{r[0][0].as<std::int64_t>(), r[0][1].as<int>(), r[0][2].as<std::string>(),
                          r[0][3].as<std::string>()};
    }

    void set_sysid(std::int64_t id) {
        pqxx::work tx(conn_);
        tx.exec_params("SELECT pgautofailover.set_node_system_identifier($1, 7000000000000000001)", id);
        tx.commit();
    }

    // node_active; returns the assigned goal.
    std::string report(std::int64_t id, const std::string& state, const std::string& lsn = "0/3000000",
                       bool pg_running = true, int tli = 1, const std::string& rep_state = "",
                       int group = 0, const std::string& formation = "default") {
        pqxx::work tx(conn_);
        auto r = tx.exec_params(
            "SELECT assigned_group_state::text FROM pgautofailover.node_active($1, $2, $3, $4::pgautofailover.replication_state, "
            "$5, $6, $7::pg_lsn, $8)",
            formation, id, group, state, pg_running, tli, lsn, rep_state);
        tx.commit();
        return r[0][0].as<std::string>();
    }

    std::string goal(std::int64_t id) {
        pqxx::nontransaction tx(conn_);
        return tx.exec_params("SELECT goalstate::text FROM pgautofailover.node WHERE nodeid = $1", id)[0][0]
            .as<std::string>();
    }

    // Reports `state` every 50 ms until the monitor assigns `goal` (or the deadline passes).
    bool report_until_goal(std::int64_t id, const std::string& state, const std::string& goal,
                           std::chrono::milliseconds deadline = 10s, const std::string& lsn = "0/3000000",
                           int tli = 1, const std::string& rep_state = "") {
        auto end = std::chrono::steady_clock::now() + deadline;
        while (std::chrono::steady_clock::now() < end) {
            if (report(id, state, lsn, true, tli, rep_state) == goal) return true;
            std::this_thread::sleep_for(50ms);
        }
        return false;
    }

    pqxx::connection& connection() { return conn_; }

private:
    pqxx::connection conn_;
};

// Waits for a condition, polling every 50 ms.
inline bool wait_for(const std::function<bool()>& condition, std::chrono::milliseconds deadline = 10s) {
    auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
        if (condition()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return condition();
}

// Collects "state" notifications on its own connection.
class StateListener : public pqxx::notification_receiver {
public:
    explicit StateListener(pqxx::connection& c) : notification_receiver(c, "state") {}
    void operator()(const std::string& payload, int) override { payloads.push_back(payload); }
    std::vector<std::string> payloads;
};

}  // namespace autoctl::testing

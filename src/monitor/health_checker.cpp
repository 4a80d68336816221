#include "autoctl/monitor/health_checker.hpp"

#include <libpq-fe.h>

#include <future>
#include <pqxx/pqxx>
#include <thread>
#include <vector>

#include "autoctl/common/log.hpp"

namespace autoctl::monitor {

bool postgres_answers(const std::string& host, int port, std::chrono::milliseconds timeout) {
    // libpq's connect_timeout is in whole seconds, with 2 as its useful minimum.
    auto seconds = std::max<long long>(2, (timeout.count() + 999) / 1000);
    const std::string port_text = std::to_string(port);
    const std::string timeout_text = std::to_string(seconds);
    // Any answer of the postmaster but "cannot connect now" means Postgres runs (even a refusal by
    // pg_hba.conf): no TLS handshake is needed to learn that, and it would cost both ends one a
    // second per node.
    const char* keys[] = {"host", "port", "dbname", "user", "connect_timeout", "application_name", "sslmode",
                          "gssencmode", nullptr};
    const char* values[] = {host.c_str(), port_text.c_str(), "postgres", "pgautofailover_monitor",
                            timeout_text.c_str(), "autoctl health check", "disable", "disable", nullptr};
    return PQpingParams(keys, values, 0) == PQPING_OK;
}

void HealthChecker::run_round(pqxx::connection_base& conn) {
    struct Target {
        std::int64_t id;
        std::string formation;
        int group;
        std::string host;
        int port;
        int health;
    };
    std::vector<Target> targets;
    {
        pqxx::nontransaction tx(conn);
        for (const auto& r : tx.exec("SELECT nodeid, formationid, groupid, nodehost, nodeport, health "
                                     "FROM pgautofailover.node ORDER BY nodeid"))
            targets.push_back(Target{r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<int>(),
                                     r[3].as<std::string>(), r[4].as<int>(), r[5].as<int>()});
    }
    std::vector<std::future<bool>> checks;
    for (const auto& t : targets)
        checks.push_back(std::async(std::launch::async, postgres_answers, t.host, t.port, options_.timeout));

    auto log = common::logger("monitor");
    pqxx::work tx(conn);
    for (std::size_t i = 0; i < targets.size(); ++i) {
        const auto& t = targets[i];
        const bool ok = checks[i].get();
        int& failures = failures_[t.id];
        failures = ok ? 0 : failures + 1;
        int health = t.health;
        if (ok) health = 1;
        else if (failures > options_.max_retries) health = 0;
        tx.exec_params("UPDATE pgautofailover.node SET health = $2, healthchecktime = now() "
                       "WHERE nodeid = $1 AND nodehost = $3 AND nodeport = $4",
                       t.id, health, t.host, t.port);
        if (health == t.health) continue;
        auto description = tx.exec_params(
            "SELECT format('Node %s is marked as %s by the monitor', pgautofailover.node_description(n), $2::text) "
            "FROM pgautofailover.node n WHERE nodeid = $1",
            t.id, health == 1 ? "healthy" : "unhealthy");
        if (description.empty()) continue;
        const auto text = description[0][0].as<std::string>();
        log->info("{}", text);
        tx.exec_params("SELECT pgautofailover.record_event($1, $2)", t.id, text);
        tx.exec_params(
            "SELECT pg_notify('autoctl_report', json_build_object('formation', $1::text, 'group', $2::int, "
            "'node', $3::bigint)::text)",
            t.formation, t.group, t.id);
    }
    tx.commit();
}

void HealthChecker::run(pqxx::connection_base& conn, const std::atomic<bool>& stop) {
    while (!stop.load()) {
        const auto round_end = std::chrono::steady_clock::now() + options_.period;
        run_round(conn);
        // Short enough to stop quickly, long enough to cost nothing between rounds.
        while (!stop.load() && std::chrono::steady_clock::now() < round_end)
            std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
                round_end - std::chrono::steady_clock::now(), std::chrono::milliseconds(250)));
    }
}

}  // namespace autoctl::monitor

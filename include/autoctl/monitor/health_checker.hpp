#pragma once
// Health checks of every node, from the monitor: can a libpq client reach the node's Postgres?
// Results go to node.health and node.healthchecktime; a change of health is an event, and the
// monitor service is notified so that it decides for the group at once.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace pqxx {
class connection_base;
}

namespace autoctl::monitor {

struct HealthCheckOptions {
    std::chrono::milliseconds period{1000};   // start to start of check rounds
    std::chrono::milliseconds timeout{2000};  // connect timeout of one check
    int max_retries = 2;                      // a node is bad after max_retries + 1 failed checks in a row
};

// One check: true when Postgres at host:port accepts connections (PQping says OK).
bool postgres_answers(const std::string& host, int port, std::chrono::milliseconds timeout);

class HealthChecker {
public:
    explicit HealthChecker(HealthCheckOptions options) : options_(options) {}

    // Checks every node once (concurrently) and stores the results.
    void run_round(pqxx::connection_base& conn);

    // Rounds every `period` until `stop` is set.
    void run(pqxx::connection_base& conn, const std::atomic<bool>& stop);

private:
    HealthCheckOptions options_;
    std::map<std::int64_t, int> failures_;  // consecutive failed checks per node
};

}  // namespace autoctl::monitor

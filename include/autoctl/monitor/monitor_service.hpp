#pragma once
// The monitor service (design.md §1): the one active decision maker for a monitor database.
// It holds a session advisory lock (a second service waits for it), installs or upgrades the
// schema, then LISTENs for keeper reports and operator requests and runs the state machine for
// the group concerned, one transaction per decision. A timer re-runs groups whose timeouts may
// have expired, and a health checker thread checks every node.

#include <atomic>
#include <chrono>
#include <string>

#include "autoctl/fsm/group.hpp"
#include "autoctl/monitor/health_checker.hpp"

namespace autoctl::monitor {

struct MonitorServiceOptions {
    std::string conninfo;  // the monitor database, as its owner (role autoctl)
    fsm::Timing timing;
    HealthCheckOptions health;
    bool enable_health_checks = true;
    std::chrono::milliseconds timer{1000};
    std::chrono::milliseconds lock_retry{500};  // how often a standby service retries the lock
};

class MonitorService {
public:
    explicit MonitorService(MonitorServiceOptions options) : options_(std::move(options)) {}

    // Runs until `stop` is set. Reconnects after a lost connection.
    void run(const std::atomic<bool>& stop);

private:
    void serve(const std::atomic<bool>& stop);
    MonitorServiceOptions options_;
};

}  // namespace autoctl::monitor

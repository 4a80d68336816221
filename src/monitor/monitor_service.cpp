#include "autoctl/monitor/monitor_service.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <deque>
#include <optional>
#include <set>
#include <thread>

#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/fsm/monitor_rules.hpp"
#include "autoctl/monitor/group_store.hpp"
#include "autoctl/monitor/requests.hpp"
#include "autoctl/monitor/schema.hpp"

namespace autoctl::monitor {

using namespace autoctl::fsm;
using json = nlohmann::json;

namespace {

struct Report {
    GroupKey key;
    std::int64_t node_id;
};

// Collects notifications between two rounds of the loop.
class Inbox {
public:
    std::deque<Report> reports;
    std::deque<std::int64_t> requests;
};

class ReportReceiver : public pqxx::notification_receiver {
public:
    ReportReceiver(pqxx::connection_base& c, Inbox& inbox) : notification_receiver(c, "autoctl_report"), inbox_(inbox) {}
    void operator()(const std::string& payload, int) override {
        auto j = json::parse(payload, nullptr, false);
        if (!j.is_object()) return;
        inbox_.reports.push_back(Report{GroupKey{j.value("formation", "default"), j.value("group", 0)},
                                        j.value("node", std::int64_t{0})});
    }

private:
    Inbox& inbox_;
};

class RequestReceiver : public pqxx::notification_receiver {
public:
    RequestReceiver(pqxx::connection_base& c, Inbox& inbox) : notification_receiver(c, "autoctl_request"), inbox_(inbox) {}
    void operator()(const std::string& payload, int) override {
        try {
            inbox_.requests.push_back(std::stoll(payload));
        } catch (const std::exception&) {
        }
    }

private:
    Inbox& inbox_;
};

TimePoint wall_now() { return Clock::now(); }

void log_decision(const GroupKey& key, const Decision& d) {
    if (d.empty()) return;
    auto log = common::logger("monitor");
    for (const auto& a : d.assignments)
        log->info("{}/{}: {} [{}]", key.formation, key.group, a.reason, d.rule);
    for (const auto& m : d.messages) log->info("{}/{}: {}", key.formation, key.group, m);
}

// The rules for one group, in one transaction: for the node that reported first (when a report
// woke the service), then for the whole group (fsm::decide_group: nodes that still report and
// whose report is not older than their goal). The timer runs the second part alone, so that
// expired timeouts take effect; after a report it moves at once a node that waited on the
// reporter (a standby reporting secondary lets its wait_primary become primary).
void decide_for_group(pqxx::connection_base& conn, const GroupKey& key, std::optional<std::int64_t> reporter,
                      const MonitorServiceOptions& o, TimePoint monitor_start) {
    pqxx::work tx(conn);
    lock_group(tx, key);
    GroupSnapshot g = load_group(tx, key, o.timing, monitor_start);
    std::vector<Decision> decisions;
    if (reporter) {
        Decision d = decide(g, *reporter);
        if (!d.empty() || !d.messages.empty()) {
            apply(g, d);
            decisions.push_back(std::move(d));
        }
    }
    for (auto& more : decide_group(g)) decisions.push_back(std::move(more));
    if (decisions.empty()) return;  // rollback: nothing to write
    for (const auto& d : decisions) store_decision(tx, g, d);
    tx.commit();
    for (const auto& d : decisions) log_decision(key, d);
}

void handle(pqxx::connection_base& conn, std::int64_t request_id, const MonitorServiceOptions& o,
            TimePoint monitor_start) {
    pqxx::work tx(conn);
    RequestResult r = handle_request(tx, request_id, o.timing, monitor_start);
    tx.commit();
    if (!r.found) return;
    auto log = common::logger("monitor");
    if (r.accepted)
        log->info("request {} done{}{}", request_id, r.message.empty() ? "" : ": ", r.message);
    else
        log->warn("request {} refused: {}", request_id, r.message);
}

}  // namespace

void MonitorService::serve(const std::atomic<bool>& stop) {
    auto log = common::logger("monitor");
    pqxx::connection conn(options_.conninfo);

    // One active monitor service per database.
    bool waiting_logged = false;
    for (;;) {
        if (stop.load()) return;
        pqxx::nontransaction tx(conn);
        if (tx.exec("SELECT pg_try_advisory_lock(4242, 1)")[0][0].as<bool>()) break;
        if (!waiting_logged) {
            log->info("another monitor service is active on this database: waiting to take over");
            waiting_logged = true;
        }
        std::this_thread::sleep_for(options_.lock_retry);
    }
    log->info("this monitor service is now the active one");
    const int version = install_or_upgrade_schema(conn);
    log->debug("monitor schema version {}", version);
    const TimePoint monitor_start = wall_now();

    Inbox inbox;
    ReportReceiver reports(conn, inbox);
    RequestReceiver requests(conn, inbox);

    std::atomic<bool> stop_health{false};
    std::thread health;
    if (options_.enable_health_checks) {
        health = std::thread([this, &stop, &stop_health] {
            auto hlog = common::logger("monitor");
            while (!stop.load() && !stop_health.load()) {
                try {
                    pqxx::connection hconn(options_.conninfo);
                    HealthChecker checker(options_.health);
                    checker.run(hconn, stop_health);
                } catch (const std::exception& e) {
                    hlog->warn("health checks: {}", e.what());
                    std::this_thread::sleep_for(std::chrono::seconds(1));
                }
            }
        });
    }
    struct JoinHealth {
        std::atomic<bool>& stop;
        std::thread& thread;
        ~JoinHealth() {
            stop = true;
            if (thread.joinable()) thread.join();
        }
    } join_health{stop_health, health};

    {
        pqxx::nontransaction tx(conn);
        for (auto id : pending_requests(tx)) inbox.requests.push_back(id);
    }
    auto last_timer = std::chrono::steady_clock::now() - options_.timer;
    while (!stop.load()) {
        conn.get_notifs();
        while (!inbox.requests.empty()) {
            auto id = inbox.requests.front();
            inbox.requests.pop_front();
            handle(conn, id, options_, monitor_start);
        }
        // Several reports of one node in a row need only one decision.
        std::set<std::pair<GroupKey, std::int64_t>> seen;
        while (!inbox.reports.empty()) {
            Report r = inbox.reports.front();
            inbox.reports.pop_front();
            if (!seen.insert({r.key, r.node_id}).second) continue;
            decide_for_group(conn, r.key, r.node_id, options_, monitor_start);
        }
        if (std::chrono::steady_clock::now() - last_timer >= options_.timer) {
            last_timer = std::chrono::steady_clock::now();
            std::vector<GroupKey> keys;
            {
                pqxx::nontransaction tx(conn);
                keys = list_groups(tx);
            }
            for (const auto& key : keys) decide_for_group(conn, key, std::nullopt, options_, monitor_start);
        }
        if (inbox.reports.empty() && inbox.requests.empty()) {
            // Sleep until a notification or the next timer round, not less: an idle monitor
            // should cost nothing between rounds.
            const auto until_timer = std::chrono::duration_cast<std::chrono::microseconds>(
                options_.timer - (std::chrono::steady_clock::now() - last_timer));
            const long long us = std::clamp<long long>(until_timer.count(), 1000, 1000000);
            conn.await_notification(static_cast<long>(us / 1000000), static_cast<long>(us % 1000000));
        }
    }
}

void MonitorService::run(const std::atomic<bool>& stop) {
    auto log = common::logger("monitor");
    while (!stop.load()) {
        try {
            serve(stop);
        } catch (const common::Error&) {
            throw;  // e.g. a schema newer than this binary: do not retry
        } catch (const std::exception& e) {
            if (stop.load()) break;  // stopping anyway: Postgres may be stopping too
            // libpq's messages span lines: log one.
            std::string reason = e.what();
            while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
            for (auto& c : reason) {
                if (c == '\n') c = ' ';
            }
            log->error("monitor service: {}; reconnecting in 1s", reason);
            for (int i = 0; i < 10 && !stop.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
}

}  // namespace autoctl::monitor

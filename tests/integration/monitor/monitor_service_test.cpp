// The monitor on a real Postgres 15: schema, SQL API, the monitor service's decisions, events and
// notifications, requests, health checks, and one active service per database.

#include <nlohmann/json.hpp>

#include "autoctl/common/error.hpp"
#include "autoctl/fsm/monitor_rules.hpp"
#include "autoctl/monitor/group_store.hpp"
#include "monitor_fixture.hpp"

namespace autoctl::testing {
namespace {

// Short timeouts so that an unplanned failover takes a second, not the production defaults.
fsm::Timing fast_timing() {
    fsm::Timing t;
    t.node_considered_unhealthy_timeout = 1000ms;
    t.startup_grace_period = 0ms;
    t.primary_demote_timeout = 3000ms;
    return t;
}

std::vector<std::string> event_descriptions(MonitorDatabase& db) {
    pqxx::connection c(db.owner_conninfo());
    pqxx::nontransaction tx(c);
    std::vector<std::string> out;
    for (const auto& r : tx.exec("SELECT description FROM pgautofailover.event ORDER BY eventid"))
        out.push_back(r[0].as<std::string>());
    return out;
}

std::string dump_events(MonitorDatabase& db) {
    std::string out = "events:\n";
    for (const auto& e : event_descriptions(db)) out += "  " + e + "\n";
    return out;
}

bool has_event(MonitorDatabase& db, const std::string& text) {
    for (const auto& e : event_descriptions(db))
        if (e.find(text) != std::string::npos) return true;
    return false;
}

// Two nodes up to primary/secondary, through the SQL API and the monitor service.
std::pair<Registered, Registered> bootstrap_two_nodes(MonitorDatabase& db, KeeperPlayer& p) {
    Registered a = p.register_node("127.0.0.1", 6001);
    EXPECT_EQ(a.state, "single");
    p.set_sysid(a.id);
    EXPECT_EQ(p.report(a.id, "single"), "single");
    Registered b = p.register_node("127.0.0.1", 6002);
    EXPECT_EQ(b.state, "wait_standby");
    db.admin_exec("UPDATE pgautofailover.node SET health = 1, healthchecktime = now()");
    p.report(b.id, "wait_standby");  // the keeper's init -> wait_standby is a no-op
    EXPECT_TRUE(p.report_until_goal(a.id, "single", "wait_primary"));
    p.report(a.id, "wait_primary");
    EXPECT_TRUE(p.report_until_goal(b.id, "wait_standby", "catchingup"));
    p.set_sysid(b.id);
    EXPECT_TRUE(p.report_until_goal(b.id, "catchingup", "secondary"));
    p.report(b.id, "secondary");
    EXPECT_TRUE(p.report_until_goal(a.id, "wait_primary", "primary"));
    // pg_stat_replication on the primary now shows its standby as a quorum standby.
    p.report(a.id, "primary", "0/3000000", true, 1, "quorum");
    return {a, b};
}

TEST(MonitorSchema, InstallsVersionAndRefusesNewer) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    pqxx::connection owner(db.owner_conninfo());
    EXPECT_EQ(monitor::installed_schema_version(owner), monitor::latest_schema_version());
    // Installing again is a no-op.
    EXPECT_EQ(monitor::install_or_upgrade_schema(owner), monitor::latest_schema_version());
    db.admin_exec("INSERT INTO pgautofailover.schema_version (version, description) VALUES (999, 'future')");
    try {
        monitor::install_or_upgrade_schema(owner);
        FAIL() << "a newer schema must be refused";
    } catch (const common::Error& e) {
        EXPECT_NE(std::string(e.what()).find("newer than this autoctl"), std::string::npos) << e.what();
        EXPECT_EQ(e.kind(), common::ErrorKind::Monitor);
    }
}

// A monitor created by an older autoctl (schema version 1) is upgraded in place, its data kept;
// version 2's node_active wakes the monitor service only for a report that can change a decision.
TEST(MonitorSchema, UpgradesVersion1AndKeepsItsData) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    db.admin_exec("DROP SCHEMA pgautofailover CASCADE");
    pqxx::connection owner(db.owner_conninfo());
    ASSERT_EQ(monitor::install_or_upgrade_schema(owner, 1), 1);
    ASSERT_EQ(monitor::installed_schema_version(owner), 1);

    KeeperPlayer keeper(db.node_conninfo());
    const auto id = keeper.register_node("127.0.0.1", 6001).id;
    pqxx::connection listener(db.owner_conninfo());
    pqxx::nontransaction(listener).exec("LISTEN autoctl_report");
    auto report = [&](const std::string& state) { keeper.report(id, state); };
    // Counts the notifications that arrive for one report.
    auto notifications_for = [&](const std::string& state) {
        while (listener.get_notifs() > 0) {
        }
        int before = 0;
        struct Counter : pqxx::notification_receiver {
            int& n;
            Counter(pqxx::connection_base& c, int& count) : pqxx::notification_receiver(c, "autoctl_report"), n(count) {}
            void operator()(const std::string&, int) override { ++n; }
        } counter(listener, before);
        report(state);
        // A notification is delivered with the commit that sent it, before node_active returns.
        listener.await_notification(0, 200000);
        listener.get_notifs();
        return before;
    };
    EXPECT_EQ(notifications_for("init"), 1);
    EXPECT_EQ(notifications_for("init"), 1) << "version 1 notifies every report";

    EXPECT_EQ(monitor::install_or_upgrade_schema(owner), monitor::latest_schema_version());
    EXPECT_EQ(monitor::installed_schema_version(owner), 2);
    {
        pqxx::work tx(owner);
        EXPECT_EQ(tx.exec("SELECT count(*) FROM pgautofailover.node")[0][0].as<int>(), 1) << "the node is kept";
    }
    keeper.set_sysid(id);
    EXPECT_EQ(notifications_for("single"), 1) << "a new state notifies";
    db.admin_exec("UPDATE pgautofailover.node SET goalstate = 'single', statechangetime = now()");
    EXPECT_EQ(notifications_for("single"), 1) << "the first report after a new goal notifies";
    EXPECT_EQ(notifications_for("single"), 0) << "the same report again does not";
}

TEST(MonitorSchema, KeeperRoleCannotWriteGoalStates) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    KeeperPlayer p(db.node_conninfo());
    p.register_node("127.0.0.1", 6001);
    pqxx::work tx(p.connection());
    EXPECT_THROW(tx.exec("UPDATE pgautofailover.node SET goalstate = 'primary'"), pqxx::insufficient_privilege);
}

TEST(MonitorSchema, OddNodeNamesAreStoredVerbatim) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    KeeperPlayer p(db.node_conninfo());
    const std::string name = "a'b;\"c\\d é ünï; DROP TABLE x --";
    Registered a = p.register_node("127.0.0.1", 6001, name);
    EXPECT_EQ(a.name, name);
    pqxx::nontransaction tx(p.connection());
    EXPECT_EQ(tx.exec("SELECT nodename FROM pgautofailover.current_state('default')")[0][0].as<std::string>(), name);
    auto payload = tx.exec_params("SELECT pgautofailover.state_payload(n) FROM pgautofailover.node n WHERE nodeid = $1", a.id);
    auto j = nlohmann::json::parse(payload[0][0].as<std::string>());
    EXPECT_EQ(j["name"], name);
}

TEST(MonitorSchema, UnknownFormationIsRefused) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    KeeperPlayer p(db.node_conninfo());
    try {
        p.register_node("127.0.0.1", 6001, "", "standalone", 50, true, -1, "nope");
        FAIL() << "unknown formation must be refused";
    } catch (const pqxx::sql_error& e) {
        EXPECT_NE(std::string(e.what()).find("formation \"nope\" does not exist"), std::string::npos) << e.what();
    }
}

TEST(MonitorService, BootstrapsTwoNodesWithEventsAndNotifications) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    pqxx::connection listen_conn(db.node_conninfo());
    StateListener listener(listen_conn);
    RunningMonitorService svc(db.owner_conninfo(), false);
    KeeperPlayer p(db.node_conninfo());
    auto [a, b] = bootstrap_two_nodes(db, p);
    EXPECT_TRUE(wait_for([&] { return p.goal(a.id) == "primary" && p.goal(b.id) == "secondary"; }));
    EXPECT_TRUE(has_event(db, "to wait_primary after node " + std::to_string(b.id)));
    EXPECT_TRUE(has_event(db, "to catchingup after node " + std::to_string(a.id)));
    EXPECT_TRUE(has_event(db, "New state is reported by node " + std::to_string(a.id)));

    listen_conn.get_notifs();
    ASSERT_FALSE(listener.payloads.empty());
    bool saw_primary_goal = false;
    for (const auto& payload : listener.payloads) {
        auto j = nlohmann::json::parse(payload);
        EXPECT_EQ(j["type"], "state");
        EXPECT_EQ(j["formation"], "default");
        EXPECT_EQ(j["groupId"], 0);
        EXPECT_TRUE(j.contains("health"));
        if (j["nodeId"] == a.id && j["goalState"] == "primary") saw_primary_goal = true;
    }
    EXPECT_TRUE(saw_primary_goal);
    // The exact spacing of pg_auto_failover's payload: no space after "health":
    EXPECT_NE(listener.payloads.back().find(", \"health\":\""), std::string::npos) << listener.payloads.back();

    pqxx::nontransaction tx(p.connection());
    EXPECT_EQ(tx.exec("SELECT pgautofailover.synchronous_standby_names()")[0][0].as<std::string>(),
              "ANY 1 (pgautofailover_standby_" + std::to_string(b.id) + ")");
}

TEST(MonitorService, SwitchoverThroughPerformFailover) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    RunningMonitorService svc(db.owner_conninfo(), false);
    KeeperPlayer p(db.node_conninfo());
    auto [a, b] = bootstrap_two_nodes(db, p);
    {
        pqxx::work tx(p.connection());
        tx.exec("SELECT pgautofailover.perform_failover('default', 0)");
        tx.commit();
    }
    ASSERT_TRUE(wait_for([&] { return p.goal(a.id) == "draining" && p.goal(b.id) == "prepare_promotion"; }));
    p.report(a.id, "draining", "0/3000000", false);
    EXPECT_TRUE(p.report_until_goal(b.id, "prepare_promotion", "stop_replication"));
    EXPECT_TRUE(p.report_until_goal(a.id, "draining", "demote_timeout"));
    p.report(a.id, "demote_timeout", "0/3000000", false);
    EXPECT_TRUE(p.report_until_goal(b.id, "stop_replication", "wait_primary"));
    EXPECT_TRUE(p.report_until_goal(a.id, "demote_timeout", "demoted"));
    p.report(b.id, "wait_primary", "0/3000000", true, 2);
    EXPECT_TRUE(p.report_until_goal(a.id, "demoted", "catchingup"));
    EXPECT_TRUE(p.report_until_goal(a.id, "catchingup", "secondary", 10s, "0/3000000", 2));
    p.report(a.id, "secondary", "0/3000000", true, 2);
    EXPECT_TRUE(p.report_until_goal(b.id, "wait_primary", "primary", 10s, "0/3000000", 2));
    {
        pqxx::nontransaction tx(p.connection());
        auto r = tx.exec("SELECT status FROM pgautofailover.request ORDER BY requestid");
        ASSERT_EQ(r.size(), 1u);
        EXPECT_EQ(r[0][0].as<std::string>(), "done");
    }
}

TEST(MonitorService, RefusedRequestIsReportedWithItsReason) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    pqxx::connection listen_conn(db.node_conninfo());
    struct DoneListener : pqxx::notification_receiver {
        explicit DoneListener(pqxx::connection& c) : notification_receiver(c, "autoctl_request_done") {}
        void operator()(const std::string& payload, int) override { payloads.push_back(payload); }
        std::vector<std::string> payloads;
    } done(listen_conn);
    RunningMonitorService svc(db.owner_conninfo(), false);
    KeeperPlayer p(db.node_conninfo());
    Registered a = p.register_node("127.0.0.1", 6001);
    p.set_sysid(a.id);
    p.report(a.id, "single");
    ASSERT_TRUE(wait_for([&] {
        pqxx::nontransaction tx(p.connection());
        return tx.exec("SELECT pgautofailover.monitor_service_is_running()")[0][0].as<bool>();
    }));
    {
        pqxx::work tx(p.connection());
        tx.exec("SELECT pgautofailover.perform_failover('default', 0)");
        tx.commit();
    }
    ASSERT_TRUE(wait_for([&] {
        listen_conn.get_notifs();
        return !done.payloads.empty();
    }));
    auto j = nlohmann::json::parse(done.payloads.front());
    EXPECT_EQ(j["status"], "refused");
    EXPECT_NE(j["message"].get<std::string>().find("has only 1 node"), std::string::npos) << j.dump();
}

TEST(MonitorService, RequestWithoutAServiceSaysSo) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    KeeperPlayer p(db.node_conninfo());
    pqxx::work tx(p.connection());
    try {
        tx.exec("SELECT pgautofailover.perform_failover('default', 0)");
        FAIL() << "no monitor service is running";
    } catch (const pqxx::sql_error& e) {
        EXPECT_NE(std::string(e.what()).find("no autoctl monitor service is running"), std::string::npos) << e.what();
    }
}

TEST(MonitorService, UnplannedFailoverWhenThePrimaryDies) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    RunningMonitorService svc(db.owner_conninfo(), false, fast_timing());
    KeeperPlayer p(db.node_conninfo());
    auto [a, b] = bootstrap_two_nodes(db, p);
    // The primary's keeper goes silent and the monitor's health check fails.
    db.admin_exec("UPDATE pgautofailover.node SET health = 0, healthchecktime = now() WHERE nodeid = " +
                  std::to_string(a.id));
    ASSERT_TRUE(wait_for([&] {
        db.admin_exec("UPDATE pgautofailover.node SET healthchecktime = now() WHERE nodeid = " + std::to_string(a.id));
        return p.report(b.id, "secondary") == "prepare_promotion";
    }));
    EXPECT_EQ(p.goal(a.id), "draining");
    EXPECT_TRUE(p.report_until_goal(b.id, "prepare_promotion", "stop_replication"));
    // Every quorum standby left the old primary: no drain timeout (docs/state-machine.md).
    EXPECT_TRUE(p.report_until_goal(b.id, "stop_replication", "wait_primary", 2s)) << dump_events(db);
    EXPECT_EQ(p.goal(a.id), "demoted");
    EXPECT_TRUE(has_event(db, "can no longer acknowledge") || has_event(db, "was demoted"));
}

TEST(MonitorService, ThreeNodesElectANewPrimary) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    RunningMonitorService svc(db.owner_conninfo(), false, fast_timing());
    KeeperPlayer p(db.node_conninfo());
    auto [a, b] = bootstrap_two_nodes(db, p);
    Registered c = p.register_node("127.0.0.1", 6003);
    EXPECT_EQ(c.state, "wait_standby");
    db.admin_exec("UPDATE pgautofailover.node SET health = 1, healthchecktime = now()");
    p.report(c.id, "wait_standby");
    {
        pqxx::nontransaction tx(p.connection());
        EXPECT_EQ(tx.exec("SELECT number_sync_standbys FROM pgautofailover.formation")[0][0].as<int>(), 1);
    }
    EXPECT_TRUE(p.report_until_goal(c.id, "wait_standby", "catchingup"));
    // The primary applies the new settings on its way.
    EXPECT_TRUE(p.report_until_goal(a.id, "primary", "apply_settings"));
    EXPECT_TRUE(p.report_until_goal(a.id, "apply_settings", "primary"));
    p.report(a.id, "primary", "0/3000000", true, 1, "quorum");
    p.set_sysid(c.id);
    EXPECT_TRUE(p.report_until_goal(c.id, "catchingup", "secondary"));
    p.report(c.id, "secondary");
    p.report(a.id, "primary");

    // The primary dies; node c is ahead of node b.
    db.admin_exec("UPDATE pgautofailover.node SET health = 0, healthchecktime = now(), reporttime = now() - interval '1 minute' "
                  "WHERE nodeid = " + std::to_string(a.id));
    ASSERT_TRUE(wait_for([&] {
        p.report(b.id, "secondary", "0/3000000");
        return p.report(c.id, "secondary", "0/3000100") == "report_lsn";
    }));
    EXPECT_TRUE(p.report_until_goal(b.id, "secondary", "report_lsn"));
    p.report(b.id, "report_lsn", "0/3000000");
    EXPECT_TRUE(wait_for([&] {
        p.report(b.id, "report_lsn", "0/3000000");
        return p.report(c.id, "report_lsn", "0/3000100") == "prepare_promotion";
    }));
    EXPECT_TRUE(p.report_until_goal(c.id, "prepare_promotion", "stop_replication", 10s, "0/3000100"));
    EXPECT_TRUE(p.report_until_goal(c.id, "stop_replication", "wait_primary", 10s, "0/3000100"));
    EXPECT_TRUE(p.report_until_goal(b.id, "report_lsn", "join_secondary"));
    p.report(c.id, "wait_primary", "0/3000100", true, 2);
    EXPECT_TRUE(p.report_until_goal(b.id, "join_secondary", "secondary"));
}

TEST(MonitorService, MaintenanceOfASecondary) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    RunningMonitorService svc(db.owner_conninfo(), false);
    KeeperPlayer p(db.node_conninfo());
    auto [a, b] = bootstrap_two_nodes(db, p);
    {
        pqxx::work tx(p.connection());
        tx.exec_params("SELECT pgautofailover.start_maintenance($1)", b.id);
        tx.commit();
    }
    ASSERT_TRUE(wait_for([&] { return p.goal(b.id) == "wait_maintenance" && p.goal(a.id) == "wait_primary"; }));
    p.report(a.id, "wait_primary");
    EXPECT_TRUE(p.report_until_goal(b.id, "wait_maintenance", "maintenance"));
    p.report(b.id, "maintenance");
    {
        pqxx::work tx(p.connection());
        tx.exec_params("SELECT pgautofailover.stop_maintenance($1)", b.id);
        tx.commit();
    }
    EXPECT_TRUE(wait_for([&] { return p.goal(b.id) == "catchingup"; }));
}

TEST(MonitorService, SqlStandbyNamesMatchTheStateMachine) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    RunningMonitorService svc(db.owner_conninfo(), false);
    KeeperPlayer p(db.node_conninfo());
    auto [a, b] = bootstrap_two_nodes(db, p);
    p.register_node("127.0.0.1", 6003, "", "standalone", 90);
    p.register_node("127.0.0.1", 6004, "", "standalone", 10, false);
    pqxx::connection owner(db.owner_conninfo());
    pqxx::work tx(owner);
    auto snapshot = monitor::load_group(tx, monitor::GroupKey{"default", 0}, {}, fsm::Clock::now());
    auto sql = tx.exec("SELECT pgautofailover.synchronous_standby_names('default', 0)")[0][0].as<std::string>();
    EXPECT_EQ(sql, fsm::synchronous_standby_names(snapshot));
    EXPECT_NE(sql.find("pgautofailover_standby_3, pgautofailover_standby_2"), std::string::npos) << sql;
}

TEST(MonitorService, HealthChecksFollowAPostgresGoingAwayAndComingBack) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    fixture::PgCluster node_pg;
    RunningMonitorService svc(db.owner_conninfo(), true);
    KeeperPlayer p(db.node_conninfo());
    Registered a = p.register_node("127.0.0.1", node_pg.port());
    auto health = [&] {
        pqxx::nontransaction tx(p.connection());
        return tx.exec_params("SELECT health FROM pgautofailover.node WHERE nodeid = $1", a.id)[0][0].as<int>();
    };
    ASSERT_TRUE(wait_for([&] { return health() == 1; }, 15s));
    node_pg.stop(pg::StopMode::Immediate);
    ASSERT_TRUE(wait_for([&] { return health() == 0; }, 20s));
    EXPECT_TRUE(has_event(db, "is marked as unhealthy by the monitor"));
    const int old_port = node_pg.port();
    node_pg.start();
    if (node_pg.port() != old_port) {
        // PgCluster may have picked another port if ours was taken meanwhile: follow it.
        db.admin_exec("UPDATE pgautofailover.node SET nodeport = " + std::to_string(node_pg.port()) +
                      " WHERE nodeid = " + std::to_string(a.id));
    }
    ASSERT_TRUE(wait_for([&] { return health() == 1; }, 20s));
    EXPECT_TRUE(has_event(db, "is marked as healthy by the monitor"));
}

TEST(MonitorService, SecondServiceWaitsThenTakesOver) {
    AUTOCTL_REQUIRE_POSTGRES();
    MonitorDatabase db;
    auto first = std::make_unique<RunningMonitorService>(db.owner_conninfo(), false);
    KeeperPlayer p(db.node_conninfo());
    auto lock_holders = [&] {
        pqxx::nontransaction tx(p.connection());
        return tx.exec("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 4242 AND objid = 1 AND granted")[0][0]
            .as<int>();
    };
    ASSERT_TRUE(wait_for([&] { return lock_holders() == 1; }));
    RunningMonitorService second(db.owner_conninfo(), false);
    Registered a = p.register_node("127.0.0.1", 6001);
    p.set_sysid(a.id);
    EXPECT_EQ(p.report(a.id, "single"), "single");
    EXPECT_EQ(lock_holders(), 1);
    first->stop();  // its connection closes and its lock goes with it
    first.reset();
    ASSERT_TRUE(wait_for([&] { return lock_holders() == 1; }));
    // Decisions continue: a new node joins and the primary is asked to prepare for it.
    Registered b = p.register_node("127.0.0.1", 6002);
    p.report(b.id, "wait_standby");
    EXPECT_TRUE(p.report_until_goal(a.id, "single", "wait_primary"));
}

}  // namespace
}  // namespace autoctl::testing

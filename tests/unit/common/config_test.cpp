#include "autoctl/common/config.hpp"

#include <gtest/gtest.h>

#include "../../support/temp_dir.hpp"
#include "autoctl/common/error.hpp"

namespace autoctl::common {
namespace {

// pg_autoctl 2.0's keeper file after `create postgres` (reference §6), paths made concrete.
const std::string kKeeperFile =
    "[pg_autoctl]\n"
    "role = keeper\n"
    "monitor = postgres://autoctl_node@localhost:55432/pg_auto_failover?sslmode=prefer\n"
    "formation = default\n"
    "group = 0\n"
    "name = node_1\n"
    "hostname = localhost\n"
    "nodekind = standalone\n"
    "\n"
    "[postgresql]\n"
    "pgdata = /base/data/node1\n"
    "pg_ctl = /usr/lib/postgresql/15/bin/pg_ctl\n"
    "username = postgres\n"
    "dbname = postgres\n"
    "host = localhost\n"
    "port = 55433\n"
    "proxyport = 0\n"
    "listen_addresses = *\n"
    "auth_method = trust\n"
    "hba_level = minimal\n"
    "\n"
    "[ssl]\n"
    "active = 0\n"
    "sslmode = prefer\n"
    "\n"
    "[replication]\n"
    "maximum_backup_rate = 100M\n"
    "backup_directory = /base/data/backup/node_1\n"
    "\n"
    "[timeout]\n"
    "network_partition_timeout = 20\n"
    "prepare_promotion_catchup = 30\n"
    "prepare_promotion_walreceiver = 5\n"
    "postgresql_restart_failure_timeout = 20\n"
    "postgresql_restart_failure_max_retries = 3\n"
    "listen_notifications_timeout = 0\n"
    "citus_master_update_node_lock_cooldown = 0\n"
    "citus_coordinator_wait_max_retries = 0\n"
    "citus_coordinator_wait_timeout = 0\n"
    "\n"
    "[citus]\n"
    "role = primary\n";

const std::string kMonitorFile =
    "[pg_autoctl]\n"
    "role = monitor\n"
    "hostname = localhost\n"
    "\n"
    "[postgresql]\n"
    "pgdata = /base/data/monitor\n"
    "pg_ctl = /usr/lib/postgresql/15/bin/pg_ctl\n"
    "username = autoctl_node\n"
    "dbname = pg_auto_failover\n"
    "port = 55432\n"
    "listen_addresses = *\n"
    "auth_method = trust\n"
    "\n"
    "[ssl]\n"
    "sslmode = prefer\n"
    "active = 0\n"
    "\n"
    "[monitor]\n"
    "health_check_period = 1000\n"
    "health_check_timeout = 2000\n"
    "health_check_max_retries = 2\n"
    "node_considered_unhealthy_timeout = 5000\n"
    "startup_grace_period = 10000\n"
    "primary_demote_timeout = 10000\n"
    "enable_sync_wal_log_threshold = 16777216\n"
    "promote_wal_log_threshold = 16777216\n";

Config parse(const std::string& text) { return Config::from_ini(IniFile::parse(text, "f.cfg"), "f.cfg"); }

// Expects `fn` to throw Error{kind} whose message contains every needle.
template <typename Fn>
void expect_error(Fn fn, ErrorKind kind, std::initializer_list<std::string> needles) {
    try {
        fn();
        ADD_FAILURE() << "expected an error";
    } catch (const Error& error) {
        EXPECT_EQ(error.kind(), kind) << error.what();
        for (const auto& needle : needles) {
            EXPECT_NE(std::string(error.what()).find(needle), std::string::npos)
                << "missing \"" << needle << "\" in: " << error.what();
        }
    }
}

TEST(ConfigTest, KeeperFileRoundTripsExactly) {
    const auto config = parse(kKeeperFile);
    EXPECT_EQ(config.role(), ConfigRole::Keeper);
    EXPECT_EQ(config.serialize(), kKeeperFile);
}

TEST(ConfigTest, MonitorFileRoundTripsExactly) {
    const auto config = parse(kMonitorFile);
    EXPECT_EQ(config.role(), ConfigRole::Monitor);
    EXPECT_EQ(config.serialize(), kMonitorFile);
}

TEST(ConfigTest, AbsentKeysReadAsDefaults) {
    const auto config = parse("[pg_autoctl]\nrole = keeper\n[postgresql]\npgdata = /d\nport = 5432\n");
    EXPECT_EQ(config.get("pg_autoctl.formation"), "default");
    EXPECT_EQ(config.get("ssl.sslmode"), "prefer");
    EXPECT_EQ(config.get_int("timeout.network_partition_timeout"), 20);
    EXPECT_EQ(config.get_int("timeout.listen_notifications_timeout"), 60);
    EXPECT_EQ(config.get_int("timeout.citus_master_update_node_lock_cooldown"), 10000);
    EXPECT_EQ(config.get_int("timeout.citus_coordinator_wait_max_retries"), 100);
    EXPECT_EQ(config.get_int("timeout.citus_coordinator_wait_timeout"), 300);
    EXPECT_EQ(config.get("replication.maximum_backup_rate"), "100M");
    EXPECT_EQ(config.get("postgresql.hba_level"), "minimal");
    EXPECT_FALSE(config.get_bool("ssl.active"));
    EXPECT_EQ(config.get("pg_autoctl.name"), "");
    EXPECT_EQ(config.get("citus.role"), "primary");

    const auto monitor = parse("[pg_autoctl]\nrole = monitor\n[postgresql]\npgdata = /m\nport = 5000\n");
    EXPECT_EQ(monitor.get("postgresql.dbname"), "pg_auto_failover");
    EXPECT_EQ(monitor.get("postgresql.username"), "autoctl_node");
}

TEST(ConfigTest, SchemaOrderMatchesReference) {
    std::vector<std::string> keys;
    for (const auto& spec : schema_for(ConfigRole::Monitor)) keys.push_back(spec.dotted());
    const std::vector<std::string> expected = {"pg_autoctl.role",
                                               "pg_autoctl.hostname",
                                               "postgresql.pgdata",
                                               "postgresql.pg_ctl",
                                               "postgresql.username",
                                               "postgresql.dbname",
                                               "postgresql.host",
                                               "postgresql.port",
                                               "postgresql.listen_addresses",
                                               "postgresql.auth_method",
                                               "ssl.sslmode",
                                               "ssl.active",
                                               "ssl.ca_file",
                                               "ssl.crl_file",
                                               "ssl.cert_file",
                                               "ssl.key_file",
                                               "monitor.health_check_period",
                                               "monitor.health_check_timeout",
                                               "monitor.health_check_max_retries",
                                               "monitor.node_considered_unhealthy_timeout",
                                               "monitor.startup_grace_period",
                                               "monitor.primary_demote_timeout",
                                               "monitor.enable_sync_wal_log_threshold",
                                               "monitor.promote_wal_log_threshold"};
    EXPECT_EQ(keys, expected);
    std::size_t keeper_keys = 0;
    for (const auto& spec : schema_for(ConfigRole::Keeper)) {
        (void)spec;
        ++keeper_keys;
    }
    EXPECT_EQ(keeper_keys, 37u);
}

TEST(ConfigTest, UnknownKeyNamesKeyAndFile) {
    expect_error(
        [] {
            Config::from_ini(IniFile::parse(kKeeperFile + "[pg_autoctl]\nfoo = 1\n", "/x/autoctl.cfg"),
                             "/x/autoctl.cfg");
        },
        ErrorKind::Config, {"/x/autoctl.cfg:44", "unknown key \"pg_autoctl.foo\"", "keeper"});
    // A keeper-only key in a monitor file.
    expect_error([] { parse(kMonitorFile + "[timeout]\nnetwork_partition_timeout = 5\n"); },
                 ErrorKind::Config,
                 {"f.cfg:28", "unknown key \"timeout.network_partition_timeout\"", "monitor"});
}

TEST(ConfigTest, WrongTypeNamesKeyValueAndExpectedType) {
    expect_error([] { parse("[pg_autoctl]\nrole = keeper\n[postgresql]\npgdata = /d\nport = abc\n"); },
                 ErrorKind::Config,
                 {"f.cfg:5", "\"abc\"", "\"postgresql.port\"", "expected an integer between 1 and 65535"});
    expect_error([] { parse("[pg_autoctl]\nrole = keeper\n[postgresql]\npgdata = /d\nport = 70000\n"); },
                 ErrorKind::Config, {"\"70000\"", "between 1 and 65535"});
    expect_error([] { parse("[pg_autoctl]\nrole = keeper\n[postgresql]\npgdata = d\nport = 1\n"); },
                 ErrorKind::Config, {"\"d\"", "\"postgresql.pgdata\"", "expected an absolute path"});
    expect_error(
        [] {
            parse("[pg_autoctl]\nrole = keeper\n[postgresql]\npgdata = /d\nport = 1\n[ssl]\nactive = yes\n");
        },
        ErrorKind::Config, {"f.cfg:7", "\"yes\"", "\"ssl.active\"", "expected a boolean, 0 or 1"});
    expect_error(
        [] { parse("[pg_autoctl]\nrole = keeper\n[postgresql]\npgdata = /d\nport = 1\nhba_level = all\n"); },
        ErrorKind::Config, {"\"all\"", "\"postgresql.hba_level\"", "expected one of: skip, minimal, app"});
}

TEST(ConfigTest, MissingRequiredKey) {
    expect_error([] { parse("[pg_autoctl]\nrole = keeper\n[postgresql]\npgdata = /d\n"); }, ErrorKind::Config,
                 {"f.cfg", "missing required key \"postgresql.port\""});
    expect_error([] { parse("[pg_autoctl]\nrole = monitor\n[postgresql]\nport = 5432\n"); },
                 ErrorKind::Config, {"missing required key \"postgresql.pgdata\""});
    expect_error([] { parse("[postgresql]\npgdata = /d\nport = 1\n"); }, ErrorKind::Config,
                 {"missing required key \"pg_autoctl.role\""});
}

TEST(ConfigTest, UnknownRole) {
    expect_error([] { parse("[pg_autoctl]\nrole = standby\n"); }, ErrorKind::Config,
                 {"f.cfg:2", "\"standby\"", "\"pg_autoctl.role\"", "keeper, monitor"});
}

TEST(ConfigTest, MissingFile) {
    test::TempDir dir;
    expect_error([&] { Config::load(dir / "autoctl.cfg"); }, ErrorKind::Config,
                 {"configuration file \"" + (dir / "autoctl.cfg").string() + "\" does not exist"});
}

TEST(ConfigTest, GetAndSetValidate) {
    auto config = parse(kKeeperFile);
    EXPECT_EQ(config.get("postgresql.port"), "55433");
    expect_error([&] { (void)config.get("postgresql.nope"); }, ErrorKind::Usage,
                 {"unknown configuration key \"postgresql.nope\""});
    expect_error([&] { (void)config.get("noseparator"); }, ErrorKind::Usage, {"\"noseparator\""});

    config.set("postgresql.port", "6000");
    EXPECT_EQ(config.get_int("postgresql.port"), 6000);
    expect_error([&] { config.set("postgresql.port", "6x"); }, ErrorKind::Config,
                 {"\"6x\"", "\"postgresql.port\"", "expected an integer"});
    expect_error([&] { config.set("postgresql.port", ""); }, ErrorKind::Config,
                 {"\"postgresql.port\"", "a value is required"});
    expect_error([&] { config.set("ssl.sslmode", "sometimes"); }, ErrorKind::Config,
                 {"expected one of: disable, allow, prefer, require, verify-ca, verify-full"});
    expect_error([&] { config.set("pg_autoctl.role", "monitor"); }, ErrorKind::Config,
                 {"expected one of: keeper"});
    expect_error([&] { config.set("pg_autoctl.name", "two\nlines"); }, ErrorKind::Config,
                 {"pg_autoctl.name"});
    expect_error([&] { config.set("no.such", "1"); }, ErrorKind::Usage, {"\"no.such\""});
    EXPECT_EQ(config.get_int("postgresql.port"), 6000);

    config.set("pg_autoctl.name", "");  // optional strings may be cleared: the key is then not written
    EXPECT_EQ(config.serialize().find("\nname = "), std::string::npos);
    config.set("pg_autoctl.group", "-1");
    EXPECT_EQ(config.get_int("pg_autoctl.group"), -1);
}

TEST(ConfigTest, NodenameIsAReadOnlyAliasOfHostname) {
    const auto config =
        parse("[pg_autoctl]\nrole = keeper\nnodename = db1\n[postgresql]\npgdata = /d\nport = 1\n");
    EXPECT_EQ(config.get("pg_autoctl.hostname"), "db1");
    EXPECT_EQ(config.get("pg_autoctl.nodename"), "db1");
    EXPECT_EQ(config.serialize().find("nodename"), std::string::npos);
    auto copy = config;
    expect_error([&] { copy.set("pg_autoctl.nodename", "x"); }, ErrorKind::Usage, {"read-only"});
}

TEST(ConfigTest, ToJsonKeepsOrderAndTypes) {
    const auto json = parse(kMonitorFile).to_json();
    EXPECT_EQ(json.dump(),
              R"({"pg_autoctl":{"role":"monitor","hostname":"localhost"},)"
              R"("postgresql":{"pgdata":"/base/data/monitor","pg_ctl":"/usr/lib/postgresql/15/bin/pg_ctl",)"
              R"("username":"autoctl_node","dbname":"pg_auto_failover","port":55432,)"
              R"("listen_addresses":"*","auth_method":"trust"},"ssl":{"sslmode":"prefer","active":0},)"
              R"("monitor":{"health_check_period":1000,"health_check_timeout":2000,"health_check_max_retries":2,)"
              R"("node_considered_unhealthy_timeout":5000,"startup_grace_period":10000,)"
              R"("primary_demote_timeout":10000,"enable_sync_wal_log_threshold":16777216,)"
              R"("promote_wal_log_threshold":16777216}})");
}

TEST(ConfigTest, SaveWritesAtomicallyAndLoadsBack) {
    test::TempDir dir;
    const auto file = dir / "config/autoctl/base/data/node1/autoctl.cfg";
    auto config = parse(kKeeperFile);
    config.set("timeout.network_partition_timeout", "5");
    config.save(file);
    EXPECT_EQ(test::read_text(file).find("network_partition_timeout = 5\n") != std::string::npos, true);
    const auto loaded = Config::load(file);
    EXPECT_EQ(loaded.serialize(), config.serialize());
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(file.parent_path()),
                            std::filesystem::directory_iterator()),
              1);
}

// The replication password is kept in the file (mode 0600, it is the only place it lives) and
// never in what autoctl prints.
TEST(ConfigTest, PasswordIsSecretMaskedAndTheFileIsPrivate) {
    test::TempDir dir;
    const auto file = dir / "autoctl.cfg";
    auto config = parse(kKeeperFile);
    EXPECT_TRUE(is_secret_key("replication.password"));
    EXPECT_FALSE(is_secret_key("postgresql.port"));
    EXPECT_EQ(config.masked().get("replication.password"), "") << "an empty password stays empty";
    config.set("replication.password", "s3cret'pw");
    config.save(file);
    EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    const auto loaded = Config::load(file);
    EXPECT_EQ(loaded.get("replication.password"), "s3cret'pw");
    const auto masked = loaded.masked();
    EXPECT_EQ(masked.get("replication.password"), "****");
    EXPECT_EQ(masked.serialize().find("s3cret"), std::string::npos) << masked.serialize();
    EXPECT_EQ(masked.to_json().dump().find("s3cret"), std::string::npos);
    EXPECT_EQ(masked.get("postgresql.port"), loaded.get("postgresql.port"));
}

TEST(ConfigTest, SaveRefusesIncompleteConfig) {
    test::TempDir dir;
    auto config = Config::with_defaults(ConfigRole::Monitor);
    expect_error([&] { config.save(dir / "autoctl.cfg"); }, ErrorKind::Config, {"missing required key"});
    config.set("postgresql.pgdata", "/m");
    config.set("postgresql.port", "5432");
    config.save(dir / "autoctl.cfg");
    EXPECT_EQ(test::read_text(dir / "autoctl.cfg"),
              "[pg_autoctl]\nrole = monitor\n\n"
              "[postgresql]\npgdata = /m\nusername = autoctl_node\ndbname = pg_auto_failover\n"
              "port = 5432\nlisten_addresses = *\nauth_method = trust\n\n"
              "[ssl]\nsslmode = prefer\nactive = 0\n\n"
              "[monitor]\nhealth_check_period = 1000\nhealth_check_timeout = 2000\n"
              "health_check_max_retries = 2\nnode_considered_unhealthy_timeout = 5000\n"
              "startup_grace_period = 10000\nprimary_demote_timeout = 10000\n"
              "enable_sync_wal_log_threshold = 16777216\npromote_wal_log_threshold = 16777216\n");
}

TEST(ConfigTest, MonitorTimingKeysAreValidated) {
    auto config = parse(kMonitorFile);
    EXPECT_EQ(config.get_int("monitor.health_check_period"), 1000);
    config.set("monitor.primary_demote_timeout", "30000");
    EXPECT_EQ(config.get_int("monitor.primary_demote_timeout"), 30000);
    expect_error([&] { config.set("monitor.health_check_period", "0"); }, ErrorKind::Config,
                 {"monitor.health_check_period", "between 100 and"});
    expect_error([] { parse("[pg_autoctl]\nrole = keeper\n[postgresql]\npgdata = /d\nport = 1\n"
                            "[monitor]\nhealth_check_period = 1000\n"); },
                 ErrorKind::Config, {"unknown key \"monitor.health_check_period\"", "keeper"});
}

TEST(ConfigTest, CheckValueDescribesExpectedType) {
    const auto& schema = schema_for(ConfigRole::Keeper);
    const auto* port = schema.find("postgresql", "port");
    ASSERT_NE(port, nullptr);
    EXPECT_EQ(check_value(*port, "5432"), "");
    EXPECT_EQ(check_value(*port, "+5432"), "");
    EXPECT_EQ(check_value(*port, " 5432"), "expected an integer between 1 and 65535");
    EXPECT_EQ(to_string(port->type), "integer");
    const auto* timeout = schema.find("timeout", "network_partition_timeout");
    EXPECT_EQ(check_value(*timeout, "-1"), "expected an integer between 0 and 2147483647");
    EXPECT_EQ(schema.find("timeout", "nope"), nullptr);
}

}  // namespace
}  // namespace autoctl::common

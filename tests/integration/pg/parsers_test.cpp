// Pure parts of src/pg: pg_controldata and postmaster.pid parsers, argv quoting for logs and for
// pg_ctl's -o, SQL identifier quoting, query parameters and result rows.
#include <gtest/gtest.h>

#include "autoctl/common/error.hpp"
#include "autoctl/pg/command.hpp"
#include "autoctl/pg/connection.hpp"
#include "autoctl/pg/controldata.hpp"
#include "autoctl/pg/pg_ctl.hpp"

namespace autoctl::pg {
namespace {

using common::Error;

// Captured from Debian's PostgreSQL 15 (LC_ALL=C pg_controldata) on a fresh cluster.
constexpr const char* kControlData = R"(pg_control version number:            1300
Catalog version number:               202209061
Database system identifier:           7712207910991114782
Database cluster state:               shut down
pg_control last modified:             Wed Nov 25 20:25:32 2026
Latest checkpoint location:           0/1511A48
Latest checkpoint's REDO location:    0/1511A10
Latest checkpoint's REDO WAL file:    000000010000000000000001
Latest checkpoint's TimeLineID:       1
Latest checkpoint's PrevTimeLineID:   1
Latest checkpoint's full_page_writes: on
Latest checkpoint's NextXID:          0:724
Latest checkpoint's NextOID:          13573
Latest checkpoint's oldestCommitTsXid:0
Latest checkpoint's newestCommitTsXid:0
Time of latest checkpoint:            Wed Nov 25 20:25:32 2026
Fake LSN counter for unlogged rels:   0/3E8
Minimum recovery ending location:     0/0
Min recovery ending loc's timeline:   0
Backup start location:                0/0
wal_level setting:                    replica
Database block size:                  8192
Data page checksum version:           0
Mock authentication nonce:            4e4b6b767e862b26bd5fb29d51f155a93b6385c422b5d57743a34eb7ba715d97
)";

TEST(ControlData, ParsesCapturedOutput) {
    const auto data = parse_controldata(kControlData);
    EXPECT_EQ(data.pg_control_version, 1300u);
    EXPECT_EQ(data.catalog_version, 202209061u);
    EXPECT_EQ(data.system_identifier, 7712207910991114782ull);
    EXPECT_EQ(data.cluster_state, "shut down");
    EXPECT_EQ(data.checkpoint_lsn.to_string(), "0/1511A48");
    EXPECT_EQ(data.redo_lsn.to_string(), "0/1511A10");
    EXPECT_EQ(data.timeline, 1u);
    EXPECT_TRUE(data.min_recovery_end_lsn.is_zero());
    EXPECT_EQ(data.data_checksum_version, 0u);
}

TEST(ControlData, StateWithSpacesAndHigherTimeline) {
    std::string text = kControlData;
    text.replace(text.find("shut down"), 9, "in archive recovery");
    text.replace(text.find("TimeLineID:       1"), 19, "TimeLineID:       12");
    const auto data = parse_controldata(text);
    EXPECT_EQ(data.cluster_state, "in archive recovery");
    EXPECT_EQ(data.timeline, 12u);
}

TEST(ControlData, MissingOrMalformedFieldIsAnError) {
    std::string missing = kControlData;
    missing.erase(missing.find("Database system identifier"), std::string("Database system identifier").size());
    EXPECT_THROW(parse_controldata(missing), Error);

    std::string bad_lsn = kControlData;
    bad_lsn.replace(bad_lsn.find("0/1511A48"), 9, "garbage");
    try {
        parse_controldata(bad_lsn);
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), common::ErrorKind::Command);
        EXPECT_NE(std::string(e.what()).find("Latest checkpoint location"), std::string::npos);
    }
    EXPECT_THROW(parse_controldata(""), Error);
}

TEST(PostmasterPid, ParsesAllLines) {
    const auto pid = parse_postmaster_pid(
        "4242\n/var/lib/postgresql/15/main\n1700000000\n5432\n/var/run/postgresql\n*\n  5432001    123\nready   \n");
    ASSERT_TRUE(pid);
    EXPECT_EQ(pid->pid, 4242);
    EXPECT_EQ(pid->pgdata, "/var/lib/postgresql/15/main");
    EXPECT_EQ(pid->start_time, 1700000000);
    EXPECT_EQ(pid->port, 5432);
    EXPECT_EQ(pid->socket_dir, "/var/run/postgresql");
    EXPECT_EQ(pid->listen_address, "*");
    EXPECT_EQ(pid->status, "ready");
}

TEST(PostmasterPid, TruncatedOrGarbageIsNullopt) {
    EXPECT_FALSE(parse_postmaster_pid(""));
    EXPECT_FALSE(parse_postmaster_pid("4242\n/data\n"));
    EXPECT_FALSE(parse_postmaster_pid("x\n/data\n1\n5432\n\n\n1 2\nready\n"));
    const auto no_status = parse_postmaster_pid("7\n/data\n1\n5432\n\n\n1 2\n");
    ASSERT_TRUE(no_status);
    EXPECT_EQ(no_status->status, "");
}

TEST(ShellQuote, LeavesSafeWordsAlone) {
    EXPECT_EQ(shell_quote("/usr/lib/postgresql/15/bin/pg_ctl"), "/usr/lib/postgresql/15/bin/pg_ctl");
    EXPECT_EQ(shell_quote("--pgdata=/a/b"), "--pgdata=/a/b");
    EXPECT_EQ(shell_quote(""), "''");
    EXPECT_EQ(shell_quote("a b"), "'a b'");
    EXPECT_EQ(shell_quote("it's"), "'it'\\''s'");
    EXPECT_EQ(shell_quote("x; rm -rf /"), "'x; rm -rf /'");
    EXPECT_EQ(shell_quote("$(id)"), "'$(id)'");
}

TEST(CommandDisplay, QuotesAndMasksPasswords) {
    Command cmd("pg_basebackup");
    cmd.arg("-d", "host=db user=rep password=hunter2").arg("-D", "/data dir").env("PGPASSWORD", "hunter3");
    const auto text = cmd.display();
    EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
    EXPECT_EQ(text.find("hunter3"), std::string::npos) << text;
    EXPECT_EQ(text, "pg_basebackup -d 'host=db user=rep password=****' -D '/data dir'");
    EXPECT_EQ(cmd.program_name(), "pg_basebackup");
    EXPECT_EQ(Command("/usr/bin/env").program_name(), "env");
}

TEST(LastLines, KeepsTheTail) {
    EXPECT_EQ(last_lines("a\nb\n\nc\nd\n", 2), "c; d");
    EXPECT_EQ(last_lines("only\n", 5), "only");
    EXPECT_EQ(last_lines("", 5), "");
    EXPECT_EQ(last_lines("x\r\ny  \n", 5), "x; y");
}

TEST(PostgresOptions, EachTokenQuotedForPgCtlsShell) {
    StartOptions options;
    options.port = 5433;
    options.socket_dir = "/tmp/sock dir";
    options.listen_addresses = "127.0.0.1";
    options.settings = {{"cluster_name", "it's $HOME"}, {"fsync", "off"}};
    EXPECT_EQ(postgres_options(options),
              "-p 5433 -k '/tmp/sock dir' -c listen_addresses=127.0.0.1 -c 'cluster_name=it'\\''s $HOME' -c fsync=off");
    EXPECT_EQ(postgres_options(StartOptions{}), "");
}

TEST(StopModeNames, MatchPgCtl) {
    EXPECT_EQ(to_string(StopMode::Smart), "smart");
    EXPECT_EQ(to_string(StopMode::Fast), "fast");
    EXPECT_EQ(to_string(StopMode::Immediate), "immediate");
}

TEST(QuoteIdentifier, DoublesQuotes) {
    EXPECT_EQ(quote_identifier("state"), "\"state\"");
    EXPECT_EQ(quote_identifier("a\"b"), "\"a\"\"b\"");
}

TEST(Param, ConvertsToText) {
    EXPECT_EQ(Param(42).value(), "42");
    EXPECT_EQ(Param(std::int64_t{-7}).value(), "-7");
    EXPECT_EQ(Param(true).value(), "true");
    EXPECT_EQ(Param("x").value(), "x");
    EXPECT_EQ(Param(std::string("y")).value(), "y");
    EXPECT_EQ(Param(std::nullopt).value(), std::nullopt);
    EXPECT_EQ(Param(std::optional<int>()).value(), std::nullopt);
    EXPECT_EQ(Param(std::optional<int>(3)).value(), "3");
    EXPECT_EQ(Param(fsm::Lsn{0x16B374D848}).value(), "16/B374D848");
    EXPECT_EQ(Param(static_cast<const char*>(nullptr)).value(), std::nullopt);
}

TEST(Rows, AccessorsAndErrors) {
    Rows rows({"id", "name", "ok", "lsn"}, 2);
    rows.add_row({"1", "a", "t", "0/10"});
    rows.add_row({"2", std::nullopt, "f", "1/0"});
    Rows copy = rows;
    Rows moved = std::move(rows);
    ASSERT_EQ(moved.size(), 2u);
    EXPECT_EQ(copy[0].as_int64(0), 1);
    EXPECT_EQ(moved[0].text("name"), "a");
    EXPECT_TRUE(moved[1].is_null(1));
    EXPECT_THROW(moved[1].text(1), Error);
    EXPECT_TRUE(moved[0].as_bool(2));
    EXPECT_FALSE(moved[1].as_bool(2));
    EXPECT_EQ(moved[1].as_lsn(3).value, 0x100000000ull);
    EXPECT_THROW(moved[0].as_int64(1), Error);
    EXPECT_THROW(moved[0].at("nope"), Error);
    EXPECT_THROW(moved.scalar(), Error);
    EXPECT_EQ(moved.affected_rows(), 2u);
    const Row first = moved[0];
    moved = Rows();
    EXPECT_EQ(first.text("name"), "a");  // a row outlives its result
}

}  // namespace
}  // namespace autoctl::pg

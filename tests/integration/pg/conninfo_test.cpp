// ConnInfo: parsing with libpq's parser, and a password that never shows when printed.
#include <gtest/gtest.h>

#include <sstream>

#include "autoctl/common/error.hpp"
#include "autoctl/pg/conninfo.hpp"

namespace autoctl::pg {
namespace {

using common::Error;
using common::ErrorKind;

TEST(ConnInfo, ParsesAUri) {
    const auto info = ConnInfo::parse("postgres://autoctl_node:s3cret@monitor.example:6000/pg_auto_failover?sslmode=require");
    EXPECT_EQ(info.user(), "autoctl_node");
    EXPECT_EQ(info.password(), "s3cret");
    EXPECT_EQ(info.host(), "monitor.example");
    EXPECT_EQ(info.port(), 6000);
    EXPECT_EQ(info.dbname(), "pg_auto_failover");
    EXPECT_EQ(info.sslmode(), "require");
    EXPECT_EQ(info.endpoint(), "monitor.example:6000");
}

TEST(ConnInfo, ParsesKeyValues) {
    const auto info = ConnInfo::parse("host=10.0.0.1 port=5433 dbname='my db' user=bob password='it\\'s secret' connect_timeout=3");
    EXPECT_EQ(info.host(), "10.0.0.1");
    EXPECT_EQ(info.port(), 5433);
    EXPECT_EQ(info.dbname(), "my db");
    EXPECT_EQ(info.password(), "it's secret");
    EXPECT_EQ(info.connect_timeout(), 3);
}

TEST(ConnInfo, ToStringAlwaysMasksThePassword) {
    const auto info = ConnInfo::parse("postgres://bob:hunter2@db:5432/app");
    const auto text = info.to_string();
    EXPECT_EQ(text.find("hunter2"), std::string::npos) << text;
    EXPECT_NE(text.find("password=****"), std::string::npos) << text;

    std::ostringstream out;
    out << info;
    EXPECT_EQ(out.str(), text);
    EXPECT_EQ(out.str().find("hunter2"), std::string::npos);
}

TEST(ConnInfo, QuotedPasswordIsMaskedToo) {
    ConnInfo info;
    info.set_host("db").set_password("a b' \\c");
    EXPECT_EQ(info.to_string(), "host=db password=****");
    EXPECT_EQ(info.to_libpq(), "host=db password='a b\\' \\\\c'");
}

TEST(ConnInfo, ToLibpqRoundTrips) {
    ConnInfo info;
    info.set_host("127.0.0.1").set_port(5432).set_dbname("data base").set_user("o'neil").set_password("p@ss word\\");
    info.set_sslmode("prefer").set_application_name("");
    const auto again = ConnInfo::parse(info.to_libpq());
    EXPECT_EQ(again.dbname(), "data base");
    EXPECT_EQ(again.user(), "o'neil");
    EXPECT_EQ(again.password(), "p@ss word\\");
    EXPECT_EQ(again.application_name(), "");
}

TEST(ConnInfo, UriLeavesThePasswordOut) {
    ConnInfo info;
    info.set_host("monitor").set_port(5432).set_user("autoctl_node").set_password("s3cret");
    info.set_dbname("pg_auto_failover").set_sslmode("require");
    EXPECT_EQ(info.to_uri(), "postgres://autoctl_node@monitor:5432/pg_auto_failover?sslmode=require");
    EXPECT_EQ(info.to_libpq_uri(), "postgres://autoctl_node:s3cret@monitor:5432/pg_auto_failover?sslmode=require");
}

TEST(ConnInfo, UriRoundTripsThroughLibpq) {
    ConnInfo info;
    info.set_host("::1").set_port(5433).set_user("us er").set_password("p/w:@?").set_dbname("d&b");
    info.set_application_name("a=b&c");
    const auto again = ConnInfo::parse(info.to_libpq_uri());
    EXPECT_EQ(again.host(), "::1");
    EXPECT_EQ(again.port(), 5433);
    EXPECT_EQ(again.user(), "us er");
    EXPECT_EQ(again.password(), "p/w:@?");
    EXPECT_EQ(again.dbname(), "d&b");
    EXPECT_EQ(again.application_name(), "a=b&c");
}

TEST(ConnInfo, MultiHostUri) {
    const auto info = ConnInfo::parse("postgres://a:5432,b:5433/app?target_session_attrs=read-write");
    EXPECT_EQ(info.host(), "a,b");
    EXPECT_EQ(info.get("port"), "5432,5433");
    EXPECT_EQ(info.port(), std::nullopt);
    EXPECT_EQ(info.endpoint(), "a:5432,b:5433");
    EXPECT_EQ(info.to_uri(), "postgres://a:5432,b:5433/app?target_session_attrs=read-write");
}

TEST(ConnInfo, UnixSocketHostGoesInTheQuery) {
    ConnInfo info;
    info.set_host("/tmp/sock dir").set_port(6000).set_dbname("postgres");
    EXPECT_EQ(info.to_uri(), "postgres:///postgres?host=%2Ftmp%2Fsock%20dir&port=6000");
    EXPECT_EQ(ConnInfo::parse(info.to_uri()).host(), "/tmp/sock dir");
}

TEST(ConnInfo, InvalidTextIsAConfigErrorWithoutThePassword) {
    try {
        ConnInfo::parse("host=db password=hunter2 nonsense_keyword=1");
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.kind(), ErrorKind::Config);
        EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("nonsense_keyword"), std::string::npos) << e.what();
    }
    EXPECT_THROW(ConnInfo::parse("host='unterminated"), Error);
    EXPECT_THROW(ConnInfo::parse("postgres://host/db?no_such_param=1"), Error);
}

TEST(ConnInfo, UnknownKeywordIsRefused) {
    ConnInfo info;
    EXPECT_THROW(info.set("no_such_keyword", "1"), Error);
    EXPECT_TRUE(is_conninfo_keyword("sslmode"));
    EXPECT_FALSE(is_conninfo_keyword("sslmood"));
}

TEST(ConnInfo, SetKeepsOrderAndReplaces) {
    ConnInfo info;
    info.set_host("a").set_port(1).set_host("b");
    EXPECT_EQ(info.to_string(), "host=b port=1");
    info.erase("host");
    EXPECT_EQ(info.to_string(), "port=1");
    EXPECT_EQ(info.endpoint(), "localhost:1");
}

TEST(ConnInfo, QuoteValue) {
    EXPECT_EQ(quote_conninfo_value("plain"), "plain");
    EXPECT_EQ(quote_conninfo_value(""), "''");
    EXPECT_EQ(quote_conninfo_value("a b"), "'a b'");
    EXPECT_EQ(quote_conninfo_value("it's"), "'it\\'s'");
}

}  // namespace
}  // namespace autoctl::pg

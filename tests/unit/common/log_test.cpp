#include "autoctl/common/log.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <regex>

namespace autoctl::common {
namespace {

TEST(RedactTest, KeyValuePassword) {
    EXPECT_EQ(redact_conninfo("host=localhost port=5432 password=secret user=postgres"),
              "host=localhost port=5432 password=**** user=postgres");
    EXPECT_EQ(redact_conninfo("password=secret"), "password=****");
    EXPECT_EQ(redact_conninfo("host=h password = secret dbname=d"), "host=h password = **** dbname=d");
}

TEST(RedactTest, QuotedKeyValuePassword) {
    EXPECT_EQ(redact_conninfo("host=h password='a b\\' c' dbname=d"), "host=h password=**** dbname=d");
}

TEST(RedactTest, UriUserInfo) {
    EXPECT_EQ(redact_conninfo("postgres://autoctl_node:s3cret@monitor:5432/pg_auto_failover"),
              "postgres://autoctl_node:****@monitor:5432/pg_auto_failover");
    EXPECT_EQ(redact_conninfo("postgresql://u:p@h"), "postgresql://u:****@h");
    EXPECT_EQ(redact_conninfo("postgresql://u:p@ss@h/db"), "postgresql://u:****@h/db");
}

TEST(RedactTest, UriParameter) {
    EXPECT_EQ(redact_conninfo("postgres://h/db?sslmode=require&password=secret&application_name=x"),
              "postgres://h/db?sslmode=require&password=****&application_name=x");
    EXPECT_EQ(redact_conninfo("postgres://h/db?password=secret"), "postgres://h/db?password=****");
}

TEST(RedactTest, LeavesOtherTextAlone) {
    EXPECT_EQ(redact_conninfo("postgres://autoctl_node@localhost:5432/pg_auto_failover?sslmode=prefer"),
              "postgres://autoctl_node@localhost:5432/pg_auto_failover?sslmode=prefer");
    EXPECT_EQ(redact_conninfo("host=h user=u"), "host=h user=u");
    EXPECT_EQ(redact_conninfo("the password is required"), "the password is required");
    EXPECT_EQ(redact_conninfo("mypassword=x"), "mypassword=x");
    EXPECT_EQ(redact_conninfo(""), "");
}

TEST(RedactTest, SeveralInOneMessage) {
    EXPECT_EQ(redact_conninfo("connecting to \"postgres://a:b@h/d\" then \"password=c host=x\""),
              "connecting to \"postgres://a:****@h/d\" then \"password=**** host=x\"");
}

TEST(LogLevelTest, FromFlags) {
    EXPECT_EQ(log_level_from_flags(0, false), LogLevel::Info);
    EXPECT_EQ(log_level_from_flags(1, false), LogLevel::Info);
    EXPECT_EQ(log_level_from_flags(2, false), LogLevel::Debug);
    EXPECT_EQ(log_level_from_flags(3, false), LogLevel::Trace);
    EXPECT_EQ(log_level_from_flags(7, false), LogLevel::Trace);
    EXPECT_EQ(log_level_from_flags(0, true), LogLevel::Error);
    EXPECT_EQ(log_level_from_flags(3, true), LogLevel::Error);
}

TEST(LogFormatTest, PgAutoctlLineFormatWithRedaction) {
    setup_logging(LogLevel::Info);
    testing::internal::CaptureStderr();
    logger("test")->info("connecting with password=secret");
    logger("test")->warn("retrying");
    logger("test")->debug("not shown at INFO");
    logger("test")->flush();
    const std::string output = testing::internal::GetCapturedStderr();
    const std::string pid = std::to_string(::getpid());
    const std::regex expected("\\d\\d:\\d\\d:\\d\\d " + pid +
                              " INFO  connecting with password=\\*\\*\\*\\*\n" + "\\d\\d:\\d\\d:\\d\\d " +
                              pid + " WARN  retrying\n");
    EXPECT_TRUE(std::regex_match(output, expected)) << output;
}

TEST(LogFormatTest, LevelsFollowSetup) {
    setup_logging(LogLevel::Error);
    testing::internal::CaptureStderr();
    logger("test")->warn("hidden");
    logger("other")->error("shown");
    logger("other")->critical("fatal one");
    const std::string output = testing::internal::GetCapturedStderr();
    EXPECT_EQ(output.find("hidden"), std::string::npos);
    EXPECT_NE(output.find(" ERROR shown\n"), std::string::npos) << output;
    EXPECT_NE(output.find(" FATAL fatal one\n"), std::string::npos) << output;
    setup_logging(LogLevel::Trace);
    testing::internal::CaptureStderr();
    logger("test")->trace("tracing");
    const std::string traced = testing::internal::GetCapturedStderr();
    EXPECT_NE(traced.find(" TRACE tracing\n"), std::string::npos) << traced;
    setup_logging(LogLevel::Info);
}

}  // namespace
}  // namespace autoctl::common

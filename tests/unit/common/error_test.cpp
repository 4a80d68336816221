#include "autoctl/common/error.hpp"

#include <gtest/gtest.h>

namespace autoctl::common {
namespace {

TEST(ExitCodeTest, KeepsPgAutoctlNumbers) {
    EXPECT_EQ(to_int(ExitCode::Quit), 0);
    EXPECT_EQ(to_int(ExitCode::BadArgs), 1);
    EXPECT_EQ(to_int(ExitCode::BadConfig), 2);
    EXPECT_EQ(to_int(ExitCode::BadState), 3);
    EXPECT_EQ(to_int(ExitCode::Pgsql), 4);
    EXPECT_EQ(to_int(ExitCode::Pgctl), 5);
    EXPECT_EQ(to_int(ExitCode::Monitor), 6);
    EXPECT_EQ(to_int(ExitCode::Coordinator), 7);
    EXPECT_EQ(to_int(ExitCode::Keeper), 8);
    EXPECT_EQ(to_int(ExitCode::Reload), 9);
    EXPECT_EQ(to_int(ExitCode::InternalError), 12);
    EXPECT_EQ(to_int(ExitCode::ExtensionMissing), 13);
    EXPECT_EQ(to_int(ExitCode::Dropped), 121);
    EXPECT_EQ(to_int(ExitCode::Fatal), 122);
}

TEST(ExitCodeTest, EveryErrorKindMapsToItsExitCode) {
    EXPECT_EQ(exit_code_for(ErrorKind::Usage), ExitCode::BadArgs);
    EXPECT_EQ(exit_code_for(ErrorKind::Config), ExitCode::BadConfig);
    EXPECT_EQ(exit_code_for(ErrorKind::State), ExitCode::BadState);
    EXPECT_EQ(exit_code_for(ErrorKind::Postgres), ExitCode::Pgsql);
    EXPECT_EQ(exit_code_for(ErrorKind::Command), ExitCode::Pgctl);
    EXPECT_EQ(exit_code_for(ErrorKind::Monitor), ExitCode::Monitor);
    EXPECT_EQ(exit_code_for(ErrorKind::Citus), ExitCode::Coordinator);
    EXPECT_EQ(exit_code_for(ErrorKind::Keeper), ExitCode::Keeper);
    EXPECT_EQ(exit_code_for(ErrorKind::Reload), ExitCode::Reload);
    EXPECT_EQ(exit_code_for(ErrorKind::Internal), ExitCode::InternalError);
    EXPECT_EQ(exit_code_for(ErrorKind::ExtensionMissing), ExitCode::ExtensionMissing);
    EXPECT_EQ(exit_code_for(ErrorKind::Dropped), ExitCode::Dropped);
    EXPECT_EQ(exit_code_for(ErrorKind::Fatal), ExitCode::Fatal);
}

TEST(ExitCodeTest, NamesMatchDefaultsH) {
    EXPECT_EQ(to_string(ExitCode::BadArgs), "BAD_ARGS");
    EXPECT_EQ(to_string(ExitCode::InternalError), "INTERNAL_ERROR");
    EXPECT_EQ(to_string(ExitCode::Fatal), "FATAL");
}

TEST(ErrorTest, CarriesKindAndMessage) {
    const Error error(ErrorKind::Monitor, "monitor is unreachable");
    EXPECT_EQ(error.kind(), ErrorKind::Monitor);
    EXPECT_STREQ(error.what(), "monitor is unreachable");
}

TEST(ErrorTest, WithContextPrependsAndKeepsKind) {
    const Error error =
        Error(ErrorKind::Postgres, "connection refused").with_context("while promoting node 3");
    EXPECT_EQ(error.kind(), ErrorKind::Postgres);
    EXPECT_STREQ(error.what(), "while promoting node 3: connection refused");
}

}  // namespace
}  // namespace autoctl::common

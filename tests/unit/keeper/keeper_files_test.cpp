// The keeper's own files: the state file (JSON, atomic, when it is written) and the
// expected-status file the supervisor follows, and which states keep Postgres stopped across a restart.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "autoctl/common/error.hpp"
#include "autoctl/keeper/keeper.hpp"
#include "autoctl/keeper/keeper_state.hpp"
#include "autoctl/keeper/supervised_postgres.hpp"

namespace autoctl::keeper {
namespace {

namespace fs = std::filesystem;
using fsm::NodeState;

class KeeperFiles : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("autoctl-keeper-files-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

TEST_F(KeeperFiles, StateRoundTripsEveryField) {
    KeeperState state;
    state.node_id = 7;
    state.group = 2;
    state.current = NodeState::Secondary;
    state.assigned = NodeState::PreparePromotion;
    state.last_monitor_contact = 1700000000;
    state.last_secondary_contact = 1700000005;
    state.pg_start_failures = 2;
    state.first_start_failure = 1700000003;
    state.standby_target_lsn = "0/3000060";
    const auto file = dir_ / "sub" / "autoctl.state";
    save_keeper_state(file, state);  // creates the directories
    const auto loaded = load_keeper_state(file);
    ASSERT_TRUE(loaded.has_value());
    EXPECT_EQ(loaded->node_id, 7);
    EXPECT_EQ(loaded->group, 2);
    EXPECT_EQ(loaded->current, NodeState::Secondary);
    EXPECT_EQ(loaded->assigned, NodeState::PreparePromotion);
    EXPECT_EQ(loaded->last_monitor_contact, 1700000000);
    EXPECT_EQ(loaded->last_secondary_contact, 1700000005);
    EXPECT_EQ(loaded->pg_start_failures, 2);
    EXPECT_EQ(loaded->first_start_failure, 1700000003);
    EXPECT_EQ(loaded->standby_target_lsn, "0/3000060");
    // Atomic write: no temporary file is left beside it.
    EXPECT_EQ(std::distance(fs::directory_iterator(file.parent_path()), fs::directory_iterator()), 1);
}

TEST(KeeperStateSaving, ContactTimestampsAloneAreWrittenOnlyOnceTheyAreSlackBehind) {
    KeeperState saved;
    saved.node_id = 3;
    saved.current = saved.assigned = NodeState::Primary;
    saved.last_monitor_contact = saved.last_secondary_contact = 1000;
    KeeperState now = saved;
    EXPECT_FALSE(needs_saving(saved, now, 5));
    now.last_monitor_contact = now.last_secondary_contact = 1004;
    EXPECT_FALSE(needs_saving(saved, now, 5));
    now.last_secondary_contact = 1005;
    EXPECT_TRUE(needs_saving(saved, now, 5));
    now = saved;
    now.last_monitor_contact = 999;  // a clock that went back: write it
    EXPECT_TRUE(needs_saving(saved, now, 5));
}

TEST(KeeperStateSaving, AnyOtherChangeIsWrittenAtOnce) {
    KeeperState saved;
    saved.node_id = 3;
    saved.current = saved.assigned = NodeState::Secondary;
    auto changed = [&](auto mutate) {
        KeeperState now = saved;
        mutate(now);
        return needs_saving(saved, now, 5);
    };
    EXPECT_TRUE(changed([](KeeperState& s) { s.assigned = NodeState::PreparePromotion; }));
    EXPECT_TRUE(changed([](KeeperState& s) { s.current = NodeState::CatchingUp; }));
    EXPECT_TRUE(changed([](KeeperState& s) { s.group = 2; }));
    EXPECT_TRUE(changed([](KeeperState& s) { s.node_id = 4; }));
    EXPECT_TRUE(changed([](KeeperState& s) { s.pg_start_failures = 1; }));
    EXPECT_TRUE(changed([](KeeperState& s) { s.first_start_failure = 5; }));
    EXPECT_TRUE(changed([](KeeperState& s) { s.standby_target_lsn = "0/3000000"; }));
}

TEST_F(KeeperFiles, MissingStateIsNoState) { EXPECT_FALSE(load_keeper_state(dir_ / "none").has_value()); }

TEST_F(KeeperFiles, InvalidStateNamesTheFile) {
    fs::create_directories(dir_);
    const auto file = dir_ / "autoctl.state";
    std::ofstream(file) << "{\"node_id\": 1, \"group\": 0, \"current_role\": \"primry\", \"assigned_role\": \"primary\"}";
    try {
        load_keeper_state(file);
        FAIL() << "an unknown state was accepted";
    } catch (const common::Error& e) {
        EXPECT_EQ(e.kind(), common::ErrorKind::State);
        EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("primry"), std::string::npos) << e.what();
    }
    std::ofstream(file) << "not json";
    EXPECT_THROW(load_keeper_state(file), common::Error);
}

TEST_F(KeeperFiles, ExpectedStatusRoundTrips) {
    const auto file = expected_status_file(dir_ / "run" / "autoctl.pid");
    EXPECT_EQ(file, dir_ / "run" / "autoctl.pg");
    EXPECT_FALSE(read_expected_status(file).has_value());
    write_expected_status(file, ExpectedStatus::Running);
    EXPECT_EQ(read_expected_status(file), ExpectedStatus::Running);
    write_expected_status(file, ExpectedStatus::Stopped);
    EXPECT_EQ(read_expected_status(file), ExpectedStatus::Stopped);
    remove_expected_status(file);
    EXPECT_FALSE(read_expected_status(file).has_value());
}

TEST_F(KeeperFiles, RestartCheckKeepsWritableStatesStopped) {
    common::NodePaths paths;
    paths.state = dir_ / "data" / "autoctl.state";
    paths.pid = dir_ / "run" / "autoctl.pid";
    const auto status = expected_status_file(paths.pid);
    for (const auto state : {NodeState::Single, NodeState::Primary, NodeState::WaitPrimary, NodeState::JoinPrimary,
                             NodeState::ApplySettings}) {
        EXPECT_TRUE(is_writable_state(state)) << fsm::to_string(state);
        KeeperState s;
        s.node_id = 1;
        s.current = state;
        save_keeper_state(paths.state, s);
        write_expected_status(status, ExpectedStatus::Running);
        prepare_restart_check(paths);
        EXPECT_EQ(read_expected_status(status), ExpectedStatus::Stopped) << fsm::to_string(state);
    }
    for (const auto state : {NodeState::Secondary, NodeState::CatchingUp, NodeState::Demoted, NodeState::Maintenance,
                             NodeState::StopReplication, NodeState::Draining}) {
        EXPECT_FALSE(is_writable_state(state)) << fsm::to_string(state);
        KeeperState s;
        s.node_id = 1;
        s.current = state;
        save_keeper_state(paths.state, s);
        write_expected_status(status, ExpectedStatus::Running);
        prepare_restart_check(paths);
        EXPECT_EQ(read_expected_status(status), ExpectedStatus::Running) << fsm::to_string(state);
    }
}

}  // namespace
}  // namespace autoctl::keeper

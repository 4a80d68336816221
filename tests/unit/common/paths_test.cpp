#include "autoctl/common/paths.hpp"

#include <gtest/gtest.h>

#include "../../support/temp_dir.hpp"

namespace autoctl::common {
namespace {

XdgEnvironment home_only(const std::string& home) {
    XdgEnvironment env;
    env.home = home;
    return env;
}

TEST(PathsTest, DefaultsUnderHomeAndTmp) {
    const auto paths = node_paths("/data/node1", home_only("/home/pg"));
    EXPECT_EQ(paths.pgdata, "/data/node1");
    EXPECT_EQ(paths.config, "/home/pg/.config/autoctl/data/node1/autoctl.cfg");
    EXPECT_EQ(paths.state, "/home/pg/.local/share/autoctl/data/node1/autoctl.state");
    EXPECT_EQ(paths.init, "/home/pg/.local/share/autoctl/data/node1/autoctl.init");
    EXPECT_EQ(paths.nodes, "/home/pg/.local/share/autoctl/data/node1/nodes.json");
    EXPECT_EQ(paths.pid, "/tmp/autoctl/data/node1/autoctl.pid");
}

TEST(PathsTest, XdgVariablesWin) {
    XdgEnvironment env = home_only("/home/pg");
    env.xdg_config_home = "/xdg/config";
    env.xdg_data_home = "/xdg/data";
    env.xdg_runtime_dir = "/run/user/1000";
    env.runtime_dir_exists = true;
    const auto paths = node_paths("/var/lib/pg/monitor", env);
    EXPECT_EQ(paths.config, "/xdg/config/autoctl/var/lib/pg/monitor/autoctl.cfg");
    EXPECT_EQ(paths.state, "/xdg/data/autoctl/var/lib/pg/monitor/autoctl.state");
    EXPECT_EQ(paths.pid, "/run/user/1000/autoctl/var/lib/pg/monitor/autoctl.pid");
}

TEST(PathsTest, MissingRuntimeDirFallsBackToTmp) {
    XdgEnvironment env = home_only("/home/pg");
    env.xdg_runtime_dir = "/run/user/1000";
    env.runtime_dir_exists = false;
    EXPECT_EQ(node_paths("/d", env).pid, "/tmp/autoctl/d/autoctl.pid");
}

TEST(PathsTest, RelativeOrEmptyXdgValuesAreIgnored) {
    XdgEnvironment env = home_only("/home/pg");
    env.xdg_config_home = "relative/config";
    env.xdg_data_home = "";
    env.xdg_runtime_dir = "run";
    env.runtime_dir_exists = true;
    const auto paths = node_paths("/d", env);
    EXPECT_EQ(paths.config, "/home/pg/.config/autoctl/d/autoctl.cfg");
    EXPECT_EQ(paths.state, "/home/pg/.local/share/autoctl/d/autoctl.state");
    EXPECT_EQ(paths.pid, "/tmp/autoctl/d/autoctl.pid");
}

TEST(PathsTest, NoHomeIsAnErrorOnlyWhenNeeded) {
    XdgEnvironment env;
    EXPECT_THROW(node_paths("/d", env), Error);
    env.xdg_config_home = "/c";
    env.xdg_data_home = "/s";
    EXPECT_EQ(node_paths("/d", env).config, "/c/autoctl/d/autoctl.cfg");
}

TEST(PathsTest, AbsolutePgdataUsesCwdAndNormalises) {
    EXPECT_EQ(absolute_pgdata("/data/node1", "/ignored"), "/data/node1");
    EXPECT_EQ(absolute_pgdata("node1", "/home/pg"), "/home/pg/node1");
    EXPECT_EQ(absolute_pgdata("./a/../node1/", "/home/pg"), "/home/pg/node1");
    EXPECT_EQ(absolute_pgdata("/data//node1/", "/"), "/data/node1");
    EXPECT_EQ(absolute_pgdata("/", "/x"), "/");
}

TEST(PathsTest, EmptyPgdataIsAUsageError) {
    try {
        absolute_pgdata("", "/");
        FAIL() << "expected an error";
    } catch (const Error& error) {
        EXPECT_EQ(error.kind(), ErrorKind::Usage);
        EXPECT_STREQ(error.what(), "failed to set PGDATA either from the environment or from --pgdata");
    }
}

TEST(PathsTest, FromProcessResolvesRelativePgdata) {
    test::TempDir dir;
    const auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(dir.path());
    const auto resolved = absolute_pgdata_from_process("not-yet/../pgdata");
    std::filesystem::current_path(cwd);
    EXPECT_EQ(resolved, std::filesystem::canonical(dir.path()) / "pgdata");
}

TEST(PathsTest, CreateParentDirectories) {
    test::TempDir dir;
    const auto file = dir / "a/b/c/autoctl.cfg";
    create_parent_directories(file, ErrorKind::Config);
    EXPECT_TRUE(std::filesystem::is_directory(dir / "a/b/c"));
    EXPECT_FALSE(std::filesystem::exists(file));
    create_parent_directories(file, ErrorKind::Config);  // already there: no error
    test::write_text(dir / "blocker", "x");
    EXPECT_THROW(create_parent_directories(dir / "blocker/sub/f", ErrorKind::Config), Error);
}

}  // namespace
}  // namespace autoctl::common

#include "autoctl/common/paths.hpp"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <system_error>
#include <vector>

namespace autoctl::common {

namespace fs = std::filesystem;

namespace {

// An XDG base directory value counts only when it is an absolute path.
bool usable(const std::string& value) { return !value.empty() && value.front() == '/'; }

fs::path home_dir(const XdgEnvironment& env, std::string_view needed_for) {
    if (env.home.empty()) {
        throw Error(ErrorKind::Config,
                    "HOME is not set, and " + std::string(needed_for) + " is not set either");
    }
    return fs::path(env.home);
}

std::string getenv_or_empty(const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

fs::path absolute_pgdata(std::string_view pgdata, const fs::path& cwd) {
    if (pgdata.empty()) {
        throw Error(ErrorKind::Usage, "failed to set PGDATA either from the environment or from --pgdata");
    }
    fs::path path(pgdata);
    if (path.is_relative()) path = cwd / path;
    path = path.lexically_normal();
    // "a/b/" normalises to "a/b/" (an empty last element): drop it, but keep "/".
    if (!path.has_filename() && path.has_parent_path() && path != path.root_path()) {
        path = path.parent_path();
    }
    return path;
}

NodePaths node_paths(const fs::path& pgdata, const XdgEnvironment& env) {
    const fs::path relative = pgdata.relative_path();

    const fs::path config_home = usable(env.xdg_config_home) ? fs::path(env.xdg_config_home)
                                                             : home_dir(env, "XDG_CONFIG_HOME") / ".config";
    const fs::path data_home = usable(env.xdg_data_home)
                                   ? fs::path(env.xdg_data_home)
                                   : home_dir(env, "XDG_DATA_HOME") / ".local" / "share";
    const fs::path runtime_dir = usable(env.xdg_runtime_dir) && env.runtime_dir_exists
                                     ? fs::path(env.xdg_runtime_dir)
                                     : fs::path("/tmp");

    const fs::path config_dir = config_home / kPathsDirName / relative;
    const fs::path data_dir = data_home / kPathsDirName / relative;
    const fs::path runtime = runtime_dir / kPathsDirName / relative;

    NodePaths paths;
    paths.pgdata = pgdata;
    paths.config = config_dir / kConfigFileName;
    paths.state = data_dir / kStateFileName;
    paths.init = data_dir / kInitFileName;
    paths.nodes = data_dir / kNodesFileName;
    paths.pid = runtime / kPidFileName;
    return paths;
}

XdgEnvironment xdg_environment_from_process() {
    XdgEnvironment env;
    env.home = getenv_or_empty("HOME");
    if (env.home.empty()) {
        std::vector<char> buffer(16384);
        struct passwd pwd {};
        struct passwd* result = nullptr;
        if (::getpwuid_r(::geteuid(), &pwd, buffer.data(), buffer.size(), &result) == 0 &&
            result != nullptr && result->pw_dir != nullptr) {
            env.home = result->pw_dir;
        }
    }
    env.xdg_config_home = getenv_or_empty("XDG_CONFIG_HOME");
    env.xdg_data_home = getenv_or_empty("XDG_DATA_HOME");
    env.xdg_runtime_dir = getenv_or_empty("XDG_RUNTIME_DIR");
    std::error_code ec;
    env.runtime_dir_exists = !env.xdg_runtime_dir.empty() && fs::is_directory(env.xdg_runtime_dir, ec);
    return env;
}

fs::path absolute_pgdata_from_process(std::string_view pgdata) {
    std::error_code ec;
    const fs::path cwd = fs::current_path(ec);
    if (ec) throw Error(ErrorKind::Internal, "failed to get the current directory: " + ec.message());
    fs::path path = absolute_pgdata(pgdata, cwd);
    if (fs::exists(path, ec)) {
        const fs::path canonical = fs::canonical(path, ec);
        if (!ec) path = canonical;
    }
    return path;
}

NodePaths node_paths_from_process(std::string_view pgdata) {
    return node_paths(absolute_pgdata_from_process(pgdata), xdg_environment_from_process());
}

void create_parent_directories(const fs::path& file, ErrorKind kind) {
    const fs::path dir = file.parent_path();
    if (dir.empty()) return;
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return;
    // Build each missing level with mode 0755 (create_directories would use 0777 & ~umask).
    fs::path partial;
    for (const auto& part : dir) {
        partial /= part;
        if (fs::is_directory(partial, ec)) continue;
        if (::mkdir(partial.c_str(), 0755) != 0 && errno != EEXIST) {
            throw Error(kind, "failed to create directory \"" + partial.string() +
                                  "\": " + std::error_code(errno, std::generic_category()).message());
        }
    }
}

std::string quoted(const fs::path& path) { return "\"" + path.string() + "\""; }

}  // namespace autoctl::common

#pragma once
// Where autoctl keeps a node's files, following pg_autoctl's XDG layout with "autoctl" names:
//
//   config  ${XDG_CONFIG_HOME:-$HOME/.config}/autoctl/<pgdata>/autoctl.cfg
//   state   ${XDG_DATA_HOME:-$HOME/.local/share}/autoctl/<pgdata>/autoctl.state
//   init    ${XDG_DATA_HOME:-$HOME/.local/share}/autoctl/<pgdata>/autoctl.init
//   nodes   ${XDG_DATA_HOME:-$HOME/.local/share}/autoctl/<pgdata>/nodes.json
//   pid     ${XDG_RUNTIME_DIR:-/tmp}/autoctl/<pgdata>/autoctl.pid
//
// <pgdata> is the absolute PGDATA without its leading '/'. An XDG variable that is unset, empty
// or not an absolute path is ignored (XDG Base Directory rules); /tmp is also used when
// XDG_RUNTIME_DIR names a directory that does not exist.
//
// The computations are pure functions of their inputs; the *_from_process() wrappers read the
// environment, the working directory and the file system.

#include <filesystem>
#include <string>
#include <string_view>

#include "autoctl/common/error.hpp"

namespace autoctl::common {

inline constexpr std::string_view kPathsDirName = "autoctl";
inline constexpr std::string_view kConfigFileName = "autoctl.cfg";
inline constexpr std::string_view kStateFileName = "autoctl.state";
inline constexpr std::string_view kInitFileName = "autoctl.init";
inline constexpr std::string_view kPidFileName = "autoctl.pid";
inline constexpr std::string_view kNodesFileName = "nodes.json";

// The environment values the layout depends on; an empty string means unset.
struct XdgEnvironment {
    std::string home;
    std::string xdg_config_home;
    std::string xdg_data_home;
    std::string xdg_runtime_dir;
    bool runtime_dir_exists = false;  // whether xdg_runtime_dir is an existing directory
};

struct NodePaths {
    std::filesystem::path pgdata;  // absolute
    std::filesystem::path config;
    std::filesystem::path state;
    std::filesystem::path init;
    std::filesystem::path nodes;
    std::filesystem::path pid;
};

// `pgdata` made absolute against `cwd` and lexically normalised (no "." or ".." parts, no
// trailing '/'). An empty pgdata throws Error{ErrorKind::Usage}.
std::filesystem::path absolute_pgdata(std::string_view pgdata, const std::filesystem::path& cwd);

// The node's file paths for an absolute PGDATA. Throws Error{ErrorKind::Config} when HOME is
// needed but empty.
NodePaths node_paths(const std::filesystem::path& absolute_pgdata, const XdgEnvironment& env);

// Reads HOME (falling back to the password database), the XDG variables, and whether
// XDG_RUNTIME_DIR exists.
XdgEnvironment xdg_environment_from_process();

// absolute_pgdata() against the current directory, resolving symbolic links when PGDATA exists.
std::filesystem::path absolute_pgdata_from_process(std::string_view pgdata);

// node_paths() for a PGDATA as given on the command line, using the process environment.
NodePaths node_paths_from_process(std::string_view pgdata);

// Creates the parent directories of `file` (mode 0755) if needed; throws Error{kind} on failure.
void create_parent_directories(const std::filesystem::path& file, ErrorKind kind);

// A path in double quotes, as messages name files: "/var/lib/pgsql/data".
std::string quoted(const std::filesystem::path& path);

}  // namespace autoctl::common

// RunAs: the identity a child process switches to (root running Postgres as its owner).

#include <grp.h>
#include <pwd.h>

#include <cstring>
#include <vector>

#include "autoctl/common/error.hpp"
#include "autoctl/pg/command.hpp"

namespace autoctl::pg {

using common::Error;
using common::ErrorKind;

RunAs RunAs::user(const std::string& name) {
    struct passwd pwd {};
    struct passwd* found = nullptr;
    std::vector<char> buffer(16384);
    const int rc = ::getpwnam_r(name.c_str(), &pwd, buffer.data(), buffer.size(), &found);
    if (rc != 0 || found == nullptr) {
        throw Error(ErrorKind::Command, "no such OS user \"" + name + "\"" + (rc != 0 ? ": " + std::string(std::strerror(rc)) : ""));
    }
    RunAs identity;
    identity.uid = pwd.pw_uid;
    identity.gid = pwd.pw_gid;
    identity.name = name;
    identity.home = pwd.pw_dir != nullptr ? pwd.pw_dir : "";
    int count = 32;
    std::vector<gid_t> groups(static_cast<std::size_t>(count));
    while (::getgrouplist(name.c_str(), pwd.pw_gid, groups.data(), &count) < 0) {
        groups.resize(static_cast<std::size_t>(count) + 32);
        count = static_cast<int>(groups.size());
    }
    groups.resize(static_cast<std::size_t>(count));
    identity.groups = std::move(groups);
    return identity;
}

}  // namespace autoctl::pg

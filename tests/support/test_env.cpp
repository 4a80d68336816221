#include "support/test_env.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <vector>

namespace autoctl::fixture {

namespace {

std::optional<passwd> lookup_user(const std::string& name, std::vector<char>& buffer) {
    passwd pwd{};
    passwd* found = nullptr;
    buffer.resize(16384);
    if (::getpwnam_r(name.c_str(), &pwd, buffer.data(), buffer.size(), &found) != 0 || found == nullptr) {
        return std::nullopt;
    }
    return pwd;
}

// Serialises user creation between test processes running in parallel (ctest -j).
class FileLock {
public:
    explicit FileLock(const char* path) : fd_(::open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
        if (fd_ < 0) throw std::runtime_error(std::string("cannot open lock file ") + path + ": " + std::strerror(errno));
        while (::flock(fd_, LOCK_EX) != 0) {
            if (errno != EINTR) throw std::runtime_error(std::string("cannot lock ") + path + ": " + std::strerror(errno));
        }
    }
    ~FileLock() {
        ::flock(fd_, LOCK_UN);
        ::close(fd_);
    }
    FileLock(const FileLock&) = delete;
    FileLock& operator=(const FileLock&) = delete;

private:
    int fd_;
};

void ensure_os_user(const std::string& name) {
    std::vector<char> buffer;
    if (lookup_user(name, buffer)) return;
    FileLock lock("/tmp/autoctl-test-useradd.lock");
    if (lookup_user(name, buffer)) return;  // another test process created it meanwhile
    const std::string useradd = ::access("/usr/sbin/useradd", X_OK) == 0 ? "/usr/sbin/useradd" : "useradd";
    pg::Command(useradd)
        .arg("--system")
        .arg("--user-group")
        .arg("--create-home")
        .arg("--home-dir", std::string(kTestUserHome))
        .arg("--shell", "/usr/sbin/nologin")
        .arg(name)
        .timeout(std::chrono::seconds(60))
        .run();
    if (!lookup_user(name, buffer)) throw std::runtime_error("useradd did not create the user " + name);
}

}  // namespace

const TestUser& TestUser::get() {
    static const TestUser user = [] {
        TestUser u;
        if (::geteuid() == 0) {
            u.name_ = std::string(kTestUserName);
            ensure_os_user(u.name_);
            u.run_as_ = pg::RunAs::user(u.name_);
            u.uid_ = u.run_as_->uid;
            u.gid_ = u.run_as_->gid;
        } else {
            std::vector<char> buffer(16384);
            passwd pwd{};
            passwd* found = nullptr;
            u.uid_ = ::geteuid();
            u.gid_ = ::getegid();
            if (::getpwuid_r(u.uid_, &pwd, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
                u.name_ = pwd.pw_name;
            } else {
                u.name_ = std::to_string(u.uid_);
            }
        }
        return u;
    }();
    return user;
}

void chown_to_test_user(const std::filesystem::path& path) {
    const auto& user = TestUser::get();
    if (!user.is_other_user()) return;
    if (::chown(path.c_str(), user.uid(), user.gid()) != 0) {
        throw std::runtime_error("chown " + path.string() + ": " + std::strerror(errno));
    }
}

TempDir::TempDir(std::string_view prefix) {
    std::string pattern = "/tmp/" + std::string(prefix) + "XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
        throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
    }
    path_ = pattern;
    chown_to_test_user(path_);
}

TempDir::~TempDir() {
    const char* keep = std::getenv("AUTOCTL_KEEP_TMP");
    if (keep != nullptr && *keep != '\0') {
        std::cerr << "AUTOCTL_KEEP_TMP: keeping " << path_ << "\n";
        return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
    if (ec) std::cerr << "could not remove " << path_ << ": " << ec.message() << "\n";
}

int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof addr;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        const int err = errno;
        ::close(fd);
        throw std::runtime_error(std::string("bind 127.0.0.1:0: ") + std::strerror(err));
    }
    ::close(fd);
    return ntohs(addr.sin_port);
}

}  // namespace autoctl::fixture

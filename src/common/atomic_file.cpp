#include "autoctl/common/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "autoctl/common/paths.hpp"

namespace autoctl::common {

namespace {


[[noreturn]] void fail_errno(ErrorKind kind, const std::string& what, int err) {
    throw Error(kind, what + ": " + std::strerror(err));
}

// Closes the descriptor and removes the temporary file unless released.
class TempFile {
public:
    TempFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    ~TempFile() {
        if (fd_ >= 0) ::close(fd_);
        if (!released_) ::unlink(path_.c_str());
    }

    int fd() const { return fd_; }
    const std::string& path() const { return path_; }

    // Closes the descriptor; returns 0 or an errno value.
    int close() {
        const int rc = ::close(fd_);
        fd_ = -1;
        return rc == 0 ? 0 : errno;
    }
    void release() { released_ = true; }

private:
    int fd_;
    std::string path_;
    bool released_ = false;
};

void write_all(int fd, std::string_view contents, ErrorKind kind, const std::string& what) {
    const char* data = contents.data();
    std::size_t left = contents.size();
    while (left > 0) {
        const ssize_t n = ::write(fd, data, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_errno(kind, what, errno);
        }
        data += n;
        left -= static_cast<std::size_t>(n);
    }
}

void fsync_directory(const std::filesystem::path& dir, ErrorKind kind) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fail_errno(kind, "failed to open directory " + quoted(dir), errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) fail_errno(kind, "failed to fsync directory " + quoted(dir), err);
}

}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::string_view contents, mode_t mode,
                       ErrorKind kind) {
    const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    const std::string what = "failed to write " + quoted(path);

    std::string pattern = (dir / ("." + path.filename().string() + ".tmp.XXXXXX")).string();
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    const int fd = ::mkostemp(buffer.data(), O_CLOEXEC);
    if (fd < 0) fail_errno(kind, what, errno);
    TempFile temp(fd, buffer.data());

    if (::fchmod(temp.fd(), mode) != 0) fail_errno(kind, what, errno);
    write_all(temp.fd(), contents, kind, what);
    if (::fsync(temp.fd()) != 0) fail_errno(kind, what, errno);
    if (const int err = temp.close(); err != 0) fail_errno(kind, what, err);
    if (::rename(temp.path().c_str(), path.c_str()) != 0) fail_errno(kind, what, errno);
    temp.release();
    fsync_directory(dir, kind);
}

std::string read_text_file(const std::filesystem::path& path, ErrorKind kind) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (status.type() == std::filesystem::file_type::not_found) {
        throw Error(kind, "file " + quoted(path) + " does not exist");
    }
    if (ec) throw Error(kind, "failed to read " + quoted(path) + ": " + ec.message());
    if (std::filesystem::is_directory(status)) {
        throw Error(kind, quoted(path) + " is a directory, expected a file");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) fail_errno(kind, "failed to open " + quoted(path), errno);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) fail_errno(kind, "failed to read " + quoted(path), errno);
    return buffer.str();
}

}  // namespace autoctl::common

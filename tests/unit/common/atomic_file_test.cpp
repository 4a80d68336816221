#include "autoctl/common/atomic_file.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "../../support/temp_dir.hpp"

namespace autoctl::common {
namespace {

std::vector<std::string> list_dir(const std::filesystem::path& dir) {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

mode_t mode_of(const std::filesystem::path& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0);
    return st.st_mode & 07777;
}

// Makes writes past `bytes` fail with EFBIG (even as root) while in scope.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        ::getrlimit(RLIMIT_FSIZE, &saved_);
        previous_handler_ = ::signal(SIGXFSZ, SIG_IGN);
        struct rlimit limit = saved_;
        limit.rlim_cur = bytes;
        ::setrlimit(RLIMIT_FSIZE, &limit);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &saved_);
        ::signal(SIGXFSZ, previous_handler_);
    }

private:
    struct rlimit saved_ {};
    sighandler_t previous_handler_;
};

TEST(AtomicFileTest, WritesContentsWithModeAndLeavesNoTempFile) {
    test::TempDir dir;
    const auto file = dir / "autoctl.cfg";
    write_file_atomic(file, "[a]\nx = 1\n", 0600);
    EXPECT_EQ(test::read_text(file), "[a]\nx = 1\n");
    EXPECT_EQ(mode_of(file), 0600u);
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"autoctl.cfg"});
}

TEST(AtomicFileTest, ModeIsNotFilteredByUmask) {
    test::TempDir dir;
    const mode_t old = ::umask(077);
    write_file_atomic(dir / "f", "x", 0644);
    ::umask(old);
    EXPECT_EQ(mode_of(dir / "f"), 0644u);
}

TEST(AtomicFileTest, ReplacesExistingFile) {
    test::TempDir dir;
    const auto file = dir / "state";
    test::write_text(file, "old contents that are longer than the new ones\n");
    write_file_atomic(file, "new\n");
    EXPECT_EQ(test::read_text(file), "new\n");
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"state"});
}

TEST(AtomicFileTest, FailedWriteKeepsOriginalAndRemovesTempFile) {
    test::TempDir dir;
    const auto file = dir / "autoctl.cfg";
    test::write_text(file, "original\n");
    const std::string big(64 * 1024, 'x');
    try {
        const FileSizeLimit limit(1024);
        write_file_atomic(file, big, 0644, ErrorKind::Config);
        FAIL() << "expected the write to fail";
    } catch (const Error& error) {
        EXPECT_EQ(error.kind(), ErrorKind::Config);
        EXPECT_NE(std::string(error.what()).find("failed to write \"" + file.string() + "\""),
                  std::string::npos)
            << error.what();
    }
    EXPECT_EQ(test::read_text(file), "original\n");
    EXPECT_EQ(list_dir(dir.path()), std::vector<std::string>{"autoctl.cfg"});
}

TEST(AtomicFileTest, MissingDirectoryIsAnErrorNamingThePath) {
    test::TempDir dir;
    const auto file = dir / "no" / "such" / "dir" / "f";
    try {
        write_file_atomic(file, "x");
        FAIL() << "expected an error";
    } catch (const Error& error) {
        EXPECT_EQ(error.kind(), ErrorKind::Internal);
        EXPECT_NE(std::string(error.what()).find(file.string()), std::string::npos);
        EXPECT_NE(std::string(error.what()).find("No such file or directory"), std::string::npos);
    }
}

TEST(AtomicFileTest, RelativePathUsesCurrentDirectory) {
    test::TempDir dir;
    const auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(dir.path());
    write_file_atomic("plain.txt", "hello");
    std::filesystem::current_path(cwd);
    EXPECT_EQ(test::read_text(dir / "plain.txt"), "hello");
}

TEST(AtomicFileTest, ReadTextFile) {
    test::TempDir dir;
    test::write_text(dir / "f", std::string("a\0b", 3));
    EXPECT_EQ(read_text_file(dir / "f"), std::string("a\0b", 3));
    try {
        read_text_file(dir / "missing", ErrorKind::State);
        FAIL() << "expected an error";
    } catch (const Error& error) {
        EXPECT_EQ(error.kind(), ErrorKind::State);
        EXPECT_NE(std::string(error.what()).find("does not exist"), std::string::npos);
    }
    EXPECT_THROW(read_text_file(dir.path()), Error);
}

}  // namespace
}  // namespace autoctl::common

// Self-signed certificates made with OpenSSL's C API.

#include "autoctl/common/tls.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "autoctl/common/error.hpp"
#include "../../support/temp_dir.hpp"

namespace autoctl::common {
namespace {

mode_t mode_of(const std::filesystem::path& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0;
}

TEST(TlsTest, SelfSignedCertificateAndKey) {
    test::TempDir dir;
    write_self_signed_certificate(dir / "server.crt", dir / "server.key", {"monitor.example", 3650});
    EXPECT_EQ(mode_of(dir / "server.key"), 0600u);
    EXPECT_EQ(mode_of(dir / "server.crt"), 0644u);
    EXPECT_EQ(test::read_text(dir / "server.key").rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u);
    EXPECT_EQ(test::read_text(dir / "server.crt").rfind("-----BEGIN CERTIFICATE-----\n", 0), 0u);
    EXPECT_EQ(certificate_common_name(dir / "server.crt"), "monitor.example");

    write_self_signed_certificate(dir / "ip.crt", dir / "ip.key", {"10.0.0.7", 1});
    EXPECT_EQ(certificate_common_name(dir / "ip.crt"), "10.0.0.7");
}

TEST(TlsTest, NotACertificateIsAConfigError) {
    test::TempDir dir;
    test::write_text(dir / "bad.crt", "hello\n");
    EXPECT_THROW(certificate_common_name(dir / "bad.crt"), Error);
    EXPECT_THROW(write_self_signed_certificate(dir / "a.crt", dir / "a.key", {"", 1}), Error);
}

}  // namespace
}  // namespace autoctl::common

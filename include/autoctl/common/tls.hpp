#pragma once
// TLS material for Postgres servers, made with OpenSSL's C API (no `openssl` program, no shell).

#include <chrono>
#include <filesystem>
#include <string>

namespace autoctl::common {

struct SelfSignedOptions {
    std::string common_name;        // the subject and issuer CN (the node's --hostname)
    int days = 3650;                // validity, from now
};

// Creates an EC P-256 private key and a self-signed X.509 v3 certificate (SHA-256, random 128-bit
// serial, CN = common_name, subjectAltName = the name as DNS or IP). The key is written with mode
// 0600 (Postgres refuses a key readable by others), the certificate with 0644, each atomically.
// Throws Error{Internal} with OpenSSL's reason on failure.
void write_self_signed_certificate(const std::filesystem::path& cert_file, const std::filesystem::path& key_file,
                                   const SelfSignedOptions& options);

// The subject CN of a PEM certificate file ("" when it has none). Throws Error{Config} when the
// file is not a PEM certificate.
std::string certificate_common_name(const std::filesystem::path& cert_file);

}  // namespace autoctl::common

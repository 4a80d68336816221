#include "autoctl/common/tls.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "autoctl/common/atomic_file.hpp"
#include "autoctl/common/error.hpp"

namespace autoctl::common {

namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
    void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

// OpenSSL's queued errors as one line, the queue emptied.
std::string openssl_errors() {
    std::string text;
    unsigned long code = 0;
    while ((code = ERR_get_error()) != 0) {
        char buffer[256];
        ERR_error_string_n(code, buffer, sizeof buffer);
        if (!text.empty()) text += "; ";
        text += buffer;
    }
    return text.empty() ? "unknown OpenSSL error" : text;
}

[[noreturn]] void fail(const std::string& what) {
    throw Error(ErrorKind::Internal, "failed to create a self-signed certificate: " + what + ": " + openssl_errors());
}

void check(int ok, const char* what) {
    if (ok != 1) fail(what);
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return size > 0 ? std::string(data, static_cast<std::size_t>(size)) : std::string();
}

bool is_ip_address(const std::string& name) {
    unsigned char buffer[16];
    return ::inet_pton(AF_INET, name.c_str(), buffer) == 1 || ::inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

}  // namespace

void write_self_signed_certificate(const std::filesystem::path& cert_file, const std::filesystem::path& key_file,
                                   const SelfSignedOptions& options) {
    if (options.common_name.empty()) {
        throw Error(ErrorKind::Internal, "failed to create a self-signed certificate: no common name");
    }
    ERR_clear_error();
    PkeyPtr key(EVP_EC_gen("P-256"));
    if (!key) fail("EC P-256 key generation");

    X509Ptr cert(X509_new());
    if (!cert) fail("X509_new");
    check(X509_set_version(cert.get(), 2), "X509_set_version");  // v3

    BnPtr serial(BN_new());
    if (!serial) fail("BN_new");
    check(BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY), "BN_rand");  // positive, < 2^127
    if (BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) fail("serial number");

    if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) == nullptr) fail("notBefore");
    if (X509_time_adj_ex(X509_getm_notAfter(cert.get()), options.days, 0, nullptr) == nullptr) fail("notAfter");
    check(X509_set_pubkey(cert.get(), key.get()), "X509_set_pubkey");

    // A CN holds at most 64 characters; the subjectAltName always holds the whole name.
    const std::string cn = options.common_name.size() <= 64 ? options.common_name : "autoctl";
    X509_NAME* name = X509_get_subject_name(cert.get());
    check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()),
                                     -1, -1, 0),
          "subject CN");
    check(X509_set_issuer_name(cert.get(), name), "issuer");

    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
    const std::string san = (is_ip_address(options.common_name) ? "IP:" : "DNS:") + options.common_name;
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str()));
    if (!ext) fail("subjectAltName " + san);
    check(X509_add_ext(cert.get(), ext.get(), -1), "X509_add_ext");

    if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) fail("X509_sign");

    BioPtr key_bio(BIO_new(BIO_s_mem()));
    BioPtr cert_bio(BIO_new(BIO_s_mem()));
    if (!key_bio || !cert_bio) fail("BIO_new");
    check(PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr), "PEM key");
    check(PEM_write_bio_X509(cert_bio.get(), cert.get()), "PEM certificate");

    // The key first: a certificate without its key is never left behind.
    write_file_atomic(key_file, bio_text(key_bio.get()), 0600);
    write_file_atomic(cert_file, bio_text(cert_bio.get()), 0644);
}

std::string certificate_common_name(const std::filesystem::path& cert_file) {
    ERR_clear_error();
    BioPtr bio(BIO_new_file(cert_file.c_str(), "r"));
    if (!bio) throw Error(ErrorKind::Config, "cannot read certificate \"" + cert_file.string() + "\": " + openssl_errors());
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
        throw Error(ErrorKind::Config, "\"" + cert_file.string() + "\" is not a PEM certificate: " + openssl_errors());
    }
    char buffer[256] = {0};
    const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert.get()), NID_commonName, buffer, sizeof buffer);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
}

}  // namespace autoctl::common

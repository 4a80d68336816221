#include "autoctl/cli/options.hpp"

#include "autoctl/common/error.hpp"

namespace autoctl::cli {

namespace {

const std::vector<std::string> kSslModes = {"disable", "allow",     "prefer",
                                            "require", "verify-ca", "verify-full"};

// A group id: a non-negative integer (CLI11's NonNegativeNumber prints a huge float range).
const CLI::Validator kGroupId(
    [](std::string& value) -> std::string {
        if (!value.empty() && value.find_first_not_of("0123456789") == std::string::npos &&
            value.size() <= 9) {
            return {};
        }
        return "expected a group number (0, 1, 2, ...), got \"" + value + "\"";
    },
    "N");

int ssl_mode_rank(const std::string& mode) {
    for (std::size_t i = 0; i < kSslModes.size(); ++i) {
        if (kSslModes[i] == mode) return static_cast<int>(i);
    }
    return -1;
}

}  // namespace

CLI::Option* PgdataOption::add_to(CLI::App& app) {
    return app.add_option("--pgdata", pgdata, "path to the Postgres data directory")
        ->envname("PGDATA")
        ->type_name("DIR");
}

common::NodePaths PgdataOption::paths() const { return common::node_paths_from_process(pgdata); }

CLI::Option* MonitorOptions::add_to(CLI::App& app) {
    const CLI::Validator is_uri(
        [](std::string& value) -> std::string {
            if (value.rfind("postgres://", 0) == 0 || value.rfind("postgresql://", 0) == 0) return {};
            return "expected a postgres:// or postgresql:// URI";
        },
        "URI");
    return app.add_option("--monitor", monitor, "the monitor's Postgres URI")
        ->envname("PG_AUTOCTL_MONITOR")
        ->type_name("URI")
        ->check(is_uri);
}

void FormationGroupOptions::add_to(CLI::App& app) {
    add_formation_to(app);
    add_group_to(app);
}

CLI::Option* FormationGroupOptions::add_formation_to(CLI::App& app) {
    return app.add_option("--formation", formation, "formation name (default: \"default\")")->type_name("NAME");
}

CLI::Option* FormationGroupOptions::add_group_to(CLI::App& app) {
    return app.add_option("--group", group, "group id (default: all groups, or the monitor's choice)")
        ->type_name("N")
        ->check(kGroupId);
}

void SslOptions::add_to(CLI::App& app) {
    auto* no = app.add_flag("--no-ssl", no_ssl, "do not use SSL (not recommended)");
    auto* self =
        app.add_flag("--ssl-self-signed", self_signed, "create a self-signed certificate for the server")
            ->envname("PG_AUTOCTL_SSL_SELF_SIGNED");
    auto* ca = app.add_option("--ssl-ca-file", ca_file, "certificate authority file")->type_name("FILE");
    auto* crl =
        app.add_option("--ssl-crl-file", crl_file, "certificate revocation list file")->type_name("FILE");
    auto* cert = app.add_option("--server-cert", server_cert, "server certificate file")->type_name("FILE");
    auto* key = app.add_option("--server-key", server_key, "server private key file")->type_name("FILE");
    app.add_option("--ssl-mode", ssl_mode, "libpq sslmode for connections")
        ->type_name("MODE")
        ->check(CLI::IsMember(kSslModes));
    no->excludes(self);
    for (auto* file : {ca, crl, cert, key}) {
        no->excludes(file);
        self->excludes(file);
    }
}

bool SslOptions::uses_certificate_files() const {
    return !ca_file.empty() || !crl_file.empty() || !server_cert.empty() || !server_key.empty();
}

void SslOptions::validate() const {
    const int families = (no_ssl ? 1 : 0) + (self_signed ? 1 : 0) + (uses_certificate_files() ? 1 : 0);
    if (families == 0) {
        throw common::Error(
            common::ErrorKind::Usage,
            "explicit SSL choice is required: please use either --ssl-self-signed or provide your "
            "certificates using --ssl-ca-file, --ssl-crl-file, --server-key, and --server-cert (or "
            "use --no-ssl if you are very sure that you do not want encrypted traffic)");
    }
    if (families > 1) {
        throw common::Error(common::ErrorKind::Usage,
                            "--no-ssl, --ssl-self-signed and the certificate file options exclude "
                            "each other");
    }
    if (uses_certificate_files() && (server_cert.empty() || server_key.empty())) {
        throw common::Error(common::ErrorKind::Usage,
                            "--server-cert and --server-key are both required with certificate files");
    }
    const std::string mode = effective_ssl_mode();
    if (self_signed && ssl_mode_rank(mode) > ssl_mode_rank("require")) {
        throw common::Error(common::ErrorKind::Usage, "--ssl-mode \"" + mode +
                                                          "\" needs a certificate authority: with "
                                                          "--ssl-self-signed use at most \"require\"");
    }
    if (ssl_mode_rank(mode) >= ssl_mode_rank("verify-ca") && ca_file.empty()) {
        throw common::Error(common::ErrorKind::Usage, "--ssl-mode \"" + mode + "\" needs --ssl-ca-file");
    }
}

std::string SslOptions::effective_ssl_mode() const {
    if (!ssl_mode.empty()) return ssl_mode;
    if (self_signed) return "require";
    if (uses_certificate_files()) return "verify-full";
    return "prefer";
}

void AuthOptions::add_to(CLI::App& app) {
    auto* method = app.add_option("--auth", auth,
                                  "authentication method for the HBA rules autoctl "
                                  "writes (\"skip\" means --skip-pg-hba)")
                       ->envname("PG_AUTOCTL_AUTH_METHOD")
                       ->type_name("METHOD");
    auto* skip = app.add_flag("--skip-pg-hba", skip_pg_hba, "never edit pg_hba.conf");
    auto* lan = app.add_flag("--pg-hba-lan", pg_hba_lan, "also open the database to the local network")
                    ->envname("PG_AUTOCTL_PG_HBA_LAN");
    skip->excludes(method);
    skip->excludes(lan);
}

void AuthOptions::validate() const {
    if (auth.empty() && !skip_pg_hba) {
        throw common::Error(common::ErrorKind::Usage,
                            "please use either --auth trust|md5|scram-sha-256|... or --skip-pg-hba");
    }
    if (auth == "skip" && pg_hba_lan) {
        throw common::Error(common::ErrorKind::Usage, "--auth skip and --pg-hba-lan exclude each other");
    }
}

CLI::Option* NodeNameOption::add_to(CLI::App& app) {
    return app.add_option("--name", name, "the node's name (default: this node's name, with --pgdata)")
        ->type_name("NAME");
}

CLI::Option* WaitOption::add_to(CLI::App& app) {
    return app.add_option("--wait", seconds, "seconds to wait for the monitor's notifications (default: 60, 0: do not wait)")
        ->type_name("N")
        ->check(CLI::Range(0, 86400));
}

CLI::Option* OutputOptions::add_to(CLI::App& app) {
    return app.add_flag("-J,--json", json, "print the output in JSON");
}

}  // namespace autoctl::cli

#pragma once
// Option groups shared by several commands, each declared once with an add_to(CLI::App&).
// Environment fallbacks use CLI11's envname(), never a hand-written getenv().

#include <CLI/CLI.hpp>
#include <string>

#include "autoctl/common/paths.hpp"

namespace autoctl::cli {

// --pgdata DIR, default $PGDATA.
struct PgdataOption {
    std::string pgdata;

    CLI::Option* add_to(CLI::App& app);

    // The node's files for this PGDATA. Throws Error{Usage} when PGDATA is neither given nor set.
    common::NodePaths paths() const;
};

// --monitor URI, default $PG_AUTOCTL_MONITOR; must be a postgres:// or postgresql:// URI.
struct MonitorOptions {
    std::string monitor;

    CLI::Option* add_to(CLI::App& app);
};

// --formation NAME (default "default") and --group N (default -1: not given). Commands that take
// only one of them add it alone.
struct FormationGroupOptions {
    std::string formation = "default";
    int group = -1;

    void add_to(CLI::App& app);
    CLI::Option* add_formation_to(CLI::App& app);
    CLI::Option* add_group_to(CLI::App& app);
};

// --no-ssl | --ssl-self-signed | --ssl-ca-file, --ssl-crl-file, --server-cert, --server-key;
// and --ssl-mode. The families exclude each other.
struct SslOptions {
    bool no_ssl = false;
    bool self_signed = false;  // default $PG_AUTOCTL_SSL_SELF_SIGNED
    std::string ca_file;
    std::string crl_file;
    std::string server_cert;
    std::string server_key;
    std::string ssl_mode;  // empty: chosen by default_ssl_mode()

    void add_to(CLI::App& app);

    bool uses_certificate_files() const;
    // Throws Error{Usage} unless exactly one SSL family was chosen, and the mode fits it.
    void validate() const;
    // The --ssl-mode given, else prefer (--no-ssl), require (self-signed), verify-full (files).
    std::string effective_ssl_mode() const;
};

// --auth METHOD (default $PG_AUTOCTL_AUTH_METHOD), --skip-pg-hba, --pg-hba-lan
// (default $PG_AUTOCTL_PG_HBA_LAN). "--auth skip" means --skip-pg-hba.
struct AuthOptions {
    std::string auth;
    bool skip_pg_hba = false;
    bool pg_hba_lan = false;

    void add_to(CLI::App& app);

    bool skips_hba() const { return skip_pg_hba || auth == "skip"; }
    // Throws Error{Usage} when neither --auth nor --skip-pg-hba was given.
    void validate() const;
};

// --name NAME: a node's name on the monitor (default: the keeper configuration's pg_autoctl.name).
struct NodeNameOption {
    std::string name;

    CLI::Option* add_to(CLI::App& app);
};

// --wait N: seconds to wait for the monitor's notifications (default 60, pg_autoctl's
// listen_notifications_timeout; 0 means do not wait).
struct WaitOption {
    int seconds = 60;

    CLI::Option* add_to(CLI::App& app);
};

// -J, --json.
struct OutputOptions {
    bool json = false;

    CLI::Option* add_to(CLI::App& app);
};

}  // namespace autoctl::cli

#pragma once
// Citus for the tests: the real extension when it is installed (citus.so in pg_config
// --pkglibdir), otherwise the SQL emulation of its metadata API in
// tests/fixtures/citus_emulation.sql. autoctl never installs either; the tests do.
//
//   fixture::PgCluster coordinator(fixture::citus_cluster_options());
//   auto conn = coordinator.connect();
//   fixture::install_citus(conn);   // CREATE EXTENSION citus, or the emulation

#include <string>

#include "autoctl/pg/connection.hpp"
#include "support/pg_cluster.hpp"

namespace autoctl::fixture {

// Whether the real Citus is installed for the Postgres the tests use.
bool real_citus_installed();
// "real Citus" or "the Citus emulation (tests/fixtures/citus_emulation.sql)", for test output.
std::string citus_flavour();

// The text of tests/fixtures/citus_emulation.sql.
std::string citus_emulation_sql();

// A cluster that can hold Citus metadata: prepared transactions enabled, and citus preloaded
// when it is installed.
PgClusterOptions citus_cluster_options();

// CREATE EXTENSION citus (real Citus), or the emulation, in the connection's database.
void install_citus(pg::Connection& conn);

}  // namespace autoctl::fixture

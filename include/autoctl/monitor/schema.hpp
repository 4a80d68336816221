#pragma once
// The monitor schema and its versioned migrations (sql/monitor/NNNN_*.sql, embedded in the binary).

#include <string>
#include <vector>

namespace pqxx {
class connection_base;
}

namespace autoctl::monitor {

struct MigrationFile {
    int version;
    const char* name;
    const char* sql;
};

// Every migration file, ordered by version then name.
const std::vector<MigrationFile>& migration_files();

// The schema version this binary was built with.
int latest_schema_version();

// The version installed in the connected database; 0 when the schema is absent.
int installed_schema_version(pqxx::connection_base& conn);

// Installs the schema, or upgrades an older one, in one transaction. Refuses (common::Error,
// kind Monitor) a schema newer than this binary. Returns the version now installed.
// Must run as the database owner (role autoctl); role autoctl_node must exist. With
// up_to_version > 0, stops at that version (tests of an upgrade from an older schema).
int install_or_upgrade_schema(pqxx::connection_base& conn, int up_to_version = 0);

}  // namespace autoctl::monitor

#pragma once
// The postmaster as a service of autoctl's supervisor (common/supervisor.hpp), shared by the
// monitor node and the data nodes: started as `postgres -D PGDATA`, its output with the
// supervisor's, and stopped with Postgres's fast shutdown even for a clean stop (keepers and
// clients keep connections open, which a smart shutdown would wait for; a fast shutdown still
// ends with a shutdown checkpoint). Restarted at once, then with a backoff up to one second.

#include <filesystem>

#include "autoctl/common/supervisor.hpp"

namespace autoctl::pg {

common::ServiceSpec postmaster_service(const std::filesystem::path& postgres_program,
                                       const std::filesystem::path& pgdata);

}  // namespace autoctl::pg

#include "autoctl/pg/postmaster_service.hpp"

#include <csignal>

#include "autoctl/pg/command.hpp"

namespace autoctl::pg {

common::ServiceSpec postmaster_service(const std::filesystem::path& postgres_program,
                                       const std::filesystem::path& pgdata) {
    common::ServiceSpec spec;
    spec.name = "postgres";
    spec.start = [postgres_program, pgdata] {
        return Command(postgres_program.string()).arg("-D", pgdata).output(Output::Inherit).start_background();
    };
    spec.smart_signal = SIGINT;
    spec.fast_signal = SIGINT;
    spec.immediate_signal = SIGQUIT;
    spec.reload_signal = SIGHUP;
    spec.stop_timeout = std::chrono::seconds(60);
    spec.first_restart_delay = std::chrono::milliseconds(0);
    spec.backoff_base = std::chrono::milliseconds(250);
    spec.max_restart_delay = std::chrono::milliseconds(1000);
    return spec;
}

}  // namespace autoctl::pg

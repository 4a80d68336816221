// The two ways the keeper gets Postgres started and stopped (see keeper.hpp).

#include <thread>

#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"
#include "autoctl/keeper/keeper.hpp"
#include "autoctl/keeper/supervised_postgres.hpp"
#include "autoctl/pg/pg_ctl.hpp"

namespace autoctl::keeper {

namespace {

namespace fs = std::filesystem;
using common::Error;
using common::ErrorKind;

bool postmaster_running(const pg::PgBindir& bindir, const fs::path& pgdata) {
    return pg::PgCtl(bindir).status(pgdata).is_running;
}

class SupervisedService : public PostgresService {
public:
    SupervisedService(fs::path status_file, const LocalPostgres& pg) : status_file_(std::move(status_file)), pg_(pg) {}

    bool start(std::chrono::milliseconds wait) override {
        write_expected_status(status_file_, ExpectedStatus::Running);
        wake_supervisor();
        return pg_.wait_ready(wait);
    }

    void stop() override {
        write_expected_status(status_file_, ExpectedStatus::Stopped);
        wake_supervisor();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (postmaster_running(pg_.bindir(), pg_.pgdata())) {
            if (std::chrono::steady_clock::now() >= deadline) {
                throw Error(ErrorKind::Postgres, "Postgres did not stop within 60 s");
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }

    void release() override {
        remove_expected_status(status_file_);
        wake_supervisor();
    }

private:
    fs::path status_file_;
    const LocalPostgres& pg_;
};

class PgCtlService : public PostgresService {
public:
    explicit PgCtlService(const LocalPostgres& pg) : pg_(pg), ctl_(pg.bindir()) {}

    bool start(std::chrono::milliseconds) override {
        pg::StartOptions options;
        options.logfile = pg_.pgdata() / "startup.log";
        ctl_.start(pg_.pgdata(), options);
        return pg_.wait_ready(std::chrono::seconds(10));
    }

    void stop() override { ctl_.stop(pg_.pgdata(), pg::StopMode::Fast); }

    void release() override {}

private:
    const LocalPostgres& pg_;
    pg::PgCtl ctl_;
};

}  // namespace

std::unique_ptr<PostgresService> supervised_service(const common::NodePaths& paths, const LocalPostgres& pg) {
    return std::make_unique<SupervisedService>(expected_status_file(paths.pid), pg);
}

std::unique_ptr<PostgresService> pg_ctl_service(const LocalPostgres& pg) { return std::make_unique<PgCtlService>(pg); }

}  // namespace autoctl::keeper

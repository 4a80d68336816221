// failover_writer: a client that opens a fresh connection for every insert, the way a naive
// application behaves during a failover. Used by bench/failover/run.sh and scripts/demo.sh.
//
//   failover_writer --uri URI --log FILE [--table NAME] [--interval-ms N] [--connect-timeout S]
//
// URI is the formation's multi-host URI (from `show uri --formation default`), normally with
// target_session_attrs=read-write, so libpq skips the hosts that are down or read-only. For every
// id (1, 2, 3, ...) the writer connects, runs INSERT INTO <table>(id) VALUES (id), and once the
// server acknowledged the commit appends one line to FILE:
//
//   <id> <CLOCK_MONOTONIC microseconds> <CLOCK_REALTIME microseconds> <server port>
//
// (written with write(2), so a reader of the file sees every acknowledged id at once). A failed
// connection retries the same id; a failed INSERT gives its id up (the commit may or may not have
// happened, so the id is never reused) and moves to the next one. The table must exist. SIGTERM or
// SIGINT stops the writer after the current attempt; it prints a one-line summary on stderr and
// exits 0.

#include <libpq-fe.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <string>
#include <unistd.h>

namespace {

volatile std::sig_atomic_t g_stop = 0;

void on_signal(int) { g_stop = 1; }

std::int64_t clock_us(clockid_t clock) {
    timespec ts{};
    clock_gettime(clock, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

void sleep_ms(long ms) {
    if (ms <= 0) return;
    timespec ts{ms / 1000, (ms % 1000) * 1000000L};
    // Interrupted by a signal: fine, the loop checks g_stop.
    nanosleep(&ts, nullptr);
}

bool valid_identifier(const std::string& s) {
    if (s.empty() || s.size() > 63) return false;
    for (char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return !(s[0] >= '0' && s[0] <= '9');
}

[[noreturn]] void usage(const char* msg) {
    std::fprintf(stderr,
                 "failover_writer: %s\n"
                 "usage: failover_writer --uri URI --log FILE [--table NAME] [--interval-ms N] "
                 "[--connect-timeout S]\n",
                 msg);
    std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
    std::string uri, log_path, table = "bench_writes";
    long interval_ms = 10;
    std::string connect_timeout = "2";

    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(("missing value for " + a).c_str());
            return argv[++i];
        };
        if (a == "--uri") uri = value();
        else if (a == "--log") log_path = value();
        else if (a == "--table") table = value();
        else if (a == "--interval-ms") interval_ms = std::strtol(value().c_str(), nullptr, 10);
        else if (a == "--connect-timeout") connect_timeout = value();
        else if (a == "-h" || a == "--help") usage("help");
        else usage(("unknown argument " + a).c_str());
    }
    if (uri.empty() || log_path.empty()) usage("--uri and --log are required");
    if (!valid_identifier(table)) usage("--table must be a lower-case SQL identifier");

    int log_fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) {
        std::fprintf(stderr, "failover_writer: cannot open %s: %s\n", log_path.c_str(),
                     std::strerror(errno));
        return 1;
    }

    struct sigaction sa{};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART: a signal interrupts sleeps and waits
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    std::signal(SIGPIPE, SIG_IGN);

    const std::string sql = "INSERT INTO " + table + "(id) VALUES ($1::bigint)";
    const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
    const char* values[] = {uri.c_str(), connect_timeout.c_str(), "failover_writer", nullptr};

    std::int64_t id = 1;
    long acked = 0, connect_failures = 0, insert_failures = 0;
    std::string last_error;

    while (!g_stop) {
        PGconn* conn = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
        if (PQstatus(conn) != CONNECTION_OK) {
            ++connect_failures;
            last_error = PQerrorMessage(conn);
            PQfinish(conn);
            sleep_ms(interval_ms);
            continue;
        }
        const std::string id_text = std::to_string(id);
        const char* params[] = {id_text.c_str()};
        PGresult* res = PQexecParams(conn, sql.c_str(), 1, nullptr, params, nullptr, nullptr, 0);
        const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
        if (ok) {
            const std::int64_t mono = clock_us(CLOCK_MONOTONIC);
            const std::int64_t real = clock_us(CLOCK_REALTIME);
            const char* port = PQport(conn);
            char line[128];
            int n = std::snprintf(line, sizeof line, "%lld %lld %lld %s\n",
                                  static_cast<long long>(id), static_cast<long long>(mono),
                                  static_cast<long long>(real), port ? port : "?");
            if (write(log_fd, line, static_cast<size_t>(n)) != n) {
                std::fprintf(stderr, "failover_writer: write to %s failed: %s\n",
                             log_path.c_str(), std::strerror(errno));
                PQclear(res);
                PQfinish(conn);
                return 1;
            }
            ++acked;
        } else {
            ++insert_failures;
            last_error = PQerrorMessage(conn);
        }
        PQclear(res);
        PQfinish(conn);
        ++id;  // an id whose INSERT failed is never reused: its commit state is unknown
        sleep_ms(interval_ms);
    }

    close(log_fd);
    while (!last_error.empty() && (last_error.back() == '\n' || last_error.back() == ' ')) {
        last_error.pop_back();
    }
    for (char& c : last_error) {
        if (c == '\n' || c == '\t') c = ' ';  // the summary stays on one line
    }
    std::fprintf(stderr,
                 "failover_writer: %ld acknowledged, %ld failed connections, %ld failed inserts%s%s\n",
                 acked, connect_failures, insert_failures, last_error.empty() ? "" : "; last error: ",
                 last_error.c_str());
    return 0;
}

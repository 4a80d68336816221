#include "autoctl/pg/connection.hpp"

#include <pqxx/pqxx>

#include <charconv>
#include <deque>
#include <map>

#include "autoctl/common/log.hpp"

namespace autoctl::pg {

using common::Error;
using common::ErrorKind;
using Clock = std::chrono::steady_clock;

namespace {

// libpq's multi-line messages ("ERROR:  ...\nDETAIL:  ...") as one line, passwords masked.
std::string one_line(std::string_view text) {
    std::string out;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        auto line = text.substr(start, end - start);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
            line.remove_suffix(1);
        }
        if (!line.empty()) {
            if (!out.empty()) out += "; ";
            out += line;
        }
        start = end + 1;
    }
    return common::redact_conninfo(out);
}

std::string server_message(std::string_view text) {
    constexpr std::string_view kPrefixes[] = {"ERROR:  ", "FATAL:  ", "PANIC:  "};
    for (const auto prefix : kPrefixes) {
        if (text.substr(0, prefix.size()) == prefix) {
            text.remove_prefix(prefix.size());
            break;
        }
    }
    return one_line(text);
}

Rows to_rows(const pqxx::result& result) {
    std::vector<std::string> columns;
    const auto column_count = static_cast<std::size_t>(result.columns());
    columns.reserve(column_count);
    for (pqxx::row::size_type c = 0; c < result.columns(); ++c) columns.emplace_back(result.column_name(c));
    Rows rows(std::move(columns), static_cast<std::size_t>(result.affected_rows()));
    for (const auto& row : result) {
        std::vector<std::optional<std::string>> values;
        values.reserve(column_count);
        for (const auto& field : row) {
            if (field.is_null()) {
                values.emplace_back(std::nullopt);
            } else {
                values.emplace_back(std::string(field.c_str(), field.size()));
            }
        }
        rows.add_row(std::move(values));
    }
    return rows;
}

// Runs one statement in `tx`; pqxx exceptions propagate to the caller's translate().
Rows run_statement(pqxx::transaction_base& tx, std::string_view sql, const std::vector<Param>* params) {
    const std::string query(sql);
    if (params == nullptr) return to_rows(tx.exec(query));
    std::vector<const char*> values;
    values.reserve(params->size());
    for (const auto& param : *params) values.push_back(param.value() ? param.value()->c_str() : nullptr);
    return to_rows(tx.exec_params(query, pqxx::prepare::make_dynamic_params(values)));
}

class Receiver final : public pqxx::notification_receiver {
public:
    Receiver(pqxx::connection_base& conn, const std::string& channel, std::deque<Notification>& queue)
        : pqxx::notification_receiver(conn, channel), queue_(queue) {}
    void operator()(const std::string& payload, int backend_pid) override {
        queue_.push_back(Notification{channel(), payload, backend_pid});
    }

private:
    std::deque<Notification>& queue_;
};

// Server notices (NOTICE, WARNING) go to the debug log instead of pqxx's default, stderr.
class NoticeLogger final : public pqxx::errorhandler {
public:
    NoticeLogger(pqxx::connection_base& conn, std::string endpoint)
        : pqxx::errorhandler(conn), endpoint_(std::move(endpoint)) {}
    bool operator()(const char message[]) noexcept override {
        try {
            common::logger("pg")->debug("postgres at {}: {}", endpoint_, one_line(message));
        } catch (...) {
        }
        return false;
    }

private:
    std::string endpoint_;
};

}  // namespace

struct Connection::Impl {
    ConnInfo info;
    ErrorKind kind = ErrorKind::Postgres;
    std::string endpoint;
    std::unique_ptr<pqxx::connection> conn;
    std::unique_ptr<NoticeLogger> notices;
    std::deque<Notification> queue;
    std::map<std::string, std::unique_ptr<Receiver>> receivers;
    int open_transactions = 0;  // pqxx transactions alive on `conn`: it must outlive them
    bool broken = false;        // lost; closed as soon as no transaction refers to it

    ~Impl() { close(); }

    void close() noexcept {
        receivers.clear();  // UNLISTEN while the connection still exists
        notices.reset();
        queue.clear();
        if (conn) {
            conn->disconnect();
            conn.reset();
        }
        broken = false;
    }

    pqxx::connection& open_connection() {
        if (!conn || broken || !conn->is_open()) throw Error(kind, "the connection to " + endpoint + " is closed");
        return *conn;
    }

    void mark_broken() noexcept {
        broken = true;
        if (open_transactions == 0) close();
    }

    // Maps the pqxx exception being handled to common::Error; anything else propagates unchanged.
    [[noreturn]] void translate() {
        try {
            throw;
        } catch (const pqxx::sql_error& e) {
            std::string message = "postgres at " + endpoint + ": " + server_message(e.what());
            if (!e.sqlstate().empty()) message += " (SQLSTATE " + e.sqlstate() + ")";
            throw SqlError(kind, message, e.sqlstate());
        } catch (const pqxx::broken_connection& e) {
            mark_broken();
            throw Error(kind, "lost the connection to " + endpoint + ": " + one_line(e.what()));
        } catch (const pqxx::in_doubt_error& e) {
            mark_broken();
            throw Error(kind, "lost the connection to " + endpoint +
                                  " during COMMIT, the transaction may or may not have committed: " + one_line(e.what()));
        } catch (const pqxx::usage_error& e) {
            throw Error(ErrorKind::Internal, "misuse of the connection to " + endpoint + ": " + one_line(e.what()));
        } catch (const pqxx::failure& e) {
            throw Error(kind, "postgres at " + endpoint + ": " + one_line(e.what()));
        }
    }
};

struct Transaction::Impl {
    pqxx::transaction_base& tx;
    Connection::Impl& conn;
};

Rows Transaction::exec(std::string_view sql) {
    try {
        return run_statement(impl_.tx, sql, nullptr);
    } catch (const pqxx::failure&) {
        impl_.conn.translate();
    }
}

Rows Transaction::exec_params(std::string_view sql, const std::vector<Param>& params) {
    try {
        return run_statement(impl_.tx, sql, &params);
    } catch (const pqxx::failure&) {
        impl_.conn.translate();
    }
}

Connection::Connection(const ConnInfo& info, ConnectOptions options) : impl_(std::make_unique<Impl>()) {
    impl_->info = info;
    impl_->kind = options.error_kind;
    impl_->endpoint = info.endpoint();
    if (!impl_->info.has("connect_timeout")) {
        impl_->info.set_connect_timeout(static_cast<int>(std::max<long long>(1, options.connect_timeout.count())));
    }
    if (!impl_->info.has("client_encoding")) impl_->info.set("client_encoding", "UTF8");
    try {
        impl_->conn = std::make_unique<pqxx::connection>(impl_->info.to_libpq());
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        impl_->conn->inhibit_reactivation(true);  // a lost connection must surface, not heal silently
#pragma GCC diagnostic pop
        impl_->notices = std::make_unique<NoticeLogger>(*impl_->conn, impl_->endpoint);
    } catch (const pqxx::failure& e) {
        throw Error(impl_->kind, "could not connect to " + impl_->endpoint + ": " + one_line(e.what()));
    }
}

Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
Connection::~Connection() = default;

Rows Connection::exec(std::string_view sql) {
    auto& conn = impl_->open_connection();
    try {
        pqxx::nontransaction tx(conn);
        return run_statement(tx, sql, nullptr);
    } catch (const pqxx::failure&) {
        impl_->translate();
    }
}

Rows Connection::exec_params(std::string_view sql, const std::vector<Param>& params) {
    auto& conn = impl_->open_connection();
    try {
        pqxx::nontransaction tx(conn);
        return run_statement(tx, sql, &params);
    } catch (const pqxx::failure&) {
        impl_->translate();
    }
}

namespace {

// Counts a pqxx transaction alive on the connection, so a lost connection is not destroyed under it.
class OpenTransaction {
public:
    explicit OpenTransaction(int& count) : count_(count) { ++count_; }
    ~OpenTransaction() { --count_; }
    OpenTransaction(const OpenTransaction&) = delete;
    OpenTransaction& operator=(const OpenTransaction&) = delete;

private:
    int& count_;
};

}  // namespace

void Connection::run_transaction(const std::function<void(Transaction&)>& body, Isolation isolation) {
    auto& conn = impl_->open_connection();
    try {
        const OpenTransaction open(impl_->open_transactions);
        switch (isolation) {
            case Isolation::ReadCommitted: {
                pqxx::transaction<pqxx::read_committed> tx(conn);
                Transaction::Impl handle{tx, *impl_};
                Transaction transaction(handle);
                body(transaction);
                tx.commit();
                break;
            }
            case Isolation::RepeatableRead: {
                pqxx::transaction<pqxx::repeatable_read> tx(conn);
                Transaction::Impl handle{tx, *impl_};
                Transaction transaction(handle);
                body(transaction);
                tx.commit();
                break;
            }
            case Isolation::Serializable: {
                pqxx::transaction<pqxx::serializable> tx(conn);
                Transaction::Impl handle{tx, *impl_};
                Transaction transaction(handle);
                body(transaction);
                tx.commit();
                break;
            }
        }
    } catch (const pqxx::failure&) {
        impl_->translate();  // the transaction is gone by now: a lost connection is closed
    } catch (...) {
        if (impl_->broken) impl_->close();  // lost inside the body (Transaction::exec)
        throw;
    }
}

void Connection::listen(const std::string& channel) {
    if (channel.empty() || channel.find('"') != std::string::npos) {
        // pqxx 6.4 writes LISTEN "<channel>" without doubling embedded quotes.
        throw Error(ErrorKind::Internal, "invalid notification channel name \"" + channel + "\"");
    }
    auto& conn = impl_->open_connection();
    if (impl_->receivers.count(channel) > 0) return;
    try {
        impl_->receivers.emplace(channel, std::make_unique<Receiver>(conn, channel, impl_->queue));
    } catch (const pqxx::failure&) {
        impl_->translate();
    }
}

void Connection::unlisten(const std::string& channel) { impl_->receivers.erase(channel); }

std::optional<Notification> Connection::wait_notification(std::chrono::milliseconds timeout) {
    auto pop = [this]() -> std::optional<Notification> {
        if (impl_->queue.empty()) return std::nullopt;
        Notification n = std::move(impl_->queue.front());
        impl_->queue.pop_front();
        return n;
    };
    if (auto n = pop()) return n;
    auto& conn = impl_->open_connection();
    const auto deadline = Clock::now() + timeout;
    try {
        conn.get_notifs();
        while (impl_->queue.empty()) {
            // Rounded up: truncating would give up to a microsecond before the deadline.
            const auto left = std::chrono::ceil<std::chrono::microseconds>(deadline - Clock::now());
            if (left.count() <= 0) break;
            conn.await_notification(static_cast<long>(left.count() / 1000000), static_cast<long>(left.count() % 1000000));
        }
    } catch (const pqxx::failure&) {
        impl_->translate();
    }
    return pop();
}

bool Connection::is_open() const { return impl_ && impl_->conn && !impl_->broken && impl_->conn->is_open(); }

void Connection::close() {
    if (impl_) impl_->close();
}

std::string Connection::endpoint() const { return impl_ ? impl_->endpoint : std::string(); }

int Connection::backend_pid() const { return impl_->open_connection().backendpid(); }

int Connection::server_version() const { return impl_->open_connection().server_version(); }

// Rows and Row accessors.

const std::optional<std::string>& Rows::scalar() const {
    if (rows_.size() != 1 || rows_[0].size() != 1) {
        throw Error(ErrorKind::Internal, "expected one value, got " + std::to_string(rows_.size()) + " rows of " +
                                             std::to_string(columns_->size()) + " columns");
    }
    return rows_[0].at(0);
}

const std::optional<std::string>& Row::at(std::size_t i) const {
    if (i >= values_.size()) {
        throw Error(ErrorKind::Internal,
                    "column " + std::to_string(i) + " out of range (" + std::to_string(values_.size()) + " columns)");
    }
    return values_[i];
}

std::size_t Row::index_of(std::string_view column) const {
    for (std::size_t i = 0; i < columns_->size(); ++i) {
        if ((*columns_)[i] == column) return i;
    }
    throw Error(ErrorKind::Internal, "no column \"" + std::string(column) + "\" in the result");
}

const std::optional<std::string>& Row::at(std::string_view column) const { return at(index_of(column)); }

const std::string& Row::text(std::size_t i) const {
    const auto& value = at(i);
    if (!value) {
        const std::string name = i < columns_->size() ? (*columns_)[i] : std::to_string(i);
        throw Error(ErrorKind::Internal, "column \"" + name + "\" is NULL");
    }
    return *value;
}

const std::string& Row::text(std::string_view column) const { return text(index_of(column)); }

std::int64_t Row::as_int64(std::size_t i) const {
    const auto& value = text(i);
    std::int64_t number = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc() || ptr != value.data() + value.size()) {
        throw Error(ErrorKind::Internal, "not an integer: \"" + value + "\"");
    }
    return number;
}

bool Row::as_bool(std::size_t i) const {
    const auto& value = text(i);
    if (value == "t" || value == "true") return true;
    if (value == "f" || value == "false") return false;
    throw Error(ErrorKind::Internal, "not a boolean: \"" + value + "\"");
}

fsm::Lsn Row::as_lsn(std::size_t i) const {
    const auto& value = text(i);
    const auto lsn = fsm::Lsn::parse(value);
    if (!lsn) throw Error(ErrorKind::Internal, "not an LSN: \"" + value + "\"");
    return *lsn;
}

std::string quote_identifier(std::string_view name) {
    std::string quoted = "\"";
    for (const char c : name) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    quoted += '"';
    return quoted;
}

}  // namespace autoctl::pg

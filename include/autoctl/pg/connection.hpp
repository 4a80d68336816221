#pragma once
// One persistent connection to Postgres (libpqxx 6.4 underneath, hidden from callers).
//
//   Connection conn(info, {std::chrono::seconds(2), ErrorKind::Monitor});
//   auto rows = conn.exec_params("select nodeid, nodename from pgautofailover.node where groupid = $1", 0);
//   for (const auto& row : rows) log->info("{} {}", row.as_int64(0), row.text(1));
//   conn.transaction([&](Transaction& tx) { tx.exec_params("update ... where nodeid = $1", id); });
//   conn.listen("state");
//   if (auto n = conn.wait_notification(std::chrono::seconds(1))) handle(n->payload);
//
// Every failure throws common::Error with the kind chosen when the connection was opened
// (Postgres for the local node, Monitor for the monitor, Citus for a coordinator); an SQL error
// throws SqlError, which also carries the SQLSTATE. Messages name host:port and the server's or
// libpq's reason, never the password or the query parameters.
//
// A lost connection is not silently re-established: the next call throws, and the caller (one
// keeper step, one monitor request) decides to reconnect.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "autoctl/common/error.hpp"
#include "autoctl/fsm/lsn.hpp"
#include "autoctl/pg/conninfo.hpp"

namespace autoctl::pg {

// An error reported by the server for one statement, with its SQLSTATE ("23505", "40001", ...).
class SqlError : public common::Error {
public:
    SqlError(common::ErrorKind kind, const std::string& message, std::string sqlstate)
        : common::Error(kind, message), sqlstate_(std::move(sqlstate)) {}
    const std::string& sqlstate() const noexcept { return sqlstate_; }

private:
    std::string sqlstate_;
};

// One query parameter, sent as text (or NULL). Built implicitly from strings, integers, bools,
// Lsn, std::nullopt and std::optional of those.
class Param {
public:
    Param(std::nullopt_t) {}
    Param(std::string value) : value_(std::move(value)) {}
    Param(std::string_view value) : value_(std::string(value)) {}
    Param(const char* value) : value_(value != nullptr ? std::optional<std::string>(value) : std::nullopt) {}
    Param(bool value) : value_(value ? "true" : "false") {}
    Param(fsm::Lsn value) : value_(value.to_string()) {}
    template <typename T, typename = std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                                      !std::is_same_v<T, char>>>
    Param(T value) : value_(std::to_string(value)) {}
    template <typename T>
    Param(const std::optional<T>& value) {
        if (value) value_ = Param(*value).value_;
    }

    const std::optional<std::string>& value() const { return value_; }

private:
    std::optional<std::string> value_;
};

// One result row: text values (as Postgres sends them) or NULL.
class Row {
public:
    Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<std::optional<std::string>> values)
        : columns_(std::move(columns)), values_(std::move(values)) {}

    std::size_t size() const { return values_.size(); }
    bool is_null(std::size_t i) const { return !at(i).has_value(); }
    const std::optional<std::string>& at(std::size_t i) const;
    const std::optional<std::string>& at(std::string_view column) const;

    // The value; Error{Internal} when it is NULL or not of the type asked.
    const std::string& text(std::size_t i) const;
    const std::string& text(std::string_view column) const;
    std::int64_t as_int64(std::size_t i) const;
    bool as_bool(std::size_t i) const;  // Postgres's "t" / "f"
    fsm::Lsn as_lsn(std::size_t i) const;

private:
    std::size_t index_of(std::string_view column) const;

    std::shared_ptr<const std::vector<std::string>> columns_;
    std::vector<std::optional<std::string>> values_;
};

// The rows of one statement, with its column names and the number of rows it affected.
class Rows {
public:
    Rows() : columns_(std::make_shared<const std::vector<std::string>>()) {}
    Rows(std::vector<std::string> columns, std::size_t affected)
        : columns_(std::make_shared<const std::vector<std::string>>(std::move(columns))), affected_(affected) {}

    void add_row(std::vector<std::optional<std::string>> values) { rows_.emplace_back(columns_, std::move(values)); }

    std::size_t size() const { return rows_.size(); }
    bool empty() const { return rows_.empty(); }
    const Row& operator[](std::size_t i) const { return rows_.at(i); }
    std::vector<Row>::const_iterator begin() const { return rows_.begin(); }
    std::vector<Row>::const_iterator end() const { return rows_.end(); }
    const std::vector<std::string>& columns() const { return *columns_; }
    std::size_t affected_rows() const { return affected_; }

    // The single value of a one-row, one-column result; Error{Internal} otherwise.
    const std::optional<std::string>& scalar() const;

private:
    std::shared_ptr<const std::vector<std::string>> columns_;
    std::size_t affected_ = 0;
    std::vector<Row> rows_;
};

struct Notification {
    std::string channel;
    std::string payload;
    int backend_pid = 0;  // the server process that sent it
};

struct ConnectOptions {
    // Sent to libpq as connect_timeout unless the ConnInfo sets one (libpq rounds 1 up to 2).
    std::chrono::seconds connect_timeout{5};
    // The kind of every Error this connection throws.
    common::ErrorKind error_kind = common::ErrorKind::Postgres;
};

enum class Isolation { ReadCommitted, RepeatableRead, Serializable };

class Connection;

// A transaction in progress, handed to the body of Connection::transaction().
class Transaction {
public:
    Rows exec(std::string_view sql);
    Rows exec_params(std::string_view sql, const std::vector<Param>& params);
    template <typename... Args>
    Rows exec_params(std::string_view sql, const Args&... args) {
        return exec_params(sql, std::vector<Param>{Param(args)...});
    }

private:
    friend class Connection;
    struct Impl;
    explicit Transaction(Impl& impl) : impl_(impl) {}
    Impl& impl_;
};

class Connection {
public:
    // Connects at once; throws Error{options.error_kind} naming host:port and libpq's reason.
    Connection(const ConnInfo& info, ConnectOptions options = {});
    Connection(Connection&&) noexcept;
    Connection& operator=(Connection&&) noexcept;
    ~Connection();

    // Runs one statement (or several separated by semicolons, without parameters) in autocommit.
    Rows exec(std::string_view sql);
    Rows exec_params(std::string_view sql, const std::vector<Param>& params);
    template <typename... Args>
    Rows exec_params(std::string_view sql, const Args&... args) {
        return exec_params(sql, std::vector<Param>{Param(args)...});
    }

    // Runs `body` in BEGIN ... COMMIT; an exception from body (or from COMMIT) rolls back and
    // propagates. Returns what body returns.
    template <typename F>
    auto transaction(F&& body, Isolation isolation = Isolation::ReadCommitted)
        -> std::invoke_result_t<F, Transaction&> {
        using R = std::invoke_result_t<F, Transaction&>;
        if constexpr (std::is_void_v<R>) {
            run_transaction([&](Transaction& tx) { body(tx); }, isolation);
        } else {
            std::optional<R> result;
            run_transaction([&](Transaction& tx) { result.emplace(body(tx)); }, isolation);
            return std::move(*result);
        }
    }

    // LISTEN on a channel (the name is quoted: any text works); idempotent.
    void listen(const std::string& channel);
    void unlisten(const std::string& channel);
    // The next notification on a listened channel, waiting at most `timeout` (zero: only what
    // has arrived already); nullopt on timeout. Notifications are not delivered while a
    // transaction is open on this connection.
    std::optional<Notification> wait_notification(std::chrono::milliseconds timeout);

    bool is_open() const;
    void close();

    // "host:port" of the server, for messages.
    std::string endpoint() const;
    // The server process serving this connection.
    int backend_pid() const;
    // The server version as an integer (150004 for 15.4).
    int server_version() const;

private:
    friend class Transaction;
    void run_transaction(const std::function<void(Transaction&)>& body, Isolation isolation);

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// An SQL identifier in double quotes, embedded quotes doubled: quote_identifier("a\"b") -> "a""b".
std::string quote_identifier(std::string_view name);

}  // namespace autoctl::pg

#pragma once
// A libpq connection string as a typed keyword/value map.
//
// Printing a ConnInfo (to_string(), operator<<, to_uri()) never shows the password: to_string()
// writes password=**** and to_uri() leaves it out. Only to_libpq() and to_libpq_uri() give the
// real thing, for handing to libpq; never log their result.
//
//   auto info = ConnInfo::parse("postgres://autoctl_node@monitor:5432/pg_auto_failover?sslmode=require");
//   info.set_password(secret).set_connect_timeout(2);
//   log->info("connecting to {}", info.to_string());   // ... password=**** ...

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace autoctl::pg {

inline constexpr std::string_view kMaskedPassword = "****";

class ConnInfo {
public:
    ConnInfo() = default;

    // Parses a "postgres://" / "postgresql://" URI or a "key=value ..." string with libpq's own
    // parser (PQconninfoParse). Throws Error{Config} with libpq's reason (passwords masked) when
    // the text is not a valid connection string.
    static ConnInfo parse(std::string_view text);

    // Generic access. Keys are libpq's keywords (PQconndefaults); set() refuses an unknown keyword
    // with Error{Config}. Order of first insertion is kept.
    std::optional<std::string> get(std::string_view key) const;
    bool has(std::string_view key) const { return get(key).has_value(); }
    ConnInfo& set(std::string_view key, std::string value);
    ConnInfo& erase(std::string_view key);
    const std::vector<std::pair<std::string, std::string>>& entries() const { return entries_; }

    // Typed access to the common keywords.
    std::optional<std::string> host() const { return get("host"); }
    std::optional<int> port() const;  // nullopt when unset, or when a multi-host list
    std::optional<std::string> dbname() const { return get("dbname"); }
    std::optional<std::string> user() const { return get("user"); }
    std::optional<std::string> password() const { return get("password"); }
    std::optional<std::string> sslmode() const { return get("sslmode"); }
    std::optional<int> connect_timeout() const;
    std::optional<std::string> application_name() const { return get("application_name"); }

    ConnInfo& set_host(std::string value) { return set("host", std::move(value)); }
    ConnInfo& set_port(int value) { return set("port", std::to_string(value)); }
    ConnInfo& set_dbname(std::string value) { return set("dbname", std::move(value)); }
    ConnInfo& set_user(std::string value) { return set("user", std::move(value)); }
    ConnInfo& set_password(std::string value) { return set("password", std::move(value)); }
    ConnInfo& set_sslmode(std::string value) { return set("sslmode", std::move(value)); }
    ConnInfo& set_connect_timeout(int seconds) { return set("connect_timeout", std::to_string(seconds)); }
    ConnInfo& set_application_name(std::string value) { return set("application_name", std::move(value)); }

    // "host:port" for messages: "127.0.0.1:5432", "a:5432,b:5433", "/tmp/sock:5432"; libpq's
    // defaults ("localhost" is shown for an unset host, 5432 for an unset port).
    std::string endpoint() const;

    // key=value form, values quoted as libpq expects, password shown as ****.
    std::string to_string() const;
    // key=value form with the real password: for libpq only.
    std::string to_libpq() const;
    // postgres://user@host:port/dbname?key=value..., without the password.
    std::string to_uri() const;
    // The same URI with the password in the user info: for libpq only.
    std::string to_libpq_uri() const;

    friend bool operator==(const ConnInfo& a, const ConnInfo& b) { return a.entries_ == b.entries_; }
    friend bool operator!=(const ConnInfo& a, const ConnInfo& b) { return !(a == b); }

private:
    std::string key_values(bool mask_password) const;
    std::string uri(bool with_password) const;

    std::vector<std::pair<std::string, std::string>> entries_;
};

// Always masks the password: same as to_string().
std::ostream& operator<<(std::ostream& out, const ConnInfo& info);

// Whether `key` is a connection keyword this libpq knows.
bool is_conninfo_keyword(std::string_view key);

// A value quoted for a key=value connection string: bare when it has no blank, quote or
// backslash and is not empty, otherwise in single quotes with ' and \ escaped by a backslash.
std::string quote_conninfo_value(std::string_view value);

}  // namespace autoctl::pg

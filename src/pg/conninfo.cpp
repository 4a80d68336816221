#include "autoctl/pg/conninfo.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>
#include <set>

#include "autoctl/common/error.hpp"
#include "autoctl/common/log.hpp"

namespace autoctl::pg {

using common::Error;
using common::ErrorKind;

namespace {

const std::set<std::string, std::less<>>& keywords() {
    static const std::set<std::string, std::less<>> names = [] {
        std::set<std::string, std::less<>> set;
        std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconndefaults(), &PQconninfoFree);
        if (options) {
            for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) set.insert(o->keyword);
        }
        return set;
    }();
    return names;
}

std::optional<int> to_int(const std::optional<std::string>& text) {
    if (!text || text->empty()) return std::nullopt;
    int value = 0;
    const auto* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (ec != std::errc() || ptr != end) return std::nullopt;
    return value;
}

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string percent_encode(std::string_view text) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char c : text) {
        if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0xF];
        }
    }
    return out;
}

std::vector<std::string> split_commas(const std::string& text) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (true) {
        const auto end = text.find(',', start);
        parts.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return parts;
}

// A host for the authority part of a URI: IPv6 addresses in brackets.
std::string uri_host(const std::string& host) {
    if (host.find(':') != std::string::npos) return "[" + host + "]";
    return percent_encode(host);
}

}  // namespace

bool is_conninfo_keyword(std::string_view key) { return keywords().count(key) > 0; }

std::string quote_conninfo_value(std::string_view value) {
    const bool needs_quotes = value.empty() || std::any_of(value.begin(), value.end(), [](char c) {
                                  return c == '\'' || c == '\\' || std::isspace(static_cast<unsigned char>(c)) != 0;
                              });
    if (!needs_quotes) return std::string(value);
    std::string quoted = "'";
    for (const char c : value) {
        if (c == '\'' || c == '\\') quoted += '\\';
        quoted += c;
    }
    quoted += '\'';
    return quoted;
}

ConnInfo ConnInfo::parse(std::string_view text) {
    const std::string input(text);
    char* raw_error = nullptr;
    std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(PQconninfoParse(input.c_str(), &raw_error),
                                                                         &PQconninfoFree);
    if (!options) {
        std::string reason = raw_error != nullptr ? raw_error : "out of memory";
        if (raw_error != nullptr) PQfreemem(raw_error);
        while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' ')) reason.pop_back();
        throw Error(ErrorKind::Config, "invalid connection string: " + common::redact_conninfo(reason));
    }
    ConnInfo info;
    for (const PQconninfoOption* o = options.get(); o->keyword != nullptr; ++o) {
        if (o->val != nullptr) info.entries_.emplace_back(o->keyword, o->val);
    }
    return info;
}

std::optional<std::string> ConnInfo::get(std::string_view key) const {
    for (const auto& [name, value] : entries_) {
        if (name == key) return value;
    }
    return std::nullopt;
}

ConnInfo& ConnInfo::set(std::string_view key, std::string value) {
    if (!is_conninfo_keyword(key)) {
        throw Error(ErrorKind::Config, "unknown connection keyword \"" + std::string(key) + "\"");
    }
    for (auto& entry : entries_) {
        if (entry.first == key) {
            entry.second = std::move(value);
            return *this;
        }
    }
    entries_.emplace_back(std::string(key), std::move(value));
    return *this;
}

ConnInfo& ConnInfo::erase(std::string_view key) {
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [&](const auto& e) { return e.first == key; }),
                   entries_.end());
    return *this;
}

std::optional<int> ConnInfo::port() const { return to_int(get("port")); }

std::optional<int> ConnInfo::connect_timeout() const { return to_int(get("connect_timeout")); }

std::string ConnInfo::endpoint() const {
    const auto hosts = split_commas(host().value_or(get("hostaddr").value_or("localhost")));
    const auto ports = split_commas(get("port").value_or("5432"));
    std::string text;
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        if (!text.empty()) text += ',';
        const std::string& port = ports.size() == 1 ? ports[0] : (i < ports.size() ? ports[i] : "5432");
        text += (hosts[i].empty() ? "localhost" : hosts[i]) + ":" + (port.empty() ? "5432" : port);
    }
    return text;
}

std::string ConnInfo::key_values(bool mask_password) const {
    std::string text;
    for (const auto& [key, value] : entries_) {
        if (!text.empty()) text += ' ';
        text += key;
        text += '=';
        text += (key == "password" && mask_password) ? std::string(kMaskedPassword) : quote_conninfo_value(value);
    }
    return text;
}

std::string ConnInfo::to_string() const { return key_values(true); }

std::string ConnInfo::to_libpq() const { return key_values(false); }

std::string ConnInfo::to_uri() const { return uri(false); }

std::string ConnInfo::to_libpq_uri() const { return uri(true); }

std::string ConnInfo::uri(bool with_password) const {
    std::string text = "postgres://";
    if (const auto u = user()) {
        text += percent_encode(*u);
        if (with_password && password()) text += ":" + percent_encode(*password());
        text += '@';
    }
    // Unix-socket directories cannot go in the authority: they go in the query string.
    const auto hosts = host() ? split_commas(*host()) : std::vector<std::string>{};
    const bool socket_host = std::any_of(hosts.begin(), hosts.end(), [](const std::string& h) {
        return !h.empty() && h.front() == '/';
    });
    const auto ports = get("port") ? split_commas(*get("port")) : std::vector<std::string>{};
    std::vector<std::pair<std::string, std::string>> query;
    if (socket_host) {
        query.emplace_back("host", *host());
        if (get("port")) query.emplace_back("port", *get("port"));
    } else if (!hosts.empty()) {
        for (std::size_t i = 0; i < hosts.size(); ++i) {
            if (i > 0) text += ',';
            text += uri_host(hosts[i]);
            const std::string port = ports.size() == 1 ? ports[0] : (i < ports.size() ? ports[i] : "");
            if (!port.empty()) text += ":" + port;
        }
    } else if (ports.size() == 1) {
        text += ":" + ports[0];
    } else if (!ports.empty()) {
        query.emplace_back("port", *get("port"));
    }
    text += '/';
    if (const auto db = dbname()) text += percent_encode(*db);
    for (const auto& [key, value] : entries_) {
        if (key == "host" || key == "port" || key == "user" || key == "password" || key == "dbname") continue;
        query.emplace_back(key, value);
    }
    for (std::size_t i = 0; i < query.size(); ++i) {
        text += i == 0 ? '?' : '&';
        text += query[i].first + "=" + percent_encode(query[i].second);
    }
    return text;
}

std::ostream& operator<<(std::ostream& out, const ConnInfo& info) { return out << info.to_string(); }

}  // namespace autoctl::pg

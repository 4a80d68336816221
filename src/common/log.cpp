#include "autoctl/common/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <mutex>

namespace autoctl::common {

namespace {

spdlog::level::level_enum to_spdlog(LogLevel level) {
    switch (level) {
        case LogLevel::Trace: return spdlog::level::trace;
        case LogLevel::Debug: return spdlog::level::debug;
        case LogLevel::Info: return spdlog::level::info;
        case LogLevel::Warn: return spdlog::level::warn;
        case LogLevel::Error: return spdlog::level::err;
        case LogLevel::Fatal: return spdlog::level::critical;
    }
    return spdlog::level::info;
}

std::string_view level_name(spdlog::level::level_enum level) {
    switch (level) {
        case spdlog::level::trace: return "TRACE";
        case spdlog::level::debug: return "DEBUG";
        case spdlog::level::info: return "INFO ";
        case spdlog::level::warn: return "WARN ";
        case spdlog::level::err: return "ERROR";
        case spdlog::level::critical: return "FATAL";
        default: return "     ";
    }
}

// %* : the level name, upper case, padded to 5 characters.
class LevelFlag : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        const auto name = level_name(msg.level);
        dest.append(name.data(), name.data() + name.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<LevelFlag>(); }
};

// %& : the message with passwords masked.
class RedactedMessageFlag : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
        const auto redacted = redact_conninfo(std::string_view(msg.payload.data(), msg.payload.size()));
        dest.append(redacted.data(), redacted.data() + redacted.size());
    }
    std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<RedactedMessageFlag>();
    }
};

struct LogState {
    std::mutex mutex;
    std::shared_ptr<spdlog::sinks::stderr_color_sink_mt> sink;
    spdlog::level::level_enum level = spdlog::level::info;
};

LogState& state() {
    static LogState instance;
    return instance;
}

std::unique_ptr<spdlog::formatter> make_formatter() {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<LevelFlag>('*').add_flag<RedactedMessageFlag>('&');
    formatter->set_pattern("%H:%M:%S %P %^%*%$ %&");
    return formatter;
}

// Caller holds the state mutex.
std::shared_ptr<spdlog::sinks::stderr_color_sink_mt> sink_locked(LogState& s) {
    if (!s.sink) {
        s.sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(spdlog::color_mode::automatic);
        s.sink->set_formatter(make_formatter());
    }
    return s.sink;
}

bool is_password_key_at(std::string_view text, std::size_t pos) {
    constexpr std::string_view kKey = "password";
    if (text.compare(pos, kKey.size(), kKey) != 0) return false;
    if (pos > 0) {
        const char before = text[pos - 1];
        const bool boundary = before == ' ' || before == '\t' || before == '\n' || before == '?' ||
                              before == '&' || before == '"' || before == '\'' || before == '(' ||
                              before == ',';
        if (!boundary) return false;
    }
    return true;
}

// Masks "password = value" pairs: the value is a quoted string, or runs to the next blank (and
// also to the next '&' or '#' when the pair is a URI parameter).
std::string redact_key_values(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (!is_password_key_at(text, pos)) {
            out += text[pos++];
            continue;
        }
        const bool in_uri = pos > 0 && (text[pos - 1] == '?' || text[pos - 1] == '&');
        std::size_t cursor = pos + 8;
        while (cursor < text.size() && (text[cursor] == ' ' || text[cursor] == '\t')) ++cursor;
        if (cursor >= text.size() || text[cursor] != '=') {
            out += text[pos++];
            continue;
        }
        ++cursor;
        while (cursor < text.size() && (text[cursor] == ' ' || text[cursor] == '\t')) ++cursor;
        out.append(text.substr(pos, cursor - pos));
        out += "****";
        if (cursor < text.size() && text[cursor] == '\'') {
            ++cursor;
            while (cursor < text.size() && text[cursor] != '\'') {
                if (text[cursor] == '\\' && cursor + 1 < text.size()) ++cursor;
                ++cursor;
            }
            if (cursor < text.size()) ++cursor;  // closing quote
        } else {
            while (cursor < text.size()) {
                const char c = text[cursor];
                if (c == ' ' || c == '\t' || c == '\n' || c == '"') break;
                if (in_uri && (c == '&' || c == '#')) break;
                ++cursor;
            }
        }
        pos = cursor;
    }
    return out;
}

// Masks the password of "scheme://user:password@host" user info.
std::string redact_uri_userinfo(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (true) {
        const auto scheme_end = text.find("://", pos);
        if (scheme_end == std::string_view::npos) break;
        const std::size_t authority = scheme_end + 3;
        auto authority_end = text.find_first_of("/?# \t\n\"'", authority);
        if (authority_end == std::string_view::npos) authority_end = text.size();
        const auto at = text.rfind('@', authority_end - 1);
        const auto colon = (at == std::string_view::npos || at < authority) ? std::string_view::npos
                                                                            : text.find(':', authority);
        out.append(text.substr(pos, authority - pos));
        if (colon != std::string_view::npos && colon < at) {
            out.append(text.substr(authority, colon + 1 - authority));
            out += "****";
            out.append(text.substr(at, authority_end - at));
        } else {
            out.append(text.substr(authority, authority_end - authority));
        }
        pos = authority_end;
    }
    out.append(text.substr(pos));
    return out;
}

}  // namespace

std::string_view to_string(LogLevel level) {
    switch (level) {
        case LogLevel::Trace: return "TRACE";
        case LogLevel::Debug: return "DEBUG";
        case LogLevel::Info: return "INFO";
        case LogLevel::Warn: return "WARN";
        case LogLevel::Error: return "ERROR";
        case LogLevel::Fatal: return "FATAL";
    }
    return "INFO";
}

LogLevel log_level_from_flags(int verbose_count, bool quiet) {
    if (quiet) return LogLevel::Error;
    if (verbose_count >= 3) return LogLevel::Trace;
    if (verbose_count == 2) return LogLevel::Debug;
    return LogLevel::Info;
}

void setup_logging(LogLevel level) {
    auto& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    s.level = to_spdlog(level);
    auto sink = sink_locked(s);
    spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& existing) { existing->set_level(s.level); });
    auto main_logger = spdlog::get("autoctl");
    if (!main_logger) {
        main_logger = std::make_shared<spdlog::logger>("autoctl", sink);
        spdlog::register_logger(main_logger);
    }
    main_logger->set_level(s.level);
    spdlog::set_default_logger(main_logger);
}

std::shared_ptr<spdlog::logger> logger(std::string_view component) {
    auto& s = state();
    std::lock_guard<std::mutex> lock(s.mutex);
    const std::string name(component);
    if (auto existing = spdlog::get(name)) return existing;
    auto created = std::make_shared<spdlog::logger>(name, sink_locked(s));
    created->set_level(s.level);
    spdlog::register_logger(created);
    return created;
}

std::string redact_conninfo(std::string_view text) { return redact_uri_userinfo(redact_key_values(text)); }

}  // namespace autoctl::common

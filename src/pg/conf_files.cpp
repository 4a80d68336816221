#include "autoctl/pg/conf_files.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "autoctl/common/error.hpp"

namespace autoctl::pg {

using common::Error;
using common::ErrorKind;

namespace {

std::string errno_text(int err) { return std::strerror(err); }

std::string_view trim(std::string_view text) {
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) text.remove_prefix(1);
    while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) text.remove_suffix(1);
    return text;
}

std::vector<std::string_view> split_lines(std::string_view text) {
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        lines.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return lines;
}

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(ErrorKind::Config, "could not read \"" + path.string() + "\": " + errno_text(errno));
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Replaces `file` atomically, keeping its owner and mode; a new file gets the owner of the
// directory it goes in (PGDATA) and mode 0600. Only root changes owners.
void replace_file(const std::filesystem::path& file, std::string_view contents) {
    const auto dir = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
    struct stat st {};
    mode_t mode = 0600;
    uid_t uid = 0;
    gid_t gid = 0;
    if (::stat(file.c_str(), &st) == 0) {
        mode = st.st_mode & 07777;
    } else if (errno != ENOENT || ::stat(dir.c_str(), &st) != 0) {
        throw Error(ErrorKind::Config, "could not stat \"" + file.string() + "\": " + errno_text(errno));
    }
    uid = st.st_uid;
    gid = st.st_gid;

    std::string temp = (dir / ("." + file.filename().string() + ".autoctl-XXXXXX")).string();
    const int fd = ::mkstemp(temp.data());
    if (fd < 0) throw Error(ErrorKind::Config, "could not create a temporary file for \"" + file.string() + "\": " + errno_text(errno));
    auto fail = [&](const std::string& what) {
        const int err = errno;
        ::close(fd);
        ::unlink(temp.c_str());
        throw Error(ErrorKind::Config, "could not " + what + " \"" + file.string() + "\": " + errno_text(err));
    };
    std::size_t written = 0;
    while (written < contents.size()) {
        const ssize_t n = ::write(fd, contents.data() + written, contents.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("write");
        written += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd, mode) != 0) fail("set the mode of");
    if (::geteuid() == 0 && ::fchown(fd, uid, gid) != 0) fail("set the owner of");
    if (::fsync(fd) != 0) fail("fsync");
    if (::close(fd) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        throw Error(ErrorKind::Config, "could not close \"" + temp + "\": " + errno_text(err));
    }
    if (::rename(temp.c_str(), file.c_str()) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        throw Error(ErrorKind::Config, "could not rename \"" + temp + "\" to \"" + file.string() + "\": " + errno_text(err));
    }
    const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd >= 0) {
        ::fsync(dir_fd);
        ::close(dir_fd);
    }
}

bool is_valid_setting_name(std::string_view name) {
    if (name.empty()) return false;
    const auto first = static_cast<unsigned char>(name.front());
    if (std::isalpha(first) == 0 && first != '_') return false;
    return std::all_of(name.begin(), name.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return std::isalnum(u) != 0 || c == '_' || c == '.';
    });
}

// Whether a postgresql.conf line is our include directive (whatever its spacing or comment).
bool is_our_include(std::string_view line) {
    auto text = trim(line);
    constexpr std::string_view kDirective = "include";
    if (text.substr(0, kDirective.size()) != kDirective) return false;
    text.remove_prefix(kDirective.size());
    if (text.empty() || (std::isspace(static_cast<unsigned char>(text.front())) == 0 && text.front() != '=' &&
                         text.front() != '\'')) {
        return false;  // include_dir, include_if_exists
    }
    text = trim(text);
    if (!text.empty() && text.front() == '=') text = trim(text.substr(1));
    const std::string quoted = "'" + std::string(kAutoFailoverConfFile) + "'";
    if (text.substr(0, quoted.size()) != quoted) return false;
    text = trim(text.substr(quoted.size()));
    return text.empty() || text.front() == '#';
}

// pg_hba.conf fields ------------------------------------------------------------------------

constexpr std::string_view kHbaKeywords[] = {"all", "sameuser", "samerole", "samegroup", "replication"};

bool is_hba_keyword(std::string_view word) {
    return std::find(std::begin(kHbaKeywords), std::end(kHbaKeywords), word) != std::end(kHbaKeywords);
}

bool hba_name_needs_quotes(std::string_view name) {
    if (name.empty() || is_hba_keyword(name)) return true;
    if (name.front() == '+' || name.front() == '@' || name.front() == '/') return true;
    return std::any_of(name.begin(), name.end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) != 0 || c == '"' || c == ',' || c == '#';
    });
}

std::string quote_hba_name(std::string_view name) {
    if (!hba_name_needs_quotes(name)) return std::string(name);
    std::string quoted = "\"";
    for (const char c : name) {
        if (c == '"') quoted += '"';
        quoted += c;
    }
    quoted += '"';
    return quoted;
}

// The fields of one pg_hba.conf line, comments removed, each in canonical form (a quoted token
// that needs no quotes is written bare), so equal rules compare equal.
std::vector<std::string> hba_fields(std::string_view line) {
    std::vector<std::string> fields;
    std::size_t i = 0;
    while (i < line.size()) {
        const char c = line[i];
        if (std::isspace(static_cast<unsigned char>(c)) != 0) {
            ++i;
            continue;
        }
        if (c == '#') break;
        std::string raw;
        bool quoted_whole = false;
        std::string content;
        if (c == '"') {
            quoted_whole = true;
            ++i;
            while (i < line.size()) {
                if (line[i] == '"') {
                    if (i + 1 < line.size() && line[i + 1] == '"') {
                        content += '"';
                        i += 2;
                        continue;
                    }
                    ++i;
                    break;
                }
                content += line[i++];
            }
            // Anything glued after the closing quote makes it a list or an odd token: keep raw.
            while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])) == 0 && line[i] != '#') {
                quoted_whole = false;
                content += line[i++];
            }
        } else {
            while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i])) == 0 && line[i] != '#') {
                content += line[i++];
            }
        }
        fields.push_back(quoted_whole ? quote_hba_name(content) : content);
    }
    return fields;
}

bool has_forbidden_hba_chars(std::string_view text) {
    return text.empty() || std::any_of(text.begin(), text.end(), [](char c) {
               return std::isspace(static_cast<unsigned char>(c)) != 0 || c == '"' || c == '\'' || c == '#' ||
                      c == ',' || c == '\\';
           });
}

std::string hba_address(const std::string& address) {
    if (has_forbidden_hba_chars(address)) {
        throw Error(ErrorKind::Config, "invalid pg_hba.conf address \"" + address + "\"");
    }
    if (address.find('/') != std::string::npos) return address;
    unsigned char buffer[sizeof(struct in6_addr)];
    if (::inet_pton(AF_INET, address.c_str(), buffer) == 1) return address + "/32";
    if (::inet_pton(AF_INET6, address.c_str(), buffer) == 1) return address + "/128";
    return address;  // a host name, or all / samehost / samenet
}

std::string render_hba_fields(const HbaRule& rule) {
    if (has_forbidden_hba_chars(rule.method)) {
        throw Error(ErrorKind::Config, "invalid pg_hba.conf method \"" + rule.method + "\"");
    }
    std::string line(to_string(rule.type));
    line += ' ' + rule.database.to_string() + ' ' + rule.user.to_string();
    if (rule.type != HbaType::Local) line += ' ' + hba_address(rule.address);
    line += ' ' + rule.method;
    return line;
}

}  // namespace

std::string quote_conf_value(std::string_view value) {
    std::string quoted = "'";
    for (const char c : value) {
        switch (c) {
            case '\'': quoted += "''"; break;
            case '\\': quoted += "\\\\"; break;
            case '\n': quoted += "\\n"; break;
            case '\r': quoted += "\\r"; break;
            case '\t': quoted += "\\t"; break;
            case '\b': quoted += "\\b"; break;
            case '\f': quoted += "\\f"; break;
            case '\0': throw Error(ErrorKind::Config, "a configuration value cannot contain a NUL byte");
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char octal[8];
                    std::snprintf(octal, sizeof octal, "\\%03o", static_cast<unsigned>(static_cast<unsigned char>(c)));
                    quoted += octal;
                } else {
                    quoted += c;
                }
        }
    }
    quoted += '\'';
    return quoted;
}

std::string render_auto_failover_conf(const std::vector<Setting>& settings) {
    std::string text =
        "# Settings managed by autoctl for this node, included from postgresql.conf.\n"
        "# Do not edit: autoctl rewrites this file whenever the node's settings change.\n";
    for (const auto& setting : settings) {
        if (!is_valid_setting_name(setting.name)) {
            throw Error(ErrorKind::Config, "invalid Postgres setting name \"" + setting.name + "\"");
        }
        text += setting.name + " = " + quote_conf_value(setting.value) + "\n";
    }
    return text;
}

void write_auto_failover_conf(const std::filesystem::path& pgdata, const std::vector<Setting>& settings) {
    replace_file(pgdata / std::string(kAutoFailoverConfFile), render_auto_failover_conf(settings));
    ensure_include_line(pgdata);
}

std::string with_include_line(std::string_view postgresql_conf) {
    const auto lines = split_lines(postgresql_conf);
    std::size_t count = 0;
    std::size_t last = 0;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (is_our_include(lines[i])) {
            ++count;
            last = i;
        }
    }
    if (count == 1) return std::string(postgresql_conf);
    std::string text;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (count > 1 && is_our_include(lines[i]) && i != last) continue;
        text += lines[i];
        text += '\n';
    }
    if (count == 0) {
        text += kIncludeLine;
        text += '\n';
    }
    return text;
}

bool ensure_include_line(const std::filesystem::path& pgdata) {
    const auto file = pgdata / "postgresql.conf";
    const auto current = read_file(file);
    const auto updated = with_include_line(current);
    if (updated == current) return false;
    replace_file(file, updated);
    return true;
}

std::string_view to_string(HbaType type) {
    switch (type) {
        case HbaType::Local: return "local";
        case HbaType::Host: return "host";
        case HbaType::HostSsl: return "hostssl";
        case HbaType::HostNoSsl: return "hostnossl";
    }
    return "host";
}

HbaName HbaName::keyword(std::string word) {
    if (!is_hba_keyword(word)) throw Error(ErrorKind::Config, "\"" + word + "\" is not a pg_hba.conf keyword");
    return HbaName(std::move(word), true);
}

HbaName HbaName::name(std::string name) { return HbaName(std::move(name), false); }

std::string HbaName::to_string() const { return is_keyword_ ? text_ : quote_hba_name(text_); }

std::string render_hba_rule(const HbaRule& rule) { return render_hba_fields(rule) + " " + std::string(kHbaComment); }

std::string with_hba_rules(std::string_view hba_conf, const std::vector<HbaRule>& rules) {
    std::vector<std::vector<std::string>> present;
    for (const auto line : split_lines(hba_conf)) {
        auto fields = hba_fields(line);
        if (!fields.empty()) present.push_back(std::move(fields));
    }
    std::string text(hba_conf);
    for (const auto& rule : rules) {
        auto fields = hba_fields(render_hba_fields(rule));
        if (std::find(present.begin(), present.end(), fields) != present.end()) continue;
        if (!text.empty() && text.back() != '\n') text += '\n';
        text += render_hba_rule(rule) + "\n";
        present.push_back(std::move(fields));
    }
    return text;
}

bool ensure_hba_rules(const std::filesystem::path& hba_file, const std::vector<HbaRule>& rules) {
    const auto current = read_file(hba_file);
    const auto updated = with_hba_rules(current, rules);
    if (updated == current) return false;
    replace_file(hba_file, updated);
    return true;
}

}  // namespace autoctl::pg

#include "autoctl/pg/controldata.hpp"

#include <charconv>
#include <map>
#include <vector>

#include "autoctl/common/error.hpp"

namespace autoctl::pg {

using common::Error;
using common::ErrorKind;

namespace {

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
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

template <typename T>
std::optional<T> parse_number(std::string_view text) {
    T value{};
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
    return value;
}

class Fields {
public:
    explicit Fields(std::string_view text) {
        // "Latest checkpoint's oldestCommitTsXid:0": the value may follow the colon directly, and
        // labels contain no colon, so the first ':' splits label from value.
        for (const auto line : split_lines(text)) {
            const auto colon = line.find(':');
            if (colon == std::string_view::npos) continue;
            fields_.emplace(std::string(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1))));
        }
    }

    const std::string& text(const std::string& label) const {
        const auto it = fields_.find(label);
        if (it == fields_.end()) {
            throw Error(ErrorKind::Command, "could not parse pg_controldata output: no \"" + label + "\" line");
        }
        return it->second;
    }

    template <typename T>
    T number(const std::string& label) const {
        const auto& value = text(label);
        const auto parsed = parse_number<T>(value);
        if (!parsed) malformed(label, value);
        return *parsed;
    }

    fsm::Lsn lsn(const std::string& label) const {
        const auto& value = text(label);
        const auto parsed = fsm::Lsn::parse(value);
        if (!parsed) malformed(label, value);
        return *parsed;
    }

    bool has(const std::string& label) const { return fields_.count(label) > 0; }

private:
    [[noreturn]] static void malformed(const std::string& label, const std::string& value) {
        throw Error(ErrorKind::Command,
                    "could not parse pg_controldata output: \"" + label + "\" is \"" + value + "\"");
    }

    std::map<std::string, std::string> fields_;
};

}  // namespace

ControlData parse_controldata(std::string_view text) {
    const Fields fields(text);
    ControlData data;
    data.pg_control_version = fields.number<std::uint32_t>("pg_control version number");
    data.catalog_version = fields.number<std::uint32_t>("Catalog version number");
    data.system_identifier = fields.number<std::uint64_t>("Database system identifier");
    data.cluster_state = fields.text("Database cluster state");
    if (data.cluster_state.empty()) {
        throw Error(ErrorKind::Command, "could not parse pg_controldata output: empty \"Database cluster state\"");
    }
    data.checkpoint_lsn = fields.lsn("Latest checkpoint location");
    data.redo_lsn = fields.lsn("Latest checkpoint's REDO location");
    data.timeline = fields.number<std::uint32_t>("Latest checkpoint's TimeLineID");
    data.min_recovery_end_lsn = fields.lsn("Minimum recovery ending location");
    if (fields.has("Data page checksum version")) {
        data.data_checksum_version = fields.number<std::uint32_t>("Data page checksum version");
    }
    return data;
}

std::optional<PostmasterPid> parse_postmaster_pid(std::string_view text) {
    const auto lines = split_lines(text);
    // pid, datadir, start time, port, socket dir, listen address, shmem key [, status]
    if (lines.size() < 7) return std::nullopt;
    PostmasterPid info;
    const auto pid = parse_number<long>(trim(lines[0]));
    const auto start = parse_number<std::int64_t>(trim(lines[2]));
    const auto port = parse_number<int>(trim(lines[3]));
    if (!pid || *pid <= 0 || !start || !port) return std::nullopt;
    info.pid = static_cast<pid_t>(*pid);
    info.pgdata = std::string(trim(lines[1]));
    info.start_time = *start;
    info.port = *port;
    info.socket_dir = std::string(trim(lines[4]));
    info.listen_address = std::string(trim(lines[5]));
    if (lines.size() >= 8) info.status = std::string(trim(lines[7]));
    return info;
}

}  // namespace autoctl::pg

#include "netns_rig.hpp"

#include <arpa/inet.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "autoctl/common/pid_file.hpp"
#include "autoctl/pg/bindir.hpp"
#include "autoctl/pg/controldata.hpp"
#include "support/test_env.hpp"

namespace autoctl::rig {

using namespace std::chrono_literals;
using fixture::TestUser;

namespace {

std::string read_text(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string first_existing(const std::vector<std::string>& candidates) {
    for (const auto& path : candidates) {
        if (::access(path.c_str(), X_OK) == 0) return path;
    }
    throw std::runtime_error("none of these programs exists: " + candidates.front() + " ...");
}

// The IPv4 networks of the routing tables and addresses (default routes left out): a /24 of
// ours must not overlap any of them.
std::vector<std::pair<std::uint32_t, int>> used_networks(const std::string& text) {
    std::vector<std::pair<std::uint32_t, int>> networks;
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream words(line);
        std::string word;
        while (words >> word) {
            const auto slash = word.find('/');
            const std::string address = word.substr(0, slash);
            in_addr parsed{};
            if (::inet_pton(AF_INET, address.c_str(), &parsed) != 1) continue;
            int bits = 32;
            if (slash != std::string::npos) {
                try {
                    bits = std::stoi(word.substr(slash + 1));
                } catch (const std::exception&) {
                    continue;
                }
            }
            if (bits <= 0 || bits > 32) continue;
            networks.emplace_back(ntohl(parsed.s_addr), bits);
        }
    }
    return networks;
}

bool overlaps(std::uint32_t a, int a_bits, std::uint32_t b, int b_bits) {
    const int bits = std::min(a_bits, b_bits);
    const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
    return (a & mask) == (b & mask);
}

std::optional<ino_t> ns_inode(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return st.st_ino;
}

}  // namespace

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit,
                std::chrono::milliseconds period) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(period);
    }
    return true;
}

bool process_alive(pid_t pid) {
    if (pid <= 0 || (::kill(pid, 0) != 0 && errno != EPERM)) return false;
    const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    const auto paren = stat.rfind(')');
    return !(paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] == 'Z');
}

fs::path RigNode::pid_file() const { return dir / "run/autoctl" / pgdata.relative_path() / "autoctl.pid"; }

// --- Rig ----------------------------------------------------------------------------------------

Rig::Rig(fs::path autoctl_binary) : source_binary_(std::move(autoctl_binary)), pid_(::getpid()) {
    if (::geteuid() != 0) throw std::runtime_error("the rig needs root (network namespaces, veth, bridge)");
    ip_ = first_existing({"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"});
    prefix_ = "actl" + std::to_string(pid_);
    bridge_ = "actlbr" + std::to_string(pid_);

    // A 10.A.B.0/24 that overlaps no route and no address of this machine.
    const std::string tables = ip({"-4", "route", "show", "table", "all"}).out + ip({"-4", "-o", "addr"}).out;
    const auto used = used_networks(tables);
    for (int attempt = 0; attempt < 2000 && subnet_.empty(); ++attempt) {
        const int a = 100 + (pid_ + attempt) % 150;
        const int b = (pid_ / 150 + attempt * 7) % 256;
        const std::uint32_t net = (10u << 24) | (static_cast<std::uint32_t>(a) << 16) | (static_cast<std::uint32_t>(b) << 8);
        const bool clash = std::any_of(used.begin(), used.end(), [&](const auto& u) {
            return u.second > 8 && overlaps(net, 24, u.first, u.second);  // a /8 or wider: ours is more specific
        });
        if (!clash) subnet_ = "10." + std::to_string(a) + "." + std::to_string(b);
    }
    if (subnet_.empty()) throw std::runtime_error("no free 10.x.y.0/24 for the rig");

    dir_ = fs::path("/tmp") / (prefix_ + "-rig");
    std::error_code ec;
    fs::remove_all(dir_, ec);
    try {
        setup_files_and_bridge();
    } catch (...) {
        // No destructor runs for a constructor that throws: undo what was made.
        teardown();
        throw;
    }
}

void Rig::setup_files_and_bridge() {
    fs::create_directory(dir_);
    ::chmod(dir_.c_str(), 0755);
    fixture::chown_to_test_user(dir_);
    fs::create_directory(dir_ / "bin");
    binary_ = dir_ / "bin" / "autoctl";
    fs::copy_file(source_binary_, binary_, fs::copy_options::overwrite_existing);
    ::chmod(binary_.c_str(), 0755);

    ip({"link", "add", bridge_, "type", "bridge"});
    bridge_created_ = true;
    ip({"addr", "add", subnet_ + ".1/24", "dev", bridge_});
    ip({"link", "set", bridge_, "up"});
}

Rig::~Rig() {
    const auto leftovers = teardown();
    for (const auto& leftover : leftovers) std::cerr << "rig teardown left: " << leftover << "\n";
}

pg::CommandResult Rig::ip(const std::vector<std::string>& args, bool check) const {
    pg::Command command(ip_);
    command.args(args).c_locale().timeout(30s);
    return check ? command.run() : command.run_unchecked();
}

RigNode& Rig::add_node(const std::string& name, int host) {
    auto node = std::make_unique<RigNode>();
    node->name = name;
    node->index = static_cast<int>(nodes_.size());
    node->ns = prefix_ + "-" + name;
    node->host_veth = "av" + std::to_string(pid_) + "n" + std::to_string(node->index);
    node->ns_veth = "av" + std::to_string(pid_) + "p" + std::to_string(node->index);
    node->address = subnet_ + "." + std::to_string(host);
    node->dir = dir_ / name;
    node->pgdata = node->dir / "pgdata";
    for (const auto& sub : {fs::path(), fs::path("home"), fs::path("run")}) {
        fs::create_directories(node->dir / sub);
        ::chmod((node->dir / sub).c_str(), 0700);
        fixture::chown_to_test_user(node->dir / sub);
    }

    // Known to teardown() before anything is made, so that a failure half-way is undone too.
    nodes_.push_back(std::move(node));
    RigNode& n = *nodes_.back();
    created_namespaces_.insert(n.ns);
    ip({"netns", "add", n.ns});
    ip({"link", "add", n.host_veth, "type", "veth", "peer", "name", n.ns_veth, "netns", n.ns});
    ip({"link", "set", n.host_veth, "master", bridge_, "up"});
    ip({"-n", n.ns, "link", "set", "lo", "up"});
    ip({"-n", n.ns, "addr", "add", n.address + "/24", "dev", n.ns_veth});
    ip({"-n", n.ns, "link", "set", n.ns_veth, "up"});
    return n;
}

RigNode& Rig::node(const std::string& name) {
    for (auto& node : nodes_) {
        if (node->name == name) return *node;
    }
    throw std::runtime_error("no rig node " + name);
}

std::vector<RigNode*> Rig::nodes() {
    std::vector<RigNode*> all;
    for (auto& node : nodes_) all.push_back(node.get());
    return all;
}

pg::Command Rig::in_ns(const RigNode& node, const std::string& program, const std::vector<std::string>& args,
                       const std::vector<std::pair<std::string, std::string>>& env) const {
    static const std::string setpriv = first_existing({"/usr/bin/setpriv", "/bin/setpriv"});
    const auto& user = TestUser::get();
    pg::Command command(ip_);
    command.args({"netns", "exec", node.ns, setpriv, "--reuid=" + std::to_string(user.uid()),
                  "--regid=" + std::to_string(user.gid()), "--init-groups", "--", program});
    command.args(args);
    command.clear_env()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", (node.dir / "home").string())
        .env("XDG_RUNTIME_DIR", (node.dir / "run").string())
        .env("USER", user.name())
        .env("LOGNAME", user.name())
        .env("LANG", "C")
        .env("PGCONNECT_TIMEOUT", "3")
        .cwd(node.dir);
    for (const auto& [name, value] : env) command.env(name, value);
    return command;
}

pg::CommandResult Rig::autoctl(const RigNode& node, const std::vector<std::string>& args,
                               std::chrono::seconds timeout) const {
    return in_ns(node, binary_.string(), args).timeout(timeout).run_unchecked();
}

pid_t Rig::start_autoctl(RigNode& node, const std::vector<std::string>& args) {
    const pid_t pid = in_ns(node, binary_.string(), args).output_file(node.log_file()).start_background();
    children_.insert(pid);
    seen_.insert(pid);
    node.supervisor = pid;
    return pid;
}

pg::CommandResult Rig::psql(const RigNode& node, const std::string& conninfo, const std::string& sql,
                            std::chrono::seconds timeout) const {
    return in_ns(node, pg_program("psql").string(),
                 {"-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql})
        .timeout(timeout)
        .run_unchecked();
}

fs::path Rig::pg_program(const std::string& name) const {
    static const pg::PgBindir bindir = pg::find_bindir();
    return bindir.program(name);
}

bool Rig::in_rig_namespace(pid_t pid) const {
    const auto inode = ns_inode("/proc/" + std::to_string(pid) + "/ns/net");
    if (!inode) return false;
    for (const auto& ns : created_namespaces_) {
        if (ns_inode("/run/netns/" + ns) == inode) return true;
    }
    return false;
}

std::vector<pid_t> Rig::namespace_pids(const RigNode& node) const {
    std::vector<pid_t> pids;
    const auto result = ip({"netns", "pids", node.ns}, false);
    std::istringstream words(result.out);
    long pid = 0;
    while (words >> pid) pids.push_back(static_cast<pid_t>(pid));
    return pids;
}

void Rig::track_processes() {
    for (const auto& node : nodes_) {
        if (const auto contents = common::parse_pid_file(read_text(node->pid_file()))) {
            if (in_rig_namespace(contents->pid)) seen_.insert(contents->pid);
            for (const auto& [pid, name] : contents->services) {
                if (in_rig_namespace(pid)) seen_.insert(pid);
            }
        }
        if (const auto postmaster = pg::parse_postmaster_pid(read_text(node->pgdata / "postmaster.pid"))) {
            if (in_rig_namespace(postmaster->pid)) seen_.insert(postmaster->pid);
        }
    }
}

void Rig::reap_children(std::chrono::milliseconds limit) {
    wait_until(
        [&] {
            for (auto it = children_.begin(); it != children_.end();) {
                int status = 0;
                const pid_t reaped = ::waitpid(*it, &status, WNOHANG);
                if (reaped == *it || (reaped < 0 && errno == ECHILD)) {
                    it = children_.erase(it);
                } else {
                    ++it;
                }
            }
            return children_.empty();
        },
        limit, 100ms);
}

std::vector<std::string> Rig::teardown() noexcept {
    std::vector<std::string> leftovers;
    if (torn_down_) return leftovers;
    torn_down_ = true;
    try {
        track_processes();
        // 1. autoctl stop of every node we ran, all at once; then wait for them and for the
        //    supervisors (SIGTERM to a supervisor stops its keeper, then Postgres).
        for (const auto& node : nodes_) {
            if (!node->supervisor) continue;
            try {
                const pid_t pid = in_ns(*node, binary_.string(), {"stop", "--pgdata", node->pgdata.string()})
                                      .output_file(node->log_file())
                                      .start_background();
                children_.insert(pid);
            } catch (const std::exception& e) {
                std::cerr << "autoctl stop " << node->name << ": " << e.what() << "\n";
            }
        }
        reap_children(45s);
        // 2. Whatever is left in our namespaces, and every pid we saw that still runs in one.
        for (int round = 0; round < 3; ++round) {
            track_processes();
            std::vector<pid_t> left;
            for (const auto& node : nodes_) {
                for (const pid_t pid : namespace_pids(*node)) left.push_back(pid);
            }
            for (const pid_t pid : seen_) {
                if (process_alive(pid) && in_rig_namespace(pid)) left.push_back(pid);
            }
            for (const pid_t pid : children_) left.push_back(pid);
            if (left.empty()) break;
            for (const pid_t pid : left) {
                seen_.insert(pid);
                ::kill(pid, SIGKILL);
            }
            reap_children(5s);
            wait_until([&] { return std::none_of(left.begin(), left.end(), process_alive); }, 10s, 100ms);
        }
        for (const auto& node : nodes_) {
            for (const pid_t pid : namespace_pids(*node)) {
                leftovers.push_back("process " + std::to_string(pid) + " in namespace " + node->ns);
            }
        }
        for (const pid_t pid : seen_) {
            if (process_alive(pid) && in_rig_namespace(pid)) leftovers.push_back("process " + std::to_string(pid));
        }
    } catch (const std::exception& e) {
        leftovers.push_back(std::string("stopping the processes failed: ") + e.what());
    }

    // 3. The namespaces (their veths go with them), the bridge side of any veth left, the bridge.
    try {
        for (const auto& ns : created_namespaces_) ip({"netns", "del", ns}, false);
        for (const auto& node : nodes_) {
            if (ip({"link", "show", node->host_veth}, false).is_success()) ip({"link", "del", node->host_veth}, false);
        }
        if (bridge_created_) ip({"link", "del", bridge_}, false);
        const auto namespaces = ip({"netns", "list"}, false).out;
        std::istringstream lines(namespaces);
        std::string line;
        while (std::getline(lines, line)) {
            if (line.rfind(prefix_ + "-", 0) == 0) leftovers.push_back("namespace " + line);
        }
        const auto links = ip({"-o", "link", "show"}, false).out;
        std::istringstream link_lines(links);
        const std::string veth_prefix = "av" + std::to_string(pid_);
        while (std::getline(link_lines, line)) {
            if (line.find(" " + bridge_ + ":") != std::string::npos || line.find(" " + bridge_ + "@") != std::string::npos ||
                line.find(" " + veth_prefix + "n") != std::string::npos ||
                line.find(" " + veth_prefix + "p") != std::string::npos) {
                leftovers.push_back("link " + line.substr(0, 80));
            }
        }
    } catch (const std::exception& e) {
        leftovers.push_back(std::string("removing the network failed: ") + e.what());
    }

    // 4. Files.
    std::error_code ec;
    if (!dir_.empty()) {
        if (std::getenv("AUTOCTL_KEEP_TMP") != nullptr) {
            std::cerr << "AUTOCTL_KEEP_TMP: keeping " << dir_ << "\n";
        } else {
            fs::remove_all(dir_, ec);
            if (fs::exists(dir_)) leftovers.push_back("directory " + dir_.string());
        }
    }
    return leftovers;
}

std::string Rig::logs_tail(std::size_t bytes) const {
    std::ostringstream out;
    for (const auto& node : nodes_) {
        const auto text = read_text(node->log_file());
        if (text.empty()) continue;
        out << "---- " << node->name << " (" << node->address << ") ----\n"
            << (text.size() <= bytes ? text : "[...]\n" + text.substr(text.size() - bytes)) << "\n";
    }
    return out.str();
}

}  // namespace autoctl::rig

// The docker compose rig of the Citus tutorial, checked without a Docker engine.
//
// docker/docker-compose.yml, docker/docker-compose-scale.yml, docker/Dockerfile and
// docs/tutorial.md are read as text: the named topology has the tutorial's services with the
// right autoctl commands, volumes and dependencies, the app's URI is the formation URI of the
// coordinators, the scale file's services can scale, the Dockerfile builds what CMake needs and
// runs it where the compose files expect, and every autoctl command of the tutorial is either a
// compose command or a command (with its options) of the built autoctl (AUTOCTL_BINARY help).

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.hpp"
#include "yaml_subset.hpp"

namespace {

using autoctl::test::yaml::Node;
using autoctl::test::yaml::split_words;

const std::string kSourceDir = AUTOCTL_SOURCE_DIR;
const std::string kBinary = AUTOCTL_BINARY;

const std::string kMainCompose = "docker-compose.yml";
const std::string kScaleCompose = "docker-compose-scale.yml";

const std::vector<std::string> kNamedNodes = {"coord0a",  "coord0b",  "worker1a", "worker1b",
                                              "worker2a", "worker2b", "worker3a", "worker3b"};

std::string read_text(const std::string& relative) {
    std::ifstream in(kSourceDir + "/" + relative, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + kSourceDir + "/" + relative);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

const Node& compose(const std::string& file) {
    static std::map<std::string, Node> cache;
    auto it = cache.find(file);
    if (it == cache.end()) it = cache.emplace(file, autoctl::test::yaml::parse(read_text("docker/" + file))).first;
    return it->second;
}

const Node& services(const std::string& file) {
    const Node* s = compose(file).find("services");
    if (s == nullptr || !s->is_map()) throw std::runtime_error(file + " has no services mapping");
    return *s;
}

const Node& service(const std::string& file, const std::string& name) {
    const Node* s = services(file).find(name);
    if (s == nullptr) throw std::runtime_error(file + " has no service " + name);
    return *s;
}

std::string scalar_at(const Node& node, const std::string& key) {
    const Node* v = node.find(key);
    return v != nullptr && v->is_scalar() ? v->text : std::string();
}

// A service's command as compose runs it: a string split into words, or a sequence of words.
std::vector<std::string> command_of(const Node& svc) {
    const Node* c = svc.find("command");
    if (c == nullptr) return {};
    if (c->is_scalar()) return split_words(c->text);
    std::vector<std::string> words;
    if (c->is_seq()) {
        for (const auto& e : c->elements) words.push_back(e.text);
    }
    return words;
}

// The value of --name in argv ("--name value" or "--name=value"), "" when absent.
std::string option_value(const std::vector<std::string>& argv, const std::string& name) {
    for (std::size_t i = 0; i < argv.size(); ++i) {
        if (argv[i] == name && i + 1 < argv.size()) return argv[i + 1];
        if (argv[i].rfind(name + "=", 0) == 0) return argv[i].substr(name.size() + 1);
    }
    return "";
}

bool has_flag(const std::vector<std::string>& argv, const std::string& name) {
    return std::find(argv.begin(), argv.end(), name) != argv.end();
}

// The command path of an autoctl argv: the words after "autoctl" up to the first option.
std::vector<std::string> command_path(const std::vector<std::string>& argv) {
    std::vector<std::string> path;
    for (std::size_t i = 1; i < argv.size() && argv[i].rfind("-", 0) != 0; ++i) path.push_back(argv[i]);
    return path;
}

std::string join(const std::vector<std::string>& words, const std::string& sep = " ") {
    std::string out;
    for (std::size_t i = 0; i < words.size(); ++i) out += (i > 0 ? sep : "") + words[i];
    return out;
}

std::vector<std::string> options_of(const std::vector<std::string>& argv) {
    std::vector<std::string> out;
    for (const auto& w : argv) {
        if (w.rfind("--", 0) == 0) out.push_back(w.substr(0, w.find('=')));
    }
    return out;
}

std::map<std::string, std::string> environment_of(const Node& svc) {
    std::map<std::string, std::string> env;
    const Node* e = svc.find("environment");
    if (e == nullptr) return env;
    if (e->is_map()) {
        for (const auto& [k, v] : e->items) env[k] = v.text;
    } else if (e->is_seq()) {
        for (const auto& item : e->elements) {
            const auto eq = item.text.find('=');
            env[item.text.substr(0, eq)] = eq == std::string::npos ? "" : item.text.substr(eq + 1);
        }
    }
    return env;
}

// depends_on as service -> condition (the short list form means service_started).
std::map<std::string, std::string> depends_on(const Node& svc) {
    std::map<std::string, std::string> deps;
    const Node* d = svc.find("depends_on");
    if (d == nullptr) return deps;
    if (d->is_seq()) {
        for (const auto& e : d->elements) deps[e.text] = "service_started";
    } else if (d->is_map()) {
        for (const auto& [k, v] : d->items) {
            const std::string cond = scalar_at(v, "condition");
            deps[k] = cond.empty() ? "service_started" : cond;
        }
    }
    return deps;
}

std::vector<std::string> volumes_of(const Node& svc) {
    std::vector<std::string> out;
    const Node* v = svc.find("volumes");
    if (v != nullptr && v->is_seq()) {
        for (const auto& e : v->elements) out.push_back(e.text);
    }
    return out;
}

// --- the Dockerfile ----------------------------------------------------------------------------

struct Dockerfile {
    std::vector<std::string> instructions;  // continuation lines joined, comments dropped
};

Dockerfile dockerfile() {
    Dockerfile df;
    std::istringstream in(read_text("docker/Dockerfile"));
    std::string line, current;
    while (std::getline(in, line)) {
        const auto first = line.find_first_not_of(" \t");
        if (first == std::string::npos || line[first] == '#') continue;
        line = line.substr(first);
        if (!line.empty() && line.back() == '\\') {
            current += line.substr(0, line.size() - 1) + " ";
            continue;
        }
        df.instructions.push_back(current + line);
        current.clear();
    }
    if (!current.empty()) df.instructions.push_back(current);
    return df;
}

std::string keyword(const std::string& instruction) {
    std::string k = instruction.substr(0, instruction.find(' '));
    std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::toupper(c); });
    return k;
}

// ENV values of the runtime stage (the last FROM), "KEY=value" pairs.
std::map<std::string, std::string> runtime_env() {
    std::map<std::string, std::string> env;
    for (const auto& ins : dockerfile().instructions) {
        if (keyword(ins) == "FROM") env.clear();
        if (keyword(ins) != "ENV") continue;
        for (const auto& word : split_words(ins.substr(4))) {
            const auto eq = word.find('=');
            if (eq != std::string::npos) env[word.substr(0, eq)] = word.substr(eq + 1);
        }
    }
    return env;
}

// --- the built autoctl -------------------------------------------------------------------------

autoctl::test::ProcessResult run_autoctl(std::vector<std::string> args) {
    args.insert(args.begin(), kBinary);
    return autoctl::test::run_process(args, {"PATH=/usr/bin:/bin", "HOME=/tmp", "LC_ALL=C"});
}

// The leaves of `autoctl help`: "show state", "perform failover", "run", ...
const std::set<std::string>& command_tree() {
    static std::set<std::string> leaves;
    if (!leaves.empty()) return leaves;
    const auto result = run_autoctl({"help"});
    std::istringstream in(result.out + result.err);
    std::string line, header;
    static const std::regex header_re(R"(^  autoctl( .+)?$)");
    static const std::regex entry_re(R"(^  ([+ ]) (\S+)\s)");
    std::smatch m;
    while (std::getline(in, line)) {
        if (std::regex_match(line, m, header_re)) {
            header = m[1].matched ? m[1].str().substr(1) : "";
        } else if (std::regex_search(line, m, entry_re) && m[1].str() == " ") {
            leaves.insert(header.empty() ? m[2].str() : header + " " + m[2].str());
        }
    }
    return leaves;
}

std::string help_of(const std::vector<std::string>& path) {
    auto args = path;
    args.push_back("--help");
    const auto result = run_autoctl(args);
    return result.out + result.err;
}

bool help_mentions(const std::string& help, const std::string& option) {
    const std::regex re("(^|[^a-z-])" + option + "($|[^a-z-])");
    return std::regex_search(help, re);
}

// --- the tutorial ------------------------------------------------------------------------------

struct CodeLine {
    int number;
    std::string text;
};

std::vector<CodeLine> code_lines() {
    std::vector<CodeLine> lines;
    std::istringstream in(read_text("docs/tutorial.md"));
    std::string line;
    bool inside = false;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (line.rfind("```", 0) == 0) {
            inside = !inside;
            continue;
        }
        if (inside) lines.push_back({number, line});
    }
    return lines;
}

// A command of the tutorial, from a code line: "$ docker compose [-f F] exec SVC autoctl ..." or
// a bare "autoctl ..." line.
struct TutorialCommand {
    int line = 0;
    std::string compose_file;  // "" when not run through docker compose
    std::string subcommand;    // compose's: up, exec, down, ...
    std::string service;       // for exec
    std::vector<std::string> argv;  // what runs in the container (exec), or the bare autoctl command
};

std::vector<TutorialCommand> tutorial_commands() {
    std::vector<TutorialCommand> out;
    for (const auto& [number, text] : code_lines()) {
        std::string t = text;
        const bool prompt = t.rfind("$ ", 0) == 0;
        if (prompt) t = t.substr(2);
        std::vector<std::string> words;
        try {
            words = split_words(t);
        } catch (const std::exception&) {
            continue;  // SQL or output with an odd quote
        }
        if (words.empty()) continue;
        TutorialCommand cmd;
        cmd.line = number;
        if (words[0] == "autoctl") {
            cmd.argv = words;
            out.push_back(cmd);
            continue;
        }
        if (!prompt || words.size() < 2 || words[0] != "docker" || words[1] != "compose") continue;
        std::size_t i = 2;
        cmd.compose_file = kMainCompose;
        while (i < words.size() && words[i].rfind("-", 0) == 0) {
            if ((words[i] == "-f" || words[i] == "--file") && i + 1 < words.size()) {
                cmd.compose_file = words[++i];
            }
            ++i;
        }
        if (i >= words.size()) continue;
        cmd.subcommand = words[i++];
        if (cmd.subcommand == "exec") {
            while (i < words.size() && words[i].rfind("-", 0) == 0) ++i;
            if (i >= words.size()) continue;
            cmd.service = words[i++];
            cmd.argv.assign(words.begin() + static_cast<long>(i), words.end());
        }
        out.push_back(cmd);
    }
    return out;
}

// The "create ..." commands of both compose files.
std::vector<std::vector<std::string>> compose_create_commands() {
    std::vector<std::vector<std::string>> out;
    for (const auto& file : {kMainCompose, kScaleCompose}) {
        for (const auto& [name, svc] : services(file).items) {
            const auto argv = command_of(svc);
            if (argv.size() >= 2 && argv[0] == "autoctl" && argv[1] == "create") out.push_back(argv);
        }
    }
    return out;
}

// The node data folder, from the Dockerfile: PGDATA, and the volume folder that holds it.
std::string image_pgdata() { return runtime_env()["PGDATA"]; }

std::string parent_dir(const std::string& path) { return path.substr(0, path.rfind('/')); }

int expected_group(const std::string& node) {
    if (node.rfind("coord", 0) == 0) return 0;
    return node[6] - '0';  // workerNx
}

std::string monitor_uri() {
    return option_value(command_of(service(kMainCompose, "coord0a")), "--monitor");
}

// postgres://h1:p1,h2:p2/db?target_session_attrs=read-write&sslmode=require, from the coordinators'
// commands (the order of registration: coord0b starts after coord0a).
std::string expected_formation_uri() {
    std::vector<std::string> hosts;
    std::string dbname;
    for (const auto& name : {"coord0a", "coord0b"}) {
        const auto argv = command_of(service(kMainCompose, name));
        const std::string port = option_value(argv, "--pgport");
        hosts.push_back(option_value(argv, "--hostname") + ":" + (port.empty() ? "5432" : port));
        dbname = option_value(argv, "--dbname");
    }
    return "postgres://" + join(hosts, ",") + "/" + dbname + "?target_session_attrs=read-write&sslmode=require";
}

// --- the YAML subset --------------------------------------------------------------------------

TEST(YamlSubset, ReadsTheShapesTheComposeFilesUse) {
    const Node doc = autoctl::test::yaml::parse(
        "# comment\n"
        "services:\n"
        "  a:\n"
        "    command: >-\n"
        "      autoctl create worker\n"
        "      --group 2   # not a comment inside a block scalar\n"
        "    env:\n"
        "      URI: \"postgres://h:1/db?x=y&z=w\"  # a comment\n"
        "      Q: 'it''s'\n"
        "    list:\n"
        "      - one\n"
        "      - key: value\n"
        "        other: 2\n"
        "      - |\n"
        "        line 1\n"
        "        line 2\n"
        "    same_indent:\n"
        "    - x\n"
        "volumes:\n"
        "  data:\n");
    const Node* a = doc.find("services")->find("a");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->find("command")->text, "autoctl create worker --group 2   # not a comment inside a block scalar");
    EXPECT_EQ(a->find("env")->find("URI")->text, "postgres://h:1/db?x=y&z=w");
    EXPECT_EQ(a->find("env")->find("Q")->text, "it's");
    const Node* list = a->find("list");
    ASSERT_TRUE(list->is_seq());
    ASSERT_EQ(list->elements.size(), 3u);
    EXPECT_EQ(list->elements[0].text, "one");
    EXPECT_EQ(list->elements[1].find("other")->text, "2");
    EXPECT_EQ(list->elements[2].text, "line 1\nline 2\n");
    EXPECT_EQ(a->find("same_indent")->elements.at(0).text, "x");
    EXPECT_EQ(doc.find("volumes")->find("data")->kind, Node::Kind::Null);
    EXPECT_EQ(split_words("sh -c 'a b' \"c d\" e\\ f"), (std::vector<std::string>{"sh", "-c", "a b", "c d", "e f"}));
}

TEST(YamlSubset, RefusesWhatItDoesNotRead) {
    using autoctl::test::yaml::parse;
    using autoctl::test::yaml::ParseError;
    EXPECT_THROW(parse("x: &anchor\n  a: 1\n"), ParseError);
    EXPECT_THROW(parse("x:\n  <<: *anchor\n"), ParseError);
    EXPECT_THROW(parse("x: [1, 2]\n"), ParseError);
    EXPECT_THROW(parse("x: {a: 1}\n"), ParseError);
    EXPECT_THROW(parse("x:\n  a: 1\n   b: 2\n"), ParseError);
    EXPECT_THROW(parse("x: 1\nx: 2\n"), ParseError);
}

TEST(ComposeFiles, UseNoVariableInterpolation) {
    for (const auto& file : {kMainCompose, kScaleCompose}) {
        const std::string text = read_text("docker/" + file);
        EXPECT_EQ(text.find('$'), std::string::npos) << file << ": compose would interpolate a $ variable";
    }
}

// --- docker-compose.yml --------------------------------------------------------------------------

TEST(ComposeFile, HasTheTutorialServices) {
    std::vector<std::string> expected = {"monitor"};
    expected.insert(expected.end(), kNamedNodes.begin(), kNamedNodes.end());
    expected.push_back("app");
    auto actual = services(kMainCompose).keys();
    std::sort(expected.begin(), expected.end());
    std::sort(actual.begin(), actual.end());
    EXPECT_EQ(actual, expected);
}

TEST(ComposeFile, EveryServiceRunsTheImageBuiltFromTheDockerfile) {
    for (const auto& [name, svc] : services(kMainCompose).items) {
        SCOPED_TRACE(name);
        EXPECT_EQ(scalar_at(svc, "image"), "autoctl:citus");
        const Node* build = svc.find("build");
        ASSERT_NE(build, nullptr);
        EXPECT_EQ(scalar_at(*build, "context"), "..");
        EXPECT_EQ(scalar_at(*build, "dockerfile"), "docker/Dockerfile");
        EXPECT_EQ(scalar_at(svc, "hostname"), name) << "nodes register with --hostname <service name>";
        EXPECT_EQ(scalar_at(svc, "init"), "true") << "an init process reaps what the supervisor leaves";
    }
}

TEST(ComposeFile, MonitorIsCreatedAndRunsWithAHealthCheck) {
    const Node& monitor = service(kMainCompose, "monitor");
    const auto argv = command_of(monitor);
    ASSERT_GE(argv.size(), 3u);
    EXPECT_EQ(join({argv[0], argv[1], argv[2]}), "autoctl create monitor");
    EXPECT_TRUE(has_flag(argv, "--ssl-self-signed"));
    EXPECT_EQ(option_value(argv, "--auth"), "trust");
    EXPECT_TRUE(has_flag(argv, "--run"));
    EXPECT_EQ(option_value(argv, "--hostname"), "monitor");
    EXPECT_EQ(option_value(argv, "--pgdata"), image_pgdata());
    EXPECT_FALSE(has_flag(argv, "--pg-hba-lan"));

    const Node* health = monitor.find("healthcheck");
    ASSERT_NE(health, nullptr) << "the nodes wait for a healthy monitor";
    const std::string test = scalar_at(*health, "test");
    EXPECT_NE(test.find("autoctl show state"), std::string::npos) << test;
    EXPECT_TRUE(depends_on(monitor).empty());
}

TEST(ComposeFile, CoordinatorsAndWorkersAreCreatedAsTheTutorialSays) {
    const std::string uri = monitor_uri();
    EXPECT_EQ(uri, "postgres://autoctl_node@monitor:5432/pg_auto_failover?sslmode=require");
    for (const auto& name : kNamedNodes) {
        SCOPED_TRACE(name);
        const auto argv = command_of(service(kMainCompose, name));
        ASSERT_GE(argv.size(), 3u);
        const bool coordinator = name.rfind("coord", 0) == 0;
        EXPECT_EQ(join({argv[0], argv[1], argv[2]}),
                  coordinator ? "autoctl create coordinator" : "autoctl create worker");
        if (coordinator) {
            EXPECT_EQ(option_value(argv, "--group"), "") << "the coordinator is group 0";
        } else {
            ASSERT_GE(argv.size(), 5u);
            EXPECT_EQ(argv[3], "--group");
            EXPECT_EQ(argv[4], std::to_string(expected_group(name)));
        }
        EXPECT_EQ(option_value(argv, "--pgdata"), image_pgdata());
        EXPECT_EQ(option_value(argv, "--hostname"), name);
        EXPECT_EQ(option_value(argv, "--name"), name);
        EXPECT_EQ(option_value(argv, "--dbname"), "citus");
        EXPECT_EQ(option_value(argv, "--monitor"), uri);
        EXPECT_TRUE(has_flag(argv, "--ssl-self-signed"));
        EXPECT_EQ(option_value(argv, "--auth"), "trust");
        EXPECT_TRUE(has_flag(argv, "--pg-hba-lan"));
        EXPECT_TRUE(has_flag(argv, "--run"));
    }
}

TEST(ComposeFile, MonitorUriPointsAtTheMonitorService) {
    const auto argv = command_of(service(kMainCompose, "monitor"));
    const std::string port = option_value(argv, "--pgport");
    const std::string expected = "postgres://autoctl_node@" + option_value(argv, "--hostname") + ":" +
                                 (port.empty() ? "5432" : port) +
                                 "/pg_auto_failover?sslmode=" + (has_flag(argv, "--no-ssl") ? "prefer" : "require");
    EXPECT_EQ(monitor_uri(), expected);
}

TEST(ComposeFile, EachNodeHasAVolumeOfItsOwnHoldingPgdata) {
    const std::string pgdata = image_pgdata();
    const std::string mount = parent_dir(pgdata);
    ASSERT_FALSE(pgdata.empty());
    const Node* declared = compose(kMainCompose).find("volumes");
    ASSERT_NE(declared, nullptr);
    std::set<std::string> used;
    std::vector<std::string> nodes = {"monitor"};
    nodes.insert(nodes.end(), kNamedNodes.begin(), kNamedNodes.end());
    for (const auto& name : nodes) {
        SCOPED_TRACE(name);
        const auto volumes = volumes_of(service(kMainCompose, name));
        ASSERT_EQ(volumes.size(), 1u);
        EXPECT_EQ(volumes[0], name + "-data:" + mount);
        const std::string volume = volumes[0].substr(0, volumes[0].find(':'));
        EXPECT_TRUE(used.insert(volume).second) << "volume shared with another service: " << volume;
        EXPECT_NE(declared->find(volume), nullptr) << "not declared under the top-level volumes";
    }
    EXPECT_EQ(declared->items.size(), nodes.size());
    EXPECT_TRUE(volumes_of(service(kMainCompose, "app")).empty()) << "the app keeps no data";
}

TEST(ComposeFile, NodesWaitForTheMonitorAndSecondNodesForTheFirst) {
    for (const auto& name : kNamedNodes) {
        SCOPED_TRACE(name);
        const auto deps = depends_on(service(kMainCompose, name));
        ASSERT_EQ(deps.count("monitor"), 1u);
        EXPECT_EQ(deps.at("monitor"), "service_healthy");
        if (name.back() == 'b') {
            const std::string first = name.substr(0, name.size() - 1) + "a";
            ASSERT_EQ(deps.count(first), 1u) << "the b node starts after its a node";
            EXPECT_EQ(deps.size(), 2u);
        } else {
            EXPECT_EQ(deps.size(), 1u);
        }
    }
    const auto app = depends_on(service(kMainCompose, "app"));
    ASSERT_EQ(app.count("monitor"), 1u);
    EXPECT_EQ(app.at("monitor"), "service_healthy");
}

TEST(ComposeFile, AppConnectsToTheFormationUri) {
    const Node& app = service(kMainCompose, "app");
    auto env = environment_of(app);
    const std::string uri = expected_formation_uri();
    EXPECT_EQ(uri, "postgres://coord0a:5432,coord0b:5432/citus?target_session_attrs=read-write&sslmode=require");
    EXPECT_EQ(env["FORMATION_URI"], uri);
    // The same URI as libpq's environment, for a plain psql.
    EXPECT_EQ(env["PGHOST"], "coord0a,coord0b");
    EXPECT_EQ(env["PGPORT"], "5432");
    EXPECT_EQ(env["PGDATABASE"], "citus");
    EXPECT_EQ(env["PGTARGETSESSIONATTRS"], "read-write");
    EXPECT_EQ(env["PGSSLMODE"], "require");
    EXPECT_EQ(env["PG_AUTOCTL_MONITOR"], monitor_uri());
    const std::string script = join(command_of(app));
    EXPECT_NE(script.find("autoctl show uri --formation default"), std::string::npos) << script;
}

// --- docker-compose-scale.yml ------------------------------------------------------------------

TEST(ScaleComposeFile, HasServicesThatScale) {
    auto names = services(kScaleCompose).keys();
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"coord", "monitor", "worker"}));
    for (const auto& [name, svc] : services(kScaleCompose).items) {
        SCOPED_TRACE(name);
        EXPECT_EQ(scalar_at(svc, "image"), "autoctl:citus");
        // What would make two replicas collide.
        EXPECT_EQ(svc.find("container_name"), nullptr);
        EXPECT_EQ(svc.find("ports"), nullptr);
        if (name != "monitor") {
            EXPECT_EQ(svc.find("hostname"), nullptr);
        }
        for (const auto& volume : volumes_of(svc)) {
            EXPECT_EQ(volume, parent_dir(image_pgdata())) << "replicas need anonymous volumes";
        }
    }
    EXPECT_EQ(compose(kScaleCompose).find("volumes"), nullptr);
}

TEST(ScaleComposeFile, CommandsAreTheTutorials) {
    const auto monitor = command_of(service(kScaleCompose, "monitor"));
    EXPECT_EQ(monitor, command_of(service(kMainCompose, "monitor")));
    for (const std::string kind : {"coord", "worker"}) {
        SCOPED_TRACE(kind);
        const Node& svc = service(kScaleCompose, kind);
        const auto argv = command_of(svc);
        ASSERT_GE(argv.size(), 3u);
        EXPECT_EQ(join({argv[0], argv[1], argv[2]}),
                  kind == "coord" ? "autoctl create coordinator" : "autoctl create worker");
        for (const auto& per_node : {"--group", "--name", "--hostname"}) {
            EXPECT_FALSE(has_flag(argv, per_node)) << per_node << " would be the same for every replica";
        }
        EXPECT_TRUE(has_flag(argv, "--ssl-self-signed"));
        EXPECT_EQ(option_value(argv, "--auth"), "trust");
        EXPECT_TRUE(has_flag(argv, "--pg-hba-lan"));
        EXPECT_TRUE(has_flag(argv, "--run"));
        EXPECT_EQ(option_value(argv, "--pgdata"), image_pgdata());
        std::string uri = option_value(argv, "--monitor");
        if (uri.empty()) uri = environment_of(svc)["PG_AUTOCTL_MONITOR"];
        EXPECT_EQ(uri, monitor_uri());
        const auto deps = depends_on(svc);
        ASSERT_EQ(deps.count("monitor"), 1u);
        EXPECT_EQ(deps.at("monitor"), "service_healthy");
    }
}

// --- docker/Dockerfile -------------------------------------------------------------------------

TEST(Dockerfile, BuildsOnBookwormAndRunsOnPostgres15WithCitus) {
    const auto df = dockerfile();
    std::vector<std::string> froms, runs, copies, users;
    std::string runtime_default;
    for (const auto& ins : df.instructions) {
        const auto k = keyword(ins);
        if (k == "FROM") froms.push_back(ins);
        if (k == "RUN") runs.push_back(ins);
        if (k == "COPY") copies.push_back(ins);
        if (k == "USER") users.push_back(ins);
        if (k == "ARG" && ins.find("RUNTIME_IMAGE=") != std::string::npos) {
            runtime_default = ins.substr(ins.find('=') + 1);
        }
    }
    ASSERT_EQ(froms.size(), 2u) << "two stages: build, runtime";
    EXPECT_EQ(froms[0], "FROM debian:bookworm AS build");
    EXPECT_EQ(froms[1], "FROM ${RUNTIME_IMAGE} AS runtime");
    EXPECT_EQ(runtime_default, "citusdata/citus:postgres_15");

    const std::string all_runs = join(runs, "\n");
    for (const auto& dep : {"cmake", "g++", "pkg-config", "libpq-dev", "libpqxx-dev", "libcli11-dev", "libspdlog-dev",
                            "libfmt-dev", "nlohmann-json3-dev", "libssl-dev"}) {
        EXPECT_TRUE(help_mentions(all_runs, std::string(dep == std::string("g++") ? "g\\+\\+" : dep)))
            << "build dependency " << dep;
    }
    EXPECT_NE(all_runs.find("cmake -S . -B build -DCMAKE_BUILD_TYPE=Release"), std::string::npos);
    EXPECT_NE(all_runs.find("cmake --build build --target autoctl"), std::string::npos);

    bool copies_binary = false;
    for (const auto& c : copies) {
        if (c.find("--from=build") != std::string::npos && c.find("build/src/cli/autoctl") != std::string::npos) {
            copies_binary = true;
        }
    }
    EXPECT_TRUE(copies_binary);
    ASSERT_FALSE(users.empty());
    EXPECT_EQ(users.back(), "USER postgres") << "Postgres refuses to run as root";

    auto env = runtime_env();
    EXPECT_EQ(env["AUTOCTL_PG_BINDIR"], "/usr/lib/postgresql/15/bin");
    const std::string volume = parent_dir(env["PGDATA"]);
    EXPECT_NE(volume, "") << "PGDATA is a folder under the volume, not the mount point";
    for (const auto& key : {"XDG_CONFIG_HOME", "XDG_DATA_HOME"}) {
        EXPECT_EQ(parent_dir(env[key]), volume) << key << " lives on the node's volume";
    }
}

TEST(Dockerfile, CopiesEveryFolderTheCMakeBuildReads) {
    std::set<std::string> copied;
    for (const auto& ins : dockerfile().instructions) {
        if (keyword(ins) != "COPY" || ins.find("--from") != std::string::npos) continue;
        const auto words = split_words(ins);
        for (std::size_t i = 1; i + 1 < words.size(); ++i) copied.insert(words[i]);
    }
    EXPECT_EQ(copied.count("CMakeLists.txt"), 1u);
    // Top-level folders named by add_subdirectory() in the top CMakeLists.txt, and by
    // ${PROJECT_SOURCE_DIR}/<folder> anywhere under src/.
    std::set<std::string> needed;
    const std::regex subdir_re(R"(add_subdirectory\(\s*([A-Za-z0-9_.-]+))");
    const std::string top = read_text("CMakeLists.txt");
    for (std::sregex_iterator it(top.begin(), top.end(), subdir_re), end; it != end; ++it) needed.insert((*it)[1]);
    const std::regex project_re(R"(\$\{PROJECT_SOURCE_DIR\}/([A-Za-z0-9_.-]+))");
    const auto listing = autoctl::test::run_process({"/usr/bin/find", kSourceDir + "/src", "-name", "CMakeLists.txt"},
                                                    {"PATH=/usr/bin:/bin"});
    std::istringstream files(listing.out);
    std::string file;
    while (std::getline(files, file)) {
        const std::string text = read_text(file.substr(kSourceDir.size() + 1));
        for (std::sregex_iterator it(text.begin(), text.end(), project_re), end; it != end; ++it) {
            needed.insert((*it)[1]);
        }
    }
    ASSERT_FALSE(needed.empty());
    for (const auto& dir : needed) {
        EXPECT_EQ(copied.count(dir), 1u) << "docker/Dockerfile does not COPY " << dir;
    }
}

// --- docs/tutorial.md --------------------------------------------------------------------------

TEST(Tutorial, ComposeCommandsNameServicesOfTheRig) {
    const auto commands = tutorial_commands();
    ASSERT_FALSE(commands.empty());
    std::set<std::string> subcommands;
    for (const auto& cmd : commands) {
        if (cmd.compose_file.empty()) continue;
        SCOPED_TRACE("docs/tutorial.md:" + std::to_string(cmd.line));
        EXPECT_TRUE(cmd.compose_file == kMainCompose || cmd.compose_file == kScaleCompose) << cmd.compose_file;
        subcommands.insert(cmd.subcommand + (cmd.compose_file == kScaleCompose ? " (scale)" : ""));
        if (cmd.subcommand == "exec") {
            EXPECT_NE(services(cmd.compose_file).find(cmd.service), nullptr)
                << cmd.service << " is not a service of " << cmd.compose_file;
            EXPECT_FALSE(cmd.argv.empty());
        }
    }
    for (const auto& expected : {"build", "up", "exec", "down", "up (scale)", "exec (scale)", "down (scale)"}) {
        EXPECT_EQ(subcommands.count(expected), 1u) << "the tutorial never runs docker compose " << expected;
    }
}

TEST(Tutorial, CreateCommandsAreTheComposeFilesCommands) {
    const auto from_compose = compose_create_commands();
    int checked = 0;
    for (const auto& cmd : tutorial_commands()) {
        if (cmd.argv.size() < 2 || cmd.argv[0] != "autoctl" || cmd.argv[1] != "create") continue;
        SCOPED_TRACE("docs/tutorial.md:" + std::to_string(cmd.line) + ": " + join(cmd.argv));
        EXPECT_NE(std::find(from_compose.begin(), from_compose.end(), cmd.argv), from_compose.end())
            << "not the command of any service in the compose files";
        ++checked;
    }
    EXPECT_GE(checked, 5);
}

TEST(Tutorial, OtherAutoctlCommandsAreInTheCommandTree) {
    const auto& tree = command_tree();
    ASSERT_TRUE(tree.count("show state") == 1 && tree.count("show uri") == 1)
        << "could not read the command tree from " << kBinary << " help";
    int checked = 0;
    for (const auto& cmd : tutorial_commands()) {
        if (cmd.argv.empty() || cmd.argv[0] != "autoctl") continue;
        if (cmd.argv.size() >= 2 && cmd.argv[1] == "create") continue;  // the previous test
        SCOPED_TRACE("docs/tutorial.md:" + std::to_string(cmd.line) + ": " + join(cmd.argv));
        const auto path = command_path(cmd.argv);
        ASSERT_EQ(tree.count(join(path)), 1u) << "\"autoctl " << join(path) << "\" is not an autoctl command";
        const std::string help = help_of(path);
        for (const auto& option : options_of(cmd.argv)) {
            EXPECT_TRUE(help_mentions(help, option)) << "autoctl " << join(path) << " has no option " << option;
        }
        ++checked;
    }
    EXPECT_GE(checked, 5);
}

TEST(Tutorial, ComposeCreateOptionsAreKnownToAutoctl) {
    const auto& tree = command_tree();
    for (const auto& argv : compose_create_commands()) {
        SCOPED_TRACE(join(argv));
        auto path = command_path(argv);
        std::set<std::string> extra;
        if (tree.count(join(path)) == 0 && (path.back() == "coordinator" || path.back() == "worker")) {
            // Until autoctl has create coordinator|worker, check against create postgres, which
            // they extend (worker adds --group).
            std::cout << "note: \"autoctl " << join(path) << "\" is not in this build; checking its options "
                      << "against \"autoctl create postgres\"\n";
            if (path.back() == "worker") extra.insert("--group");
            path.back() = "postgres";
        }
        ASSERT_EQ(tree.count(join(path)), 1u) << "\"autoctl " << join(path) << "\" is not an autoctl command";
        const std::string help = help_of(path);
        for (const auto& option : options_of(argv)) {
            if (extra.count(option) != 0) continue;
            EXPECT_TRUE(help_mentions(help, option)) << "autoctl " << join(path) << " has no option " << option;
        }
    }
}

// The rows of every `show state` table: name -> (group, id, host:port).
struct StateRow {
    std::string name, node, host;
};

std::vector<std::vector<StateRow>> state_tables() {
    std::vector<std::vector<StateRow>> tables;
    const auto lines = code_lines();
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].text.find("autoctl show state") == std::string::npos) continue;
        std::vector<StateRow> rows;
        std::size_t j = i + 1;
        if (j < lines.size() && lines[j].text.find("Name |  Node |") != std::string::npos) j += 2;
        for (; j < lines.size() && lines[j].number == lines[j - 1].number + 1; ++j) {
            std::vector<std::string> cells;
            std::istringstream row(lines[j].text);
            std::string cell;
            while (std::getline(row, cell, '|')) {
                const auto a = cell.find_first_not_of(' ');
                const auto b = cell.find_last_not_of(' ');
                cells.push_back(a == std::string::npos ? "" : cell.substr(a, b - a + 1));
            }
            if (cells.size() != 7) break;
            rows.push_back({cells[0], cells[1], cells[2]});
        }
        if (!rows.empty()) tables.push_back(rows);
    }
    return tables;
}

TEST(Tutorial, ShowStateTablesHaveTheEightNodesAsGroupSlashId) {
    const auto tables = state_tables();
    int named = 0;
    for (const auto& table : tables) {
        ASSERT_EQ(table.size(), 8u);
        std::set<std::string> ids;
        const bool is_named = table[0].name == "coord0a";
        named += is_named ? 1 : 0;
        for (std::size_t k = 0; k < table.size(); ++k) {
            const auto& row = table[k];
            SCOPED_TRACE(row.name);
            const auto slash = row.node.find('/');
            ASSERT_NE(slash, std::string::npos) << "Node is group/id in a Citus formation: " << row.node;
            EXPECT_TRUE(ids.insert(row.node.substr(slash + 1)).second) << "node id used twice";
            if (is_named) {
                EXPECT_EQ(row.name, kNamedNodes[k]);
                EXPECT_EQ(row.node.substr(0, slash), std::to_string(expected_group(row.name)));
                EXPECT_EQ(row.host, row.name + ":5432");
            } else {
                EXPECT_EQ(row.name.rfind("node_", 0), 0u) << "scaled nodes are named by the monitor";
            }
        }
    }
    EXPECT_GE(named, 4) << "show state after up, after the failover of group 2, and after each crash";
    EXPECT_EQ(tables.size() - static_cast<std::size_t>(named), 1u) << "one table for the scaled cluster";
}

TEST(Tutorial, WalksTheScenario) {
    const std::string doc = read_text("docs/tutorial.md");
    const std::string pgdata = image_pgdata();
    auto contains = [&doc](const std::string& text) { return doc.find(text) != std::string::npos; };
    EXPECT_TRUE(contains("$ docker compose up"));
    EXPECT_TRUE(contains("$ docker compose -f docker-compose-scale.yml up -d --scale coord=2 --scale worker=6"));
    EXPECT_TRUE(contains("$ docker compose exec monitor autoctl show uri\n"));
    EXPECT_TRUE(contains("   formation | default | " + expected_formation_uri() + "\n"));
    EXPECT_TRUE(contains("$ docker compose exec monitor autoctl perform failover --group 2\n"));
    // The application's table, distributed, with 75 generated rows (no download).
    EXPECT_TRUE(contains("$ docker compose exec app psql\n"));
    const std::regex table_re(
        R"(CREATE TABLE companies\s*\(\s*id\s+bigserial PRIMARY KEY,\s*name\s+text NOT NULL,\s*image_url\s+text,\s*)"
        R"(created_at\s+timestamp without time zone NOT NULL,\s*updated_at\s+timestamp without time zone NOT NULL\s*\);)");
    EXPECT_TRUE(std::regex_search(doc, table_re));
    EXPECT_TRUE(contains("SELECT create_distributed_table('companies', 'id');"));
    EXPECT_TRUE(contains("generate_series(1, 75)"));
    EXPECT_FALSE(contains("curl"));
    EXPECT_TRUE(contains("select count(*) from companies;"));
    // The crashes: pg_control removed, then Postgres stopped, on a worker and on the coordinator.
    for (const auto& node : {"worker1a", "coord0a"}) {
        SCOPED_TRACE(node);
        const std::string rm = std::string("$ docker compose exec ") + node + " rm " + pgdata + "/global/pg_control\n";
        const std::string stop = std::string("$ docker compose exec ") + node +
                                 " /usr/lib/postgresql/15/bin/pg_ctl stop -D " + pgdata + "\n";
        ASSERT_TRUE(contains(rm)) << rm;
        ASSERT_TRUE(contains(stop)) << stop;
        EXPECT_LT(doc.find(rm), doc.find(stop));
    }
    EXPECT_LT(doc.find("perform failover --group 2"), doc.find("exec worker1a rm"));
    EXPECT_LT(doc.find("exec worker1a rm"), doc.find("exec coord0a rm"));
    EXPECT_TRUE(contains("$ docker compose down -v\n"));
    EXPECT_TRUE(contains("tests/rig"));
}

}  // namespace

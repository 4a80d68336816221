#pragma once
// The subset of YAML that docker/*.yml is written in, parsed by indentation: block mappings,
// block sequences (items may be scalars, nested blocks, or mappings starting on the "- " line),
// plain and quoted scalars, literal (|) and folded (>) block scalars with optional "-" chomping,
// and comments. Anchors, aliases, merge keys, tags and flow collections are refused with an
// error naming the line, so the compose files stay within what this test can read.

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace autoctl::test::yaml {

struct ParseError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct Node {
    enum class Kind { Null, Scalar, Map, Seq };
    Kind kind = Kind::Null;
    std::string text;                                 // Scalar
    std::vector<std::pair<std::string, Node>> items;  // Map, in file order
    std::vector<Node> elements;                       // Seq
    int line = 0;                                     // 1-based line where the node starts

    bool is_map() const { return kind == Kind::Map; }
    bool is_seq() const { return kind == Kind::Seq; }
    bool is_scalar() const { return kind == Kind::Scalar; }
    // The value of a key of a mapping, or nullptr (also when this is not a mapping).
    const Node* find(const std::string& key) const;
    std::vector<std::string> keys() const;
};

// Parses a whole document; throws ParseError.
Node parse(const std::string& text);

// Splits a compose command string into words as compose does (shell quoting rules, no
// expansion): whitespace separates, '...' and "..." quote, backslash escapes.
std::vector<std::string> split_words(const std::string& command);

}  // namespace autoctl::test::yaml

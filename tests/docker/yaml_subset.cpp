#include "yaml_subset.hpp"

#include <cctype>
#include <sstream>

namespace autoctl::test::yaml {

const Node* Node::find(const std::string& key) const {
    if (kind != Kind::Map) return nullptr;
    for (const auto& [k, v] : items) {
        if (k == key) return &v;
    }
    return nullptr;
}

std::vector<std::string> Node::keys() const {
    std::vector<std::string> out;
    for (const auto& item : items) out.push_back(item.first);
    return out;
}

namespace {

struct Line {
    int number = 0;       // 1-based
    int indent = 0;       // leading spaces
    std::string raw;      // the whole line, for block scalars
    std::string content;  // without indentation and comment, right-trimmed; empty for blank lines
};

std::string rtrim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.pop_back();
    return s;
}

std::string trim(const std::string& s) {
    std::size_t start = 0;
    while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start])) != 0) ++start;
    return rtrim(s.substr(start));
}

[[noreturn]] void fail(int line, const std::string& what) {
    throw ParseError("line " + std::to_string(line) + ": " + what);
}

// Removes a comment: '#' at the start or after whitespace, outside quotes.
std::string strip_comment(const std::string& s) {
    char quote = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (quote != 0) {
            if (c == '\\' && quote == '"' && i + 1 < s.size()) {
                ++i;
            } else if (c == quote) {
                quote = 0;
            }
            continue;
        }
        if (c == '"' || c == '\'') {
            // A quote only opens a quoted scalar at the start of a value.
            const bool at_value_start = i == 0 || s[i - 1] == ' ';
            if (at_value_start) quote = c;
            continue;
        }
        if (c == '#' && (i == 0 || s[i - 1] == ' ')) return rtrim(s.substr(0, i));
    }
    return rtrim(s);
}

std::vector<Line> split_lines(const std::string& text) {
    std::vector<Line> lines;
    std::istringstream in(text);
    std::string raw;
    int number = 0;
    while (std::getline(in, raw)) {
        ++number;
        if (!raw.empty() && raw.back() == '\r') raw.pop_back();
        Line line;
        line.number = number;
        line.raw = raw;
        std::size_t i = 0;
        while (i < raw.size() && raw[i] == ' ') ++i;
        if (i < raw.size() && raw[i] == '\t') fail(number, "tab in indentation");
        line.indent = static_cast<int>(i);
        line.content = strip_comment(raw.substr(i));
        lines.push_back(line);
    }
    return lines;
}

bool is_block_indicator(const std::string& v) { return v == "|" || v == "|-" || v == ">" || v == ">-"; }

void refuse_unsupported(int line, const std::string& value) {
    if (value.empty()) return;
    const char c = value[0];
    if (c == '&' || c == '*') fail(line, "anchors and aliases are not supported: " + value);
    if (c == '!') fail(line, "tags are not supported: " + value);
    if (c == '{' || c == '[') fail(line, "flow collections are not supported: " + value);
    if (c == '|' || c == '>') {
        if (!is_block_indicator(value)) fail(line, "unsupported block scalar header: " + value);
    }
}

Node scalar(const std::string& value, int line) {
    Node node;
    node.line = line;
    if (value.empty() || value == "~" || value == "null") {
        node.kind = Node::Kind::Null;
        return node;
    }
    node.kind = Node::Kind::Scalar;
    if (value.front() == '"') {
        if (value.size() < 2 || value.back() != '"') fail(line, "unterminated double-quoted scalar");
        std::string out;
        for (std::size_t i = 1; i + 1 < value.size(); ++i) {
            char c = value[i];
            if (c == '\\' && i + 2 < value.size()) {
                c = value[++i];
                if (c == 'n') c = '\n';
                if (c == 't') c = '\t';
            }
            out += c;
        }
        node.text = out;
    } else if (value.front() == '\'') {
        if (value.size() < 2 || value.back() != '\'') fail(line, "unterminated single-quoted scalar");
        std::string out;
        for (std::size_t i = 1; i + 1 < value.size(); ++i) {
            out += value[i];
            if (value[i] == '\'' && i + 2 < value.size() && value[i + 1] == '\'') ++i;
        }
        node.text = out;
    } else {
        node.text = value;
    }
    return node;
}

// Splits "key: value" (or "key:"); returns false when the text is not a mapping entry.
bool split_key(const std::string& content, std::string& key, std::string& value) {
    if (content.empty() || content[0] == '"' || content[0] == '\'') return false;
    for (std::size_t i = 0; i < content.size(); ++i) {
        if (content[i] == ':' && (i + 1 == content.size() || content[i + 1] == ' ')) {
            key = trim(content.substr(0, i));
            value = trim(content.substr(i + 1));
            return !key.empty();
        }
    }
    return false;
}

class Parser {
public:
    explicit Parser(std::vector<Line> lines) : lines_(std::move(lines)) {}

    Node document() {
        skip_blank();
        if (pos_ >= lines_.size()) return Node{};
        Node root = block(lines_[pos_].indent);
        skip_blank();
        if (pos_ < lines_.size()) fail(lines_[pos_].number, "unexpected indentation");
        return root;
    }

private:
    void skip_blank() {
        while (pos_ < lines_.size() && lines_[pos_].content.empty()) ++pos_;
    }

    static bool is_seq_item(const Line& line) {
        return line.content == "-" || line.content.rfind("- ", 0) == 0;
    }

    Node block(int indent) {
        skip_blank();
        const Line& first = lines_[pos_];
        if (first.indent != indent) fail(first.number, "unexpected indentation");
        return is_seq_item(first) ? sequence(indent) : mapping(indent);
    }

    // The value after "key:" or "- ": inline scalar, block scalar, or a nested block.
    Node value_of(const std::string& value, int parent_indent, int line, bool allow_same_indent_seq) {
        refuse_unsupported(line, value);
        if (is_block_indicator(value)) return block_scalar(value, parent_indent, line);
        if (!value.empty()) return scalar(value, line);
        skip_blank();
        if (pos_ < lines_.size()) {
            const Line& next = lines_[pos_];
            if (next.indent > parent_indent) return block(next.indent);
            if (allow_same_indent_seq && next.indent == parent_indent && is_seq_item(next)) {
                return sequence(parent_indent);
            }
        }
        Node null_node;
        null_node.line = line;
        return null_node;
    }

    Node mapping(int indent) {
        Node node;
        node.kind = Node::Kind::Map;
        node.line = lines_[pos_].number;
        while (true) {
            skip_blank();
            if (pos_ >= lines_.size()) break;
            const Line line = lines_[pos_];
            if (line.indent < indent) break;
            if (line.indent > indent) fail(line.number, "unexpected indentation");
            if (is_seq_item(line)) break;  // a sequence at the same indent belongs to the parent key
            std::string key, value;
            if (!split_key(line.content, key, value)) fail(line.number, "expected \"key: value\": " + line.content);
            if (key == "<<") fail(line.number, "merge keys are not supported");
            refuse_unsupported(line.number, key);
            if (node.find(key) != nullptr) fail(line.number, "duplicate key \"" + key + "\"");
            ++pos_;
            node.items.emplace_back(key, value_of(value, indent, line.number, true));
        }
        return node;
    }

    Node sequence(int indent) {
        Node node;
        node.kind = Node::Kind::Seq;
        node.line = lines_[pos_].number;
        while (true) {
            skip_blank();
            if (pos_ >= lines_.size()) break;
            Line& line = lines_[pos_];
            if (line.indent < indent) break;
            if (line.indent > indent) fail(line.number, "unexpected indentation");
            if (!is_seq_item(line)) break;
            const std::string rest = line.content == "-" ? "" : trim(line.content.substr(2));
            std::string key, value;
            if (!rest.empty() && split_key(rest, key, value) && !is_block_indicator(rest)) {
                // "- key: value": a mapping whose keys line up after "- ".
                line.indent = indent + 2;
                line.content = rest;
                node.elements.push_back(mapping(indent + 2));
            } else {
                ++pos_;
                node.elements.push_back(value_of(rest, indent, line.number, false));
            }
        }
        return node;
    }

    Node block_scalar(const std::string& header, int parent_indent, int line) {
        const bool folded = header[0] == '>';
        const bool strip = header.size() == 2;
        std::vector<std::string> parts;
        int block_indent = -1;
        while (pos_ < lines_.size()) {
            const Line& l = lines_[pos_];
            const bool blank = trim(l.raw).empty();
            if (!blank) {
                if (l.indent <= parent_indent) break;
                if (block_indent < 0) block_indent = l.indent;
                if (l.indent < block_indent) fail(l.number, "block scalar line indented less than its first line");
                parts.push_back(l.raw.substr(static_cast<std::size_t>(block_indent)));
            } else {
                parts.emplace_back();
            }
            ++pos_;
        }
        while (!parts.empty() && parts.back().empty()) parts.pop_back();
        std::string text;
        for (std::size_t i = 0; i < parts.size(); ++i) {
            if (i > 0) {
                const bool fold = folded && !parts[i].empty() && !parts[i - 1].empty() && parts[i][0] != ' ' &&
                                  parts[i - 1][0] != ' ';
                text += fold ? " " : "\n";
            }
            text += parts[i];
        }
        if (!strip && !text.empty()) text += "\n";
        Node node;
        node.kind = Node::Kind::Scalar;
        node.text = text;
        node.line = line;
        return node;
    }

    std::vector<Line> lines_;
    std::size_t pos_ = 0;
};

}  // namespace

Node parse(const std::string& text) {
    Parser parser(split_lines(text));
    return parser.document();
}

std::vector<std::string> split_words(const std::string& command) {
    std::vector<std::string> words;
    std::string current;
    bool in_word = false;
    char quote = 0;
    for (std::size_t i = 0; i < command.size(); ++i) {
        const char c = command[i];
        if (quote != 0) {
            if (c == quote) {
                quote = 0;
            } else if (c == '\\' && quote == '"' && i + 1 < command.size()) {
                current += command[++i];
            } else {
                current += c;
            }
            continue;
        }
        if (std::isspace(static_cast<unsigned char>(c)) != 0) {
            if (in_word) words.push_back(current);
            current.clear();
            in_word = false;
        } else if (c == '\'' || c == '"') {
            quote = c;
            in_word = true;
        } else if (c == '\\' && i + 1 < command.size()) {
            current += command[++i];
            in_word = true;
        } else {
            current += c;
            in_word = true;
        }
    }
    if (quote != 0) throw ParseError("unterminated quote in command: " + command);
    if (in_word) words.push_back(current);
    return words;
}

}  // namespace autoctl::test::yaml

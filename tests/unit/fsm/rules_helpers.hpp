#pragma once
// Shared helpers of the rules_*_test.cpp files: one test per state machine rule, each checking the
// goals assigned, the rule name and the sentences that explain them.

#include <gtest/gtest.h>

#include <string>

#include "fsm_test_support.hpp"

namespace autoctl::fsm::testing::rules {

using S = NodeState;

// EXPECT_TRUE(Contains(text, part)): gmock's HasSubstr without linking gmock.
inline ::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
    if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

// `node 1 "node_1" (10.0.0.1:5432)`, as node() names and places nodes.
inline std::string desc(std::int64_t id) {
    return "node " + std::to_string(id) + " \"node_" + std::to_string(id) + "\" (10.0.0." + std::to_string(id) +
           ":5432)";
}

// The event sentence of the assignment of `goal` to node `id`, as goal_sentence() writes it.
inline std::string sentence(std::int64_t id, NodeState goal, const std::string& why) {
    return "Setting goal state of " + desc(id) + " to " + std::string(to_string(goal)) + " " + why + ".";
}

// The reason of the (last) assignment to node `id`, or "<none>".
inline std::string reason_for(const Decision& d, std::int64_t id) {
    const Assignment* a = d.assignment_for(id);
    return a == nullptr ? std::string("<none>") : a->reason;
}

inline bool has_message(const Decision& d, const std::string& part) {
    for (const auto& m : d.messages)
        if (m.find(part) != std::string::npos) return true;
    return false;
}

inline std::string all_messages(const Decision& d) {
    std::string out;
    for (const auto& m : d.messages) out += m + "\n";
    return out;
}

inline Lsn mb(std::uint64_t megabytes) { return Lsn{megabytes * 1024 * 1024}; }

}  // namespace autoctl::fsm::testing::rules

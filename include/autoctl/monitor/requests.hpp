#pragma once
// Carries out one operator request recorded in pgautofailover.request: runs the state machine's
// request function for its group, stores the decision, marks the request done or refused and
// notifies channel autoctl_request_done, all in the caller's transaction.

#include <cstdint>
#include <string>
#include <vector>

#include "autoctl/fsm/group.hpp"

namespace pqxx {
class transaction_base;
}

namespace autoctl::monitor {

struct RequestResult {
    std::int64_t request_id = 0;
    bool found = false;     // false when the request is not pending any more
    bool accepted = false;
    std::string message;    // refusal message and hint, or notices
};

RequestResult handle_request(pqxx::transaction_base& tx, std::int64_t request_id, const fsm::Timing& timing,
                             fsm::TimePoint monitor_start);

std::vector<std::int64_t> pending_requests(pqxx::transaction_base& tx);

}  // namespace autoctl::monitor

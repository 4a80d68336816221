#pragma once
// A transition that cannot finish yet and will once something else happens (a standby catching
// up, a primary being known): logged once at INFO, then at DEBUG while it stays the same, instead
// of an ERROR a second.

#include <string>

#include "autoctl/common/error.hpp"

namespace autoctl::keeper {

class TransitionPending : public common::Error {
public:
    explicit TransitionPending(const std::string& message) : Error(common::ErrorKind::Postgres, message) {}
};

}  // namespace autoctl::keeper

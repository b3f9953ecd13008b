#pragma once
/// Request ids: 16 random hex bytes from a per-thread generator. Thread-safe.
#include <string>

namespace sy {
std::string new_request_id();
}  // namespace sy

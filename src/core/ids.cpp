#include "switchyard/core/ids.hpp"

#include <random>

namespace sy {

std::string new_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "req_";
  id.reserve(4 + 24);
  for (int word = 0; word < 2; ++word) {
    auto v = rng();
    for (int i = 0; i < (word == 0 ? 16 : 8); ++i) {
      id.push_back(kHex[v & 0xF]);
      v >>= 4;
    }
  }
  return id;
}

}  // namespace sy

#include "switchyard/core/ids.hpp"

#include "switchyard/core/random.hpp"

namespace sy {

std::string new_request_id() {
  auto& rng = thread_rng();
  static constexpr char kHex[] = "0123456789abcdef";
  // Filled in a local buffer and copied once: no capacity check per character.
  char id[4 + 24] = {'r', 'e', 'q', '_'};
  char* out = id + 4;
  for (int word = 0; word < 2; ++word) {
    auto v = rng();
    for (int i = 0; i < (word == 0 ? 16 : 8); ++i) {
      *out++ = kHex[v & 0xF];
      v >>= 4;
    }
  }
  return std::string(id, sizeof id);
}

}  // namespace sy

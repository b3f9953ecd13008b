#include "switchyard/core/random.hpp"

namespace sy {

std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

}  // namespace sy

#pragma once
// FNV-1a (64-bit): a fast, stable, non-cryptographic hash for cache keys, fingerprints and ids.

#include <cstdint>
#include <string_view>

namespace sy {

inline constexpr std::uint64_t kFnv1aOffset = 1469598103934665603ull;

/// FNV-1a of `s`, continuing from `h` (pass a previous result to hash several parts as one stream).
inline std::uint64_t fnv1a(std::string_view s, std::uint64_t h = kFnv1aOffset) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace sy

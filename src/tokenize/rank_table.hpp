#pragma once
// Byte string -> rank map for BPE: all token bytes in one arena, looked up through an open-addressing
// table of (hash tag, rank). Built once, then read-only: thread-safe for concurrent lookups.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace sy::tokenize::detail {

class RankTable {
 public:
  static constexpr std::uint32_t kNone = 0xFFFFFFFFu;

  /// Adds a token; returns false when `bytes` is empty or `rank` is taken. Call `finish` afterwards.
  bool add(std::string_view bytes, std::uint32_t rank);
  /// Builds the lookup table. Returns kNone, or the rank of a token whose bytes were added twice.
  /// Ranks need not be dense; `bytes_of` returns empty for gaps.
  std::uint32_t finish();

  /// Rank of exactly these bytes, or kNone.
  std::uint32_t find(const unsigned char* p, std::size_t n) const {
    const std::uint64_t h = hash(p, n);
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    for (std::size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.rank == kNone) return kNone;
      if (slot.tag == tag) {
        const Entry& e = entries_[slot.rank];
        if (e.length == n && std::memcmp(arena_.data() + e.offset, p, n) == 0) return slot.rank;
      }
    }
  }

  std::string_view bytes_of(std::uint32_t rank) const {
    if (rank >= entries_.size()) return {};
    const Entry& e = entries_[rank];
    return std::string_view(arena_).substr(e.offset, e.length);
  }
  std::size_t size() const { return count_; }

  static std::uint64_t hash(const unsigned char* p, std::size_t n) {
    std::uint64_t h = 0x9E3779B97F4A7C15ull ^ (static_cast<std::uint64_t>(n) * 0xC2B2AE3D27D4EB4Full);
    while (n >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      h = mix(h ^ w);
      p += 8;
      n -= 8;
    }
    std::uint64_t w = 0;
    if (n >= 4) {
      std::uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      w = (static_cast<std::uint64_t>(a) << 32) | b;
    } else if (n > 0) {
      w = static_cast<std::uint64_t>(p[0]) | (static_cast<std::uint64_t>(p[n / 2]) << 8) |
          (static_cast<std::uint64_t>(p[n - 1]) << 16);
    }
    return mix(h ^ w);
  }

 private:
  static std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ull;
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ull;
    x ^= x >> 32;
    return x;
  }
  struct Entry {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
  };
  struct Slot {
    std::uint32_t tag = 0;
    std::uint32_t rank = kNone;
  };
  std::string arena_;
  std::vector<Entry> entries_;  // indexed by rank
  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t count_ = 0;
};

}  // namespace sy::tokenize::detail

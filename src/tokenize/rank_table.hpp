#pragma once
// Byte string -> rank map for BPE. Built once, then read-only: thread-safe for concurrent lookups.
//
// Lookups dominate tokenisation and most of them miss the CPU caches, so a probe touches one 16-byte
// slot: tokens of up to 8 bytes (most of them) are stored in the slot itself, packed into a 64-bit key;
// longer ones keep a 64-bit hash there and are confirmed against the byte arena. Two-byte strings, the
// most frequent lookup, have a direct table of their own.
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
    // Every BPE run starts by looking up all adjacent byte pairs: a direct table answers those.
    if (n == 2) return pair_rank_[(std::size_t{p[0]} << 8) | p[1]];
    const std::uint64_t key = n <= 8 ? pack(p, n) : hash(p, n);
    for (std::size_t i = slot_index(key, n);; i = (i + 1) & mask_) {
      const Slot& slot = slots_[i];
      if (slot.rank == kNone) return kNone;
      if (slot.key == key && slot.length == n && (n <= 8 || equals_long(slot.rank, p, n))) return slot.rank;
    }
  }

  std::string_view bytes_of(std::uint32_t rank) const {
    if (rank >= entries_.size()) return {};
    const Entry& e = entries_[rank];
    return std::string_view(arena_).substr(e.offset, e.length);
  }
  std::size_t size() const { return count_; }

 private:
  // The bytes of a string of length 1..8 as a 64-bit value; unique among strings of the same length
  // (the two loads together cover every byte).
  static std::uint64_t pack(const unsigned char* p, std::size_t n) {
    if (n >= 4) {
      std::uint32_t lo, hi;
      std::memcpy(&lo, p, 4);
      std::memcpy(&hi, p + n - 4, 4);
      return (static_cast<std::uint64_t>(hi) << 32) | lo;
    }
    return static_cast<std::uint64_t>(p[0]) | (static_cast<std::uint64_t>(p[n / 2]) << 8) |
           (static_cast<std::uint64_t>(p[n - 1]) << 16);
  }
  static std::uint64_t hash(const unsigned char* p, std::size_t n) {
    std::uint64_t h = 0x9E3779B97F4A7C15ull;
    while (n > 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      h = mix(h ^ w);
      p += 8;
      n -= 8;
    }
    return mix(h ^ pack(p, n));
  }
  static std::uint64_t mix(std::uint64_t x) {
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ull;
    x ^= x >> 32;
    x *= 0xD6E8FEB86659FD93ull;
    x ^= x >> 32;
    return x;
  }
  std::size_t slot_index(std::uint64_t key, std::size_t n) const {
    return mix(key + n * 0xC2B2AE3D27D4EB4Full) & mask_;
  }
  bool equals_long(std::uint32_t rank, const unsigned char* p, std::size_t n) const {
    return std::memcmp(arena_.data() + entries_[rank].offset, p, n) == 0;
  }

  struct Entry {
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
  };
  struct Slot {
    std::uint64_t key = 0;  // packed bytes (length <= 8) or hash
    std::uint32_t rank = kNone;
    std::uint32_t length = 0;
  };
  std::string arena_;
  std::vector<Entry> entries_;  // indexed by rank
  std::vector<Slot> slots_;
  std::vector<std::uint32_t> pair_rank_;  // 65536 entries: rank of every two-byte string
  std::size_t mask_ = 0;
  std::size_t count_ = 0;
};

}  // namespace sy::tokenize::detail

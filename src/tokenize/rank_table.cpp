#include "tokenize/rank_table.hpp"

#include <algorithm>
#include <bit>

namespace sy::tokenize::detail {

bool RankTable::add(std::string_view bytes, std::uint32_t rank) {
  if (bytes.empty() || rank == kNone) return false;
  if (rank >= entries_.size()) entries_.resize(std::size_t{rank} + 1);
  Entry& e = entries_[rank];
  if (e.length != 0) return false;
  e.offset = static_cast<std::uint32_t>(arena_.size());
  e.length = static_cast<std::uint32_t>(bytes.size());
  arena_.append(bytes);
  ++count_;
  return true;
}

std::uint32_t RankTable::finish() {
  // Load factor at most 1/2 keeps probe sequences short for the misses that dominate BPE merging.
  const std::size_t capacity = std::bit_ceil(std::max<std::size_t>(16, count_ * 2));
  slots_.assign(capacity, Slot{});
  mask_ = capacity - 1;
  for (std::uint32_t rank = 0; rank < entries_.size(); ++rank) {
    const Entry& e = entries_[rank];
    if (e.length == 0) continue;
    const auto* p = reinterpret_cast<const unsigned char*>(arena_.data() + e.offset);
    const std::uint64_t h = hash(p, e.length);
    if (find(p, e.length) != kNone) return rank;
    std::size_t i = h & mask_;
    while (slots_[i].rank != kNone) i = (i + 1) & mask_;
    slots_[i] = Slot{static_cast<std::uint32_t>(h >> 32), rank};
  }
  return kNone;
}

}  // namespace sy::tokenize::detail

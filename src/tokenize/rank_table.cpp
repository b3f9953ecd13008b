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
  pair_rank_.assign(std::size_t{1} << 16, kNone);
  for (std::uint32_t rank = 0; rank < entries_.size(); ++rank) {
    const Entry& e = entries_[rank];
    if (e.length == 0) continue;
    const auto* p = reinterpret_cast<const unsigned char*>(arena_.data() + e.offset);
    if (e.length == 2) {
      std::uint32_t& pair = pair_rank_[(std::size_t{p[0]} << 8) | p[1]];
      if (pair != kNone) return rank;
      pair = rank;
      continue;
    }
    if (find(p, e.length) != kNone) return rank;
    const std::uint64_t key = e.length <= 8 ? pack(p, e.length) : hash(p, e.length);
    std::size_t i = slot_index(key, e.length);
    while (slots_[i].rank != kNone) i = (i + 1) & mask_;
    slots_[i] = Slot{key, rank, e.length};
  }
  return kNone;
}

}  // namespace sy::tokenize::detail

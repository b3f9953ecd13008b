#include "tokenize/bpe.hpp"

#include <functional>
#include <queue>

namespace sy::tokenize::detail {

// Same merge order as the quadratic scan: candidates are keyed (rank, start of left part), so the
// lowest rank wins and ties go to the leftmost pair. Stale heap entries are recognised because a
// part's pair rank changes whenever its extent does (ranks identify byte strings uniquely).
std::vector<std::uint32_t> merge_boundaries_heap(const RankTable& ranks, const unsigned char* piece,
                                                 std::size_t n) {
  constexpr std::uint32_t kNone = RankTable::kNone;
  const auto end = static_cast<std::uint32_t>(n);
  // Parts are named by their first byte; next[end] is never read.
  std::vector<std::uint32_t> next(n + 1);
  std::vector<std::uint32_t> prev(n + 1);
  std::vector<std::uint32_t> pair_rank(n + 1, kNone);
  for (std::uint32_t i = 0; i <= end; ++i) {
    next[i] = i + 1;
    prev[i] = i == 0 ? 0 : i - 1;
  }
  auto rank_of = [&](std::uint32_t a, std::uint32_t b_end) { return ranks.find(piece + a, b_end - a); };
  using Key = std::uint64_t;  // rank << 32 | start
  std::priority_queue<Key, std::vector<Key>, std::greater<>> heap;
  for (std::uint32_t i = 0; i + 1 < end; ++i) {
    pair_rank[i] = rank_of(i, i + 2);
    if (pair_rank[i] != kNone) heap.push((Key{pair_rank[i]} << 32) | i);
  }
  std::vector<bool> alive(n + 1, true);
  while (!heap.empty()) {
    const Key key = heap.top();
    heap.pop();
    const auto i = static_cast<std::uint32_t>(key);
    const auto r = static_cast<std::uint32_t>(key >> 32);
    if (!alive[i] || pair_rank[i] != r) continue;
    const std::uint32_t j = next[i];
    const std::uint32_t k = next[j];
    alive[j] = false;
    next[i] = k;
    if (k <= end) prev[k] = i;
    pair_rank[i] = k < end ? rank_of(i, next[k]) : kNone;
    if (pair_rank[i] != kNone) heap.push((Key{pair_rank[i]} << 32) | i);
    if (i > 0) {
      const std::uint32_t p = prev[i];
      pair_rank[p] = rank_of(p, k);
      if (pair_rank[p] != kNone) heap.push((Key{pair_rank[p]} << 32) | p);
    }
  }
  std::vector<std::uint32_t> bounds;
  for (std::uint32_t i = 0; i < end; i = next[i]) bounds.push_back(i);
  bounds.push_back(end);
  return bounds;
}

}  // namespace sy::tokenize::detail

#pragma once
// Byte-pair merging of one pre-tokenised piece, as tiktoken's `_byte_pair_merge`: repeatedly merge the
// adjacent pair whose concatenation has the lowest rank (leftmost on ties) until no pair is a token.
// Pure functions over a read-only RankTable: thread-safe.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tokenize/rank_table.hpp"

namespace sy::tokenize::detail {

/// Pieces up to this many bytes are merged in a fixed stack buffer with tiktoken's quadratic scan;
/// longer ones use a heap (O(n log n)), which gives the same result and allocates.
inline constexpr std::size_t kSmallPiece = 128;

/// Calls `emit(begin, end)` for each final token of `piece[0, n)`, left to right. `n` >= 1.
/// `force_heap` selects the large-piece algorithm regardless of size (tests compare the two).
template <class Emit>
void byte_pair_merge(const RankTable& ranks, const unsigned char* piece, std::size_t n, Emit&& emit,
                     bool force_heap = false);

std::vector<std::uint32_t> merge_boundaries_heap(const RankTable& ranks, const unsigned char* piece,
                                                 std::size_t n);

template <class Emit>
void byte_pair_merge(const RankTable& ranks, const unsigned char* piece, std::size_t n, Emit&& emit,
                     bool force_heap) {
  if (n == 1) {
    emit(0, 1);
    return;
  }
  if (n > kSmallPiece || force_heap) {
    const std::vector<std::uint32_t> b = merge_boundaries_heap(ranks, piece, n);
    for (std::size_t i = 0; i + 1 < b.size(); ++i) emit(b[i], b[i + 1]);
    return;
  }
  constexpr std::uint32_t kNone = RankTable::kNone;
  // start[i] = first byte of part i; rank[i] = rank of parts i and i+1 joined (kNone if not a token).
  // As in tiktoken, the array ends with the last part and an end sentinel, both of rank kNone.
  std::uint32_t start[kSmallPiece + 1];
  std::uint32_t rank[kSmallPiece + 1];
  std::size_t m = n + 1;
  std::uint32_t min_rank = kNone;
  std::size_t min_i = 0;
  for (std::size_t i = 0; i + 1 < n; ++i) {
    start[i] = static_cast<std::uint32_t>(i);
    rank[i] = ranks.find(piece + i, 2);
    if (rank[i] < min_rank) {
      min_rank = rank[i];
      min_i = i;
    }
  }
  start[n - 1] = static_cast<std::uint32_t>(n - 1);
  rank[n - 1] = kNone;
  start[n] = static_cast<std::uint32_t>(n);
  rank[n] = kNone;

  // Rank of part i joined with parts i+1 and i+2, which are about to merge into one.
  auto rank_after = [&](std::size_t i) -> std::uint32_t {
    if (i + 3 >= m) return kNone;
    return ranks.find(piece + start[i], start[i + 3] - start[i]);
  };
  while (min_rank != kNone) {
    const std::size_t i = min_i;
    if (i > 0) rank[i - 1] = rank_after(i - 1);
    rank[i] = rank_after(i);
    for (std::size_t j = i + 1; j + 1 < m; ++j) {
      start[j] = start[j + 1];
      rank[j] = rank[j + 1];
    }
    --m;
    min_rank = kNone;
    for (std::size_t j = 0; j + 1 < m; ++j) {
      if (rank[j] < min_rank) {
        min_rank = rank[j];
        min_i = j;
      }
    }
  }
  for (std::size_t i = 0; i + 1 < m; ++i) emit(start[i], start[i + 1]);
}

}  // namespace sy::tokenize::detail

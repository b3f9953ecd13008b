#pragma once
/// SentencePiece unigram tokenizer as the USE-lite reference (TF.js) runs it: "▁" prepended and every
/// space replaced by "▁", then a Viterbi segmentation over the pieces' log-probabilities.
///
/// Quirks reproduced on purpose, because the model was run with them: the first `reserved` ids are
/// never produced except id 0 (unknown), which covers one code point that no piece starts with;
/// runs of unknowns merge into one; a candidate replaces the current best when the best is still 0
/// or the candidate's score is >= it (so among equal scores the later start wins); sums are doubles.
/// The reference applies NFKC first; we apply the part of it that common prompts need (no-break and
/// typographic spaces, fullwidth ASCII, Latin ligatures, circled and superscript digits, ellipsis,
/// TM). Decomposed accents are not recomposed, so such text may tokenise differently.
///
/// Immutable after construction; `encode()` is thread-safe (scratch is per call / thread-local).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sy::embed {

class UnigramTokenizer {
 public:
  /// `pieces[id] = {piece (UTF-8), log-probability}`; a later duplicate piece wins.
  UnigramTokenizer(const std::vector<std::pair<std::string, double>>& pieces, std::size_t reserved = 6);
  ~UnigramTokenizer();
  UnigramTokenizer(UnigramTokenizer&&) noexcept;
  UnigramTokenizer& operator=(UnigramTokenizer&&) noexcept;

  /// Token ids of `text`. With `max_tokens` > 0, only input that can influence the first
  /// `max_tokens` ids is read (pieces never contain an inner "▁", so each space-separated segment
  /// tokenises independently and yields at least one id); the returned ids may run past it.
  std::vector<std::int32_t> encode(std::string_view text, std::size_t max_tokens = 0) const;

  std::size_t size() const;
  std::size_t memory_bytes() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sy::embed

#pragma once
/// Hashed n-gram TF-IDF embedder: fast (tens of microseconds per prompt), no model file.
///
/// Features, all on ASCII-lowercased text split into words at non-alphanumeric bytes (bytes >= 0x80
/// count as word characters, so UTF-8 words stay whole):
///   - "word" part: word unigrams and bigrams;
///   - "char" part: character 3..5-grams of each word padded with one space on either side
///     (scikit-learn's `char_wb`), so n-grams never cross words.
/// Each feature is hashed into 2^bucket_bits buckets, weighted by sublinear TF (1 + ln tf) times an IDF
/// fitted on the corpus given at construction (normally the routes' utterances), and each part is
/// L2-normalised. Similarity = word_weight * cos(word parts) + (1 - word_weight) * cos(char parts).
///
/// Immutable after construction; `embed()` is thread-safe (its scratch buffers are thread-local).
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/embed/embedder.hpp"

namespace sy::embed {

struct HashingOptions {
  std::uint32_t bucket_bits = 18;  ///< 2^bits buckets per part (10..24)
  bool word_bigrams = true;        ///< add word bigrams to the word part
  std::uint32_t char_min = 3;      ///< shortest character n-gram (1..8)
  std::uint32_t char_max = 5;      ///< longest character n-gram (char_min..8)
  float word_weight = 0.5f;        ///< share of the word part in the similarity; the char part gets the rest
  bool sublinear_tf = true;        ///< 1 + ln(tf) instead of tf
  bool use_idf = true;             ///< multiply by the IDF fitted on the corpus

  /// Empty when valid, otherwise what is wrong (field named).
  std::string validate() const;
};

class HashingEmbedder final : public Embedder {
 public:
  static constexpr std::string_view kType = "hashing";

  /// Fits the IDF on `corpus` (one document per string). An empty corpus gives IDF 1 everywhere.
  /// Errors: invalid options.
  static Result<std::shared_ptr<const HashingEmbedder>> create(const HashingOptions& options,
                                                               std::span<const std::string> corpus);

  std::string_view type() const override { return kType; }
  const std::vector<PartLayout>& layout() const override { return layout_; }
  Embedding embed(std::string_view text) const override;
  bool cpu_heavy() const override { return false; }
  std::size_t memory_bytes() const override;

  const HashingOptions& options() const { return options_; }
  /// Number of documents the IDF was fitted on.
  std::size_t corpus_size() const { return corpus_size_; }

  /// The features of `text` before hashing, for tests and debugging: "w:<word>", "b:<w1> <w2>",
  /// "c:<n-gram>" (padding shown as spaces). Slow; not for the request path.
  std::vector<std::string> features(std::string_view text) const;

  HashingEmbedder(const HashingOptions& options, std::span<const std::string> corpus);  ///< use create()

 private:
  HashingOptions options_;
  std::uint32_t mask_ = 0;
  std::size_t corpus_size_ = 0;
  std::vector<PartLayout> layout_;
  std::vector<float> idf_word_;  ///< per bucket; empty when use_idf is off
  std::vector<float> idf_char_;
};

}  // namespace sy::embed

#pragma once
/// Prompt features for the learned router: hashed word n-grams and character n-grams (sublinear TF,
/// IDF-weighted, L2-normalised) plus a few dense length/structure features, standardised.
///
/// The extractor is a pure function of its `FeatureConfig`; the IDF table and the dense means/scales are
/// fitted on training data (`FeatureTransform::fit`) and stored in the model file. Both classes are
/// immutable after construction and safe to share between threads.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sy::learn {

/// Which features to extract. Stored in the model file.
struct FeatureConfig {
  int hash_bits = 18;        ///< 2^hash_bits buckets for all hashed features
  int word_ngram_max = 2;    ///< 1: word unigrams, 2: unigrams and bigrams, 0: no word features
  int char_ngram_min = 0;    ///< character n-grams from min to max; 0 disables
  int char_ngram_max = 0;
  bool dense = true;         ///< length and structure features
  bool number_shapes = true; ///< also emit a "number with k digits" token for each number
  /// The 12 structure features after the 18 length/shape ones (turns, code, math, constraints, question
  /// type, requested output length; see dense_feature_names). Off in files written before they existed.
  bool structure = false;
  /// The conversation block (kConversationFeatures): earlier turns, system prompt, context length, from
  /// the ConversationShape the caller passes (all zero for one bare prompt). Off in older files.
  bool conversation = false;
  /// The task block (kTaskFeatures): answer format and difficulty cues of the final question (few-shot
  /// examples split off; see dense_feature_names). Off in older files.
  bool task = false;
  std::size_t max_bytes = 8192;  ///< n-grams look at the first max_bytes of the prompt (dense: all)
};

/// Names of the dense features, in order (for docs and `train --verbose`): 18 length/shape features,
/// then kStructureFeatures structure features (zero unless FeatureConfig::structure).
inline constexpr std::size_t kBaseDenseFeatures = 18;
inline constexpr std::size_t kStructureFeatures = 12;
inline constexpr std::size_t kConversationFeatures = 4;
inline constexpr std::size_t kTaskFeatures = 10;
inline constexpr std::size_t kConversationOffset = kBaseDenseFeatures + kStructureFeatures;
inline constexpr std::size_t kTaskOffset = kConversationOffset + kConversationFeatures;
inline constexpr std::size_t kDenseFeatures = kTaskOffset + kTaskFeatures;
/// Standardised dense values are clipped to [-kDenseClip, kDenseClip] so that a prompt far outside the
/// training range (a 100k-token paste) cannot swamp the score.
inline constexpr float kDenseClip = 5.0f;
const std::array<std::string_view, kDenseFeatures>& dense_feature_names();

/// One message of a chat request as the router sees it (views into the request; no copies).
struct ChatMessageView {
  std::string_view role;  ///< "system", "developer", "user", "assistant", "tool", ...
  std::string_view text;
};

/// The conversation around the scored text, reduced to a few counts. The text features (n-grams, the
/// length/shape, structure and task blocks) read only the scored message, the last user message; the
/// rest of the conversation reaches the model through these numbers, so scoring stays one pass over one
/// message plus one pass over the message list (README §2, "Conversations"). The default is one bare
/// prompt: no earlier turns, no system prompt.
struct ConversationShape {
  std::uint32_t earlier_messages = 0;  ///< non-system messages other than the scored one
  bool has_system = false;             ///< a system (or developer) message is present
  std::size_t system_bytes = 0;        ///< bytes of all system/developer messages
  std::size_t context_bytes = 0;       ///< bytes of the non-system messages other than the scored one
};

/// Index of the scored message (the last "user" message; the last message when no message is a user's;
/// 0 for an empty list) and the shape of the rest. `Message` is anything with a `role` and a `text` that
/// compare with and measure like strings (ChatMessageView; a request's MessageText, without copies).
template <class Message>
ConversationShape conversation_shape(std::span<const Message> messages, std::size_t* scored = nullptr) {
  ConversationShape c;
  std::size_t pick = messages.empty() ? 0 : messages.size() - 1;
  for (std::size_t i = messages.size(); i-- > 0;) {
    if (messages[i].role == "user") {
      pick = i;
      break;
    }
  }
  for (std::size_t i = 0; i < messages.size(); ++i) {
    const Message& m = messages[i];
    if (m.role == "system" || m.role == "developer") {
      c.has_system = true;
      c.system_bytes += m.text.size();
    } else if (i != pick) {
      ++c.earlier_messages;
      c.context_bytes += m.text.size();
    }
  }
  if (scored) *scored = pick;
  return c;
}
inline ConversationShape conversation_shape(std::span<const ChatMessageView> messages, std::size_t* scored = nullptr) {
  return conversation_shape<ChatMessageView>(messages, scored);
}

/// A sparse feature vector: strictly increasing indices.
struct SparseVector {
  std::vector<std::uint32_t> index;
  std::vector<float> value;
  void clear() { index.clear(); value.clear(); }
};

/// Raw features of one prompt before fitting: hashed term counts and unscaled dense values.
struct RawFeatures {
  std::vector<std::uint32_t> bucket;  ///< distinct buckets, increasing
  std::vector<float> count;           ///< term frequency per bucket
  std::array<float, kDenseFeatures> dense{};
};

class FeatureExtractor {
 public:
  explicit FeatureExtractor(FeatureConfig config);
  const FeatureConfig& config() const { return config_; }
  std::uint32_t hash_buckets() const { return 1u << config_.hash_bits; }
  /// Total dimension: hash buckets followed by the dense features.
  std::size_t dimension() const { return hash_buckets() + (config_.dense ? kDenseFeatures : 0); }

  /// Extracts raw features. `scratch` is reused between calls to avoid allocation.
  void extract(std::string_view prompt, RawFeatures& out, std::vector<std::uint32_t>& scratch) const {
    extract(prompt, ConversationShape{}, out, scratch);
  }
  /// The same for the scored message of a conversation of this shape (the conversation block).
  void extract(std::string_view prompt, const ConversationShape& conversation, RawFeatures& out,
               std::vector<std::uint32_t>& scratch) const;
  /// Dense length/structure features of the whole prompt (the structure block only when `structure`).
  static void dense_features(std::string_view prompt, std::span<float, kDenseFeatures> out, bool structure = true);
  /// The structure block alone: out[0..kStructureFeatures).
  static void structure_features(std::string_view prompt, std::span<float, kStructureFeatures> out);
  /// The conversation block alone.
  static void conversation_features(const ConversationShape& c, std::span<float, kConversationFeatures> out);
  /// The task block alone (answer format and difficulty cues of the final question).
  static void task_features(std::string_view prompt, std::span<float, kTaskFeatures> out);

 private:
  FeatureConfig config_;
};

/// The fitted part: IDF per bucket and the dense standardisation.
class FeatureTransform {
 public:
  FeatureTransform() = default;
  FeatureTransform(FeatureConfig config, std::vector<float> idf, std::array<float, kDenseFeatures> mean,
                   std::array<float, kDenseFeatures> inv_std);

  /// Fits IDF (smooth: ln((1+n)/(1+df)) + 1) and dense mean/std on `rows` (the training fold only).
  static FeatureTransform fit(const FeatureConfig& config, std::span<const RawFeatures* const> rows);

  const FeatureConfig& config() const { return config_; }
  std::size_t dimension() const { return FeatureExtractor(config_).dimension(); }
  const std::vector<float>& idf() const { return idf_; }
  const std::array<float, kDenseFeatures>& dense_mean() const { return mean_; }
  const std::array<float, kDenseFeatures>& dense_inv_std() const { return inv_std_; }

  /// Final vector: sublinear TF x IDF over the buckets, L2-normalised, then the standardised dense block.
  void apply(const RawFeatures& raw, SparseVector& out) const;

 private:
  FeatureConfig config_;
  std::vector<float> idf_;  ///< size 2^hash_bits
  std::array<float, kDenseFeatures> mean_{};
  std::array<float, kDenseFeatures> inv_std_{};
};

}  // namespace sy::learn

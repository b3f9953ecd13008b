#pragma once
/// A trained classification head on frozen embeddings: multinomial logistic regression over the parts
/// of an `Embedding` (dense model output and/or sparse hashed n-grams), fitted on the route
/// utterances, with a temperature so that the highest class probability is a usable confidence for
/// the fallback threshold.
///
/// Features are the embedding's parts laid end to end, each multiplied by its scale (dense_scale or sparse_scale) (a larger
/// scale = weaker regularisation of that part). Sparse parts keep only the buckets some training
/// utterance uses (any other bucket would keep weight 0 under L2), optionally folded into
/// 2^fold_bits buckets first to bound the model size. Training minimises the mean cross-entropy plus
/// l2/2 * |W|^2 (biases not penalised) with L-BFGS, full batch, single-threaded: deterministic
/// (same inputs, same bits). The temperature T is then fitted by minimising the cross-entropy of
/// out-of-fold logits (k-fold over each route's utterances), so P(route) = softmax(logits / T).
///
/// Immutable after `train` / `load`; `logits` and `predict` are const and thread-safe (scratch on the
/// caller's stack or thread-local). Share as `std::shared_ptr<const SemanticHead>`.
///
/// File format (`save` / `load`, little-endian): magic "SYSEMHD1", u32 version, counts, embedder
/// type, u64 training fingerprint, part table, route names, sparse bucket lists, f32 weights (feature-major, classes
/// innermost), biases, temperature, and a 32-bit FNV-1a checksum of everything before it. `load`
/// checks every count against fixed limits and the expected size against the file size before it
/// allocates anything, so a hostile file cannot make it allocate more than the file holds.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/embed/embedding.hpp"

namespace sy::embed {

namespace detail {
struct FeaturePart;  // src/embed/head_features.hpp
}

struct HeadOptions {
  /// lambda in mean(cross-entropy) + lambda/2 * |W|^2. Tuned on CLINC150 val (src/embed/README.md).
  double l2 = 1e-5;
  /// Feature scales of dense and sparse parts (a larger scale = weaker regularisation of that part).
  /// Defaults tuned on CLINC150 val with the hybrid embedder.
  float dense_scale = 2.0f;
  float sparse_scale = 1.0f;
  /// Fold each sparse part's buckets into 2^fold_bits before training (0 = no folding). Bounds the
  /// weights to (sum of dense dims + parts * 2^fold_bits) x routes floats.
  std::uint32_t fold_bits = 0;
  int max_iterations = 300;
  double tolerance = 1e-4;  ///< stop when the gradient's max-norm falls below this times its initial value
  int history = 6;          ///< L-BFGS memory (each entry costs two parameter vectors)
  /// Folds for the temperature (clipped to the smallest route's size; < 2 = no calibration, T = 1).
  std::size_t calibration_folds = 5;
  /// Stored verbatim in the head (0 = none): what it was trained from, see `training_fingerprint`.
  std::uint64_t fingerprint = 0;
  /// Called with a stage name and a fraction in [0,1] (progress output of offline tools). May be empty.
  std::function<void(std::string_view, double)> progress;
};

/// The head's answer for one embedding.
struct HeadPrediction {
  std::vector<float> probabilities;  ///< calibrated, per route, sums to 1
  std::size_t best = 0;              ///< argmax
  float confidence = 0;              ///< probabilities[best]
};

/// Data augmentation for training a head from few utterances, from the utterance alone: copies of it
/// with one word left out (words = runs of non-space bytes; only utterances of at least `min_words`
/// words), at most `max_variants`, positions spread evenly. Deterministic.
/// 64-bit FNV-1a over the embedder type, every route name and every utterance, in order: a head
/// trained offline records it, and a config using the head checks its own routes give the same value.
std::uint64_t training_fingerprint(std::string_view embedder_type, const std::vector<std::string>& route_names,
                                   const std::vector<std::vector<std::string>>& utterances);

std::vector<std::string> word_dropout_variants(std::string_view utterance, std::size_t max_variants,
                                               std::size_t min_words = 4);

class SemanticHead {
 public:
  static constexpr std::uint32_t kMaxRoutes = 65536;
  static constexpr std::uint32_t kMaxParts = 16;
  static constexpr std::uint32_t kMaxNameBytes = 4096;
  static constexpr std::uint64_t kMaxParameters = std::uint64_t{1} << 28;  ///< 1 GiB of float weights

  /// Trains on `examples[r]` = embeddings of route r's utterances; every embedding must match
  /// `layout`. `embedder_type` is stored for diagnostics and checked by users of a loaded head.
  /// Errors: no routes, fewer than two routes, a route without examples, duplicate or empty names, a
  /// layout mismatch, bad options, a model over kMaxParameters.
  static Result<std::shared_ptr<const SemanticHead>> train(std::vector<std::string> routes,
                                                           std::string embedder_type,
                                                           const std::vector<PartLayout>& layout,
                                                           const std::vector<std::vector<Embedding>>& examples,
                                                           const HeadOptions& options = {});

  /// Reads a file written by `save`. Errors name the file and the problem.
  static Result<std::shared_ptr<const SemanticHead>> load(const std::string& path);
  /// Parses the bytes of a head file (what `load` does after reading it).
  static Result<std::shared_ptr<const SemanticHead>> parse(std::string_view bytes, const std::string& name = "head");
  /// The file's bytes, and writing them to `path` (atomically: a temporary file renamed).
  std::string serialize() const;
  Status save(const std::string& path) const;

  /// Raw logits (before the temperature), one per route, into `out` (size routes().size()).
  /// A query not matching layout() gives all-zero logits.
  void logits(const Embedding& query, std::span<float> out) const;
  /// Calibrated probabilities and the best route.
  HeadPrediction predict(const Embedding& query) const;
  /// softmax(logits / T) in place.
  void calibrate(std::span<float> logits_to_probabilities) const;

  const std::vector<std::string>& routes() const { return routes_; }
  const std::vector<PartLayout>& layout() const { return layout_; }
  const std::string& embedder_type() const { return embedder_type_; }
  std::uint64_t fingerprint() const { return fingerprint_; }
  float temperature() const { return temperature_; }
  /// L-BFGS iterations of the final fit and its objective (0 for a loaded head).
  int iterations() const { return iterations_; }
  double loss() const { return loss_; }
  /// Features kept (dense dims + sparse buckets used).
  std::size_t features() const { return n_features_; }
  std::size_t memory_bytes() const;

  SemanticHead();  ///< use train() or load()
  ~SemanticHead();

 private:
  std::vector<std::string> routes_;
  std::string embedder_type_;
  std::uint64_t fingerprint_ = 0;
  std::vector<PartLayout> layout_;
  std::vector<detail::FeaturePart> parts_;  ///< per part: scale, folding, bucket -> row lookup
  std::size_t n_features_ = 0;
  std::vector<float> weights_;  ///< n_features x routes, routes innermost
  std::vector<float> bias_;
  float temperature_ = 1.0f;
  int iterations_ = 0;
  double loss_ = 0;

  friend struct HeadBuilder;
};

}  // namespace sy::embed

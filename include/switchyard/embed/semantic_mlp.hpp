#pragma once
/// An experimental classification head on frozen embeddings: one hidden layer of ReLU units, with an
/// optional linear path from the input straight to the logits,
///
///   logits = W2 relu(W1 x_h + b1) + b2 + Ws x_s
///
/// where x_h are the features entering the hidden layer (the dense parts, optionally the sparse ones
/// too) and x_s those of the linear path (none, the sparse parts, or all), laid out as in
/// `SemanticHead` (parts end to end, each times its scale; sparse parts keep the buckets the training
/// data used). Trained by minimising mean cross-entropy + hidden_l2/2 (|W1|^2 + |W2|^2) + l2/2 |Ws|^2 with full-batch
/// L-BFGS from a seeded initialisation: deterministic (same inputs and seed, same bits).
///
/// Used by `switchyard eval-semantic --classifier mlp,mlp-sim` only; on CLINC150 10-shot it did not beat
/// the logistic head on val (src/embed/README.md, "Trained head"), so the semantic stage does not offer
/// it. No file format, no temperature (probabilities are softmax(logits)).
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

/// Defaults: the setting chosen on CLINC150 val at k=10 with the hybrid embedder (src/embed/README.md).
struct MlpOptions {
  std::size_t hidden = 256;  ///< ReLU units (> 0)
  double l2 = 1e-5;          ///< on the linear path's weights Ws (not on the biases)
  double hidden_l2 = 1e-4;   ///< on W1 and W2; < 0 = the same as l2
  float dense_scale = 2.0f;
  float sparse_scale = 1.0f;
  bool hidden_sparse = false;  ///< the sparse parts also enter the hidden layer
  bool skip_dense = true;      ///< the linear path reads the dense parts
  bool skip_sparse = true;     ///< the linear path reads the sparse parts
  int max_iterations = 300;
  double tolerance = 1e-4;  ///< relative to the initial gradient's max-norm
  int history = 6;
  std::uint64_t seed = 1;  ///< of the hidden layer's initial weights
  /// Standard deviation of the hidden pre-activations at the start, on the training rows (W1 uniform
  /// and scaled to it; W2, Ws and the biases start at 0).
  double init_scale = 1.0;
  std::function<void(std::string_view, double)> progress;
};

class SemanticMlp {
 public:
  /// Trains on `examples[r]` = embeddings of route r's utterances (all matching `layout`). Errors as
  /// `SemanticHead::train`, plus hidden == 0 and a model over 2^28 parameters.
  static Result<std::shared_ptr<const SemanticMlp>> train(std::vector<std::string> routes,
                                                          const std::vector<PartLayout>& layout,
                                                          const std::vector<std::vector<Embedding>>& examples,
                                                          const MlpOptions& options = {});

  /// Logits, one per route, into `out` (size routes().size()); all zero for a query not matching layout().
  void logits(const Embedding& query, std::span<float> out) const;
  /// softmax(logits) and its argmax.
  std::vector<float> probabilities(const Embedding& query, std::size_t& best) const;

  const std::vector<std::string>& routes() const { return routes_; }
  const std::vector<PartLayout>& layout() const { return layout_; }
  int iterations() const { return iterations_; }
  double loss() const { return loss_; }
  std::size_t features() const { return n_features_; }
  std::size_t parameters() const { return params_.size(); }
  std::size_t memory_bytes() const;

  SemanticMlp();  ///< use train()
  ~SemanticMlp();

 private:
  std::vector<std::string> routes_;
  std::vector<PartLayout> layout_;
  std::vector<detail::FeaturePart> parts_;
  std::size_t n_features_ = 0, n_dense_ = 0, hidden_ = 0, hidden_rows_ = 0, skip_rows_ = 0;
  bool hidden_sparse_ = false, skip_dense_ = false, skip_sparse_ = false;
  std::vector<float> params_;  ///< W1 (hidden_rows x hidden), b1, W2 (hidden x routes), b2, Ws (skip_rows x routes)
  int iterations_ = 0;
  double loss_ = 0;

  friend struct MlpBuilder;
};

}  // namespace sy::embed

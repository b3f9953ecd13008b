#pragma once
/// Weighted mix of two embedders: similarity = w_a * sim_a + w_b * sim_b.
///
/// The hybrid embedding is the concatenation of the two embeddings' parts, each part weight scaled by
/// its embedder's share, so the semantic index needs no special case. The usual pairing is hashing
/// (lexical, microseconds) with use-lite (semantic, milliseconds). Immutable; `embed()` is
/// thread-safe when both children's are (all embedders in this module are).
#include <memory>

#include "switchyard/core/error.hpp"
#include "switchyard/embed/embedder.hpp"

namespace sy::embed {

class HybridEmbedder final : public Embedder {
 public:
  static constexpr std::string_view kType = "hybrid";

  /// `weight_a` in [0, 1]; the second embedder gets 1 - weight_a. Errors: null child, bad weight.
  static Result<std::shared_ptr<const HybridEmbedder>> create(std::shared_ptr<const Embedder> a,
                                                              std::shared_ptr<const Embedder> b,
                                                              float weight_a = 0.5f);

  std::string_view type() const override { return kType; }
  const std::vector<PartLayout>& layout() const override { return layout_; }
  Embedding embed(std::string_view text) const override;
  std::vector<Embedding> embed_batch(std::span<const std::string_view> texts) const override;
  /// True when either child is (use-lite makes the hybrid CPU-heavy).
  bool cpu_heavy() const override { return a_->cpu_heavy() || b_->cpu_heavy(); }
  std::size_t memory_bytes() const override { return a_->memory_bytes() + b_->memory_bytes(); }

  /// Builds the hybrid embedding from the children's embeddings computed elsewhere (e.g. the dense
  /// one on a worker pool or from a cache). `ea` must come from `first()`, `eb` from `second()`.
  Embedding combine(Embedding ea, Embedding eb) const;

  const Embedder& first() const { return *a_; }
  const Embedder& second() const { return *b_; }
  float weight_first() const { return weight_a_; }

  HybridEmbedder(std::shared_ptr<const Embedder> a, std::shared_ptr<const Embedder> b, float weight_a);  ///< use create()

 private:
  std::shared_ptr<const Embedder> a_, b_;
  float weight_a_;
  std::vector<PartLayout> layout_;
};

}  // namespace sy::embed

#include "switchyard/embed/hybrid_embedder.hpp"

#include <utility>

namespace sy::embed {

Result<std::shared_ptr<const HybridEmbedder>> HybridEmbedder::create(std::shared_ptr<const Embedder> a,
                                                                     std::shared_ptr<const Embedder> b,
                                                                     float weight_a) {
  if (!a || !b) return Error::make(ErrorKind::internal, "hybrid embedder: both embedders are required");
  if (!(weight_a >= 0.0f && weight_a <= 1.0f))
    return Error::make(ErrorKind::internal, "hybrid embedder: weight must be in [0, 1]");
  return std::shared_ptr<const HybridEmbedder>(std::make_shared<HybridEmbedder>(std::move(a), std::move(b), weight_a));
}

HybridEmbedder::HybridEmbedder(std::shared_ptr<const Embedder> a, std::shared_ptr<const Embedder> b, float weight_a)
    : a_(std::move(a)), b_(std::move(b)), weight_a_(weight_a) {
  for (PartLayout l : a_->layout()) {
    l.weight *= weight_a_;
    layout_.push_back(std::move(l));
  }
  for (PartLayout l : b_->layout()) {
    l.weight *= 1.0f - weight_a_;
    layout_.push_back(std::move(l));
  }
}

Embedding HybridEmbedder::combine(Embedding ea, Embedding eb) const {
  Embedding out;
  out.parts.reserve(ea.parts.size() + eb.parts.size());
  for (EmbeddingPart& p : ea.parts) {
    p.weight *= weight_a_;
    out.parts.push_back(std::move(p));
  }
  for (EmbeddingPart& p : eb.parts) {
    p.weight *= 1.0f - weight_a_;
    out.parts.push_back(std::move(p));
  }
  return out;
}

Embedding HybridEmbedder::embed(std::string_view text) const { return combine(a_->embed(text), b_->embed(text)); }

std::vector<Embedding> HybridEmbedder::embed_batch(std::span<const std::string_view> texts) const {
  std::vector<Embedding> a = a_->embed_batch(texts), b = b_->embed_batch(texts);
  std::vector<Embedding> out;
  out.reserve(texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) out.push_back(combine(std::move(a[i]), std::move(b[i])));
  return out;
}

}  // namespace sy::embed

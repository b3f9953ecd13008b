#pragma once
/// The sentence-embedder interface the semantic router is handed.
///
/// An `Embedder` maps text to an `Embedding`. Implementations are immutable after construction
/// (weights, vocabulary and IDF tables are built once), so one instance is shared by every thread
/// through `std::shared_ptr<const Embedder>` and `embed()` may be called concurrently without locks.
/// Implementations in this module: `HashingEmbedder` ("hashing"), `UseLiteEmbedder` ("use-lite") and
/// `HybridEmbedder` ("hybrid").
#include <cstddef>
#include <span>
#include <string_view>
#include <vector>

#include "switchyard/embed/embedding.hpp"

namespace sy::embed {

class Embedder {
 public:
  virtual ~Embedder() = default;

  /// The YAML `type:` of this embedder ("hashing", "use-lite", "hybrid").
  virtual std::string_view type() const = 0;

  /// Layout of every embedding `embed()` returns. Stable for the embedder's lifetime.
  virtual const std::vector<PartLayout>& layout() const = 0;

  /// Embeds `text` (UTF-8; invalid bytes are tolerated). Never fails; empty text gives all-zero
  /// parts, which are similar to nothing. Thread-safe: const, no shared mutable state (scratch
  /// buffers are thread-local or on the stack).
  virtual Embedding embed(std::string_view text) const = 0;

  /// Embeds several texts; same results as calling embed() on each. Dense embedders override it to
  /// share each weight pass across the batch (index builds, offline evaluation). Thread-safe.
  virtual std::vector<Embedding> embed_batch(std::span<const std::string_view> texts) const {
    std::vector<Embedding> out;
    out.reserve(texts.size());
    for (std::string_view t : texts) out.push_back(embed(t));
    return out;
  }

  /// True when `embed()` costs milliseconds of CPU (a transformer forward pass). The caller must then
  /// run it on a worker pool, never on an io thread. False for embedders costing microseconds.
  virtual bool cpu_heavy() const = 0;

  /// Resident bytes of the embedder's own tables (weights, vocabulary, IDF), for metrics.
  virtual std::size_t memory_bytes() const = 0;
};

}  // namespace sy::embed

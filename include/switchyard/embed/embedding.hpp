#pragma once
/// The vectors embedders produce and the similarity between them.
///
/// An `Embedding` is one or more *parts*. Each part is a unit-length (or all-zero) vector, stored
/// sparse (hashed features: a few thousand non-zeros out of 2^18 buckets) or dense (a 512-float
/// model output), and carries a weight. The similarity of two embeddings is the weighted sum of the
/// per-part dot products, i.e. a weighted sum of cosines. This lets a hashing embedder keep word and
/// character features apart and lets a hybrid embedder mix a sparse and a dense embedder without ever
/// materialising a dense 2^18-float vector. Plain value types; no shared state.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace sy::embed {

/// Shape of one part, fixed per embedder: every embedding it produces has the same part layouts.
struct PartLayout {
  std::uint32_t dim = 0;   ///< dense length, or number of hash buckets for a sparse part
  bool sparse = false;
  float weight = 1.0f;     ///< multiplies this part's dot product in `similarity`
  std::string name;        ///< for diagnostics: "word", "char", "use-lite", ...

  friend bool operator==(const PartLayout&, const PartLayout&) = default;
};

/// One part of an embedding. Dense: `values.size() == dim`, `indices` empty. Sparse: `indices` are
/// distinct bucket ids below `dim` in no particular order, `values[i]` belongs to `indices[i]`.
struct EmbeddingPart {
  std::uint32_t dim = 0;
  bool sparse = false;
  float weight = 1.0f;
  std::vector<std::uint32_t> indices;
  std::vector<float> values;

  /// Bytes held by the vectors (capacity, not size).
  std::size_t memory_bytes() const {
    return indices.capacity() * sizeof(std::uint32_t) + values.capacity() * sizeof(float);
  }
};

/// What an `Embedder` returns for one text. Cheap to move.
struct Embedding {
  std::vector<EmbeddingPart> parts;

  /// True when the parts have the given layouts (dimension, storage and weight).
  bool matches(const std::vector<PartLayout>& layout) const;
  std::size_t memory_bytes() const;
};

/// Dot product of two parts of the same shape (not weighted). Sparse parts need no ordering.
float dot(const EmbeddingPart& a, const EmbeddingPart& b);

/// Weighted sum of the per-part dot products: for unit parts, a weighted sum of cosines in [-W, W]
/// where W is the sum of the weights. Parts are matched by position; mismatched layouts give 0.
float similarity(const Embedding& a, const Embedding& b);

/// Scales a part to unit L2 norm in place; an all-zero part stays zero.
void normalize(EmbeddingPart& part);

}  // namespace sy::embed

#pragma once
// Internal to sy_embed: how a trained head (SemanticHead, SemanticMlp) turns an `Embedding` into
// features, and the linear-map / softmax cross-entropy pieces of their training objectives.
//
// Features are the embedding's parts laid end to end, each multiplied by its scale. Dense parts come
// first (their weight rows form one block, multiplied by GEMM in training); a sparse part keeps only
// the (optionally folded) buckets some training utterance uses, each owning one weight row found
// through a bitmap + rank. A linear map can read the dense rows, the sparse rows or both
// (`Inputs`); its weight matrix then holds only those rows, dense first.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/embed/embedding.hpp"

namespace sy::embed::detail {

/// The checks every head's training runs: at least two and at most max_routes routes, one example list
/// per route, none empty, distinct non-empty names of at most max_name bytes, every embedding matching
/// a layout of 1..max_parts parts. Errors start with "semantic head: ".
Status check_training_set(const std::vector<std::string>& routes, const std::vector<PartLayout>& layout,
                          const std::vector<std::vector<Embedding>>& examples, std::size_t max_routes,
                          std::size_t max_parts, std::size_t max_name);

/// One embedding part as a head sees it: its scale and, for a sparse part, the (folded) buckets the
/// training data used, each owning one weight row.
struct FeaturePart {
  std::uint32_t dim = 0;
  bool sparse = false;
  float scale = 1.0f;
  std::uint32_t fold_bits = 0;   // sparse: 0 = buckets kept as they are
  std::uint32_t folded_dim = 0;  // sparse: buckets after folding
  std::uint32_t row_offset = 0;  // first feature row of this part
  std::uint32_t rows = 0;
  std::vector<std::uint32_t> buckets;  // sparse: sorted, distinct, < folded_dim
  std::vector<std::uint64_t> present;
  std::vector<std::uint32_t> rank_base;

  std::uint32_t fold(std::uint32_t b) const { return fold_bits ? (b & ((1u << fold_bits) - 1)) : b; }
  void build_lookup();
  /// Feature row of raw bucket `b`; false when no training utterance used it.
  bool row_of(std::uint32_t raw, std::uint32_t& row) const;
  std::size_t memory_bytes() const;
};

using FeatureParts = std::vector<FeaturePart>;

/// One part per layout entry with its scale; sparse parts get their folding (no buckets yet).
Status init_parts(FeatureParts& parts, const std::vector<PartLayout>& layout, const std::vector<float>& scale,
                  std::uint32_t fold_bits);
/// The sparse buckets used by any training example (sorted, distinct, folded).
void collect_buckets(FeatureParts& parts, const std::vector<std::vector<Embedding>>& examples);
/// Assigns rows: dense parts first, then sparse ones. Returns the number of features.
std::size_t assign_rows(FeatureParts& parts);
std::size_t dense_features(const FeatureParts& parts);

/// Training rows: the dense features of every part side by side (and transposed, for the gradient
/// GEMM), the sparse ones in CSR form with their feature rows, and the labels.
struct TrainData {
  std::size_t n = 0, dense = 0;
  std::vector<float> xd, xdt;  // n x dense, dense x n
  std::vector<std::size_t> start{0};
  std::vector<std::uint32_t> row;
  std::vector<float> val;
  std::vector<std::uint32_t> y;
};

/// Appends one training row (features only; the caller pushes the label).
void add_row(const FeatureParts& parts, const Embedding& e, TrainData& t);
/// Fills t.xdt from t.xd.
void transpose(TrainData& t);

/// The parts of a head trained on `examples` (per route, its utterances): init_parts with each part's
/// scale (`dense_scale` or `sparse_scale`), the buckets the examples use, rows assigned. Returns the
/// number of features.
Result<std::size_t> fit_parts(FeatureParts& parts, const std::vector<PartLayout>& layout, float dense_scale,
                              float sparse_scale, std::uint32_t fold_bits,
                              const std::vector<std::vector<Embedding>>& examples);
/// Every example as a training row labelled with its route (its index in `examples`), route by route,
/// transposed.
TrainData training_rows(const FeatureParts& parts, const std::vector<std::vector<Embedding>>& examples);

/// Which feature rows a linear map reads. Its weight matrix holds the dense rows (if `dense`), then the
/// sparse rows (if `sparse`), `out` floats each.
struct Inputs {
  bool dense = true;
  bool sparse = true;
  std::size_t rows(const TrainData& t, std::size_t features) const {
    return (dense ? t.dense : 0) + (sparse ? features - t.dense : 0);
  }
};

/// z (t.n x out) = X W + b (b may be null: no bias), over the chosen inputs.
void linear_forward(const TrainData& t, Inputs in, const float* W, const float* b, std::size_t out, float* z);
/// Gradient of a linear map given d = dLoss/dz (t.n x out): gW (w_rows x out, overwritten) = X^T d,
/// gb = column sums of d (skipped when gb is null).
void linear_backward(const TrainData& t, Inputs in, const float* d, std::size_t out, float* gW, std::size_t w_rows,
                     float* gb);
/// z += the linear map of one query (no bias), over the chosen inputs: one axpy per non-zero feature.
/// `e` must match the parts' layout.
void linear_apply(const FeatureParts& parts, std::size_t dense, Inputs in, const Embedding& e, const float* W,
                  std::size_t out, float* z);

/// Mean cross-entropy of softmax(z) (n x classes) against y; z is replaced by (softmax(z) - onehot(y)) / n,
/// the gradient of that mean with respect to z.
double softmax_cross_entropy(std::vector<float>& z, const std::vector<std::uint32_t>& y, std::size_t classes);
/// Adds l2 * w to g (n values) and returns |w|^2.
double add_l2(const float* w, float* g, std::size_t n, double l2);

}  // namespace sy::embed::detail

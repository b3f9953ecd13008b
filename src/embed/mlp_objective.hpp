#pragma once
// Internal to sy_embed: the training objective of SemanticMlp (exposed for its gradient test).
#include <cstddef>
#include <vector>

#include "head_features.hpp"

namespace sy::embed::detail {

/// Offsets of the parameter blocks in the flat vector: W1 (hidden_rows x hidden), b1, W2 (hidden x
/// classes), b2, Ws (skip_rows x classes).
struct MlpLayout {
  std::size_t hidden_rows, hidden, classes, skip_rows;
  std::size_t w1() const { return 0; }
  std::size_t b1() const { return hidden_rows * hidden; }
  std::size_t w2() const { return b1() + hidden; }
  std::size_t b2() const { return w2() + hidden * classes; }
  std::size_t ws() const { return b2() + classes; }
  std::size_t size() const { return ws() + skip_rows * classes; }
};

/// Mean cross-entropy of softmax(W2 relu(W1 x_h + b1) + b2 + Ws x_s) on `t` + hidden_l2/2 (|W1|^2 +
/// |W2|^2) + l2/2 |Ws|^2, and its gradient by backpropagation. Holds scratch: one instance per thread.
class MlpObjective {
 public:
  MlpObjective(const TrainData& t, MlpLayout l, Inputs in_h, Inputs in_s, double l2, double hidden_l2)
      : t_(t), l_(l), in_h_(in_h), in_s_(in_s), l2_(l2), hidden_l2_(hidden_l2) {}
  double operator()(const std::vector<float>& w, std::vector<float>& g);

 private:
  const TrainData& t_;
  MlpLayout l_;
  Inputs in_h_, in_s_;
  double l2_, hidden_l2_;
  std::vector<float> z1_, a_, at_, z2_, tmp_;
};

}  // namespace sy::embed::detail

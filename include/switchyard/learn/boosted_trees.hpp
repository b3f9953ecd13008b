#pragma once
/// Small gradient-boosted trees for logistic loss over a few dozen dense features: the nonlinear stage of
/// the cascade's answer scorer (answer_scorer.hpp), fitted on top of an offset (the linear model's
/// logit). Trees are complete and of fixed depth (depth 1 = stumps), so scoring is `depth` compares per
/// tree with no pointers: about 1 µs for 200 depth-2 trees.
///
/// Fitting is deterministic (no sampling); `BoostedTrees` is an immutable value once fitted, and
/// `predict` is const and thread-safe.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "switchyard/core/error.hpp"

namespace sy::learn {

/// A complete binary tree of depth d: 2^d - 1 split nodes in breadth-first order (node k's children are
/// 2k+1 and 2k+2; x[feature] > threshold goes right) and 2^d leaves. A node with feature -1 sends
/// everything left.
struct Tree {
  std::vector<std::int32_t> feature;
  std::vector<float> threshold;
  std::vector<float> leaf;
};

struct BoostOptions {
  int rounds = 100;          ///< upper bound; `fit_boosted_trees_cv` picks the count by inner CV
  int depth = 2;             ///< 1 = stumps
  double shrinkage = 0.1;    ///< learning rate
  double l2 = 1.0;           ///< L2 on leaf values (Newton step: -G / (H + l2))
  double min_hessian = 5.0;  ///< a child needs at least this much hessian (about 20 rows at p = 0.5)
  int max_bins = 32;         ///< candidate thresholds per feature (quantiles of the training values)
};

class BoostedTrees {
 public:
  BoostedTrees() = default;
  BoostedTrees(int features, int depth, std::vector<Tree> trees);

  /// Sum of the trees' outputs (add the offset yourself). `x` has `features()` values.
  double predict(std::span<const float> x) const;

  int features() const { return features_; }
  int depth() const { return depth_; }
  const std::vector<Tree>& trees() const { return trees_; }
  bool empty() const { return trees_.empty(); }

  /// The trees as JSON text ({"features","depth","trees":[{"f":[],"t":[],"v":[]}...]}) and back.
  std::string to_json() const;
  static Result<BoostedTrees> from_json(std::string_view text);

 private:
  int features_ = 0, depth_ = 0;
  std::vector<Tree> trees_;
};

/// Dense row-major matrix of `rows` x `cols` floats.
struct DenseRows {
  std::size_t cols = 0;
  std::vector<float> values;
  std::size_t rows() const { return cols ? values.size() / cols : 0; }
  std::span<const float> row(std::size_t r) const { return {values.data() + r * cols, cols}; }
};

/// Fits `opts.rounds` trees to soft targets y in [0,1] by Newton boosting of the logistic loss, starting
/// from `offset` (logits; empty = 0). `per_round_loss`, when given, receives after each round the mean
/// log-loss on `eval_x` / `eval_y` / `eval_offset` (for choosing the round count).
BoostedTrees fit_boosted_trees(const DenseRows& x, std::span<const float> y, std::span<const double> offset,
                               const BoostOptions& opts, const DenseRows* eval_x = nullptr,
                               std::span<const float> eval_y = {}, std::span<const double> eval_offset = {},
                               std::vector<double>* per_round_loss = nullptr);

/// Chooses the number of rounds (1..opts.rounds, or 0 when no round beats the offset alone) by `folds`-fold
/// CV on the given rows (folds dealt by row index modulo `folds`), then fits that many on all rows.
BoostedTrees fit_boosted_trees_cv(const DenseRows& x, std::span<const float> y, std::span<const double> offset,
                                  BoostOptions opts, int folds = 5, int* chosen_rounds = nullptr);

}  // namespace sy::learn

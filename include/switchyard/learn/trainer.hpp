#pragma once
/// Offline training of `LearnedModel`s: feature extraction over a dataset, L2-regularised logistic
/// regression fitted with L-BFGS (full batch, deterministic), and the router recipe that picks labels
/// and heads. Functions are pure (no globals); the progress callback is called on the caller's thread.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/learn/dataset.hpp"
#include "switchyard/learn/features.hpp"
#include "switchyard/learn/learned_model.hpp"

namespace sy::learn {

/// Called with a stage name and a fraction in [0,1]; for progress bars.
using Progress = std::function<void(std::string_view stage, double fraction)>;

/// Compressed sparse rows.
struct Csr {
  std::vector<std::size_t> row_start{0};
  std::vector<std::uint32_t> index;
  std::vector<float> value;
  std::size_t rows() const { return row_start.size() - 1; }
  void add_row(const SparseVector& v);
};

struct LogisticOptions {
  /// lambda in mean(loss) + lambda/2 * |w|^2 (bias not penalised). In TrainOptions, <= 0 means
  /// 1 / (training rows), i.e. sum(loss) + |w|^2 / 2 (C = 1), which measured best on both RouteLLM sets.
  double l2 = 1e-4;
  int max_iterations = 300;
  double tolerance = 1e-6; ///< stop when the gradient's max-norm falls below this
  int history = 8;         ///< L-BFGS memory
};

struct LogisticFit {
  std::vector<float> weights;
  float bias = 0;
  int iterations = 0;
  double loss = 0;  ///< final objective
};

/// Minimises the weighted mean cross-entropy of soft targets `y` in [0,1] plus the L2 penalty.
/// `sample_weight` may be empty (all 1). Deterministic.
LogisticFit fit_logistic(const Csr& x, std::size_t dimension, std::span<const float> y,
                         std::span<const float> sample_weight, const LogisticOptions& opts);

/// What the route head learns to predict (2-model data).
enum class RouteLabel {
  strong_only,  ///< y = 1 when the strong model is right and the weak one wrong
  weak_wrong,   ///< y = 1 when the weak model is wrong
  gap,          ///< soft y = (1 + q_strong - q_weak) / 2
};

struct TrainOptions {
  FeatureConfig features;
  LogisticOptions logistic{.l2 = 0};
  RouteLabel label = RouteLabel::gap;
  /// Group-smoothed targets: each row's target becomes (1-a)*y + a*rate(group), with the group's mean
  /// label shrunk towards the global mean by `group_prior` pseudo-rows. Groups (subject, category, file)
  /// exist only in training data; the model still reads only the prompt. 0 disables.
  double group_smoothing = 0;
  /// Route head: weight of prompts where both models score the same (both right or both wrong).
  double tie_weight = 1;
  double group_prior = 20;
  /// Bagging: fit the route head this many times on Poisson(1) bootstrap weights drawn from `seed` and
  /// average the weights (still one linear head). 1 disables.
  int bagging = 1;
  bool route_head = true;     ///< fit the strong-vs-weak head (needs strong and weak)
  bool quality_heads = true;  ///< fit one P(model answers well) head per model
  int strong = -1;            ///< model index; -1: the model with the highest mean quality
  int weak = -1;              ///< model index; -1: the model with the lowest mean quality
  std::uint64_t seed = 42;
  /// Prior and domain-shift guard (ScorePrior, README §2): the length prior's weight in the score; the
  /// quantile of the training prompts' shift distance that becomes the fallback limit, times
  /// `shift_margin` (0 turns the guard off); and what an out-of-distribution prompt falls back to.
  /// Dense features to leave out, by name (dense_feature_names()): their scale is set to 0, so neither
  /// the heads nor the shift distance use them.
  std::vector<std::string> drop_dense;
  /// Invariance check across the training rows' groups (subjects, files): a dense feature whose
  /// correlation with the route target has the pooled sign in less than this share of the rows' groups is
  /// left out (scale 0). Uses the training rows only; 0 turns it off (README §6).
  double invariant_agreement = 0;
  double prior_mix = 0;
  bool prior_logit_mix = false;  ///< mix model and prior in logit space (ScorePrior::logit_mix)
  double shift_quantile = 0;
  double shift_margin = 1;
  ScorePrior::Fallback shift_fallback = ScorePrior::Fallback::length;
};

/// Raw (unfitted) features of every example; label-free, so it may be computed once for all folds.
std::vector<RawFeatures> extract_all(const Dataset& data, const FeatureConfig& config, const Progress& progress = {});

/// Trains on the examples `rows` of `data` (all when empty). `raw` must come from extract_all with the
/// same feature config, or be empty (then it is computed).
Result<std::shared_ptr<const LearnedModel>> train_router(const Dataset& data, std::span<const std::size_t> rows,
                                                         std::span<const RawFeatures> raw, const TrainOptions& opts,
                                                         const Progress& progress = {});

/// Index of the model with the highest (strong) or lowest (weak) mean quality.
int best_model(const Dataset& data);
int worst_model(const Dataset& data);

}  // namespace sy::learn

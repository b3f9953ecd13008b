#pragma once
/// Offline evaluation helpers behind `switchyard eval`: per-prompt outcomes and costs of a strong/weak
/// pair, folds by prompt, k-fold cross-validation of the router recipe, and an SVG plot of the curves.
/// Pure functions (no globals); progress callbacks run on the caller's thread.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/learn/dataset.hpp"
#include "switchyard/learn/learned_model.hpp"
#include "switchyard/learn/metrics.hpp"
#include "switchyard/learn/trainer.hpp"

namespace sy::learn {

/// Prices of the two models and how to count tokens the data does not give.
struct CostModel {
  ModelPrice strong, weak;
  /// Output tokens for a model without a response or token count in the data (MMLU answers are one
  /// letter).
  double default_output_tokens = 1;
};

/// Per-prompt outcomes of the pair on some rows of a dataset, owning its storage.
struct OutcomeTable {
  std::vector<float> weak_quality, strong_quality;
  std::vector<double> weak_cost, strong_cost, weak_in, weak_out, strong_in, strong_out;
  PairOutcomes view() const;
};

/// Quality, tokens and cost per prompt. Tokens come from the data when present, else bytes/4 of the
/// prompt (input) and of the response (output; `default_output_tokens` without a response). A `cost`
/// column in the data wins over prices. Rows with unknown quality for either model count as 0.
OutcomeTable make_outcomes(const Dataset& data, std::span<const std::size_t> rows, int strong, int weak,
                           const CostModel& costs);

/// Splits the example indices into k folds so that equal prompts share a fold; fold sizes differ by at
/// most the largest group of duplicates. Deterministic given the seed.
std::vector<std::vector<std::size_t>> folds_by_prompt(const Dataset& data, int k, std::uint64_t seed);

struct CrossValidation {
  std::vector<double> scores;               ///< out-of-fold score per example (dataset order)
  std::vector<std::vector<std::size_t>> folds;
  std::vector<RoutingCurve> fold_curves;    ///< the protocol on each held-out fold
};

/// k-fold CV of train_router: every fold's features (IDF, scaling) and model are fitted on the other
/// folds only. `raw` as from extract_all (computed when empty).
Result<CrossValidation> cross_validate(const Dataset& data, std::span<const RawFeatures> raw, const TrainOptions& opts,
                                       int k, std::uint64_t seed, const Progress& progress = {});

/// MMLU's subjects grouped into the four categories of Hendrycks et al. (2021, `categories.py`): "STEM",
/// "humanities", "social sciences" and "other" (business, health, miscellaneous). `group` is a subject
/// (`anatomy`) or a RouteLLM file stem (`mmlu_anatomy`); anything else gives "".
std::string_view topic_group(std::string_view group);

/// One held-out split of the out-of-distribution protocol.
struct HeldOut {
  std::string name;     ///< the source (dataset) or topic group held out
  bool dataset = true;  ///< true: leave-one-dataset-out; false: leave-one-topic-group-out
  std::vector<std::size_t> train, test;
  std::vector<double> scores;  ///< per test row, from the model trained on `train`
  std::size_t fallbacks = 0;   ///< test prompts the shift guard sent to the prior
};

/// The splits of `switchyard eval --lodo`: one per source when there are at least two (train on the
/// others, test on it), then, when `topic_groups`, one per topic group (train on every row outside the
/// group, other sources included). Rows are in dataset order.
std::vector<HeldOut> held_out_splits(const Dataset& data, bool topic_groups);

/// Trains the recipe on each split's training rows (features refitted per split) and scores its test rows.
Result<bool> run_held_out(const Dataset& data, std::span<const RawFeatures> raw, const TrainOptions& opts,
                          std::vector<HeldOut>& splits, const Progress& progress = {});

/// A named curve for the plot.
struct PlotSeries {
  std::string name;
  std::string color;  ///< CSS colour
  std::vector<OperatingPoint> points;
  bool dashed = false;
};

/// A self-contained SVG (no external assets): accuracy against strong-call share (left panel) and against
/// cost in USD (right panel), with the all-weak and all-strong accuracies as reference lines.
std::string render_svg(const std::string& title, std::span<const PlotSeries> series, double weak_accuracy,
                       double strong_accuracy);

}  // namespace sy::learn

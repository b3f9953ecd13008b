#pragma once
/// Offline evaluation of a cascade (cheap model first, a verifier judges its answer, the strong model
/// only when the answer is not accepted), in the terms of the RouteLLM protocol (metrics.hpp): the
/// verifier's "send to strong" score is 1 - P(cheap answer correct), so APGR, CPT and the operating
/// points are comparable with a prompt-only router's. What differs is the cost: the cheap call is paid
/// on every prompt. Pure functions; progress callbacks run on the caller's thread.
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/learn/answer_scorer.hpp"
#include "switchyard/learn/dataset.hpp"
#include "switchyard/learn/evaluation.hpp"
#include "switchyard/learn/metrics.hpp"

namespace sy::learn {

/// The outcomes of a cascade over the same prompts as `pair`: accepting costs the cheap call; escalating
/// costs the cheap call plus the strong call (and both calls' tokens). Qualities are unchanged.
OutcomeTable cascade_outcomes(const OutcomeTable& pair);

/// Operating points at every distinct score (escalate when score >= t), from no escalation (threshold
/// +inf) to all; sorted by strong share ascending.
std::vector<OperatingPoint> sweep_thresholds(std::span<const double> scores, const PairOutcomes& data);

/// The point with the fewest strong calls whose accuracy reaches `target_accuracy`; nullopt when none.
std::optional<OperatingPoint> cheapest_reaching(std::span<const OperatingPoint> sweep, double target_accuracy);

/// Out-of-fold answer-scorer probabilities.
struct AnswerCrossValidation {
  std::vector<double> p_correct;  ///< per example, dataset order; NaN for rows without a response or score
  std::vector<std::vector<std::size_t>> folds;
};

/// k-fold CV of train_answer_scorer on the given folds (e.g. folds_by_prompt): each fold's transform,
/// scaling and model are fitted on the other folds only.
Result<AnswerCrossValidation> cross_validate_answer_scorer(const Dataset& data, int model,
                                                           std::span<const AnswerRawFeatures> raw,
                                                           const AnswerScorerOptions& opts,
                                                           const std::vector<std::vector<std::size_t>>& folds,
                                                           const Progress& progress = {});

}  // namespace sy::learn

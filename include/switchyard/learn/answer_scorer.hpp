#pragma once
/// The learned answer scorer of the cascade (FrugalGPT-style): given the prompt and the cheap model's
/// answer, the probability that the answer is correct. The cascade accepts the answer when
/// `score(prompt, answer) >= threshold` and escalates to the strong model otherwise.
///
/// Model: one logistic regression over
///  - hashed word n-grams of the prompt and, in a separate hash namespace, of the answer (sublinear
///    TF × IDF, L2-normalised together), plus the 18 dense length/structure features of the answer
///    (features.hpp) — this block is stored as a one-head `LearnedModel`, so it reuses its transform,
///    serving layout and file format;
///  - the verifier features of answer_features.hpp (final number stated, arithmetic checks, grounding of
///    the numbers in the prompt, hedging, ...), standardised and clipped at ±5 σ.
///
/// An `AnswerScorer` is loaded once and then only read: `score` is `const`, allocation-free after the
/// first calls on a thread (per-thread scratch) and safe to call from any number of threads. Share it as
/// `std::shared_ptr<const AnswerScorer>`; swap the pointer to reload.
#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/learn/answer_features.hpp"
#include "switchyard/learn/boosted_trees.hpp"
#include "switchyard/learn/dataset.hpp"
#include "switchyard/learn/features.hpp"
#include "switchyard/learn/learned_model.hpp"
#include "switchyard/learn/trainer.hpp"

namespace sy::learn {

/// Which feature blocks the scorer uses. Stored in the file.
struct AnswerFeatureConfig {
  FeatureConfig text;          ///< hashed n-grams of prompt and answer; `dense` = the answer's 18 dense features
  bool prompt_ngrams = true;   ///< hashed n-grams of the prompt
  bool answer_ngrams = true;   ///< hashed n-grams of the answer (own hash namespace)
  bool verifier = true;        ///< the answer_features.hpp block
};

/// Raw (unfitted) features of one (prompt, answer) pair.
struct AnswerRawFeatures {
  RawFeatures text;                               ///< merged prompt + answer buckets; dense = the answer's
  std::array<float, kAnswerFeatures> verifier{};  ///< raw verifier features
};

/// Extracts AnswerRawFeatures. Immutable; `extract` is thread-safe (caller-owned scratch).
class AnswerFeatureExtractor {
 public:
  explicit AnswerFeatureExtractor(AnswerFeatureConfig config);
  const AnswerFeatureConfig& config() const { return config_; }

  struct Scratch {
    RawFeatures prompt, answer;
    std::vector<std::uint32_t> buckets;
    std::vector<std::pair<std::uint32_t, float>> merged;
  };
  void extract(std::string_view prompt, std::string_view answer, AnswerRawFeatures& out, Scratch& scratch) const;

 private:
  AnswerFeatureConfig config_;
  FeatureExtractor prompt_fx_, answer_fx_;
};

/// Everything a scorer file holds, as plain values.
struct AnswerScorerParts {
  AnswerFeatureConfig features;
  std::shared_ptr<const LearnedModel> text_model;  ///< hashed + answer-dense block, one head
  std::string model;                               ///< name of the model whose answers are scored
  std::array<float, kAnswerFeatures> verifier_mean{}, verifier_inv_std{}, verifier_weight{};
  /// Optional nonlinear stage. The linear logit z is first recalibrated (Platt: a·z + b, fitted on
  /// inner-CV logits), then trees over the raw verifier features plus that logit (kAnswerFeatures + 1
  /// inputs) are added. Empty trees and a = 1, b = 0 when the scorer was trained without `--boost`.
  BoostedTrees boost;
  double calib_scale = 1.0, calib_bias = 0.0;
  double threshold = 0.5;  ///< default acceptance threshold: accept when score >= threshold
  double base_rate = 0.5;  ///< share of correct answers in the training data
  double l2 = 0;           ///< the L2 the linear block was fitted with (chosen by inner CV with a grid)
  /// Empty: score = P(answer correct). Else the model the gap target was taken against: score = P(accepting
  /// the answer loses nothing against that model), a ranking for the cascade rather than P(correct).
  std::string gap_reference;
  std::string notes;
};

class AnswerScorer {
 public:
  /// Reads a scorer file written by `save` (`switchyard train --answer-scorer`). Errors name the file.
  static Result<std::shared_ptr<const AnswerScorer>> load(const std::string& path);
  static Result<std::shared_ptr<const AnswerScorer>> from_bytes(std::string_view bytes);
  static Result<std::shared_ptr<const AnswerScorer>> from_parts(AnswerScorerParts parts);

  std::string to_bytes() const;
  Result<bool> save(const std::string& path) const;

  /// P(answer is correct) in [0,1].
  double score(std::string_view prompt, std::string_view answer) const;
  /// The logit of `score`.
  double logit(std::string_view prompt, std::string_view answer) const;
  /// The logit from features already extracted (evaluation tools).
  double logit(const AnswerRawFeatures& raw) const;
  /// score(...) >= threshold.
  bool accept(std::string_view prompt, std::string_view answer, double threshold) const {
    return score(prompt, answer) >= threshold;
  }
  bool accept(std::string_view prompt, std::string_view answer) const { return accept(prompt, answer, parts_.threshold); }

  double default_threshold() const { return parts_.threshold; }
  const std::string& model_name() const { return parts_.model; }
  const AnswerScorerParts& parts() const { return parts_; }

  explicit AnswerScorer(AnswerScorerParts parts);

 private:
  AnswerScorerParts parts_;
  AnswerFeatureExtractor extractor_;
};

struct AnswerScorerOptions {
  AnswerFeatureConfig features;
  LogisticOptions logistic{.l2 = 0};  ///< l2 <= 0: 1 / training rows (C = 1)
  /// Scale of the verifier block relative to the n-gram block (> 1: weaker regularisation of it).
  double verifier_scale = 1.0;
  double threshold = 0.5;
  /// Candidate L2 values for the linear block; with more than one, each is tried by `inner_folds`-fold CV
  /// on the training rows and the one with the lowest held-out log-loss is used (empty: logistic.l2).
  std::vector<double> l2_grid;
  /// Gradient-boosted trees over the raw verifier features on top of the linear logit. The trees are fitted
  /// to the linear block's inner-CV (out-of-fold) logits, so they learn what the linear model gets wrong on
  /// rows it has not seen; the round count is chosen by a second inner CV.
  bool boosted = false;
  BoostOptions boost;
  int inner_folds = 5;
  /// Training target. -1: the scored model's quality (P(answer correct)). A model index r: the gap target
  /// (1 + q_scored - q_r) / 2, i.e. "accepting loses nothing against model r" (training data only; the
  /// scorer still reads only the prompt and the cheap answer). Rows where r has no score keep q_scored.
  int gap_reference = -1;
};

/// Raw features of every example's (prompt, response[model]) pair; label-free, so computed once for all
/// folds.
std::vector<AnswerRawFeatures> extract_answer_features(const Dataset& data, int model, const AnswerFeatureConfig& config,
                                                       const Progress& progress = {});

/// Rows usable for training/evaluating the scorer of `model`: a known quality and a response text.
std::vector<std::size_t> answer_rows(const Dataset& data, int model);

/// Trains on `rows` (all answer_rows when empty): label = quality[model] >= 0.5, answer =
/// response[model]. `raw` from extract_answer_features with the same config, or empty (computed).
Result<std::shared_ptr<const AnswerScorer>> train_answer_scorer(const Dataset& data, int model,
                                                                std::span<const std::size_t> rows,
                                                                std::span<const AnswerRawFeatures> raw,
                                                                const AnswerScorerOptions& opts,
                                                                const Progress& progress = {});

}  // namespace sy::learn

#pragma once
/// The learned router's model, as the pipeline's learned stage uses it.
///
/// A `LearnedModel` is loaded once (`load`) and then only read: every method is `const`, allocation-free
/// after warm-up (per-thread scratch buffers) and safe to call from any number of threads at once. Share
/// it as `std::shared_ptr<const LearnedModel>`; swap the pointer atomically to reload.
///
/// What it computes, from the prompt text alone:
///  - `score(prompt)`: the route score in [0,1], higher = "send to the strong model". Compare it with a
///    threshold (`switchyard calibrate` prints the one that gives a target share of strong calls).
///  - `predict_quality(prompt)`: per model, the predicted chance that the model answers well.
///  - `choose(prompt, policy, prices)`: picks one of N >= 2 models from those predictions and their prices.
///
/// Every head is a logistic model over the same features (see features.hpp), so scoring is one pass
/// over the prompt plus one dot product per head.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/learn/features.hpp"

namespace sy::learn {

/// Price of one model, USD per 1M tokens (the units of the config's `input_price`/`output_price`).
struct ModelPrice {
  double input_per_m = 0;
  double output_per_m = 0;
};

/// How `choose` trades predicted quality against price.
struct ChoicePolicy {
  enum class Kind {
    /// The cheapest model whose predicted quality >= `value`; if none reaches it, the model with the
    /// highest predicted quality (ties go to the cheaper).
    quality_target,
    /// argmax_m p_m - value * cost_m, where p_m is the predicted quality and cost_m the estimated USD
    /// cost of this request on model m (prompt tokens ~ bytes/4 of the prompt, plus
    /// `expected_output_tokens`). `value` (lambda) is the predicted quality one would give up to save
    /// one dollar per request: lambda = 10 trades 0.1 of success probability for a cent.
    cost_penalty,
  };
  Kind kind = Kind::quality_target;
  double value = 0.8;
  double expected_output_tokens = 256;  ///< used to estimate the cost of each model for this request
};

struct Choice {
  std::size_t model = 0;               ///< index into LearnedModel::models()
  std::vector<double> predicted_quality;  ///< per model
  std::vector<double> estimated_cost;     ///< per model, USD for this request
};

/// One logistic head: its name ("route" or "quality:<model>") and meaning.
struct HeadInfo {
  std::string name;
  int model = -1;  ///< quality heads: the model's index; route head: -1
};

/// The prior the router mixes with, and falls back to under domain shift (README §2, "Prior and shift").
///
/// Both are on the scale of the route score, so one threshold serves all three: the length prior maps a
/// prompt's length percentile among the training prompts to the route score at the same percentile of
/// the training scores (a prompt longer than 70 % of the training prompts gets the score that 70 % of
/// them scored below). With the guard on, a prompt whose dense features lie far outside the training
/// distribution is scored by the fallback alone.
struct ScorePrior {
  enum class Fallback { length, strong, weak };
  Fallback fallback = Fallback::length;  ///< what an out-of-distribution prompt is scored with
  double mix = 0;                        ///< in distribution: score = (1 - mix) * model + mix * length prior
  /// Mix in logit space instead: score = sigmoid((1 - mix) * logit(model) + mix * logit(prior)). Absent
  /// (false) in older files.
  bool logit_mix = false;
  std::vector<float> length_q;           ///< log(1 + bytes) of the training prompts at 0, 1, ..., 100 %
  std::vector<float> score_q;            ///< route score of the training prompts at 0, 1, ..., 100 %
  double max_shift = 0;                  ///< shift above this falls back; 0 turns the guard off
  double shift_quantile = 0;             ///< the training quantile max_shift was set at (for docs/notes)
  bool active() const { return length_q.size() >= 2 && score_q.size() == length_q.size(); }
};

/// One prompt's score and where it came from (for decision reasons and tools).
struct ScoreDetail {
  double score = 0;       ///< what score() returns
  double model = 0;       ///< the learned route score alone
  double prior = 0;       ///< the prior's score (length percentile mapped onto the route score scale)
  double shift = 0;       ///< distance from the training distribution: mean of min(z^2, 100) over dense features
  bool fallback = false;  ///< shift > max_shift: `score` is the fallback prior's
  double max_shift = 0;   ///< the model's limit (0: guard off)
  const char* fallback_prior = "length";  ///< "length", "strong" or "weak" (ScorePrior::Fallback)
};

/// Everything a model file holds, as plain values. Built by the trainer; `LearnedModel` takes it over.
struct ModelParts {
  FeatureTransform transform;
  std::vector<std::string> models;     ///< model names, as in the training data
  std::vector<ModelPrice> prices;      ///< optional default prices, same order as models (may be empty)
  int strong = -1, weak = -1;          ///< the pair the route head was trained for (indices into models)
  std::vector<HeadInfo> heads;
  std::vector<float> weights;          ///< dimension x heads, row-major by feature
  std::vector<float> bias;             ///< per head
  std::vector<double> quality_mean;    ///< per model: mean quality in the training data
  double threshold = 0.5;              ///< default threshold for `route_strong` (set by train --strong-share)
  ScorePrior prior;                    ///< prior mixing and shift fallback; inactive in older files
  std::string notes;                   ///< free text: training data, options, CV numbers
};

class LearnedModel {
 public:
  /// Reads a model file written by `save` (`switchyard train`). Errors name the file and the problem.
  static Result<std::shared_ptr<const LearnedModel>> load(const std::string& path);
  /// Parses the bytes of a model file.
  static Result<std::shared_ptr<const LearnedModel>> from_bytes(std::string_view bytes);
  /// Builds a model from trained parts (used by the trainer and tests).
  static Result<std::shared_ptr<const LearnedModel>> from_parts(ModelParts parts);

  /// Serialises to the model file format (see README "Model file").
  std::string to_bytes() const;
  Result<bool> save(const std::string& path) const;

  /// Route score in [0,1] for a strong-vs-weak decision; higher means "send to the strong model".
  /// Without a route head: predicted quality of the strong model minus that of the weak one, mapped
  /// to [0,1] as (1 + diff) / 2.
  double score(std::string_view prompt) const { return score_detail(prompt).score; }
  /// The score of a conversation's scored message (the last user message) given the conversation's
  /// shape (conversation_shape()); models trained without the conversation block ignore the shape.
  double score(std::string_view prompt, const ConversationShape& conversation) const {
    return score_detail(prompt, conversation).score;
  }
  /// The score with its parts: the model's own score, the prior, the shift distance and whether the
  /// shift guard fell back to the prior (the learned stage puts this in the decision reason).
  ScoreDetail score_detail(std::string_view prompt) const { return score_detail(prompt, ConversationShape{}); }
  ScoreDetail score_detail(std::string_view prompt, const ConversationShape& conversation) const;
  /// The same from raw features already extracted with this model's config and the prompt's byte length.
  ScoreDetail score_detail(const RawFeatures& raw, std::size_t prompt_bytes) const;
  /// Only the learned heads' route score (no prior, no guard).
  double model_score(const RawFeatures& raw) const;
  /// Distance of a prompt's dense features from the training distribution (ScoreDetail::shift).
  double shift(const RawFeatures& raw) const;
  /// The length prior's score for a prompt of this many bytes (ScorePrior).
  double length_prior(std::size_t prompt_bytes) const;
  /// score(prompt) >= threshold.
  bool route_strong(std::string_view prompt, double threshold) const { return score(prompt) >= threshold; }
  /// route_strong with the threshold stored in the file.
  bool route_strong(std::string_view prompt) const { return score(prompt) >= parts_.threshold; }

  /// Per model (order of `models()`): predicted probability that it answers well. Models without a
  /// quality head get their training mean.
  std::vector<double> predict_quality(std::string_view prompt) const;
  /// Picks a model for this prompt (see ChoicePolicy). `prices` must have one entry per model, in the
  /// order of `models()`; an empty span uses the prices stored in the file.
  Choice choose(std::string_view prompt, const ChoicePolicy& policy, std::span<const ModelPrice> prices = {}) const;

  /// All heads' raw logits for the prompt (route head first when present); for tools and tests.
  void logits(std::string_view prompt, std::span<double> out) const;
  /// The same from features already extracted with this model's feature config (callers that build
  /// their own hashed features, e.g. the answer scorer over prompt and answer). Allocation-free for up
  /// to 16 heads.
  void logits(const RawFeatures& raw, std::span<double> out) const;

  const std::vector<std::string>& models() const { return parts_.models; }
  const std::vector<HeadInfo>& heads() const { return parts_.heads; }
  const ModelParts& parts() const { return parts_; }
  double default_threshold() const { return parts_.threshold; }
  int strong_model() const { return parts_.strong; }
  int weak_model() const { return parts_.weak; }

  explicit LearnedModel(ModelParts parts);

 private:
  ModelParts parts_;
  FeatureExtractor extractor_;
  /// Serving layout: per hash bucket one row [idf, w_head0, w_head1, ...], so a feature costs one cache
  /// line; then the dense features' weights, one row each.
  std::vector<float> packed_;
  std::size_t stride_ = 1;
  int route_head_ = -1;
  std::vector<int> quality_head_;  ///< per model: head index or -1
};

}  // namespace sy::learn

#pragma once
/// Training data from a gateway's own traffic (`switchyard train --from-log`): the decision log's request
/// lines (with their prompts: `decision_log.include_prompt`), the `"type":"feedback"` lines
/// `POST /v1/feedback` wrote into it, and the cascade's verdicts (its `cascade` path). Pure functions over
/// the log's text; nothing here touches the network or the running gateway.
///
/// What becomes a label, for a strong/weak pair of models (src/learn/README.md §8):
/// - feedback on an answer gives that model's quality: a score on the log's scale (detected, or given)
///   mapped to [0,1], else a label (good/bad, up/down, correct/incorrect, ...) as 1 or 0;
/// - a cascade step of the weak model that was accepted gives the weak model 1, one that was rejected 0
///   (a failed call says nothing); explicit feedback on the same answer wins over the verdict;
/// - the strong model's quality is known only from feedback: the route head learns `weak_wrong`
///   (1 - q_weak), which needs the weak model's quality alone.
/// Every routed request with a prompt becomes a row, labelled or not: unlabelled rows still count for the
/// strong-call share the threshold is calibrated to.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/learn/dataset.hpp"

namespace sy::learn {

struct TrafficOptions {
  std::string strong{}, weak{};  ///< model names as the decision log writes them (`model`)
  std::string router{};          ///< only this router's requests; empty: every router
  /// The scale of feedback scores, mapped linearly to [0,1]; nullopt: detected from the scores in the log
  /// (detect_score_range).
  std::optional<std::pair<double, double>> score_range{};
};

/// One logged request that became a row of TrafficData::data (same index).
struct TrafficRequest {
  std::string request_id;
  std::string answered_by;  ///< the model that gave the answer (`model`)
  std::int64_t prompt_tokens = 0, completion_tokens = 0;
  double cost_usd = 0;  ///< what the answer cost, as logged (cascade steps included)
};

struct TrafficReport {
  std::size_t decision_lines = 0;   ///< request lines read
  std::size_t without_prompt = 0;   ///< routed, but logged without the prompt (include_prompt off)
  std::size_t not_routed = 0;       ///< a model was named, or another router (--router)
  std::size_t failed = 0;           ///< status other than 200
  std::size_t other_models = 0;     ///< answered by neither the strong nor the weak model
  std::size_t feedback_lines = 0;
  std::size_t feedback_unmatched = 0;  ///< for a request not among the rows (or an unknown label)
  std::size_t from_feedback = 0;    ///< rows whose weak-model label came from feedback
  std::size_t from_cascade = 0;     ///< rows whose weak-model label came from a cascade verdict
  std::size_t strong_feedback = 0;  ///< rows with feedback on the strong model's answer
  std::pair<double, double> score_range{0, 1};  ///< the feedback scale used
};

struct TrafficData {
  Dataset data;  ///< models {strong, weak}; quality NaN where unknown; group = router, source "traffic"
  std::vector<TrafficRequest> requests;  ///< per row
  std::size_t strong_answers = 0;        ///< rows the strong model answered (the logged strong-call share)
};

/// Builds the rows from one or more logs' text, in order (a feedback line joins the latest request line
/// with its id and key before it, or else the first one after it: feedback given the moment the answer
/// arrived may be logged just before its request). Errors: no strong/weak names, or the same name for both. Lines that
/// are not JSON objects are skipped (a log cut mid-line).
Result<TrafficData> traffic_dataset(const std::vector<std::string>& logs, const TrafficOptions& opts,
                                    TrafficReport* report = nullptr);

/// The scale of a set of feedback scores: [-1,1] if any is negative, else [0,1] when all are <= 1,
/// [1,5] when <= 5, [1,10] when <= 10, else [0,100].
std::pair<double, double> detect_score_range(const std::vector<double>& scores);

/// A feedback label as a quality: 1 for good/up/thumbs_up/positive/correct/accept(ed)/yes/helpful/pass,
/// 0 for their opposites (case-insensitive); nullopt for anything else.
std::optional<float> label_quality(std::string_view label);

/// The verdict a cascade path gives `model` ("a:rejected(0.42) -> b:accepted(0.90)"): 1 accepted, 0
/// rejected, nullopt when the model was not a step or its call failed. Model names may contain ':'.
std::optional<float> cascade_verdict(std::string_view path, std::string_view model);

/// Whether a request id falls in the held-out slice: a fixed hash of the id below `share` (so the same
/// request is held out on every run, and a retrain never reports on rows it was fitted to).
bool held_out(std::string_view request_id, double share);

}  // namespace sy::learn

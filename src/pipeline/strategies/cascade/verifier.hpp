#pragma once
// How the verify cascade judges a step's answer: an ordered list of verifiers, each a score in [0,1]
// (or none: it could not judge, which counts as 0, not confident) combined by weight. One file per
// verifier type (*_verifier.cpp), registered by YAML `type:` in one table (verifier_registry.cpp), like
// stages. Verifiers are built at config load, immutable afterwards and shared by every thread.
#include <boost/asio/awaitable.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/strategies/cascade/logprobs.hpp"
#include "pipeline/strategies/cascade/model_answer.hpp"
#include "switchyard/config/node.hpp"
#include "switchyard/pipeline/stage.hpp"

namespace sy::pipeline::cascade {

/// A step's answer, as the verifiers see it.
struct Candidate {
  const Request& request;          ///< the client's request
  const std::string& model;        ///< the step's model
  const nlohmann::json& choices;   ///< every choice of the answer (samples when a verifier asked for n)
  std::size_t chosen = 0;          ///< the choice that would be returned
  const nlohmann::json& choice() const { return choices[chosen]; }
};

/// What a verifier may use beyond the answer: the model caller (a judge model) and the cascade's spend.
struct VerifierContext {
  const ModelCaller& models;
  Spend& spent;
};

/// A verifier's verdict on one answer.
struct Judgement {
  std::optional<double> score;         ///< in [0,1]; none: it could not judge
  std::optional<std::size_t> choose;   ///< a better choice to return (sample agreement's representative)
};

class Verifier {
 public:
  virtual ~Verifier() = default;
  /// Its YAML `type:`, also the name of its score ("small:heuristics").
  virtual std::string_view type() const = 0;
  double weight() const { return weight_; }
  void set_weight(double w) { weight_ = w; }

  /// Whether the step must be asked for per-token logprobs so this verifier can judge.
  virtual bool wants_logprobs() const { return false; }
  /// How many samples (`n`) the step must be asked for; 1: the answer alone.
  virtual int samples() const { return 1; }

  /// Judges a whole answer.
  virtual boost::asio::awaitable<Judgement> judge(const Candidate& answer, VerifierContext& ctx) const = 0;

  /// Whether it can judge a streamed prefix from its tokens' logprobs alone (stream_early).
  virtual bool judges_prefix() const { return false; }
  /// Its score on the first `limit` tokens of a prefix; none when it cannot judge.
  virtual std::optional<double> judge_prefix(std::span<const TokenLogprob>, std::size_t /*limit*/) const {
    return std::nullopt;
  }

 private:
  double weight_ = 1;
};

/// Builds a verifier from its YAML node (its `type` and `weight` already read); problems go to `d`.
using VerifierFactory =
    std::function<std::unique_ptr<Verifier>(const config::Node& node, BuildContext& ctx, config::Diagnostics& d)>;
/// The factory for a verifier `type:`, or nullptr. The one place verifier types are registered.
const VerifierFactory* verifier_factory(std::string_view type);
/// All registered types, in order, for error messages ("logprob, heuristics, ...").
std::string verifier_types();
/// Every key any verifier reads (a verifier's node is checked against them all).
const std::vector<std::string_view>& verifier_keys();

/// The model a cascade key names (a model or a tier of the router), or "" after an error at `at`.
std::string resolve_model(BuildContext& ctx, const config::Node& at, const std::string& name, config::Diagnostics& d);

}  // namespace sy::pipeline::cascade

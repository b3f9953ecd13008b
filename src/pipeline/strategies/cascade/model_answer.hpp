#pragma once
// A cascade's model calls and its record of them: one parsed answer per call, what the calls cost, and
// the path the cascade took (the `x-switchyard-cascade` header), turned into the Decision's
// StrategyReport in one place.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/json_scan.hpp"
#include "switchyard/pipeline/model_caller.hpp"
#include "switchyard/pipeline/stage.hpp"

namespace sy::pipeline::cascade {

/// The header naming the path a cascade took, e.g. "small:rejected(0.31) -> large:routed".
inline constexpr std::string_view kPathHeader = "x-switchyard-cascade";

/// One complete (non-streamed) model call made by a cascade, parsed.
struct ModelAnswer {
  bool ok = false;
  Error error;
  nlohmann::json body;  ///< the chat.completion; ok means it has a non-empty `choices` array
  DispatchTrace trace;
  Usage usage;
  double cost = 0;
};

/// `choice.message.content` when it is a string, else "".
std::string answer_text(const nlohmann::json& choice);

/// Calls `model` with the client's request `orig`, changed by `edits`, never streamed (the cascade reads it).
boost::asio::awaitable<ModelAnswer> ask(const ModelCaller& models, const Request& orig, const std::string& model,
                                        std::vector<json::Edit> edits);

/// Calls `model` with a chat request body of the cascade's own (a judge's or a reviewer's), read under
/// the JSON limits of the client's request `orig`.
boost::asio::awaitable<ModelAnswer> ask_body(const ModelCaller& models, const Request& orig, const std::string& model,
                                             std::string body);

/// What the cascade's own calls cost: USD, and time spent waiting on upstreams (not proxy overhead).
struct Spend {
  double usd = 0;
  std::chrono::microseconds upstream{0};
  void add(double cost, const DispatchTrace& t) {
    usd += cost;
    upstream += t.upstream_time;
  }
};

/// The cascade's record of one request: the path it took, the steps it passed over, what it spent.
class CascadeTrail {
 public:
  Spend& spent() { return spent_; }
  const Spend& spent() const { return spent_; }
  /// Appends "model:outcome" to the path.
  void step(const std::string& model, std::string_view outcome);
  /// The same, for a step passed over (a failure or a rejection): an escalation.
  void escalate(const std::string& model, std::string_view outcome) {
    step(model, outcome);
    ++escalations_;
  }
  /// Writes the path header, the escalations and the spend into `d.report`, once `d.trace` is set: the
  /// server times the call in `d.trace` itself.
  void report(Decision& d) const;

 private:
  std::string path_;
  int escalations_ = 0;
  Spend spent_;
};

/// Makes `d` answer with `answer` from `model` (its choice `chosen`), carrying that call's trace: one
/// choice, logprobs only if the client asked, replayed as SSE when the client streams.
void answer_with(Decision& d, const Request& orig, ModelAnswer& answer, std::size_t chosen, const std::string& model,
                 std::string reason);

/// The decision of a strategy that was given no model caller (the router always gives one: a bug).
Decision without_model_caller();

/// Two decimals, as the cascade writes scores in paths and reasons.
std::string fmt2(double v);

}  // namespace sy::pipeline::cascade

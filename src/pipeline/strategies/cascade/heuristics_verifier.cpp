// Answer heuristics: rule-based checks of the answer (empty, truncated, refusal, hedging, invalid JSON
// when JSON was asked for, arithmetic, a missing final answer, repetition), and tool-call arguments
// against the tool's parameter schema.
#include <algorithm>

#include "pipeline/strategies/cascade/verifier.hpp"
#include "switchyard/answer/heuristics.hpp"
#include "switchyard/answer/json_schema.hpp"

namespace sy::pipeline::cascade {
namespace {

using Json = nlohmann::json;

/// The lowest score of the tool calls' arguments against their tools' parameter schemas (1: none).
double tool_call_score(const Request& request, const Json& tool_calls) {
  double score = 1;
  // Part of the client's body, which passed the JSON guard.
  const json::Field* tools_field = request.fields().find("tools");
  Json tools = Json::parse(std::string(tools_field ? tools_field->value : "[]"), nullptr, false);
  for (const auto& tc : tool_calls) {
    std::string name = tc.value("function", Json::object()).value("name", "");
    std::string args = tc.value("function", Json::object()).value("arguments", "");
    std::string schema = "{}";
    if (tools.is_array()) {
      for (const auto& t : tools) {
        const auto& f = t.value("function", Json::object());
        if (f.value("name", "") == name && f.contains("parameters")) schema = f["parameters"].dump();
      }
    }
    auto parsed = answer::JsonSchema::parse(schema);
    if (parsed) score = std::min(score, answer::check_tool_arguments(args, *parsed).score);
  }
  return score;
}

class HeuristicsVerifier final : public Verifier {
 public:
  static constexpr std::string_view kType = "heuristics";
  explicit HeuristicsVerifier(bool final_answer) : final_answer_(final_answer) {}
  std::string_view type() const override { return kType; }

  boost::asio::awaitable<Judgement> judge(const Candidate& answer, VerifierContext&) const override {
    co_return Judgement{score(answer.request, answer.choice()), std::nullopt};
  }

 private:
  double score(const Request& request, const Json& choice) const {
    answer::AnswerExpectations expect;
    std::string finish = choice.value("finish_reason", "");
    expect.finish_reason = finish;
    expect.json = request.response_format() == "json_object" || request.response_format() == "json_schema";
    expect.final_answer = final_answer_;
    double h = answer::check_answer(answer_text(choice), expect).score;
    const Json& msg = choice.value("message", Json::object());
    if (msg.contains("tool_calls") && msg["tool_calls"].is_array()) h = std::min(h, tool_call_score(request, msg["tool_calls"]));
    return h;
  }

  bool final_answer_;  // expect a stated final answer
};

}  // namespace

std::unique_ptr<Verifier> make_heuristics_verifier(const config::Node& n, BuildContext&, config::Diagnostics& d) {
  return std::make_unique<HeuristicsVerifier>(n.boolean("final_answer", d).value_or(false));
}

}  // namespace sy::pipeline::cascade

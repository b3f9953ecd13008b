// Logprob confidence: how sure the model was of the tokens it wrote (exp of the mean or the minimum
// logprob, or the mean margin over the runner-up). The one verifier that can judge a streamed prefix.
#include "pipeline/strategies/cascade/verifier.hpp"

namespace sy::pipeline::cascade {
namespace {

using Json = nlohmann::json;

class LogprobVerifier final : public Verifier {
 public:
  static constexpr std::string_view kType = "logprob";
  explicit LogprobVerifier(LogprobMetric metric) : metric_(metric) {}
  std::string_view type() const override { return kType; }
  bool wants_logprobs() const override { return true; }
  bool judges_prefix() const override { return true; }

  boost::asio::awaitable<Judgement> judge(const Candidate& answer, VerifierContext&) const override {
    co_return Judgement{score(answer.choice()), std::nullopt};
  }

  std::optional<double> judge_prefix(std::span<const TokenLogprob> tokens, std::size_t limit) const override {
    return logprob_confidence(tokens, metric_, limit);
  }

 private:
  std::optional<double> score(const Json& choice) const {
    const Json* lp = choice.contains("logprobs") && choice["logprobs"].is_object() ? &choice["logprobs"] : nullptr;
    if (!lp || !lp->contains("content") || !(*lp)["content"].is_array()) return std::nullopt;
    std::vector<TokenLogprob> tokens;
    for (const auto& t : (*lp)["content"]) tokens.push_back(token_logprob(t));
    return logprob_confidence(tokens, metric_);
  }

  LogprobMetric metric_;
};

}  // namespace

std::unique_ptr<Verifier> make_logprob_verifier(const config::Node& n, BuildContext&, config::Diagnostics& d) {
  std::string metric = n.str("metric", d).value_or("mean");
  if (metric == "mean") return std::make_unique<LogprobVerifier>(LogprobMetric::mean);
  if (metric == "min") return std::make_unique<LogprobVerifier>(LogprobMetric::min);
  if (metric == "margin") return std::make_unique<LogprobVerifier>(LogprobMetric::margin);
  n.get("metric")->error(d, "expected mean, min or margin");
  return nullptr;
}

}  // namespace sy::pipeline::cascade

// Self-verification: a judge model (the step's own model unless one is named) is asked whether the answer
// is correct; the score is P(yes) from its first token's logprobs, else its verdict (1 for yes, 0 for no).
// The judge's call is paid for like any cascade call; a judge that is down cannot judge.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "pipeline/strategies/cascade/prompts.hpp"
#include "pipeline/strategies/cascade/verifier.hpp"

namespace sy::pipeline::cascade {
namespace {

using Json = nlohmann::json;

/// `token` lower-cased, without whitespace.
std::string bare(std::string_view token) {
  std::string low;
  for (char ch : token) {
    if (!std::isspace(static_cast<unsigned char>(ch))) low.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  }
  return low;
}

/// P(yes) / (P(yes) + P(no)) from the judge's first token's top logprobs; none when neither is there.
std::optional<double> p_yes(const Json& choice) {
  const Json* lp = choice.contains("logprobs") && choice["logprobs"].is_object() ? &choice["logprobs"] : nullptr;
  if (!lp || !lp->contains("content") || !(*lp)["content"].is_array() || (*lp)["content"].empty()) return std::nullopt;
  double yes = -1, no = -1;
  for (const auto& t : (*lp)["content"][0].value("top_logprobs", Json::array())) {
    std::string tok = bare(t.value("token", ""));
    double p = std::exp(t.value("logprob", -100.0));
    if (tok == "yes" && yes < 0) yes = p;
    if (tok == "no" && no < 0) no = p;
  }
  if (yes < 0 && no < 0) return std::nullopt;
  double y = std::max(yes, 0.0), n = std::max(no, 0.0);
  return y + n > 0 ? y / (y + n) : 0.0;
}

/// The judge's verdict read from its words: 1 when it says yes.
double verdict(const Json& choice) {
  std::string text = answer_text(choice);
  for (auto& ch : text) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return text.find("yes") != std::string::npos ? 1.0 : 0.0;
}

class SelfVerifyVerifier final : public Verifier {
 public:
  static constexpr std::string_view kType = "self_verify";
  explicit SelfVerifyVerifier(std::string judge) : judge_(std::move(judge)) {}
  std::string_view type() const override { return kType; }

  boost::asio::awaitable<Judgement> judge(const Candidate& answer, VerifierContext& ctx) const override {
    const std::string& judge = judge_.empty() ? answer.model : judge_;
    ModelAnswer a = co_await ask_body(ctx.models, answer.request, judge,
                                      prompts::judge_body(answer.request.last_user_text(), answer_text(answer.choice())));
    ctx.spent.add(a.cost, a.trace);
    if (!a.ok) co_return Judgement{};  // judge down: not confident
    const Json& choice = a.body["choices"][0];
    std::optional<double> p = p_yes(choice);
    co_return Judgement{p ? *p : verdict(choice), std::nullopt};
  }

 private:
  std::string judge_;  // the model asked; empty: the step's own model
};

}  // namespace

std::unique_ptr<Verifier> make_self_verify_verifier(const config::Node& n, BuildContext& ctx, config::Diagnostics& d) {
  std::string judge;
  if (auto j = n.str("judge", d)) {
    judge = resolve_model(ctx, *n.get("judge"), *j, d);
    if (judge.empty()) return nullptr;
  }
  return std::make_unique<SelfVerifyVerifier>(std::move(judge));
}

}  // namespace sy::pipeline::cascade

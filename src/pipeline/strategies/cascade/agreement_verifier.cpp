// Sample agreement (self-consistency): the step is asked for n samples; the score is the share of them
// that give the same extracted answer, and the first sample giving it is the one returned.
#include "pipeline/strategies/cascade/verifier.hpp"
#include "switchyard/answer/extraction.hpp"

namespace sy::pipeline::cascade {
namespace {

class AgreementVerifier final : public Verifier {
 public:
  static constexpr std::string_view kType = "agreement";
  AgreementVerifier(int samples, answer::AnswerExtractor extractor) : samples_(samples), extractor_(std::move(extractor)) {}
  std::string_view type() const override { return kType; }
  int samples() const override { return samples_; }

  boost::asio::awaitable<Judgement> judge(const Candidate& answer, VerifierContext&) const override {
    co_return vote(answer.choices);
  }

 private:
  Judgement vote(const nlohmann::json& choices) const {
    std::vector<std::string> texts;
    for (const auto& ch : choices) texts.push_back(answer_text(ch));
    std::vector<std::string_view> views(texts.begin(), texts.end());
    answer::Agreement a = answer::agree(views, extractor_);
    if (a.samples < 2) return {};
    Judgement j{a.share(), std::nullopt};
    if (a.representative < choices.size()) j.choose = a.representative;
    return j;
  }

  int samples_;
  answer::AnswerExtractor extractor_;
};

}  // namespace

std::unique_ptr<Verifier> make_agreement_verifier(const config::Node& n, BuildContext&, config::Diagnostics& d) {
  int samples = static_cast<int>(n.integer("samples", d, 2, 16).value_or(3));
  std::vector<std::string> patterns = n.str_list("extract", d).value_or(std::vector<std::string>{});
  auto extractor = answer::AnswerExtractor::compile(patterns);
  if (!extractor) {
    n.error(d, extractor.error().message);
    return nullptr;
  }
  return std::make_unique<AgreementVerifier>(samples, std::move(*extractor));
}

}  // namespace sy::pipeline::cascade

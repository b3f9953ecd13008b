// The learned answer scorer (learn/answer_scorer.hpp): P(answer correct | question, answer), from a model
// file trained with `switchyard train --answer-scorer`.
#include "pipeline/strategies/cascade/verifier.hpp"
#include "switchyard/learn/answer_scorer.hpp"

namespace sy::pipeline::cascade {
namespace {

class ScorerVerifier final : public Verifier {
 public:
  static constexpr std::string_view kType = "scorer";
  explicit ScorerVerifier(std::shared_ptr<const learn::AnswerScorer> scorer) : scorer_(std::move(scorer)) {}
  std::string_view type() const override { return kType; }

  boost::asio::awaitable<Judgement> judge(const Candidate& answer, VerifierContext&) const override {
    co_return Judgement{scorer_->score(answer.request.last_user_text(), answer_text(answer.choice())), std::nullopt};
  }

 private:
  std::shared_ptr<const learn::AnswerScorer> scorer_;
};

}  // namespace

std::unique_ptr<Verifier> make_scorer_verifier(const config::Node& n, BuildContext& ctx, config::Diagnostics& d) {
  auto file = n.str("model_file", d, true);
  if (!file) return nullptr;
  auto scorer = learn::AnswerScorer::load(ctx.resolve_path(*file));
  if (!scorer) {
    n.get("model_file")->error(d, scorer.error().message + " (train one with `switchyard train --answer-scorer`)");
    return nullptr;
  }
  return std::make_unique<ScorerVerifier>(*scorer);
}

}  // namespace sy::pipeline::cascade

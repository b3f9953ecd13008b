// Review cascade: a cheap model drafts, a reviewer checks the draft against a rubric, and a frontier model
// rewrites it (given the draft and the review) only when the reviewer flags problems. Whatever fails, the
// client gets an answer: no draft routes the request to the rewriter; a failed rewrite returns the draft.
#include "pipeline/strategies/cascade/cascade.hpp"
#include "pipeline/strategies/cascade/model_answer.hpp"
#include "pipeline/strategies/cascade/prompts.hpp"
#include "pipeline/strategies/cascade/verifier.hpp"

namespace sy::pipeline::cascade {
namespace {

namespace net = boost::asio;

class ReviewCascade final : public Stage {
 public:
  static constexpr std::string_view kType = "cascade";
  std::string_view type() const override { return kType; }
  bool calls_models() const override { return true; }

  net::awaitable<Decision> decide(StageContext& ctx) const override {
    if (!ctx.models) co_return without_model_caller();
    Decision d;
    CascadeTrail trail;
    const Request& orig = ctx.features.request();
    const ModelCaller& models = *ctx.models;
    std::vector<json::Edit> no_edits;  // (named: GCC 12 cannot put braced lists into coroutine frames)
    ModelAnswer drafted = co_await ask(models, orig, draft, std::move(no_edits));
    trail.spent().add(drafted.cost, drafted.trace);
    if (!drafted.ok) {
      // No draft: the rewriter answers the request directly, streaming live.
      trail.step(draft, "failed");
      trail.step(rewriter, "routed");
      d.kind = Decision::Kind::route;
      d.target = rewriter;
      d.reason = "cascade:review draft failed";
      trail.report(d);
      co_return d;
    }
    const std::string draft_text = answer_text(drafted.body["choices"][0]);
    ModelAnswer review =
        co_await ask_body(models, orig, reviewer, prompts::review_body(rubric, orig.last_user_text(), draft_text));
    trail.spent().add(review.cost, review.trace);
    const std::string verdict = review.ok ? answer_text(review.body["choices"][0]) : std::string();
    trail.step(draft, "drafted");
    if (review.ok && verdict.find(prompts::kApproved) != std::string::npos) {
      trail.step(reviewer, "approved");
      answer_with(d, orig, drafted, 0, draft, "cascade:review approved the draft");
      trail.report(d);
      co_return d;
    }
    // Flagged (or the reviewer is down): the frontier model rewrites with the draft and the review.
    std::vector<json::Edit> rewrite;
    rewrite.push_back({"messages", prompts::rewrite_messages(orig.payload(), draft_text,
                                                             review.ok ? verdict : prompts::kReviewerUnavailable)});
    ModelAnswer rewritten = co_await ask(models, orig, rewriter, std::move(rewrite));
    trail.spent().add(rewritten.cost, rewritten.trace);
    trail.step(reviewer, review.ok ? "flagged" : "failed");
    trail.step(rewriter, rewritten.ok ? "rewrote" : "failed");
    if (rewritten.ok) answer_with(d, orig, rewritten, 0, rewriter, "cascade:review flagged, rewritten");
    else answer_with(d, orig, drafted, 0, draft, "cascade:review rewrite failed, draft returned");
    trail.report(d);
    co_return d;
  }

  std::string draft, reviewer, rewriter, rubric;
};

}  // namespace

std::unique_ptr<Stage> make_review_cascade(const config::Node& n, BuildContext& ctx, config::Diagnostics& d) {
  auto stage = std::make_unique<ReviewCascade>();
  const std::size_t errors_before = d.errors().size();
  for (auto [key, member] : {std::pair{"draft", &ReviewCascade::draft}, std::pair{"reviewer", &ReviewCascade::reviewer},
                             std::pair{"rewriter", &ReviewCascade::rewriter}}) {
    if (auto v = n.str(key, d, true)) (*stage).*member = resolve_model(ctx, *n.get(key), *v, d);
  }
  stage->rubric = n.str("rubric", d).value_or(std::string(prompts::kDefaultRubric));
  if (const config::Node* se = n.get("stream_early")) se->error(d, "stream_early applies to verify mode only");
  if (d.errors().size() != errors_before) return nullptr;
  return stage;
}

}  // namespace sy::pipeline::cascade

// Verify cascade: steps cheap -> expensive, each with an acceptance threshold on the weighted score of
// the verifiers (verifier.hpp). A step's answer that scores at least its threshold is the answer (replayed
// to a streaming client as SSE at once); one that scores less, or fails, escalates to the next step, and
// the client sees no error. The last step (or the next one once `max_cost_usd` / `max_latency` is spent)
// is routed like any request, so it streams live and fails over as usual. With `stream_early: {tokens: N}`
// a streaming client's earlier steps are streamed instead (stream_early.hpp). The path taken is in
// `x-switchyard-cascade` (e.g. "small:rejected(0.31) -> large:routed", "small:accepted-early(0.93@16)").
#include <algorithm>
#include <chrono>

#include "pipeline/strategies/cascade/cascade.hpp"
#include "pipeline/strategies/cascade/model_answer.hpp"
#include "pipeline/strategies/cascade/stream_early.hpp"
#include "pipeline/strategies/cascade/verifier.hpp"

namespace sy::pipeline::cascade {
namespace {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;
using Scores = std::vector<std::pair<std::string, double>>;

struct Step {
  std::string model;
  double threshold = 0.5;
};

class VerifyCascade final : public Stage {
 public:
  static constexpr std::string_view kType = "cascade";
  std::string_view type() const override { return kType; }
  bool calls_models() const override { return true; }
  net::awaitable<Decision> decide(StageContext& ctx) const override;

  std::vector<Step> steps;
  std::vector<std::unique_ptr<Verifier>> verifiers;
  double max_cost_usd = 0;                   // 0: no budget
  std::chrono::milliseconds max_latency{0};  // 0: no budget
  std::size_t stream_early_tokens = 0;       // 0: streaming clients get held answers
  bool wants_logprobs = false;               // some verifier reads per-token logprobs
  int samples = 1;                           // samples (n) the verifiers need, 1: the answer alone

 private:
  bool streams_early(const Request& orig) const;
  bool over_budget(const CascadeTrail& trail, Clock::time_point started) const;
  std::vector<json::Edit> step_edits(const Request& orig) const;
  net::awaitable<bool> held_step(StageContext& ctx, const Step& step, Decision& d, CascadeTrail& trail) const;
  net::awaitable<bool> early_step(StageContext& ctx, const Step& step, Decision& d, CascadeTrail& trail) const;
  net::awaitable<double> judge(VerifierContext& vctx, const Request& orig, const std::string& model, ModelAnswer& answer,
                               std::size_t& chosen, Scores& scores) const;
};

net::awaitable<Decision> VerifyCascade::decide(StageContext& ctx) const {
  if (!ctx.models) co_return without_model_caller();
  Decision d;
  CascadeTrail trail;
  const auto started = Clock::now();
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const Step& step = steps[i];
    const bool last = i + 1 == steps.size();
    const bool budget_spent = over_budget(trail, started);
    if (last || (budget_spent && i > 0)) {
      // The final step is routed like any request: it streams live, and fails over as usual.
      trail.step(step.model, budget_spent && !last ? "routed(budget)" : "routed");
      d.kind = Decision::Kind::route;
      d.target = step.model;
      d.reason = "cascade:" + step.model + (i == 0 ? " (only step)" : " after " + std::to_string(i) + " rejected");
      break;
    }
    bool answered = false;
    if (streams_early(ctx.features.request())) answered = co_await early_step(ctx, step, d, trail);
    else answered = co_await held_step(ctx, step, d, trail);
    if (answered) break;
  }
  trail.report(d);
  co_return d;
}

/// Whether a step of this request is streamed early: the client streams one choice and the stage is
/// configured for it (the final step always streams live through the server).
bool VerifyCascade::streams_early(const Request& orig) const {
  if (stream_early_tokens == 0 || !orig.stream()) return false;
  const auto* n = orig.fields().find("n");
  return !n || n->value == "1";
}

bool VerifyCascade::over_budget(const CascadeTrail& trail, Clock::time_point started) const {
  return (max_cost_usd > 0 && trail.spent().usd >= max_cost_usd) ||
         (max_latency.count() > 0 && Clock::now() - started >= max_latency);
}

/// What a held step asks for beyond the client's request: logprobs and samples for the verifiers that
/// need them (unless the client set them itself).
std::vector<json::Edit> VerifyCascade::step_edits(const Request& orig) const {
  std::vector<json::Edit> edits;
  if (wants_logprobs && !orig.fields().find("logprobs")) {
    edits.push_back({"logprobs", std::string("true")});
    edits.push_back({"top_logprobs", std::string("2")});
  }
  if (samples > 1 && !orig.fields().find("n")) {
    edits.push_back({"n", std::to_string(samples)});
    if (!orig.temperature() || *orig.temperature() == 0) edits.push_back({"temperature", std::string("0.7")});
  }
  return edits;
}

/// A step whose whole answer is judged by every verifier. True when it answered (`d` is set).
net::awaitable<bool> VerifyCascade::held_step(StageContext& ctx, const Step& step, Decision& d,
                                              CascadeTrail& trail) const {
  const Request& orig = ctx.features.request();
  ModelAnswer answer = co_await ask(*ctx.models, orig, step.model, step_edits(orig));
  trail.spent().add(answer.cost, answer.trace);
  if (!answer.ok) {
    trail.escalate(step.model, "failed(" + std::string(to_string(answer.error.kind)) + ")");
    co_return false;  // the next model answers; the client sees no error
  }
  std::size_t chosen = 0;
  VerifierContext vctx{*ctx.models, trail.spent()};
  const double score = co_await judge(vctx, orig, step.model, answer, chosen, d.scores);
  d.scores.emplace_back(step.model, score);
  if (score < step.threshold) {
    trail.escalate(step.model, "rejected(" + fmt2(score) + ")");
    co_return false;
  }
  trail.step(step.model, "accepted(" + fmt2(score) + ")");
  answer_with(d, orig, answer, chosen, step.model,
              "cascade:" + step.model + " accepted score=" + fmt2(score) + ">=" + fmt2(step.threshold));
  co_return true;
}

/// A step streamed early and judged on its prefix. True when it answered (`d` holds the live stream).
net::awaitable<bool> VerifyCascade::early_step(StageContext& ctx, const Step& step, Decision& d,
                                               CascadeTrail& trail) const {
  EarlyStep e = co_await stream_step(*ctx.models, ctx.features, step.model, step.threshold, stream_early_tokens, verifiers);
  trail.spent().add(e.cost, e.trace);
  for (auto& sc : e.scores) d.scores.push_back(std::move(sc));
  if (e.verdict == EarlyStep::Verdict::failed) {
    trail.escalate(step.model, "failed(" + std::string(to_string(e.error.kind)) + ")");
    co_return false;
  }
  const std::string judged = fmt2(e.score) + "@" + std::to_string(e.tokens);
  d.scores.emplace_back(step.model, e.score);
  if (e.verdict == EarlyStep::Verdict::rejected) {
    trail.escalate(step.model, "rejected-early(" + judged + ")");
    co_return false;
  }
  trail.step(step.model, "accepted-early(" + judged + ")");
  d.kind = Decision::Kind::respond;
  d.target = step.model;
  d.reason = "cascade:" + step.model + " accepted on its first " + std::to_string(e.tokens) +
             " tokens score=" + fmt2(e.score) + ">=" + fmt2(step.threshold);
  d.outcome.emplace();
  d.outcome->stream = std::move(e.stream);
  d.trace = std::move(e.trace);
  co_return true;
}

/// The weighted verifier score of a step's answer; `chosen` is the choice to return (agreement picks the
/// representative sample, which the verifiers after it judge). Verifiers that cannot judge count as 0.
net::awaitable<double> VerifyCascade::judge(VerifierContext& vctx, const Request& orig, const std::string& model,
                                            ModelAnswer& answer, std::size_t& chosen, Scores& scores) const {
  const nlohmann::json& choices = answer.body["choices"];
  double total = 0, weights = 0;
  for (const auto& v : verifiers) {
    const Candidate candidate{orig, model, choices, chosen};
    const Judgement j = co_await v->judge(candidate, vctx);
    if (j.choose) chosen = *j.choose;
    scores.emplace_back(model + ":" + std::string(v->type()), j.score.value_or(-1));
    total += v->weight() * j.score.value_or(0.0);
    weights += v->weight();
  }
  co_return weights > 0 ? total / weights : 0.0;
}

// --- config -----------------------------------------------------------------------------------------

/// `steps:` (at least two, each a model or {model, threshold}), cut to `max_escalations` + 1.
bool read_steps(const config::Node& n, BuildContext& ctx, config::Diagnostics& d, std::vector<Step>& out) {
  const config::Node* steps = n.get("steps");
  if (!steps || !steps->is_sequence() || steps->items().size() < 2) {
    (steps ? *steps : n).error(d, "a cascade needs at least two steps (cheap -> expensive)");
    return false;
  }
  for (const auto& sn : steps->items()) {
    Step s;
    if (sn.is_scalar()) {
      s.model = resolve_model(ctx, sn, sn.scalar(), d);
    } else {
      sn.check_keys({"model", "threshold"}, d);
      if (auto m = sn.str("model", d, true)) s.model = resolve_model(ctx, *sn.get("model"), *m, d);
      s.threshold = sn.number("threshold", d, 0, 1).value_or(0.5);
    }
    out.push_back(std::move(s));
  }
  if (auto me = n.integer("max_escalations", d, 0, 100)) {
    // Steps beyond the allowed escalations are never reached: the last allowed one is the final step.
    if (static_cast<std::size_t>(*me) + 1 < out.size()) out.resize(static_cast<std::size_t>(*me) + 1);
  }
  return true;
}

/// `verifiers:` (at least one), each built by its registered factory.
bool read_verifiers(const config::Node& n, BuildContext& ctx, config::Diagnostics& d,
                    std::vector<std::unique_ptr<Verifier>>& out) {
  const config::Node* vs = n.get("verifiers");
  if (!vs || !vs->is_sequence() || vs->items().empty()) {
    (vs ? *vs : n).error(d, "a cascade needs at least one verifier (" + verifier_types() + ")");
    return false;
  }
  for (const auto& vn : vs->items()) {
    vn.check_keys(verifier_keys(), d);
    const std::string type = vn.str("type", d, true).value_or("");
    const double weight = vn.number("weight", d, 0, 1e6).value_or(1);
    const VerifierFactory* factory = verifier_factory(type);
    if (!factory) {
      (vn.get("type") ? *vn.get("type") : vn).error(d, "unknown verifier \"" + type + "\" (known: " + verifier_types() + ")");
      continue;
    }
    if (auto v = (*factory)(vn, ctx, d)) {
      v->set_weight(weight);
      out.push_back(std::move(v));
    }
  }
  return true;
}

/// `stream_early: {tokens: N}`: decided on a prefix by the verifiers that can (logprob); the others need
/// the whole answer.
void read_stream_early(const config::Node& se, const std::vector<std::unique_ptr<Verifier>>& verifiers,
                       config::Diagnostics& d, std::size_t& tokens) {
  if (!se.is_map()) {
    se.error(d, "expected a map such as {tokens: 16}");
  } else {
    se.check_keys({"tokens"}, d);
    tokens = static_cast<std::size_t>(se.integer("tokens", d, 1, 4096, true).value_or(0));
  }
  const bool judges_prefix = std::any_of(verifiers.begin(), verifiers.end(), [](const auto& v) { return v->judges_prefix(); });
  if (!judges_prefix) se.error(d, "stream_early judges a prefix by its logprobs: add a {type: logprob} verifier");
}

}  // namespace

std::unique_ptr<Stage> make_verify_cascade(const config::Node& n, BuildContext& ctx, config::Diagnostics& d) {
  auto stage = std::make_unique<VerifyCascade>();
  const std::size_t errors_before = d.errors().size();
  if (!read_steps(n, ctx, d, stage->steps)) return nullptr;
  stage->max_cost_usd = n.number("max_cost_usd", d, 0, 1e6).value_or(0);
  if (auto ml = n.duration_ms("max_latency", d)) stage->max_latency = std::chrono::milliseconds(*ml);
  if (!read_verifiers(n, ctx, d, stage->verifiers)) return nullptr;
  for (const auto& v : stage->verifiers) {
    stage->wants_logprobs = stage->wants_logprobs || v->wants_logprobs();
    stage->samples = std::max(stage->samples, v->samples());
  }
  if (const config::Node* se = n.get("stream_early")) read_stream_early(*se, stage->verifiers, d, stage->stream_early_tokens);
  if (d.errors().size() != errors_before) return nullptr;
  return stage;
}

}  // namespace sy::pipeline::cascade

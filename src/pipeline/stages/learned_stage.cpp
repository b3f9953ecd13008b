// Learned stage: a model trained by `switchyard train` scores the prompt; at or above the threshold the
// request goes to the strong model, below it to the weak one. The threshold is set per router in YAML
// and per request (header, body extension, or the `router@0.3` model name). With more than two models
// it predicts each model's chance of success and picks by policy (cheapest meeting a quality target,
// or best quality minus lambda x cost).
//
// What the model sees of a conversation: the text features read the last user message (at most
// max_chars of it); the rest of the conversation reaches it as a few numbers (learn::ConversationShape:
// earlier turns, system prompt present and its length, length of the earlier context), computed in one
// pass over the message list without copying any text. Models trained before the conversation block
// ignore the shape.
#include <algorithm>
#include <cstdio>

#include "switchyard/core/numbers.hpp"
#include "switchyard/learn/learned_model.hpp"
#include "switchyard/pipeline/stage.hpp"

namespace sy::pipeline {
namespace {

namespace net = boost::asio;
using namespace std::string_view_literals;

std::string fmt(double v) { return fixed(v, 3); }

class LearnedStage final : public Stage {
 public:
  static constexpr std::string_view kType = "learned";
  std::string_view type() const override { return kType; }

  std::shared_ptr<const learn::LearnedModel> model;
  // Two-model mode.
  std::string strong, weak;
  double threshold = 0.5;
  // N-model mode: config model per model of the file (empty when that model is not offered).
  std::vector<std::string> choices;
  std::vector<learn::ModelPrice> prices;
  learn::ChoicePolicy policy;
  size_t max_chars = 16384;

  bool decide_now(StageContext& ctx, Decision& d) const override {
    const Request& req = ctx.features.request();
    const std::vector<MessageText>& messages = req.messages();
    std::size_t scored = 0;
    const learn::ConversationShape shape = learn::conversation_shape(std::span<const MessageText>(messages), &scored);
    std::string_view prompt = messages.empty() ? std::string_view() : std::string_view(messages[scored].text);
    if (prompt.size() > max_chars) prompt = prompt.substr(0, max_chars);
    auto override_t = ctx.features.controls().threshold;
    if (choices.empty()) {
      double t = override_t.value_or(threshold);
      const learn::ScoreDetail sd = model->score_detail(prompt, shape);
      const double s = sd.score;
      d.scores.reserve(2);
      d.scores.emplace_back("score", s);
      d.scores.emplace_back("threshold", t);
      bool go_strong = s >= t;
      d.kind = Decision::Kind::route;
      d.target = go_strong ? strong : weak;
      // Appended in place (one buffer, no temporaries): built for every request the stage scores.
      d.reason.reserve(96);
      d.reason.append("learned:score="sv).append(fmt(s)).append(go_strong ? ">="sv : "<"sv).append(fmt(t));
      d.reason.append(go_strong ? " strong"sv : " weak"sv);
      // Out of the training distribution: the score is the model file's fallback prior, not the model's.
      if (sd.fallback) {
        d.reason.append(" fallback="sv).append(sd.fallback_prior).append("-prior shift="sv).append(fmt(sd.shift));
        d.reason.append(">"sv).append(fmt(sd.max_shift));
      }
      return true;
    }
    learn::ChoicePolicy p = policy;
    if (override_t) p.value = *override_t;
    if (auto mt = req.max_tokens()) p.expected_output_tokens = static_cast<double>(*mt);
    learn::Choice c = model->choose(prompt, p, prices);
    for (size_t i = 0; i < model->models().size(); ++i) {
      if (!choices[i].empty()) d.scores.emplace_back("p:" + choices[i], c.predicted_quality[i]);
    }
    d.kind = Decision::Kind::route;
    d.target = choices[c.model];
    d.reason = "learned:" + std::string(p.kind == learn::ChoicePolicy::Kind::quality_target ? "quality>=" : "lambda=") +
               fmt(p.value) + " p=" + fmt(c.predicted_quality[c.model]) + " -> " + d.target;
    return true;
  }
};

}  // namespace

std::unique_ptr<Stage> make_learned_stage(const config::Node& n, BuildContext& ctx, config::Diagnostics& d) {
  n.check_keys({"type", "name", "model_file", "strong", "weak", "threshold", "models", "policy", "target", "max_chars"}, d);
  auto stage = std::make_unique<LearnedStage>();
  size_t errors_before = d.errors().size();
  auto file = n.str("model_file", d, true);
  if (!file) return nullptr;
  auto loaded = learn::LearnedModel::load(ctx.resolve_path(*file));
  if (!loaded) {
    n.get("model_file")->error(d, loaded.error().message + " (train one with `switchyard train`)");
    return nullptr;
  }
  stage->model = *loaded;
  stage->threshold = stage->model->default_threshold();
  if (auto t = n.number("threshold", d, 0, 1)) stage->threshold = *t;
  if (auto m = n.integer("max_chars", d, 16, 1 << 24)) stage->max_chars = static_cast<size_t>(*m);

  if (const config::Node* models = n.get("models")) {
    // N-model mode: models maps the file's model names to config models.
    if (!models->is_map()) {
      models->error(d, "expected a map of model name in the model file to a model or tier");
      return nullptr;
    }
    const auto& names = stage->model->models();
    stage->choices.assign(names.size(), "");
    stage->prices.assign(names.size(), learn::ModelPrice{});
    for (const auto& [file_name, target] : models->members()) {
      auto it = std::find(names.begin(), names.end(), file_name);
      if (it == names.end()) {
        std::string known;
        for (const auto& nm : names) known += (known.empty() ? "" : ", ") + nm;
        d.error(target.path(), target.line(), "the model file has no model \"" + file_name + "\" (it has: " + known + ")");
        continue;
      }
      std::string resolved = target.is_scalar() ? ctx.resolve_target(target.scalar()) : "";
      if (resolved.empty()) {
        target.error(d, "unknown model or tier");
        continue;
      }
      size_t i = static_cast<size_t>(it - names.begin());
      stage->choices[i] = resolved;
      const auto* mc = ctx.config.find_model(resolved);
      if (mc && !mc->deployments.empty()) {
        stage->prices[i] = {mc->deployments[0].input_price, mc->deployments[0].output_price};
      }
    }
    // Models not offered are priced out of reach so the policy never picks them.
    for (size_t i = 0; i < stage->choices.size(); ++i) {
      if (stage->choices[i].empty()) stage->prices[i] = {1e12, 1e12};
    }
    auto policy = n.str("policy", d).value_or("quality_target");
    if (policy == "quality_target") stage->policy.kind = learn::ChoicePolicy::Kind::quality_target;
    else if (policy == "cost_penalty") stage->policy.kind = learn::ChoicePolicy::Kind::cost_penalty;
    else n.get("policy")->error(d, "expected quality_target or cost_penalty");
    stage->policy.value = n.number("target", d, 0, 1e9).value_or(stage->policy.kind == learn::ChoicePolicy::Kind::quality_target ? 0.8 : 10);
  } else {
    auto strong = n.str("strong", d, true);
    auto weak = n.str("weak", d, true);
    if (strong) {
      stage->strong = ctx.resolve_target(*strong);
      if (stage->strong.empty()) n.get("strong")->error(d, "unknown model or tier \"" + *strong + "\"");
    }
    if (weak) {
      stage->weak = ctx.resolve_target(*weak);
      if (stage->weak.empty()) n.get("weak")->error(d, "unknown model or tier \"" + *weak + "\"");
    }
  }
  if (d.errors().size() != errors_before) return nullptr;
  return stage;
}

}  // namespace sy::pipeline

// Micro-benchmarks of the learned router's serving path: LearnedModel::score, choose, and load; and of the
// cascade's verifiers: AnswerScorer::score, check_answer, check_arithmetic, JSON-schema validation.
// The model is trained in-process on synthetic prompts shaped like the RouteLLM ones (MMLU-style
// multiple choice and GSM8K-style word problems), so the benchmark needs no data files.
#include <benchmark/benchmark.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "switchyard/answer/heuristics.hpp"
#include "switchyard/learn/answer_scorer.hpp"
#include "switchyard/learn/learned_model.hpp"
#include "switchyard/learn/trainer.hpp"

namespace {

using namespace sy::learn;
using namespace sy::answer;

std::string synthetic_prompt(std::mt19937_64& rng) {
  static const char* words[] = {"the", "of", "which", "following", "number", "cells", "market", "each", "total",
                                "how", "many", "theorem", "function", "court", "energy", "velocity", "protein",
                                "contract", "dollars", "minutes", "she", "buys", "sells", "remaining", "percent"};
  std::uniform_int_distribution<int> len(30, 160), w(0, 24), num(0, 999), kind(0, 1);
  std::string p;
  const int n = len(rng);
  for (int i = 0; i < n; ++i) {
    p += words[w(rng)];
    p += (i % 9 == 8) ? ". " : " ";
    if (i % 13 == 0) p += std::to_string(num(rng)) + " ";
  }
  if (kind(rng)) p += "\nA. first\nB. second\nC. third\nD. fourth\nAnswer:";
  return p;
}

std::shared_ptr<const LearnedModel> model() {
  static std::shared_ptr<const LearnedModel> m = [] {
    std::mt19937_64 rng(1);
    Dataset d;
    d.models = {"weak", "medium", "strong"};
    std::bernoulli_distribution coin(0.5);
    for (int i = 0; i < 3000; ++i) {
      std::string p = synthetic_prompt(rng);
      const float hard = p.size() > 600 ? 1.0f : 0.0f;
      d.examples.push_back({p, {coin(rng) && !hard ? 1.0f : 0.0f, coin(rng) ? 1.0f : 0.0f, 1.0f},
                            std::vector<float>(3, NAN), std::vector<float>(3, NAN), std::vector<float>(3, NAN), ""});
    }
    TrainOptions o;
    o.label = RouteLabel::gap;
    auto r = train_router(d, {}, {}, o);
    return r.ok() ? *r : nullptr;
  }();
  return m;
}

void BM_Score(benchmark::State& state) {
  auto m = model();
  std::mt19937_64 rng(2);
  std::vector<std::string> prompts;
  for (int i = 0; i < 256; ++i) prompts.push_back(synthetic_prompt(rng));
  std::size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const std::string& p = prompts[i++ % prompts.size()];
    benchmark::DoNotOptimize(m->score(p));
    bytes += p.size();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_Score);

// What the learned stage does for a chat: reduce the message list to its shape (one pass over roles and
// lengths), then score the last user message with it. Compare with BM_Score on one message.
void BM_ScoreConversation(benchmark::State& state) {
  auto m = model();
  std::mt19937_64 rng(2);
  std::vector<std::string> texts;
  texts.push_back(std::string("You are a helpful assistant. ") + std::string(2000, 'x'));
  for (int i = 0; i < 30; ++i) texts.push_back(synthetic_prompt(rng));
  std::vector<ChatMessageView> views;
  views.push_back({"system", texts[0]});
  for (std::size_t i = 1; i < texts.size(); ++i) views.push_back({i % 2 ? "user" : "assistant", texts[i]});
  for (auto _ : state) {
    std::size_t scored = 0;
    const ConversationShape shape = conversation_shape(views, &scored);
    benchmark::DoNotOptimize(m->score(views[scored].text, shape));
  }
}
BENCHMARK(BM_ScoreConversation);

void BM_ChooseAmongThree(benchmark::State& state) {
  auto m = model();
  std::mt19937_64 rng(3);
  const std::string p = synthetic_prompt(rng);
  const std::vector<ModelPrice> prices = {{0.1, 0.2}, {1, 2}, {10, 30}};
  ChoicePolicy policy;
  for (auto _ : state) benchmark::DoNotOptimize(m->choose(p, policy, prices).model);
}
BENCHMARK(BM_ChooseAmongThree);

void BM_LoadFromBytes(benchmark::State& state) {
  const std::string bytes = model()->to_bytes();
  for (auto _ : state) benchmark::DoNotOptimize(LearnedModel::from_bytes(bytes).ok());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes.size() * state.iterations()));
}
BENCHMARK(BM_LoadFromBytes)->Unit(benchmark::kMillisecond);

// A GSM8K-shaped pair: a word problem and a step-by-step answer with calculator annotations.
const char* kProblem =
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
    "friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck egg. "
    "How much in dollars does she make every day at the farmers' market?";
const char* kAnswer =
    " Janet starts with 16 eggs per day.\nShe eats 3 for breakfast, so she has 16 - 3 = 13 eggs left.\n"
    "She uses 4 for baking, so she has 13 - 4 = 9 eggs left.\n"
    "She sells these 9 eggs at the farmers' market for 9 * $2 = $<<9*2=18>>18.\n#### 18\n";

std::shared_ptr<const AnswerScorer> train_scorer(bool boosted) {
  std::mt19937_64 rng(4);
  std::uniform_int_distribution<int> num(2, 90), off(0, 2);
  Dataset d;
  d.models = {"cheap"};
  for (int i = 0; i < 1000; ++i) {
    const int a = num(rng), b = num(rng), c = a + b + (off(rng) == 0 ? 1 : 0);
    Example e;
    e.prompt = synthetic_prompt(rng) + " " + std::to_string(a) + " and " + std::to_string(b);
    e.quality = {c == a + b ? 1.0f : 0.0f};
    e.input_tokens = e.output_tokens = e.cost = {NAN};
    e.response = {std::string(kAnswer) + std::to_string(a) + " + " + std::to_string(b) + " = " + std::to_string(c)};
    d.examples.push_back(std::move(e));
  }
  auto r = train_answer_scorer(d, 0, {}, {}, AnswerScorerOptions{});
  if (!r.ok() || !boosted) return r.ok() ? *r : nullptr;
  // The serving cost of the boosted stage at its largest: 100 depth-2 trees (the inner CV chooses at most
  // `--boost-rounds`, 100 by default; on GSM8K it chose 2-17), fitted here to noise.
  DenseRows x{kAnswerFeatures + 1, {}};
  std::vector<float> y;
  std::uniform_real_distribution<float> u(0, 1);
  for (int i = 0; i < 500; ++i) {
    for (std::size_t k = 0; k <= kAnswerFeatures; ++k) x.values.push_back(u(rng));
    y.push_back(u(rng) < 0.5f ? 1.0f : 0.0f);
  }
  BoostOptions bo;
  bo.rounds = 100;
  bo.min_hessian = 1;
  AnswerScorerParts parts = (*r)->parts();
  parts.boost = fit_boosted_trees(x, y, {}, bo);
  auto boosted_scorer = AnswerScorer::from_parts(std::move(parts));
  return boosted_scorer.ok() ? *boosted_scorer : nullptr;
}

void BM_AnswerScorerScore(benchmark::State& state) {
  static const auto s = train_scorer(false);
  for (auto _ : state) benchmark::DoNotOptimize(s->score(kProblem, kAnswer));
}
BENCHMARK(BM_AnswerScorerScore);

// With the boosted-trees stage (`train --answer-scorer --boost`).
void BM_AnswerScorerScoreBoosted(benchmark::State& state) {
  static const auto s = train_scorer(true);
  state.counters["trees"] = static_cast<double>(s->parts().boost.trees().size());
  for (auto _ : state) benchmark::DoNotOptimize(s->score(kProblem, kAnswer));
}
BENCHMARK(BM_AnswerScorerScoreBoosted);

void BM_AnswerFeatures(benchmark::State& state) {
  std::array<float, kAnswerFeatures> f{};
  for (auto _ : state) {
    answer_features(kProblem, kAnswer, f);
    benchmark::DoNotOptimize(f[0]);
  }
}
BENCHMARK(BM_AnswerFeatures);

void BM_CheckAnswer(benchmark::State& state) {
  AnswerExpectations e;
  e.final_answer = true;
  for (auto _ : state) benchmark::DoNotOptimize(check_answer(kAnswer, e).score);
}
BENCHMARK(BM_CheckAnswer);

void BM_ToolArgumentsSchema(benchmark::State& state) {
  auto schema = JsonSchema::parse(R"({"type": "object", "required": ["location", "unit"], "properties": {
      "location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
      "days": {"type": "integer", "minimum": 1}}, "additionalProperties": false})");
  const std::string args = R"({"location": "Paris, France", "unit": "celsius", "days": 3})";
  for (auto _ : state) benchmark::DoNotOptimize(check_tool_arguments(args, *schema).score);
}
BENCHMARK(BM_ToolArgumentsSchema);

}  // namespace

BENCHMARK_MAIN();

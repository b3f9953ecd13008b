// Micro-benchmarks of the learned router's serving path: LearnedModel::score, choose, and load.
// The model is trained in-process on synthetic prompts shaped like the RouteLLM ones (MMLU-style
// multiple choice and GSM8K-style word problems), so the benchmark needs no data files.
#include <benchmark/benchmark.h>

#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "switchyard/learn/learned_model.hpp"
#include "switchyard/learn/trainer.hpp"

namespace {

using namespace sy::learn;

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

}  // namespace

BENCHMARK_MAIN();

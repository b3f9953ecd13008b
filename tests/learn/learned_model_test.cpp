#include "switchyard/learn/learned_model.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <unistd.h>

#include "switchyard/learn/trainer.hpp"

namespace sy::learn {
namespace {

Example ex(std::string prompt, std::vector<float> q, std::string group = {}) {
  const std::size_t n = q.size();
  return Example{std::move(prompt), std::move(q), std::vector<float>(n, NAN), std::vector<float>(n, NAN),
                 std::vector<float>(n, NAN), std::move(group)};
}

/// Three models: "small" solves only arithmetic, "medium" also history, "large" everything.
Dataset three_model_dataset() {
  Dataset d;
  d.models = {"small", "medium", "large"};
  const char* things[] = {"alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "theta", "zeta", "iota"};
  for (int rep = 0; rep < 5; ++rep)
    for (const char* t : things) {
      const std::string s = std::string(" ") + t + " " + std::to_string(rep);
      d.examples.push_back(ex("add these two numbers" + s, {1, 1, 1}));
      d.examples.push_back(ex("sum up the arithmetic" + s, {1, 1, 1}));
      d.examples.push_back(ex("which empire fell in history" + s, {0, 1, 1}));
      d.examples.push_back(ex("history of the medieval kingdom" + s, {0, 1, 1}));
      d.examples.push_back(ex("prove the theorem about manifolds" + s, {0, 0, 1}));
      d.examples.push_back(ex("theorem on topology manifolds" + s, {0, 0, 1}));
    }
  return d;
}

std::shared_ptr<const LearnedModel> train_three() {
  TrainOptions o;
  o.features.hash_bits = 14;
  // In these templates length identifies the class exactly; without the dense block the heads must use
  // the words, as they would on real data.
  o.features.dense = false;
  o.logistic.l2 = 1e-4;
  auto m = train_router(three_model_dataset(), {}, {}, o);
  EXPECT_TRUE(m.ok()) << m.error().message;
  return *m;
}

const std::vector<ModelPrice> kPrices = {{0.1, 0.2}, {1.0, 2.0}, {10.0, 30.0}};

TEST(LearnedModelTest, ChoosesCheapestModelMeetingQualityTargetAmongThree) {
  auto m = train_three();
  ASSERT_EQ(m->models().size(), 3u);
  ChoicePolicy p;
  p.kind = ChoicePolicy::Kind::quality_target;
  p.value = 0.8;
  EXPECT_EQ(m->choose("add these two numbers omicron 9", p, kPrices).model, 0u);
  EXPECT_EQ(m->choose("which empire fell in history omicron 9", p, kPrices).model, 1u);
  EXPECT_EQ(m->choose("prove the theorem about manifolds omicron 9", p, kPrices).model, 2u);
  Choice c = m->choose("prove the theorem about manifolds omicron 9", p, kPrices);
  ASSERT_EQ(c.predicted_quality.size(), 3u);
  EXPECT_LT(c.predicted_quality[0], 0.3);
  EXPECT_GT(c.predicted_quality[2], 0.8);
  EXPECT_LT(c.estimated_cost[0], c.estimated_cost[1]);
  EXPECT_LT(c.estimated_cost[1], c.estimated_cost[2]);
}

TEST(LearnedModelTest, UnreachableTargetFallsBackToBestPredictedModel) {
  auto m = train_three();
  ChoicePolicy p;
  p.value = 1.01;
  EXPECT_EQ(m->choose("prove the theorem about manifolds omicron 9", p, kPrices).model, 2u);
}

TEST(LearnedModelTest, CostPenaltyTradesQualityForPrice) {
  auto m = train_three();
  ChoicePolicy p;
  p.kind = ChoicePolicy::Kind::cost_penalty;
  p.expected_output_tokens = 1000;
  p.value = 0.0;  // price does not matter: the best predicted model
  EXPECT_EQ(m->choose("history of the medieval kingdom omicron 9", p, kPrices).model, 2u);
  p.value = 1e6;  // price is all that matters: the cheapest
  EXPECT_EQ(m->choose("prove the theorem about manifolds omicron 9", p, kPrices).model, 0u);
  p.value = 10;  // large costs ~$0.03 (-0.3 quality), medium ~$0.002: history goes to medium
  Choice c = m->choose("history of the medieval kingdom omicron 9", p, kPrices);
  EXPECT_EQ(c.model, 1u) << c.predicted_quality[0] << " " << c.predicted_quality[1] << " " << c.predicted_quality[2]
                         << " costs " << c.estimated_cost[1] << " " << c.estimated_cost[2];
}

TEST(LearnedModelTest, WithoutRouteHeadScoreIsQualityGapOfStrongAndWeak) {
  TrainOptions o;
  o.features.hash_bits = 14;
  o.route_head = false;
  auto r = train_router(three_model_dataset(), {}, {}, o);
  ASSERT_TRUE(r.ok());
  const LearnedModel& m = **r;
  EXPECT_EQ(m.strong_model(), 2);  // large: best mean quality
  EXPECT_EQ(m.weak_model(), 0);    // small: worst
  EXPECT_EQ(m.heads().size(), 3u);
  const std::string prompt = "prove the theorem about manifolds";
  auto q = m.predict_quality(prompt);
  EXPECT_NEAR(m.score(prompt), 0.5 * (1 + q[2] - q[0]), 1e-12);
  EXPECT_GT(m.score(prompt), m.score("add these two numbers"));
}

TEST(LearnedModelTest, FileRoundTripGivesIdenticalScores) {
  auto m = train_three();
  ModelParts parts = m->parts();
  parts.prices = kPrices;
  parts.threshold = 0.37;
  auto with_prices = LearnedModel::from_parts(parts);
  ASSERT_TRUE(with_prices.ok());
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("sy_learn_roundtrip_" + std::to_string(::getpid()) + ".sylm");
  ASSERT_TRUE((*with_prices)->save(path.string()).ok());
  auto loaded = LearnedModel::load(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  const auto& l = **loaded;
  EXPECT_EQ(l.models(), m->models());
  EXPECT_DOUBLE_EQ(l.default_threshold(), 0.37);
  ASSERT_EQ(l.parts().prices.size(), 3u);
  EXPECT_DOUBLE_EQ(l.parts().prices[2].output_per_m, 30.0);
  for (const char* p : {"add these two numbers", "history of the medieval kingdom", "", "unseen words entirely ???",
                        "prove the theorem about manifolds 12345"}) {
    EXPECT_EQ(l.score(p), m->score(p)) << p;
    EXPECT_EQ(l.predict_quality(p), m->predict_quality(p)) << p;
  }
  EXPECT_EQ(l.to_bytes(), (*with_prices)->to_bytes());
}

TEST(LearnedModelTest, RejectsCorruptFiles) {
  auto m = train_three();
  std::string bytes = m->to_bytes();
  EXPECT_FALSE(LearnedModel::from_bytes("nope").ok());
  EXPECT_FALSE(LearnedModel::from_bytes(bytes.substr(0, bytes.size() - 3)).ok());
  std::string bad = bytes;
  bad[4] = 9;  // version
  EXPECT_FALSE(LearnedModel::from_bytes(bad).ok());
  EXPECT_FALSE(LearnedModel::load("/nonexistent/model.sylm").ok());
  // A header nested 100,000 deep: refused by the JSON guard before any recursive parse.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::string nested("SYLM", 4);
  const std::uint32_t version = 1, header_len = static_cast<std::uint32_t>(deep.size());
  nested.append(reinterpret_cast<const char*>(&version), 4).append(reinterpret_cast<const char*>(&header_len), 4) += deep;
  auto refused = LearnedModel::from_bytes(nested);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("deeper than the limit"), std::string::npos) << refused.error().message;
}

TEST(LearnedModelTest, ConcurrentScoringMatchesSerialScoring) {
  auto m = train_three();
  const std::vector<std::string> prompts = {"add these two numbers", "history of the medieval kingdom",
                                            "prove the theorem about manifolds", "something else"};
  std::vector<double> expected;
  for (const auto& p : prompts) expected.push_back(m->score(p));
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        const std::size_t k = static_cast<std::size_t>(i) % prompts.size();
        if (m->score(prompts[k]) != expected[k]) ++mismatches;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace sy::learn

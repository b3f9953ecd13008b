#include "switchyard/learn/answer_scorer.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "switchyard/learn/cascade.hpp"

namespace sy::learn {
namespace {

/// Addition word problems. The cheap model's answer is right when its sum is right; a wrong answer either
/// miscalculates ("a + b = c" with c off) or hedges with "maybe" and states no final number.
Dataset sums(int n, std::uint64_t seed) {
  Dataset d;
  d.models = {"cheap"};
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> num(2, 90), kind(0, 2), off(1, 9);
  for (int i = 0; i < n; ++i) {
    const int a = num(rng), b = num(rng);
    const std::string prompt = "Sam has " + std::to_string(a) + " apples and buys " + std::to_string(b) +
                               " more. How many apples does Sam have now? #" + std::to_string(i);
    std::string answer;
    float right = 1;
    switch (kind(rng)) {
      case 0:
        answer = "Sam has " + std::to_string(a) + " + " + std::to_string(b) + " = " + std::to_string(a + b) +
                 " apples.\n#### " + std::to_string(a + b);
        break;
      case 1: {
        const int c = a + b + off(rng);
        answer = "Sam has " + std::to_string(a) + " + " + std::to_string(b) + " = " + std::to_string(c) +
                 " apples.\n#### " + std::to_string(c);
        right = 0;
        break;
      }
      default:
        answer = "Sam has some apples, maybe a few more than before, I think.";
        right = 0;
        break;
    }
    Example e;
    e.prompt = prompt;
    e.quality = {right};
    e.input_tokens = e.output_tokens = e.cost = {NAN};
    e.response = {answer};
    d.examples.push_back(std::move(e));
  }
  return d;
}

AnswerScorerOptions small_options() {
  AnswerScorerOptions o;
  o.features.text.hash_bits = 14;
  return o;
}

TEST(AnswerScorerTest, LearnsThatMiscalculatedAndHedgedAnswersAreWrong) {
  Dataset train = sums(300, 1);
  auto scorer = train_answer_scorer(train, 0, {}, {}, small_options());
  ASSERT_TRUE(scorer.ok()) << scorer.error().message;
  EXPECT_NEAR((*scorer)->parts().base_rate, 1.0 / 3.0, 0.08);
  Dataset test = sums(150, 2);
  std::size_t correct = 0;
  for (const Example& e : test.examples) {
    const double p = (*scorer)->score(e.prompt, e.response[0]);
    ASSERT_GE(p, 0.0);
    ASSERT_LE(p, 1.0);
    correct += (p >= 0.5) == (e.quality[0] >= 0.5f);
  }
  EXPECT_GE(correct, 145u) << "held-out accuracy " << correct << "/150";
  EXPECT_GT((*scorer)->score("Sam has 2 apples and buys 3 more. How many?", "2 + 3 = 5 apples.\n#### 5"), 0.8);
  EXPECT_LT((*scorer)->score("Sam has 2 apples and buys 3 more. How many?", "2 + 3 = 6 apples.\n#### 6"), 0.3);
}

TEST(AnswerScorerTest, FileRoundTripGivesIdenticalScores) {
  Dataset train = sums(200, 3);
  auto scorer = train_answer_scorer(train, 0, {}, {}, small_options());
  ASSERT_TRUE(scorer.ok());
  const std::string bytes = (*scorer)->to_bytes();
  auto back = AnswerScorer::from_bytes(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ((*back)->to_bytes(), bytes);
  EXPECT_EQ((*back)->model_name(), "cheap");
  const auto path = (std::filesystem::temp_directory_path() / "sy_answer_scorer_test.bin").string();
  ASSERT_TRUE((*scorer)->save(path).ok());
  auto loaded = AnswerScorer::load(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  for (const Example& e : sums(20, 4).examples)
    EXPECT_EQ((*loaded)->score(e.prompt, e.response[0]), (*scorer)->score(e.prompt, e.response[0]));
  EXPECT_EQ((*loaded)->default_threshold(), 0.5);
}

TEST(AnswerScorerTest, BoostedScorerRoundTripsAndKeepsItsInnerCvChoices) {
  Dataset train = sums(250, 11);
  AnswerScorerOptions o = small_options();
  o.boosted = true;
  o.boost.rounds = 20;
  o.l2_grid = {1e-3, 1e-2};
  o.inner_folds = 3;
  auto scorer = train_answer_scorer(train, 0, {}, {}, o);
  ASSERT_TRUE(scorer.ok()) << scorer.error().message;
  EXPECT_TRUE((*scorer)->parts().l2 == 1e-3 || (*scorer)->parts().l2 == 1e-2);
  const std::string bytes = (*scorer)->to_bytes();
  auto back = AnswerScorer::from_bytes(bytes);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ((*back)->to_bytes(), bytes);
  EXPECT_EQ((*back)->parts().boost.trees().size(), (*scorer)->parts().boost.trees().size());
  std::size_t correct = 0;
  const Dataset test = sums(100, 12);
  for (const Example& e : test.examples) {
    const double p = (*back)->score(e.prompt, e.response[0]);
    EXPECT_EQ(p, (*scorer)->score(e.prompt, e.response[0]));
    correct += (p >= 0.5) == (e.quality[0] >= 0.5f);
  }
  EXPECT_GE(correct, 95u);
}

TEST(AnswerScorerTest, GapTargetAgainstAReferenceModel) {
  // A reference model that is right on every row but the last: the gap target is q/2 there, (1 + q)/2 on
  // the last row.
  Dataset d = sums(200, 14);
  d.models.push_back("strong");
  double rate = 0;
  for (std::size_t i = 0; i < d.examples.size(); ++i) {
    Example& e = d.examples[i];
    e.quality.push_back(i + 1 == d.examples.size() ? 0.0f : 1.0f);
    e.input_tokens.push_back(NAN);
    e.output_tokens.push_back(NAN);
    e.cost.push_back(NAN);
    e.response.emplace_back();
    rate += i + 1 == d.examples.size() ? 0.5 * (1 + e.quality[0]) : 0.5 * e.quality[0];
  }
  rate /= static_cast<double>(d.examples.size());
  AnswerScorerOptions o = small_options();
  o.gap_reference = 1;
  auto scorer = train_answer_scorer(d, 0, {}, {}, o);
  ASSERT_TRUE(scorer.ok()) << scorer.error().message;
  EXPECT_NEAR((*scorer)->parts().base_rate, rate, 1e-9);
  EXPECT_EQ((*scorer)->parts().gap_reference, "strong");
  auto back = AnswerScorer::from_bytes((*scorer)->to_bytes());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)->parts().gap_reference, "strong");
  // Still ranks a right answer above a miscalculated one.
  EXPECT_GT((*scorer)->score("Sam has 2 apples and buys 3 more. How many?", "2 + 3 = 5 apples.\n#### 5"),
            (*scorer)->score("Sam has 2 apples and buys 3 more. How many?", "2 + 3 = 6 apples.\n#### 6"));
}

TEST(AnswerScorerTest, RefusesFilesOfAnotherVersionOrFeatureSet) {
  auto scorer = train_answer_scorer(sums(60, 13), 0, {}, {}, small_options());
  ASSERT_TRUE(scorer.ok());
  std::string bytes = (*scorer)->to_bytes();
  std::string v1 = bytes;
  v1[4] = 1;  // version 1: the 37-feature scorer
  auto old = AnswerScorer::from_bytes(v1);
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.error().message.find("retrain"), std::string::npos);
  // Same version, another feature list (a renamed feature): refused too.
  const std::string name = "\"final_in_results\"";
  const std::size_t at = bytes.find(name);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, name.size(), "\"final_in_resultz\"");
  auto other = AnswerScorer::from_bytes(bytes);
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.error().message.find("different set of verifier features"), std::string::npos);
}

TEST(AnswerScorerTest, RejectsDamagedFiles) {
  auto scorer = train_answer_scorer(sums(60, 5), 0, {}, {}, small_options());
  ASSERT_TRUE(scorer.ok());
  const std::string bytes = (*scorer)->to_bytes();
  EXPECT_FALSE(AnswerScorer::from_bytes("SYLM" + bytes.substr(4)).ok());
  EXPECT_FALSE(AnswerScorer::from_bytes(bytes.substr(0, bytes.size() - 3)).ok());
  EXPECT_FALSE(AnswerScorer::from_bytes(bytes + "x").ok());
  auto missing = AnswerScorer::load("/nonexistent/scorer.bin");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("/nonexistent/scorer.bin"), std::string::npos);
}

TEST(AnswerScorerTest, NeedsResponsesAndScores) {
  Dataset d = sums(10, 6);
  for (Example& e : d.examples) e.response[0].clear();
  auto s = train_answer_scorer(d, 0, {}, {}, small_options());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("response"), std::string::npos);
  EXPECT_FALSE(train_answer_scorer(sums(10, 6), 3, {}, {}, small_options()).ok());
}

TEST(AnswerScorerTest, ScoresConcurrentlyLikeSequentially) {
  Dataset d = sums(200, 7);
  auto scorer = train_answer_scorer(d, 0, {}, {}, small_options());
  ASSERT_TRUE(scorer.ok());
  std::vector<double> expected;
  for (const Example& e : d.examples) expected.push_back((*scorer)->score(e.prompt, e.response[0]));
  std::vector<std::thread> threads;
  std::vector<int> mismatches(4, 0);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (std::size_t i = 0; i < d.examples.size(); ++i)
        mismatches[static_cast<std::size_t>(t)] +=
            (*scorer)->score(d.examples[i].prompt, d.examples[i].response[0]) != expected[i];
    });
  for (auto& th : threads) th.join();
  for (int m : mismatches) EXPECT_EQ(m, 0);
}

TEST(AnswerScorerTest, CrossValidationScoresEveryRowOutOfFold) {
  Dataset d = sums(200, 8);
  auto folds = folds_by_prompt(d, 4, 42);
  auto cv = cross_validate_answer_scorer(d, 0, {}, small_options(), folds);
  ASSERT_TRUE(cv.ok()) << cv.error().message;
  std::size_t right = 0;
  for (std::size_t i = 0; i < d.examples.size(); ++i) {
    ASSERT_FALSE(std::isnan(cv->p_correct[i]));
    right += (cv->p_correct[i] >= 0.5) == (d.examples[i].quality[0] >= 0.5f);
  }
  EXPECT_GE(right, 190u);
}

}  // namespace
}  // namespace sy::learn

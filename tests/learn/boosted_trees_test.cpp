#include "switchyard/learn/boosted_trees.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace sy::learn {
namespace {

/// y = XOR(x0 > 0.5, x1 > 0.5) with a noise feature: linear in nothing, one depth-2 interaction.
void xor_data(int n, std::uint64_t seed, DenseRows& x, std::vector<float>& y) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0, 1);
  x.cols = 3;
  for (int i = 0; i < n; ++i) {
    const float a = u(rng), b = u(rng), c = u(rng);
    x.values.insert(x.values.end(), {a, b, c});
    y.push_back((a > 0.5f) != (b > 0.5f) ? 1.0f : 0.0f);
  }
}

TEST(BoostedTreesTest, LearnsAnInteractionThatStumpsCannot) {
  DenseRows x, tx;
  std::vector<float> y, ty;
  xor_data(600, 1, x, y);
  xor_data(300, 2, tx, ty);
  BoostOptions o;
  o.rounds = 60;
  o.shrinkage = 0.3;
  auto accuracy = [&](const BoostedTrees& m) {
    int right = 0;
    for (std::size_t r = 0; r < tx.rows(); ++r) right += (m.predict(tx.row(r)) > 0) == (ty[r] > 0.5f);
    return static_cast<double>(right) / static_cast<double>(tx.rows());
  };
  const BoostedTrees deep = fit_boosted_trees(x, y, {}, o);
  EXPECT_EQ(deep.trees().size(), 60u);
  EXPECT_GT(accuracy(deep), 0.9);
  o.depth = 1;
  EXPECT_LT(accuracy(fit_boosted_trees(x, y, {}, o)), 0.7);
}

TEST(BoostedTreesTest, StartsFromTheOffsetAndStopsWhenThereIsNothingToLearn) {
  // The offset already is the right logit: inner CV should choose few or no rounds.
  DenseRows x;
  x.cols = 2;
  std::vector<float> y;
  std::vector<double> offset;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> u(0, 1);
  for (int i = 0; i < 500; ++i) {
    const float a = u(rng), b = u(rng);
    x.values.insert(x.values.end(), {a, b});
    const double z = 6 * (a - 0.5);
    offset.push_back(z);
    y.push_back(u(rng) < 1 / (1 + std::exp(-z)) ? 1.0f : 0.0f);
  }
  int rounds = -1;
  BoostOptions o;
  o.rounds = 50;
  fit_boosted_trees_cv(x, y, offset, o, 5, &rounds);
  EXPECT_GE(rounds, 0);
  EXPECT_LE(rounds, 10);
}

TEST(BoostedTreesTest, JsonRoundTripPredictsTheSame) {
  DenseRows x;
  std::vector<float> y;
  xor_data(200, 4, x, y);
  BoostOptions o;
  o.rounds = 10;
  const BoostedTrees m = fit_boosted_trees(x, y, {}, o);
  auto back = BoostedTrees::from_json(m.to_json());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->to_json(), m.to_json());
  for (std::size_t r = 0; r < x.rows(); ++r) EXPECT_EQ(back->predict(x.row(r)), m.predict(x.row(r)));
  EXPECT_FALSE(BoostedTrees::from_json(R"({"features":3,"depth":2,"trees":[{"f":[0],"t":[0.5],"v":[1,2]}]})").ok());
  EXPECT_FALSE(BoostedTrees::from_json(R"({"features":1,"depth":1,"trees":[{"f":[4],"t":[0.5],"v":[1,2]}]})").ok());
  EXPECT_FALSE(BoostedTrees::from_json("not json").ok());
}

}  // namespace
}  // namespace sy::learn

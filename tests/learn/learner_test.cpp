#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "switchyard/learn/learned_model.hpp"
#include "switchyard/learn/trainer.hpp"

namespace sy::learn {
namespace {

TEST(LogisticTest, RecoversKnownSeparableModel) {
  // 400 rows over 20 features, 5 active per row; labels from a known weight vector.
  const std::size_t dim = 20;
  std::vector<double> truth(dim);
  for (std::size_t j = 0; j < dim; ++j) truth[j] = (j % 2 ? 1.0 : -1.0) * (1.0 + 0.1 * static_cast<double>(j));
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<std::uint32_t> pick(0, dim - 1);
  std::uniform_real_distribution<float> val(0.1f, 1.0f);
  Csr x;
  std::vector<float> y;
  for (int i = 0; i < 400; ++i) {
    SparseVector v;
    while (v.index.size() < 5) {
      std::uint32_t j = pick(rng);
      if (std::find(v.index.begin(), v.index.end(), j) == v.index.end()) v.index.push_back(j);
    }
    std::sort(v.index.begin(), v.index.end());
    double z = 0;
    for (std::uint32_t j : v.index) {
      v.value.push_back(val(rng));
      z += truth[j] * v.value.back();
    }
    if (std::abs(z) < 0.2) continue;  // keep a margin so the data are separable
    x.add_row(v);
    y.push_back(z > 0 ? 1.0f : 0.0f);
  }
  LogisticOptions opts;
  opts.l2 = 1e-6;
  LogisticFit fit = fit_logistic(x, dim, y, {}, opts);
  std::size_t correct = 0;
  for (std::size_t i = 0; i < x.rows(); ++i) {
    double z = fit.bias;
    for (std::size_t k = x.row_start[i]; k < x.row_start[i + 1]; ++k) z += fit.weights[x.index[k]] * x.value[k];
    correct += (z > 0) == (y[i] > 0.5f);
  }
  EXPECT_EQ(correct, x.rows());
  double dotp = 0, na = 0, nb = 0;
  for (std::size_t j = 0; j < dim; ++j) {
    dotp += truth[j] * fit.weights[j];
    na += truth[j] * truth[j];
    nb += static_cast<double>(fit.weights[j]) * fit.weights[j];
  }
  EXPECT_GT(dotp / std::sqrt(na * nb), 0.95);
  EXPECT_LT(std::abs(fit.bias), 0.5 * std::sqrt(nb / static_cast<double>(dim)));
}

Dataset topic_dataset() {
  // Weak model fails on "integral" and "proof" prompts; the strong one gets everything right.
  Dataset d;
  d.models = {"weak", "strong"};
  const char* hard[] = {"compute the integral of", "write a proof that", "evaluate the integral", "give a proof of"};
  const char* easy[] = {"what colour is the", "name the capital of", "translate hello to", "spell the word"};
  const char* things[] = {"x squared", "the sky", "france", "the series", "a cat", "sin x", "primes", "banana"};
  for (int rep = 0; rep < 6; ++rep)
    for (const char* t : things) {
      for (const char* h : hard) d.examples.push_back({std::string(h) + " " + t + " #" + std::to_string(rep), {0, 1}, {NAN, NAN}, {NAN, NAN}, {NAN, NAN}, "hard"});
      for (const char* e : easy) d.examples.push_back({std::string(e) + " " + t + " #" + std::to_string(rep), {1, 1}, {NAN, NAN}, {NAN, NAN}, {NAN, NAN}, "easy"});
    }
  return d;
}

TEST(TrainRouterTest, ScoresHardTopicsAboveEasyOnes) {
  Dataset d = topic_dataset();
  TrainOptions o;
  o.features.hash_bits = 14;
  o.label = RouteLabel::strong_only;
  auto m = train_router(d, {}, {}, o);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->strong_model(), 1);
  EXPECT_EQ((*m)->weak_model(), 0);
  EXPECT_GT((*m)->score("please compute the integral of cos x"), 0.6);
  EXPECT_LT((*m)->score("please name the capital of spain"), 0.4);
  // The gap label's targets are 1 (only strong right) and 0.5 (both right).
  o.label = RouteLabel::gap;
  auto g = train_router(d, {}, {}, o);
  ASSERT_TRUE(g.ok());
  EXPECT_GT((*g)->score("please compute the integral of cos x"), 0.8);
  EXPECT_LT((*g)->score("please name the capital of spain"), 0.7);
  auto q = (*m)->predict_quality("write a proof that there are infinitely many primes");
  ASSERT_EQ(q.size(), 2u);
  EXPECT_LT(q[0], 0.4);
  EXPECT_GT(q[1], 0.8);
}

TEST(TrainRouterTest, DeterministicGivenSeed) {
  Dataset d = topic_dataset();
  TrainOptions o;
  o.features.hash_bits = 14;
  o.features.char_ngram_min = 3;
  o.features.char_ngram_max = 4;
  o.seed = 17;
  auto a = train_router(d, {}, {}, o);
  auto b = train_router(d, {}, {}, o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->to_bytes(), (*b)->to_bytes());
}

TEST(TrainRouterTest, GroupSmoothingUsesGroupRatesAsTargets) {
  // With full smoothing, every prompt of a group gets the same target, so noise inside a group is ignored.
  Dataset d = topic_dataset();
  for (std::size_t i = 0; i < d.examples.size(); i += 7) d.examples[i].quality = {1, 1};  // label noise
  TrainOptions o;
  o.features.hash_bits = 14;
  o.group_smoothing = 1.0;
  auto m = train_router(d, {}, {}, o);
  ASSERT_TRUE(m.ok());
  EXPECT_GT((*m)->score("compute the integral of x squared #0"), (*m)->score("spell the word banana #0"));
}

}  // namespace
}  // namespace sy::learn

#include "switchyard/embed/semantic_mlp.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "switchyard/embed/hashing_embedder.hpp"
#include "switchyard/embed/semantic_head.hpp"

namespace sy::embed {
namespace {

const std::vector<PartLayout> kPlane = {PartLayout{2, false, 1.0f, "plane"}};

Embedding point(float x, float y) {
  Embedding e;
  EmbeddingPart p;
  p.dim = 2;
  p.values = {x, y};
  e.parts.push_back(std::move(p));
  return e;
}

// XOR: class 0 around (1,1) and (-1,-1), class 1 around (1,-1) and (-1,1). No linear map separates it.
std::vector<std::vector<Embedding>> xor_data(std::size_t per_corner, float noise) {
  std::mt19937 rng(11);
  std::normal_distribution<float> n(0.0f, noise);
  std::vector<std::vector<Embedding>> out(2);
  for (int sx : {-1, 1})
    for (int sy : {-1, 1})
      for (std::size_t i = 0; i < per_corner; ++i)
        out[sx == sy ? 0 : 1].push_back(point(static_cast<float>(sx) + n(rng), static_cast<float>(sy) + n(rng)));
  return out;
}

std::size_t best(const SemanticMlp& m, const Embedding& e) {
  std::size_t b = 0;
  m.probabilities(e, b);
  return b;
}

MlpOptions small() {
  MlpOptions o;
  o.hidden = 16;
  o.l2 = 1e-4;
  o.dense_scale = 1.0f;
  return o;
}

TEST(SemanticMlpTest, SeparatesXorWhereTheLogisticHeadCannot) {
  const auto data = xor_data(10, 0.15f);
  auto mlp = SemanticMlp::train({"same", "opposite"}, kPlane, data, small());
  ASSERT_TRUE(mlp.ok()) << mlp.error().message;
  HeadOptions ho;
  ho.calibration_folds = 0;
  auto head = SemanticHead::train({"same", "opposite"}, "test", kPlane, data, ho);
  ASSERT_TRUE(head.ok()) << head.error().message;
  std::size_t mlp_ok = 0, head_ok = 0;
  for (int sx : {-1, 1})
    for (int sy : {-1, 1}) {
      const Embedding q = point(0.9f * static_cast<float>(sx), 1.1f * static_cast<float>(sy));
      const std::size_t want = sx == sy ? 0 : 1;
      mlp_ok += best(**mlp, q) == want;
      head_ok += (*head)->predict(q).best == want;
    }
  EXPECT_EQ(mlp_ok, 4u);
  EXPECT_LE(head_ok, 3u);  // a linear decision misclassifies at least one corner
  std::size_t b = 0;
  const std::vector<float> p = (*mlp)->probabilities(point(1, 1), b);
  EXPECT_NEAR(p[0] + p[1], 1.0f, 1e-5f);
  EXPECT_GT(p[0], 0.8f);
}

TEST(SemanticMlpTest, IsDeterministicAndSeeded) {
  const auto data = xor_data(6, 0.3f);
  auto a = SemanticMlp::train({"a", "b"}, kPlane, data, small()).value();
  auto b = SemanticMlp::train({"a", "b"}, kPlane, data, small()).value();
  MlpOptions other = small();
  other.seed = 2;
  auto c = SemanticMlp::train({"a", "b"}, kPlane, data, other).value();
  EXPECT_EQ(a->iterations(), b->iterations());
  EXPECT_EQ(a->loss(), b->loss());
  std::vector<float> za(2), zb(2), zc(2);
  bool differs = false;
  for (float x : {-1.0f, -0.3f, 0.4f, 1.2f}) {
    a->logits(point(x, 0.7f), za);
    b->logits(point(x, 0.7f), zb);
    c->logits(point(x, 0.7f), zc);
    EXPECT_EQ(za, zb);
    differs |= za != zc;
  }
  EXPECT_TRUE(differs);  // another seed, another local optimum
}

TEST(SemanticMlpTest, SparsePartsInTheHiddenLayerOrTheLinearPath) {
  const std::vector<std::string> billing = {"why was I charged twice", "update my credit card", "refund my payment",
                                            "my invoice is wrong"};
  const std::vector<std::string> coding = {"fix this segfault in my code", "write a python function",
                                           "my compiler reports an error", "refactor this class"};
  std::vector<std::string> corpus = billing;
  corpus.insert(corpus.end(), coding.begin(), coding.end());
  auto h = HashingEmbedder::create({}, corpus).value();
  std::vector<std::vector<Embedding>> ex(2);
  for (const auto& t : billing) ex[0].push_back(h->embed(t));
  for (const auto& t : coding) ex[1].push_back(h->embed(t));
  MlpOptions o = small();
  // No dense part: the hidden layer needs the sparse ones.
  auto none = SemanticMlp::train({"billing", "coding"}, h->layout(), ex, o);
  EXPECT_FALSE(none.ok());
  for (bool skip : {false, true}) {
    o.hidden_sparse = true;
    o.skip_sparse = skip;
    auto m = SemanticMlp::train({"billing", "coding"}, h->layout(), ex, o);
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(best(**m, h->embed("I was charged twice for my card")), 0u) << skip;
    EXPECT_EQ(best(**m, h->embed("python code error")), 1u) << skip;
  }
}

TEST(SemanticMlpTest, TrainingErrorsAndLayoutMismatch) {
  const auto data = xor_data(2, 0.1f);
  MlpOptions o = small();
  o.hidden = 0;
  EXPECT_FALSE(SemanticMlp::train({"a", "b"}, kPlane, data, o).ok());
  EXPECT_FALSE(SemanticMlp::train({"a", "a"}, kPlane, data, small()).ok());
  EXPECT_FALSE(SemanticMlp::train({"a"}, kPlane, {data[0]}, small()).ok());
  auto m = SemanticMlp::train({"a", "b"}, kPlane, data, small()).value();
  Embedding wrong;
  wrong.parts.push_back(EmbeddingPart{3, false, 1.0f, {}, {1, 0, 0}});
  std::vector<float> z(2, 9.0f);
  m->logits(wrong, z);
  EXPECT_EQ(z, std::vector<float>(2, 0.0f));
}

}  // namespace
}  // namespace sy::embed

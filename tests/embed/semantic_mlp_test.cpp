#include "switchyard/embed/semantic_mlp.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "embed/two_topics.hpp"
#include "switchyard/embed/hashing_embedder.hpp"
#include "switchyard/embed/semantic_head.hpp"
#include "embed/mlp_objective.hpp"

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
  const auto [h, ex] = testing::two_topics();
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

// Backpropagation against central differences, for every combination of inputs, on a problem with a
// dense and a sparse part.
TEST(SemanticMlpTest, GradientMatchesFiniteDifferences) {
  const std::vector<PartLayout> layout = {PartLayout{3, false, 1.0f, "d"}, PartLayout{32, true, 1.0f, "s"}};
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<std::vector<Embedding>> ex(3);
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t i = 0; i < 4; ++i) {
      Embedding e;
      e.parts.push_back(EmbeddingPart{3, false, 1.0f, {}, {u(rng), u(rng), u(rng)}});
      EmbeddingPart sp{32, true, 1.0f, {}, {}};
      for (std::uint32_t b = static_cast<std::uint32_t>(c * 7 + i); b < 32; b += 9) {
        sp.indices.push_back(b);
        sp.values.push_back(u(rng));
      }
      e.parts.push_back(std::move(sp));
      ex[c].push_back(std::move(e));
    }
  detail::FeatureParts parts;
  ASSERT_TRUE(detail::init_parts(parts, layout, {1.5f, 1.0f}, 0).ok());
  detail::collect_buckets(parts, ex);
  const std::size_t features = detail::assign_rows(parts);
  detail::TrainData t;
  t.dense = detail::dense_features(parts);
  for (std::uint32_t c = 0; c < 3; ++c)
    for (const Embedding& e : ex[c]) {
      detail::add_row(parts, e, t);
      t.y.push_back(c);
    }
  detail::transpose(t);
  for (bool hidden_sparse : {false, true})
    for (int skip = 0; skip < 3; ++skip) {
      const detail::Inputs in_h{true, hidden_sparse}, in_s{skip == 2, skip >= 1};
      const detail::MlpLayout l{in_h.rows(t, features), 5, 3, in_s.rows(t, features)};
      detail::MlpObjective f(t, l, in_h, in_s, 0.01, 0.03);
      std::vector<float> w(l.size()), g(l.size()), scratch(l.size());
      for (float& v : w) v = 0.5f * u(rng);
      f(w, g);
      auto fd = [&](std::size_t i, float h) {
        const float keep = w[i];
        w[i] = keep + h;
        const double up = f(w, scratch);
        w[i] = keep - h;
        const double down = f(w, scratch);
        w[i] = keep;
        return (up - down) / (2 * h);
      };
      std::size_t kinks = 0;
      for (std::size_t i = 0; i < w.size(); ++i) {
        const double a = fd(i, 2e-3f), b = fd(i, 1e-3f);
        if (std::abs(a - b) > 1e-3) {  // a ReLU switches inside the step: no derivative to compare
          ++kinks;
          continue;
        }
        EXPECT_NEAR(g[i], b, 1e-3) << "parameter " << i << " hidden_sparse " << hidden_sparse << " skip " << skip;
      }
      EXPECT_LE(kinks, w.size() / 5);  // a unit near its kink for one example: its few inputs
    }
}

}  // namespace
}  // namespace sy::embed

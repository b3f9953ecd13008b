#include "switchyard/embed/semantic_index.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "switchyard/embed/hashing_embedder.hpp"
#include "switchyard/embed/hybrid_embedder.hpp"

namespace sy::embed {
namespace {

// Dense 3-d embedder with fixed vectors per text, so every score below is computable by hand.
class TableEmbedder final : public Embedder {
 public:
  explicit TableEmbedder(std::map<std::string, std::vector<float>> table) : table_(std::move(table)) {}
  std::string_view type() const override { return "table"; }
  const std::vector<PartLayout>& layout() const override { return layout_; }
  Embedding embed(std::string_view text) const override {
    Embedding e;
    EmbeddingPart p;
    p.dim = 3;
    auto it = table_.find(std::string(text));
    p.values = it == table_.end() ? std::vector<float>(3, 0.0f) : it->second;
    normalize(p);
    e.parts.push_back(std::move(p));
    return e;
  }
  bool cpu_heavy() const override { return false; }
  std::size_t memory_bytes() const override { return 0; }

 private:
  std::map<std::string, std::vector<float>> table_;
  std::vector<PartLayout> layout_ = {PartLayout{3, false, 1.0f, "table"}};
};

std::shared_ptr<const Embedder> table() {
  return std::make_shared<TableEmbedder>(std::map<std::string, std::vector<float>>{
      {"x", {1, 0, 0}}, {"y", {0, 1, 0}}, {"z", {0, 0, 1}}, {"xy", {1, 1, 0}}, {"-x", {-1, 0, 0}}});
}

std::vector<RouteSpec> two_routes() {
  return {RouteSpec{"a", {"x", "y", "-x"}, std::nullopt}, RouteSpec{"b", {"z"}, std::nullopt}};
}

std::shared_ptr<const SemanticIndex> build(std::vector<RouteSpec> routes, IndexOptions o) {
  auto r = SemanticIndex::build(std::move(routes), table(), o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return *r;
}

TEST(SemanticIndexTest, CentroidScoresCosineToTheNormalisedMean) {
  IndexOptions o;
  o.aggregation = Aggregation::centroid;
  auto idx = build({RouteSpec{"a", {"x", "y"}, std::nullopt}, RouteSpec{"b", {"z"}, std::nullopt}}, o);
  const RouteMatch m = idx->score("x");
  ASSERT_EQ(m.scores.size(), 2u);
  EXPECT_NEAR(m.scores[0], 1.0f / std::sqrt(2.0f), 1e-6f);
  EXPECT_NEAR(m.scores[1], 0.0f, 1e-6f);
  EXPECT_EQ(m.best, 0u);
  ASSERT_TRUE(m.route.has_value());
  EXPECT_EQ(*m.route, 0u);
}

TEST(SemanticIndexTest, MaxTakesTheBestUtterance) {
  IndexOptions o;
  o.aggregation = Aggregation::max;
  auto idx = build(two_routes(), o);
  EXPECT_NEAR(idx->score("x").scores[0], 1.0f, 1e-6f);
  EXPECT_NEAR(idx->score("xy").scores[0], 1.0f / std::sqrt(2.0f), 1e-6f);
}

TEST(SemanticIndexTest, TopKMeanAveragesTheKBestUtterances) {
  IndexOptions o;
  o.aggregation = Aggregation::top_k_mean;
  o.top_k = 2;
  auto idx = build(two_routes(), o);
  // Similarities of "x" to route a: 1 (x), 0 (y), -1 (-x): the two best average to 0.5.
  EXPECT_NEAR(idx->score("x").scores[0], 0.5f, 1e-6f);
  // k larger than the route: all of it (route b has one utterance).
  o.top_k = 5;
  auto idx5 = build(two_routes(), o);
  EXPECT_NEAR(idx5->score("z").scores[1], 1.0f, 1e-6f);
}

TEST(SemanticIndexTest, ScoresBelowTheThresholdFallBack) {
  IndexOptions o;
  o.aggregation = Aggregation::max;
  o.threshold = 0.9f;
  auto idx = build(two_routes(), o);
  const RouteMatch strong = idx->score("x");
  ASSERT_TRUE(strong.route.has_value());
  EXPECT_EQ(*strong.route, 0u);
  const RouteMatch weak = idx->score("xy");  // best 0.707 < 0.9
  EXPECT_FALSE(weak.route.has_value());
  EXPECT_EQ(weak.best, 0u);  // the argmax is still reported
  EXPECT_NEAR(weak.best_score, 1.0f / std::sqrt(2.0f), 1e-6f);
}

TEST(SemanticIndexTest, RouteThresholdOverridesTheDefaultAndNextRouteMayWin) {
  IndexOptions o;
  o.aggregation = Aggregation::max;
  o.threshold = 0.1f;
  std::vector<RouteSpec> routes = {RouteSpec{"a", {"x"}, 0.95f}, RouteSpec{"b", {"y"}, std::nullopt}};
  auto idx = build(std::move(routes), o);
  EXPECT_FLOAT_EQ(idx->routes()[0].threshold, 0.95f);
  EXPECT_FLOAT_EQ(idx->routes()[1].threshold, 0.1f);
  // Query "x": a scores 1.0, clears its 0.95 and wins.
  EXPECT_EQ(*idx->score("x").route, 0u);
  // A query scoring 0.8 on a and 0.6 on b: best is a, but only b clears its threshold.
  Embedding q = idx->embedder().embed("x");
  q.parts[0].values = {0.8f, 0.6f, 0.0f};  // unit: 0.64 + 0.36
  const RouteMatch m = idx->score(q);
  EXPECT_EQ(m.best, 0u);
  ASSERT_TRUE(m.route.has_value());
  EXPECT_EQ(*m.route, 1u);
}

TEST(SemanticIndexTest, PrecomputedQueryGivesTheSameScoresAsText) {
  auto idx = build(two_routes(), {});
  const Embedding q = idx->embedder().embed("xy");
  EXPECT_EQ(idx->score(q).scores, idx->score("xy").scores);
}

TEST(SemanticIndexTest, QueryWithTheWrongLayoutScoresZero) {
  auto idx = build(two_routes(), {});
  Embedding wrong;
  wrong.parts.push_back(EmbeddingPart{5, false, 1.0f, {}, std::vector<float>(5, 1.0f)});
  const RouteMatch m = idx->score(wrong);
  EXPECT_EQ(m.scores, (std::vector<float>{0.0f, 0.0f}));
}

TEST(SemanticIndexTest, BuildRejectsBadRoutes) {
  EXPECT_FALSE(SemanticIndex::build({}, table()).ok());
  EXPECT_FALSE(SemanticIndex::build({RouteSpec{"a", {}, std::nullopt}}, table()).ok());
  EXPECT_FALSE(SemanticIndex::build({RouteSpec{"a", {"x"}, std::nullopt}, RouteSpec{"a", {"y"}, std::nullopt}}, table()).ok());
  EXPECT_FALSE(SemanticIndex::build({RouteSpec{"a", {"x"}, std::nullopt}}, nullptr).ok());
  auto err = SemanticIndex::build({RouteSpec{"empty", {}, std::nullopt}}, table());
  ASSERT_FALSE(err.ok());
  EXPECT_NE(err.error().message.find("'empty'"), std::string::npos);
}

TEST(SemanticIndexTest, SparseInvertedIndexMatchesDirectSimilarity) {
  const std::vector<std::string> utts = {"what is my balance", "show my balance please", "book a flight",
                                         "flight to paris", "play jazz"};
  auto hashing = *HashingEmbedder::create({}, utts);
  IndexOptions o;
  o.aggregation = Aggregation::max;
  auto idx = *SemanticIndex::build({RouteSpec{"bank", {utts[0], utts[1]}, std::nullopt},
                                    RouteSpec{"travel", {utts[2], utts[3]}, std::nullopt},
                                    RouteSpec{"music", {utts[4]}, std::nullopt}},
                                   hashing, o);
  const std::string q = "what's the balance on my account";
  const Embedding qe = hashing->embed(q);
  const RouteMatch m = idx->score(q);
  EXPECT_NEAR(m.scores[0], std::max(similarity(qe, hashing->embed(utts[0])), similarity(qe, hashing->embed(utts[1]))), 1e-5f);
  EXPECT_NEAR(m.scores[1], std::max(similarity(qe, hashing->embed(utts[2])), similarity(qe, hashing->embed(utts[3]))), 1e-5f);
  EXPECT_EQ(m.best, 0u);
  EXPECT_GT(idx->memory_bytes(), 0u);
}

TEST(HybridEmbedderTest, SimilarityIsTheWeightedSumOfTheChildren) {
  auto hashing = *HashingEmbedder::create({}, std::vector<std::string>{"x y", "z"});
  auto dense = table();
  auto hybrid = *HybridEmbedder::create(hashing, dense, 0.3f);
  EXPECT_EQ(hybrid->layout().size(), 3u);
  EXPECT_FALSE(hybrid->cpu_heavy());
  for (auto [a, b] : {std::pair{"x", "xy"}, std::pair{"x", "y"}, std::pair{"xy", "y"}}) {
    const float want = 0.3f * similarity(hashing->embed(a), hashing->embed(b)) +
                       0.7f * similarity(dense->embed(a), dense->embed(b));
    EXPECT_NEAR(similarity(hybrid->embed(a), hybrid->embed(b)), want, 1e-6f);
  }
  // combine() of separately computed parts equals embed().
  const Embedding c = hybrid->combine(hashing->embed("xy"), dense->embed("xy"));
  EXPECT_TRUE(c.matches(hybrid->layout()));
  EXPECT_NEAR(similarity(c, hybrid->embed("xy")), similarity(hybrid->embed("xy"), hybrid->embed("xy")), 1e-6f);
}

TEST(HybridEmbedderTest, RejectsNullChildrenAndBadWeights) {
  EXPECT_FALSE(HybridEmbedder::create(nullptr, table()).ok());
  EXPECT_FALSE(HybridEmbedder::create(table(), table(), -0.1f).ok());
  EXPECT_FALSE(HybridEmbedder::create(table(), table(), 1.1f).ok());
}

}  // namespace
}  // namespace sy::embed

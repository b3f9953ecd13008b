#include "switchyard/embed/semantic_head.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "embed/two_topics.hpp"
#include "switchyard/embed/hashing_embedder.hpp"

namespace sy::embed {
namespace {

const std::vector<PartLayout> kDense = {PartLayout{4, false, 1.0f, "dense"}};

Embedding dense(std::vector<float> v) {
  Embedding e;
  EmbeddingPart p;
  p.dim = static_cast<std::uint32_t>(v.size());
  p.values = std::move(v);
  normalize(p);
  e.parts.push_back(std::move(p));
  return e;
}

// Three clusters around the first three axes of R^4, with deterministic noise.
std::vector<std::vector<Embedding>> clusters(std::size_t per_class, float noise, std::uint32_t seed = 7) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> n(0.0f, noise);
  std::vector<std::vector<Embedding>> out(3);
  for (std::size_t c = 0; c < 3; ++c)
    for (std::size_t i = 0; i < per_class; ++i) {
      std::vector<float> v = {n(rng), n(rng), n(rng), n(rng)};
      v[c] += 1.0f;
      out[c].push_back(dense(v));
    }
  return out;
}

std::shared_ptr<const SemanticHead> train_ok(const std::vector<std::vector<Embedding>>& ex, HeadOptions o = {},
                                             std::vector<PartLayout> layout = kDense) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < ex.size(); ++i) names.push_back("r" + std::to_string(i));
  auto r = SemanticHead::train(names, "test", layout, ex, o);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : nullptr;
}

TEST(SemanticHeadTest, SeparatesAToyProblem) {
  auto head = train_ok(clusters(10, 0.1f));
  ASSERT_TRUE(head);
  EXPECT_EQ(head->routes().size(), 3u);
  EXPECT_EQ(head->predict(dense({1, 0, 0, 0})).best, 0u);
  EXPECT_EQ(head->predict(dense({0, 1, 0.1f, 0})).best, 1u);
  EXPECT_EQ(head->predict(dense({0.1f, 0, 1, 0})).best, 2u);
  const HeadPrediction p = head->predict(dense({0, 0, 1, 0}));
  float sum = 0;
  for (float v : p.probabilities) sum += v;
  EXPECT_NEAR(sum, 1.0f, 1e-5f);
  EXPECT_GT(p.confidence, 0.5f);
  EXPECT_FLOAT_EQ(p.confidence, p.probabilities[p.best]);
}

TEST(SemanticHeadTest, IsDeterministic) {
  auto a = train_ok(clusters(8, 0.3f));
  auto b = train_ok(clusters(8, 0.3f));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->serialize(), b->serialize());  // same bits, temperature included
  EXPECT_EQ(a->iterations(), b->iterations());
}

TEST(SemanticHeadTest, ConfidenceFallsAwayFromTheTrainingData) {
  auto head = train_ok(clusters(10, 0.2f));
  ASSERT_TRUE(head);
  // Moving from a class's axis towards the point between two classes lowers the confidence monotonically.
  float last = 2.0f;
  for (float t = 0.0f; t <= 1.0f; t += 0.1f) {
    const float c = head->predict(dense({1.0f, t, 0, 0})).confidence;
    EXPECT_LE(c, last + 1e-6f) << "t=" << t;
    last = c;
  }
  // And a query matching nothing (all zero) is the least confident of all.
  EXPECT_LT(head->predict(dense({0, 0, 0, 0})).confidence, head->predict(dense({1, 0, 0, 0})).confidence);
}

TEST(SemanticHeadTest, TemperatureIsFittedAndScalesLogits) {
  auto calibrated = train_ok(clusters(10, 0.4f));
  HeadOptions none;
  none.calibration_folds = 0;
  auto raw = train_ok(clusters(10, 0.4f), none);
  ASSERT_TRUE(calibrated && raw);
  EXPECT_FLOAT_EQ(raw->temperature(), 1.0f);
  EXPECT_GT(calibrated->temperature(), 0.0f);
  EXPECT_NE(calibrated->temperature(), 1.0f);
  // Same weights (same fit), only the temperature differs: the probabilities are softmax(z / T).
  std::vector<float> z(3);
  const Embedding q = dense({0.6f, 0.4f, 0.1f, 0});
  calibrated->logits(q, z);
  std::vector<float> expected = z;
  calibrated->calibrate(expected);
  const HeadPrediction p = calibrated->predict(q);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_NEAR(p.probabilities[i], expected[i], 1e-6f);
  // A higher temperature never raises the top probability: monotone in 1/T.
  double lo = 0, hi = 0;
  {
    std::vector<float> a = z, b = z;
    for (float& v : b) v /= 2.0f;  // T twice as large
    float ma = *std::max_element(a.begin(), a.end()), mb = *std::max_element(b.begin(), b.end());
    double sa = 0, sb = 0;
    for (float v : a) sa += std::exp(v - ma);
    for (float v : b) sb += std::exp(v - mb);
    hi = 1.0 / sa;
    lo = 1.0 / sb;
  }
  EXPECT_LE(lo, hi);
}

TEST(SemanticHeadTest, StrongerRegularisationGivesLowerConfidence) {
  HeadOptions weak, strong;
  weak.l2 = 1e-4;
  strong.l2 = 1e-1;
  weak.calibration_folds = strong.calibration_folds = 0;
  auto a = train_ok(clusters(10, 0.1f), weak);
  auto b = train_ok(clusters(10, 0.1f), strong);
  ASSERT_TRUE(a && b);
  const Embedding q = dense({1, 0, 0, 0});
  EXPECT_GT(a->predict(q).confidence, b->predict(q).confidence);
}

TEST(SemanticHeadTest, SparsePartsFromTheHashingEmbedder) {
  const auto [h, ex] = testing::two_topics();
  for (std::uint32_t fold : {0u, 12u}) {
    HeadOptions o;
    o.fold_bits = fold;
    auto head = train_ok(ex, o, h->layout());
    ASSERT_TRUE(head);
    EXPECT_EQ(head->predict(h->embed("I was charged twice for my card")).best, 0u) << fold;
    EXPECT_EQ(head->predict(h->embed("python code error")).best, 1u) << fold;
    // Unknown words only: no feature has a weight, so the biases alone decide (near-uniform).
    EXPECT_NEAR(head->predict(h->embed("zzzqqq")).confidence, 0.5f, 0.1f) << fold;
    // Round trip keeps the lookup of sparse buckets.
    auto back = SemanticHead::parse(head->serialize());
    ASSERT_TRUE(back.ok()) << back.error().message;
    const Embedding q = h->embed("refund the invoice");
    EXPECT_EQ((*back)->predict(q).probabilities, head->predict(q).probabilities);
  }
}

TEST(SemanticHeadTest, LayoutMismatchGivesZeroLogits) {
  auto head = train_ok(clusters(5, 0.1f));
  ASSERT_TRUE(head);
  Embedding wrong = dense({1, 0, 0});
  std::vector<float> z(3, 9.0f);
  head->logits(wrong, z);
  EXPECT_EQ(z, std::vector<float>(3, 0.0f));
}

TEST(SemanticHeadTest, TrainingErrors) {
  auto ex = clusters(3, 0.1f);
  auto fails = [&](std::vector<std::string> names, std::vector<std::vector<Embedding>> e, HeadOptions o = {}) {
    auto r = SemanticHead::train(std::move(names), "test", kDense, e, o);
    return r.ok() ? std::string() : r.error().message;
  };
  EXPECT_NE(fails({"a"}, {ex[0]}).find("at least two"), std::string::npos);
  EXPECT_NE(fails({"a", "a", "b"}, ex).find("duplicate"), std::string::npos);
  EXPECT_NE(fails({"a", "b", "c"}, {ex[0], {}, ex[2]}).find("no utterances"), std::string::npos);
  EXPECT_NE(fails({"a", "b", "c"}, {ex[0], {dense({1, 0})}, ex[2]}).find("layout"), std::string::npos);
  HeadOptions bad;
  bad.l2 = -1;
  EXPECT_NE(fails({"a", "b", "c"}, ex, bad).find("l2"), std::string::npos);
}

class SemanticHeadFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    head_ = train_ok(clusters(6, 0.2f));
    ASSERT_TRUE(head_);
    bytes_ = head_->serialize();
  }
  std::string error_of(const std::string& bytes) {
    auto r = SemanticHead::parse(bytes, "f.head");
    return r.ok() ? std::string() : r.error().message;
  }
  // Rewrites the checksum so the structural checks (not the checksum) must catch a change.
  static std::string resign(std::string b) {
    std::uint32_t h = 2166136261u;
    for (std::size_t i = 0; i + 4 < b.size(); ++i) {
      h ^= static_cast<unsigned char>(b[i]);
      h *= 16777619u;
    }
    std::memcpy(b.data() + b.size() - 4, &h, 4);
    return b;
  }
  std::shared_ptr<const SemanticHead> head_;
  std::string bytes_;
};

TEST_F(SemanticHeadFileTest, RoundTripThroughAFile) {
  const auto path = (std::filesystem::temp_directory_path() / ("sy_head_" + std::to_string(::getpid()) + ".bin")).string();
  ASSERT_TRUE(head_->save(path).ok());
  auto back = SemanticHead::load(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ((*back)->routes(), head_->routes());
  EXPECT_EQ((*back)->embedder_type(), "test");
  EXPECT_EQ((*back)->layout(), head_->layout());
  EXPECT_FLOAT_EQ((*back)->temperature(), head_->temperature());
  const Embedding q = dense({0.3f, 0.5f, 0.2f, 0.1f});
  EXPECT_EQ((*back)->predict(q).probabilities, head_->predict(q).probabilities);
  EXPECT_EQ((*back)->serialize(), bytes_);
}

TEST_F(SemanticHeadFileTest, FingerprintIsStored) {
  HeadOptions o;
  o.fingerprint = training_fingerprint("test", {"a", "b"}, {{"x"}, {"y", "z"}});
  EXPECT_NE(o.fingerprint, training_fingerprint("test", {"a", "b"}, {{"x", "y"}, {"z"}}));
  EXPECT_NE(o.fingerprint, training_fingerprint("hashing", {"a", "b"}, {{"x"}, {"y", "z"}}));
  auto head = train_ok(clusters(3, 0.1f), o);
  ASSERT_TRUE(head);
  auto back = SemanticHead::parse(head->serialize());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ((*back)->fingerprint(), o.fingerprint);
}

TEST(SemanticHeadAugmentTest, WordDropout) {
  EXPECT_TRUE(word_dropout_variants("too short", 4).empty());
  const auto v = word_dropout_variants("why was  I charged twice", 3);
  ASSERT_EQ(v.size(), 3u);
  EXPECT_EQ(v[0], "was I charged twice");
  EXPECT_EQ(v[1], "why I charged twice");
  EXPECT_EQ(v[2], "why was I twice");
  EXPECT_EQ(word_dropout_variants("a b c d", 10).size(), 4u);
}

TEST_F(SemanticHeadFileTest, MissingFile) {
  auto r = SemanticHead::load("/nonexistent/dir/x.head");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("/nonexistent/dir/x.head"), std::string::npos);
}

TEST_F(SemanticHeadFileTest, CorruptFilesAreRejected) {
  EXPECT_NE(error_of("").find("bad magic"), std::string::npos);
  EXPECT_NE(error_of("SYSEMHD1").find("truncated"), std::string::npos);
  std::string magic = bytes_;
  magic[0] = 'X';
  EXPECT_NE(error_of(magic).find("bad magic"), std::string::npos);
  std::string flipped = bytes_;
  flipped[bytes_.size() / 2] ^= 0x40;
  EXPECT_NE(error_of(flipped).find("checksum"), std::string::npos);
  EXPECT_NE(error_of(bytes_.substr(0, bytes_.size() - 9)).find("checksum"), std::string::npos);
  std::string version = bytes_;
  version[8] = 2;
  EXPECT_NE(error_of(resign(version)).find("version"), std::string::npos);
  // A truncated body with a valid checksum: the size check catches it.
  std::string cut = bytes_.substr(0, bytes_.size() - 12) + std::string(4, '\0');
  EXPECT_NE(error_of(resign(cut)).find("size mismatch"), std::string::npos);
}

TEST_F(SemanticHeadFileTest, HostileCountsDoNotAllocate) {
  // Route count at offset 12, part count at 16: huge values are refused from the header alone.
  std::string routes = bytes_;
  const std::uint32_t huge = 0xFFFFFFF0u;
  std::memcpy(routes.data() + 12, &huge, 4);
  EXPECT_NE(error_of(resign(routes)).find("route count"), std::string::npos);
  std::string parts = bytes_;
  std::memcpy(parts.data() + 16, &huge, 4);
  EXPECT_NE(error_of(resign(parts)).find("part count"), std::string::npos);
  // A plausible route count (65,536) with a tiny file: refused before reserving names.
  std::string many = bytes_;
  const std::uint32_t max_routes = SemanticHead::kMaxRoutes;
  std::memcpy(many.data() + 12, &max_routes, 4);
  const std::string err = error_of(resign(many));
  EXPECT_FALSE(err.empty());
  // The dense part's dimension (after magic, version, counts, the "test" type string and the
  // fingerprint) claims 2^28 rows.
  std::string dim = bytes_;
  const std::size_t part_at = 8 + 4 + 4 + 4 + 4 + 4 + 8;
  const std::uint32_t big = 1u << 28;
  std::memcpy(dim.data() + part_at, &big, 4);
  EXPECT_FALSE(error_of(resign(dim)).empty());
  // A name length far beyond the file.
  std::string name = bytes_;
  std::memcpy(name.data() + 20, &huge, 4);
  EXPECT_NE(error_of(resign(name)).find("embedder type"), std::string::npos);
}

TEST_F(SemanticHeadFileTest, NonFiniteWeightsAreRejected) {
  std::string b = bytes_;
  const float nan = std::nanf("");
  std::memcpy(b.data() + b.size() - 4 - 4 - 3 * 4 - 4, &nan, 4);  // the last weight
  EXPECT_NE(error_of(resign(b)).find("non-finite"), std::string::npos);
}

}  // namespace
}  // namespace sy::embed

#include "switchyard/embed/hashing_embedder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace sy::embed {
namespace {

std::shared_ptr<const HashingEmbedder> make(const std::vector<std::string>& corpus, HashingOptions o = {}) {
  auto r = HashingEmbedder::create(o, corpus);
  EXPECT_TRUE(r.ok());
  return *r;
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

float norm(const EmbeddingPart& p) {
  double s = 0;
  for (float v : p.values) s += static_cast<double>(v) * v;
  return static_cast<float>(std::sqrt(s));
}

TEST(HashingEmbedderTest, FeaturesAreWordsBigramsAndPaddedCharNgrams) {
  auto e = make({});
  const auto f = e->features("Hi, THERE");
  EXPECT_TRUE(has(f, "w:hi"));
  EXPECT_TRUE(has(f, "w:there"));
  EXPECT_TRUE(has(f, "b:hi there"));
  EXPECT_TRUE(has(f, "c: hi"));
  EXPECT_TRUE(has(f, "c:hi "));
  EXPECT_TRUE(has(f, "c: hi "));   // the padded word fits in 4: emitted once, whole
  EXPECT_FALSE(has(f, "c:i, t"));  // n-grams never cross words
  EXPECT_TRUE(has(f, "c: ther"));
  EXPECT_TRUE(has(f, "c:here "));
  EXPECT_EQ(std::count(f.begin(), f.end(), "c: hi "), 1);
}

TEST(HashingEmbedderTest, EmbeddingIsDeterministicSparseAndUnitLength) {
  auto e = make({"check my balance", "book a flight"});
  const Embedding a = e->embed("What is my checking account balance?");
  const Embedding b = e->embed("What is my checking account balance?");
  ASSERT_EQ(a.parts.size(), 2u);
  EXPECT_TRUE(a.matches(e->layout()));
  for (std::size_t p = 0; p < 2; ++p) {
    EXPECT_TRUE(a.parts[p].sparse);
    EXPECT_EQ(a.parts[p].indices, b.parts[p].indices);
    EXPECT_EQ(a.parts[p].values, b.parts[p].values);
    EXPECT_NEAR(norm(a.parts[p]), 1.0f, 1e-5f);
    EXPECT_LT(a.parts[p].indices.size(), 200u);  // sparse: nowhere near 2^18 entries
  }
  EXPECT_NEAR(similarity(a, b), 1.0f, 1e-5f);
}

TEST(HashingEmbedderTest, SimilarSentencesScoreHigherThanUnrelated) {
  auto e = make({"what is my account balance", "book me a flight to paris", "play some jazz music"});
  const Embedding q = e->embed("how much money is in my account");
  const float related = similarity(q, e->embed("what is my account balance"));
  const float unrelated = similarity(q, e->embed("book me a flight to paris"));
  EXPECT_GT(related, unrelated + 0.1f);
}

TEST(HashingEmbedderTest, IdfDownweightsWordsCommonToTheCorpus) {
  HashingOptions o;
  o.word_bigrams = false;
  auto e = make({"the cat", "the dog", "the bird", "the fish"}, o);
  const Embedding v = e->embed("the zebra");
  // Two word features; the rare one ("zebra", unseen: maximal IDF) outweighs "the".
  ASSERT_EQ(v.parts[0].values.size(), 2u);
  const float lo = std::min(v.parts[0].values[0], v.parts[0].values[1]);
  const float hi = std::max(v.parts[0].values[0], v.parts[0].values[1]);
  EXPECT_GT(hi, 1.5f * lo);
}

TEST(HashingEmbedderTest, EmptyOrPunctuationOnlyTextGivesZeroParts) {
  auto e = make({"hello"});
  for (const char* text : {"", "?!... ,"}) {
    const Embedding v = e->embed(text);
    EXPECT_TRUE(v.parts[0].indices.empty());
    EXPECT_TRUE(v.parts[1].indices.empty());
    EXPECT_EQ(similarity(v, e->embed("hello")), 0.0f);
  }
}

TEST(HashingEmbedderTest, WordWeightSetsThePartWeights) {
  HashingOptions o;
  o.word_weight = 0.3f;
  auto e = make({}, o);
  EXPECT_FLOAT_EQ(e->layout()[0].weight, 0.3f);
  EXPECT_FLOAT_EQ(e->layout()[1].weight, 0.7f);
  EXPECT_FALSE(e->cpu_heavy());
}

TEST(HashingEmbedderTest, RejectsInvalidOptions) {
  HashingOptions o;
  o.bucket_bits = 30;
  EXPECT_FALSE(HashingEmbedder::create(o, {}).ok());
  o = {};
  o.char_min = 4;
  o.char_max = 3;
  EXPECT_FALSE(HashingEmbedder::create(o, {}).ok());
  o = {};
  o.word_weight = 1.5f;
  EXPECT_FALSE(HashingEmbedder::create(o, {}).ok());
}

}  // namespace
}  // namespace sy::embed

#include "switchyard/embed/hashing_embedder.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
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

// The embedding written the plain way, from the definition in hashing_embedder.hpp: one string per
// feature, hashed on its own, counted in a map. embed() must give exactly these indices (first seen
// first) and bit-identical values.
namespace reference {
constexpr std::uint64_t kFnvOffset = 0xcbf29ce484222325ULL, kFnvPrime = 0x100000001b3ULL;
constexpr std::uint64_t kSeedWord = 0x9e3779b97f4a7c15ULL, kSeedBigram = 0xc2b2ae3d27d4eb4fULL,
                        kSeedChar = 0x165667b19e3779f9ULL;
std::uint64_t fmix64(std::uint64_t k) {  // MurmurHash3's finaliser: xor-shift, multiply, twice, xor-shift
  for (std::uint64_t m : {0xff51afd7ed558ccdULL, 0xc4ceb9fe1a85ec53ULL}) k = (k ^ (k >> 33)) * m;
  return k ^ (k >> 33);
}
std::uint64_t fnv1a(const std::string& s, std::uint64_t seed) {
  std::uint64_t h = kFnvOffset ^ seed;
  for (unsigned char c : s) h = (h ^ c) * kFnvPrime;
  return h;
}
std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::string w;
  for (unsigned char c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) {
      w.push_back(static_cast<char>(c));
    } else if (!w.empty()) {
      out.push_back(w);
      w.clear();
    }
  }
  if (!w.empty()) out.push_back(w);
  return out;
}
struct Part {
  std::vector<std::uint32_t> order;
  std::map<std::uint32_t, int> tf;
  void add(std::uint64_t h, std::uint32_t mask) {
    const std::uint32_t b = static_cast<std::uint32_t>(h) & mask;
    if (tf[b]++ == 0) order.push_back(b);
  }
};
std::array<Part, 2> count(const std::string& text, const HashingOptions& o) {
  const std::uint32_t mask = (1u << o.bucket_bits) - 1;
  std::array<Part, 2> parts;
  const std::vector<std::string> ws = words(text);
  for (std::size_t i = 0; i < ws.size(); ++i) {
    parts[0].add(fmix64(fnv1a(ws[i], 0) ^ kSeedWord), mask);
    if (o.word_bigrams && i > 0) parts[0].add(fmix64(fnv1a(ws[i - 1], 0) * kSeedBigram + fnv1a(ws[i], 0)), mask);
    const std::string padded = " " + ws[i] + " ";
    for (std::size_t off = 0; off < padded.size(); ++off)
      for (std::size_t g = o.char_min; g <= o.char_max && g < padded.size() && off + g <= padded.size(); ++g)
        parts[1].add(fmix64(fnv1a(padded.substr(off, g), kSeedChar)), mask);
    if (padded.size() <= o.char_max) parts[1].add(fmix64(fnv1a(padded, kSeedChar)), mask);
  }
  return parts;
}
std::vector<float> idf(const std::vector<std::string>& corpus, const HashingOptions& o, std::size_t part) {
  std::vector<std::uint32_t> df(std::size_t{1} << o.bucket_bits, 0);
  for (const std::string& doc : corpus) {
    const std::array<Part, 2> counted = count(doc, o);
    for (std::uint32_t b : counted[part].order) ++df[b];
  }
  std::vector<float> out(df.size());
  for (std::size_t b = 0; b < df.size(); ++b)
    out[b] = static_cast<float>(std::log((1.0 + static_cast<double>(corpus.size())) / (1.0 + df[b])) + 1.0);
  return out;
}
EmbeddingPart embed_part(const Part& p, const std::vector<float>& idf, const HashingOptions& o) {
  EmbeddingPart out;
  double ss = 0;
  for (std::uint32_t b : p.order) {
    const int tf = std::min(p.tf.at(b), 255);
    float w = o.sublinear_tf ? 1.0f + std::log(static_cast<float>(tf)) : static_cast<float>(tf);
    if (o.use_idf) w *= idf[b];
    out.indices.push_back(b);
    out.values.push_back(w);
    ss += static_cast<double>(w) * w;
  }
  if (ss > 0) {
    const float inv = static_cast<float>(1.0 / std::sqrt(ss));
    for (float& v : out.values) v *= inv;
  }
  return out;
}
}  // namespace reference

TEST(HashingEmbedderTest, EmbeddingEqualsTheReferenceComputation) {
  std::mt19937 rng(7);
  const std::vector<std::string> pieces = {"The", "quick", "FOX", "a", "of", "x1", "2024", "na\xc3\xafve", "\xe6\x9d\xb1",
                                           "summarise", "antidisestablishmentarianism", "the", "the", "it's", "C++"};
  const std::vector<std::string> seps = {" ", "  ", ", ", ".\n", "-", "\t", "?! "};
  auto text = [&](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += pieces[rng() % pieces.size()] + seps[rng() % seps.size()];
    return s;
  };
  std::vector<std::string> corpus;
  for (int i = 0; i < 20; ++i) corpus.push_back(text(8));
  std::vector<HashingOptions> options(4);
  options[1].bucket_bits = 10;  // collisions
  options[1].word_bigrams = false;
  options[2].char_min = 1;
  options[2].char_max = 8;
  options[2].use_idf = false;
  options[3].char_min = 4;
  options[3].char_max = 4;
  options[3].sublinear_tf = false;
  for (const HashingOptions& o : options) {
    auto e = make(corpus, o);
    const std::array<std::vector<float>, 2> idf = {reference::idf(corpus, o, 0), reference::idf(corpus, o, 1)};
    std::vector<std::string> texts = {"", "Hi", std::string(300, 'a') + " a", std::string("the ") + std::string(1200, 'x')};
    for (int i = 0; i < 40; ++i) texts.push_back(text(rng() % 60));
    std::string repeated;  // counts past 64 and past the 255 cap
    for (int i = 0; i < 300; ++i) repeated += "the cat ";
    texts.push_back(repeated);
    for (const std::string& t : texts) {
      const Embedding v = e->embed(t);
      const auto counted = reference::count(t, o);
      for (std::size_t p = 0; p < 2; ++p) {
        const EmbeddingPart want = reference::embed_part(counted[p], idf[p], o);
        EXPECT_EQ(v.parts[p].indices, want.indices) << t;
        EXPECT_EQ(v.parts[p].values, want.values) << t;  // bit-identical, not near
      }
    }
  }
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

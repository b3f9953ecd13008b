#include "switchyard/embed/use_lite_embedder.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace sy::embed {
namespace {

std::string temp_file(const std::string& name, const std::vector<char>& bytes) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

template <class T>
void put(std::vector<char>& b, std::size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);
}

// A structurally plausible header (layout in scripts/fetch-use-lite.sh) whose payload is empty.
std::vector<char> fake_header() {
  std::vector<char> b(896, 0);
  std::memcpy(b.data(), "SYUSELIT", 8);
  put<std::uint32_t>(b, 8, 1);     // version
  put<std::uint32_t>(b, 12, 832);  // header bytes
  put<std::uint32_t>(b, 16, 1);    // vocab count
  put<std::uint32_t>(b, 20, 8002); // embedding rows
  put<std::uint32_t>(b, 24, 30);   // tensors
  put<std::uint64_t>(b, 48, 832);  // vocab offset
  put<std::uint64_t>(b, 56, 0);    // vocab bytes
  put<std::uint64_t>(b, 64, 12345);  // checksum (wrong on purpose)
  put<std::uint64_t>(b, 72, b.size());
  return b;
}

void expect_error(const std::string& path, const std::string& needle) {
  auto r = UseLiteEmbedder::load(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("scripts/fetch-use-lite.sh"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(path), std::string::npos) << r.error().message;
}

TEST(UseLiteLoaderTest, MissingFileNamesTheFetchScript) {
  expect_error(::testing::TempDir() + "/no-such-model.bin", "cannot open");
}

TEST(UseLiteLoaderTest, RejectsWrongMagic) {
  std::vector<char> b = fake_header();
  std::memcpy(b.data(), "GGUF\0\0\0\0", 8);
  expect_error(temp_file("magic.bin", b), "bad magic");
}

TEST(UseLiteLoaderTest, RejectsUnknownVersion) {
  std::vector<char> b = fake_header();
  put<std::uint32_t>(b, 8, 7);
  expect_error(temp_file("version.bin", b), "version 7");
}

TEST(UseLiteLoaderTest, RejectsTruncatedFile) {
  std::vector<char> b = fake_header();
  b.resize(b.size() - 64);  // header still claims 896 bytes
  expect_error(temp_file("truncated.bin", b), "truncated");
  expect_error(temp_file("tiny.bin", std::vector<char>(10, 'x')), "too small");
}

TEST(UseLiteLoaderTest, RejectsWrongTensorCount) {
  std::vector<char> b = fake_header();
  put<std::uint32_t>(b, 24, 29);
  expect_error(temp_file("tensors.bin", b), "tensors");
}

TEST(UseLiteLoaderTest, RejectsChecksumMismatch) {
  expect_error(temp_file("checksum.bin", fake_header()), "checksum");
}

// ---- Tests against the real weights: only where scripts/fetch-use-lite.sh has been run. ----

std::shared_ptr<const UseLiteEmbedder> model_or_null() {
  static const std::shared_ptr<const UseLiteEmbedder> m = [] {
    auto r = UseLiteEmbedder::load(UseLiteEmbedder::default_model_path());
    return r.ok() ? *r : nullptr;
  }();
  return m;
}

#define REQUIRE_MODEL()                                                                                   \
  auto model = model_or_null();                                                                           \
  if (!model)                                                                                             \
  GTEST_SKIP() << "use-lite blob not found at " << UseLiteEmbedder::default_model_path()                  \
               << "; run scripts/fetch-use-lite.sh"

// Reference values from the original model run in Node (@energetic-ai/embeddings 0.2.0, TF.js wasm
// backend): token ids and embedding components [0..8) and [100..104).
struct Golden {
  std::string text;
  std::vector<std::int32_t> ids;  // first ids
  std::size_t n_ids;              // reference count before the 128-token clip
  float head[8];
  float mid[4];
};

std::string quarterly() {
  std::string s;
  for (int i = 0; i < 5; ++i) {
    if (i) s += ' ';
    s += "The quarterly report shows that revenue grew by twelve percent while operating costs remained flat, which "
         "the board attributes to better pricing and fewer returns.";
  }
  return s;
}

const std::vector<Golden>& goldens() {
  static const std::vector<Golden> g = {
      {"How do I reset my password?", {728, 64, 16, 137, 1383, 69, 5969, 54}, 8,
       {-0.0484591f, -0.0545726f, 0.0402263f, -0.0539382f, 0.0543736f, -0.0544703f, 0.0539960f, 0.0141599f},
       {0.0506421f, -0.0508855f, -0.0520862f, -0.0410277f}},
      {"na\xc3\xafve caf\xc3\xa9 r\xc3\xa9sum\xc3\xa9", {1216, 0, 105, 976, 209, 1133, 1067, 1133, 7, 400, 1133}, 11,
       {-0.0126591f, 0.0107816f, 0.0158747f, 0.0034721f, -0.0535126f, 0.0061625f, -0.0206151f, -0.0559839f},
       {-0.0604936f, 0.0476651f, 0.0456257f, -0.0609247f}},
      {"emoji \xf0\x9f\x98\x80 test", {299, 451, 2501, 30, 0, 748}, 6,
       {0.0554769f, -0.0574021f, -0.0530871f, 0.0280470f, -0.0558523f, -0.0101880f, -0.0348335f, -0.0544553f},
       {-0.0559545f, 0.0572752f, 0.0489241f, -0.0388305f}},
      {quarterly(), {34, 1275, 56, 755, 1423, 20, 2255, 4015, 55, 885, 202, 283, 105, 912, 274, 3704, 2138, 5651, 3152, 8},
       170,
       {-0.0109663f, -0.0552337f, -0.0385067f, 0.0467746f, 0.0473599f, 0.0700563f, -0.0199562f, -0.0734540f},
       {0.0054087f, 0.0179580f, -0.0566037f, 0.0218490f}},
  };
  return g;
}

TEST(UseLiteGoldenTest, TokenizerMatchesTheReference) {
  REQUIRE_MODEL();
  for (const Golden& g : goldens()) {
    const auto ids = model->tokenize(g.text);
    ASSERT_GE(ids.size(), std::min<std::size_t>(g.n_ids, UseLiteEmbedder::kMaxTokens)) << g.text;
    for (std::size_t i = 0; i < g.ids.size(); ++i) EXPECT_EQ(ids[i], g.ids[i]) << g.text << " at " << i;
    if (g.n_ids <= UseLiteEmbedder::kMaxTokens) {
      EXPECT_EQ(ids.size(), g.n_ids) << g.text;
    }
  }
}

TEST(UseLiteGoldenTest, EmbeddingsMatchTheReference) {
  REQUIRE_MODEL();
  for (const Golden& g : goldens()) {
    const Embedding e = model->embed(g.text);
    ASSERT_TRUE(e.matches(model->layout()));
    const auto& v = e.parts[0].values;
    for (int i = 0; i < 8; ++i) EXPECT_NEAR(v[static_cast<std::size_t>(i)], g.head[i], 2e-6f) << g.text << " [" << i << "]";
    for (int i = 0; i < 4; ++i) EXPECT_NEAR(v[static_cast<std::size_t>(100 + i)], g.mid[i], 2e-6f) << g.text << " [" << 100 + i << "]";
    double ss = 0;
    for (float x : v) ss += static_cast<double>(x) * x;
    EXPECT_NEAR(ss, 1.0, 1e-5);
  }
}

TEST(UseLiteEmbedderTest, ParaphrasesAreCloserThanUnrelatedSentences) {
  REQUIRE_MODEL();
  const Embedding a = model->embed("How do I reset my password?");
  const Embedding b = model->embed("I forgot my password, how can I change it?");
  const Embedding c = model->embed("What is the weather like in Paris tomorrow?");
  EXPECT_GT(similarity(a, b), similarity(a, c) + 0.2f);
  EXPECT_TRUE(model->cpu_heavy());
}

TEST(UseLiteEmbedderTest, BatchGivesTheSameVectorsAsSingleCalls) {
  REQUIRE_MODEL();
  const std::string long_text = quarterly();
  const std::vector<std::string_view> texts = {"set an alarm for 7am", "", long_text, "x", "what's my credit score?"};
  const std::vector<Embedding> batch = model->embed_batch(texts);
  ASSERT_EQ(batch.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const Embedding one = model->embed(texts[i]);
    ASSERT_TRUE(batch[i].matches(model->layout())) << i;
    for (std::size_t j = 0; j < UseLiteEmbedder::kDim; ++j)
      ASSERT_NEAR(batch[i].parts[0].values[j], one.parts[0].values[j], 1e-6f) << "text " << i << " dim " << j;
  }
}

TEST(UseLiteEmbedderTest, HalfPrecisionWeightsStayWithinCosine09999OfTheReference) {
  REQUIRE_MODEL();
  auto half = UseLiteEmbedder::load(UseLiteEmbedder::default_model_path(), UseLiteOptions{true});
  ASSERT_TRUE(half.ok());
  if (!(*half)->fp16_weights()) GTEST_SKIP() << "CPU without F16C: fp16 weights unavailable";
  for (const Golden& g : goldens()) {
    const Embedding ea = model->embed(g.text), eb = (*half)->embed(g.text);
    const auto& a = ea.parts[0].values;
    const auto& b = eb.parts[0].values;
    double dot = 0;
    for (std::size_t j = 0; j < a.size(); ++j) dot += static_cast<double>(a[j]) * b[j];
    EXPECT_GT(dot, 0.9999) << g.text;
  }
}

TEST(UseLiteEmbedderTest, EmptyTextGivesTheZeroVector) {
  REQUIRE_MODEL();
  const Embedding e = model->embed("");
  for (float x : e.parts[0].values) EXPECT_EQ(x, 0.0f);
}

}  // namespace
}  // namespace sy::embed

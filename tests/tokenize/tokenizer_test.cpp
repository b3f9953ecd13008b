// Token ids against the real rank files. The expected ids were produced by OpenAI's tiktoken (the
// `tiktoken` npm package, its Rust core compiled to WASM) and agree with js-tiktoken 1.0.21.
// Skipped, naming scripts/fetch-tokenizers.sh, when the rank files are absent.
#include "switchyard/tokenize/tokenizer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tokenize/rank_files.hpp"

namespace sy::tokenize {
namespace {

struct Sample {
  std::string text;
  std::vector<std::uint32_t> o200k;
  std::vector<std::uint32_t> cl100k;
};

const std::vector<Sample>& samples() {
  static const std::vector<Sample> kSamples = {
      {"hello world", {24912, 2375}, {15339, 1917}},
      {"Hello, world! How are you doing today?",
       {13225, 11, 2375, 0, 3253, 553, 481, 5306, 4044, 30},
       {9906, 11, 1917, 0, 2650, 527, 499, 3815, 3432, 30}},
      {"The quick brown fox jumps over the lazy dog.",
       {976, 4853, 19705, 68347, 65613, 1072, 290, 29082, 6446, 13},
       {791, 4062, 14198, 39935, 35308, 927, 279, 16053, 5679, 13}},
      {"I'm sure you'll love it; they've said we'd REALLY enjoy it, DON'T they?",
       {15390, 3239, 12764, 3047, 480, 26, 51676, 2059, 68530, 100078, 4271, 480, 11, 153384, 1023, 30},
       {40, 2846, 2771, 499, 3358, 3021, 433, 26, 814, 3077, 1071, 584, 4265, 66800, 4774, 433, 11, 45373, 17773,
        814, 30}},
      {"def add(a, b):\n    return a + b\n",
       {1314, 1147, 6271, 11, 287, 1883, 271, 622, 261, 659, 287, 198},
       {755, 923, 2948, 11, 293, 997, 262, 471, 264, 489, 293, 198}},
      {"In 2024, 1234567 people paid $3.50 each.",
       {637, 220, 1323, 19, 11, 220, 7633, 19354, 22, 1665, 9927, 548, 18, 13, 1434, 2454, 13},
       {644, 220, 2366, 19, 11, 220, 4513, 10961, 22, 1274, 7318, 400, 18, 13, 1135, 1855, 13}},
      {"你好，世界！今天天气很好。",
       {177519, 979, 28428, 3393, 10941, 1487, 25896, 148483, 788},
       {57668, 53901, 3922, 3574, 244, 98220, 6447, 37271, 36827, 36827, 30320, 242, 17599, 230, 53901, 1811}},
      {"naïve café — résumé 😀 👍🏽",
       {1503, 9954, 737, 30469, 2733, 140184, 88038, 160433, 52622, 121},
       {3458, 38672, 588, 53050, 2001, 9517, 1264, 978, 91416, 62904, 235, 9468, 237, 121}},
      {"line one\n\n  line two\t\ttabbed   \n",
       {1137, 1001, 279, 220, 2543, 1920, 197, 119380, 7594, 10190},
       {1074, 832, 271, 220, 1584, 1403, 197, 59249, 2788, 5996}},
      {"{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"user\"}]}",
       {10848, 5079, 1243, 392, 70, 555, 12, 19, 78, 672, 392, 35427, 1243, 161269, 8716, 1243, 392, 1428, 18583,
        28000},
       {5018, 2590, 794, 330, 70, 418, 12, 19, 78, 498, 330, 16727, 794, 62853, 5898, 794, 330, 882, 9388, 14316}},
      {"Привет, как дела?", {23881, 131903, 11, 6220, 78857, 30}, {54745, 28089, 8341, 11, 52770, 95369, 1506, 30}},
      {"HTTPRequestHandler getHTTPResponseCode XMLHttpRequest",
       {159684, 4139, 717, 17893, 3186, 2836, 100497, 2303},
       {64865, 3126, 636, 9412, 2647, 2123, 46938}},
      {"https://example.com/path/to/page?query=1&x=2",
       {4172, 1684, 18582, 1136, 119244, 72231, 66874, 30, 2975, 28, 16, 5, 87, 28, 17},
       {2485, 1129, 8858, 916, 52076, 33529, 33280, 30, 1663, 28, 16, 5, 87, 28, 17}},
      {"<|endoftext|> is plain text here",
       {27, 91, 419, 1440, 919, 91, 29, 382, 21402, 2201, 2105},
       {27, 91, 8862, 728, 428, 91, 29, 374, 14733, 1495, 1618}},
  };
  return kSamples;
}

TEST(TokenizerTest, HelloWorldIsTwoTokensInBothEncodings) {
  SY_REQUIRE_RANKS(o200k, Encoding::o200k_base);
  SY_REQUIRE_RANKS(cl100k, Encoding::cl100k_base);
  EXPECT_EQ(o200k->count("hello world"), 2u);
  EXPECT_EQ(cl100k->count("hello world"), 2u);
}

TEST(TokenizerTest, LoadsTheFullVocabularies) {
  SY_REQUIRE_RANKS(o200k, Encoding::o200k_base);
  SY_REQUIRE_RANKS(cl100k, Encoding::cl100k_base);
  EXPECT_EQ(o200k->vocab_size(), 199998u);
  EXPECT_EQ(cl100k->vocab_size(), 100256u);
  EXPECT_EQ(o200k->encoding(), Encoding::o200k_base);
}

TEST(TokenizerTest, O200kMatchesTiktokenIds) {
  SY_REQUIRE_RANKS(tok, Encoding::o200k_base);
  for (const Sample& s : samples()) {
    EXPECT_EQ(tok->encode(s.text), s.o200k) << s.text;
    EXPECT_EQ(tok->count(s.text), s.o200k.size()) << s.text;
    EXPECT_EQ(tok->decode(s.o200k), s.text);
  }
}

TEST(TokenizerTest, Cl100kMatchesTiktokenIds) {
  SY_REQUIRE_RANKS(tok, Encoding::cl100k_base);
  for (const Sample& s : samples()) {
    EXPECT_EQ(tok->encode(s.text), s.cl100k) << s.text;
    EXPECT_EQ(tok->count(s.text), s.cl100k.size()) << s.text;
    EXPECT_EQ(tok->decode(s.cl100k), s.text);
  }
}

TEST(TokenizerTest, LongPiecesTakeTheHeapPathWithTheSameCounts) {
  SY_REQUIRE_RANKS(o200k, Encoding::o200k_base);
  SY_REQUIRE_RANKS(cl100k, Encoding::cl100k_base);
  // Counts from tiktoken for pieces far longer than the stack-buffer limit.
  EXPECT_EQ(o200k->count(std::string(1000, 'a')), 125u);
  EXPECT_EQ(cl100k->count(std::string(1000, 'a')), 125u);
  EXPECT_EQ(o200k->count(std::string(100, ' ') + "x"), 3u);
  EXPECT_EQ(cl100k->count(std::string(100, ' ') + "x"), 3u);
}

TEST(TokenizerTest, EmptyTextHasNoTokens) {
  SY_REQUIRE_RANKS(tok, Encoding::o200k_base);
  EXPECT_EQ(tok->count(""), 0u);
  EXPECT_TRUE(tok->encode("").empty());
}

TEST(TokenizerTest, InvalidUtf8StillRoundTrips) {
  SY_REQUIRE_RANKS(tok, Encoding::o200k_base);
  const std::string text = "ok \xFF\xC3 then \xE2\x82";
  EXPECT_EQ(tok->decode(tok->encode(text)), text);
}

TEST(TokenizerTest, ConcurrentCallsAgree) {
  SY_REQUIRE_RANKS(tok, Encoding::o200k_base);
  std::string text;
  for (const Sample& s : samples()) text += s.text + "\n";
  text += std::string(300, 'z');  // one piece on the heap path
  const std::size_t want = tok->count(text);
  std::vector<std::size_t> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < mismatches.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) mismatches[t] += tok->count(text) != want || tok->encode(text).size() != want;
    });
  }
  for (std::thread& th : threads) th.join();
  for (std::size_t m : mismatches) EXPECT_EQ(m, 0u);
}

}  // namespace
}  // namespace sy::tokenize

// BPE merging and rank-file parsing on a small synthetic vocabulary. Needs no rank file.
#include "tokenize/bpe.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "switchyard/tokenize/tokenizer.hpp"
#include "tokenize/rank_table.hpp"

namespace sy::tokenize {
namespace {

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(in[i])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8) |
                            static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    const std::uint32_t v = std::uint32_t{static_cast<unsigned char>(in[i])} << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const std::uint32_t v = (std::uint32_t{static_cast<unsigned char>(in[i])} << 16) |
                            (std::uint32_t{static_cast<unsigned char>(in[i + 1])} << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// All 256 bytes, then the given merges in rank order.
std::string tiktoken_file(const std::vector<std::string>& merges) {
  std::string file;
  for (int b = 0; b < 256; ++b) {
    file += base64(std::string(1, static_cast<char>(b))) + " " + std::to_string(b) + "\n";
  }
  for (std::size_t i = 0; i < merges.size(); ++i) file += base64(merges[i]) + " " + std::to_string(256 + i) + "\n";
  return file;
}

const std::vector<std::string> kMerges = {"ab", "bc", "abc", "aa", "aaaa", "ca", "cab", "bb", "abcab", "ba", "aab"};

std::shared_ptr<const Tokenizer> synthetic() {
  auto t = Tokenizer::from_tiktoken(Encoding::cl100k_base, tiktoken_file(kMerges));
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message);
  return t.ok() ? t.value() : nullptr;
}

TEST(BpeTest, MergesLowestRankFirst) {
  const auto tok = synthetic();
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("abc"), (std::vector<std::uint32_t>{258}));  // ab, then ab+c
  EXPECT_EQ(tok->encode("x"), (std::vector<std::uint32_t>{'x'}));
  EXPECT_EQ(tok->encode("abcab"), (std::vector<std::uint32_t>{264}));
}

TEST(BpeTest, BreaksTiesLeftmostFirst) {
  const auto tok = synthetic();
  ASSERT_TRUE(tok);
  // "aaa": both pairs are "aa"; the left one merges and "aaa" is not a token.
  EXPECT_EQ(tok->encode("aaa"), (std::vector<std::uint32_t>{259, 'a'}));
  EXPECT_EQ(tok->encode("aaaaa"), (std::vector<std::uint32_t>{260, 'a'}));
  EXPECT_EQ(tok->count("aaaaa"), 2u);
}

TEST(BpeTest, DecodeRoundTrips) {
  const auto tok = synthetic();
  ASSERT_TRUE(tok);
  const std::string text = "abcabba cab, aab! \xF0\x9F\x98\x80 ok";
  EXPECT_EQ(tok->decode(tok->encode(text)), text);
  EXPECT_EQ(tok->count(text), tok->encode(text).size());
}

TEST(BpeTest, HeapMergeMatchesQuadraticScan) {
  detail::RankTable table;
  std::uint32_t rank = 0;
  for (int b = 0; b < 256; ++b) table.add(std::string(1, static_cast<char>(b)), rank++);
  for (const std::string& m : kMerges) table.add(m, rank++);
  ASSERT_EQ(table.finish(), detail::RankTable::kNone);

  std::mt19937 rng(42);
  for (int iter = 0; iter < 3000; ++iter) {
    const std::size_t n = 1 + rng() % detail::kSmallPiece;
    std::string piece;
    for (std::size_t i = 0; i < n; ++i) piece += "abcx"[rng() % 4];
    const auto* p = reinterpret_cast<const unsigned char*>(piece.data());
    std::vector<std::pair<std::uint32_t, std::uint32_t>> scan, heap;
    detail::byte_pair_merge(table, p, n, [&](std::uint32_t b, std::uint32_t e) { scan.emplace_back(b, e); });
    detail::byte_pair_merge(
        table, p, n, [&](std::uint32_t b, std::uint32_t e) { heap.emplace_back(b, e); }, /*force_heap=*/true);
    ASSERT_EQ(scan, heap) << piece;
  }
}

TEST(RankFileTest, RejectsAFileMissingASingleByte) {
  std::string file = tiktoken_file({});
  file.erase(0, file.find('\n') + 1);  // drop byte 0
  const auto t = Tokenizer::from_tiktoken(Encoding::o200k_base, file);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("byte 0 has no rank"), std::string::npos) << t.error().message;
}

TEST(RankFileTest, NamesTheMalformedLine) {
  std::string file = tiktoken_file({});
  file.insert(file.find('\n') + 1, "not-a-valid-line\n");
  const auto t = Tokenizer::from_tiktoken(Encoding::o200k_base, file);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("line 2"), std::string::npos) << t.error().message;
}

TEST(RankFileTest, RejectsDuplicateTokens) {
  std::string file = tiktoken_file({"ab"});
  file += base64("ab") + " 300\n";
  const auto t = Tokenizer::from_tiktoken(Encoding::o200k_base, file);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(t.error().message.find("twice"), std::string::npos) << t.error().message;
}

TEST(RankFileTest, MissingFileSaysHowToFetchIt) {
  const auto t = Tokenizer::load("o200k_base", std::filesystem::path("/nonexistent/switchyard-models"));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().kind, ErrorKind::unavailable);
  EXPECT_NE(t.error().message.find("scripts/fetch-tokenizers.sh"), std::string::npos) << t.error().message;
}

TEST(RankFileTest, UnknownEncodingNameIsABadRequest) {
  const auto t = Tokenizer::load("p50k_base", std::filesystem::path("/tmp"));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().kind, ErrorKind::bad_request);
}

}  // namespace
}  // namespace sy::tokenize

// The rank-file-free estimate, checked against exact o200k_base counts known from tiktoken. Needs no
// rank file.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "switchyard/tokenize/token_counter.hpp"
#include "tokenize/utf8.hpp"

namespace sy::tokenize {
namespace {

TEST(EstimateTest, EmptyTextIsZeroAndAnyTextAtLeastOne) {
  EXPECT_EQ(estimate_tokens(""), 0u);
  EXPECT_EQ(estimate_tokens("a"), 1u);
  EXPECT_EQ(estimate_tokens("hello world"), 2u);
}

TEST(EstimateTest, StaysNearExactO200kCounts) {
  struct Case {
    std::string text;
    std::size_t o200k;  // exact, from tiktoken
  };
  const Case cases[] = {
      {"Hello, world! How are you doing today?", 10},
      {"The quick brown fox jumps over the lazy dog.", 10},
      {"I'm sure you'll love it; they've said we'd REALLY enjoy it, DON'T they?", 16},
      {"def add(a, b):\n    return a + b\n", 12},
      {"In 2024, 1234567 people paid $3.50 each.", 17},
      {"你好，世界！今天天气很好。", 9},
      {"{\"model\": \"gpt-4o\", \"messages\": [{\"role\": \"user\"}]}", 20},
      {"Привет, как дела?", 6},
      {"https://example.com/path/to/page?query=1&x=2", 15},
  };
  double total_error = 0;
  for (const Case& c : cases) {
    const double estimate = static_cast<double>(estimate_tokens(c.text));
    const double exact = static_cast<double>(c.o200k);
    EXPECT_NEAR(estimate, exact, std::max(2.0, 0.35 * exact)) << c.text;
    total_error += std::abs(estimate - exact) / exact;
  }
  EXPECT_LT(total_error / std::size(cases), 0.2);
}

TEST(EstimateTest, StaysNearOnLongText) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += "The quick brown fox jumps over the lazy dog. ";
  // Exact o200k_base: 10 tokens per sentence plus the final space.
  EXPECT_NEAR(static_cast<double>(estimate_tokens(text)), 1001.0, 150.0);
}

TEST(Utf8Test, AsciiFastPathAgreesWithTheGeneratedTable) {
  for (char32_t c = 0; c < 128; ++c) EXPECT_EQ(detail::kAsciiClass[c], detail::char_class(c)) << int(c);
}

}  // namespace
}  // namespace sy::tokenize

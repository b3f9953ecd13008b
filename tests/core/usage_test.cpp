#include "switchyard/core/usage.hpp"

#include <gtest/gtest.h>

namespace sy {
namespace {

TEST(UsageTest, CacheReadsAndWritesArePricedAtTheirOwnRates) {
  // Anthropic-style: 1,000 plain input tokens, 8,000 read from the cache, 2,000 written to it.
  Usage u{11'000, 500, 8'000, 2'000, true};
  Prices p{3.0, 15.0, 0.3, 3.75};
  double expected = (1'000 * 3.0 + 8'000 * 0.3 + 2'000 * 3.75 + 500 * 15.0) / 1e6;
  EXPECT_DOUBLE_EQ(cost_usd(u, p), expected);
  // OpenAI-style: cached tokens are part of prompt_tokens, nothing written.
  Usage o{10'000, 100, 6'000, 0, true};
  EXPECT_DOUBLE_EQ(cost_usd(o, Prices{2.5, 10.0, 1.25, 2.5}), (4'000 * 2.5 + 6'000 * 1.25 + 100 * 10.0) / 1e6);
  // Inconsistent counts never price more tokens than the prompt has.
  Usage bad{100, 0, 500, 500, true};
  EXPECT_DOUBLE_EQ(cost_usd(bad, Prices{1, 1, 1, 1}), 100 / 1e6);
}

TEST(UsageTest, CacheWritesTravelInTheInternalUsageShape) {
  Usage u;
  ASSERT_TRUE(parse_openai_usage(R"({"prompt_tokens":300,"completion_tokens":5,"prompt_tokens_details":{"cached_tokens":100,"cache_write_tokens":150}})", u));
  EXPECT_EQ(u.cached_tokens, 100);
  EXPECT_EQ(u.cache_write_tokens, 150);
}

}  // namespace
}  // namespace sy

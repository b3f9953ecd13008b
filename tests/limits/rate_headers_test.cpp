#include "switchyard/limits/rate_headers.hpp"

#include <gtest/gtest.h>

namespace sy::limits {
namespace {

using std::chrono::milliseconds;

TEST(RateHeadersTest, ParsesGoDurations) {
  EXPECT_EQ(parse_go_duration("6m0s"), milliseconds(360'000));
  EXPECT_EQ(parse_go_duration("20ms"), milliseconds(20));
  EXPECT_EQ(parse_go_duration("1h2m3.5s"), milliseconds(3'723'500));
  EXPECT_EQ(parse_go_duration("1.5s"), milliseconds(1500));
  EXPECT_EQ(parse_go_duration("7"), milliseconds(7000));
  EXPECT_FALSE(parse_go_duration("soon").has_value());
  EXPECT_FALSE(parse_go_duration("").has_value());
}

TEST(RateHeadersTest, AnnouncedWaitsAreBoundedToADay) {
  // Found by review: NaN became a huge negative duration; a reset in year 9999 overflowed now + wait.
  EXPECT_FALSE(parse_go_duration("nan").has_value());
  EXPECT_FALSE(parse_go_duration("-1s").has_value());
  auto l = parse_rate_headers({{"x-ratelimit-remaining-requests", "0"}, {"x-ratelimit-reset-requests", "9999-12-31T23:59:59Z"},
                               {"retry-after", "Fri, 31 Dec 9999 23:59:59 GMT"}},
                              1'700'000'000'000);
  ASSERT_TRUE(l.reset_requests.has_value());
  EXPECT_EQ(*l.reset_requests, std::chrono::milliseconds(86'400'000));
  ASSERT_TRUE(l.retry_after.has_value());
  EXPECT_EQ(*l.retry_after, std::chrono::milliseconds(86'400'000));
  auto ms = parse_rate_headers({{"retry-after-ms", "9223372036854775807"}}, 0);
  EXPECT_EQ(*ms.retry_after, std::chrono::milliseconds(86'400'000));
}

TEST(RateHeadersTest, ParsesTimestamps) {
  EXPECT_EQ(parse_rfc3339_ms("1970-01-01T00:00:01Z"), 1000);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-28T07:00:05.250Z"), 1795849205250);
  EXPECT_EQ(parse_rfc3339_ms("2026-11-28T08:00:05+01:00"), 1795849205000);
  EXPECT_EQ(parse_http_date_ms("Wed, 21 Oct 2015 07:28:00 GMT"), 1445412480000);
  EXPECT_FALSE(parse_rfc3339_ms("yesterday").has_value());
}

TEST(RateHeadersTest, ReadsOpenAIHeaders) {
  Headers h = {{"x-ratelimit-limit-requests", "10000"},  {"x-ratelimit-remaining-requests", "9999"},
               {"x-ratelimit-reset-requests", "6ms"},    {"X-RateLimit-Limit-Tokens", "2000000"},
               {"x-ratelimit-remaining-tokens", "1999000"}, {"x-ratelimit-reset-tokens", "1m30s"}};
  auto l = parse_rate_headers(h, 0);
  EXPECT_EQ(l.limit_requests, 10000);
  EXPECT_EQ(l.remaining_requests, 9999);
  EXPECT_EQ(l.reset_requests, milliseconds(6));
  EXPECT_EQ(l.limit_tokens, 2000000);
  EXPECT_EQ(l.remaining_tokens, 1999000);
  EXPECT_EQ(l.reset_tokens, milliseconds(90'000));
}

TEST(RateHeadersTest, ReadsAnthropicHeadersWithTheTighterTokenLimit) {
  std::int64_t now = 1795849200000;  // 2026-11-28T07:00:00Z
  Headers h = {{"anthropic-ratelimit-requests-limit", "50"},
               {"anthropic-ratelimit-requests-remaining", "49"},
               {"anthropic-ratelimit-requests-reset", "2026-11-28T07:00:05Z"},
               {"anthropic-ratelimit-input-tokens-remaining", "30000"},
               {"anthropic-ratelimit-output-tokens-remaining", "8000"},
               {"anthropic-ratelimit-tokens-reset", "2026-11-28T07:00:02Z"}};
  auto l = parse_rate_headers(h, now);
  EXPECT_EQ(l.limit_requests, 50);
  EXPECT_EQ(l.remaining_requests, 49);
  EXPECT_EQ(l.reset_requests, milliseconds(5000));
  EXPECT_EQ(l.remaining_tokens, 8000);
  EXPECT_EQ(l.reset_tokens, milliseconds(2000));
}

TEST(RateHeadersTest, RetryAfterMsWinsOverSeconds) {
  EXPECT_EQ(parse_rate_headers({{"retry-after", "3"}, {"retry-after-ms", "1250"}}, 0).retry_after, milliseconds(1250));
  EXPECT_EQ(parse_rate_headers({{"retry-after", "3"}}, 0).retry_after, milliseconds(3000));
  EXPECT_EQ(parse_rate_headers({{"retry-after", "Wed, 21 Oct 2015 07:28:10 GMT"}}, 1445412480000).retry_after,
            milliseconds(10'000));
  EXPECT_FALSE(parse_rate_headers({{"content-type", "x"}}, 0).any());
}

}  // namespace
}  // namespace sy::limits

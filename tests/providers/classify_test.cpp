// The shared error classification, on OpenAI and OpenAI-compatible servers' error bodies (the
// provider-specific shapes are covered by each format's errors.json).
#include "providers/golden.hpp"

namespace sy::providers {
namespace {

TEST(ClassifyTest, ClassifiesOpenAICompatibleErrorsAsGoldenFilesSay) {
  golden::run_error_cases(*wire_format_for("openai"), golden::testdata("openai/errors.json"));
}

TEST(ClassifyTest, KeepsTheUpstreamStatusAndMessage) {
  Error e = classify_http_error(418, {}, R"({"error":{"message":"I'm a teapot","code":"teapot"}})");
  EXPECT_EQ(e.kind, ErrorKind::upstream_bad_request);
  EXPECT_EQ(e.upstream_status, 418);
  EXPECT_EQ(e.message, "I'm a teapot");
  EXPECT_EQ(e.code, "teapot");
  EXPECT_EQ(http_status(e), 418);
}

TEST(ClassifyTest, AbsurdRetryDelaysAreBoundedNotUndefined) {
  // Found by fuzzing: 9e18 seconds (and 1e300 ms) were cast to int64 after scaling.
  for (Headers h : {Headers{{"retry-after", "9e18"}}, Headers{{"retry-after-ms", "1e300"}}}) {
    Error e = classify_http_error(429, h, "{}");
    ASSERT_TRUE(e.retry_after.has_value());
    EXPECT_EQ(*e.retry_after, std::chrono::milliseconds(86'400'000));
  }
  Error g = classify_http_error(429, {}, R"({"error":{"message":"x","details":[{"retryDelay":"1e300s"}]}})");
  ASSERT_TRUE(g.retry_after.has_value());
  EXPECT_EQ(*g.retry_after, std::chrono::milliseconds(86'400'000));
}

TEST(ClassifyTest, UsageCountsFromAnUpstreamAreClamped) {
  Usage u;
  ASSERT_TRUE(parse_openai_usage(R"({"prompt_tokens":1e20,"completion_tokens":-5,"prompt_tokens_details":{"cached_tokens":99}})", u));
  EXPECT_EQ(u.prompt_tokens, 0);  // not an int64: unknown
  EXPECT_EQ(u.completion_tokens, 0);
  EXPECT_EQ(u.cached_tokens, 0);  // never more than the prompt
  ASSERT_TRUE(parse_openai_usage(R"({"prompt_tokens":9000000000000000000,"completion_tokens":3})", u));
  EXPECT_EQ(u.prompt_tokens, kMaxTokenCount);
}

TEST(ClassifyTest, EveryProviderTypeIsRegistered) {
  for (const char* type : {"openai", "mock", "azure", "anthropic", "bedrock", "gemini"}) {
    EXPECT_NE(wire_format_for(type), nullptr) << type;
  }
  EXPECT_EQ(wire_format_for("cohere"), nullptr);
}

}  // namespace
}  // namespace sy::providers

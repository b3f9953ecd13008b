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

TEST(ClassifyTest, EveryProviderTypeIsRegistered) {
  for (const char* type : {"openai", "mock", "azure", "anthropic", "bedrock", "gemini"}) {
    EXPECT_NE(wire_format_for(type), nullptr) << type;
  }
  EXPECT_EQ(wire_format_for("cohere"), nullptr);
}

}  // namespace
}  // namespace sy::providers

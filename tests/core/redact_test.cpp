#include "switchyard/core/redact.hpp"

#include <gtest/gtest.h>

#include "switchyard/core/error.hpp"

namespace sy {
namespace {

TEST(RedactorTest, MasksConfiguredSecretsWhereverTheyAppear) {
  Redactor r({"s3cr3t-upstream-key", "short", "hdr-value-123456"});
  EXPECT_EQ(r.apply("Incorrect API key provided: s3cr3t-upstream-key."), "Incorrect API key provided: [REDACTED].");
  EXPECT_EQ(r.apply(R"({"headers":{"x-api-key":"s3cr3t-upstream-key","x-extra":"hdr-value-123456"}})"),
            R"({"headers":{"x-api-key":"[REDACTED]","x-extra":"[REDACTED]"}})");
  // Secrets shorter than kMinSecret would mask ordinary words: they are not matched as text.
  EXPECT_EQ(r.apply("a short answer"), "a short answer");
  EXPECT_FALSE(r.matches("nothing to see"));
}

TEST(RedactorTest, MasksWellKnownKeyShapesEvenWhenNotConfigured) {
  Redactor r({});
  EXPECT_EQ(r.apply("Incorrect API key provided: sk-proj-abcdefghijklmnop1234. You can find"),
            "Incorrect API key provided: [REDACTED]. You can find");
  EXPECT_EQ(r.apply("key sk-ant-api03-AAAAAAAAAAAAAAAAAAAAAAAA!"), "key [REDACTED]!");
  EXPECT_EQ(r.apply("Authorization: Bearer abcdef0123456789.xyz"), "Authorization: Bearer [REDACTED]");
  EXPECT_EQ(r.apply("id AKIAIOSFODNN7EXAMPLE used"), "id [REDACTED] used");
  EXPECT_EQ(r.apply("google AIzaSyA-1234567890abcdefghijklmnopqrstu"), "google [REDACTED]");
  // Not keys: too short, or inside a word.
  EXPECT_EQ(r.apply("task-force risk-free sk-short Bearer x"), "task-force risk-free sk-short Bearer x");
}

TEST(RedactorTest, ErrorBodiesLeaveThroughTheInstalledRedactor) {
  Redactor::install(std::make_shared<const Redactor>(std::vector<std::string>{"my-upstream-secret"}));
  Error e = Error::make(ErrorKind::auth, "upstream said: bad key my-upstream-secret");
  std::string body = to_openai_json(e);
  EXPECT_EQ(body.find("my-upstream-secret"), std::string::npos) << body;
  EXPECT_NE(body.find("[REDACTED]"), std::string::npos) << body;
  Redactor::install(std::make_shared<const Redactor>(std::vector<std::string>{}));
}

}  // namespace
}  // namespace sy

#include "switchyard/core/request.hpp"

#include <gtest/gtest.h>

namespace sy {
namespace {

TEST(RequestTest, ParsesChatRequestFields) {
  auto r = Request::parse(Endpoint::chat, R"({"model":"auto","messages":[{"role":"system","content":"be brief"},
    {"role":"user","content":[{"type":"text","text":"hello"},{"type":"image_url","image_url":{"url":"x"}}]}],
    "stream":true,"stream_options":{"include_usage":true},"max_tokens":64,"tools":[{"type":"function"}],
    "response_format":{"type":"json_object"},"switchyard":{"router":"x"}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Request& q = **r;
  EXPECT_EQ(q.model(), "auto");
  EXPECT_TRUE(q.stream());
  EXPECT_TRUE(q.client_wants_usage());
  EXPECT_EQ(q.max_tokens(), std::optional<std::int64_t>(64));
  EXPECT_TRUE(q.has_tools());
  EXPECT_EQ(q.response_format(), "json_object");
  EXPECT_EQ(q.last_user_text(), "hello");
  EXPECT_TRUE(q.has_images());
  EXPECT_EQ(q.messages().size(), 2u);
  EXPECT_EQ(q.all_text(), "be brief\nhello");
}

TEST(RequestTest, AHugeMaxTokensIsCountedBoundedAndForwardedAsSent) {
  // Regression: an int64-max max_tokens once overflowed the token reservation (prompt + max_tokens),
  // turning it negative: a deployment's tpm window and learned headroom were corrupted for a minute.
  const std::string body =
      R"({"model":"m","max_tokens":9223372036854775807,"messages":[{"role":"user","content":"hi"}]})";
  auto r = Request::parse(Endpoint::chat, body);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->max_tokens(), std::optional<std::int64_t>(kMaxTokensCounted));
  EXPECT_NE((*r)->forward_body("up").str().find("9223372036854775807"), std::string::npos);
}

TEST(RequestTest, ForwardBodyRewritesModelAndStripsExtension) {
  auto r = Request::parse(Endpoint::chat, R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"switchyard":{"router":"x"},"unknown_field":[1,2]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->forward_body("gpt-4o-mini").str(),
            R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"unknown_field":[1,2]})");
}

TEST(RequestTest, NamesTheMissingOrIllTypedField) {
  auto missing_model = Request::parse(Endpoint::chat, R"({"messages":[]})");
  ASSERT_FALSE(missing_model.ok());
  EXPECT_EQ(missing_model.error().param, "model");
  auto bad_model = Request::parse(Endpoint::chat, R"({"model":5,"messages":[]})");
  ASSERT_FALSE(bad_model.ok());
  EXPECT_EQ(bad_model.error().param, "model");
  auto missing_messages = Request::parse(Endpoint::chat, R"({"model":"x"})");
  ASSERT_FALSE(missing_messages.ok());
  EXPECT_EQ(missing_messages.error().param, "messages");
  auto bad_messages = Request::parse(Endpoint::chat, R"({"model":"x","messages":"hi"})");
  ASSERT_FALSE(bad_messages.ok());
  EXPECT_EQ(bad_messages.error().param, "messages");
  auto bad_stream = Request::parse(Endpoint::chat, R"({"model":"x","messages":[{"role":"user","content":"a"}],"stream":"yes"})");
  ASSERT_FALSE(bad_stream.ok());
  EXPECT_EQ(bad_stream.error().param, "stream");
  auto bad_input = Request::parse(Endpoint::embeddings, R"({"model":"x","input":3})");
  ASSERT_FALSE(bad_input.ok());
  EXPECT_EQ(bad_input.error().param, "input");
}

TEST(RequestTest, CompletionsPromptBecomesOneUserMessage) {
  auto r = Request::parse(Endpoint::completions, R"({"model":"m","prompt":"Say this is a test"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->last_user_text(), "Say this is a test");
}

}  // namespace
}  // namespace sy

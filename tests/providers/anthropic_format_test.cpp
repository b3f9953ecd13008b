#include "providers/anthropic/anthropic_format.hpp"

#include "providers/anthropic/anthropic_mapping.hpp"
#include "providers/golden.hpp"

namespace sy::providers {
namespace {

using golden::Json;

const WireFormat& format() { return *wire_format_for("anthropic"); }

TEST(AnthropicFormatTest, EncodesRequestsAsGoldenFilesSay) {
  golden::run_encode_cases(format(), "anthropic", "https://api.anthropic.com", golden::testdata("anthropic/requests"));
}

TEST(AnthropicFormatTest, DecodesResponsesAsGoldenFilesSay) {
  golden::run_response_cases(format(), golden::testdata("anthropic/responses"));
}

TEST(AnthropicFormatTest, DecodesStreamsAsGoldenFilesSay) {
  golden::run_stream_cases(format(), golden::testdata("anthropic/streams"), ".sse", [](std::string s) { return s; });
}

TEST(AnthropicFormatTest, ClassifiesErrorsAsGoldenFilesSay) {
  golden::run_error_cases(format(), golden::testdata("anthropic/errors.json"));
}

TEST(AnthropicFormatTest, RegisteredUnderItsType) {
  EXPECT_NE(dynamic_cast<const AnthropicFormat*>(wire_format_for(AnthropicFormat::kType)), nullptr);
}

TEST(AnthropicFormatTest, ErrorEventAfterFramesIsReportedOnTheNextCall) {
  auto request = golden::chat_request(Json{{"model", "m"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  auto decoder = format().stream_decoder(*request);
  std::string out;
  std::string events =
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude\",\"usage\":{\"input_tokens\":3}}}\n\n"
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
      "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
  ASSERT_TRUE(decoder->feed(events, out).ok());
  EXPECT_NE(out.find("\"content\":\"Hi\""), std::string::npos);
  EXPECT_EQ(decoder->events(), 2u);  // role, then the text
  std::string more;
  auto st = decoder->feed("", more);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::rate_limited);
  EXPECT_NE(st.error().message.find("Overloaded"), std::string::npos);
  EXPECT_TRUE(more.empty());
}

TEST(AnthropicFormatTest, ErrorEventBeforeAnyFrameFailsTheFeedAtOnce) {
  auto request = golden::chat_request(Json{{"model", "m"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  auto decoder = format().stream_decoder(*request);
  std::string out;
  auto st = decoder->feed(
      "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"c\"}}\n\n"
      "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"boom\"}}\n\n",
      out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::server_error);
  EXPECT_EQ(decoder->events(), 0u);  // nothing committed: the dispatcher may still fail over
}

TEST(AnthropicFormatTest, StreamCutBeforeMessageStopIsAnError) {
  auto request = golden::chat_request(Json{{"model", "m"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  auto decoder = format().stream_decoder(*request);
  std::string out;
  ASSERT_TRUE(decoder->feed("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n", out).ok());
  auto st = decoder->finish(out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::connection);
}

TEST(AnthropicMappingTest, StopReasonsRoundTripThroughOneTable) {
  EXPECT_EQ(anthropic::openai_finish_reason("end_turn"), "stop");
  EXPECT_EQ(anthropic::openai_finish_reason("stop_sequence"), "stop");
  EXPECT_EQ(anthropic::openai_finish_reason("max_tokens"), "length");
  EXPECT_EQ(anthropic::openai_finish_reason("tool_use"), "tool_calls");
  EXPECT_EQ(anthropic::openai_finish_reason("refusal"), "content_filter");
  EXPECT_EQ(anthropic::anthropic_stop_reason("stop"), "end_turn");
  EXPECT_EQ(anthropic::anthropic_stop_reason("length"), "max_tokens");
  EXPECT_EQ(anthropic::anthropic_stop_reason("tool_calls"), "tool_use");
  EXPECT_EQ(anthropic::anthropic_stop_reason("function_call"), "tool_use");
  EXPECT_EQ(anthropic::anthropic_stop_reason("content_filter"), "refusal");
  EXPECT_EQ(anthropic::error_type_for_status(529), "overloaded_error");
  EXPECT_EQ(anthropic::error_type_for_status(502), "api_error");
  EXPECT_EQ(anthropic::error_type_for_status(422), "invalid_request_error");
  EXPECT_EQ(anthropic::status_for_error_type("rate_limit_error"), 429);
}

}  // namespace
}  // namespace sy::providers

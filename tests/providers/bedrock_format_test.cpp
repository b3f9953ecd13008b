#include "providers/bedrock/bedrock_format.hpp"

#include <cstdlib>

#include "providers/bedrock/event_stream.hpp"
#include "providers/golden.hpp"

namespace sy::providers {
namespace {

using golden::Json;

const WireFormat& format() { return *wire_format_for("bedrock"); }

// 2024-05-01T12:00:00Z: the signatures in the golden files are for this instant and these keys.
const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1714564800));

class BedrockFormatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", 1);
    ::setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", 1);
    ::unsetenv("AWS_SESSION_TOKEN");
  }
  void TearDown() override {
    ::unsetenv("AWS_ACCESS_KEY_ID");
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
    ::unsetenv("AWS_SESSION_TOKEN");
  }
};

// A stream case is a JSON list of {"headers": {...}, "payload": <JSON or string>} messages, encoded
// here into binary event-stream frames with freshly computed CRCs.
std::string encode_events(const std::string& text) {
  std::string bytes;
  for (const auto& m : Json::parse(text)) {
    eventstream::Message msg;
    for (auto& [k, v] : m["headers"].items()) msg.headers.emplace_back(k, v.get<std::string>());
    msg.payload = m["payload"].is_string() ? m["payload"].get<std::string>() : m["payload"].dump();
    bytes += eventstream::encode(msg);
  }
  return bytes;
}

TEST_F(BedrockFormatTest, EncodesAndSignsRequestsAsGoldenFilesSay) {
  golden::run_encode_cases(format(), "bedrock", "https://bedrock-runtime.us-east-1.amazonaws.com",
                           golden::testdata("bedrock/requests"), kNow);
}

TEST_F(BedrockFormatTest, SendsTheSessionTokenAndSignsIt) {
  ::setenv("AWS_SESSION_TOKEN", "FQoGZXIvYXdzEXAMPLE", 1);
  config::ProviderConfig p = golden::provider_from("bedrock", Json{{"options", {{"region", "eu-west-1"}}}},
                                                  "https://bedrock-runtime.eu-west-1.amazonaws.com");
  config::DeploymentConfig dep;
  dep.upstream_model = "amazon.nova-lite-v1:0";
  auto request = golden::chat_request(Json{{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  auto up = format().encode(*request, EncodeOptions{p, dep, true, kNow});
  ASSERT_TRUE(up.ok());
  EXPECT_EQ(find_header(up->headers, "x-amz-security-token"), "FQoGZXIvYXdzEXAMPLE");
  EXPECT_NE(find_header(up->headers, "authorization").find("SignedHeaders=content-type;host;x-amz-date;x-amz-security-token,"),
            std::string_view::npos);
  EXPECT_NE(find_header(up->headers, "authorization").find("/20240501/eu-west-1/bedrock/aws4_request"), std::string_view::npos);
}

TEST_F(BedrockFormatTest, MissingCredentialsAreAnAuthError) {
  ::unsetenv("AWS_ACCESS_KEY_ID");
  config::ProviderConfig p = golden::provider_from("bedrock", Json(), "https://bedrock-runtime.us-east-1.amazonaws.com");
  config::DeploymentConfig dep;
  dep.upstream_model = "amazon.nova-lite-v1:0";
  auto request = golden::chat_request(Json{{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}});
  auto up = format().encode(*request, EncodeOptions{p, dep, true, kNow});
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.error().kind, ErrorKind::auth);
  EXPECT_NE(up.error().message.find("AWS_ACCESS_KEY_ID"), std::string::npos);
}

TEST_F(BedrockFormatTest, DecodesResponsesAsGoldenFilesSay) {
  golden::run_response_cases(format(), golden::testdata("bedrock/responses"), true);
}

TEST_F(BedrockFormatTest, DecodesEventStreamsAsGoldenFilesSay) {
  golden::run_stream_cases(format(), golden::testdata("bedrock/streams"), ".events.json", encode_events, true);
}

TEST_F(BedrockFormatTest, ACorruptFrameFailsTheStream) {
  std::string bytes = eventstream::encode(eventstream::Message{
      {{":event-type", "contentBlockDelta"}, {":message-type", "event"}}, R"({"contentBlockIndex":0,"delta":{"text":"x"}})"});
  bytes[14] ^= 1;
  auto request = golden::chat_request(Json{{"model", "m"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "x"}}}}});
  auto decoder = format().stream_decoder(*request);
  std::string out;
  auto st = decoder->feed(bytes, out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::connection);
}

TEST_F(BedrockFormatTest, ClassifiesErrorsAsGoldenFilesSay) {
  golden::run_error_cases(format(), golden::testdata("bedrock/errors.json"));
}

}  // namespace
}  // namespace sy::providers

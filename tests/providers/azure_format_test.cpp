#include "providers/azure/azure_format.hpp"

#include "providers/golden.hpp"

namespace sy::providers {
namespace {

using golden::Json;

const WireFormat& format() { return *wire_format_for("azure"); }

TEST(AzureFormatTest, EncodesRequestsAsGoldenFilesSay) {
  golden::run_encode_cases(format(), "azure", "https://contoso.openai.azure.com", golden::testdata("azure/requests"));
}

TEST(AzureFormatTest, DecodesResponsesAsGoldenFilesSay) {
  golden::run_response_cases(format(), golden::testdata("azure/responses"));
}

TEST(AzureFormatTest, DecodesStreamsAsGoldenFilesSay) {
  golden::run_stream_cases(format(), golden::testdata("azure/streams"), ".sse", [](std::string s) { return s; });
}

TEST(AzureFormatTest, ClassifiesErrorsAsGoldenFilesSay) {
  golden::run_error_cases(format(), golden::testdata("azure/errors.json"));
}

TEST(AzureFormatTest, StreamFilteredBeforeAnyContentCommitsNothing) {
  auto request = golden::chat_request(Json{{"model", "m"}, {"stream", true}, {"messages", {{{"role", "user"}, {"content", "x"}}}}});
  auto decoder = format().stream_decoder(*request);
  std::string out;
  ASSERT_TRUE(decoder->feed("data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n", out).ok());
  EXPECT_EQ(decoder->events(), 0u);  // held back: the dispatcher has not committed yet
  auto st = decoder->feed("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"content_filter\"}]}\n\n", out);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::content_filter);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace sy::providers

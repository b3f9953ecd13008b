#include "providers/gemini/gemini_format.hpp"

#include "providers/golden.hpp"

namespace sy::providers {
namespace {

const WireFormat& format() { return *wire_format_for("gemini"); }

TEST(GeminiFormatTest, EncodesRequestsAsGoldenFilesSay) {
  golden::run_encode_cases(format(), "gemini", "https://generativelanguage.googleapis.com/v1beta/openai",
                           golden::testdata("gemini/requests"));
}

TEST(GeminiFormatTest, DecodesStreamsAsGoldenFilesSay) {
  golden::run_stream_cases(format(), golden::testdata("gemini/streams"), ".sse", [](std::string s) { return s; });
}

TEST(GeminiFormatTest, ClassifiesErrorsAsGoldenFilesSay) {
  golden::run_error_cases(format(), golden::testdata("gemini/errors.json"));
}

}  // namespace
}  // namespace sy::providers

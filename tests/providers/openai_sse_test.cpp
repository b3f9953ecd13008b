// Golden tests of the OpenAI SSE pure functions (switchyard/providers/openai_sse.hpp):
//  - tests/testdata/openai/sse/replay/<case>.json {completion, include_usage} -> <case>.expect.sse, the
//    event stream a streaming client receives for an answer the cascade accepted;
//  - tests/testdata/openai/sse/strip/<case>.sse -> <case>.expect.sse, frames with the logprobs the cascade
//    asked for removed.
// SWITCHYARD_UPDATE_GOLDEN=1 rewrites the expectations from the output (review the diff).
#include <gtest/gtest.h>

#include "providers/golden.hpp"
#include "switchyard/providers/openai_sse.hpp"

namespace sy::providers {
namespace {

namespace golden = sy::providers::golden;

void expect_golden(const golden::fs::path& expect_file, const std::string& actual) {
  if (golden::updating()) {
    golden::write_file(expect_file, actual);
    return;
  }
  ASSERT_TRUE(golden::fs::exists(expect_file)) << expect_file;
  EXPECT_EQ(golden::read_file(expect_file), actual);
}

TEST(OpenAISseTest, ReplaysACompleteAnswerAsTheChunksAStreamWouldHaveSent) {
  auto files = golden::cases(golden::testdata("openai/sse/replay"), ".json");
  ASSERT_FALSE(files.empty());
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    auto c = nlohmann::json::parse(golden::read_file(file));
    const auto& completion = c["completion"];
    std::string sse = replay_as_sse(completion, completion["choices"][0], c["include_usage"].get<bool>());
    auto expect = file;
    expect.replace_extension(".expect.sse");
    expect_golden(expect, sse);
  }
}

TEST(OpenAISseTest, StripsLogprobsFromEveryChoiceAndKeepsOtherBytes) {
  auto files = golden::cases(golden::testdata("openai/sse/strip"), ".sse");
  std::erase_if(files, [](const auto& f) { return f.string().ends_with(".expect.sse"); });
  ASSERT_FALSE(files.empty());
  for (const auto& file : files) {
    SCOPED_TRACE(file.filename().string());
    const std::string input = golden::read_file(file);
    std::string out = input;
    strip_logprobs(out, 0);
    auto expect = file;
    expect.replace_extension(".expect.sse");
    expect_golden(expect, out);
    // Frame by frame gives the same bytes as the whole.
    std::string framed;
    for (std::size_t at = 0; at < input.size();) {
      std::size_t end = input.find("\n\n", at);
      end = end == std::string::npos ? input.size() : end + 2;
      framed += frame_without_logprobs(std::string_view(input).substr(at, end - at));
      at = end;
    }
    EXPECT_EQ(framed, out);
  }
}

TEST(OpenAISseTest, StripLeavesBytesBeforeTheOffsetAlone) {
  const std::string frame = R"(data: {"choices":[{"index":0,"delta":{"content":"x"},"logprobs":{"content":[]}}]})"
                            "\n\n";
  std::string out = frame + frame;
  strip_logprobs(out, frame.size());
  EXPECT_EQ(out, frame + R"(data: {"choices":[{"index":0,"delta":{"content":"x"},"logprobs":null}]})" "\n\n");
}

TEST(OpenAISseTest, StripLeavesFramesWithoutLogprobsUntouched) {
  std::string out = "data: {\"choices\":[{\"index\":0,\"delta\":{}}]}\n\ndata: [DONE]\n\n";
  const std::string before = out;
  strip_logprobs(out, 0);
  EXPECT_EQ(out, before);
  EXPECT_EQ(frame_without_logprobs("data: not json \"logprobs\"\n\n"), "data: not json \"logprobs\"\n\n");
}

}  // namespace
}  // namespace sy::providers

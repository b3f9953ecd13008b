// The cascade's logprob readers: a whole answer's logprobs, streamed chunks read frame by frame
// (PrefixScan, what stream_early judges), and the confidence metrics.
#include <gtest/gtest.h>

#include <cmath>

#include "pipeline/strategies/cascade/logprobs.hpp"

namespace sy::pipeline::cascade {
namespace {

std::string chunk(int index, const std::string& content, const std::string& logprobs) {
  return R"(data: {"choices":[{"index":)" + std::to_string(index) + R"(,"delta":{"content":")" + content +
         R"("},"logprobs":)" + logprobs + "}]}\n\n";
}

TEST(CascadeLogprobsTest, TokenLogprobTakesTheBestOtherAlternativeAsRunnerUp) {
  auto t = token_logprob(nlohmann::json::parse(
      R"({"token":"a","logprob":-0.1,"top_logprobs":[{"token":"a","logprob":-0.1},{"token":"b","logprob":-2},{"token":"c","logprob":-1}]})"));
  EXPECT_DOUBLE_EQ(t.logprob, -0.1);
  EXPECT_DOUBLE_EQ(t.runner_up, std::exp(-1.0));
  auto scanned = scan_token_logprob(
      R"({"token":"a","logprob":-0.1,"top_logprobs":[{"token":"a","logprob":-0.1},{"token":"b","logprob":-2},{"token":"c","logprob":-1}]})");
  ASSERT_TRUE(scanned);
  EXPECT_DOUBLE_EQ(scanned->logprob, t.logprob);
  EXPECT_DOUBLE_EQ(scanned->runner_up, t.runner_up);
  EXPECT_FALSE(scan_token_logprob("not json"));
}

TEST(CascadeLogprobsTest, PrefixScanCollectsChoiceZerosTokensInOrder) {
  PrefixScan scan;
  scan.feed(chunk(0, "He", R"({"content":[{"token":"He","logprob":-0.5}]})") +
            chunk(1, "other", R"({"content":[{"token":"x","logprob":-9}]})") +
            chunk(0, "llo", R"({"content":[{"token":"l","logprob":-0.25},{"token":"lo","logprob":-0.125}]})"));
  scan.feed("data: [DONE]\n\n");
  ASSERT_EQ(scan.tokens.size(), 3u);
  EXPECT_DOUBLE_EQ(scan.tokens[0].logprob, -0.5);
  EXPECT_DOUBLE_EQ(scan.tokens[2].logprob, -0.125);
  EXPECT_EQ(scan.content_chunks, 2u);
  EXPECT_FALSE(scan.missing_logprobs);
}

TEST(CascadeLogprobsTest, PrefixScanNoticesContentWithoutLogprobs) {
  PrefixScan scan;
  scan.feed(chunk(0, "", "null"));  // the role chunk: no content, nothing missing
  EXPECT_FALSE(scan.missing_logprobs);
  scan.feed(chunk(0, "Hi", "null"));
  EXPECT_TRUE(scan.missing_logprobs);
  EXPECT_EQ(scan.content_chunks, 1u);
}

TEST(CascadeLogprobsTest, ConfidenceMetricsOverALimitedPrefix) {
  std::vector<TokenLogprob> tokens{{std::log(0.8), 0.1}, {std::log(0.2), 0.5}, {std::log(0.01), 0}};
  EXPECT_NEAR(*logprob_confidence(tokens, LogprobMetric::mean, 2), std::sqrt(0.8 * 0.2), 1e-12);
  EXPECT_NEAR(*logprob_confidence(tokens, LogprobMetric::min, 2), 0.2, 1e-12);
  EXPECT_NEAR(*logprob_confidence(tokens, LogprobMetric::margin, 2), 0.2, 1e-12);  // ((0.8 - 0.1) + (0.2 - 0.5)) / 2
  EXPECT_NEAR(*logprob_confidence(tokens, LogprobMetric::min), 0.01, 1e-12);
  EXPECT_FALSE(logprob_confidence({}, LogprobMetric::mean));
}

}  // namespace
}  // namespace sy::pipeline::cascade

// The cascade stage's config validation: `stream_early` (a prefix judged by logprobs) is checked with the
// YAML path and line like every other key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pipeline/stage_fixture.hpp"

namespace sy::pipeline {
namespace {

using ::testing::HasSubstr;

struct CascadeStageConfigTest : testing::StageFixture {
  std::unique_ptr<Stage> build(const std::string& yaml) { return build_stage("cascade", yaml); }

  std::string all_errors() const {
    std::string out;
    for (const auto& e : d.errors()) out += e + "\n";
    return out;
  }
};

TEST_F(CascadeStageConfigTest, StreamEarlyWithALogprobVerifierBuilds) {
  auto s = build(R"(
type: cascade
steps: [{model: small, threshold: 0.6}, large]
verifiers: [{type: logprob}, {type: heuristics}]
stream_early: {tokens: 16}
)");
  EXPECT_TRUE(s) << all_errors();
}

TEST_F(CascadeStageConfigTest, StreamEarlyWithoutALogprobVerifierIsAnErrorAtItsLine) {
  auto s = build(R"(
type: cascade
steps: [small, large]
verifiers: [{type: heuristics}]
stream_early: {tokens: 16}
)");
  EXPECT_FALSE(s);
  ASSERT_EQ(d.errors().size(), 1u) << all_errors();
  EXPECT_THAT(d.errors()[0], HasSubstr(":5:"));
  EXPECT_THAT(d.errors()[0], HasSubstr("stream_early"));
  EXPECT_THAT(d.errors()[0], HasSubstr("add a {type: logprob} verifier"));
}

TEST_F(CascadeStageConfigTest, StreamEarlyRejectsBadTokensAndUnknownKeys) {
  EXPECT_FALSE(build("steps: [small, large]\nverifiers: [{type: logprob}]\nstream_early: {tokens: 0}\n"));
  EXPECT_THAT(all_errors(), HasSubstr("stream_early.tokens"));
  d = {};
  EXPECT_FALSE(build("steps: [small, large]\nverifiers: [{type: logprob}]\nstream_early: {tokens: 16, tokns: 3}\n"));
  EXPECT_THAT(all_errors(), HasSubstr("tokns"));
  d = {};
  EXPECT_FALSE(build("steps: [small, large]\nverifiers: [{type: logprob}]\nstream_early: {}\n"));
  EXPECT_THAT(all_errors(), HasSubstr("stream_early.tokens"));
  d = {};
  EXPECT_FALSE(build("steps: [small, large]\nverifiers: [{type: logprob}]\nstream_early: 16\n"));
  EXPECT_THAT(all_errors(), HasSubstr("expected a map such as {tokens: 16}"));
}

TEST_F(CascadeStageConfigTest, StreamEarlyIsAVerifyModeOption) {
  EXPECT_FALSE(build("mode: review\ndraft: small\nreviewer: small\nrewriter: large\nstream_early: {tokens: 8}\n"));
  EXPECT_THAT(all_errors(), HasSubstr("stream_early applies to verify mode only"));
}

}  // namespace
}  // namespace sy::pipeline

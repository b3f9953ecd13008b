// The cascade stage's config validation: `stream_early` (a prefix judged by logprobs) is checked with the
// YAML path and line like every other key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "switchyard/config/config.hpp"
#include "switchyard/pipeline/stage.hpp"

namespace sy::pipeline {
namespace {

using ::testing::HasSubstr;

struct CascadeStageConfigTest : ::testing::Test {
  config::Diagnostics d;
  std::shared_ptr<const config::Config> cfg;

  CascadeStageConfigTest() {
    cfg = config::load_config_text("providers: [{name: mock, type: mock}]\nmodels: [{name: small, provider: mock}, {name: large, provider: mock}]\n",
                                   "t.yaml", d);
  }

  std::unique_ptr<Stage> build(const std::string& yaml) {
    config::Diagnostics pd;
    config::Node n = config::parse_yaml(yaml, pd);
    BuildContext ctx{*cfg, nullptr, nullptr, nullptr, "", nullptr};
    ctx.resolve_target = [this](std::string_view t) { return cfg->find_model(t) ? std::string(t) : std::string(); };
    return (*stage_factory("cascade"))(n, ctx, d);
  }

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

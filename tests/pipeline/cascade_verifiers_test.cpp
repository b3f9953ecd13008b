// The cascade's verifiers, one at a time: each built by its registered factory from YAML, judging answers
// given as chat.completion bodies; the self-verify judge answers through a fake model caller.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "pipeline/fake_model_caller.hpp"
#include "pipeline/stage_fixture.hpp"
#include "pipeline/strategies/cascade/verifier.hpp"

namespace sy::pipeline::cascade {
namespace {

using ::testing::HasSubstr;
using pipeline::testing::completion;
using pipeline::testing::FakeModelCaller;
using pipeline::testing::logprobs;
using pipeline::testing::run;
using Json = nlohmann::json;

struct VerifierTest : pipeline::testing::StageFixture {
  FakeModelCaller models;
  Spend spent;
  std::unique_ptr<Request> request = chat(R"("What is 2+2?")");

  static std::unique_ptr<Request> chat(const std::string& content, const std::string& extra = "") {
    auto r = Request::parse(Endpoint::chat,
                            R"({"model":"auto","messages":[{"role":"user","content":)" + content + "}]" + extra + "}");
    EXPECT_TRUE(r.ok());
    return std::move(*r);
  }

  std::unique_ptr<Verifier> build(const std::string& yaml) {
    config::Diagnostics pd;
    config::Node n = config::parse_yaml(yaml, pd);
    BuildContext ctx{*cfg, nullptr, nullptr, nullptr, "", nullptr};
    ctx.resolve_target = [this](std::string_view t) { return cfg->find_model(t) ? std::string(t) : std::string(); };
    const VerifierFactory* factory = verifier_factory(n.get("type")->scalar());
    if (!factory) return nullptr;
    return (*factory)(n, ctx, d);
  }

  Judgement judge(const Verifier& v, const std::string& body, std::size_t chosen = 0, const Request* req = nullptr) {
    const Json answer = Json::parse(body);
    const std::string model = "small";
    VerifierContext vctx{models, spent};
    return run(v.judge(Candidate{req ? *req : *request, model, answer["choices"], chosen}, vctx));
  }
};

TEST_F(VerifierTest, RegistryListsEveryTypeInOrder) {
  EXPECT_EQ(verifier_types(), "logprob, heuristics, self_verify, agreement, scorer");
  EXPECT_EQ(verifier_factory("nope"), nullptr);
}

TEST_F(VerifierTest, LogprobMeanIsTheGeometricMeanTokenProbability) {
  auto v = build("type: logprob");
  ASSERT_TRUE(v);
  EXPECT_TRUE(v->wants_logprobs());
  EXPECT_TRUE(v->judges_prefix());
  Judgement j = judge(*v, completion({"4"}, logprobs(4, std::log(0.9))));
  ASSERT_TRUE(j.score);
  EXPECT_NEAR(*j.score, 0.9, 1e-6);
}

TEST_F(VerifierTest, LogprobMinTakesTheLeastSureToken) {
  auto v = build("type: logprob\nmetric: min");
  ASSERT_TRUE(v);
  std::string lp = R"({"content":[{"token":"a","logprob":-0.01},{"token":"b","logprob":-2.0}]})";
  EXPECT_NEAR(*judge(*v, completion({"ab"}, lp)).score, std::exp(-2.0), 1e-9);
}

TEST_F(VerifierTest, LogprobMarginSubtractsTheRunnerUp) {
  auto v = build("type: logprob\nmetric: margin");
  ASSERT_TRUE(v);
  std::string lp = R"({"content":[{"token":"a","logprob":-0.1,"top_logprobs":[{"token":"a","logprob":-0.1},{"token":"b","logprob":-3}]}]})";
  EXPECT_NEAR(*judge(*v, completion({"a"}, lp)).score, std::exp(-0.1) - std::exp(-3.0), 1e-9);
}

TEST_F(VerifierTest, LogprobCannotJudgeWithoutLogprobs) {
  auto v = build("type: logprob");
  EXPECT_FALSE(judge(*v, completion({"4"})).score);
}

TEST_F(VerifierTest, LogprobJudgesAPrefixOnItsFirstTokens) {
  auto v = build("type: logprob");
  std::vector<TokenLogprob> tokens{{std::log(0.5), 0}, {std::log(0.5), 0}, {-100, 0}};
  EXPECT_NEAR(*v->judge_prefix(tokens, 2), 0.5, 1e-9);
  EXPECT_FALSE(v->judge_prefix({}, 2));
}

TEST_F(VerifierTest, LogprobRejectsAnUnknownMetricAtItsLine) {
  EXPECT_FALSE(build("type: logprob\nmetric: median"));
  ASSERT_EQ(d.errors().size(), 1u);
  EXPECT_THAT(d.errors()[0], HasSubstr("expected mean, min or margin"));
}

TEST_F(VerifierTest, HeuristicsScoreACleanAnswerOneAndARefusalLow) {
  auto v = build("type: heuristics");
  ASSERT_TRUE(v);
  EXPECT_DOUBLE_EQ(*judge(*v, completion({"2 + 2 = 4"})).score, 1.0);
  EXPECT_LT(*judge(*v, completion({"I'm sorry, but I can't help with that."})).score, 0.5);
  EXPECT_LT(*judge(*v, completion({"2 + 2 = 4"}, "null", "length")).score, 0.5);  // truncated
}

TEST_F(VerifierTest, HeuristicsExpectAFinalAnswerWhenConfigured) {
  auto plain = build("type: heuristics");
  auto strict = build("type: heuristics\nfinal_answer: true");
  const std::string answer = completion({"Let me think about it."});
  EXPECT_GT(*judge(*plain, answer).score, *judge(*strict, answer).score);
}

TEST_F(VerifierTest, HeuristicsCheckToolCallArgumentsAgainstTheToolSchema) {
  auto v = build("type: heuristics");
  auto req = chat(R"("weather?")",
                  R"(,"tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}])");
  auto body = [](const std::string& args) {
    // (With content: an empty one alone scores 0, whatever the tool calls.)
    Json c = Json::parse(completion({"Looking it up."}));
    c["choices"][0]["message"]["tool_calls"] =
        Json::array({{{"id", "call_1"}, {"type", "function"}, {"function", {{"name", "weather"}, {"arguments", args}}}}});
    return c.dump();
  };
  EXPECT_DOUBLE_EQ(*judge(*v, body(R"({"city":"Oslo"})"), 0, req.get()).score, 1.0);
  EXPECT_LT(*judge(*v, body(R"({"town":"Oslo"})"), 0, req.get()).score, 0.5);
}

TEST_F(VerifierTest, SelfVerifyAsksTheStepModelAndReadsPYesFromTheFirstToken) {
  auto v = build("type: self_verify");
  ASSERT_TRUE(v);
  models.answers["small"] = {completion(
      {"yes"}, R"({"content":[{"token":"yes","logprob":-0.1,"top_logprobs":[{"token":" Yes","logprob":-0.2231435513},{"token":"No","logprob":-1.6094379124}]}]})")};
  Judgement j = judge(*v, completion({"4"}));
  ASSERT_TRUE(j.score);
  EXPECT_NEAR(*j.score, 0.8, 1e-6);
  ASSERT_EQ(models.sent_to("small").size(), 1u);
  Json sent = Json::parse(models.sent_to("small")[0]);
  EXPECT_EQ(sent["max_tokens"], 1);
  EXPECT_THAT(sent["messages"][1]["content"].get<std::string>(), HasSubstr("Question:\nWhat is 2+2?"));
  EXPECT_THAT(sent["messages"][1]["content"].get<std::string>(), HasSubstr("Proposed answer:\n4"));
}

TEST_F(VerifierTest, SelfVerifyFallsBackToTheVerdictAndAsksTheNamedJudge) {
  auto v = build("type: self_verify\njudge: large");
  ASSERT_TRUE(v);
  models.answers["large"] = {completion({"Yes."})};
  EXPECT_DOUBLE_EQ(*judge(*v, completion({"4"})).score, 1.0);
  EXPECT_TRUE(models.sent_to("small").empty());
}

TEST_F(VerifierTest, SelfVerifyCannotJudgeWhenTheJudgeIsDown) {
  auto v = build("type: self_verify");
  EXPECT_FALSE(judge(*v, completion({"4"})).score);
  EXPECT_FALSE(build("type: self_verify\njudge: nobody"));
  EXPECT_THAT(d.errors().at(0), HasSubstr("unknown model or tier \"nobody\""));
}

TEST_F(VerifierTest, AgreementScoresTheMajorityShareAndPicksItsFirstSample) {
  auto v = build("type: agreement\nsamples: 3");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->samples(), 3);
  Judgement j = judge(*v, completion({"The answer is 4", "The answer is 5", "so 5 it is. The answer is 5"}));
  ASSERT_TRUE(j.score);
  EXPECT_NEAR(*j.score, 2.0 / 3.0, 1e-9);
  ASSERT_TRUE(j.choose);
  EXPECT_EQ(*j.choose, 1u);
}

TEST_F(VerifierTest, AgreementNeedsTwoSamplesAndValidPatterns) {
  auto v = build("type: agreement");
  EXPECT_FALSE(judge(*v, completion({"The answer is 4"})).score);
  EXPECT_FALSE(build("type: agreement\nextract: ['(unclosed']"));
  EXPECT_FALSE(d.errors().empty());
}

TEST_F(VerifierTest, ScorerNeedsATrainedModelFile) {
  EXPECT_FALSE(build("type: scorer\nmodel_file: /nonexistent/scorer.bin"));
  ASSERT_FALSE(d.errors().empty());
  EXPECT_THAT(d.errors()[0], HasSubstr("switchyard train --answer-scorer"));
}

}  // namespace
}  // namespace sy::pipeline::cascade

// The cascade strategies (verify and review) driven directly, their models answering through a fake
// model caller: which answer the client gets, the path header, the escalations, what was asked of which
// model. No dispatcher, no sockets.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "pipeline/fake_model_caller.hpp"
#include "pipeline/stage_fixture.hpp"

namespace sy::pipeline {
namespace {

using ::testing::HasSubstr;
using testing::completion;
using testing::FakeModelCaller;
using testing::logprobs;
using testing::run;
using Json = nlohmann::json;

struct CascadeStrategyTest : testing::StageFixture {
  FakeModelCaller models;

  std::unique_ptr<Stage> build(const std::string& yaml) {
    auto s = build_stage("cascade", yaml);
    EXPECT_TRUE(s) << (d.errors().empty() ? "" : d.errors()[0]);
    return s;
  }

  Decision decide(const Stage& stage, const std::string& extra = "") {
    auto req = Request::parse(Endpoint::chat,
                              R"({"model":"auto","messages":[{"role":"user","content":"What is 2+2?"}])" + extra + "}");
    EXPECT_TRUE(req.ok());
    request = std::move(*req);
    features.emplace(*request, Caller{}, RequestControls{}, nullptr, nullptr);
    StageContext ctx{*features, &models};
    return run(stage.decide(ctx));
  }

  std::unique_ptr<Request> request;
  std::optional<RequestFeatures> features;
};

constexpr const char* kVerify = R"(
steps: [{model: small, threshold: 0.7}, large]
verifiers: [{type: logprob}]
)";

TEST_F(CascadeStrategyTest, StrategiesCallModelsAndNeedACaller) {
  auto s = build(kVerify);
  EXPECT_TRUE(s->calls_models());
  RequestFeatures f(*Request::parse(Endpoint::chat, R"({"model":"a","messages":[{"role":"user","content":"x"}]})").value(),
                    {}, {}, nullptr, nullptr);
  StageContext ctx{f};
  EXPECT_EQ(run(s->decide(ctx)).kind, Decision::Kind::reject);
}

TEST_F(CascadeStrategyTest, VerifyAnswersWithAConfidentCheapStep) {
  auto s = build(kVerify);
  models.answers["small"] = {completion({"4"}, logprobs(3, std::log(0.9)))};
  Decision d = decide(*s);
  ASSERT_EQ(d.kind, Decision::Kind::respond);
  EXPECT_EQ(d.target, "small");
  EXPECT_EQ(d.reason, "cascade:small accepted score=0.90>=0.70");
  EXPECT_EQ(d.report.header_name, "x-switchyard-cascade");
  EXPECT_EQ(d.report.header_value, "small:accepted(0.90)");
  EXPECT_EQ(d.report.escalations, 0);
  EXPECT_EQ(d.trace.model, "small");
  ASSERT_TRUE(d.outcome);
  EXPECT_FALSE(d.outcome->sse);
  Json body = Json::parse(d.outcome->body);
  EXPECT_EQ(body["choices"].size(), 1u);
  EXPECT_TRUE(body["choices"][0]["logprobs"].is_null());  // asked for by the cascade, not the client
  // The step was asked for logprobs, not streamed.
  Json sent = Json::parse(models.sent_to("small").at(0));
  EXPECT_EQ(sent["logprobs"], true);
  EXPECT_EQ(sent["top_logprobs"], 2);
  EXPECT_EQ(sent["stream"], false);
}

TEST_F(CascadeStrategyTest, VerifyReplaysAnAcceptedAnswerToAStreamingClient) {
  auto s = build(kVerify);
  models.answers["small"] = {completion({"4"}, logprobs(3, std::log(0.9)))};
  Decision d = decide(*s, R"(,"stream":true)");
  ASSERT_EQ(d.kind, Decision::Kind::respond);
  ASSERT_TRUE(d.outcome);
  EXPECT_TRUE(d.outcome->sse);
  EXPECT_THAT(d.outcome->body, HasSubstr(R"("delta":{"content":"4"})"));
  EXPECT_TRUE(d.outcome->body.ends_with("data: [DONE]\n\n"));
}

TEST_F(CascadeStrategyTest, VerifyEscalatesAnUnsureOrFailedStepAndRoutesTheLast) {
  auto s = build(kVerify);
  models.answers["small"] = {completion({"5"}, logprobs(3, std::log(0.4)))};
  Decision d = decide(*s);
  EXPECT_EQ(d.kind, Decision::Kind::route);
  EXPECT_EQ(d.target, "large");
  EXPECT_EQ(d.reason, "cascade:large after 1 rejected");
  EXPECT_EQ(d.report.header_value, "small:rejected(0.40) -> large:routed");
  EXPECT_EQ(d.report.escalations, 1);
  EXPECT_TRUE(models.sent_to("large").empty());  // routed: the server calls it, streaming live

  models.answers.clear();
  d = decide(*s);
  EXPECT_EQ(d.report.header_value, "small:failed(" + std::string(to_string(ErrorKind::connection)) + ") -> large:routed");
  EXPECT_EQ(d.report.escalations, 1);
}

TEST_F(CascadeStrategyTest, VerifyAsksForSamplesAndReturnsTheAgreeingOne) {
  auto s = build("steps: [{model: small, threshold: 0.6}, large]\nverifiers: [{type: agreement, samples: 3}]\n");
  models.answers["small"] = {completion({"The answer is 5", "The answer is 4", "The answer is 4"})};
  Decision d = decide(*s);
  ASSERT_EQ(d.kind, Decision::Kind::respond);
  Json sent = Json::parse(models.sent_to("small").at(0));
  EXPECT_EQ(sent["n"], 3);
  EXPECT_DOUBLE_EQ(sent["temperature"].get<double>(), 0.7);
  Json body = Json::parse(d.outcome->body);
  ASSERT_EQ(body["choices"].size(), 1u);
  EXPECT_EQ(body["choices"][0]["message"]["content"], "The answer is 4");
  EXPECT_EQ(body["choices"][0]["index"], 0);
}

TEST_F(CascadeStrategyTest, VerifyRoutesOnceTheCostBudgetIsSpentOrTheEscalationsAreUsed) {
  auto s = build("steps: [small, small, large]\nverifiers: [{type: logprob}]\nmax_escalations: 1\n");
  models.answers["small"] = {completion({"5"}, logprobs(3, std::log(0.1)))};
  Decision d = decide(*s);
  EXPECT_EQ(d.report.header_value, "small:rejected(0.10) -> small:routed");
}

TEST_F(CascadeStrategyTest, VerifySumsTheScoresOfEveryVerifierByWeight) {
  auto s = build("steps: [{model: small, threshold: 0.5}, large]\n"
                 "verifiers: [{type: logprob, weight: 3}, {type: self_verify, judge: large}]\n");
  models.answers["small"] = {completion({"4"}, logprobs(3, std::log(0.6)))};
  models.answers["large"] = {completion({"no"})};
  Decision d = decide(*s);
  // (3 * 0.6 + 1 * 0) / 4 = 0.45
  EXPECT_EQ(d.report.header_value, "small:rejected(0.45) -> large:routed");
  std::vector<std::string> names;
  for (const auto& [name, score] : d.scores) names.push_back(name);
  EXPECT_THAT(names, ::testing::ElementsAre("small:logprob", "small:self_verify", "small"));
}

constexpr const char* kReview = "mode: review\ndraft: small\nreviewer: small\nrewriter: large\n";

TEST_F(CascadeStrategyTest, ReviewReturnsAnApprovedDraft) {
  auto s = build(kReview);
  models.answers["small"] = {completion({"4"}), completion({"APPROVED"})};
  Decision d = decide(*s);
  ASSERT_EQ(d.kind, Decision::Kind::respond);
  EXPECT_EQ(d.target, "small");
  EXPECT_EQ(d.reason, "cascade:review approved the draft");
  EXPECT_EQ(d.report.header_value, "small:drafted -> small:approved");
  Json review = Json::parse(models.sent_to("small").at(1));
  EXPECT_THAT(review["messages"][0]["content"].get<std::string>(), HasSubstr("Reply APPROVED"));
  EXPECT_THAT(review["messages"][1]["content"].get<std::string>(), HasSubstr("Answer:\n4"));
}

TEST_F(CascadeStrategyTest, ReviewHasAFlaggedDraftRewrittenWithTheReview) {
  auto s = build(kReview);
  models.answers["small"] = {completion({"5"}), completion({"2+2 is not 5"})};
  models.answers["large"] = {completion({"4"})};
  Decision d = decide(*s);
  ASSERT_EQ(d.kind, Decision::Kind::respond);
  EXPECT_EQ(d.target, "large");
  EXPECT_EQ(d.report.header_value, "small:drafted -> small:flagged -> large:rewrote");
  Json rewrite = Json::parse(models.sent_to("large").at(0));
  ASSERT_EQ(rewrite["messages"].size(), 3u);
  EXPECT_EQ(rewrite["messages"][1]["content"], "5");
  EXPECT_THAT(rewrite["messages"][2]["content"].get<std::string>(), HasSubstr("2+2 is not 5"));
}

TEST_F(CascadeStrategyTest, ReviewStillAnswersWhenModelsFail) {
  auto s = build(kReview);
  Decision d = decide(*s);  // no draft: the rewriter answers live
  EXPECT_EQ(d.kind, Decision::Kind::route);
  EXPECT_EQ(d.target, "large");
  EXPECT_EQ(d.report.header_value, "small:failed -> large:routed");

  models.answers["small"] = {completion({"5"}), completion({"wrong"})};
  d = decide(*s);  // the rewriter is down: the draft is the answer
  ASSERT_EQ(d.kind, Decision::Kind::respond);
  EXPECT_EQ(d.target, "small");
  EXPECT_EQ(d.reason, "cascade:review rewrite failed, draft returned");
  EXPECT_EQ(d.report.header_value, "small:drafted -> small:flagged -> large:failed");
}

}  // namespace
}  // namespace sy::pipeline

// Training rows from a decision log (learn/traffic.hpp): which lines become rows, how feedback and the
// cascade's verdicts become labels, and the held-out split.
#include "switchyard/learn/traffic.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace sy::learn {
namespace {

std::string request(const std::string& id, const std::string& model, const std::string& extra = "") {
  return R"({"request_id":")" + id + R"(","router":"auto","status":200,"model":")" + model +
         R"(","prompt":"prompt )" + id + R"(","prompt_tokens":10,"completion_tokens":20,"cost_usd":0.5)" + extra + "}\n";
}

std::string feedback(const std::string& id, const std::string& body) {
  return R"({"type":"feedback","request_id":")" + id + "\"," + body + "}\n";
}

TrafficOptions pair() { return {.strong = "big", .weak = "small"}; }

TEST(Traffic, RowsAreRoutedAnsweredRequestsWithAPrompt) {
  std::string log = request("a", "small") + request("b", "big") +
                    R"({"request_id":"c","router":"","status":200,"model":"small","prompt":"named"})" "\n" +
                    R"({"request_id":"d","router":"auto","status":502,"model":"small","prompt":"failed"})" "\n" +
                    R"({"request_id":"e","router":"auto","status":200,"model":"small","prompt_sha256":"ab"})" "\n" +
                    request("f", "medium") + R"({"type":"shadow","request_id":"a","router":"auto"})" "\n" + "cut off {\"req";
  TrafficReport rep;
  auto t = traffic_dataset({log}, pair(), &rep);
  ASSERT_TRUE(t.ok()) << t.error().message;
  ASSERT_EQ(t->requests.size(), 2u);
  EXPECT_EQ(t->data.models, (std::vector<std::string>{"big", "small"}));
  EXPECT_EQ(t->requests[0].request_id, "a");
  EXPECT_EQ(t->requests[1].answered_by, "big");
  EXPECT_EQ(t->strong_answers, 1u);
  EXPECT_EQ(t->data.examples[0].prompt, "prompt a");
  EXPECT_EQ(t->data.examples[0].input_tokens[1], 10.0f);
  EXPECT_EQ(t->data.examples[0].output_tokens[0], 20.0f);
  EXPECT_TRUE(std::isnan(t->data.examples[0].quality[0]));
  EXPECT_TRUE(std::isnan(t->data.examples[0].quality[1]));
  EXPECT_EQ(rep.decision_lines, 6u);
  EXPECT_EQ(rep.not_routed, 1u);
  EXPECT_EQ(rep.failed, 1u);
  EXPECT_EQ(rep.without_prompt, 1u);
  EXPECT_EQ(rep.other_models, 1u);

  auto only = traffic_dataset({log}, {.strong = "big", .weak = "small", .router = "other"});
  ASSERT_TRUE(only.ok());
  EXPECT_TRUE(only->requests.empty());
}

TEST(Traffic, RowsKeepTheConversationShapeTheLogRecorded) {
  auto t = traffic_dataset({request("a", "small", R"(,"conversation":{"earlier_messages":3,"has_system":true,"system_bytes":40,"context_bytes":900})") +
                            request("b", "small", R"(,"conversation":{"earlier_messages":-5,"system_bytes":"x"})")},
                           pair());
  ASSERT_TRUE(t.ok());
  const ConversationShape& c = t->data.examples[0].conversation;
  EXPECT_EQ(c.earlier_messages, 3u);
  EXPECT_TRUE(c.has_system);
  EXPECT_EQ(c.system_bytes, 40u);
  EXPECT_EQ(c.context_bytes, 900u);
  EXPECT_EQ(t->data.examples[1].conversation.earlier_messages, 0u);  // nonsense reads as a bare prompt
  EXPECT_EQ(t->data.examples[1].conversation.system_bytes, 0u);
}

TEST(Traffic, FeedbackLabelsTheModelThatAnswered) {
  std::string log = request("a", "small") + request("b", "big") + request("c", "small") + request("d", "small") +
                    feedback("a", R"("label":"Thumbs_Down")") + feedback("b", R"("score":8)") +
                    feedback("c", R"("score":10,"label":"bad")") + feedback("d", R"("label":"meh")") +
                    feedback("zz", R"("label":"good")");
  TrafficReport rep;
  auto t = traffic_dataset({log}, pair(), &rep);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(rep.score_range, (std::pair<double, double>{1, 10}));  // detected from 8 and 10
  EXPECT_EQ(t->data.examples[0].quality[1], 0.0f);                 // weak, thumbs down
  EXPECT_NEAR(t->data.examples[1].quality[0], 7.0 / 9.0, 1e-6);    // strong, 8 on 1..10
  EXPECT_TRUE(std::isnan(t->data.examples[1].quality[1]));
  EXPECT_EQ(t->data.examples[2].quality[1], 1.0f);  // a score wins over a label
  EXPECT_TRUE(std::isnan(t->data.examples[3].quality[1]));  // an unknown label says nothing
  EXPECT_EQ(rep.from_feedback, 2u);
  EXPECT_EQ(rep.strong_feedback, 1u);
  EXPECT_EQ(rep.feedback_lines, 5u);
  EXPECT_EQ(rep.feedback_unmatched, 2u);  // "meh", and an id not in the log

  auto fixed = traffic_dataset({log}, {.strong = "big", .weak = "small", .score_range = std::pair{0.0, 20.0}});
  ASSERT_TRUE(fixed.ok());
  EXPECT_NEAR(fixed->data.examples[1].quality[0], 0.4, 1e-6);
}

TEST(Traffic, FeedbackJoinsTheLatestRequestWithItsIdAndKey) {
  std::string log = request("a", "small", R"(,"key":"alice")") + request("a", "small", R"(,"key":"bob")") +
                    R"({"type":"feedback","request_id":"a","key":"alice","label":"bad"})" "\n" +
                    request("a", "small", R"(,"key":"alice")") +
                    R"({"type":"feedback","request_id":"a","key":"alice","label":"good"})" "\n";
  auto t = traffic_dataset({log}, pair());
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->requests.size(), 3u);
  EXPECT_EQ(t->data.examples[0].quality[1], 0.0f);
  EXPECT_TRUE(std::isnan(t->data.examples[1].quality[1]));  // bob's request: alice's feedback is not his
  EXPECT_EQ(t->data.examples[2].quality[1], 1.0f);
}

TEST(Traffic, FeedbackLoggedJustBeforeItsRequestStillJoins) {
  std::string log = feedback("a", R"("label":"bad")") + request("a", "small") + request("b", "small");
  TrafficReport rep;
  auto t = traffic_dataset({log}, pair(), &rep);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->data.examples[0].quality[1], 0.0f);
  EXPECT_EQ(rep.feedback_unmatched, 0u);
  EXPECT_EQ(rep.from_feedback, 1u);
}

TEST(Traffic, CascadeVerdictsLabelTheWeakModelAndFeedbackWins) {
  std::string log = request("a", "big", R"j(,"cascade":"small:rejected(0.14) -> big:routed")j") +
                    request("b", "small", R"j(,"cascade":"small:accepted(0.95)")j") +
                    request("c", "medium", R"j(,"cascade":"small:rejected(0.2) -> medium:accepted(0.9)")j") +
                    request("d", "big", R"j(,"cascade":"small:failed(timeout) -> big:routed")j") +
                    request("e", "small", R"j(,"cascade":"small:accepted-early(0.90@16)")j") + feedback("e", R"("label":"bad")");
  TrafficReport rep;
  auto t = traffic_dataset({log}, pair(), &rep);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->requests.size(), 5u);  // c's answer came from a third model, but it says how small did
  EXPECT_EQ(t->data.examples[0].quality[1], 0.0f);
  EXPECT_EQ(t->data.examples[1].quality[1], 1.0f);
  EXPECT_EQ(t->data.examples[2].quality[1], 0.0f);
  EXPECT_TRUE(std::isnan(t->data.examples[3].quality[1]));  // a failed call is no verdict
  EXPECT_EQ(t->data.examples[4].quality[1], 0.0f);          // the rater overrules the verifier
  EXPECT_EQ(rep.from_cascade, 3u);
  EXPECT_EQ(rep.from_feedback, 1u);
}

TEST(Traffic, CascadeVerdictParsesModelNamesWithColons) {
  EXPECT_EQ(cascade_verdict("llama3:8b:rejected(0.1) -> gpt:routed", "llama3:8b"), 0.0f);
  EXPECT_EQ(cascade_verdict("llama3:8b:accepted(0.9)", "llama3:8b"), 1.0f);
  EXPECT_FALSE(cascade_verdict("llama3:8b:accepted(0.9)", "llama3").has_value());
  EXPECT_FALSE(cascade_verdict("", "x").has_value());
  EXPECT_FALSE(cascade_verdict("garbage -> -> :", "x").has_value());
}

TEST(Traffic, ScoreRangesAndLabels) {
  EXPECT_EQ(detect_score_range({}), (std::pair<double, double>{0, 1}));
  EXPECT_EQ(detect_score_range({0, 0.5, 1}), (std::pair<double, double>{0, 1}));
  EXPECT_EQ(detect_score_range({1, 4}), (std::pair<double, double>{1, 5}));
  EXPECT_EQ(detect_score_range({7}), (std::pair<double, double>{1, 10}));
  EXPECT_EQ(detect_score_range({85}), (std::pair<double, double>{0, 100}));
  EXPECT_EQ(detect_score_range({-1, 1}), (std::pair<double, double>{-1, 1}));
  EXPECT_EQ(label_quality("GOOD"), 1.0f);
  EXPECT_EQ(label_quality("incorrect"), 0.0f);
  EXPECT_FALSE(label_quality("").has_value());
}

TEST(Traffic, HeldOutSliceIsStableAndSized) {
  int held = 0;
  for (int i = 0; i < 10000; ++i) {
    const std::string id = "req-" + std::to_string(i);
    EXPECT_EQ(held_out(id, 0.2), held_out(id, 0.2));
    held += held_out(id, 0.2);
    EXPECT_FALSE(held_out(id, 0.0));
  }
  EXPECT_NEAR(held, 2000, 200);
}

TEST(Traffic, HostileLinesAreSkippedNotCrashes) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  std::string log = deep + "\n" + R"({"request_id":"a","router":"auto","status":200,"model":"small","prompt":)" + deep + "}\n" +
                    // Wrong types everywhere: read as missing, never thrown.
                    R"({"request_id":7,"router":"auto","status":"200","model":"small","prompt":"p"})" "\n" +
                    R"({"request_id":"b","router":"auto","status":200,"model":"small","prompt":"p","prompt_tokens":1e300,)"
                    R"("cost_usd":"cheap","conversation":{"has_system":"yes","earlier_messages":2.5}})" "\n" +
                    // The same key twice (also after unescaping): refused by the guard, not read twice.
                    R"({"request_id":"c","router":"auto","status":200,"model":"small","prompt":"p","pr\u006fmpt":"q"})" "\n" +
                    R"({"type":"feedback","request_id":"b","score":"10","label":["good"]})" "\n" +
                    R"({"type":"feedback","request_id":"b","score":1e400})" "\n";
  TrafficReport rep;
  auto t = traffic_dataset({log}, pair(), &rep);
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->requests.size(), 1u);  // only b: the deep lines fail the JSON guard, "status":"200" is no 200
  EXPECT_EQ(t->requests[0].prompt_tokens, 0);
  EXPECT_EQ(t->requests[0].cost_usd, 0);
  EXPECT_FALSE(t->data.examples[0].conversation.has_system);
  EXPECT_EQ(t->data.examples[0].conversation.earlier_messages, 0u);
  EXPECT_TRUE(std::isnan(t->data.examples[0].quality[1]));  // neither feedback line carries a usable label
  EXPECT_EQ(t->requests[0].request_id, "b");
  EXPECT_EQ(rep.decision_lines, 2u);
}

TEST(Traffic, NeedsTwoDifferentModels) {
  EXPECT_FALSE(traffic_dataset({""}, {.strong = "", .weak = "small"}).ok());
  EXPECT_FALSE(traffic_dataset({""}, {.strong = "a", .weak = "a"}).ok());
}

}  // namespace
}  // namespace sy::learn

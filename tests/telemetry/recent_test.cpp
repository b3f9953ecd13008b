#include "switchyard/telemetry/recent.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>
#include <thread>

namespace sy::telemetry {
namespace {

using json = nlohmann::json;

DecisionRecord record(int i) {
  DecisionRecord r;
  r.ts_ms = 1000 + i;
  r.arrived_ns = 1000 * i;
  r.request_id = "req-" + std::to_string(i);
  r.key = "alice";
  r.model_requested = "auto";
  r.router = "auto";
  r.stage = "rules";
  r.reason = "rule:long";
  r.model = "large";
  r.deployment = "large/mock/0";
  r.status = 200;
  r.prompt_tokens = 10 * i;
  r.completion_tokens = i;
  r.cost_usd = 0.5;
  r.latency_ms = 12.5;
  r.attempts = 1;
  return r;
}

std::vector<std::string> ids(const std::string& text) {
  auto j = json::parse(text);
  std::vector<std::string> out;
  for (const auto& item : j.at("data")) out.push_back(item.at("request_id").get<std::string>());
  return out;
}

TEST(RecentDecisionsTest, EmptyIsAnEmptyList) {
  RecentDecisions r;
  auto j = json::parse(r.to_json(50));
  EXPECT_EQ(j.at("object"), "list");
  EXPECT_TRUE(j.at("data").is_array());
  EXPECT_TRUE(j.at("data").empty());
}

TEST(RecentDecisionsTest, KeepsCapacityNewestFirstUpToLimit) {
  RecentDecisions r(3);
  for (int i = 0; i < 5; ++i) r.push(record(i));
  EXPECT_EQ(ids(r.to_json(100)), (std::vector<std::string>{"req-4", "req-3", "req-2"}));
  EXPECT_EQ(ids(r.to_json(2)), (std::vector<std::string>{"req-4", "req-3"}));
  EXPECT_EQ(ids(r.to_json(1)), (std::vector<std::string>{"req-4"}));
  EXPECT_TRUE(ids(r.to_json(0)).empty());
  r.push(record(5));
  EXPECT_EQ(ids(r.to_json(100)), (std::vector<std::string>{"req-5", "req-4", "req-3"}));
}

TEST(RecentDecisionsTest, ListsByArrivalNotByWhenARequestEnded) {
  // A request is recorded when it ends: the one that arrived first but ended last is still listed after
  // the one that arrived later (the order a client sent them in).
  RecentDecisions r;
  r.push(record(2));
  r.push(record(1));
  r.push(record(3));
  EXPECT_EQ(ids(r.to_json(100)), (std::vector<std::string>{"req-3", "req-2", "req-1"}));
}

TEST(RecentDecisionsTest, OneRingPerIoThreadMergedByArrival) {
  RecentDecisions r(500, 3);
  // Three io threads record in their own rings; the list is one, latest arrival first.
  r.record(0, [](DecisionRecord& d) { d = record(1); });
  r.record(2, [](DecisionRecord& d) { d = record(4); });
  r.record(1, [](DecisionRecord& d) { d = record(2); });
  r.record(7, [](DecisionRecord& d) { d = record(3); });  // any index: taken modulo the rings (ring 1)
  EXPECT_EQ(ids(r.to_json(100)), (std::vector<std::string>{"req-4", "req-3", "req-2", "req-1"}));
  EXPECT_EQ(ids(r.to_json(2)), (std::vector<std::string>{"req-4", "req-3"}));
  // Feedback finds a request whatever ring holds it.
  EXPECT_TRUE(r.add_feedback("req-3", "alice", 0.5, "ok", ""));
  EXPECT_FALSE(r.add_feedback("req-9", "alice", 0.5, "ok", ""));
  auto j = json::parse(r.to_json(100));
  EXPECT_EQ(j["data"][1]["feedback"]["score"], 0.5);
}

TEST(RecentDecisionsTest, RecordFields) {
  RecentDecisions r;
  DecisionRecord a = record(1);
  a.latency_ms = 1.23456;
  a.stream = true;
  r.push(a);
  DecisionRecord b = record(2);
  b.status = 502;
  b.error = "upstream failed";
  r.push(b);
  auto j = json::parse(r.to_json(10));
  ASSERT_EQ(j.at("data").size(), 2u);
  const auto& newest = j.at("data")[0];
  EXPECT_EQ(newest.at("status"), 502);
  EXPECT_EQ(newest.at("error"), "upstream failed");
  const auto& oldest = j.at("data")[1];
  EXPECT_EQ(oldest.at("ts_ms"), 1001);
  EXPECT_EQ(oldest.at("key"), "alice");
  EXPECT_EQ(oldest.at("model_requested"), "auto");
  EXPECT_EQ(oldest.at("router"), "auto");
  EXPECT_EQ(oldest.at("stage"), "rules");
  EXPECT_EQ(oldest.at("reason"), "rule:long");
  EXPECT_EQ(oldest.at("model"), "large");
  EXPECT_EQ(oldest.at("deployment"), "large/mock/0");
  EXPECT_EQ(oldest.at("status"), 200);
  EXPECT_EQ(oldest.at("stream"), true);
  EXPECT_EQ(oldest.at("prompt_tokens"), 10);
  EXPECT_EQ(oldest.at("completion_tokens"), 1);
  EXPECT_DOUBLE_EQ(oldest.at("cost_usd").get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(oldest.at("latency_ms").get<double>(), 1.235);  // rounded to microseconds
  EXPECT_EQ(oldest.at("attempts"), 1);
  EXPECT_FALSE(oldest.contains("error"));  // only when there is one
}

TEST(RecentDecisionsTest, InvalidUtf8IsReplacedNotThrown) {
  RecentDecisions r;
  DecisionRecord a = record(1);
  a.reason = "bad \xff\xfe bytes";
  r.push(a);
  std::string text;
  ASSERT_NO_THROW(text = r.to_json(10));
  EXPECT_NO_THROW(json::parse(text));
}

TEST(RecentDecisionsTest, ConcurrentPushesKeepCapacity) {
  RecentDecisions r(100);
  auto work = [&](int base) {
    for (int i = 0; i < 2000; ++i) r.push(record(base + i));
  };
  std::thread a(work, 0), b(work, 100000);
  for (int i = 0; i < 20; ++i) EXPECT_LE(ids(r.to_json(1000)).size(), 100u);
  a.join();
  b.join();
  EXPECT_EQ(ids(r.to_json(1000)).size(), 100u);
}

constexpr std::int64_t kMinute = 60'000;

json minutes(const UsageTimeline& t, std::int64_t now_ms) {
  auto j = json::parse(t.to_json(now_ms));
  return j.at("minutes");
}

TEST(RecentDecisionsTest, AnOpenedRequestTakesFeedbackBeforeItIsRecordedAndIsListedOnlyThen) {
  RecentDecisions d(4);
  auto ticket = d.open(0, "req-7", "alice");
  EXPECT_EQ(json::parse(d.to_json(10))["data"].size(), 0u);  // its answer is still being written
  EXPECT_FALSE(d.add_feedback("req-7", "bob", 1, "good", ""));
  EXPECT_TRUE(d.add_feedback("req-7", "alice", 0.2, "bad", "late"));
  d.record(ticket, [](DecisionRecord& r) {
    DecisionRecord filled = record(7);
    r.request_id = filled.request_id;
    r.status = filled.status;
  });
  auto data = json::parse(d.to_json(10))["data"];
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0]["request_id"], "req-7");
  EXPECT_EQ(data[0]["feedback"]["label"], "bad");  // kept through the fill
  EXPECT_EQ(data[0]["feedback"]["score"], 0.2);
}

TEST(RecentDecisionsTest, ATicketWhoseSlotWasTakenRecordsInANewOne) {
  RecentDecisions d(2);
  auto old = d.open(0, "req-1", "");
  d.add_feedback("req-1", "", 1, "", "");
  for (int i = 2; i <= 3; ++i) d.push(record(i));  // the ring went round: req-1's slot is req-3's now
  d.record(old, [](DecisionRecord& r) { r = record(1); });
  auto data = json::parse(d.to_json(10))["data"];
  ASSERT_EQ(data.size(), 2u);
  std::vector<std::string> ids = {data[0]["request_id"], data[1]["request_id"]};
  EXPECT_EQ(ids, (std::vector<std::string>{"req-3", "req-1"}));
  EXPECT_FALSE(data[1].contains("feedback"));  // the feedback went with the slot that was reused
}

TEST(UsageTimelineTest, SixtyMinutesOldestFirstAllZeroWhenIdle) {
  UsageTimeline t;
  const std::int64_t now = 28'000'000 * kMinute + 12'345;  // some minute, 12.345 s into it
  auto m = minutes(t, now);
  ASSERT_EQ(m.size(), 60u);
  for (std::size_t i = 0; i < 60; ++i) {
    EXPECT_EQ(m[i].at("t"), (28'000'000 - 59 + static_cast<std::int64_t>(i)) * kMinute);
    EXPECT_EQ(m[i].at("requests"), 0);
    EXPECT_EQ(m[i].at("errors"), 0);
    EXPECT_EQ(m[i].at("fallbacks"), 0);
    EXPECT_EQ(m[i].at("cost_usd"), 0.0);
  }
}

TEST(UsageTimelineTest, BucketsPerMinuteAndSumsCost) {
  UsageTimeline t;
  const std::int64_t m0 = 28'000'000 * kMinute;  // the start of a minute
  t.record(0, m0, false, false, 0.25);
  t.record(0, m0 + 59'999, true, false, 0.5);  // same minute
  t.record(0, m0 + kMinute, false, true, 1.0);  // next minute
  t.record(0, m0 + kMinute + 1, true, true, 0);
  t.record(0, m0 + 5 * kMinute, false, false, 2.0);
  auto m = minutes(t, m0 + 5 * kMinute + 30'000);
  ASSERT_EQ(m.size(), 60u);
  // The last entry is the current minute; m0 is 5 minutes before it.
  const auto& now = m[59];
  EXPECT_EQ(now.at("t"), m0 + 5 * kMinute);
  EXPECT_EQ(now.at("requests"), 1);
  EXPECT_DOUBLE_EQ(now.at("cost_usd").get<double>(), 2.0);
  const auto& first = m[54];
  EXPECT_EQ(first.at("t"), m0);
  EXPECT_EQ(first.at("requests"), 2);
  EXPECT_EQ(first.at("errors"), 1);
  EXPECT_EQ(first.at("fallbacks"), 0);
  EXPECT_DOUBLE_EQ(first.at("cost_usd").get<double>(), 0.75);
  const auto& second = m[55];
  EXPECT_EQ(second.at("t"), m0 + kMinute);
  EXPECT_EQ(second.at("requests"), 2);
  EXPECT_EQ(second.at("errors"), 1);
  EXPECT_EQ(second.at("fallbacks"), 2);
  EXPECT_DOUBLE_EQ(second.at("cost_usd").get<double>(), 1.0);
  for (std::size_t i : {0u, 53u, 56u, 57u, 58u}) EXPECT_EQ(m[i].at("requests"), 0) << i;
  std::int64_t total = 0;
  for (const auto& e : m) total += e.at("requests").get<std::int64_t>();
  EXPECT_EQ(total, 5);
}

TEST(UsageTimelineTest, BadCostsAreIgnored) {
  UsageTimeline t;
  const std::int64_t m0 = 1'000 * kMinute;
  t.record(0, m0, false, false, -1);
  t.record(0, m0, false, false, std::numeric_limits<double>::quiet_NaN());
  t.record(0, m0, false, false, std::numeric_limits<double>::infinity());
  t.record(0, m0, false, false, 0.125);
  auto m = minutes(t, m0);
  EXPECT_EQ(m[59].at("requests"), 4);
  EXPECT_DOUBLE_EQ(m[59].at("cost_usd").get<double>(), 0.125);
}

TEST(UsageTimelineTest, MinutesOlderThanAnHourAreZero) {
  UsageTimeline t;
  const std::int64_t m0 = 1'000 * kMinute;
  t.record(0, m0, true, true, 1);
  // 59 minutes later it is the oldest entry; 60 minutes later it has left.
  auto m = minutes(t, m0 + 59 * kMinute);
  EXPECT_EQ(m[0].at("t"), m0);
  EXPECT_EQ(m[0].at("requests"), 1);
  m = minutes(t, m0 + 60 * kMinute);
  for (const auto& e : m) EXPECT_EQ(e.at("requests"), 0);
  // The slot it used is for minute m0 + 70 - 60 = m0 + 10 in a view at m0 + 70: still zero there.
  m = minutes(t, m0 + 70 * kMinute);
  for (const auto& e : m) {
    EXPECT_EQ(e.at("requests"), 0);
    EXPECT_EQ(e.at("cost_usd"), 0.0);
  }
  // A new minute that reuses the slot starts from zero.
  t.record(0, m0 + 60 * kMinute, false, false, 0.5);
  m = minutes(t, m0 + 60 * kMinute);
  EXPECT_EQ(m[59].at("requests"), 1);
  EXPECT_EQ(m[59].at("errors"), 0);
  EXPECT_EQ(m[59].at("fallbacks"), 0);
  EXPECT_DOUBLE_EQ(m[59].at("cost_usd").get<double>(), 0.5);
}

TEST(UsageTimelineTest, ShardsPerIoThreadAreSummed) {
  UsageTimeline t(2);
  const std::int64_t m0 = 1'700'000'000'000 / kMinute * kMinute;
  t.record(0, m0, false, false, 0.25);
  t.record(1, m0 + 1, true, true, 0.5);
  t.record(3, m0 + 2, false, false, 1.0);  // ring 1
  auto last = minutes(t, m0).at(59);
  EXPECT_EQ(last["requests"], 3);
  EXPECT_EQ(last["errors"], 1);
  EXPECT_EQ(last["fallbacks"], 1);
  EXPECT_DOUBLE_EQ(last["cost_usd"].get<double>(), 1.75);
}

}  // namespace
}  // namespace sy::telemetry

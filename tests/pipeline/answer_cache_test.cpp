// The router's answer cache: exact and similar hits, the guards against the known false hits of semantic
// caches (negations, numbers), the context and scope, TTL and the size bound.
#include "switchyard/pipeline/answer_cache.hpp"

#include <gtest/gtest.h>

#include "switchyard/config/config.hpp"

namespace sy::pipeline {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::unique_ptr<Request> chat(const std::string& last, const std::string& system = "", const std::string& extra = "") {
  std::string messages = system.empty() ? "" : R"({"role":"system","content":")" + system + R"("},)";
  auto r = Request::parse(Endpoint::chat, R"({"model":"auto","messages":[)" + messages + R"({"role":"user","content":")" +
                                              last + R"("}])" + extra + "}");
  EXPECT_TRUE(r.ok());
  return std::move(*r);
}

std::shared_ptr<AnswerCache> make(const std::string& yaml = "{}") {
  config::Diagnostics d;
  auto cfg = config::load_config_text("providers: [{name: m, type: mock}]\nmodels: [{name: a, provider: m}]\n"
                                      "routers: [{name: r, default: a, cache: " + yaml + "}]\n",
                                      "t.yaml", d);
  EXPECT_TRUE(cfg) << (d.errors().empty() ? "" : d.errors()[0]);
  auto c = AnswerCache::from_yaml(*cfg->routers[0].node.get("cache"), "r", false, nullptr, d);
  EXPECT_TRUE(c) << (d.errors().empty() ? "" : d.errors()[0]);
  return c;
}

class AnswerCacheTest : public ::testing::Test {
 protected:
  void put(AnswerCache& c, const std::string& q, const std::string& answer, const std::string& scope = "alice",
           const std::string& system = "") {
    auto p = c.probe(*chat(q, system), scope);
    ASSERT_TRUE(p);
    c.store(*p, answer, "a", now);
  }
  std::optional<CacheHit> get(AnswerCache& c, const std::string& q, const std::string& scope = "alice",
                              const std::string& system = "", const std::string& extra = "") {
    auto p = c.probe(*chat(q, system, extra), scope);
    return p ? c.lookup(*p, now) : std::nullopt;
  }
  Clock::time_point now = Clock::now();
};

TEST_F(AnswerCacheTest, TheSameQuestionIsAnExactHit) {
  auto c = make();
  put(*c, "What is the capital of France?", "Paris");
  auto hit = get(*c, "What is the capital of France?");
  ASSERT_TRUE(hit);
  EXPECT_TRUE(hit->exact);
  EXPECT_EQ(hit->body, "Paris");
  EXPECT_EQ(hit->model, "a");
}

TEST_F(AnswerCacheTest, AnExactHitAndAMissInAnEmptyContextComputeNoEmbedding) {
  auto c = make();
  auto fresh = c->probe(*chat("What is the capital of Spain?"), "alice");
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(c->lookup(*fresh, now));
  EXPECT_FALSE(fresh->similar_ready);  // nothing in its context: nothing to compare with
  c->store(*fresh, "Madrid", "a", now);
  EXPECT_TRUE(fresh->similar_ready);   // stored with its embedding and guard
  auto again = c->probe(*chat("What is the capital of Spain?"), "alice");
  ASSERT_TRUE(again);
  auto hit = c->lookup(*again, now);
  ASSERT_TRUE(hit);
  EXPECT_TRUE(hit->exact);
  EXPECT_FALSE(again->similar_ready);  // the same text: found without embedding it
  auto reworded = c->probe(*chat("what is the capital of spain"), "alice");
  ASSERT_TRUE(reworded);
  EXPECT_TRUE(c->lookup(*reworded, now));
  EXPECT_TRUE(reworded->similar_ready);
}

TEST_F(AnswerCacheTest, TheSameWordingWithOtherCaseAndPunctuationIsASimilarHit) {
  auto c = make();
  put(*c, "What is the capital of France?", "Paris");
  auto hit = get(*c, "what is the capital of france");
  ASSERT_TRUE(hit);
  EXPECT_FALSE(hit->exact);
  EXPECT_GE(hit->similarity, 0.95);
  EXPECT_FALSE(get(*c, "What is the capital of Germany?"));
}

TEST_F(AnswerCacheTest, ANegationNeverHits) {
  auto c = make("{similarity: 0.5}");
  put(*c, "Can I take ibuprofen with alcohol?", "no");
  EXPECT_FALSE(get(*c, "Can't I take ibuprofen with alcohol?"));
  EXPECT_FALSE(get(*c, "Can I not take ibuprofen with alcohol?"));
  EXPECT_FALSE(get(*c, "Can I take ibuprofen without alcohol?"));
  EXPECT_TRUE(get(*c, "can I take ibuprofen with alcohol"));
}

TEST_F(AnswerCacheTest, ADifferentNumberNeverHits) {
  auto c = make("{similarity: 0.5}");
  put(*c, "Is 5 mg of melatonin safe?", "yes");
  EXPECT_FALSE(get(*c, "Is 50 mg of melatonin safe?"));
  EXPECT_FALSE(get(*c, "Is 5.5 mg of melatonin safe?"));
  EXPECT_FALSE(get(*c, "Is 5 mg of melatonin safe for 2 weeks?"));
  EXPECT_TRUE(get(*c, "is 5 mg of melatonin safe"));
}

TEST_F(AnswerCacheTest, GuardsNormaliseNumbersAndNegations) {
  EXPECT_EQ(AnswerCache::guard_of("1,000 items, not 2.5"), AnswerCache::guard_of("not 2.5 of 1000 items"));
  EXPECT_NE(AnswerCache::guard_of("can I"), AnswerCache::guard_of("can\xE2\x80\x99t I"));
  EXPECT_EQ(AnswerCache::guard_of("don't"), AnswerCache::guard_of("never"));
}

TEST_F(AnswerCacheTest, TheContextAndTheScopeMustMatch) {
  auto c = make();
  put(*c, "Summarise it", "summary", "alice", "You are a lawyer.");
  EXPECT_TRUE(get(*c, "Summarise it", "alice", "You are a lawyer."));
  EXPECT_FALSE(get(*c, "Summarise it", "alice", "You are a doctor.")) << "another system prompt";
  EXPECT_FALSE(get(*c, "Summarise it", "bob", "You are a lawyer.")) << "another key";
  EXPECT_FALSE(get(*c, "Summarise it", "alice", "You are a lawyer.", R"(,"temperature":1.5)")) << "other parameters";
  EXPECT_TRUE(get(*c, "Summarise it", "alice", "You are a lawyer.", R"(,"stream":true)")) << "streaming is not part of it";
  auto global = make("{scope: global}");
  put(*global, "Summarise it", "summary", "alice");
  EXPECT_TRUE(get(*global, "Summarise it", "bob"));
}

TEST_F(AnswerCacheTest, EntriesExpireAndTheOldestGoFirst) {
  auto c = make("{ttl: 1s, max_entries: 2}");
  put(*c, "one", "1");
  put(*c, "two", "2");
  put(*c, "three", "3");
  EXPECT_EQ(c->size(), 2u);
  EXPECT_FALSE(get(*c, "one"));
  EXPECT_TRUE(get(*c, "three"));
  now += 1001ms;
  EXPECT_FALSE(get(*c, "three"));
}

TEST_F(AnswerCacheTest, TheOnlyEntryOfAContextMakesRoomForItsSuccessor) {
  // Regression: evicting the context's last entry erased its list while the store still held it.
  auto c = make("{max_entries: 1}");
  put(*c, "first question", "1");
  put(*c, "second question", "2");
  put(*c, "third question", "3");
  EXPECT_EQ(c->size(), 1u);
  EXPECT_FALSE(get(*c, "second question"));
  auto hit = get(*c, "third question");
  ASSERT_TRUE(hit);
  EXPECT_EQ(hit->body, "3");
}

TEST_F(AnswerCacheTest, ImagesAndBadSettingsAreRefused) {
  auto c = make();
  auto img = Request::parse(Endpoint::chat, R"({"model":"auto","messages":[{"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]})");
  ASSERT_TRUE(img.ok());
  EXPECT_FALSE(c->probe(**img, "alice"));
  config::Diagnostics d;
  auto cfg = config::load_config_text("providers: [{name: m, type: mock}]\nmodels: [{name: a, provider: m}]\n"
                                      "routers: [{name: r, default: a, cache: {similarity: 2, scope: tenant, tll: 1s}}]\n",
                                      "t.yaml", d);
  ASSERT_TRUE(cfg);
  EXPECT_FALSE(AnswerCache::from_yaml(*cfg->routers[0].node.get("cache"), "r", false, nullptr, d));
  EXPECT_EQ(d.errors().size(), 3u);
}

TEST_F(AnswerCacheTest, TheRedisBackendNeedsSharedState) {
  config::Diagnostics d;
  auto cfg = config::load_config_text("providers: [{name: m, type: mock}]\nmodels: [{name: a, provider: m}]\n"
                                      "routers: [{name: r, default: a, cache: {backend: redis}}, {name: s, default: a, cache: {backend: disk}}]\n",
                                      "t.yaml", d);
  ASSERT_TRUE(cfg);
  EXPECT_FALSE(AnswerCache::from_yaml(*cfg->routers[0].node.get("cache"), "r", false, nullptr, d));
  ASSERT_EQ(d.errors().size(), 1u);
  EXPECT_NE(d.errors()[0].find("backend: redis needs the state: section"), std::string::npos) << d.errors()[0];
  EXPECT_FALSE(AnswerCache::from_yaml(*cfg->routers[1].node.get("cache"), "s", false, nullptr, d));
  EXPECT_NE(d.errors().back().find("expected memory (default) or redis"), std::string::npos) << d.errors().back();
  // With a state: section but no Redis in this process (--check-config): valid, answers kept in memory.
  config::Diagnostics ok;
  auto c = AnswerCache::from_yaml(*cfg->routers[0].node.get("cache"), "r", true, nullptr, ok);
  ASSERT_TRUE(c);
  EXPECT_TRUE(ok.errors().empty());
  auto p = c->probe(*chat("What is 2+2?"), "alice");
  ASSERT_TRUE(p);
  c->store(*p, "4", "a", now);
  EXPECT_TRUE(c->lookup(*p, now));
}

TEST(SharedAnswerTest, EncodesAndDecodesEveryField) {
  SharedAnswer a{"Is 5 mg \"safe\"?\n\xC3\xA9", "#5 ", R"({"choices":[{"message":{"content":"yes"}}]})", "gpt", 1900000000123};
  auto back = AnswerCache::decode(AnswerCache::encode(a));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->text, a.text);
  EXPECT_EQ(back->guard, a.guard);
  EXPECT_EQ(back->body, a.body);
  EXPECT_EQ(back->model, a.model);
  EXPECT_EQ(back->expires_unix_ms, a.expires_unix_ms);
}

TEST(SharedAnswerTest, AnythingElseIsRefused) {
  for (const char* bad : {"", "not json", "[]", R"({"text":"x","body":"y"})", R"({"text":1,"body":"y","expires_ms":1})",
                          R"({"text":"x","body":"y","expires_ms":"soon"})", R"({"text":"x","body":"\ud800","expires_ms":1})",
                          R"({"text":"x","body":"y","expires_ms":1,"deep":[[[[[[[[[[]]]]]]]]]]})"}) {
    EXPECT_FALSE(AnswerCache::decode(bad)) << bad;
  }
  EXPECT_TRUE(AnswerCache::decode(R"({"text":"x","body":"{}","expires_ms":1,"future":"field"})"));
  // The body is served as an answer: a JSON object within the guard's bounds, or nothing.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  for (const std::string& body : {std::string("y"), std::string("[1]"), std::string("{\"a\":") + deep + "}"}) {
    EXPECT_FALSE(AnswerCache::decode(AnswerCache::encode({"x", "", body, "m", 1}))) << body.substr(0, 20);
  }
}

}  // namespace
}  // namespace sy::pipeline

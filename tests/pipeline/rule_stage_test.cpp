// The rule stage, driven directly: conditions, combinators, actions, and RE2's linear time on
// input built to make backtracking engines explode.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>

#include "pipeline/stage_fixture.hpp"
#include "switchyard/pipeline/router.hpp"
#include "switchyard/tokenize/lazy_token_counter.hpp"

namespace sy::pipeline {
namespace {

namespace net = boost::asio;

struct RuleStageTest : testing::StageFixture {
  std::unique_ptr<Stage> build(const std::string& yaml) { return build_stage("rule", yaml); }

  Decision run(const Stage& stage, const std::string& body, Caller caller = {},
               std::map<std::string, std::string> headers = {}, const tokenize::LazyTokenCounter* counter = nullptr,
               std::int64_t* prompt_tokens = nullptr) {
    auto req = Request::parse(Endpoint::chat, body);
    EXPECT_TRUE(req.ok());
    RequestFeatures f(**req, std::move(caller), {},
                      [&](std::string_view n) -> std::string_view {
                        auto it = headers.find(std::string(n));
                        return it == headers.end() ? std::string_view{} : std::string_view(it->second);
                      },
                      counter);
    net::io_context ioc;
    StageContext ctx{f};  // a rule calls no model: no model caller
    auto fut = net::co_spawn(ioc, stage.decide(ctx), net::use_future);
    ioc.run();
    if (prompt_tokens) *prompt_tokens = f.prompt_tokens();
    return fut.get();
  }

  static std::string chat(const std::string& text, const std::string& extra = "") {
    return R"({"model":"auto","messages":[{"role":"user","content":")" + text + "\"}]" + extra + "}";
  }
};

TEST_F(RuleStageTest, RoutesOnTokenEstimateAndRejectsSecrets) {
  auto s = build(R"(
rules:
  - name: secrets
    when: {detect: [api_key, credit_card], in: all}
    reject: {status: 422, message: "no secrets"}
  - name: long
    when: {prompt_tokens: {gt: 50}}
    route: large
)");
  ASSERT_TRUE(s) << d.errors()[0];
  auto secret = run(*s, chat("key AKIAABCDEFGHIJKLMNOP here"));
  EXPECT_EQ(secret.kind, Decision::Kind::reject);
  EXPECT_EQ(http_status(secret.error), 422);
  EXPECT_EQ(run(*s, chat("card 4111-1111-1111-1111")).kind, Decision::Kind::reject);
  EXPECT_EQ(run(*s, chat("order 4111-1111-1111-1112")).kind, Decision::Kind::pass);  // fails Luhn
  std::string long_text;
  for (int i = 0; i < 100; ++i) long_text += "word ";
  auto longd = run(*s, chat(long_text));
  EXPECT_EQ(longd.kind, Decision::Kind::route);
  EXPECT_EQ(longd.target, "large");
  EXPECT_EQ(run(*s, chat("short")).kind, Decision::Kind::pass);
}

// prompt_tokens rules decide on cheap bounds when they can; the answer must always be the exact one.
TEST_F(RuleStageTest, PromptTokenBoundsGiveTheExactAnswer) {
  auto s = build(R"(
rules:
  - {name: huge, when: {prompt_tokens: {gt: 100000}}, route: large}
  - {name: band, when: {prompt_tokens: {gte: 20, lt: 40}}, route: small}
  - {name: exactly, when: {prompt_tokens: 12}, route: small}
)");
  ASSERT_TRUE(s) << d.errors()[0];
  tokenize::LazyTokenCounter counter;  // exact when the rank files are there, the estimate otherwise
  counter.load_now();
  for (int words = 0; words < 60; ++words) {
    std::string text;
    for (int i = 0; i < words; ++i) text += i % 3 ? "lorem " : "ipsum, ";
    std::int64_t n = 0;
    Decision dn = run(*s, chat(text), {}, {}, &counter, &n);
    std::string want = n > 100000 ? "rule:huge" : (n >= 20 && n < 40) ? "rule:band" : n == 12 ? "rule:exactly" : "";
    EXPECT_EQ(dn.kind == Decision::Kind::pass ? std::string() : dn.reason.substr(0, want.size()), want)
        << words << " words, " << n << " tokens: " << dn.reason;
  }
}

TEST_F(RuleStageTest, CombinatorsTagsTiersAndHeaders) {
  auto s = build(R"(
rules:
  - when: {header: {name: x-customer, equals: vip}}
    tag: vip
  - name: vip-not-cheap
    when: {all: [{tag: vip}, {not: {keywords: [cheap]}}]}
    route: large
  - name: free
    when: {any: [{tier: free}, {tier: trial}]}
    route: small
)");
  ASSERT_TRUE(s) << d.errors()[0];
  EXPECT_EQ(run(*s, chat("hello"), {}, {{"x-customer", "vip"}}).target, "large");
  EXPECT_EQ(run(*s, chat("something CHEAP please"), {}, {{"x-customer", "vip"}}).kind, Decision::Kind::pass);
  EXPECT_EQ(run(*s, chat("hello"), Caller{"", "trial"}).target, "small");
  EXPECT_EQ(run(*s, chat("hello")).kind, Decision::Kind::pass);
}

TEST_F(RuleStageTest, KeywordsAreWholeWordsAndRequestFlagsWork) {
  auto s = build(R"(
rules:
  - {name: urgent, when: {keywords: [urgent]}, route: large}
  - {name: tools, when: {has_tools: true}, route: large}
  - {name: json, when: {json_mode: true}, route: small}
  - {name: many, when: {message_count: {gte: 3}}, route: small}
)");
  ASSERT_TRUE(s) << d.errors()[0];
  EXPECT_EQ(run(*s, chat("this is Urgent!")).reason, "rule:urgent keywords");
  EXPECT_EQ(run(*s, chat("insurgent groups")).kind, Decision::Kind::pass);
  EXPECT_EQ(run(*s, chat("x", R"(,"tools":[{"type":"function","function":{"name":"f"}}])")).target, "large");
  EXPECT_EQ(run(*s, chat("x", R"(,"response_format":{"type":"json_object"})")).target, "small");
  EXPECT_EQ(run(*s, R"({"model":"a","messages":[{"role":"system","content":"s"},{"role":"user","content":"u"},{"role":"user","content":"v"}]})").target, "small");
}

TEST_F(RuleStageTest, RegexIsLinearTimeOnHostileInput) {
  // (a+)+$ takes exponential time in a backtracking engine on "aaaa...!"; RE2 does not backtrack.
  auto s = build(R"(
rules:
  - {name: evil, when: {regex: "(a+)+$"}, route: large}
)");
  ASSERT_TRUE(s) << d.errors()[0];
  std::string hostile(100000, 'a');
  hostile += "!";
  auto t0 = std::chrono::steady_clock::now();
  auto r = run(*s, chat(hostile));
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.kind, Decision::Kind::pass);
  EXPECT_LT(ms, 2000) << "a backtracking engine would never finish";
}

TEST_F(RuleStageTest, BadRulesAreConfigErrors) {
  EXPECT_FALSE(build("rules: [{when: {regex: \"(unclosed\"}, route: large}]"));
  EXPECT_FALSE(build("rules: [{when: {prompt_tokens: {gt: 1}}, route: nowhere}]"));
  EXPECT_FALSE(build("rules: [{when: {colour: red}, route: large}]"));
  EXPECT_FALSE(build("rules: [{when: {tier: free}, route: large, reject: {}}]"));
  EXPECT_FALSE(build("rules: []"));
  // Found by fuzzing: `route:` without a value built and routed to model "".
  EXPECT_FALSE(build("rules: [{when: {tier: free}, route: }]"));
}


// ---- metadata: conditions over the caller's key metadata ----

struct MetadataRuleTest : RuleStageTest {
  config::AuthKey search_key = make_key("searcher", {{"team", "search"}, {"plan", "enterprise"}});
  config::AuthKey ads_key = make_key("adder", {{"team", "ads"}, {"plan", "free"}});
  config::AuthKey billing_key = make_key("biller", {{"team", "billing"}, {"plan", "enterprise"}});
  config::AuthKey bare_key = make_key("bare", {});

  static config::AuthKey make_key(std::string name, std::vector<std::pair<std::string, std::string>> metadata) {
    config::AuthKey k;
    k.name = std::move(name);
    k.metadata = std::move(metadata);
    return k;
  }
  static Caller caller(const config::AuthKey& k, int index = 0) { return Caller{k.name, "", &k, index}; }
};

TEST_F(MetadataRuleTest, MatchesOneOfTheListedValues) {
  auto s = build(R"(
rules:
  - {name: teams, when: {metadata: {team: [search, ads]}}, route: large}
)");
  ASSERT_TRUE(s) << d.errors()[0];
  auto hit = run(*s, chat("hello"), caller(search_key));
  EXPECT_EQ(hit.kind, Decision::Kind::route);
  EXPECT_EQ(hit.target, "large");
  EXPECT_EQ(hit.reason.rfind("rule:teams ", 0), 0u) << hit.reason;
  EXPECT_NE(hit.reason.find("metadata.team"), std::string::npos) << hit.reason;
  EXPECT_EQ(run(*s, chat("hello"), caller(ads_key)).target, "large");
  EXPECT_EQ(run(*s, chat("hello"), caller(billing_key)).kind, Decision::Kind::pass);
  // A key without that metadata, and a caller without a key (even one with a tier or a name), do not match.
  EXPECT_EQ(run(*s, chat("hello"), caller(bare_key)).kind, Decision::Kind::pass);
  EXPECT_EQ(run(*s, chat("hello")).kind, Decision::Kind::pass);
  EXPECT_EQ(run(*s, chat("hello"), Caller{"searcher", "search"}).kind, Decision::Kind::pass);
}

TEST_F(MetadataRuleTest, ASingleValueAndCaseSensitivity) {
  auto s = build(R"(
rules:
  - {name: search, when: {metadata: {team: search}}, route: small}
)");
  ASSERT_TRUE(s) << d.errors()[0];
  EXPECT_EQ(run(*s, chat("x"), caller(search_key)).target, "small");
  EXPECT_EQ(run(*s, chat("x"), caller(ads_key)).kind, Decision::Kind::pass);
  config::AuthKey shouty = make_key("shouty", {{"team", "SEARCH"}});
  EXPECT_EQ(run(*s, chat("x"), caller(shouty)).kind, Decision::Kind::pass);
  config::AuthKey other_name = make_key("other", {{"Team", "search"}});
  EXPECT_EQ(run(*s, chat("x"), caller(other_name)).kind, Decision::Kind::pass);
}

TEST_F(MetadataRuleTest, EveryNameMustMatch) {
  auto s = build(R"(
rules:
  - {name: paying-search, when: {metadata: {team: [search, billing], plan: enterprise}}, route: large}
  - {name: free, when: {metadata: {plan: free}}, route: small}
)");
  ASSERT_TRUE(s) << d.errors()[0];
  auto hit = run(*s, chat("x"), caller(search_key));
  EXPECT_EQ(hit.target, "large");
  EXPECT_NE(hit.reason.find("metadata.team"), std::string::npos) << hit.reason;
  EXPECT_NE(hit.reason.find("metadata.plan"), std::string::npos) << hit.reason;
  EXPECT_EQ(run(*s, chat("x"), caller(billing_key)).target, "large");
  EXPECT_EQ(run(*s, chat("x"), caller(ads_key)).target, "small");  // team ads: not the first rule
  config::AuthKey half = make_key("half", {{"team", "search"}});  // no plan
  EXPECT_EQ(run(*s, chat("x"), caller(half)).kind, Decision::Kind::pass);
  config::AuthKey wrong_plan = make_key("wrong", {{"team", "search"}, {"plan", "pro"}});
  EXPECT_EQ(run(*s, chat("x"), caller(wrong_plan)).kind, Decision::Kind::pass);
  EXPECT_EQ(run(*s, chat("x")).kind, Decision::Kind::pass);
}

TEST_F(MetadataRuleTest, CombinesWithOtherConditions) {
  auto s = build(R"(
rules:
  - name: search-long
    when: {metadata: {team: search}, prompt_chars: {gt: 20}}
    route: large
  - name: not-search
    when: {not: {metadata: {team: search}}}
    reject: {status: 403, message: "search team only"}
  - name: any
    when: {any: [{metadata: {team: ads}}, {tier: pro}]}
    route: small
)");
  ASSERT_TRUE(s) << d.errors()[0];
  EXPECT_EQ(run(*s, chat("a fairly long prompt for the large model"), caller(search_key)).target, "large");
  EXPECT_EQ(run(*s, chat("short"), caller(search_key)).kind, Decision::Kind::pass);
  auto rejected = run(*s, chat("short"), caller(ads_key));
  EXPECT_EQ(rejected.kind, Decision::Kind::reject);
  EXPECT_EQ(http_status(rejected.error), 403);
  EXPECT_EQ(run(*s, chat("short")).kind, Decision::Kind::reject);  // no key: not search
}

TEST_F(MetadataRuleTest, KeyMetadataFromTheConfig) {
  config::Diagnostics cd;
  auto keyed = config::load_config_text(R"(
providers: [{name: mock, type: mock}]
models: [{name: small, provider: mock}, {name: large, provider: mock}]
auth:
  keys:
    - {name: s, key: search-key-1, metadata: {team: search}}
    - {name: a, key: ads-key-22, metadata: {team: ads}}
)", "k.yaml", cd);
  ASSERT_TRUE(keyed) << cd.errors()[0];
  auto s = build("rules: [{name: search, when: {metadata: {team: search}}, route: large}]");
  ASSERT_TRUE(s) << d.errors()[0];
  const config::AuthKey* sk = keyed->auth.find("search-key-1");
  const config::AuthKey* ak = keyed->auth.find("ads-key-22");
  ASSERT_TRUE(sk && ak);
  EXPECT_EQ(run(*s, chat("x"), Caller{sk->name, "", sk, 0}).target, "large");
  EXPECT_EQ(run(*s, chat("x"), Caller{ak->name, "", ak, 1}).kind, Decision::Kind::pass);
}

TEST_F(MetadataRuleTest, BadValueShapesAreConfigErrors) {
  for (const char* yaml : {
           "rules: [{when: {metadata: [team]}, route: large}]",
           "rules: [{when: {metadata: search}, route: large}]",
           "rules: [{when: {metadata: {}}, route: large}]",
           "rules: [{when: {metadata: {team: {name: search}}}, route: large}]",
       }) {
    d = config::Diagnostics();
    auto s = build(yaml);
    EXPECT_FALSE(s) << yaml;
    EXPECT_FALSE(d.empty()) << yaml;
  }
  // A list holding something other than strings: an error even though the rest of the list is fine.
  d = config::Diagnostics();
  build("rules: [{when: {metadata: {team: [search, [ads]]}}, route: large}]");
  EXPECT_FALSE(d.empty());
}

TEST_F(MetadataRuleTest, AMissingValueIsAConfigError) {
  // Regression: `metadata: {team: }` (or `team: ~`, or `team: ""`) once made the rule stage fail without
  // a diagnostic, and the router dropped the stage and loaded without its rules. Now the value is an
  // error, and the router refuses any stage whose factory fails silently.
  for (const char* yaml : {"rules: [{when: {metadata: {team: }}, route: large}]",
                           "rules: [{when: {metadata: {team: ~}}, route: large}]",
                           "rules: [{when: {metadata: {team: \"\"}}, route: large}]",
                           "rules: [{when: {metadata: {team: []}}, route: large}]",
                           "rules: [{when: {tier: }, route: large}]"}) {
    d = config::Diagnostics();
    auto s = build(yaml);
    EXPECT_FALSE(s) << yaml;
    EXPECT_FALSE(d.empty()) << yaml << ": the stage was refused without any config error";
  }
  // Through the router: the config must not load.
  config::Diagnostics cd;
  auto routed = config::load_config_text(R"(
providers: [{name: mock, type: mock}]
models: [{name: small, provider: mock}, {name: large, provider: mock}]
routers:
  - name: auto
    default: small
    stages:
      - {type: rule, name: by-team, rules: [{when: {metadata: {team: }}, route: large}]}
)", "r.yaml", cd);
  ASSERT_TRUE(routed) << cd.errors()[0];
  BuildContext ctx{*routed, nullptr, nullptr, nullptr, "", nullptr};
  config::Diagnostics rd;
  auto set = RouterSet::build(*routed, ctx, rd);
  EXPECT_FALSE(rd.empty());
  if (set) {
    ASSERT_NE(set->find("auto"), nullptr);
    EXPECT_EQ(set->find("auto")->stage_names(), std::vector<std::string>{"by-team"}) << "the rule stage was dropped";
  }
}

}  // namespace
}  // namespace sy::pipeline

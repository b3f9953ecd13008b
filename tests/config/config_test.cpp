#include "switchyard/config/config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

namespace sy::config {
namespace {

std::shared_ptr<const Config> load(const std::string& yaml, Diagnostics& d) { return load_config_text(yaml, "test.yaml", d); }

bool has_error(const Diagnostics& d, const std::string& fragment) {
  for (const auto& e : d.errors()) {
    if (e.find(fragment) != std::string::npos) return true;
  }
  return false;
}

TEST(ConfigTest, LoadsAValidConfigWithDefaults) {
  Diagnostics d;
  auto c = load(R"(
server: {listen: "127.0.0.1:9000", max_body_bytes: 1MiB, header_timeout: 2s}
providers:
  - {name: mock, type: mock, mock: {latency: 20ms, tokens_per_second: 10}}
models:
  - name: a
    deployments:
      - {provider: mock, model: up-a, input_price: 1.5, output_price: 2, rpm: 10}
    fallbacks: [b]
  - {name: b, provider: mock}
)", d);
  ASSERT_TRUE(c) << (d.errors().empty() ? "" : d.errors()[0]);
  EXPECT_EQ(c->server.port, 9000);
  EXPECT_EQ(c->server.max_body_bytes, 1 << 20);
  EXPECT_EQ(c->server.header_timeout, Millis(2000));
  EXPECT_GE(c->server.threads, 1);
  const auto* a = c->find_model("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->deployments[0].upstream_model, "up-a");
  EXPECT_EQ(a->deployments[0].id, "a/mock/0");
  EXPECT_EQ(a->deployments[0].rpm, 10);
  EXPECT_EQ(c->find_model("b")->deployments[0].upstream_model, "b");
  EXPECT_EQ(c->providers[0].mock.latency, Millis(20));
}

TEST(ConfigTest, ProviderOptionsAreParsedByTheirTypeAtLoad) {
  Diagnostics d;
  auto c = load(R"(
providers:
  - {name: az, type: azure, base_url: "https://r.openai.azure.com", options: {api_version: 2024-06-01}}
  - {name: ant, type: anthropic, base_url: "https://api.anthropic.com", options: {max_tokens: 8192, beta: [a-1, b-2], version: 2023-06-01}}
  - {name: ant1, type: anthropic, base_url: "https://api.anthropic.com", options: {beta: only-one}}
  - {name: br, type: bedrock, options: {region: eu-west-1, max_tokens: 512}}
models:
  - {name: a, provider: az}
)", d);
  ASSERT_TRUE(c) << (d.errors().empty() ? "" : d.errors()[0]);
  EXPECT_EQ(c->providers[0].kind, ProviderKind::azure);
  EXPECT_EQ(c->providers[0].options.api_version, "2024-06-01");
  EXPECT_EQ(c->providers[1].options.max_tokens, 8192);
  EXPECT_EQ(c->providers[1].options.beta, (std::vector<std::string>{"a-1", "b-2"}));
  EXPECT_EQ(c->providers[1].options.version, "2023-06-01");
  EXPECT_EQ(c->providers[2].options.beta, std::vector<std::string>{"only-one"});
  EXPECT_EQ(c->providers[3].options.region, "eu-west-1");
  EXPECT_EQ(c->providers[3].options.max_tokens, 512);
  EXPECT_EQ(c->providers[3].base_url, "https://bedrock-runtime.eu-west-1.amazonaws.com");
}

TEST(ConfigTest, ABadProviderOptionIsAConfigErrorWithItsPath) {
  Diagnostics d;
  auto c = load(R"(
providers:
  - {name: ant, type: anthropic, base_url: "https://api.anthropic.com", options: {max_tokens: lots}}
  - {name: az, type: azure, base_url: "https://r.openai.azure.com", options: {api_verison: 2024-06-01}}
  - {name: oai, type: openai, base_url: "https://api.openai.com/v1", options: {region: x}}
  - {name: br, type: bedrock, options: {max_tokens: 0}}
models:
  - {name: a, provider: ant}
)", d);
  EXPECT_FALSE(c);
  EXPECT_TRUE(has_error(d, "providers[0].options.max_tokens")) << d.errors()[0];
  EXPECT_TRUE(has_error(d, "providers[1].options.api_verison")) << d.errors()[0];
  EXPECT_TRUE(has_error(d, "did you mean \"api_version\"?"));
  EXPECT_TRUE(has_error(d, "take no options"));
  EXPECT_TRUE(has_error(d, "providers[3].options.max_tokens"));
  EXPECT_TRUE(has_error(d, "bedrock providers need options.region"));
}

TEST(ConfigTest, PromptCachePricesDefaultByProviderType) {
  Diagnostics d;
  auto c = load(R"(
providers:
  - {name: oai, type: openai, base_url: "https://api.openai.com/v1"}
  - {name: ant, type: anthropic, base_url: "https://api.anthropic.com"}
models:
  - {name: a, provider: oai, input_price: 2.0, output_price: 8}
  - {name: b, provider: ant, input_price: 3.0, output_price: 15}
  - {name: c, provider: oai, input_price: 2.0, output_price: 8, cached_input_price: 0.2, cache_write_price: 2.5}
)", d);
  ASSERT_TRUE(c) << (d.errors().empty() ? "" : d.errors()[0]);
  const auto& a = c->find_model("a")->deployments[0];
  EXPECT_DOUBLE_EQ(a.cached_input_price, 1.0);
  EXPECT_DOUBLE_EQ(a.cache_write_price, 2.0);
  const auto& b = c->find_model("b")->deployments[0];
  EXPECT_DOUBLE_EQ(b.cached_input_price, 0.3);
  EXPECT_DOUBLE_EQ(b.cache_write_price, 3.75);
  const auto& cc = c->find_model("c")->deployments[0];
  EXPECT_DOUBLE_EQ(cc.cached_input_price, 0.2);
  EXPECT_DOUBLE_EQ(cc.cache_write_price, 2.5);
}

TEST(ConfigTest, HostileDocumentsAreConfigErrorsNotCrashes) {
  // Flow and block nesting far beyond any real config, aliases that multiply, and a huge file.
  std::vector<std::string> docs = {std::string(100'000, '[') + std::string(100'000, ']'),
                                   "a: " + std::string(100'000, '{'), std::string(30'000, '-') };
  std::string dashes;
  for (int i = 0; i < 50'000; ++i) dashes += "- ";
  docs.push_back(dashes + "x");
  std::string blocks;
  for (int i = 0; i < 200; ++i) blocks += std::string(i, ' ') + "k" + std::to_string(i) + ":\n";
  docs.push_back(blocks);
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (char c = 'b'; c <= 'j'; ++c) {
    laughs += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) laughs += std::string(i ? ", " : "") + "*" + static_cast<char>(c - 1);
    laughs += "]\n";
  }
  docs.push_back(laughs);
  docs.push_back("server: {}\n#" + std::string(17u << 20, 'x'));
  for (const auto& doc : docs) {
    Diagnostics d;
    EXPECT_EQ(load(doc, d), nullptr) << doc.substr(0, 40);
    EXPECT_FALSE(d.empty());
  }
  Diagnostics deep;
  load("server: " + std::string(100, '[') + std::string(100, ']'), deep);
  EXPECT_TRUE(has_error(deep, "nests deeper than 64 levels"));
  Diagnostics alias;
  load(laughs, alias);
  EXPECT_TRUE(has_error(alias, "more than 1000000 values"));
}

TEST(ConfigTest, EveryErrorNamesItsPathAndLine) {
  Diagnostics d;
  auto c = load(R"(server:
  lisen: 127.0.0.1:8080
providers:
  - {name: openai, type: openai, base_url: "ftp://x"}
models:
  - name: a
    deployments:
      - provider: opneai
        weight: heavy
)", d);
  EXPECT_FALSE(c);
  EXPECT_TRUE(has_error(d, "test.yaml:2: server.lisen: unknown key \"lisen\" (did you mean \"listen\"?)"));
  EXPECT_TRUE(has_error(d, "providers[0].base_url: expected an http:// or https:// URL"));
  EXPECT_TRUE(has_error(d, "test.yaml:8: models[0].deployments[0].provider: unknown provider \"opneai\""));
  EXPECT_TRUE(has_error(d, "test.yaml:9: models[0].deployments[0].weight: expected a number"));
}

TEST(ConfigTest, UnknownTopLevelSectionsAreErrorsNotIgnored) {
  Diagnostics d;
  auto c = load("providers: [{name: mock, type: mock}]\nmodels: [{name: a, provider: mock}]\nmetrics: {port: 9090}\nroutes: []\n", d);
  EXPECT_FALSE(c);
  EXPECT_TRUE(has_error(d, "test.yaml:3: metrics: unknown key \"metrics\""));
  EXPECT_TRUE(has_error(d, "(did you mean \"routers\"?)"));
}

TEST(ConfigTest, MissingEnvironmentVariableIsNamedAndNeverPrinted) {
  ::setenv("SY_TEST_PRESENT_KEY", "sk-very-secret", 1);
  ::unsetenv("SY_TEST_ABSENT_KEY");
  Diagnostics d;
  auto c = load(R"(
providers:
  - {name: a, type: openai, base_url: "https://api.openai.com/v1", api_key: "${SY_TEST_PRESENT_KEY}"}
  - {name: b, type: openai, base_url: "https://api.openai.com/v1", api_key: "${SY_TEST_ABSENT_KEY}"}
models: [{name: m, provider: a}]
)", d);
  EXPECT_FALSE(c);
  EXPECT_TRUE(has_error(d, "providers[1].api_key: environment variable SY_TEST_ABSENT_KEY is not set"));
  for (const auto& e : d.errors()) EXPECT_EQ(e.find("sk-very-secret"), std::string::npos);
  Diagnostics ok;
  auto c2 = load(R"(
providers: [{name: a, type: openai, base_url: "https://api.openai.com/v1", api_key: "${SY_TEST_PRESENT_KEY}"}]
models: [{name: m, provider: a}]
)", ok);
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->providers[0].api_key, "sk-very-secret");
}

TEST(ConfigTest, DefaultsInEnvironmentReferences) {
  ::unsetenv("SY_TEST_ABSENT_URL");
  Diagnostics d;
  auto c = load(R"(
providers: [{name: a, type: openai, base_url: "${SY_TEST_ABSENT_URL:-http://127.0.0.1:1234/v1}"}]
models: [{name: m, provider: a}]
)", d);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->providers[0].url.port, 1234);
  EXPECT_EQ(c->providers[0].url.base_path, "/v1");
}

TEST(ConfigTest, ParsesUrls) {
  auto u = parse_url("https://api.openai.com/v1/");
  ASSERT_TRUE(u);
  EXPECT_TRUE(u->tls);
  EXPECT_EQ(u->host, "api.openai.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->base_path, "/v1");
  auto v6 = parse_url("http://[::1]:8080");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 8080);
  EXPECT_FALSE(parse_url("api.openai.com"));
  EXPECT_FALSE(parse_url("http://:80"));
}

TEST(ConfigTest, DurationsAndSizes) {
  EXPECT_EQ(parse_duration_ms("250ms"), 250);
  EXPECT_EQ(parse_duration_ms("5s"), 5000);
  EXPECT_EQ(parse_duration_ms("2m"), 120000);
  EXPECT_EQ(parse_duration_ms("100"), 100);
  EXPECT_FALSE(parse_duration_ms("soon"));
  EXPECT_EQ(parse_bytes("4MiB"), 4 << 20);
  EXPECT_EQ(parse_bytes("16KiB"), 16 << 10);
  EXPECT_EQ(parse_bytes("1MB"), 1000000);
  EXPECT_FALSE(parse_bytes("lots"));
}

TEST(ConfigTest, YamlSyntaxErrorsHaveALine) {
  Diagnostics d;
  EXPECT_FALSE(load("models: [unclosed\n", d));
  ASSERT_FALSE(d.errors().empty());
  EXPECT_NE(d.errors()[0].find("YAML syntax error"), std::string::npos);
}

TEST(ConfigTest, RouterNamesMayNotShadowModels) {
  Diagnostics d;
  EXPECT_FALSE(load(R"(
providers: [{name: mock, type: mock}]
models: [{name: auto, provider: mock}]
routers: [{name: auto, default: auto}]
)", d));
  EXPECT_TRUE(has_error(d, "router name \"auto\" is also a model name"));
}


// ---- auth.keys and admin.keys ----

constexpr const char* kModels = R"(
providers: [{name: mock, type: mock}]
models: [{name: small, provider: mock}, {name: large, provider: mock}]
routers: [{name: auto, default: small}]
)";

std::shared_ptr<const Config> load_keys(const std::string& sections, Diagnostics& d) {
  return load(std::string(kModels) + sections, d);
}

std::string first_error(const Diagnostics& d) { return d.errors().empty() ? "" : d.errors()[0]; }

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// sha256("bob-secret-key-456"), upper case: the hex form may be given in either case.
constexpr const char* kBobSha = "0093E17904E71923D996B7F6BEF4DF9F74152AFBF3D3363CCDD29D79BF0528B1";

TEST(AuthConfigTest, ParsesCallerKeysWithMetadataModelsAndLimits) {
  Diagnostics d;
  auto c = load_keys(std::string(R"(
auth:
  required: true
  trust_tier_header: false
  public_paths: [/v1/models]
  keys:
    - name: alice
      key: alice-secret-123
      tier: pro
      metadata: {team: search, region: eu}
      models: [small, auto]
      rpm: 60
      tpm: 100000
      budget: {daily_usd: 5, monthly_usd: 100.5}
    - name: bob
      key_sha256: )") + kBobSha + R"(
    - key: nameless-key-789
)", d);
  ASSERT_TRUE(c) << first_error(d);
  EXPECT_TRUE(c->auth.required);
  EXPECT_FALSE(c->auth.trust_tier_header);
  EXPECT_EQ(c->auth.public_paths, std::vector<std::string>{"/v1/models"});
  ASSERT_EQ(c->auth.keys.size(), 3u);

  const AuthKey* alice = c->auth.find("alice-secret-123");
  ASSERT_NE(alice, nullptr);
  EXPECT_EQ(alice->name, "alice");
  EXPECT_EQ(alice->key, "alice-secret-123");
  EXPECT_EQ(alice->hash, sha256("alice-secret-123"));
  EXPECT_EQ(alice->tier, "pro");
  EXPECT_EQ(alice->rpm, 60);
  EXPECT_EQ(alice->tpm, 100000);
  ASSERT_TRUE(alice->daily_usd);
  EXPECT_DOUBLE_EQ(*alice->daily_usd, 5);
  ASSERT_TRUE(alice->monthly_usd);
  EXPECT_DOUBLE_EQ(*alice->monthly_usd, 100.5);
  EXPECT_EQ(alice->models, (std::vector<std::string>{"small", "auto"}));

  // A key configured by its SHA-256 is found by the key itself, never by its hex.
  const AuthKey* bob = c->auth.find("bob-secret-key-456");
  ASSERT_NE(bob, nullptr);
  EXPECT_EQ(bob->name, "bob");
  EXPECT_TRUE(bob->key.empty());
  EXPECT_EQ(bob->hash, sha256("bob-secret-key-456"));
  EXPECT_FALSE(bob->rpm);
  EXPECT_FALSE(bob->daily_usd);
  EXPECT_FALSE(bob->monthly_usd);
  EXPECT_EQ(c->auth.find(kBobSha), nullptr);
  EXPECT_EQ(c->auth.find(sha256_hex("bob-secret-key-456")), nullptr);

  // A key without a name is named after its index.
  const AuthKey* nameless = c->auth.find("nameless-key-789");
  ASSERT_NE(nameless, nullptr);
  EXPECT_EQ(nameless->name, "key2");

  EXPECT_EQ(c->auth.find("alice-secret-12"), nullptr);
  EXPECT_EQ(c->auth.find("alice-secret-1234"), nullptr);
  EXPECT_EQ(c->auth.find(""), nullptr);
  EXPECT_EQ(c->auth.find_by_hash(sha256("alice-secret-123")), alice);
}

TEST(AuthConfigTest, AllowsAndMeta) {
  Diagnostics d;
  auto c = load_keys(R"(
auth:
  keys:
    - {name: limited, key: limited-key-1, models: [small, auto], metadata: {team: search, plan: "42"}}
    - {name: open, key: open-key-2}
    - {name: one, key: one-key-3, models: large}
)", d);
  ASSERT_TRUE(c) << first_error(d);
  const AuthKey* limited = c->auth.find("limited-key-1");
  const AuthKey* open = c->auth.find("open-key-2");
  const AuthKey* one = c->auth.find("one-key-3");
  ASSERT_TRUE(limited && open && one);
  EXPECT_TRUE(limited->allows("small"));
  EXPECT_TRUE(limited->allows("auto"));
  EXPECT_FALSE(limited->allows("large"));
  EXPECT_FALSE(limited->allows(""));
  EXPECT_FALSE(limited->allows("smal"));
  EXPECT_TRUE(open->allows("small"));
  EXPECT_TRUE(open->allows("large"));
  EXPECT_TRUE(open->allows("anything"));  // no list: every model
  EXPECT_EQ(one->models, std::vector<std::string>{"large"});  // a single string is a list of one
  EXPECT_TRUE(one->allows("large"));
  EXPECT_FALSE(one->allows("small"));

  ASSERT_NE(limited->meta("team"), nullptr);
  EXPECT_EQ(*limited->meta("team"), "search");
  ASSERT_NE(limited->meta("plan"), nullptr);
  EXPECT_EQ(*limited->meta("plan"), "42");
  EXPECT_EQ(limited->meta("region"), nullptr);
  EXPECT_EQ(limited->meta("Team"), nullptr);
  EXPECT_EQ(open->meta("team"), nullptr);
  EXPECT_EQ(limited->metadata.size(), 2u);
}

TEST(AuthConfigTest, KeyAndKeySha256AreExclusive) {
  Diagnostics both;
  EXPECT_FALSE(load_keys(std::string("auth: {keys: [{name: a, key: some-long-key, key_sha256: ") + kBobSha + "}]}\n", both));
  EXPECT_TRUE(has_error(both, "give exactly one of key and key_sha256")) << first_error(both);
  Diagnostics neither;
  EXPECT_FALSE(load_keys("auth: {keys: [{name: a, tier: pro}]}\n", neither));
  EXPECT_TRUE(has_error(neither, "give exactly one of key and key_sha256")) << first_error(neither);
  Diagnostics admin_neither;
  EXPECT_FALSE(load_keys("admin: {keys: [{name: ops}]}\n", admin_neither));
  EXPECT_TRUE(has_error(admin_neither, "give exactly one of key and key_sha256")) << first_error(admin_neither);
}

TEST(AuthConfigTest, BadKeySha256IsAnError) {
  std::string good = sha256_hex("whatever-key");
  for (const std::string& bad : {good.substr(1), good + "a", "g" + good.substr(1), std::string("not-a-hash"),
                                 good.substr(0, 32) + " " + good.substr(33)}) {
    Diagnostics d;
    EXPECT_FALSE(load_keys("auth: {keys: [{name: a, key_sha256: \"" + bad + "\"}]}\n", d)) << bad;
    EXPECT_TRUE(has_error(d, "auth.keys[0].key_sha256: expected 64 hex digits")) << first_error(d);
  }
  Diagnostics admin;
  EXPECT_FALSE(load_keys("admin: {keys: [{name: ops, key_sha256: abc}]}\n", admin));
  EXPECT_TRUE(has_error(admin, "expected 64 hex digits")) << first_error(admin);
}

TEST(AuthConfigTest, KeysShorterThanEightCharactersAreErrors) {
  Diagnostics d;
  EXPECT_FALSE(load_keys("auth: {keys: [{name: a, key: \"1234567\"}]}\n", d));
  EXPECT_TRUE(has_error(d, "auth.keys[0].key: keys must be at least 8 characters")) << first_error(d);
  Diagnostics admin;
  EXPECT_FALSE(load_keys("admin: {keys: [{name: ops, key: short}]}\n", admin));
  EXPECT_TRUE(has_error(admin, "keys must be at least 8 characters")) << first_error(admin);
  Diagnostics ok;
  EXPECT_TRUE(load_keys("auth: {keys: [{name: a, key: \"12345678\"}]}\n", ok)) << first_error(ok);
}

TEST(AuthConfigTest, ModelsMustNameAModelOrRouter) {
  Diagnostics d;
  EXPECT_FALSE(load_keys("auth: {keys: [{name: a, key: key-aaaa-1, models: [small, nope]}]}\n", d));
  EXPECT_TRUE(has_error(d, "auth.keys[0].models: unknown model or router \"nope\"")) << first_error(d);
  Diagnostics ok;
  EXPECT_TRUE(load_keys("auth: {keys: [{name: a, key: key-aaaa-1, models: [small, large, auto]}]}\n", ok)) << first_error(ok);
}

TEST(AuthConfigTest, DuplicateNamesAndKeysAreErrors) {
  Diagnostics names;
  EXPECT_FALSE(load_keys("auth: {keys: [{name: a, key: key-aaaa-1}, {name: a, key: key-bbbb-2}]}\n", names));
  EXPECT_TRUE(has_error(names, "auth.keys[1]: duplicate key name \"a\"")) << first_error(names);
  // A default name can collide with an explicit one.
  Diagnostics defaulted;
  EXPECT_FALSE(load_keys("auth: {keys: [{name: key1, key: key-aaaa-1}, {key: key-bbbb-2}]}\n", defaulted));
  EXPECT_TRUE(has_error(defaulted, "duplicate key name \"key1\"")) << first_error(defaulted);

  Diagnostics same;
  EXPECT_FALSE(load_keys("auth: {keys: [{name: a, key: key-aaaa-1}, {name: b, key: key-aaaa-1}]}\n", same));
  EXPECT_TRUE(has_error(same, "auth.keys[1]: the same key is configured twice")) << first_error(same);
  // The same key once in plain text and once by its hash.
  Diagnostics hashed;
  EXPECT_FALSE(load_keys("auth: {keys: [{name: a, key: key-aaaa-1}, {name: b, key_sha256: " + sha256_hex("key-aaaa-1") +
                             "}]}\n",
                         hashed));
  EXPECT_TRUE(has_error(hashed, "the same key is configured twice")) << first_error(hashed);
  Diagnostics admin;
  EXPECT_FALSE(load_keys("admin: {keys: [{name: x, key: admin-key-1}, {name: y, key: admin-key-1}]}\n", admin));
  EXPECT_TRUE(has_error(admin, "the same key is configured twice")) << first_error(admin);
}

TEST(AuthConfigTest, AdminKeyMayNotAlsoBeACallerKey) {
  Diagnostics d;
  EXPECT_FALSE(load_keys(R"(
auth: {keys: [{name: alice, key: shared-key-123}]}
admin: {keys: [{name: ops, key: shared-key-123}]}
)", d));
  EXPECT_TRUE(has_error(d, "admin: admin key \"ops\" is also a caller key")) << first_error(d);
  Diagnostics hashed;
  EXPECT_FALSE(load_keys("auth: {keys: [{name: alice, key: shared-key-123}]}\nadmin: {keys: [{name: ops, key_sha256: " +
                             sha256_hex("shared-key-123") + "}]}\n",
                         hashed));
  EXPECT_TRUE(has_error(hashed, "admin key \"ops\" is also a caller key")) << first_error(hashed);
  Diagnostics ok;
  auto c = load_keys(R"(
auth: {keys: [{name: alice, key: caller-key-123}]}
admin: {keys: [{name: ops, key: admin-key-123}, {key: admin-key-456}]}
)", ok);
  ASSERT_TRUE(c) << first_error(ok);
  ASSERT_NE(c->admin.find("admin-key-123"), nullptr);
  EXPECT_EQ(c->admin.find("admin-key-123")->name, "ops");
  ASSERT_NE(c->admin.find("admin-key-456"), nullptr);
  EXPECT_EQ(c->admin.find("admin-key-456")->name, "admin1");
  EXPECT_EQ(c->admin.find("caller-key-123"), nullptr);
  EXPECT_EQ(c->auth.find("admin-key-123"), nullptr);
  EXPECT_FALSE(c->admin.open);
}

TEST(AuthConfigTest, UnknownFieldsAreErrors) {
  struct Case {
    std::string yaml, error;
  };
  for (const auto& [yaml, error] : std::vector<Case>{
           {"auth: {keys: [{name: a, key: key-aaaa-1, colour: red}]}\n", "auth.keys[0].colour: unknown key \"colour\""},
           {"auth: {keys: [{name: a, key: key-aaaa-1, budget: {weekly_usd: 1}}]}\n",
            "auth.keys[0].budget.weekly_usd: unknown key"},
           {"auth: {reqired: true, keys: [{name: a, key: key-aaaa-1}]}\n", "auth.reqired: unknown key"},
           // Admin keys take no caller settings.
           {"admin: {keys: [{name: ops, key: admin-key-1, tier: pro}]}\n", "admin.keys[0].tier: unknown key"},
           {"admin: {keys: [{name: ops, key: admin-key-1, rpm: 5}]}\n", "admin.keys[0].rpm: unknown key"},
           {"admin: {opne: true}\n", "admin.opne: unknown key"},
       }) {
    Diagnostics d;
    EXPECT_FALSE(load_keys(yaml, d)) << yaml;
    EXPECT_TRUE(has_error(d, error)) << yaml << " -> " << first_error(d);
  }
}

TEST(AuthConfigTest, BadValuesAreErrors) {
  struct Case {
    std::string yaml, error;
  };
  for (const auto& [yaml, error] : std::vector<Case>{
           {"auth: {keys: [{name: a, key: key-aaaa-1, metadata: [team]}]}\n", "expected a map of names to values"},
           {"auth: {keys: [{name: a, key: key-aaaa-1, metadata: {team: [a, b]}}]}\n", "metadata values are strings"},
           {"auth: {keys: [{name: a, key: key-aaaa-1, rpm: 0}]}\n", "auth.keys[0].rpm"},
           {"auth: {keys: [{name: a, key: key-aaaa-1, tpm: lots}]}\n", "auth.keys[0].tpm"},
           {"auth: {keys: [{name: a, key: key-aaaa-1, budget: {daily_usd: -1}}]}\n", "auth.keys[0].budget.daily_usd"},
           {"auth: {keys: [{name: a, key: key-aaaa-1, budget: 5}]}\n", "expected a map with daily_usd and/or monthly_usd"},
           {"auth: {keys: {name: a, key: key-aaaa-1}}\n", "expected a list of keys"},
           {"auth: {keys: [just-a-key]}\n", "expected a map with name and key or key_sha256"},
           {"auth: {required: true}\n", "auth.required needs at least one key"},
       }) {
    Diagnostics d;
    EXPECT_FALSE(load_keys(yaml, d)) << yaml;
    EXPECT_TRUE(has_error(d, error)) << yaml << " -> " << first_error(d);
  }
}

TEST(AuthConfigTest, SecretValuesHoldPlainKeysButNothingForHashedOnes) {
  Diagnostics d;
  auto c = load_keys(std::string(R"(
auth:
  keys:
    - {name: alice, key: alice-secret-123}
    - {name: bob, key_sha256: )") + kBobSha + R"(}
admin:
  keys:
    - {name: ops, key: admin-secret-456}
    - {name: ops2, key_sha256: )" + sha256_hex("admin-secret-789") + R"(}
)", d);
  ASSERT_TRUE(c) << first_error(d);
  auto secrets = secret_values(*c);
  EXPECT_TRUE(contains(secrets, "alice-secret-123"));
  EXPECT_TRUE(contains(secrets, "admin-secret-456"));
  EXPECT_FALSE(contains(secrets, "bob-secret-key-456"));
  EXPECT_FALSE(contains(secrets, kBobSha));
  EXPECT_FALSE(contains(secrets, sha256_hex("admin-secret-789")));
  for (const auto& s : secrets) EXPECT_FALSE(s.empty());
  // Only the plain keys (and whatever AWS credentials the environment holds) come from keys.
  std::size_t aws = 0;
  for (const char* var : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}) {
    if (const char* v = std::getenv(var); v && *v) ++aws;
  }
  EXPECT_EQ(secrets.size(), 2u + aws);
}

TEST(AuthConfigTest, AdminOpenIsParsed) {
  Diagnostics d;
  auto c = load_keys("admin: {open: true}\n", d);
  ASSERT_TRUE(c) << first_error(d);
  EXPECT_TRUE(c->admin.open);
  EXPECT_TRUE(c->admin.keys.empty());
  Diagnostics d2;
  auto c2 = load_keys("admin: {open: false, keys: [{key: admin-key-1}]}\n", d2);
  ASSERT_TRUE(c2) << first_error(d2);
  EXPECT_FALSE(c2->admin.open);
  Diagnostics d3;
  auto c3 = load_keys("", d3);
  ASSERT_TRUE(c3) << first_error(d3);
  EXPECT_FALSE(c3->admin.open);
  EXPECT_FALSE(c3->auth.required);
  EXPECT_TRUE(c3->auth.trust_tier_header);
  Diagnostics bad;
  EXPECT_FALSE(load_keys("admin: {open: perhaps}\n", bad));
  EXPECT_TRUE(has_error(bad, "admin.open")) << first_error(bad);
}

}  // namespace
}  // namespace sy::config

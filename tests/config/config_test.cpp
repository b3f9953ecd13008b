#include "switchyard/config/config.hpp"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace sy::config

#include "switchyard/telemetry/gateway_metrics.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace sy::telemetry {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kConfig = R"(
providers:
  - {name: mock, type: mock}
  - {name: oai, type: openai, base_url: "http://127.0.0.1:9/v1"}
models:
  - name: small
    deployments:
      - {provider: mock}
      - {provider: oai, model: gpt-up}
  - {name: large, provider: mock}
routers: [{name: auto, default: small}]
auth:
  keys:
    - {name: alice, key: alice-key-123}
    - {name: bob, key: bob-key-4567}
)";

struct GatewayMetricsTest : ::testing::Test {
  config::Diagnostics d;
  std::shared_ptr<const config::Config> cfg = config::load_config_text(kConfig, "t.yaml", d);
  Registry reg;
  GatewayMetrics gm{reg};
  int router_tag = 0;  // the router's identity is only an address
  std::shared_ptr<const ConfigMetrics> cm;
  const config::ModelConfig* small = nullptr;
  const config::ModelConfig* large = nullptr;
  const config::DeploymentConfig* dep0 = nullptr;  // small/mock/0
  const config::DeploymentConfig* dep1 = nullptr;  // small/oai/1

  void SetUp() override {
    ASSERT_TRUE(cfg) << (d.errors().empty() ? "" : d.errors()[0]);
    small = cfg->find_model("small");
    large = cfg->find_model("large");
    dep0 = &small->deployments[0];
    dep1 = &small->deployments[1];
    ASSERT_EQ(dep0->id, "small/mock/0");
    ASSERT_EQ(dep1->id, "small/oai/1");
    cm = gm.for_config(*cfg, {RouterInfo{&router_tag, "auto", {"rules", "cascade"}}});
    ASSERT_TRUE(cm);
  }

  RequestSample answered(const config::DeploymentConfig* dep, int status) {
    RequestSample s;
    s.operation = "chat";
    s.requested_model = "small";
    s.model = small;
    s.deployment = dep;
    s.status = status;
    return s;
  }
};

TEST_F(GatewayMetricsTest, RecordsRequestsTokensCostAndKeys) {
  RequestSample ok = answered(dep0, 200);
  ok.usage = {100, 20, 30, 0, true};
  ok.cost_usd = 0.25;
  ok.seconds = 1.5;
  ok.upstream_seconds = 1.2;
  ok.overhead_seconds = 0.0002;
  ok.time_to_first_token = 0.3;
  ok.key_index = 0;
  cm->record(ok);

  RequestSample limited = answered(dep0, 429);
  limited.key_index = 1;
  cm->record(limited);

  RequestSample aborted = answered(dep1, 499);  // the client went away
  aborted.key_index = 0;
  aborted.usage = {10, 0, 0, 0, true};
  cm->record(aborted);

  RequestSample upstream_error = answered(dep1, 502);
  upstream_error.cost_usd = 0.5;
  upstream_error.key_index = 1;
  cm->record(upstream_error);

  RequestSample bad = answered(dep0, 400);
  bad.key_index = 7;  // out of range: ignored for keys, counted otherwise
  cm->record(bad);

  std::string out = reg.render();
  // Requests by status class, 429 and 499 apart from 4xx.
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"small\",deployment=\"small/mock/0\",code=\"2xx\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"small\",deployment=\"small/mock/0\",code=\"429\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"small\",deployment=\"small/mock/0\",code=\"4xx\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"small\",deployment=\"small/mock/0\",code=\"5xx\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"small\",deployment=\"small/oai/1\",code=\"499\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"small\",deployment=\"small/oai/1\",code=\"5xx\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"small\",deployment=\"small/oai/1\",code=\"4xx\"} 0\n"));
  // Nothing went to the model rows.
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"small\",deployment=\"\",code=\"2xx\"} 0\n"));

  // Tokens (only when usage is known) and cost.
  EXPECT_THAT(out, HasSubstr("switchyard_tokens_total{model=\"small\",deployment=\"small/mock/0\",type=\"input\"} 100\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_tokens_total{model=\"small\",deployment=\"small/mock/0\",type=\"output\"} 20\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_tokens_total{model=\"small\",deployment=\"small/mock/0\",type=\"cached\"} 30\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_tokens_total{model=\"small\",deployment=\"small/oai/1\",type=\"input\"} 10\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_cost_usd_total{model=\"small\",deployment=\"small/mock/0\"} 0.25\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_cost_usd_total{model=\"small\",deployment=\"small/oai/1\"} 0.5\n"));

  // Per key, by auth.keys index, labelled by name.
  EXPECT_THAT(out, HasSubstr("switchyard_key_requests_total{key=\"alice\",code=\"2xx\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_key_requests_total{key=\"alice\",code=\"499\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_key_requests_total{key=\"alice\",code=\"4xx\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_key_requests_total{key=\"bob\",code=\"429\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_key_requests_total{key=\"bob\",code=\"5xx\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_key_spend_usd_total{key=\"alice\"} 0.25\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_key_spend_usd_total{key=\"bob\"} 0.5\n"));

  // OpenTelemetry histograms: the provider label is the provider's type.
  EXPECT_THAT(out, HasSubstr("gen_ai_client_token_usage_sum{gen_ai_request_model=\"small\",gen_ai_provider_name=\"mock\","
                             "gen_ai_token_type=\"input\",deployment=\"small/mock/0\"} 100\n"));
  EXPECT_THAT(out, HasSubstr("gen_ai_client_token_usage_bucket{gen_ai_request_model=\"small\",gen_ai_provider_name=\"mock\","
                             "gen_ai_token_type=\"output\",deployment=\"small/mock/0\",le=\"16\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("gen_ai_client_token_usage_bucket{gen_ai_request_model=\"small\",gen_ai_provider_name=\"mock\","
                             "gen_ai_token_type=\"output\",deployment=\"small/mock/0\",le=\"64\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("gen_ai_client_operation_duration_seconds_count{gen_ai_request_model=\"small\","
                             "gen_ai_provider_name=\"mock\",deployment=\"small/mock/0\"} 3\n"));
  EXPECT_THAT(out, HasSubstr("gen_ai_client_operation_duration_seconds_sum{gen_ai_request_model=\"small\","
                             "gen_ai_provider_name=\"mock\",deployment=\"small/mock/0\"} 1.5\n"));
  EXPECT_THAT(out, HasSubstr("gen_ai_client_operation_duration_seconds_count{gen_ai_request_model=\"small\","
                             "gen_ai_provider_name=\"openai\",deployment=\"small/oai/1\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("gen_ai_server_time_to_first_token_seconds_count{gen_ai_request_model=\"small\","
                             "gen_ai_provider_name=\"mock\",deployment=\"small/mock/0\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("gen_ai_server_time_to_first_token_seconds_sum{gen_ai_request_model=\"small\","
                             "gen_ai_provider_name=\"mock\",deployment=\"small/mock/0\"} 0.3\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_upstream_duration_seconds_sum{deployment=\"small/mock/0\"} 1.2\n"));
  // Every request observes the proxy overhead.
  EXPECT_THAT(out, HasSubstr("switchyard_proxy_overhead_seconds_count 5\n"));
}

TEST_F(GatewayMetricsTest, UnansweredRequestsCountOnTheModelRow) {
  RequestSample s;
  s.model = large;
  s.status = 503;
  s.seconds = 2;
  cm->record(s);
  RequestSample unknown;  // a model the config does not have
  unknown.requested_model = "nope";
  unknown.status = 404;
  cm->record(unknown);
  std::string out = reg.render();
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"large\",deployment=\"\",code=\"5xx\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"\",deployment=\"\",code=\"4xx\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("gen_ai_client_operation_duration_seconds_sum{gen_ai_request_model=\"large\","
                             "gen_ai_provider_name=\"\",deployment=\"\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"large\",deployment=\"large/mock/0\",code=\"5xx\"} 0\n"));
}

TEST_F(GatewayMetricsTest, ADeploymentNotInTheConfigFallsBackToTheModelRow) {
  config::DeploymentConfig stranger = *dep0;  // same id, different object: another config's deployment
  RequestSample s = answered(&stranger, 200);
  s.usage = {5, 5, 0, 0, true};
  s.cost_usd = 1;
  cm->record(s);
  std::string out = reg.render();
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"small\",deployment=\"\",code=\"2xx\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"small\",deployment=\"small/mock/0\",code=\"2xx\"} 0\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_tokens_total{model=\"small\",deployment=\"small/mock/0\",type=\"input\"} 0\n"));
  // And with neither a known deployment nor a known model: the unknown row.
  config::ModelConfig other_model;
  RequestSample s2 = answered(&stranger, 200);
  s2.model = &other_model;
  cm->record(s2);
  EXPECT_THAT(reg.render(), HasSubstr("switchyard_requests_total{model=\"\",deployment=\"\",code=\"2xx\"} 1\n"));
}

TEST_F(GatewayMetricsTest, FailedAttemptsByReason) {
  RequestSample s = answered(dep1, 200);
  s.failed_attempts = {{dep0, ErrorKind::rate_limited},
                       {dep0, ErrorKind::rate_limited},
                       {dep0, ErrorKind::server_error},
                       {dep1, ErrorKind::timeout},
                       {dep0, ErrorKind::cancelled},  // not an upstream failure reason: no series, no crash
                       {nullptr, ErrorKind::connection}};
  cm->record(s);
  std::string out = reg.render();
  EXPECT_THAT(out, HasSubstr("switchyard_failed_attempts_total{deployment=\"small/mock/0\",reason=\"rate_limited\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_failed_attempts_total{deployment=\"small/mock/0\",reason=\"server_error\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_failed_attempts_total{deployment=\"small/oai/1\",reason=\"timeout\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_failed_attempts_total{deployment=\"small/mock/0\",reason=\"connection\"} 0\n"));
  EXPECT_THAT(out, Not(HasSubstr("reason=\"cancelled\"")));
}

TEST_F(GatewayMetricsTest, RoutingDecisionsByStageAndEscalations) {
  RequestSample a = answered(dep0, 200);
  a.router = &router_tag;
  a.stage = "rules";
  cm->record(a);
  RequestSample b = answered(dep1, 200);
  b.router = &router_tag;
  b.stage = "cascade";
  b.escalations = 2;
  cm->record(b);
  cm->record(b);
  RequestSample c = answered(dep0, 200);
  c.router = &router_tag;
  c.stage = "default";
  cm->record(c);
  RequestSample unknown_stage = answered(dep0, 200);
  unknown_stage.router = &router_tag;
  unknown_stage.stage = "semantic";  // not a stage of this router: not counted
  cm->record(unknown_stage);
  int other = 0;
  RequestSample unknown_router = answered(dep0, 200);
  unknown_router.router = &other;
  unknown_router.stage = "rules";
  unknown_router.escalations = 5;
  cm->record(unknown_router);
  RequestSample named_model = answered(dep0, 200);  // no router
  named_model.stage = "rules";
  cm->record(named_model);

  std::string out = reg.render();
  EXPECT_THAT(out, HasSubstr("switchyard_routing_decisions_total{router=\"auto\",stage=\"rules\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_routing_decisions_total{router=\"auto\",stage=\"cascade\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_routing_decisions_total{router=\"auto\",stage=\"default\"} 1\n"));
  EXPECT_THAT(out, Not(HasSubstr("stage=\"semantic\"")));
  EXPECT_THAT(out, HasSubstr("switchyard_cascade_escalations_total{router=\"auto\"} 4\n"));
}

TEST_F(GatewayMetricsTest, FallbacksReloadsAndTokenGaps) {
  RequestSample s = answered(dep1, 200);
  s.fallback = true;
  cm->record(s);
  gm.config_reloaded(true);
  gm.config_reloaded(true);
  gm.config_reloaded(false);
  gm.token_gap(0.002);
  std::string out = reg.render();
  EXPECT_THAT(out, HasSubstr("switchyard_fallbacks_total{model=\"small\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_config_reloads_total{result=\"ok\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_config_reloads_total{result=\"failed\"} 1\n"));
  EXPECT_THAT(out, HasSubstr("gen_ai_server_time_per_output_token_seconds_count 1\n"));
}

TEST_F(GatewayMetricsTest, AReloadOfTheSameConfigKeepsCounting) {
  RequestSample s = answered(dep0, 200);
  s.key_index = 0;
  cm->record(s);
  // A fresh load of the same text: new objects, same series.
  config::Diagnostics d2;
  auto cfg2 = config::load_config_text(kConfig, "t.yaml", d2);
  ASSERT_TRUE(cfg2);
  auto cm2 = gm.for_config(*cfg2, {RouterInfo{&router_tag, "auto", {"rules", "cascade"}}});
  RequestSample s2;
  s2.model = cfg2->find_model("small");
  s2.deployment = &s2.model->deployments[0];
  s2.status = 200;
  s2.key_index = 0;
  cm2->record(s2);
  std::string out = reg.render();
  EXPECT_THAT(out, HasSubstr("switchyard_requests_total{model=\"small\",deployment=\"small/mock/0\",code=\"2xx\"} 2\n"));
  EXPECT_THAT(out, HasSubstr("switchyard_key_requests_total{key=\"alice\",code=\"2xx\"} 2\n"));
}

}  // namespace
}  // namespace sy::telemetry

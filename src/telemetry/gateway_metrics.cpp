#include "switchyard/telemetry/gateway_metrics.hpp"

namespace sy::telemetry {

namespace {
constexpr const char* kCodeNames[] = {"2xx", "4xx", "429", "5xx", "499"};
}

GatewayMetrics::GatewayMetrics(Registry& r) : registry_(r) {
  using T = MetricType;
  requests_ = &r.family("switchyard_requests", "Requests answered, by the model and deployment that answered and the status class.",
                        T::counter, {"model", "deployment", "code"});
  tokens_ = &r.family("switchyard_tokens", "Tokens billed by upstreams (type: input, output, cached; cached is part of input).",
                      T::counter, {"model", "deployment", "type"});
  token_usage_ = &r.family("gen_ai_client_token_usage", "Tokens per request (OpenTelemetry gen_ai.client.token.usage).",
                           T::histogram, {"gen_ai_request_model", "gen_ai_provider_name", "gen_ai_token_type", "deployment"},
                           &token_buckets());
  duration_ = &r.family("gen_ai_client_operation_duration_seconds",
                        "Whole request time (OpenTelemetry gen_ai.client.operation.duration).", T::histogram,
                        {"gen_ai_request_model", "gen_ai_provider_name", "deployment"}, &latency_buckets());
  ttft_ = &r.family("gen_ai_server_time_to_first_token_seconds",
                    "Streams: request start to the first event sent (OpenTelemetry gen_ai.server.time_to_first_token).",
                    T::histogram, {"gen_ai_request_model", "gen_ai_provider_name", "deployment"}, &latency_buckets());
  upstream_ = &r.family("switchyard_upstream_duration_seconds", "Time spent waiting on upstreams per request.", T::histogram,
                        {"deployment"}, &latency_buckets());
  overhead_ = &r.family("switchyard_proxy_overhead_seconds", "The proxy's own time per request (upstream waits excluded).",
                        T::histogram, {}, &fast_buckets());
  cost_ = &r.family("switchyard_cost_usd", "Cost in USD from upstream usage and the deployment's prices.", T::counter,
                    {"model", "deployment"});
  decisions_ = &r.family("switchyard_routing_decisions", "Routed requests by router and deciding stage.", T::counter,
                         {"router", "stage"});
  shadow_decisions_ = &r.family("switchyard_shadow_decisions",
                                "Requests a router answered that its shadow router also decided, by the shadow's choice "
                                "(model empty: it would have rejected) and whether it agreed with the model that answered.",
                                T::counter, {"router", "shadow", "model", "agree"});
  shadow_cost_ = &r.family("switchyard_shadow_cost_usd",
                           "USD of the requests a shadow decided: what the shadow's choice would have cost (choice=shadow, "
                           "at the same token counts) and what the answer cost (choice=actual).",
                           T::counter, {"router", "shadow", "choice"});
  cache_lookups_ = &r.family("switchyard_cache_lookups",
                             "Requests to a router with an answer cache, by result: hit (answered from the cache), miss "
                             "(answered by a model, then stored when whole), bypass (not cacheable: images, a last message "
                             "that is not the user's).",
                             T::counter, {"router", "result"});
  escalations_ = &r.family("switchyard_cascade_escalations", "Cascade steps rejected (an escalation each).", T::counter,
                           {"router"});
  failed_attempts_ = &r.family("switchyard_failed_attempts", "Upstream attempts that failed, by reason (then retried, failed over, or the request's last).",
                               T::counter, {"deployment", "reason"});
  fallbacks_ = &r.family("switchyard_fallbacks", "Requests answered by a fallback model instead of the model routed to.",
                         T::counter, {"model"});
  key_requests_ = &r.family("switchyard_key_requests", "Requests by gateway key (auth.keys name) and status class.",
                            T::counter, {"key", "code"});
  key_spend_ = &r.family("switchyard_key_spend_usd", "USD spent by gateway key.", T::counter, {"key"});
  reloads_ = &r.family("switchyard_config_reloads", "Configuration reloads by result.", T::counter, {"result"});
  reloads_ok_ = &reloads_->counter({"ok"});
  reloads_failed_ = &reloads_->counter({"failed"});
  token_gap_ = &r.family("gen_ai_server_time_per_output_token_seconds",
                         "Streams: time between two events relayed (OpenTelemetry gen_ai.server.time_per_output_token).",
                         T::histogram, {}, &fast_buckets())
                    .histogram({});
}

std::shared_ptr<const ConfigMetrics> GatewayMetrics::for_config(const config::Config& config,
                                                                const std::vector<RouterInfo>& routers) {
  auto m = std::make_shared<ConfigMetrics>();
  m->overhead_ = &overhead_->histogram({});
  for (const auto& model : config.models) {
    auto& pm = m->models_[&model];
    for (size_t c = 0; c < ConfigMetrics::kCodes; ++c) pm.requests[c] = &requests_->counter({model.name, "", kCodeNames[c]});
    pm.duration = &duration_->histogram({model.name, "", ""});
    for (const auto& dep : model.deployments) {
      const std::string& provider = config.providers[dep.provider_index].type;
      auto& pd = m->deployments_[&dep];
      for (size_t c = 0; c < ConfigMetrics::kCodes; ++c) pd.requests[c] = &requests_->counter({model.name, dep.id, kCodeNames[c]});
      pd.input_tokens = &tokens_->counter({model.name, dep.id, "input"});
      pd.output_tokens = &tokens_->counter({model.name, dep.id, "output"});
      pd.cached_tokens = &tokens_->counter({model.name, dep.id, "cached"});
      pd.cost = &cost_->counter({model.name, dep.id});
      pd.input_usage = &token_usage_->histogram({model.name, provider, "input", dep.id});
      pd.output_usage = &token_usage_->histogram({model.name, provider, "output", dep.id});
      pd.duration = &duration_->histogram({model.name, provider, dep.id});
      pd.ttft = &ttft_->histogram({model.name, provider, dep.id});
      pd.upstream = &upstream_->histogram({dep.id});
      pd.fallback = &fallbacks_->counter({model.name});
      // The reasons an attempt fails and is retried or failed over (the upstream classification).
      for (ErrorKind k : {ErrorKind::rate_limited, ErrorKind::auth, ErrorKind::context_length, ErrorKind::content_filter,
                          ErrorKind::upstream_bad_request, ErrorKind::server_error, ErrorKind::timeout, ErrorKind::connection,
                          ErrorKind::unavailable, ErrorKind::not_found}) {
        pd.failed[static_cast<size_t>(k)] = &failed_attempts_->counter({dep.id, std::string(to_string(k))});
      }
    }
  }
  for (size_t c = 0; c < ConfigMetrics::kCodes; ++c) m->unknown_.requests[c] = &requests_->counter({"", "", kCodeNames[c]});
  m->unknown_.duration = &duration_->histogram({"", "", ""});
  for (const auto& k : config.auth.keys) {
    auto& pk = m->keys_.emplace_back();
    for (size_t c = 0; c < ConfigMetrics::kCodes; ++c) pk.requests[c] = &key_requests_->counter({k.name, kCodeNames[c]});
    pk.spend = &key_spend_->counter({k.name});
  }
  for (const auto& r : routers) {
    auto& pr = m->routers_[r.id];
    for (const auto& stage : r.stages) pr.decisions.emplace_back(stage, &decisions_->counter({r.name, stage}));
    pr.decisions.emplace_back("default", &decisions_->counter({r.name, "default"}));
    pr.escalations = &escalations_->counter({r.name});
    if (r.cache) {
      pr.cache = {&cache_lookups_->counter({r.name, "hit"}), &cache_lookups_->counter({r.name, "miss"}),
                  &cache_lookups_->counter({r.name, "bypass"})};
    }
  }
  return m;
}

std::size_t ConfigMetrics::code_slot(int status) {
  if (status == 429) return 2;
  if (status == 499) return 4;
  if (status >= 500) return 3;
  if (status >= 400) return 1;
  return 0;
}

void ConfigMetrics::record(const RequestSample& s) const {
  const std::size_t code = code_slot(s.status);
  overhead_->observe(s.overhead_seconds);
  if (s.key_index >= 0 && static_cast<std::size_t>(s.key_index) < keys_.size()) {
    const PerKey& pk = keys_[static_cast<std::size_t>(s.key_index)];
    pk.requests[code]->inc();
    if (s.cost_usd > 0) pk.spend->inc(s.cost_usd);
  }
  if (s.router) {
    if (auto it = routers_.find(s.router); it != routers_.end()) {
      for (const auto& [stage, counter] : it->second.decisions) {
        if (stage == s.stage) {
          counter->inc();
          break;
        }
      }
      if (s.escalations > 0) it->second.escalations->inc(s.escalations);
      if (s.cache >= 0 && s.cache < 3 && it->second.cache[static_cast<std::size_t>(s.cache)]) {
        it->second.cache[static_cast<std::size_t>(s.cache)]->inc();
      }
    }
  }
  for (const auto& [dep, kind] : s.failed_attempts) {
    auto it = deployments_.find(dep);
    if (it == deployments_.end()) continue;
    if (Counter* c = it->second.failed[static_cast<size_t>(kind) % it->second.failed.size()]) c->inc();
  }
  auto d = s.deployment ? deployments_.find(s.deployment) : deployments_.end();
  if (d == deployments_.end()) {
    auto m = s.model ? models_.find(s.model) : models_.end();
    const PerModel& pm = m == models_.end() ? unknown_ : m->second;
    pm.requests[code]->inc();
    pm.duration->observe(s.seconds);
    return;
  }
  const PerDeployment& pd = d->second;
  pd.requests[code]->inc();
  pd.duration->observe(s.seconds);
  pd.upstream->observe(s.upstream_seconds);
  if (s.time_to_first_token) pd.ttft->observe(*s.time_to_first_token);
  if (s.fallback) pd.fallback->inc();
  if (s.usage.known) {
    pd.input_tokens->inc(static_cast<double>(s.usage.prompt_tokens));
    pd.output_tokens->inc(static_cast<double>(s.usage.completion_tokens));
    pd.cached_tokens->inc(static_cast<double>(s.usage.cached_tokens));
    pd.input_usage->observe(static_cast<double>(s.usage.prompt_tokens));
    pd.output_usage->observe(static_cast<double>(s.usage.completion_tokens));
  }
  if (s.cost_usd > 0) pd.cost->inc(s.cost_usd);
}

void GatewayMetrics::shadow(std::string_view router, std::string_view shadow, std::string_view model, bool agree,
                            double expected_usd, double actual_usd) {
  std::string r(router), s(shadow);
  shadow_decisions_->counter({r, s, std::string(model), agree ? "true" : "false"}).inc();
  shadow_cost_->counter({r, s, "shadow"}).inc(expected_usd);
  shadow_cost_->counter({r, s, "actual"}).inc(actual_usd);
}

}  // namespace sy::telemetry

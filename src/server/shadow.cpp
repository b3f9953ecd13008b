#include "server/shadow.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

#include "switchyard/pipeline/model_caller.hpp"
#include "switchyard/telemetry/decision_log.hpp"
#include "switchyard/telemetry/gateway_metrics.hpp"

namespace sy::server {

namespace net = boost::asio;

namespace {

std::string shadow_line(const AnsweredRequest& a, const pipeline::Router& shadow, const pipeline::RouteResult& r,
                        std::string_view model, double expected) {
  nlohmann::json j;
  j["type"] = "shadow";
  j["ts_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  j["request_id"] = a.request_id;
  if (!a.caller.key_name.empty()) j["key"] = a.caller.key_name;
  j["router"] = a.router.name();
  j["shadow"] = shadow.name();
  j["model"] = model;
  j["stage"] = r.stage;
  j["reason"] = r.reason;
  j["agree"] = model == a.model;
  j["expected_cost_usd"] = expected;
  j["actual_model"] = a.model;
  j["actual_cost_usd"] = a.cost_usd;
  j["routing_us"] = std::round(r.micros * 10) / 10;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

net::awaitable<void> decide_shadow(const pipeline::Runtime& runtime, telemetry::GatewayMetrics* metrics,
                                   const AnsweredRequest& answered, pipeline::RequestFeatures::HeaderLookup headers) {
  const pipeline::Router* shadow = answered.router.shadow();
  if (!shadow) co_return;
  // The shadow decides with the router's defaults: a client's per-request controls (router, threshold,
  // debug) are addressed to the router that answers.
  pipeline::RequestFeatures features(answered.request, answered.caller, {}, std::move(headers), runtime.counter.get());
  pipeline::RouteResult r = co_await shadow->route(features, pipeline::no_model_calls());
  const std::string_view model = r.kind == pipeline::RouteResult::Kind::route ? std::string_view(r.model) : std::string_view{};
  const double expected = runtime.config->cost_on(model, answered.usage);
  if (runtime.decision_log) runtime.decision_log->write(shadow_line(answered, *shadow, r, model, expected));
  if (metrics) metrics->shadow(answered.router.name(), shadow->name(), model, model == answered.model, expected, answered.cost_usd);
}

}  // namespace sy::server

// The API surface: routes a request by method and path to its handler. Every error a handler meets
// goes to Session::send_error, the one place errors become HTTP.
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "server/admin.hpp"
#include "server/session.hpp"
#include "server/shadow.hpp"
#include "switchyard/core/numbers.hpp"
#include "switchyard/core/redact.hpp"
#include "switchyard/core/json_scan.hpp"
#include "switchyard/core/json_tree.hpp"
#include "switchyard/core/request.hpp"
#include "switchyard/core/sha256.hpp"
#include "switchyard/learn/features.hpp"
#include "switchyard/pipeline/dispatcher_model_caller.hpp"
#include "switchyard/pipeline/router.hpp"
#include "switchyard/providers/ingress.hpp"
#include "switchyard/providers/openai_sse.hpp"
#include "switchyard/limits/key_ledger.hpp"
#include "switchyard/state/shared_state.hpp"
#include "switchyard/telemetry/decision_log.hpp"
#include "switchyard/telemetry/gateway_metrics.hpp"
#include "switchyard/telemetry/log.hpp"
#include "switchyard/telemetry/recent.hpp"

namespace sy::server {

namespace {

using namespace boost::asio::experimental::awaitable_operators;
using pipeline::Outcome;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

/// The access-log line of one request, filled as it is handled and written once when it ends.
struct AccessLogEntry {
  InboundRequest& call;
  telemetry::AccessRecord rec;
  std::string error;
  std::string skipped;
  AccessLogEntry(InboundRequest& c, std::string_view path) : call(c) {
    rec.request_id = c.request_id;
    rec.method = c.req.method_string();
    rec.path = path;
  }
  void done(Clock::time_point end = Clock::now()) {
    if (call.status) rec.status = call.status;  // nothing sent: keeps what was set (499)
    rec.latency_ms = ms_between(call.started, end);
    rec.error = error;
    rec.skipped = skipped;
    if (telemetry::access_log_enabled()) telemetry::log_access(rec);
  }
};

/// Deployments passed over, with why: failed attempts (kind and status) and skips (cooldown, ...).
std::string skipped_text(const pipeline::DispatchTrace& trace) {
  std::string skipped;
  for (const auto& a : trace.attempts) {
    if (a.outcome == "ok") continue;
    if (!skipped.empty()) skipped += ", ";
    skipped += a.deployment + "=" + a.outcome + (a.status ? "(" + std::to_string(a.status) + ")" : "");
  }
  for (const auto& [d, why] : trace.skipped) {
    if (!skipped.empty()) skipped += ", ";
    skipped += d + "=" + why;
  }
  return skipped;
}

/// A request header's value, empty when absent (what rules, stages and shadows read headers with).
std::string_view request_header(const InboundRequest& call, std::string_view name) {
  auto it = call.req.find(name);
  return it == call.req.end() ? std::string_view{} : std::string_view(it->value());
}

void add_trace_headers(InboundRequest& call, const pipeline::DispatchTrace& trace) {
  if (!trace.model.empty()) call.add_header("x-switchyard-model", trace.model);
  if (!trace.deployment.empty()) call.add_header("x-switchyard-deployment", trace.deployment);
  call.add_header("x-switchyard-attempts", std::to_string(trace.attempts.size()));
  if (auto skipped = skipped_text(trace); !skipped.empty()) call.add_header("x-switchyard-skipped", skipped);
}


// Relays a committed stream to the client, re-encoded by the client's dialect (Anthropic events,
// Responses events) when it has an encoder. An error "client disconnected" means the client went away.
net::awaitable<Status> relay(Session& s, pipeline::ResponseStream& stream, std::string& buf,
                             providers::ingress::StreamEncoder* translator) {
  std::string translated;
  telemetry::GatewayMetrics* metrics = s.server().ops.metrics;
  Clock::time_point last_sent = Clock::now();
  for (;;) {
    buf.clear();
    auto more = co_await stream.next(buf);
    if (!more) co_return std::move(more).error();
    std::string_view out = buf;
    if (translator) {
      translated.clear();
      auto st = translator->feed(buf, translated);
      if (!st) co_return std::move(st).error();
      if (!*more) translator->finish(translated);
      out = translated;
    }
    if (!out.empty()) {
      if (!co_await s.send_chunk(out)) co_return Error::make(ErrorKind::connection, "client disconnected");
      if (metrics && *more) {  // the gap between two events relayed (the last one ends the stream)
        auto now = Clock::now();
        metrics->token_gap(std::chrono::duration<double>(now - last_sent).count());
        last_sent = now;
      }
    }
    if (!*more) co_return ok_status();
  }
}

nlohmann::json records_json(const pipeline::RouteResult& rr) {
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& r : rr.records) {
    nlohmann::json scores = nlohmann::json::object();
    for (const auto& [k, v] : r.scores) scores[k] = std::round(v * 10000) / 10000;
    stages.push_back({{"name", r.name}, {"type", r.type}, {"outcome", r.outcome}, {"reason", r.reason},
                      {"scores", std::move(scores)}, {"us", std::round(r.micros * 10) / 10}});
  }
  return stages;
}

using providers::ingress::Dialect;

/// Everything about one inference request that the access and decision logs report at the end.
struct InferenceState {
  AccessLogEntry log;
  const Dialect& dialect;
  std::string router;
  std::optional<pipeline::RouteResult> route;
  pipeline::DispatchTrace trace;
  Usage usage;
  double cost = 0;
  bool stage_answered = false;  ///< a router's stage produced the answer (a cascade), not the dispatcher
  std::string echo;  ///< what the dialect's answer repeats of the request (Decoded::echo)
  const pipeline::Router* router_ptr = nullptr;
  pipeline::Caller caller;
  limits::KeyAccount* account = nullptr;  ///< admitted against this key's limits: settle at the end
  std::optional<double> ttft_seconds;     ///< streams: to the first event sent
  std::optional<pipeline::CacheProbe> cache_probe;  ///< the router has an answer cache and the request fits it
  int cache_result = -1;  ///< the answer cache's verdict for metrics: 0 hit, 1 miss, 2 bypass
  telemetry::RecentDecisions::Ticket ticket;  ///< its slot among the recent decisions, once it is answered
  InferenceState(InboundRequest& c, std::string_view path, const Dialect& d) : log(c, path), dialect(d) {}
};

void write_decision(InboundRequest& call, const Request* req, InferenceState& st, Clock::time_point end, std::int64_t ts_ms) {
  const auto& dl = call.runtime->decision_log;
  if (!dl || !req) return;
  nlohmann::json j;
  j["ts_ms"] = ts_ms;
  j["request_id"] = call.request_id;
  if (!st.caller.key_name.empty()) j["key"] = st.caller.key_name;
  j["model_requested"] = req->model();
  j["router"] = st.router;
  if (st.route) {
    j["stage"] = st.route->stage;
    j["reason"] = st.route->reason;
    j["stages"] = records_json(*st.route);
    j["routing_us"] = std::round(st.route->micros * 10) / 10;
    // A strategy's path, "small:rejected(0.42) -> big:accepted(0.90)" (the cascade's x-switchyard-cascade):
    // `switchyard train --from-log` learns from its verdicts.
    if (!st.route->report.header_value.empty()) j["cascade"] = st.route->report.header_value;
    for (const auto& r : st.route->records) {
      for (const auto& [k, v] : r.scores) {
        if (r.type == "learned" && k == "score") j["score"] = v;
      }
    }
  }
  j["model"] = st.trace.model;
  j["deployment"] = st.trace.deployment;
  j["status"] = call.status;
  j["stream"] = req->stream();
  j["prompt_tokens"] = st.usage.prompt_tokens;
  j["completion_tokens"] = st.usage.completion_tokens;
  if (st.usage.cached_tokens) j["cached_tokens"] = st.usage.cached_tokens;
  j["cost_usd"] = st.cost;
  j["latency_ms"] = ms_between(call.started, end);
  j["upstream_ms"] = std::chrono::duration<double, std::milli>(st.trace.upstream_time).count();
  j["attempts"] = st.trace.attempts.size();
  if (!st.log.error.empty()) j["error"] = st.log.error;
  std::string_view prompt = req->last_user_text();
  if (dl->include_prompt()) {
    j["prompt"] = prompt;
    // The rest of the conversation as the learned router reads it, so that a router retrained from this
    // log (`switchyard train --from-log`) sees what it will see when serving.
    const learn::ConversationShape c = learn::conversation_shape(std::span<const MessageText>(req->messages()));
    if (c.earlier_messages || c.has_system) {
      j["conversation"] = {{"earlier_messages", c.earlier_messages}, {"has_system", c.has_system},
                           {"system_bytes", c.system_bytes}, {"context_bytes", c.context_bytes}};
    }
  } else {
    j["prompt_sha256"] = sha256_hex(prompt);
  }
  dl->write(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

/// Reads the per-request controls from headers, the body's `switchyard` object and `router@threshold`.
Result<pipeline::RequestControls> read_controls(InboundRequest& call, const Request& req, const config::Config& cfg,
                                                std::string& tier_hint) {
  pipeline::RequestControls c;
  auto hdr = [&](std::string_view n) { return request_header(call, n); };
  auto parse_threshold = [](std::string_view v) -> std::optional<double> {
    double x = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
    if (ec != std::errc() || p != v.data() + v.size() || !(x >= 0 && x <= 1e9)) return std::nullopt;
    return x;
  };
  c.router = std::string(hdr("x-switchyard-router"));
  if (auto t = hdr("x-switchyard-threshold"); !t.empty()) {
    c.threshold = parse_threshold(t);
    if (!c.threshold) return Error::bad_request("x-switchyard-threshold must be a non-negative number.", "x-switchyard-threshold");
  }
  auto dbg = hdr("x-switchyard-debug");
  c.debug = dbg == "1" || dbg == "true";
  tier_hint = std::string(hdr("x-switchyard-tier"));
  if (!req.extension().empty()) {
    auto ext = json::scan_object(req.extension());
    if (!ext) return Error::bad_request("'switchyard' must be an object.", "switchyard");
    for (const auto& f : ext->fields) {
      if (f.key == "router") {
        if (f.type != json::Type::string) return Error::bad_request("'switchyard.router' must be a string.", "switchyard.router");
        c.router = json::string_value(f.value).value_or("");
      } else if (f.key == "threshold") {
        if (f.type != json::Type::number) return Error::bad_request("'switchyard.threshold' must be a number.", "switchyard.threshold");
        c.threshold = parse_threshold(f.value);
        if (!c.threshold) return Error::bad_request("'switchyard.threshold' must be non-negative.", "switchyard.threshold");
      } else if (f.key == "debug") {
        c.debug = f.value == "true";
      } else if (f.key == "tier") {
        if (f.type != json::Type::string) return Error::bad_request("'switchyard.tier' must be a string.", "switchyard.tier");
        tier_hint = json::string_value(f.value).value_or("");
      } else {
        return Error::bad_request("Unknown field 'switchyard." + std::string(f.key) + "' (known: router, threshold, tier, debug).",
                                  "switchyard." + std::string(f.key));
      }
    }
  }
  // `auto@0.3`: for SDKs that can only set the model name.
  const std::string& model = req.model();
  if (auto at = model.rfind('@'); at != std::string::npos && !cfg.find_model(model)) {
    std::string base = model.substr(0, at);
    if (cfg.find_router(base)) {
      auto t = parse_threshold(std::string_view(model).substr(at + 1));
      if (!t) return Error::bad_request("The threshold after '@' in '" + model + "' must be a number.", "model");
      if (c.router.empty()) c.router = base;
      if (!c.threshold) c.threshold = t;
    }
  }
  return c;
}

Error unauthorized() {
  Error e = Error::make(ErrorKind::unauthorized, "Incorrect or missing API key for this gateway.");
  e.code = "invalid_api_key";
  return e;
}

/// The auth.keys entry matching the key the caller presented, or null; through the connection's cache.
const config::AuthKey* find_key(InboundRequest& call, const config::AuthConfig& auth) {
  std::string_view presented = presented_key(call);
  KeyCache* cache = call.key_cache;
  const std::uint64_t generation = call.runtime->generation;
  if (cache && cache->generation == generation && !presented.empty() && cache->presented == presented) return cache->match;
  const config::AuthKey* match = auth.find(presented);
  if (cache) {
    cache->presented.assign(presented);
    cache->generation = generation;
    cache->match = match;
  }
  return match;
}

/// The caller's gateway key and tier. Unauthorized when keys are required and none matches.
Result<pipeline::Caller> identify_caller(InboundRequest& call, const config::Config& cfg, const std::string& tier_hint) {
  pipeline::Caller caller;
  const auto& auth = cfg.auth;
  if (!auth.keys.empty()) {
    if (!call.key) call.key = find_key(call, auth);
    if (const config::AuthKey* match = *call.key) {
      caller.key = match;
      caller.key_index = static_cast<int>(match - auth.keys.data());
      caller.key_name = match->name;
      caller.tier = match->tier;
    } else if (auth.required) {
      return unauthorized();
    }
  }
  if (caller.tier.empty() && auth.trust_tier_header) caller.tier = tier_hint;
  return caller;
}

/// The errors of admit(), built outside the coroutine (GCC 12 and braced temporaries in coroutines).
Error not_allowed(const config::AuthKey& key, const std::string& name) {
  Error e = Error::make(ErrorKind::forbidden, "The key '" + key.name + "' may not use the model '" + name + "'.");
  e.param = "model";
  e.code = "model_not_allowed";
  return e;
}

Error shared_rpm_refused(const config::AuthKey& key) {
  Error e = Error::make(ErrorKind::rate_limited, "Key '" + key.name + "' is over its limit of " +
                                                     std::to_string(key.rpm.value_or(0)) + " requests per minute.");
  e.code = "rate_limit_exceeded";
  e.retry_after = std::chrono::milliseconds(1000);
  return e;
}

Error shared_unavailable(const config::AuthKey& key) {
  Error e = Error::make(ErrorKind::unavailable, "Key '" + key.name +
                                                    "' has a shared rate limit and the shared state is unreachable; retry shortly.");
  e.code = "shared_state_unavailable";
  e.retry_after = std::chrono::milliseconds(1000);
  return e;
}

/// A key's permissions and limits, checked before anything is routed or paid for: 403 when the key
/// may not use `name` (the model or router asked for), 429 when it is over its rpm, tpm or budget
/// (across replicas when they share state), 503 when shared state is down and the policy is closed.
net::awaitable<std::optional<Error>> admit(InboundRequest& call, InferenceState& st, const std::string& name) {
  const config::AuthKey* key = st.caller.key;
  if (!key) co_return std::nullopt;
  if (!key->allows(name)) co_return not_allowed(*key, name);
  const auto& accounts = call.runtime->accounts;
  if (static_cast<std::size_t>(st.caller.key_index) >= accounts.size()) co_return std::nullopt;
  limits::KeyAccount* account = accounts[static_cast<std::size_t>(st.caller.key_index)].get();
  auto shared_rpm = account->shared_rpm();
  if (auto refused = account->admit(*key, Clock::now(), std::chrono::system_clock::now(), !shared_rpm)) {
    // A spent budget does not come back in a few seconds: tell SDKs not to retry it.
    if (refused->code == "budget_exceeded") call.add_header("x-should-retry", "false");
    co_return refused;
  }
  // The lease covers most requests of a busy key: no coroutine, no Redis.
  if (shared_rpm && !shared_rpm->take_local(1, Clock::now())) {
    auto v = co_await state::reserve(shared_rpm, 1);
    if (v == state::Verdict::refused) {
      // Not admitted after all: this replica's own count (the fail-open fallback) must not hold it.
      account->uncount(Clock::now());
      co_return shared_rpm_refused(*key);
    }
    if (v == state::Verdict::unavailable) {
      auto* shared = shared_rpm->owner();
      if (!shared->config().rate_limits_fail_open) {
        shared->note_fail_closed();
        co_return shared_unavailable(*key);
      }
      shared->note_fail_open();
      if (auto over = account->over_local_rpm(*key, Clock::now())) co_return over;
    }
  }
  st.account = account;
  co_return std::nullopt;
}

// Sends an error in the client's dialect.
net::awaitable<void> send_error_as(Session& s, InboundRequest& call, const Dialect& dialect, const Error& e) {
  Error shown = e;
  if (e.kind == ErrorKind::method_not_allowed) shown.param.clear();  // the Allow header carries it
  co_await s.send_error(call, e, dialect.error_body(shown));
}

/// The headers that explain a router's decision: which router, the deciding stage, why, and the
/// strategy's own header (the cascade's path).
void add_route_headers(InboundRequest& call, const pipeline::Router& router, const pipeline::RouteResult& rr) {
  call.add_header("x-switchyard-router", router.name());
  call.add_text_header("x-switchyard-stage", rr.stage);
  call.add_text_header("x-switchyard-reason", rr.reason);
  if (!rr.report.header_name.empty()) call.add_text_header(rr.report.header_name, rr.report.header_value);
}

/// A router with an answer cache (answer_cache.hpp): a hit answers the request as a stage would, with the
/// cached body (replayed as a stream when the client streams), at no cost; a miss keeps the probe so the
/// answer can be stored.
net::awaitable<std::optional<Outcome>> look_up_answer(InboundRequest& call, const Request& req, InferenceState& st,
                                                      pipeline::AnswerCache& cache) {
  st.cache_probe = cache.probe(req, st.caller.key_name);
  if (!st.cache_probe) {
    st.cache_result = 2;
    call.add_header("x-switchyard-cache", "bypass");
    co_return std::nullopt;
  }
  auto hit = co_await cache.find(*st.cache_probe);
  if (!hit) {
    st.cache_result = 1;
    call.add_header("x-switchyard-cache", "miss");
    co_return std::nullopt;
  }
  Outcome out;
  if (req.stream()) {
    auto parsed = json::parse_tree<nlohmann::json>(hit->body, req.json_limits());
    if (!parsed || !parsed->contains("choices") || !(*parsed)["choices"].is_array() || (*parsed)["choices"].empty()) {
      co_return std::nullopt;
    }
    nlohmann::json& completion = *parsed;
    out.body = providers::replay_as_sse(completion, completion["choices"][0], req.client_wants_usage());
    out.sse = true;
  } else {
    out.body = std::move(hit->body);
  }
  st.cache_probe.reset();  // nothing to store
  pipeline::RouteResult rr;
  rr.kind = pipeline::RouteResult::Kind::respond;
  rr.model = std::move(hit->model);
  rr.stage = "cache";
  rr.reason = std::string(hit->exact ? "cache:exact" : "cache:similar similarity=" + fixed(hit->similarity, 3)) +
              (hit->shared ? " shared" : "");
  st.cache_result = 0;
  call.add_header("x-switchyard-cache", "hit");
  add_route_headers(call, *st.router_ptr, rr);
  st.stage_answered = true;
  st.route = std::move(rr);
  co_return out;
}

/// Routes the request (a router's stages may answer it themselves) and dispatches it to the chosen
/// model. Writes nothing to the client: response headers are collected on `call`, the answer or the
/// error is returned, so the caller can race this against the client leaving. `model` becomes the
/// model routed to.
net::awaitable<Result<Outcome>> route_and_dispatch(Session& s, InboundRequest& call, const Request& req, InferenceState& st,
                                                   std::string& model) {
  const config::Config& cfg = *call.runtime->config;
  std::string tier_hint;
  auto controls = read_controls(call, req, cfg, tier_hint);
  if (!controls) co_return std::move(controls).error();
  auto caller = identify_caller(call, cfg, tier_hint);
  if (!caller) co_return std::move(caller).error();
  st.caller = std::move(*caller);
  if (st.caller.key) {
    if (auto refused = co_await admit(call, st, controls->router.empty() ? model : controls->router)) {
      co_return std::move(*refused);
    }
  }

  // Routing: a router named by the controls or by `model`; otherwise `model` must be a real model.
  const pipeline::Router* router = nullptr;
  const auto& routers = call.runtime->routers;
  if (!controls->router.empty()) {
    router = routers ? routers->find(controls->router) : nullptr;
    if (!router) {
      Error e = Error::make(ErrorKind::not_found, "The router '" + controls->router + "' does not exist.");
      e.param = "router";
      e.code = "router_not_found";
      co_return e;
    }
  } else if (routers) {
    router = routers->find(model);
  }
  if (router) {
    st.router = router->name();
    st.log.rec.router = st.router;
    st.router_ptr = router;
    if (pipeline::AnswerCache* cache = router->cache()) {
      if (auto hit = co_await look_up_answer(call, req, st, *cache)) {
        model = st.route->model;
        co_return std::move(*hit);
      }
    }
    pipeline::RequestFeatures features(
        req, st.caller, *controls,
        [&call](std::string_view n) { return request_header(call, n); },
        call.runtime->counter.get());
    const pipeline::DispatcherModelCaller models(*call.runtime->dispatcher, s.io_thread().ctx);
    st.route = co_await router->route(features, models);
    auto& rr = *st.route;
    add_route_headers(call, *router, rr);
    if (controls->debug) {
      nlohmann::json dbg = {{"router", router->name()}, {"stages", records_json(rr)}, {"routing_us", rr.micros}};
      call.add_header("x-switchyard-debug", dbg.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    if (rr.kind == pipeline::RouteResult::Kind::reject) co_return rr.error;
    model = rr.model;
    if (rr.kind == pipeline::RouteResult::Kind::respond) {
      st.stage_answered = true;
      st.trace = std::move(rr.trace);
      if (!rr.outcome) co_return Error::make(ErrorKind::internal, "a stage answered without an outcome");
      co_return std::move(*rr.outcome);
    }
  }
  // An unknown model is the dispatcher's 404 model_not_found: its lookup of the name is the only one.
  co_return co_await call.runtime->dispatcher->dispatch(s.io_thread().ctx, req, model, st.trace);
}

/// The JSON guard's bounds for one request's exchange: its body's nesting (its size was bounded by
/// server.max_body_bytes while it was read), and the upstream documents it leads to.
json::Limits exchange_limits(const config::ServerConfig& sc) {
  return json::Limits{sc.max_json_depth, static_cast<std::size_t>(sc.max_upstream_body_bytes)};
}

/// A router with a `shadow:` router: the shadow decides the answered request too, after the answer was
/// sent (its time is not the client's), decision only (shadow.hpp).
bool shadow_applies(const InferenceState& st) {
  return st.router_ptr && st.router_ptr->shadow() && st.log.rec.status >= 200 && st.log.rec.status <= 299;
}
net::awaitable<void> shadow_after_answer(Session& s, InboundRequest& call, const Request& req, InferenceState& st) {
  const std::string& answered = !st.trace.model.empty() ? st.trace.model : (st.route ? st.route->model : req.model());
  AnsweredRequest a{*st.router_ptr, req, st.caller, call.request_id, answered, st.usage, st.cost};
  co_await decide_shadow(*call.runtime, s.server().ops.metrics, a,
                         [&call](std::string_view n) { return request_header(call, n); });
}

/// Proxy time so far: the request's time minus the time spent waiting on upstreams (the dispatched
/// call's, and those of stages that call models).
double overhead_ms(const InboundRequest& call, const InferenceState& st, Clock::time_point now) {
  auto upstream = st.trace.upstream_time + (st.route ? st.route->report.upstream_time : std::chrono::microseconds{0});
  return std::max(0.0, ms_between(call.started, now) - std::chrono::duration<double, std::milli>(upstream).count());
}

void record_usage(InferenceState& st, const Usage& usage, double cost) {
  st.usage = usage;
  st.cost = cost;
  st.log.rec.prompt_tokens = usage.prompt_tokens;
  st.log.rec.completion_tokens = usage.completion_tokens;
  st.log.rec.cost_usd = cost;
}

/// Ends a request, whatever became of it: the access log, the decision log and the recent decisions,
/// metrics, the per-minute usage, and the caller key's spend. `req` is null when the body never parsed.
void finish(Session& s, InboundRequest& call, const Request* req, InferenceState& st) {
  const auto end = Clock::now();
  st.log.done(end);
  const int status = st.log.rec.status ? st.log.rec.status : 499;  // nothing sent: the client left
  const auto wall = std::chrono::system_clock::now();
  const std::int64_t ts_ms = std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch()).count();
  write_decision(call, req, st, end, ts_ms);
  if (st.account) st.account->settle(end, wall, st.usage.prompt_tokens + st.usage.completion_tokens, st.cost);
  const std::string& routed = st.route ? st.route->model : (req ? req->model() : st.trace.model);
  const bool fallback = !st.trace.model.empty() && st.trace.model != routed;
  const Operations& ops = s.server().ops;
  const auto shard = static_cast<std::size_t>(s.io_thread().index);  // this io thread's own ring and timeline
  if (ops.usage) ops.usage->record(shard, ts_ms, status >= 400 && status != 499, fallback, st.cost);
  if (ops.decisions && req) {
    ops.decisions->record(st.ticket.seq ? st.ticket : telemetry::RecentDecisions::Ticket{shard, 0, 0}, [&](telemetry::DecisionRecord& r) {
      r.ts_ms = ts_ms;
      r.arrived_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(call.started.time_since_epoch()).count();
      r.request_id.assign(call.request_id);
      r.key.assign(st.caller.key_name);
      r.model_requested.assign(req->model());
      r.router.assign(st.router);
      r.stage.assign(st.route ? std::string_view(st.route->stage) : std::string_view{});
      r.reason.assign(st.route ? std::string_view(st.route->reason) : std::string_view{});
      r.model.assign(st.trace.model.empty() ? routed : st.trace.model);  // none answered: the model routed to
      r.deployment.assign(st.trace.deployment);
      r.error.assign(st.log.error);
      r.status = status;
      r.stream = req->stream();
      r.prompt_tokens = st.usage.prompt_tokens;
      r.completion_tokens = st.usage.completion_tokens;
      r.cost_usd = st.cost;
      r.latency_ms = ms_between(call.started, end);
      r.attempts = static_cast<int>(st.trace.attempts.size());
    });
  }
  const auto& metrics = call.runtime->metrics;
  if (!metrics) return;
  const config::Config& cfg = *call.runtime->config;
  const auto upstream = st.trace.upstream_time + (st.route ? st.route->report.upstream_time : std::chrono::microseconds{0});
  telemetry::RequestSample x;
  x.requested_model = req ? std::string_view(req->model()) : std::string_view{};
  // A failed request counts under the deployment that failed it last (its model's row otherwise).
  x.deployment = st.trace.deployment_config;
  if (!x.deployment && !st.trace.attempts.empty()) x.deployment = st.trace.attempts.back().config;
  if (!x.deployment) x.model = cfg.find_model(st.trace.model.empty() ? routed : st.trace.model);
  x.status = status;
  x.usage = st.usage;
  x.cost_usd = st.cost;
  x.seconds = std::chrono::duration<double>(end - call.started).count();
  x.upstream_seconds = std::chrono::duration<double>(upstream).count();
  x.overhead_seconds = std::max(0.0, x.seconds - x.upstream_seconds);
  x.time_to_first_token = st.ttft_seconds;
  x.router = st.router_ptr;
  x.cache = st.cache_result;
  if (st.route) {
    x.stage = st.route->stage;
    x.escalations = st.route->report.escalations;
  }
  for (const auto& a : st.trace.attempts) {
    if (a.outcome != "ok" && a.config) x.failed_attempts.emplace_back(a.config, a.kind);
  }
  x.fallback = fallback;
  x.key_index = st.caller.key_index;
  metrics->record(x);
}

providers::ingress::AnswerContext answer_context(const InferenceState& st, const std::string& model) {
  return {st.trace.upstream_model.empty() ? model : st.trace.upstream_model, st.echo};
}

/// A whole answer: a chat.completion body (or, from a stage, a complete event stream), encoded in the
/// client's dialect and sent at once.
net::awaitable<void> answer_whole(Session& s, InboundRequest& call, const Request& req, InferenceState& st, Outcome& out,
                                  const std::string& model) {
  const auto* dep = st.trace.deployment_config;
  // Stages that call models themselves (the cascade) report what they spent: the whole cost of an
  // answer they produced, or what comes on top of the routed call.
  const double stage_spent = st.route ? st.route->report.spent_usd : 0;
  double cost = st.stage_answered || out.sse ? stage_spent
                                             : stage_spent + (dep ? cost_usd(out.usage, dep->prices()) : 0);
  record_usage(st, out.usage, cost);
  double over = overhead_ms(call, st, Clock::now());
  call.add_header("x-switchyard-overhead-ms", fixed(over, 3));
  call.add_header("x-switchyard-cost-usd", fixed(cost, 8));
  st.log.rec.overhead_ms = over;
  auto ctx = answer_context(st, model);
  if (out.sse) {
    // A complete event stream produced by a stage (an accepted cascade answer), re-encoded for the
    // client's dialect like a live stream.
    if (auto encoder = st.dialect.stream_encoder(ctx)) {
      std::string encoded;
      if (auto ok = encoder->feed(out.body, encoded); !ok) {
        st.log.error = std::string(to_string(ok.error().kind)) + ": " + ok.error().message;
        co_await send_error_as(s, call, st.dialect, ok.error());
        co_return finish(s, call, &req, st);
      }
      encoder->finish(encoded);
      out.body = std::move(encoded);
    }
    if (co_await s.begin_stream(call, out.body)) co_await s.end_stream();
    co_return finish(s, call, &req, st);
  }
  if (st.cache_probe) {
    pipeline::AnswerCache* cache = st.router_ptr ? st.router_ptr->cache() : nullptr;
    const std::string& answered = !st.trace.model.empty() ? st.trace.model : model;
    if (cache) cache->store(*st.cache_probe, out.body, answered, Clock::now());
  }
  auto encoded = st.dialect.encode_response(std::move(out.body), ctx);
  if (!encoded) {
    st.log.error = std::string(to_string(encoded.error().kind)) + ": " + encoded.error().message;
    co_await send_error_as(s, call, st.dialect, encoded.error());
    co_return finish(s, call, &req, st);
  }
  co_await s.send(call, 200, std::move(*encoded));
  finish(s, call, &req, st);
}

/// The stream's last line: an SSE comment (every SSE client skips it) with what the request cost, the
/// streaming counterpart of the x-switchyard-cost-usd header.
std::string cost_comment(const InferenceState& st) {
  return ": switchyard-usage {\"cost_usd\":" + fixed(st.cost, 8) + ",\"prompt_tokens\":" +
         std::to_string(st.usage.prompt_tokens) + ",\"completion_tokens\":" + std::to_string(st.usage.completion_tokens) +
         ",\"cached_tokens\":" + std::to_string(st.usage.cached_tokens) + "}\n\n";
}

/// A live stream: the first event is in hand, so commit to 200 and send it with the head; then relay
/// events (re-encoded for the client's dialect) as they arrive, racing the client leaving.
net::awaitable<void> answer_stream(Session& s, InboundRequest& call, const Request& req, InferenceState& st, Outcome& out,
                                   const std::string& model) {
  AccessLogEntry& log = st.log;
  call.add_header("x-switchyard-overhead-ms", fixed(overhead_ms(call, st, Clock::now()), 3));
  auto encoder = st.dialect.stream_encoder(answer_context(st, model));
  std::string buf, first;
  buf.reserve(4096);
  auto initial = co_await out.stream->next(buf);  // the frames already received: no I/O
  if (initial && encoder) {
    auto ok = encoder->feed(buf, first);
    if (!ok) {  // nothing was sent yet: a plain error response
      log.error = std::string(to_string(ok.error().kind)) + ": " + ok.error().message;
      co_await send_error_as(s, call, st.dialect, ok.error());
      co_return finish(s, call, &req, st);
    }
    if (!*initial) encoder->finish(first);
  } else if (initial) {
    first.swap(buf);
  }
  if (!co_await s.begin_stream(call, first)) {
    call.keep_alive = false;
    log.error = "client disconnected";
    co_return finish(s, call, &req, st);
  }
  auto upstream_started = Clock::now();
  st.ttft_seconds = std::chrono::duration<double>(upstream_started - call.started).count();
  // If the client goes, the relay is cancelled, which destroys the upstream exchange and closes its
  // connection.
  auto result = co_await (relay(s, *out.stream, buf, encoder.get()) || s.wait_client_gone());
  bool client_gone = result.index() == 1;
  // Priced on the upstream's final usage (requested with stream_options.include_usage whether or not
  // the client asked; its usage chunk reaches the client only if it did).
  const auto* dep = st.trace.deployment_config;
  const double stage_spent = st.route ? st.route->report.spent_usd : 0;
  const Usage usage = out.stream->usage();
  record_usage(st, usage, stage_spent + (dep ? cost_usd(usage, dep->prices()) : 0));
  if (!client_gone) {
    Status relayed = std::get<0>(std::move(result));
    if (!relayed && relayed.error().message == "client disconnected") {
      client_gone = true;
    } else if (!relayed) {
      // Bytes already went to the client: no failover now. End the stream with an error event.
      const Error& e = relayed.error();
      log.error = std::string(to_string(e.kind)) + " mid-stream: " + e.message;
      std::string frame = encoder ? encoder->error_event(e) : st.dialect.error_event(e);
      // The error event and the last chunk end the response properly, so the connection stays open: the
      // client may already be sending its next request on it (closing here raced one that was).
      bool ended = co_await s.send_chunk(frame);
      if (ended) ended = co_await s.end_stream();
      if (!ended) call.keep_alive = false;
    } else {
      // Two statements: GCC 12 miscompiles co_await inside || and && (see Session::run).
      bool sent = co_await s.send_chunk(cost_comment(st));
      if (sent) sent = co_await s.end_stream();
      client_gone = !sent;
    }
  }
  if (client_gone) {
    call.keep_alive = false;
    log.error = "client disconnected mid-stream";
  }
  st.trace.upstream_time += std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - upstream_started);
  log.rec.overhead_ms = overhead_ms(call, st, Clock::now());
  out.stream.reset();  // close the upstream before logging
  finish(s, call, &req, st);
}

/// Every inference endpoint, whatever its dialect: decode to the internal chat request, route and
/// dispatch (racing the client's hang-up), answer in the client's dialect.
net::awaitable<void> inference(Session& s, InboundRequest& call, Endpoint ep, std::string_view path, const Dialect& dialect) {
  InferenceState st(call, path, dialect);
  AccessLogEntry& log = st.log;
  const json::Limits limits = exchange_limits(call.runtime->config->server);
  auto decoded = dialect.decode_request(std::move(call.req.body()), limits);
  Result<std::unique_ptr<Request>> parsed = decoded ? Request::parse(ep, std::move(decoded->chat_body), limits)
                                                    : Result<std::unique_ptr<Request>>(decoded.error());
  if (!parsed) {
    log.error = parsed.error().message;
    co_await send_error_as(s, call, dialect, parsed.error());
    co_return finish(s, call, nullptr, st);
  }
  st.echo = std::move(decoded->echo);
  const Request& req = **parsed;
  log.rec.model_requested = req.model();
  log.rec.stream = req.stream();

  // Routing and the upstream calls race the client leaving: a client that hangs up cancels them (and
  // frees their reservations) instead of leaving a paid call running for nobody.
  std::string model = req.model();
  s.watch_client();
  Result<Outcome> out = co_await route_and_dispatch(s, call, req, st, model);
  const bool client_gone = s.unwatch_client();
  // The cancellation (or not) is over; either way what follows starts clean.
  co_await net::this_coro::reset_cancellation_state();
  if (client_gone) {
    call.keep_alive = false;
    log.error = "client disconnected before the answer";
    log.rec.status = 499;
    co_return finish(s, call, &req, st);
  }
  // Feedback on this answer is accepted from the moment its first byte may reach the client.
  if (auto* decisions = s.server().ops.decisions) {
    st.ticket = decisions->open(static_cast<std::size_t>(s.io_thread().index), call.request_id, st.caller.key_name);
  }
  add_trace_headers(call, st.trace);
  log.rec.model_used = st.trace.model;
  log.rec.deployment = st.trace.deployment;
  log.rec.attempts = static_cast<int>(st.trace.attempts.size());
  log.skipped = skipped_text(st.trace);
  if (!out) {
    log.error = std::string(to_string(out.error().kind)) + ": " + out.error().message;
    co_await send_error_as(s, call, dialect, out.error());
    co_return finish(s, call, &req, st);
  }
  if (out->stream) co_await answer_stream(s, call, req, st, *out, model);
  else co_await answer_whole(s, call, req, st, *out, model);
  if (shadow_applies(st)) co_await shadow_after_answer(s, call, req, st);
}

nlohmann::json model_entry(const std::string& id, std::string_view owner) {
  return {{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", owner}};
}

/// POST /v1/feedback: {"request_id", "score"?, "label"?, "comment"?} about an answer this process gave
/// (its x-request-id). Kept with the request's record (/admin/decisions) and written to the decision log
/// as a `"type":"feedback"` line for `switchyard train` to join. A caller with a gateway key may only
/// rate its own requests; another caller's id is answered like an unknown one.
struct Feedback {
  std::string request_id, label, comment;
  std::optional<double> score;
};

Result<Feedback> parse_feedback(const std::string& body, const json::Limits& limits) {
  auto obj = json::scan_object(body, limits);
  if (!obj) return std::move(obj).error();
  Feedback f;
  for (const auto& field : obj->fields) {
    auto text = [&](std::string& out, std::size_t max) -> std::optional<Error> {
      if (field.type != json::Type::string) return Error::bad_request("'" + std::string(field.key) + "' must be a string.", std::string(field.key));
      out = json::string_value(field.value).value_or("");
      if (out.size() > max) {
        return Error::bad_request("'" + std::string(field.key) + "' is longer than " + std::to_string(max) + " bytes.",
                                  std::string(field.key));
      }
      return std::nullopt;
    };
    if (field.key == "request_id") {
      if (auto e = text(f.request_id, 128)) return *e;
    } else if (field.key == "label") {
      if (auto e = text(f.label, 64)) return *e;
    } else if (field.key == "comment") {
      if (auto e = text(f.comment, 4096)) return *e;
    } else if (field.key == "score") {
      auto v = field.type == json::Type::number ? std::optional<double>(json::number_value(field.value)) : std::nullopt;
      if (!v || !std::isfinite(*v) || std::fabs(*v) > 1e6) {
        return Error::bad_request("'score' must be a number (e.g. 0..1 or a 1..10 rating).", "score");
      }
      f.score = v;
    } else {
      return Error::bad_request("Unknown field '" + std::string(field.key) + "' (known: request_id, score, label, comment).",
                                std::string(field.key));
    }
  }
  if (f.request_id.empty() || !valid_request_id(f.request_id)) {
    return Error::bad_request("'request_id' must be the x-request-id of an answer (1 to 128 printable characters).",
                              "request_id", "invalid_request_id");
  }
  if (!f.score && f.label.empty()) return Error::bad_request("Give a 'score' or a 'label' (or both).", "score");
  return f;
}

std::string feedback_log_line(const Feedback& f, std::string_view key) {
  nlohmann::json j;
  j["type"] = "feedback";
  j["ts_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  j["request_id"] = f.request_id;
  if (!key.empty()) j["key"] = key;
  if (f.score) j["score"] = *f.score;
  if (!f.label.empty()) j["label"] = f.label;
  if (!f.comment.empty()) j["comment"] = f.comment;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Error request_not_found(const std::string& id) {
  Error e = Error::make(ErrorKind::not_found, "No answer with request id '" + id +
                                                  "' among the last ones this process gave (for this key).");
  e.param = "request_id";
  e.code = "request_not_found";
  return e;
}

net::awaitable<void> feedback(Session& s, InboundRequest& call, std::string_view path) {
  AccessLogEntry log(call, path);
  auto f = parse_feedback(call.req.body(), exchange_limits(call.runtime->config->server));
  if (!f) {
    log.error = f.error().message;
    co_await s.send_error(call, f.error());
    co_return log.done();
  }
  const auto& auth = call.runtime->config->auth;
  if (!auth.keys.empty() && !call.key) call.key = find_key(call, auth);
  std::string_view key = call.key && *call.key ? std::string_view((*call.key)->name) : std::string_view{};
  const auto* decisions = s.server().ops.decisions;
  if (!decisions || !s.server().ops.decisions->add_feedback(f->request_id, key, f->score, f->label, f->comment)) {
    co_await s.send_error(call, request_not_found(f->request_id));
    co_return log.done();
  }
  if (const auto& dl = call.runtime->decision_log) dl->write(feedback_log_line(*f, key));
  co_await s.send(call, 200, R"({"object":"feedback","recorded":true})");
  log.done();
}

/// Whether the caller's gateway key (if it presented one) may use `name`: a key limited to some models
/// and routers sees only those in the model list.
bool visible_to_caller(InboundRequest& call, std::string_view name) {
  const auto& auth = call.runtime->config->auth;
  if (auth.keys.empty()) return true;
  if (!call.key) call.key = find_key(call, auth);
  return !*call.key || (*call.key)->allows(name);
}

std::string models_json(InboundRequest& call) {
  const auto& cfg = *call.runtime->config;
  nlohmann::json data = nlohmann::json::array();
  for (const auto& r : cfg.routers) {
    if (visible_to_caller(call, r.name)) data.push_back(model_entry(r.name, "switchyard-router"));
  }
  for (const auto& m : cfg.models) {
    if (visible_to_caller(call, m.name)) data.push_back(model_entry(m.name, "switchyard"));
  }
  nlohmann::json body = {{"object", "list"}, {"data", std::move(data)}};
  return body.dump();
}

net::awaitable<void> list_models(Session& s, InboundRequest& call, std::string_view path) {
  AccessLogEntry log(call, path);
  co_await s.send(call, 200, models_json(call));
  log.done();
}

net::awaitable<void> get_model(Session& s, InboundRequest& call, std::string_view path, std::string_view id) {
  AccessLogEntry log(call, path);
  const auto& cfg = *call.runtime->config;
  std::string name(id);
  const bool visible = visible_to_caller(call, name);
  if (visible && cfg.find_router(name)) {
    co_await s.send(call, 200, model_entry(name, "switchyard-router").dump());
  } else if (visible && cfg.find_model(name)) {
    co_await s.send(call, 200, model_entry(name, "switchyard").dump());
  } else {
    Error e = Error::make(ErrorKind::not_found, "The model '" + name + "' does not exist or you do not have access to it.");
    e.param = "model";
    e.code = "model_not_found";
    co_await s.send_error(call, e);
  }
  log.done();
}

net::awaitable<void> health(Session& s, InboundRequest& call, bool ready) {
  if (!ready) {
    co_await s.send(call, 200, R"({"status":"ok"})");
    co_return;
  }
  const auto& cfg = *call.runtime->config;
  bool usable = !cfg.providers.empty() && !s.server().draining.load();
  if (usable) {
    co_await s.send(call, 200, R"({"status":"ready"})");
  } else {
    Error e = Error::make(ErrorKind::unavailable, s.server().draining.load() ? "shutting down" : "no provider is usable");
    co_await s.send_error(call, e);
  }
}

}  // namespace

net::awaitable<void> handle_request(Session& s, InboundRequest& call) {
  std::string_view target = call.req.target();
  std::string_view path = target.substr(0, target.find('?'));
  auto method = call.req.method();
  // Clients configured with a base URL without /v1 send the same paths unprefixed.
  std::string_view api = path.starts_with("/v1/") ? path.substr(3) : path;

  auto need = [&](http::verb v, const char* allow) -> std::optional<Error> {
    if (method == v || (v == http::verb::get && method == http::verb::head)) return std::nullopt;
    Error e = Error::make(ErrorKind::method_not_allowed,
                          "Method " + std::string(call.req.method_string()) + " is not allowed on " + std::string(path) +
                              "; use " + allow + ".");
    e.param = allow;  // becomes the Allow header
    return e;
  };

  const Dialect& dialect = providers::ingress::dialect_for_path(path);
  auto refuse = [&](const Error& e) -> net::awaitable<void> {
    AccessLogEntry log(call, path);
    log.error = e.message;
    co_await send_error_as(s, call, dialect, e);
    log.done();
  };

  // The admin API and /metrics answer admin keys only (or anyone, when admin.open says so). With
  // auth.required nothing else but the health checks, the dashboard page and the paths the config
  // opens answers without a caller key: not the model list, not even a 404 for a path that does not
  // exist.
  const auto& auth = call.runtime->config->auth;
  if (is_admin_path(path)) {
    if (auto refused = admin_refusal(call)) co_return co_await refuse(*refused);
  } else if (auth.required && path != "/healthz" && path != "/readyz" && path != "/ui" && path != "/ui/" &&
             std::find(auth.public_paths.begin(), auth.public_paths.end(), path) == auth.public_paths.end()) {
    if (!call.key) call.key = find_key(call, auth);
    if (!*call.key) co_return co_await refuse(unauthorized());
  }
  if (is_admin_path(path) || path == "/ui" || path == "/ui/") {
    AccessLogEntry log(call, path);
    std::string_view query = target.size() > path.size() ? target.substr(path.size() + 1) : std::string_view{};
    if (co_await dispatch_admin(s, call, path, query)) co_return log.done();
  }

  // Inference: every dialect decodes to a chat request and goes down the same path.
  std::optional<Endpoint> ep;
  if (api == "/chat/completions" || api == "/messages" || api == "/responses") ep = Endpoint::chat;
  else if (api == "/completions") ep = Endpoint::completions;
  else if (api == "/embeddings") ep = Endpoint::embeddings;
  if (ep) {
    if (auto e = need(http::verb::post, "POST")) co_return co_await refuse(*e);
    co_return co_await inference(s, call, *ep, path, dialect);
  }
  if (api == "/feedback") {
    if (auto e = need(http::verb::post, "POST")) co_return co_await refuse(*e);
    co_return co_await feedback(s, call, path);
  }
  if (api.starts_with("/responses/")) {
    // Stored responses (GET, DELETE, cancel, input_items): nothing is stored, and the answer says so.
    Error e = Error::make(ErrorKind::not_found, "Response '" + std::string(api.substr(11, api.find('/', 11) - 11)) +
                                                    "' is not stored: this gateway answers responses with store: false "
                                                    "and keeps none. Send the whole conversation as input items.");
    e.code = "stored_state_not_configured";
    co_return co_await refuse(e);
  }
  if (api == "/models" || (api.starts_with("/models/") && api.size() > 8)) {
    if (auto e = need(http::verb::get, "GET")) co_return co_await refuse(*e);
    if (api == "/models") co_return co_await list_models(s, call, path);
    co_return co_await get_model(s, call, path, api.substr(8));
  }
  if (path == "/healthz" || path == "/readyz") {
    if (auto e = need(http::verb::get, "GET")) co_return co_await refuse(*e);
    co_return co_await health(s, call, path == "/readyz");
  }
  Error e = Error::make(ErrorKind::not_found, "Unknown request URL: " + std::string(call.req.method_string()) + " " +
                                                  std::string(path) + ". Please check the URL and method.");
  e.code = "unknown_url";
  co_await refuse(e);
}

}  // namespace sy::server

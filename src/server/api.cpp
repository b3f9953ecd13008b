// The API surface: routes a request by method and path to its handler. Every error a handler meets
// goes to Session::send_error, the one place errors become HTTP.
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "server/session.hpp"
#include "switchyard/core/request.hpp"
#include "switchyard/telemetry/log.hpp"

namespace sy::server {

namespace {

using namespace boost::asio::experimental::awaitable_operators;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

std::string fmt_double(const char* fmt, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, v);
  return buf;
}

struct Logged {
  Call& call;
  telemetry::AccessRecord rec;
  std::string error;
  std::string skipped;
  Logged(Call& c, std::string_view path) : call(c) {
    rec.request_id = c.request_id;
    rec.method = c.req.method_string();
    rec.path = path;
  }
  void done(Clock::time_point end = Clock::now()) {
    rec.status = call.status;
    rec.latency_ms = ms_between(call.started, end);
    rec.error = error;
    rec.skipped = skipped;
    if (telemetry::access_log_enabled()) telemetry::log_access(rec);
  }
};

void add_trace_headers(Call& call, const pipeline::DispatchTrace& trace) {
  if (!trace.model.empty()) call.headers.emplace_back("x-switchyard-model", trace.model);
  if (!trace.deployment.empty()) call.headers.emplace_back("x-switchyard-deployment", trace.deployment);
  call.headers.emplace_back("x-switchyard-attempts", std::to_string(trace.attempts.size()));
}

std::string skipped_text(const pipeline::DispatchTrace& trace) {
  std::string s;
  for (const auto& a : trace.attempts) {
    if (a.outcome == "ok") continue;
    if (!s.empty()) s += ",";
    s += a.deployment + ":" + a.outcome;
    if (a.status) s += "(" + std::to_string(a.status) + ")";
  }
  for (const auto& [d, why] : trace.skipped) {
    if (!s.empty()) s += ",";
    s += d + ":" + why;
  }
  return s;
}

// Relays a committed stream to the client. Returns false when the client went away.
net::awaitable<Status> relay(Session& s, pipeline::ResponseStream& stream, std::string& buf) {
  for (;;) {
    buf.clear();
    auto more = co_await stream.next(buf);
    if (!more) co_return std::move(more).error();
    if (!buf.empty() && !co_await s.send_chunk(buf)) {
      co_return Error::make(ErrorKind::connection, "client disconnected");
    }
    if (!*more) co_return ok_status();
  }
}

net::awaitable<void> inference(Session& s, Call& call, Endpoint ep, std::string_view path) {
  Logged log(call, path);
  auto parsed = Request::parse(ep, std::move(call.req.body()));
  if (!parsed) {
    log.error = parsed.error().message;
    co_await s.send_error(call, parsed.error());
    log.done();
    co_return;
  }
  const Request& req = **parsed;
  const config::Config& cfg = *call.runtime->config;
  log.rec.model_requested = req.model();
  log.rec.stream = req.stream();

  const std::string& model = req.model();
  if (!cfg.find_model(model)) {
    Error e = Error::make(ErrorKind::not_found, "The model '" + model + "' does not exist or you do not have access to it.");
    e.param = "model";
    e.code = "model_not_found";
    log.error = "model_not_found";
    co_await s.send_error(call, e);
    log.done();
    co_return;
  }

  pipeline::DispatchTrace trace;
  auto out = co_await s.shared().dispatcher.dispatch(s.worker().ctx, cfg, req, model, trace);
  add_trace_headers(call, trace);
  log.rec.model_used = trace.model;
  log.rec.deployment = trace.deployment;
  log.rec.attempts = static_cast<int>(trace.attempts.size());
  log.skipped = skipped_text(trace);
  if (!out) {
    const Error& e = out.error();
    log.error = std::string(to_string(e.kind)) + ": " + e.message;
    co_await s.send_error(call, e);
    log.done();
    co_return;
  }
  auto overhead = [&](Clock::time_point now) {
    return std::max(0.0, ms_between(call.started, now) - std::chrono::duration<double, std::milli>(trace.upstream_time).count());
  };
  const auto* dep = trace.deployment_config;
  if (!out->stream) {
    double cost = dep ? cost_usd(out->usage, dep->input_price, dep->output_price) : 0;
    auto now = Clock::now();
    double over = overhead(now);
    call.headers.emplace_back("x-switchyard-overhead-ms", fmt_double("%.3f", over));
    call.headers.emplace_back("x-switchyard-cost-usd", fmt_double("%.8f", cost));
    log.rec.overhead_ms = over;
    log.rec.cost_usd = cost;
    log.rec.prompt_tokens = out->usage.prompt_tokens;
    log.rec.completion_tokens = out->usage.completion_tokens;
    co_await s.send(call, 200, std::move(out->body));
    log.done();
    co_return;
  }

  // Streaming: the first event is in hand, so commit to 200 and relay as events arrive.
  call.headers.emplace_back("x-switchyard-overhead-ms", fmt_double("%.3f", overhead(Clock::now())));
  if (!co_await s.begin_stream(call)) {
    call.keep_alive = false;
    log.error = "client disconnected";
    log.done();
    co_return;
  }
  auto upstream_started = Clock::now();
  std::string buf;
  buf.reserve(4096);
  // Race the relay against the client leaving: if the client goes, the relay is cancelled, which
  // destroys the upstream exchange and closes its connection.
  auto result = co_await (relay(s, *out->stream, buf) || s.wait_client_gone());
  bool client_gone = result.index() == 1;
  if (!client_gone) {
    Status st = std::get<0>(std::move(result));
    if (!st) {
      const Error& e = st.error();
      if (e.message == "client disconnected") {
        client_gone = true;
      } else {
        // Bytes already went to the client: no failover now. End the stream with an error event.
        log.error = std::string(to_string(e.kind)) + " mid-stream: " + e.message;
        std::string frame = "data: " + to_openai_json(e) + "\n\n";
        if (co_await s.send_chunk(frame)) co_await s.end_stream();
        call.keep_alive = false;
      }
    } else if (!co_await s.end_stream()) {
      client_gone = true;
    }
  }
  if (client_gone) {
    call.keep_alive = false;
    log.error = "client disconnected mid-stream";
  }
  const Usage& u = out->stream->usage();
  log.rec.prompt_tokens = u.prompt_tokens;
  log.rec.completion_tokens = u.completion_tokens;
  log.rec.cost_usd = dep ? cost_usd(u, dep->input_price, dep->output_price) : 0;
  trace.upstream_time += std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - upstream_started);
  log.rec.overhead_ms = overhead(Clock::now());
  out->stream.reset();  // close the upstream before logging
  log.done();
}

nlohmann::json model_entry(const std::string& id, std::string_view owner) {
  return {{"id", id}, {"object", "model"}, {"created", 0}, {"owned_by", owner}};
}

net::awaitable<void> list_models(Session& s, Call& call, std::string_view path) {
  Logged log(call, path);
  const auto& cfg = *call.runtime->config;
  nlohmann::json data = nlohmann::json::array();
  for (const auto& r : cfg.routers) data.push_back(model_entry(r.name, "switchyard-router"));
  for (const auto& m : cfg.models) data.push_back(model_entry(m.name, "switchyard"));
  nlohmann::json body = {{"object", "list"}, {"data", std::move(data)}};
  co_await s.send(call, 200, body.dump());
  log.done();
}

net::awaitable<void> get_model(Session& s, Call& call, std::string_view path, std::string_view id) {
  Logged log(call, path);
  const auto& cfg = *call.runtime->config;
  std::string name(id);
  if (cfg.find_router(name)) {
    co_await s.send(call, 200, model_entry(name, "switchyard-router").dump());
  } else if (cfg.find_model(name)) {
    co_await s.send(call, 200, model_entry(name, "switchyard").dump());
  } else {
    Error e = Error::make(ErrorKind::not_found, "The model '" + name + "' does not exist or you do not have access to it.");
    e.param = "model";
    e.code = "model_not_found";
    co_await s.send_error(call, e);
  }
  log.done();
}

net::awaitable<void> health(Session& s, Call& call, bool ready) {
  if (!ready) {
    co_await s.send(call, 200, R"({"status":"ok"})");
    co_return;
  }
  const auto& cfg = *call.runtime->config;
  bool usable = !cfg.providers.empty() && !s.shared().draining.load();
  if (usable) {
    co_await s.send(call, 200, R"({"status":"ready"})");
  } else {
    Error e = Error::make(ErrorKind::unavailable, s.shared().draining.load() ? "shutting down" : "no provider is usable");
    co_await s.send_error(call, e);
  }
}

}  // namespace

net::awaitable<void> dispatch_api(Session& s, Call& call) {
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

  Endpoint ep{};
  bool is_inference = true;
  if (api == "/chat/completions") ep = Endpoint::chat;
  else if (api == "/completions") ep = Endpoint::completions;
  else if (api == "/embeddings") ep = Endpoint::embeddings;
  else is_inference = false;

  if (is_inference) {
    if (auto e = need(http::verb::post, "POST")) {
      co_await s.send_error(call, *e);
      co_return;
    }
    co_return co_await inference(s, call, ep, path);
  }
  if (api == "/models") {
    if (auto e = need(http::verb::get, "GET")) {
      co_await s.send_error(call, *e);
      co_return;
    }
    co_return co_await list_models(s, call, path);
  }
  if (api.starts_with("/models/") && api.size() > 8) {
    if (auto e = need(http::verb::get, "GET")) {
      co_await s.send_error(call, *e);
      co_return;
    }
    co_return co_await get_model(s, call, path, api.substr(8));
  }
  if (path == "/healthz" || path == "/readyz") {
    if (auto e = need(http::verb::get, "GET")) {
      co_await s.send_error(call, *e);
      co_return;
    }
    co_return co_await health(s, call, path == "/readyz");
  }
  Error e = Error::make(ErrorKind::not_found, "Unknown request URL: " + std::string(call.req.method_string()) + " " +
                                                  std::string(path) + ". Please check the URL and method.");
  e.code = "unknown_url";
  co_await s.send_error(call, e);
}

}  // namespace sy::server

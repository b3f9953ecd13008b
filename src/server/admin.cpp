// The operator's endpoints. Everything here reads state the request path keeps anyway (metrics,
// deployment health, key spend, recent decisions); nothing here is on the request path.
#include "server/admin.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include "switchyard/core/numbers.hpp"
#include "switchyard/core/redact.hpp"
#include "switchyard/limits/key_ledger.hpp"
#include "switchyard/state/shared_state.hpp"
#include "switchyard/telemetry/gateway_metrics.hpp"
#include "switchyard/telemetry/log.hpp"
#include "switchyard/telemetry/recent.hpp"

namespace sy::server {

extern const std::string_view kDashboardHtml;  // ui/dashboard.html, embedded at build time

std::string_view presented_key(const InboundRequest& call) {
  if (auto it = call.req.find(http::field::authorization); it != call.req.end()) {
    std::string_view v = it->value();
    if (v.size() > 7 && (v.starts_with("Bearer ") || v.starts_with("bearer "))) return v.substr(7);
  }
  if (auto it = call.req.find("x-api-key"); it != call.req.end()) return it->value();
  return {};
}

bool is_admin_path(std::string_view path) { return path == "/metrics" || path == "/admin" || path.starts_with("/admin/"); }

std::optional<Error> admin_refusal(const InboundRequest& call) {
  const auto& admin = call.runtime->config->admin;
  if (admin.open) return std::nullopt;
  if (admin.keys.empty()) {
    Error e = Error::make(ErrorKind::forbidden,
                          "The admin API is disabled: configure admin.keys (or admin.open: true on a machine nobody "
                          "else can reach).");
    e.code = "admin_disabled";
    return e;
  }
  if (admin.find(presented_key(call))) return std::nullopt;
  Error e = Error::make(ErrorKind::unauthorized, "This endpoint needs an admin key: Authorization: Bearer <admin key>.");
  e.code = "invalid_admin_key";
  return e;
}

namespace {

using Json = nlohmann::ordered_json;

std::string dump(const Json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::optional<std::string_view> query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    if (kv.substr(0, kv.find('=')) == name) return kv.find('=') == std::string_view::npos ? "" : kv.substr(kv.find('=') + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

/// Per-deployment gauges, computed at scrape time from the health registry.
void render_deployment_gauges(std::string& out, limits::HealthRegistry& health, const config::Config& cfg) {
  struct Row {
    std::string id;
    limits::DeploymentState::Gauges g;
  };
  std::vector<Row> rows;
  auto now = Clock::now();
  health.for_each(cfg, [&](const config::DeploymentConfig& d, const limits::DeploymentState& st) {
    rows.push_back({d.id, st.gauges(now, cfg.reliability)});
  });
  auto family = [&](const char* name, const char* help, auto value) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n";
    for (const auto& r : rows) {
      std::optional<double> v = value(r.g);
      if (v) telemetry::append_sample(out, name, {{"deployment", r.id}}, *v);
    }
  };
  using G = limits::DeploymentState::Gauges;
  family("switchyard_deployment_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open.",
         [](const G& g) -> std::optional<double> {
           return g.breaker == limits::BreakerState::closed ? 0 : g.breaker == limits::BreakerState::half_open ? 1 : 2;
         });
  family("switchyard_deployment_cooldown_seconds", "Seconds until a rate-limit cooldown ends (0: none).",
         [](const G& g) -> std::optional<double> { return g.cooldown_seconds; });
  family("switchyard_deployment_auth_failed", "1 while the deployment is out for bad upstream credentials.",
         [](const G& g) -> std::optional<double> { return g.auth_failed ? 1 : 0; });
  family("switchyard_deployment_in_flight", "Upstream calls in flight.",
         [](const G& g) -> std::optional<double> { return g.in_flight; });
  family("switchyard_deployment_remaining_requests",
         "Learned headroom: requests the provider's rate-limit headers say remain (absent when unknown).",
         [](const G& g) -> std::optional<double> {
           return g.remaining_requests ? std::optional<double>(static_cast<double>(*g.remaining_requests)) : std::nullopt;
         });
  family("switchyard_deployment_remaining_tokens", "Learned headroom: tokens the provider's rate-limit headers say remain.",
         [](const G& g) -> std::optional<double> {
           return g.remaining_tokens ? std::optional<double>(static_cast<double>(*g.remaining_tokens)) : std::nullopt;
         });
}

/// Budget left per key and period, computed at scrape time from the ledger.
void render_key_gauges(std::string& out, const pipeline::Runtime& rt) {
  const auto& keys = rt.config->auth.keys;
  if (keys.empty()) return;
  out += "# HELP switchyard_key_budget_remaining_usd USD left of a key's budget (period: day, month; UTC).\n"
         "# TYPE switchyard_key_budget_remaining_usd gauge\n";
  auto now = Clock::now();
  auto wall = std::chrono::system_clock::now();
  for (std::size_t i = 0; i < keys.size() && i < rt.accounts.size(); ++i) {
    const auto& k = keys[i];
    if (!k.daily_usd && !k.monthly_usd) continue;
    auto u = rt.accounts[i]->usage(now, wall);
    if (k.daily_usd) telemetry::append_sample(out, "switchyard_key_budget_remaining_usd", {{"key", k.name}, {"period", "day"}}, std::max(0.0, *k.daily_usd - u.today_usd));
    if (k.monthly_usd) telemetry::append_sample(out, "switchyard_key_budget_remaining_usd", {{"key", k.name}, {"period", "month"}}, std::max(0.0, *k.monthly_usd - u.month_usd));
  }
}

/// Redis health and how limits were decided while it was unreachable.
void render_shared_state(std::string& out, const state::SharedState& s) {
  out += "# HELP switchyard_shared_state_up 1 while Redis (state:) answers.\n# TYPE switchyard_shared_state_up gauge\n";
  telemetry::append_sample(out, "switchyard_shared_state_up", {}, s.up() ? 1 : 0);
  out += "# HELP switchyard_shared_state_commands_total Redis commands sent (reservations, flushes, events).\n"
         "# TYPE switchyard_shared_state_commands_total counter\n";
  telemetry::append_sample(out, "switchyard_shared_state_commands_total", {}, static_cast<double>(s.commands_sent()));
  out += "# HELP switchyard_shared_state_failures_total Redis connections lost or refused.\n"
         "# TYPE switchyard_shared_state_failures_total counter\n";
  telemetry::append_sample(out, "switchyard_shared_state_failures_total", {}, static_cast<double>(s.redis_failures()));
  out += "# HELP switchyard_shared_state_unavailable_total Limit decisions made while Redis was unreachable, by policy "
         "(open: on local state; closed: refused).\n# TYPE switchyard_shared_state_unavailable_total counter\n";
  telemetry::append_sample(out, "switchyard_shared_state_unavailable_total", {{"policy", "open"}}, static_cast<double>(s.fail_open_count()));
  telemetry::append_sample(out, "switchyard_shared_state_unavailable_total", {{"policy", "closed"}}, static_cast<double>(s.fail_closed_count()));
}

Json opt(const std::optional<std::int64_t>& v) { return v ? Json(*v) : Json(nullptr); }
Json opt(const std::optional<double>& v) { return v ? Json(*v) : Json(nullptr); }

std::string keys_json(const pipeline::Runtime& rt) {
  Json data = Json::array();
  auto now = Clock::now();
  auto wall = std::chrono::system_clock::now();
  const auto& keys = rt.config->auth.keys;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const auto& k = keys[i];
    Json j;
    j["name"] = k.name;
    j["tier"] = k.tier;
    Json meta = Json::object();
    for (const auto& [n, v] : k.metadata) meta[n] = v;
    j["metadata"] = std::move(meta);
    j["models"] = k.models.empty() ? Json(nullptr) : Json(k.models);
    j["rpm"] = opt(k.rpm);
    j["tpm"] = opt(k.tpm);
    j["budget"] = {{"daily_usd", opt(k.daily_usd)}, {"monthly_usd", opt(k.monthly_usd)}};
    limits::KeyUsage u = i < rt.accounts.size() ? rt.accounts[i]->usage(now, wall) : limits::KeyUsage{};
    j["spend"] = {{"today_usd", u.today_usd}, {"month_usd", u.month_usd}, {"total_usd", u.total_usd}};
    j["requests"] = u.requests;
    j["requests_last_minute"] = u.requests_last_minute;
    j["tokens_last_minute"] = u.tokens_last_minute;
    data.push_back(std::move(j));
  }
  return dump(Json{{"object", "list"}, {"data", std::move(data)}});
}

/// The running config as JSON: the YAML document after ${ENV} expansion, with every key, secret and
/// header value replaced (and scrubbed again for any secret value a field not named like one holds).
Json config_json(const config::Node& n, std::string_view key = {}) {
  switch (n.kind()) {
    case config::Node::Kind::scalar: {
      // Any field whose name says it holds a credential, however a provider's options spell it.
      std::string lower(key);
      for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string_view name = lower;
      for (std::string_view end : {"key", "secret", "password", "token", "credentials", "authorization", "key_sha256"}) {
        if (name.ends_with(end)) return "[redacted]";
      }
      if (name.find("secret") != std::string_view::npos || name.find("password") != std::string_view::npos) {
        return "[redacted]";
      }
      // user:password@ in a URL.
      const std::string& v = n.scalar();
      if (auto scheme = v.find("://"); scheme != std::string::npos) {
        auto at = v.find('@', scheme + 3);
        auto slash = v.find('/', scheme + 3);
        if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
          return v.substr(0, scheme + 3) + "[redacted]" + v.substr(at);
        }
      }
      return v;
    }
    case config::Node::Kind::sequence: {
      Json a = Json::array();
      for (const auto& item : n.items()) a.push_back(config_json(item));
      return a;
    }
    case config::Node::Kind::map: {
      Json o = Json::object();
      for (const auto& [k, v] : n.members()) {
        // Provider headers carry credentials (api-key, x-api-key, Authorization): values never shown.
        if (k == "headers" && v.is_map()) {
          Json h = Json::object();
          for (const auto& [hk, hv] : v.members()) h[hk] = "[redacted]";
          o[k] = std::move(h);
        } else {
          o[k] = config_json(v, k);
        }
      }
      return o;
    }
    default: return nullptr;
  }
}

std::string running_config_json(const pipeline::Runtime& rt) {
  return dump(Json{{"source", rt.config->source}, {"generation", rt.generation}, {"config", config_json(rt.config->root)}});
}

Error reload_failed(const std::vector<std::string>& errors) {
  std::string message = "The config was not reloaded (the running one stays): ";
  for (size_t i = 0; i < errors.size() && i < 20; ++i) {
    if (i) message += "; ";
    message += errors[i];
  }
  return Error::bad_request(std::move(message), "", "invalid_config");
}

// (Braced JSON built outside coroutines: GCC 12 miscompiles initializer lists in coroutine frames.)
std::string reloaded_json(std::uint64_t generation) {
  return dump(Json{{"status", "reloaded"}, {"generation", generation}});
}

net::awaitable<void> reload(Session& s, InboundRequest& call) {
  const auto& ops = s.server().ops;
  if (!ops.blocking || !s.server().reload) {
    co_await s.send_error(call, Error::make(ErrorKind::not_found, "Reloading is not available in this process."));
    co_return;
  }
  // Building a runtime reads files and may load model weights: done on the blocking pool while this
  // coroutine waits on a timer the pool cancels when it is done.
  auto ex = co_await net::this_coro::executor;
  auto done = std::make_shared<net::steady_timer>(ex, net::steady_timer::time_point::max());
  auto errors = std::make_shared<std::vector<std::string>>();
  net::post(*ops.blocking, [done, errors, reload = s.server().reload, ex] {
    *errors = reload();
    net::post(ex, [done] { done->cancel(); });
  });
  boost::system::error_code ec;
  co_await done->async_wait(net::redirect_error(net::use_awaitable, ec));
  if (!errors->empty()) {
    co_await s.send_error(call, reload_failed(*errors));
    co_return;
  }
  co_await s.send(call, 200, reloaded_json(s.server().store.generation()));
}

}  // namespace

net::awaitable<bool> dispatch_admin(Session& s, InboundRequest& call, std::string_view path, std::string_view query) {
  const auto method = call.req.method();
  const bool get = method == http::verb::get || method == http::verb::head;
  auto not_allowed = [&](const char* allow) -> net::awaitable<void> {
    Error e = Error::make(ErrorKind::method_not_allowed, "Method " + std::string(call.req.method_string()) +
                                                             " is not allowed on " + std::string(path) + "; use " +
                                                             allow + ".");
    e.param = allow;
    co_await s.send_error(call, e);
  };
  const auto& ops = s.server().ops;
  const pipeline::Runtime& rt = *call.runtime;
  if (path == "/ui" || path == "/ui/") {
    if (!get) {
      co_await not_allowed("GET");
      co_return true;
    }
    call.add_header("cache-control", "no-store");
    call.add_header("content-security-policy",
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
                    "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    co_await s.send(call, 200, std::string(kDashboardHtml), "text/html; charset=utf-8");
    co_return true;
  }
  if (!is_admin_path(path)) co_return false;
  if (path == "/admin/reload") {
    if (method != http::verb::post) {
      co_await not_allowed("POST");
      co_return true;
    }
    co_await reload(s, call);
    co_return true;
  }
  if (!get) {
    co_await not_allowed("GET");
    co_return true;
  }
  std::string body;
  std::string_view type = "application/json";
  if (path == "/metrics") {
    if (!ops.metrics) co_return false;
    body = ops.metrics->registry().render();
    render_deployment_gauges(body, *s.server().ops.health, *rt.config);
    render_key_gauges(body, rt);
    if (ops.shared) render_shared_state(body, *ops.shared);
    type = "text/plain; version=0.0.4; charset=utf-8";
  } else if (path == "/admin/deployments") {
    // Last errors are upstream text: scrubbed like every other exit.
    body = "{\"object\":\"list\",\"data\":" + s.server().ops.health->to_json(*rt.config, Clock::now()) + "}";
  } else if (path == "/admin/keys") {
    body = keys_json(rt);
  } else if (path == "/admin/decisions") {
    std::size_t limit = 50;
    if (auto v = query_param(query, "limit")) {
      auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), limit);
      if (ec != std::errc() || p != v->data() + v->size() || limit == 0 || limit > 500) {
        co_await s.send_error(call, Error::bad_request("limit must be a whole number from 1 to 500.", "limit"));
        co_return true;
      }
    }
    body = ops.decisions ? ops.decisions->to_json(limit) : R"({"object":"list","data":[]})";
  } else if (path == "/admin/usage") {
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    body = ops.usage ? ops.usage->to_json(now_ms) : R"({"minutes":[]})";
  } else if (path == "/admin/config") {
    body = running_config_json(rt);
  } else {
    co_return false;
  }
  if (!get) {
      co_await not_allowed("GET");
      co_return true;
    }
  co_await s.send(call, 200, Redactor::scrub(body), type);
  co_return true;
}

}  // namespace sy::server

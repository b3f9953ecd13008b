#include "switchyard/config/config.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace sy::config {

std::optional<ProviderKind> provider_kind(std::string_view type) {
  const auto* it = std::find(std::begin(kProviderTypes), std::end(kProviderTypes), type);
  if (it == std::end(kProviderTypes)) return std::nullopt;
  return static_cast<ProviderKind>(it - std::begin(kProviderTypes));
}

void parse_provider_options(ProviderKind kind, const Node& n, ProviderOptions& out, Diagnostics& d) {
  if (n.is_null()) return;
  if (!n.is_map()) {
    n.error(d, "expected a map of options");
    return;
  }
  // The options each type takes: anything else is reported with its path (a typo is never ignored).
  switch (kind) {
    case ProviderKind::azure:
      n.check_keys({"api_version"}, d);
      out.api_version = n.str("api_version", d).value_or("");
      break;
    case ProviderKind::anthropic:
      n.check_keys({"version", "beta", "max_tokens"}, d);
      out.version = n.str("version", d).value_or("");
      out.max_tokens = n.integer("max_tokens", d, 1, 1'000'000'000);
      if (const Node* beta = n.get("beta"); beta && !beta->is_null()) {
        if (beta->is_scalar()) {
          out.beta.push_back(beta->scalar());
        } else if (auto list = n.str_list("beta", d)) {
          out.beta = *list;
        }
      }
      break;
    case ProviderKind::bedrock:
      n.check_keys({"region", "max_tokens"}, d);
      out.region = n.str("region", d).value_or("");
      out.max_tokens = n.integer("max_tokens", d, 1, 1'000'000'000);
      break;
    case ProviderKind::openai:
    case ProviderKind::gemini:
    case ProviderKind::mock:
      if (!n.members().empty()) n.error(d, "providers of type " + std::string(to_string(kind)) + " take no options");
      break;
  }
}

std::optional<Url> parse_url(std::string_view s) {
  Url u;
  if (s.starts_with("https://")) {
    u.tls = true;
    s.remove_prefix(8);
  } else if (s.starts_with("http://")) {
    s.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  size_t slash = s.find('/');
  std::string_view authority = s.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : s.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (authority.empty()) return std::nullopt;
  std::string_view host = authority;
  u.port = u.tls ? 443 : 80;
  if (authority.front() == '[') {  // IPv6 literal
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      rest.remove_prefix(1);
      unsigned port = 0;
      auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), port);
      if (ec != std::errc() || p != rest.data() + rest.size() || port == 0 || port > 65535) return std::nullopt;
      u.port = static_cast<std::uint16_t>(port);
    }
  } else if (size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    std::string_view ps = authority.substr(colon + 1);
    unsigned port = 0;
    auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
    if (ec != std::errc() || p != ps.data() + ps.size() || port == 0 || port > 65535) return std::nullopt;
    u.port = static_cast<std::uint16_t>(port);
  }
  if (host.empty()) return std::nullopt;
  u.host = std::string(host);
  u.base_path = std::string(path);
  return u;
}

bool AuthKey::allows(std::string_view model) const {
  return models.empty() || std::find(models.begin(), models.end(), model) != models.end();
}

const std::string* AuthKey::meta(std::string_view name) const {
  for (const auto& [k, v] : metadata) {
    if (k == name) return &v;
  }
  return nullptr;
}

void KeySet::index() {
  by_hash_.clear();
  for (std::size_t i = 0; i < keys.size(); ++i) {
    by_hash_.emplace(std::string(reinterpret_cast<const char*>(keys[i].hash.data()), keys[i].hash.size()), i);
  }
}

const AuthKey* KeySet::find_by_hash(const Sha256& hash) const {
  // The lookup is by the digest, which tells nothing of the key; the final comparison is constant-time.
  auto it = by_hash_.find(std::string(reinterpret_cast<const char*>(hash.data()), hash.size()));
  if (it == by_hash_.end()) return nullptr;
  const AuthKey& k = keys[it->second];
  return digest_equal(k.hash, hash) ? &k : nullptr;
}

double Config::cost_on(std::string_view model, const Usage& usage) const {
  const ModelConfig* m = find_model(model);
  return m && !m->deployments.empty() && usage.known ? cost_usd(usage, m->deployments.front().prices()) : 0;
}

const ModelConfig* Config::find_model(std::string_view name) const {
  auto it = model_index_.find(std::string(name));
  return it == model_index_.end() ? nullptr : &models[it->second];
}
const RouterConfig* Config::find_router(std::string_view name) const {
  auto it = router_index_.find(std::string(name));
  return it == router_index_.end() ? nullptr : &routers[it->second];
}
const ProviderConfig* Config::find_provider(std::string_view name) const {
  auto it = provider_index_.find(std::string(name));
  return it == provider_index_.end() ? nullptr : &providers[it->second];
}

struct ConfigBuilder {
  Diagnostics& d;
  Config& c;

  void server(const Node& n) {
    if (!n.is_map()) {
      if (!n.is_null()) n.error(d, "expected a map");
      return;
    }
    n.check_keys({"listen", "threads", "max_body_bytes", "max_header_bytes", "header_timeout", "body_timeout",
                  "idle_timeout", "drain_timeout", "max_connections", "max_connections_per_client",
                  "max_json_depth", "max_upstream_body_bytes"},
                 d);
    auto& s = c.server;
    if (auto listen = n.str("listen", d)) {
      size_t colon = listen->rfind(':');
      unsigned port = 0;
      std::string_view ps = colon == std::string::npos ? std::string_view{} : std::string_view(*listen).substr(colon + 1);
      auto [p, ec] = std::from_chars(ps.data(), ps.data() + ps.size(), port);
      if (colon == std::string::npos || ec != std::errc() || p != ps.data() + ps.size() || port > 65535) {
        n.get("listen")->error(d, "expected host:port, e.g. 127.0.0.1:8080");
      } else {
        s.host = listen->substr(0, colon);
        if (s.host.size() > 2 && s.host.front() == '[' && s.host.back() == ']') s.host = s.host.substr(1, s.host.size() - 2);
        s.port = static_cast<std::uint16_t>(port);
      }
    }
    if (auto v = n.integer("threads", d, 0, 1024)) s.threads = static_cast<int>(*v);
    if (auto v = n.bytes("max_body_bytes", d)) s.max_body_bytes = *v;
    if (auto v = n.bytes("max_header_bytes", d)) s.max_header_bytes = *v;
    if (auto v = n.duration_ms("header_timeout", d)) s.header_timeout = Millis(*v);
    if (auto v = n.duration_ms("body_timeout", d)) s.body_timeout = Millis(*v);
    if (auto v = n.duration_ms("idle_timeout", d)) s.idle_timeout = Millis(*v);
    if (auto v = n.duration_ms("drain_timeout", d)) s.drain_timeout = Millis(*v);
    if (auto v = n.integer("max_connections", d, 1, 1'000'000)) s.max_connections = static_cast<int>(*v);
    if (auto v = n.integer("max_connections_per_client", d, 1, 1'000'000)) s.max_connections_per_client = static_cast<int>(*v);
    if (auto v = n.integer("max_json_depth", d, 2, 512)) s.max_json_depth = static_cast<int>(*v);
    if (auto v = n.bytes("max_upstream_body_bytes", d)) s.max_upstream_body_bytes = *v;
    if (s.max_upstream_body_bytes < 1024) n.error(d, "max_upstream_body_bytes must be at least 1KiB");
    if (s.max_body_bytes < 1024) n.error(d, "max_body_bytes must be at least 1KiB");
    if (s.max_header_bytes < 1024) n.error(d, "max_header_bytes must be at least 1KiB");
  }

  void logging(const Node& n) {
    if (!n.is_map()) {
      if (!n.is_null()) n.error(d, "expected a map");
      return;
    }
    n.check_keys({"level", "format", "access_log"}, d);
    if (auto v = n.str("level", d)) {
      static const std::vector<std::string> kLevels = {"trace", "debug", "info", "warn", "error", "critical", "off"};
      if (std::find(kLevels.begin(), kLevels.end(), *v) == kLevels.end()) {
        n.get("level")->error(d, "expected one of trace, debug, info, warn, error, critical, off");
      } else {
        c.logging.level = *v;
      }
    }
    if (auto v = n.str("format", d)) {
      if (*v != "text" && *v != "json") n.get("format")->error(d, "expected text or json");
      else c.logging.format = *v;
    }
    if (auto v = n.boolean("access_log", d)) c.logging.access_log = *v;
  }

  void mock(const Node& n, MockConfig& m) {
    if (!n.is_map()) {
      n.error(d, "expected a map");
      return;
    }
    n.check_keys({"latency", "tokens_per_second", "reply", "fail_rate", "fail_status", "hang", "script", "logprob"}, d);
    if (auto v = n.number("logprob", d, -100, 0)) m.logprob = *v;
    if (const Node* sc = n.get("script"); sc && !sc->is_null()) {
      if (!sc->is_sequence()) {
        sc->error(d, "expected a list of {when, reply or replies, logprob, finish_reason}");
      } else {
        for (const auto& item : sc->items()) {
          item.check_keys({"when", "reply", "replies", "logprob", "finish_reason"}, d);
          MockScript s;
          s.when = item.str("when", d, true).value_or("");
          if (auto r = item.str_list("replies", d)) s.replies = *r;
          if (auto r = item.str("reply", d)) s.replies.insert(s.replies.begin(), *r);
          if (s.replies.empty()) item.error(d, "give reply or replies");
          s.logprob = item.number("logprob", d, -100, 0).value_or(m.logprob);
          s.finish_reason = item.str("finish_reason", d).value_or("stop");
          m.script.push_back(std::move(s));
        }
      }
    }
    if (auto v = n.duration_ms("latency", d)) m.latency = Millis(*v);
    if (auto v = n.number("tokens_per_second", d, 0, 1e9)) m.tokens_per_second = *v;
    if (auto v = n.str("reply", d)) m.reply = *v;
    if (auto v = n.number("fail_rate", d, 0, 1)) m.fail_rate = *v;
    if (auto v = n.integer("fail_status", d, 400, 599)) m.fail_status = static_cast<int>(*v);
    if (auto v = n.boolean("hang", d)) m.hang = *v;
  }

  void provider(const Node& n) {
    if (!n.is_map()) {
      n.error(d, "expected a map with name and type");
      return;
    }
    n.check_keys({"name", "type", "base_url", "api_key", "headers", "connect_timeout", "first_byte_timeout",
                  "idle_timeout", "total_timeout", "verify_tls", "max_idle_connections", "mock", "options"},
                 d);
    ProviderConfig p;
    p.name = n.str("name", d, true).value_or("");
    p.type = n.str("type", d, true).value_or("");
    if (auto kind = provider_kind(p.type)) {
      p.kind = *kind;
    } else if (!p.type.empty()) {
      std::string list;
      for (auto t : kProviderTypes) list += (list.empty() ? "" : ", ") + std::string(t);
      n.get("type")->error(d, "unknown provider type \"" + p.type + "\" (known: " + list + ")");
    }
    if (!p.name.empty() && c.find_provider(p.name)) n.get("name")->error(d, "duplicate provider name \"" + p.name + "\"");
    if (auto url = n.str("base_url", d, p.type != "mock" && p.type != "bedrock" && p.type != "gemini")) {
      p.base_url = *url;
      if (auto u = parse_url(*url)) p.url = *u;
      else n.get("base_url")->error(d, "expected an http:// or https:// URL");
    }
    if (const Node* k = n.get("api_key"); k && !k->is_null()) {
      if (!k->is_scalar()) {
        k->error(d, "expected a string such as ${OPENAI_API_KEY}");
      } else {
        p.api_key = k->scalar();
      }
    }
    if (const Node* h = n.get("headers"); h && !h->is_null()) {
      if (!h->is_map()) {
        h->error(d, "expected a map of header name to value");
      } else {
        for (const auto& [k, v] : h->members()) {
          if (!v.is_scalar()) v.error(d, "expected a string");
          else p.headers.emplace_back(k, v.scalar());
        }
      }
    }
    if (auto v = n.duration_ms("connect_timeout", d)) p.connect_timeout = Millis(*v);
    if (auto v = n.duration_ms("first_byte_timeout", d)) p.first_byte_timeout = Millis(*v);
    if (auto v = n.duration_ms("idle_timeout", d)) p.idle_timeout = Millis(*v);
    if (auto v = n.duration_ms("total_timeout", d)) p.total_timeout = Millis(*v);
    if (auto v = n.boolean("verify_tls", d)) p.verify_tls = *v;
    if (auto v = n.integer("max_idle_connections", d, 0, 100'000)) p.max_idle_connections = static_cast<int>(*v);
    if (const Node* m = n.get("mock")) {
      if (p.type != "mock") m->error(d, "only providers of type mock take mock settings");
      else mock(*m, p.mock);
    }
    if (const Node* o = n.get("options")) parse_provider_options(p.kind, *o, p.options, d);
    // Gemini's OpenAI-compatible endpoint is the default for type gemini.
    if (p.type == "gemini" && p.base_url.empty()) {
      p.base_url = "https://generativelanguage.googleapis.com/v1beta/openai";
      p.url = *parse_url(p.base_url);
    }
    // Bedrock's endpoint follows from its region when no base_url is given.
    if (p.type == "bedrock" && p.base_url.empty()) {
      if (p.options.region.empty()) {
        n.error(d, "bedrock providers need options.region (or a base_url)");
      } else {
        p.base_url = "https://bedrock-runtime." + p.options.region + ".amazonaws.com";
        p.url = *parse_url(p.base_url);
      }
    }
    if (!p.name.empty()) c.provider_index_[p.name] = c.providers.size();
    c.providers.push_back(std::move(p));
  }

  // `shorthand`: the model map itself holds the single deployment (its keys were checked already).
  void deployment(const Node& n, ModelConfig& m, size_t index, bool shorthand = false) {
    if (!n.is_map()) {
      n.error(d, "expected a map with provider and model");
      return;
    }
    if (!shorthand) {
      n.check_keys({"provider", "model", "input_price", "output_price", "cached_input_price", "cache_write_price",
                    "context_window", "rpm", "tpm",
                    "max_concurrent", "weight"},
                   d);
    }
    DeploymentConfig dep;
    dep.provider = n.str("provider", d, true).value_or("");
    if (!dep.provider.empty()) {
      auto it = c.provider_index_.find(dep.provider);
      if (it == c.provider_index_.end()) {
        std::string msg = "unknown provider \"" + dep.provider + "\"";
        if (!c.providers.empty()) {
          msg += " (defined:";
          for (const auto& p : c.providers) msg += " " + p.name;
          msg += ")";
        }
        n.get("provider")->error(d, msg);
      } else {
        dep.provider_index = it->second;
      }
    }
    dep.upstream_model = n.str("model", d).value_or(m.name);
    dep.input_price = n.number("input_price", d, 0, 1e6).value_or(0);
    dep.output_price = n.number("output_price", d, 0, 1e6).value_or(0);
    // Prompt-cache prices default to how each provider discounts them (as a share of the input price):
    // Anthropic and Bedrock bill reads at 0.1x and writes at 1.25x; OpenAI and Azure reads at 0.5x (the
    // discount of the gpt-4o family; newer models give more: set cached_input_price); Gemini 0.25x.
    const std::string& type = dep.provider_index < c.providers.size() ? c.providers[dep.provider_index].type : std::string();
    double read_share = type == "anthropic" || type == "bedrock" ? 0.1 : type == "gemini" ? 0.25 : 0.5;
    double write_share = type == "anthropic" || type == "bedrock" ? 1.25 : 1.0;
    dep.cached_input_price = n.number("cached_input_price", d, 0, 1e6).value_or(dep.input_price * read_share);
    dep.cache_write_price = n.number("cache_write_price", d, 0, 1e6).value_or(dep.input_price * write_share);
    dep.context_window = n.integer("context_window", d, 0, 1'000'000'000).value_or(0);
    dep.rpm = n.integer("rpm", d, 1, 1'000'000'000);
    dep.tpm = n.integer("tpm", d, 1, 1'000'000'000'000);
    dep.max_concurrent = n.integer("max_concurrent", d, 1, 1'000'000);
    dep.weight = n.number("weight", d, 0, 1e9).value_or(1);
    dep.id = m.name + "/" + dep.provider + "/" + std::to_string(index);
    m.deployments.push_back(std::move(dep));
  }

  void model(const Node& n) {
    if (!n.is_map()) {
      n.error(d, "expected a map with name and deployments");
      return;
    }
    n.check_keys({"name", "deployments", "fallbacks", "strategy", "context_fallback", "content_policy_fallback",
                  "provider", "model", "input_price", "output_price", "cached_input_price", "cache_write_price",
                  "context_window", "rpm", "tpm", "max_concurrent",
                  "weight"},
                 d);
    ModelConfig m;
    m.name = n.str("name", d, true).value_or("");
    if (!m.name.empty() && c.find_model(m.name)) n.get("name")->error(d, "duplicate model name \"" + m.name + "\"");
    const Node* deps = n.get("deployments");
    if (deps) {
      if (n.get("provider")) n.get("provider")->error(d, "give either provider (one deployment) or deployments, not both");
      if (!deps->is_sequence() || deps->items().empty()) {
        deps->error(d, "expected a non-empty list of deployments");
      } else {
        for (size_t i = 0; i < deps->items().size(); ++i) deployment(deps->items()[i], m, i);
      }
    } else if (n.get("provider")) {
      // Shorthand: the model itself is its only deployment.
      deployment(n, m, 0, true);
    } else {
      d.error(n.child_path("deployments"), n.line(), "required key is missing (or give provider: for one deployment)");
    }
    if (auto v = n.str_list("fallbacks", d)) m.fallbacks = *v;
    if (auto v = n.str("strategy", d)) {
      const auto* names = std::begin(kStrategyNames);
      const auto* it = std::find(names, std::end(kStrategyNames), *v);
      if (it == std::end(kStrategyNames)) {
        n.get("strategy")->error(d, "expected weighted, least-busy or latency");
      } else {
        m.strategy = static_cast<Strategy>(it - names);
      }
    }
    if (auto v = n.str("context_fallback", d)) m.context_fallback = *v;
    if (auto v = n.str("content_policy_fallback", d)) m.content_policy_fallback = *v;
    if (!m.name.empty()) c.model_index_[m.name] = c.models.size();
    c.models.push_back(std::move(m));
  }

  void router(const Node& n) {
    if (!n.is_map()) {
      n.error(d, "expected a map with name and stages");
      return;
    }
    RouterConfig r;
    r.name = n.str("name", d, true).value_or("");
    if (!r.name.empty()) {
      if (c.find_router(r.name)) n.get("name")->error(d, "duplicate router name \"" + r.name + "\"");
      if (c.find_model(r.name)) n.get("name")->error(d, "router name \"" + r.name + "\" is also a model name");
      c.router_index_[r.name] = c.routers.size();
    }
    r.node = n;
    c.routers.push_back(std::move(r));
  }

  /// One key of `auth.keys` or `admin.keys`: `key` (plain text, usually `${ENV_VAR}`) or `key_sha256`
  /// (its hex SHA-256, so the config file need not hold the secret), a name, and for callers the
  /// tier, metadata, allowed models and limits.
  std::optional<AuthKey> key_entry(const Node& k, bool caller, std::size_t index) {
    if (!k.is_map()) {
      k.error(d, "expected a map with name and key or key_sha256");
      return std::nullopt;
    }
    if (caller) {
      k.check_keys({"key", "key_sha256", "name", "tier", "metadata", "models", "rpm", "tpm", "budget"}, d);
    } else {
      k.check_keys({"key", "key_sha256", "name"}, d);
    }
    AuthKey a;
    a.name = k.str("name", d).value_or((caller ? "key" : "admin") + std::to_string(index));
    auto plain = k.str("key", d);
    auto hashed = k.str("key_sha256", d);
    if (plain.has_value() == hashed.has_value()) {
      k.error(d, "give exactly one of key and key_sha256");
    } else if (plain) {
      if (plain->size() < 8) k.get("key")->error(d, "keys must be at least 8 characters");
      a.key = std::move(*plain);
      a.hash = sha256(a.key);
    } else if (!parse_sha256_hex(*hashed, a.hash)) {
      k.get("key_sha256")->error(d, "expected 64 hex digits (e.g. the output of: printf %s \"$KEY\" | sha256sum)");
    }
    if (!caller) return a;
    a.tier = k.str("tier", d).value_or("");
    if (const Node* m = k.get("metadata"); m && !m->is_null()) {
      if (!m->is_map()) m->error(d, "expected a map of names to values");
      else {
        for (const auto& [name, v] : m->members()) {
          if (!v.is_scalar()) v.error(d, "metadata values are strings");
          else a.metadata.emplace_back(name, v.scalar());
        }
      }
    }
    if (auto models = k.str_list("models", d)) {
      for (const auto& m : *models) {
        if (!c.find_model(m) && !c.find_router(m)) k.get("models")->error(d, "unknown model or router \"" + m + "\"");
      }
      a.models = std::move(*models);
    }
    if (auto v = k.integer("rpm", d, 1, 1'000'000'000)) a.rpm = *v;
    if (auto v = k.integer("tpm", d, 1, 1'000'000'000'000)) a.tpm = *v;
    if (const Node* b = k.get("budget"); b && !b->is_null()) {
      if (!b->is_map()) b->error(d, "expected a map with daily_usd and/or monthly_usd");
      else {
        b->check_keys({"daily_usd", "monthly_usd"}, d);
        a.daily_usd = b->number("daily_usd", d, 0, 1e12);
        a.monthly_usd = b->number("monthly_usd", d, 0, 1e12);
      }
    }
    return a;
  }

  void key_list(const Node& n, KeySet& set, bool caller) {
    const Node* keys = n.get("keys");
    if (!keys || keys->is_null()) return;
    if (!keys->is_sequence()) {
      keys->error(d, "expected a list of keys");
      return;
    }
    std::unordered_map<std::string, bool> names;
    for (const auto& k : keys->items()) {
      auto a = key_entry(k, caller, set.keys.size());
      if (!a) continue;
      if (!names.emplace(a->name, true).second) k.error(d, "duplicate key name \"" + a->name + "\"");
      for (const auto& other : set.keys) {
        if (other.hash == a->hash) k.error(d, "the same key is configured twice");
      }
      set.keys.push_back(std::move(*a));
    }
    set.index();
  }

  void auth(const Node& n) {
    if (!n.is_map()) {
      n.error(d, "expected a map with keys");
      return;
    }
    n.check_keys({"required", "keys", "trust_tier_header", "public_paths"}, d);
    c.auth.required = n.boolean("required", d).value_or(false);
    if (auto paths = n.str_list("public_paths", d)) {
      for (const auto& p : *paths) {
        if (!p.starts_with("/")) n.get("public_paths")->error(d, "paths start with '/', e.g. /v1/models");
      }
      c.auth.public_paths = std::move(*paths);
    }
    c.auth.trust_tier_header = n.boolean("trust_tier_header", d).value_or(true);
    key_list(n, c.auth, true);
    if (c.auth.required && c.auth.keys.empty()) n.error(d, "auth.required needs at least one key");
  }

  void admin(const Node& n) {
    if (!n.is_map()) {
      n.error(d, "expected a map with keys and/or open");
      return;
    }
    n.check_keys({"keys", "open"}, d);
    c.admin.open = n.boolean("open", d).value_or(false);
    key_list(n, c.admin, false);
    for (const auto& a : c.admin.keys) {
      if (c.auth.find_by_hash(a.hash)) n.error(d, "admin key \"" + a.name + "\" is also a caller key");
    }
  }

  void state(const Node& n) {
    if (!n.is_map()) {
      n.error(d, "expected a map with redis, prefix, on_redis_error");
      return;
    }
    n.check_keys({"redis", "prefix", "on_redis_error", "lease"}, d);
    auto& st = c.state;
    const Node* r = n.get("redis");
    if (!r || !r->is_map()) {
      n.error(d, "state needs redis: {address: host:port}");
      return;
    }
    r->check_keys({"address", "password", "db", "timeout"}, d);
    st.enabled = true;
    if (auto a = r->str("address", d, true)) {
      auto colon = a->rfind(':');
      st.redis_host = a->substr(0, colon);
      if (colon != std::string::npos) {
        int port = 0;
        auto p = std::string_view(*a).substr(colon + 1);
        auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
        if (ec != std::errc() || end != p.data() + p.size() || port < 1 || port > 65535) {
          r->get("address")->error(d, "expected host:port");
        } else {
          st.redis_port = static_cast<std::uint16_t>(port);
        }
      }
      if (st.redis_host.empty()) r->get("address")->error(d, "expected host:port");
    }
    st.redis_password = r->str("password", d).value_or("");
    if (auto v = r->integer("db", d, 0, 1000)) st.redis_db = static_cast<int>(*v);
    if (auto v = r->duration_ms("timeout", d)) st.timeout = Millis(std::max<std::int64_t>(*v, 1));
    st.prefix = n.str("prefix", d).value_or(st.prefix);
    if (auto v = n.number("lease", d, 0, 0.5)) st.lease = *v;
    if (const Node* e = n.get("on_redis_error"); e && !e->is_null()) {
      if (!e->is_map()) {
        e->error(d, "expected a map: {rate_limits: open|closed, budgets: open|closed}");
      } else {
        e->check_keys({"rate_limits", "budgets", "health"}, d);
        // Cooldowns and breakers only ever make a replica avoid a deployment sooner: without Redis each
        // replica still learns them itself, so there is nothing to refuse for.
        if (auto h = e->str("health", d); h && *h != "open") {
          e->get("health")->error(d, "health always fails open (each replica keeps learning cooldowns and breakers itself)");
        }
        auto policy = [&](std::string_view key, bool& open) {
          auto v = e->str(key, d);
          if (!v) return;
          if (*v == "open") open = true;
          else if (*v == "closed") open = false;
          else e->get(key)->error(d, "expected open or closed");
        };
        policy("rate_limits", st.rate_limits_fail_open);
        policy("budgets", st.budgets_fail_open);
      }
    }
  }

  void reliability(const Node& n) {
    if (!n.is_map()) {
      n.error(d, "expected a map");
      return;
    }
    n.check_keys({"max_attempts", "request_timeout", "backoff_base", "backoff_max", "retry_budget_ratio",
                  "retry_budget_min_per_s", "cooldown", "wait_for_recovery", "default_max_tokens", "headroom", "breaker"},
                 d);
    auto& r = c.reliability;
    if (auto v = n.integer("max_attempts", d, 1, 100)) r.max_attempts = static_cast<int>(*v);
    if (auto v = n.duration_ms("request_timeout", d)) r.request_timeout = Millis(*v);
    if (auto v = n.duration_ms("backoff_base", d)) r.backoff_base = Millis(*v);
    if (auto v = n.duration_ms("backoff_max", d)) r.backoff_max = Millis(*v);
    if (auto v = n.number("retry_budget_ratio", d, 0, 100)) r.retry_budget_ratio = *v;
    if (auto v = n.number("retry_budget_min_per_s", d, 0, 1e9)) r.retry_budget_min_per_s = *v;
    if (auto v = n.duration_ms("cooldown", d)) r.cooldown = Millis(*v);
    if (auto v = n.duration_ms("wait_for_recovery", d)) r.wait_for_recovery = Millis(*v);
    if (auto v = n.integer("default_max_tokens", d, 0, 10'000'000)) r.default_max_tokens = *v;
    if (auto v = n.number("headroom", d, 0, 1)) r.headroom = *v;
    if (const Node* b = n.get("breaker")) {
      if (!b->is_map()) {
        b->error(d, "expected a map");
      } else {
        b->check_keys({"window", "min_requests", "error_ratio", "cooldown", "half_open_probes"}, d);
        if (auto v = b->duration_ms("window", d)) r.breaker.window = Millis(std::max<std::int64_t>(*v, 1000));
        if (auto v = b->integer("min_requests", d, 1, 1'000'000)) r.breaker.min_requests = static_cast<int>(*v);
        if (auto v = b->number("error_ratio", d, 0.01, 1)) r.breaker.error_ratio = *v;
        if (auto v = b->duration_ms("cooldown", d)) r.breaker.cooldown = Millis(*v);
        if (auto v = b->integer("half_open_probes", d, 1, 1000)) r.breaker.half_open_probes = static_cast<int>(*v);
      }
    }
  }

  void decision_log(const Node& n) {
    if (!n.is_map()) {
      n.error(d, "expected a map with path");
      return;
    }
    n.check_keys({"path", "include_prompt"}, d);
    c.decision_log.path = n.str("path", d, true).value_or("");
    c.decision_log.include_prompt = n.boolean("include_prompt", d).value_or(false);
  }

  void check_model_refs() {
    for (size_t i = 0; i < c.models.size(); ++i) {
      const auto& m = c.models[i];
      std::string base = "models[" + std::to_string(i) + "]";
      for (size_t j = 0; j < m.fallbacks.size(); ++j) {
        if (!c.find_model(m.fallbacks[j])) {
          d.error(base + ".fallbacks[" + std::to_string(j) + "]", 0, "unknown model \"" + m.fallbacks[j] + "\"");
        }
      }
      if (!m.context_fallback.empty() && !c.find_model(m.context_fallback)) {
        d.error(base + ".context_fallback", 0, "unknown model \"" + m.context_fallback + "\"");
      }
      if (!m.content_policy_fallback.empty() && !c.find_model(m.content_policy_fallback)) {
        d.error(base + ".content_policy_fallback", 0, "unknown model \"" + m.content_policy_fallback + "\"");
      }
    }
  }

  template <class F>
  void list(const Node& root, std::string_view key, F&& each) {
    const Node* n = root.get(key);
    if (!n || n->is_null()) return;
    if (!n->is_sequence()) {
      n->error(d, "expected a list");
      return;
    }
    for (const auto& item : n->items()) each(item);
  }
};

std::shared_ptr<const Config> load_config_text(std::string_view yaml, std::string source, Diagnostics& d) {
  d.set_file(source);
  auto cfg = std::make_shared<Config>();
  cfg->source = std::move(source);
  Node root = parse_yaml(yaml, d);
  if (root.is_null() && !d.empty()) return nullptr;  // YAML syntax error: nothing to validate
  if (!root.is_map()) {
    d.error("", root.line(), "the config must be a YAML map with providers and models");
    return nullptr;
  }
  // Every section Switchyard reads; anything else (a typo, or a feature it does not have) is an error,
  // never silently ignored.
  root.check_keys({"server", "logging", "providers", "models", "routers", "decision_log", "auth", "admin", "state", "reliability"},
                  d);
  ConfigBuilder b{d, *cfg};
  if (const Node* s = root.get("server")) b.server(*s);
  if (const Node* l = root.get("logging")) b.logging(*l);
  b.list(root, "providers", [&](const Node& n) { b.provider(n); });
  b.list(root, "models", [&](const Node& n) { b.model(n); });
  b.list(root, "routers", [&](const Node& n) { b.router(n); });
  if (const Node* a = root.get("auth")) b.auth(*a);
  if (const Node* a = root.get("admin")) b.admin(*a);
  if (const Node* st = root.get("state")) b.state(*st);
  if (const Node* dl = root.get("decision_log")) b.decision_log(*dl);
  if (const Node* rel = root.get("reliability")) b.reliability(*rel);
  b.check_model_refs();
  if (cfg->models.empty() && cfg->routers.empty()) d.error("models", root.line(), "at least one model is required");
  cfg->root = std::move(root);
  if (cfg->server.threads == 0) {
    cfg->server.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  if (!d.empty()) return nullptr;
  return cfg;
}

std::vector<std::string> secret_values(const Config& config) {
  std::vector<std::string> out;
  for (const auto& p : config.providers) {
    if (!p.api_key.empty()) out.push_back(p.api_key);
    for (const auto& [name, value] : p.headers) out.push_back(value);
  }
  for (const KeySet* set : {static_cast<const KeySet*>(&config.auth), static_cast<const KeySet*>(&config.admin)}) {
    for (const auto& k : set->keys) {
      if (!k.key.empty()) out.push_back(k.key);
    }
  }
  if (!config.state.redis_password.empty()) out.push_back(config.state.redis_password);
  for (const char* var : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}) {
    if (const char* v = std::getenv(var); v && *v) out.emplace_back(v);
  }
  return out;
}

std::shared_ptr<const Config> load_config_file(const std::string& path, Diagnostics& d) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    d.set_file(path);
    d.error("", 0, "cannot read the config file");
    return nullptr;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_config_text(ss.str(), path, d);
}

}  // namespace sy::config

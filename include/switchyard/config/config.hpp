#pragma once
/// The validated, immutable configuration. Built once per load by `load_config`, then shared as
/// `std::shared_ptr<const Config>` and swapped atomically on reload; never mutated after construction,
/// so any thread may read it without locks.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "switchyard/config/node.hpp"
#include "switchyard/core/sha256.hpp"
#include "switchyard/core/usage.hpp"

namespace sy::config {

using Millis = std::chrono::milliseconds;

struct LoggingConfig {
  std::string level = "info";      ///< trace, debug, info, warn, error, off
  std::string format = "text";     ///< text or json
  bool access_log = true;          ///< one line per request
};

struct ServerConfig {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  int threads = 0;                            ///< 0: hardware concurrency
  std::int64_t max_body_bytes = 4 << 20;      ///< larger bodies get 413
  std::int64_t max_header_bytes = 16 << 10;   ///< larger headers get 431
  Millis header_timeout{10'000};              ///< from first byte to end of headers
  Millis body_timeout{30'000};                ///< to receive the whole body
  Millis idle_timeout{60'000};                ///< keep-alive connection with no request
  Millis drain_timeout{30'000};               ///< SIGTERM: how long in-flight requests may finish
  int max_connections = 10'000;               ///< more are answered 503 and closed (idle ones are shed first)
  int max_connections_per_client = 1'000;     ///< per source address; more are answered 503 and closed
  int max_json_depth = 128;                   ///< arrays/objects nested deeper: 400 (client) or upstream error
  std::int64_t max_upstream_body_bytes = 64 << 20;  ///< upstream response body or single stream event
};

/// A parsed base URL.
struct Url {
  bool tls = false;
  std::string host;
  std::uint16_t port = 0;
  std::string base_path;  ///< without trailing slash, e.g. "/v1"
};
std::optional<Url> parse_url(std::string_view s);

/// Settings of the built-in mock provider (demo and tests).
/// A scripted mock answer: when the last user message contains `when`, reply with `replies` (one per
/// choice, cycling; `n` asks for several) and give every token `logprob`.
struct MockScript {
  std::string when;
  std::vector<std::string> replies;
  double logprob = -0.1;
  std::string finish_reason = "stop";
};

struct MockConfig {
  std::vector<MockScript> script;  ///< checked in order before the default reply
  double logprob = -0.1;           ///< per-token logprob when logprobs are requested
  Millis latency{0};               ///< before the first byte
  double tokens_per_second = 0;    ///< streaming pace; 0 means as fast as possible
  std::string reply;               ///< fixed reply text; empty: a deterministic echo
  double fail_rate = 0;            ///< share of requests that fail (a deterministic sequence)
  int fail_status = 503;
  bool hang = false;               ///< never answer (for timeout tests)
};

/// The provider types, in the order of kProviderTypes (their YAML names): the one list of them. The
/// providers module binds each to its codec (providers/registry.cpp, a switch over this enum).
enum class ProviderKind { openai, azure, anthropic, bedrock, gemini, mock };
inline constexpr std::string_view kProviderTypes[] = {"openai", "azure", "anthropic", "bedrock", "gemini", "mock"};
inline std::string_view to_string(ProviderKind k) { return kProviderTypes[static_cast<int>(k)]; }
/// The kind of a YAML type name, or nothing.
std::optional<ProviderKind> provider_kind(std::string_view type);

/// Settings only some provider types take (YAML `options:`), parsed and checked at load by the type, so
/// a bad option is a config error with its YAML path, never a failure at request time.
struct ProviderOptions {
  std::string api_version;                 ///< azure: the api-version query parameter (empty: the codec's default)
  std::string version;                     ///< anthropic: the anthropic-version header (empty: the codec's default)
  std::vector<std::string> beta;           ///< anthropic: anthropic-beta values, sent comma-joined
  std::optional<std::int64_t> max_tokens;  ///< anthropic, bedrock: max tokens when the request sets none
  std::string region;                      ///< bedrock: the AWS region (signing, and the default endpoint)
};
/// Parses a provider's `options:` map as its type defines them; errors go to `d` with their YAML path.
void parse_provider_options(ProviderKind kind, const Node& options, ProviderOptions& out, Diagnostics& d);

struct ProviderConfig {
  std::string name;
  std::string type;                  ///< the YAML type name (kProviderTypes)
  ProviderKind kind = ProviderKind::openai;
  std::string base_url;
  Url url;
  std::string api_key;               ///< resolved secret; never logged
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers sent upstream
  Millis connect_timeout{5'000};
  Millis first_byte_timeout{120'000};  ///< request sent -> response headers
  Millis idle_timeout{60'000};         ///< between body reads
  Millis total_timeout{600'000};
  bool verify_tls = true;
  int max_idle_connections = 64;       ///< per worker thread
  MockConfig mock;
  ProviderOptions options;             ///< type-specific settings (api_version, region, ...)
};

struct DeploymentConfig {
  std::string provider;            ///< provider name
  std::size_t provider_index = 0;  ///< index into Config::providers
  std::string upstream_model;      ///< model id sent upstream
  double input_price = 0;          ///< USD per 1M input tokens
  double output_price = 0;         ///< USD per 1M output tokens
  double cached_input_price = 0;   ///< USD per 1M tokens read from the prompt cache (default by provider type)
  double cache_write_price = 0;    ///< USD per 1M tokens written to it (default by provider type)
  Prices prices() const { return {input_price, output_price, cached_input_price, cache_write_price}; }
  std::int64_t context_window = 0; ///< 0: unknown
  std::optional<std::int64_t> rpm, tpm, max_concurrent;
  double weight = 1;
  std::string id;                  ///< "<model>/<provider>/<index>", stable name for logs and admin
};

/// How a model picks among its deployments (YAML `strategy:`).
enum class Strategy { weighted, least_busy, latency };
/// The YAML names of the strategies, in enum order: the one list of them.
inline constexpr std::string_view kStrategyNames[] = {"weighted", "least-busy", "latency"};
inline std::string_view to_string(Strategy s) { return kStrategyNames[static_cast<int>(s)]; }

struct ModelConfig {
  std::string name;
  std::vector<DeploymentConfig> deployments;
  std::vector<std::string> fallbacks;   ///< models tried in order when every deployment failed
  Strategy strategy = Strategy::weighted;
  std::string context_fallback;          ///< larger-context model for prompts that do not fit
  std::string content_policy_fallback;   ///< model to use when upstream content filter refuses
};

/// Retries, failover, health and limits (see src/limits/README.md).
struct BreakerConfig {
  Millis window{30'000};        ///< error ratio measured over this window
  int min_requests = 5;         ///< fewer requests in the window never open the breaker
  double error_ratio = 0.5;     ///< open at or above this share of failures
  Millis cooldown{15'000};      ///< open -> half-open after this long
  int half_open_probes = 1;     ///< requests let through while half-open
};

struct ReliabilityConfig {
  int max_attempts = 4;                 ///< upstream attempts per request, across deployments and fallbacks
  Millis request_timeout{600'000};      ///< total deadline of a request
  Millis backoff_base{100};             ///< first retry of the same deployment waits ~this (with jitter)
  Millis backoff_max{2'000};
  double retry_budget_ratio = 0.2;      ///< retries allowed as a share of first attempts (global)
  double retry_budget_min_per_s = 10;   ///< ...but always at least this many per second
  Millis cooldown{5'000};               ///< after a 429 that says nothing about when to retry
  Millis wait_for_recovery{0};          ///< when nothing can serve, wait up to this long for a recovery
  std::int64_t default_max_tokens = 256;  ///< completion tokens reserved when a request gives no max_tokens
  double headroom = 0.1;                ///< below this share of a learned or configured limit, weight shrinks
  BreakerConfig breaker;
};

/// A key callers present (`Authorization: Bearer <key>`), with the metadata routing may use.
struct AuthKey {
  std::string name;  ///< shown in logs, metrics and the admin API instead of the key
  Sha256 hash{};     ///< SHA-256 of the key: what presented keys are compared with
  std::string key;   ///< the key itself when configured in plain text (`key:`), for the Redactor; never logged
  std::string tier;  ///< caller tier for routing rules
  std::vector<std::pair<std::string, std::string>> metadata;  ///< for rule stages (`metadata:` conditions)
  std::vector<std::string> models;  ///< models and routers it may ask for; empty: all
  std::optional<std::int64_t> rpm, tpm;  ///< requests / tokens per minute
  std::optional<double> daily_usd, monthly_usd;  ///< spend budgets (UTC day and month)

  bool allows(std::string_view model) const;
  const std::string* meta(std::string_view name) const;
};

/// Keys looked up by the SHA-256 of what a caller presents, then compared in constant time.
class KeySet {
 public:
  std::vector<AuthKey> keys;
  /// The key whose hash matches `presented`'s, or null.
  const AuthKey* find(std::string_view presented) const { return find_by_hash(sha256(presented)); }
  const AuthKey* find_by_hash(const Sha256& hash) const;
  void index();  ///< after `keys` is filled

 private:
  std::unordered_map<std::string, std::size_t> by_hash_;
};

struct AuthConfig : KeySet {
  bool required = false;        ///< reject requests without a known key (401) on every path but the
                                ///< health checks, the dashboard page and `public_paths`
  std::vector<std::string> public_paths;  ///< exact paths served without a key when `required`
  bool trust_tier_header = true;  ///< honour x-switchyard-tier when the key has no tier
};

/// Who may use /admin/*, /metrics and the dashboard's data: callers presenting one of `keys`, or
/// anyone when `open` (an explicit opt-out, for a local demo).
struct AdminConfig : KeySet {
  bool open = false;
};

struct DecisionLogConfig {
  std::string path;             ///< JSONL file; empty disables the log
  bool include_prompt = false;  ///< prompt text in the log (otherwise a SHA-256 of it)
};

/// Limit and health state shared by replicas through Redis (`state:`); absent: all state is local.
struct StateConfig {
  bool enabled = false;
  std::string redis_host;
  std::uint16_t redis_port = 6379;
  std::string redis_password;  ///< secret; never logged
  int redis_db = 0;
  Millis timeout{100};          ///< per Redis command; slower counts as Redis down
  std::string prefix = "switchyard:";
  /// When Redis is down or slow: keep serving on this replica's local state (true), or refuse (503).
  bool rate_limits_fail_open = true;  ///< deployment and key rpm/tpm
  bool budgets_fail_open = false;     ///< key spend
  double lease = 0.02;                ///< share of a limit a replica may take ahead of use (fewer round trips)
};

/// A named router (virtual model). Its stages are built by the pipeline from the raw nodes.
struct RouterConfig {
  std::string name;
  Node node;  ///< the whole `routers[i]` map
};

struct Config {
  std::string source;  ///< file path it was loaded from
  ServerConfig server;
  LoggingConfig logging;
  std::vector<ProviderConfig> providers;
  std::vector<ModelConfig> models;
  std::vector<RouterConfig> routers;
  AuthConfig auth;
  AdminConfig admin;
  StateConfig state;
  DecisionLogConfig decision_log;
  ReliabilityConfig reliability;
  Node root;  ///< the whole document, for modules that own sections of their own

  const ModelConfig* find_model(std::string_view name) const;
  /// What `usage` would cost on `model`'s first deployment (how a choice that was not made is priced:
  /// shadow routing, offline replays); 0 for an unknown model or unknown usage.
  double cost_on(std::string_view model, const Usage& usage) const;
  const RouterConfig* find_router(std::string_view name) const;
  const ProviderConfig* find_provider(std::string_view name) const;

 private:
  friend struct ConfigBuilder;
  std::unordered_map<std::string, std::size_t> model_index_, router_index_, provider_index_;
};

/// Parses and validates YAML text. On failure returns nullptr and fills `d` with every problem found.
std::shared_ptr<const Config> load_config_text(std::string_view yaml, std::string source, Diagnostics& d);
/// Reads the file and calls load_config_text.
std::shared_ptr<const Config> load_config_file(const std::string& path, Diagnostics& d);

/// Every secret value the config puts in the process: upstream API keys, provider header values,
/// gateway keys, and the AWS credentials Bedrock reads from the environment. For the Redactor.
std::vector<std::string> secret_values(const Config& config);


}  // namespace sy::config

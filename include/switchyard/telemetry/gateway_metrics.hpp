#pragma once
/// The gateway's metrics: what requests did, per model, deployment, router and stage, with the
/// OpenTelemetry GenAI semantic-convention names where they exist (gen_ai.client.token.usage,
/// gen_ai.client.operation.duration, gen_ai.server.time_to_first_token,
/// gen_ai.server.time_per_output_token), in Prometheus spelling.
///
/// `GatewayMetrics` is one per process and registers the families. `for_config` resolves, once per
/// configuration load, every child a request of that configuration can update; a request then records
/// through `ConfigMetrics::record` with no lookup by name and no lock. Thread-safe.
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/core/usage.hpp"
#include "switchyard/telemetry/metrics.hpp"

namespace sy::telemetry {

/// One finished request, as the server saw it.
struct RequestSample {
  std::string_view operation;  ///< "chat", "text_completion", "embeddings"
  std::string_view requested_model;
  const config::ModelConfig* model = nullptr;            ///< the model that answered (or was asked), if known
  const config::DeploymentConfig* deployment = nullptr;  ///< the deployment that answered, if any
  int status = 0;
  Usage usage;
  double cost_usd = 0;
  double seconds = 0;           ///< whole request
  double upstream_seconds = 0;  ///< waiting on upstreams
  double overhead_seconds = 0;  ///< the proxy's own time
  std::optional<double> time_to_first_token;  ///< streams: to the first event sent
  const void* router = nullptr;  ///< the router's identity (RouterInfo::id), null when a model was named
  std::string_view stage;        ///< the deciding stage, or "default"
  int escalations = 0;          ///< cascade steps rejected
  int cache = -1;               ///< the router's answer cache: 0 hit, 1 miss, 2 bypass; -1 no cache
  /// Failed upstream attempts (deployment, kind): retried or failed over.
  std::vector<std::pair<const config::DeploymentConfig*, ErrorKind>> failed_attempts;
  bool fallback = false;        ///< answered by another model than the one routed to
  int key_index = -1;           ///< the caller's auth.keys entry, -1 when none
};

class ConfigMetrics;

/// A router of a configuration, for its decision metrics: an identity the request path has at hand
/// (the router object's address), its name and its stages' names.
struct RouterInfo {
  const void* id;
  std::string name;
  std::vector<std::string> stages;
  bool cache = false;  ///< it has an answer cache
};

class GatewayMetrics {
 public:
  explicit GatewayMetrics(Registry& registry);
  Registry& registry() { return registry_; }
  /// Resolves every child the requests of `config` can update (and the per-router stage names given).
  std::shared_ptr<const ConfigMetrics> for_config(const config::Config& config, const std::vector<RouterInfo>& routers);
  void config_reloaded(bool ok) { (ok ? reloads_ok_ : reloads_failed_)->inc(); }
  /// Inter-token gap of a relayed stream (time between two events sent).
  void token_gap(double seconds) { token_gap_->observe(seconds); }
  /// A shadow router's decision on a request `router` answered: the model it chose ("" when it would
  /// have rejected), whether that is the model that answered, what its choice would have cost and what
  /// the answer did cost. Looks its children up by name (the registry's lock): it runs after the answer.
  void shadow(std::string_view router, std::string_view shadow, std::string_view model, bool agree,
              double expected_usd, double actual_usd);

 private:
  friend class ConfigMetrics;
  Registry& registry_;
  Registry::Family *requests_, *tokens_, *token_usage_, *duration_, *ttft_, *upstream_, *overhead_, *cost_,
      *decisions_, *escalations_, *failed_attempts_, *fallbacks_, *reloads_, *key_requests_, *key_spend_,
      *shadow_decisions_, *shadow_cost_, *cache_lookups_;
  Counter *reloads_ok_, *reloads_failed_;
  Histogram* token_gap_;
};

class ConfigMetrics {
 public:
  /// Records one finished request. Lock-free.
  void record(const RequestSample& s) const;

 private:
  friend class GatewayMetrics;
  static constexpr std::size_t kCodes = 5;  // 2xx 4xx 429 5xx 499
  struct PerDeployment {
    std::array<Counter*, kCodes> requests{};
    Counter *input_tokens = nullptr, *output_tokens = nullptr, *cached_tokens = nullptr, *cost = nullptr;
    Histogram *input_usage = nullptr, *output_usage = nullptr, *duration = nullptr, *ttft = nullptr, *upstream = nullptr;
    std::array<Counter*, 24> failed{};  // by ErrorKind
    Counter* fallback = nullptr;
  };
  struct PerModel {
    std::array<Counter*, kCodes> requests{};  // no deployment answered
    Histogram* duration = nullptr;
  };
  struct PerRouter {
    std::vector<std::pair<std::string, Counter*>> decisions;  // by stage name (a router has a few)
    Counter* escalations = nullptr;
    std::array<Counter*, 3> cache{};  // hit, miss, bypass (routers with a cache)
  };
  static std::size_t code_slot(int status);
  std::unordered_map<const config::DeploymentConfig*, PerDeployment> deployments_;
  std::unordered_map<const config::ModelConfig*, PerModel> models_;
  PerModel unknown_;  // a model the config does not have
  std::unordered_map<const void*, PerRouter> routers_;
  struct PerKey {
    std::array<Counter*, kCodes> requests{};
    Counter* spend = nullptr;
  };
  std::vector<PerKey> keys_;  // by auth.keys index
  Histogram* overhead_ = nullptr;
};

}  // namespace sy::telemetry

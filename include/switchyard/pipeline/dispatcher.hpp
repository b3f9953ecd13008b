#pragma once
/// The dispatcher: sends a request to a model's deployments and hands back either a complete response
/// or a stream that is already flowing. It is the one failover loop of the gateway:
///
///  1. pick a deployment of the model that can serve now (not cooling down after a 429, breaker not
///     open, credentials not refused, headroom left under configured and learned limits, prompt fits
///     its context window), ordered by the model's selection strategy;
///  2. reserve its slot and estimated tokens, call it, settle with the real usage;
///  3. on a retryable failure fail over to another deployment at once; retry the same one (after an
///     exponential backoff with jitter) only when no other can serve; all bounded by the attempt
///     limit, the request deadline and a process-wide retry budget;
///  4. then the model's fallbacks (and the context-window / content-policy fallbacks when those are
///     the reason);
///  5. when nothing can serve: 429 (all rate-limited) or 503 (all down) with Retry-After at the
///     earliest recovery, optionally after waiting up to `reliability.wait_for_recovery` for it.
///
/// A dispatcher is built once per config load (it is part of the runtime snapshot) and is immutable:
/// every model's deployments are resolved then — their state in the HealthRegistry, codec, transport,
/// selection strategy and fallback models — so a request does no lookup by name beyond its model's.
/// Thread-safe: shared by all workers; per-deployment state is synchronised by DeploymentState.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/config/config.hpp"
#include "switchyard/config/node.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/core/request.hpp"
#include "switchyard/pipeline/dispatch_clock.hpp"
#include "switchyard/pipeline/outcome.hpp"
#include "switchyard/pipeline/selection.hpp"

namespace sy::tokenize {
class LazyTokenCounter;
}

namespace sy::pipeline {

/// A deployment as resolved when the dispatcher was built.
struct DeploymentPlan {
  const config::DeploymentConfig* config = nullptr;
  const config::ProviderConfig* provider = nullptr;
  std::shared_ptr<limits::DeploymentState> state;  ///< kept across reloads by the HealthRegistry
  const providers::WireFormat* format = nullptr;
  providers::Transport* transport = nullptr;
  std::size_t index = 0;  ///< position among all deployments of the config (per-request bookkeeping)
};

/// A public model as resolved when the dispatcher was built.
struct ModelPlan {
  const config::ModelConfig* config = nullptr;
  std::vector<DeploymentPlan> deployments;
  const SelectionStrategy* strategy = nullptr;
  std::vector<const ModelPlan*> fallbacks;
  const ModelPlan* context_fallback = nullptr;
  const ModelPlan* content_policy_fallback = nullptr;
};

/// Process-wide transports: the mock provider runs in-process, every other one over HTTP.
struct Transports {
  std::shared_ptr<providers::Transport> http;
  std::shared_ptr<providers::Transport> mock;
};

/// What a dispatcher is built with; all of it outlives the dispatchers built from it.
struct DispatcherDeps {
  Transports transports;
  std::shared_ptr<limits::HealthRegistry> health;
  std::shared_ptr<const tokenize::LazyTokenCounter> counter;  ///< null: prompts estimated as bytes / 4
  std::shared_ptr<limits::RetryBudget> budget;                ///< process-wide, so reloads keep it
  const DispatchClock* clock = &DispatchClock::steady();
};

class Dispatcher {
 public:
  /// Resolves every model of `config`. Null, with the problems in `d`, when a provider type has no
  /// codec (the config loader already rejects unknown types, so this is a guard).
  static std::shared_ptr<const Dispatcher> build(std::shared_ptr<const config::Config> config,
                                                 const DispatcherDeps& deps, config::Diagnostics& d);

  /// Sends `request` to public model `model` (its deployments, then its fallbacks).
  boost::asio::awaitable<Result<Outcome>> dispatch(providers::WorkerContext& ctx, const Request& request,
                                                   std::string_view model, DispatchTrace& trace) const;

  /// The plan of a public model, or null.
  const ModelPlan* find(std::string_view model) const;

 private:
  Dispatcher(std::shared_ptr<const config::Config> config, DispatcherDeps deps)
      : config_(std::move(config)), deps_(std::move(deps)) {}
  struct Failover;
  std::shared_ptr<const config::Config> config_;
  DispatcherDeps deps_;
  std::vector<ModelPlan> models_;  ///< parallel to config_->models
  std::size_t deployment_count_ = 0;
};

}  // namespace sy::pipeline

#pragma once
/// Everything derived from one configuration load, published as one immutable snapshot.
///
/// A request takes the current snapshot once at its start and keeps it (a shared_ptr) until it ends, so
/// a reload never changes the rules under an in-flight request or stream. `RuntimeStore` is the only
/// mutable piece: a pointer swapped under a mutex, read through a per-thread cache keyed by an atomic
/// generation counter, so the hot path takes no lock.
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "switchyard/config/config.hpp"

namespace sy::pipeline {

class RouterSet;   // routers built from config (pipeline module)
class Dispatcher;  // the config's models resolved for failover (dispatcher.hpp)
struct DispatcherDeps;
}  // namespace sy::pipeline
namespace sy::tokenize {
class LazyTokenCounter;
}
namespace sy::telemetry {
class DecisionLog;
class GatewayMetrics;
class ConfigMetrics;
}  // namespace sy::telemetry
namespace sy::limits {
class KeyLedger;
class KeyAccount;
}  // namespace sy::limits
namespace sy::state {
class SharedState;
}
namespace sy::embed {
class Embedder;
}
namespace sy::pipeline {

struct Runtime {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const RouterSet> routers;  ///< empty when no routers are configured
  std::shared_ptr<const Dispatcher> dispatcher;  ///< calls the config's models
  std::shared_ptr<const tokenize::LazyTokenCounter> counter;  ///< process-wide, survives reloads
  std::shared_ptr<telemetry::DecisionLog> decision_log;   ///< null when disabled
  std::shared_ptr<const telemetry::ConfigMetrics> metrics;  ///< null when the process keeps no metrics
  /// The spend and limit state of each auth.keys entry (same order), kept across reloads by name.
  std::vector<std::shared_ptr<limits::KeyAccount>> accounts;
  /// Files besides the config that the routers were built from (model files, utterance lists): a changed
  /// one reloads the config, so a retrained model is picked up like an edited config.
  std::vector<std::string> inputs;
  std::uint64_t generation = 0;
};

class RuntimeStore {
 public:
  explicit RuntimeStore(std::shared_ptr<const Runtime> initial) { publish(std::move(initial)); }
  /// The current snapshot. Thread-safe; lock-free unless a reload happened since this thread last looked.
  std::shared_ptr<const Runtime> current() const;
  /// Replaces the snapshot (reload). Thread-safe.
  void publish(std::shared_ptr<const Runtime> rt);
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Runtime> rt_;
  std::atomic<std::uint64_t> generation_{0};
};

}  // namespace sy::pipeline

namespace boost::asio {
class thread_pool;
}

namespace sy::pipeline {

/// Process-wide resources runtimes are built with; owned by main, outlive every runtime.
struct RuntimeDeps {
  std::shared_ptr<const tokenize::LazyTokenCounter> counter;
  boost::asio::thread_pool* cpu_pool = nullptr;
  /// Embedders (e.g. USE-lite weights) kept across reloads. Guarded by `mu`.
  std::map<std::string, std::shared_ptr<const embed::Embedder>> embedder_cache;
  std::mutex mu;
  telemetry::GatewayMetrics* metrics = nullptr;  ///< null: no metrics
  limits::KeyLedger* keys = nullptr;             ///< null: a ledger of the runtime's own (tests)
  state::SharedState* shared = nullptr;          ///< limits shared through Redis; null: all local
  const DispatcherDeps* dispatch = nullptr;      ///< transports, deployment states, retry budget, clock
};

/// Loads and validates `path` (config, routers and their stages, decision log) into a snapshot.
/// Returns null and fills `d` with every problem found.
std::shared_ptr<const Runtime> build_runtime(const std::string& path, RuntimeDeps& deps, std::uint64_t generation,
                                             config::Diagnostics& d);

}  // namespace sy::pipeline

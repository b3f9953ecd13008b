#pragma once
/// How a model picks which of its deployments to call first (YAML `strategy:`): weighted random with
/// headroom steering, least-busy, or lowest latency. One object per strategy, chosen when the
/// dispatcher is built from a config, never by name per request.
#include <cstdint>
#include <span>

#include "switchyard/config/config.hpp"

namespace sy::limits {
class DeploymentState;
}

namespace sy::pipeline {

struct DeploymentPlan;

/// A deployment that can serve this request now.
struct Candidate {
  const DeploymentPlan* plan = nullptr;
  double weight = 1;        ///< configured weight shrunk by lost headroom
  std::int64_t tokens = 0;  ///< tokens to reserve for the request
};

class SelectionStrategy {
 public:
  virtual ~SelectionStrategy() = default;
  /// Moves the candidate to call first to the front of `pool` (not empty). Thread-safe.
  virtual void put_first(std::span<Candidate> pool) const = 0;
};

/// The strategy object for a config value. The one place strategies are registered.
const SelectionStrategy& selection_strategy(config::Strategy s);

}  // namespace sy::pipeline

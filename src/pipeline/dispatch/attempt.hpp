#pragma once
// One upstream attempt of a dispatch: reserve the deployment's slot (and its limits shared with other
// replicas), call it, and classify what came back. Private to the dispatcher.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <string_view>
#include <variant>

#include "switchyard/pipeline/dispatcher.hpp"

namespace sy::pipeline::dispatch {

/// An attempt that never reached the upstream: a concurrent request took the deployment's last slot,
/// or a limit shared with other replicas refused it (or Redis could not be asked, failing closed).
struct Skipped {
  std::string_view reason;  ///< for x-switchyard-skipped: a SkipReason, "shared_limit", "shared_state_unavailable"
  bool shared = false;      ///< refused by shared state: asked again when the request waits for a recovery
  bool rate_limited = false;
  std::chrono::milliseconds retry_after{0};
};

/// The answer, the upstream's failure (already recorded in the deployment's state and the trace), or
/// a skip.
using AttemptResult = std::variant<Outcome, Error, Skipped>;

boost::asio::awaitable<AttemptResult> attempt(providers::WorkerContext& ctx, const config::Config& config,
                                              const DispatchClock& clock, const Request& request,
                                              const ModelPlan& model, const Candidate& pick, DispatchTrace& trace);

}  // namespace sy::pipeline::dispatch

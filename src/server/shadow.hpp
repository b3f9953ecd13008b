#pragma once
// Shadow routing: a router's `shadow:` router decides every request the router answered too, decision
// only, after the answer was sent; the counterfactual (its model, what that would have cost) goes to the
// decision log as a `"type":"shadow"` line and to the switchyard_shadow_* metrics.
#include <boost/asio/awaitable.hpp>
#include <string_view>

#include "switchyard/core/request.hpp"
#include "switchyard/core/usage.hpp"
#include "switchyard/pipeline/router.hpp"
#include "switchyard/pipeline/runtime.hpp"

namespace sy::telemetry {
class GatewayMetrics;
}

namespace sy::server {

/// What the shadow compares against: the request as the router answered it.
struct AnsweredRequest {
  const pipeline::Router& router;  ///< the router that answered (it has a shadow)
  const Request& request;
  const pipeline::Caller& caller;
  std::string_view request_id;
  std::string_view model;  ///< the model that answered
  const Usage& usage;      ///< its token counts (the shadow's choice is priced at the same counts)
  double cost_usd = 0;     ///< what the answer cost
};

/// Runs `answered.router.shadow()` and records its decision. `metrics` may be null.
boost::asio::awaitable<void> decide_shadow(const pipeline::Runtime& runtime, telemetry::GatewayMetrics* metrics,
                                           const AnsweredRequest& answered,
                                           pipeline::RequestFeatures::HeaderLookup headers);

}  // namespace sy::server

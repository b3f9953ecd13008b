// The cascade stage (`type: cascade`): ask a cheap model first and pay for a stronger one only when its
// answer is not good enough. Two strategies, chosen here once at config load by `mode:`:
//
//  - verify (default, verify_cascade.cpp): steps cheap -> expensive, each answer judged by weighted
//    verifiers (verifier.hpp, one file each); the last step is routed like any request.
//  - review (review_cascade.cpp): a cheap draft, a reviewer model checks it against a rubric, a frontier
//    model rewrites it when the reviewer flags problems.
//
// Every call goes through the ModelCaller the router hands to strategies, so limits, cooldowns and
// failover apply to each step. The cost of every call (verifier calls included) is summed into the
// response's cost; the path taken is in `x-switchyard-cascade` (e.g. "small:rejected(0.31) -> large:routed").
#include <array>
#include <utility>

#include "pipeline/strategies/cascade/cascade.hpp"
#include "pipeline/strategies/cascade/verifier.hpp"

namespace sy::pipeline {

namespace cascade {

std::string resolve_model(BuildContext& ctx, const config::Node& at, const std::string& name, config::Diagnostics& d) {
  std::string t = ctx.resolve_target(name);
  if (t.empty()) at.error(d, "unknown model or tier \"" + name + "\"");
  return t;
}

}  // namespace cascade

std::unique_ptr<Stage> make_cascade_stage(const config::Node& n, BuildContext& ctx, config::Diagnostics& d) {
  using Factory = std::unique_ptr<Stage> (*)(const config::Node&, BuildContext&, config::Diagnostics&);
  static constexpr std::array<std::pair<std::string_view, Factory>, 2> kModes = {{
      {"verify", cascade::make_verify_cascade},
      {"review", cascade::make_review_cascade},
  }};
  // Both modes' keys are accepted in either (as they always were).
  n.check_keys({"type", "name", "mode", "steps", "verifiers", "max_escalations", "max_cost_usd", "max_latency",
                "stream_early", "draft", "reviewer", "rewriter", "rubric"},
               d);
  const std::string mode = n.str("mode", d).value_or("verify");
  for (const auto& [name, make] : kModes) {
    if (name == mode) return make(n, ctx, d);
  }
  n.get("mode")->error(d, "expected verify or review");
  return nullptr;
}

}  // namespace sy::pipeline

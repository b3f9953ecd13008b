#pragma once
// The cascade strategies, one class each, chosen at config load by the stage's `mode:`
// (cascade_stage.cpp): verify (verify_cascade.cpp) and review (review_cascade.cpp).
#include <memory>

#include "switchyard/pipeline/stage.hpp"

namespace sy::pipeline::cascade {

/// `mode: verify`: steps cheap -> expensive, each answer judged by the verifiers.
std::unique_ptr<Stage> make_verify_cascade(const config::Node& n, BuildContext& ctx, config::Diagnostics& d);
/// `mode: review`: a draft, a reviewer with a rubric, a rewrite when it flags problems.
std::unique_ptr<Stage> make_review_cascade(const config::Node& n, BuildContext& ctx, config::Diagnostics& d);

}  // namespace sy::pipeline::cascade

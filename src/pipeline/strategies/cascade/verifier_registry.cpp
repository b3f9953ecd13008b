// The one place verifier types are registered: YAML `type:` -> factory. Adding a verifier adds a line
// here and a *_verifier.cpp file; the cascade does not change.
#include <array>
#include <utility>

#include "pipeline/strategies/cascade/verifier.hpp"

namespace sy::pipeline::cascade {

std::unique_ptr<Verifier> make_logprob_verifier(const config::Node&, BuildContext&, config::Diagnostics&);
std::unique_ptr<Verifier> make_heuristics_verifier(const config::Node&, BuildContext&, config::Diagnostics&);
std::unique_ptr<Verifier> make_self_verify_verifier(const config::Node&, BuildContext&, config::Diagnostics&);
std::unique_ptr<Verifier> make_agreement_verifier(const config::Node&, BuildContext&, config::Diagnostics&);
std::unique_ptr<Verifier> make_scorer_verifier(const config::Node&, BuildContext&, config::Diagnostics&);

namespace {
const std::array<std::pair<std::string_view, VerifierFactory>, 5>& registry() {
  static const std::array<std::pair<std::string_view, VerifierFactory>, 5> kVerifiers = {{
      {"logprob", make_logprob_verifier},
      {"heuristics", make_heuristics_verifier},
      {"self_verify", make_self_verify_verifier},
      {"agreement", make_agreement_verifier},
      {"scorer", make_scorer_verifier},
  }};
  return kVerifiers;
}
}  // namespace

const VerifierFactory* verifier_factory(std::string_view type) {
  for (const auto& [t, f] : registry()) {
    if (t == type) return &f;
  }
  return nullptr;
}

std::string verifier_types() {
  std::string out;
  for (const auto& [t, f] : registry()) out += (out.empty() ? "" : ", ") + std::string(t);
  return out;
}

const std::vector<std::string_view>& verifier_keys() {
  static const std::vector<std::string_view> kKeys = {"type",    "weight",  "metric",     "judge",
                                                      "samples", "extract", "model_file", "final_answer"};
  return kKeys;
}

}  // namespace sy::pipeline::cascade

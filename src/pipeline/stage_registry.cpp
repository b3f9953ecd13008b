// The one place stage types are registered: YAML `type:` -> factory. Adding a stage type adds a line
// here and a file in stages/ (or, for a strategy that calls models, a folder in strategies/); no
// existing stage changes.
#include <array>
#include <utility>

#include "switchyard/pipeline/stage.hpp"

namespace sy::pipeline {

std::unique_ptr<Stage> make_rule_stage(const config::Node&, BuildContext&, config::Diagnostics&);
std::unique_ptr<Stage> make_semantic_stage(const config::Node&, BuildContext&, config::Diagnostics&);
std::unique_ptr<Stage> make_learned_stage(const config::Node&, BuildContext&, config::Diagnostics&);
std::unique_ptr<Stage> make_cascade_stage(const config::Node&, BuildContext&, config::Diagnostics&);

namespace {
const std::array<std::pair<std::string_view, StageFactory>, 4>& registry() {
  static const std::array<std::pair<std::string_view, StageFactory>, 4> kStages = {{
      {"rule", make_rule_stage},
      {"semantic", make_semantic_stage},
      {"learned", make_learned_stage},
      {"cascade", make_cascade_stage},
  }};
  return kStages;
}
}  // namespace

const StageFactory* stage_factory(std::string_view type) {
  for (const auto& [t, f] : registry()) {
    if (t == type) return &f;
  }
  return nullptr;
}

std::vector<std::string_view> stage_types() {
  std::vector<std::string_view> out;
  for (const auto& [t, f] : registry()) out.push_back(t);
  return out;
}

}  // namespace sy::pipeline

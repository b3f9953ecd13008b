#pragma once
// Shared by the stage tests: a config with two mock models (`small`, `large`) and a stage built from
// YAML by its registered factory, with config errors collected in `d`.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "switchyard/config/config.hpp"
#include "switchyard/pipeline/stage.hpp"

namespace sy::pipeline::testing {

struct StageFixture : ::testing::Test {
  config::Diagnostics d;
  std::shared_ptr<const config::Config> cfg = config::load_config_text(
      "providers: [{name: mock, type: mock}]\nmodels: [{name: small, provider: mock}, {name: large, provider: mock}]\n",
      "t.yaml", d);

  std::unique_ptr<Stage> build_stage(std::string_view type, const std::string& yaml) {
    config::Diagnostics pd;
    config::Node n = config::parse_yaml(yaml, pd);
    BuildContext ctx{*cfg, nullptr, nullptr, nullptr, "", nullptr};
    ctx.resolve_target = [this](std::string_view t) { return cfg->find_model(t) ? std::string(t) : std::string(); };
    return (*stage_factory(type))(n, ctx, d);
  }
};

}  // namespace sy::pipeline::testing

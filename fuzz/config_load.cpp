// Target: the YAML config loader, config::load_config_text (yaml-cpp -> Node tree -> validated Config).
// Input: a config file's text. `${VAR}` references read the environment; scripts/fuzz.sh runs the
// targets with a fixed environment so results reproduce.
// An exception escaping load_config_text is a finding: its contract is nullptr plus diagnostics.
#include <cstdint>
#include <string>

#include "fuzz_common.hpp"
#include "switchyard/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in = sy::fuzz::as_view(data, size);
  sy::config::Diagnostics d;
  auto cfg = sy::config::load_config_text(in, "fuzz.yaml", d);
  if (cfg) {
    SY_FUZZ_CHECK(d.empty(), in);
    for (const auto& m : cfg->models) SY_FUZZ_CHECK(cfg->find_model(m.name) == &m, m.name);
    for (const auto& p : cfg->providers) SY_FUZZ_CHECK(cfg->find_provider(p.name) == &p, p.name);
    for (const auto& r : cfg->routers) SY_FUZZ_CHECK(cfg->find_router(r.name) == &r, r.name);
    for (const auto& k : cfg->auth.keys) SY_FUZZ_CHECK(cfg->auth.find_by_hash(k.hash) == &k, k.name);
    for (const auto& k : cfg->admin.keys) SY_FUZZ_CHECK(cfg->admin.find_by_hash(k.hash) == &k, k.name);
  } else {
    SY_FUZZ_CHECK(!d.empty(), in);
  }
  return 0;
}

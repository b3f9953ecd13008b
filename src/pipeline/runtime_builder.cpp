#include <filesystem>
#include <stdexcept>

#include "switchyard/pipeline/dispatcher.hpp"
#include "switchyard/pipeline/router.hpp"
#include "switchyard/pipeline/runtime.hpp"
#include "switchyard/limits/key_ledger.hpp"
#include "switchyard/telemetry/decision_log.hpp"
#include "switchyard/telemetry/gateway_metrics.hpp"
#include "switchyard/tokenize/lazy_token_counter.hpp"

namespace sy::pipeline {

std::shared_ptr<const Runtime> build_runtime(const std::string& path, RuntimeDeps& deps, std::uint64_t generation,
                                             config::Diagnostics& d) {
  auto cfg = config::load_config_file(path, d);
  if (!cfg) return nullptr;
  auto rt = std::make_shared<Runtime>();
  rt->config = cfg;
  rt->counter = deps.counter;
  rt->generation = generation;
  rt->dispatcher = Dispatcher::build(cfg, *deps.dispatch, d);
  if (!rt->dispatcher) return nullptr;
  if (!cfg->routers.empty()) {
    std::lock_guard lock(deps.mu);
    BuildContext ctx{*cfg, deps.counter, nullptr, &deps.embedder_cache,
                     std::filesystem::path(path).parent_path().string(), deps.cpu_pool};
    ctx.shared = deps.shared;
    rt->routers = RouterSet::build(*cfg, ctx, d);
    if (!rt->routers) return nullptr;
    rt->inputs = std::move(ctx.inputs);
  }
  if (!cfg->decision_log.path.empty()) {
    try {
      rt->decision_log = telemetry::DecisionLog::open(cfg->decision_log.path, cfg->decision_log.include_prompt);
    } catch (const std::exception& e) {
      d.error("decision_log.path", 0, e.what());
      return nullptr;
    }
  }
  limits::KeyLedger own;
  for (const auto& k : cfg->auth.keys) {
    auto account = (deps.keys ? *deps.keys : own).account(k.name);
    if (deps.shared) {
      auto* s = deps.shared;
      account->share(k.rpm ? s->window("key:" + k.name + ":rpm", *k.rpm) : nullptr,
                     k.tpm ? s->window("key:" + k.name + ":tpm", *k.tpm, true) : nullptr,
                     k.daily_usd || k.monthly_usd ? s->spend(k.name) : nullptr, s);
    }
    rt->accounts.push_back(std::move(account));
  }
  if (deps.metrics) {
    std::vector<telemetry::RouterInfo> routers;
    if (rt->routers) {
      for (const auto& r : rt->routers->routers()) routers.push_back({r.get(), r->name(), r->stage_names(), r->cache() != nullptr});
    }
    rt->metrics = deps.metrics->for_config(*cfg, routers);
  }
  return rt;
}

}  // namespace sy::pipeline

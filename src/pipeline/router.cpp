#include "switchyard/pipeline/router.hpp"

#include <algorithm>

namespace sy::pipeline {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {
std::string_view kind_name(Decision::Kind k) {
  switch (k) {
    case Decision::Kind::pass: return "pass";
    case Decision::Kind::route: return "route";
    case Decision::Kind::reject: return "reject";
    case Decision::Kind::respond: return "respond";
  }
  return "pass";
}
}  // namespace

std::vector<std::string> Router::stage_names() const {
  std::vector<std::string> out;
  for (const auto& s : stages_) out.push_back(s->name());
  if (cache_) out.push_back("cache");  // a request answered from the answer cache
  return out;
}

net::awaitable<Decision> Stage::decide(StageContext& ctx) const {
  Decision d;
  decide_now(ctx, d);
  co_return d;
}

net::awaitable<RouteResult> Router::route(RequestFeatures& features, const ModelCaller& models) const {
  RouteResult result;
  result.records.reserve(stages_.size());
  const auto started = Clock::now();
  auto t0 = started;  // each stage's start: the previous one's end
  for (const auto& stage : stages_) {
    StageContext ctx{features, stage->calls_models() ? &models : nullptr};
    Decision d;
    if (!stage->decide_now(ctx, d)) d = co_await stage->decide(ctx);
    const auto t1 = Clock::now();
    const bool pass = d.kind == Decision::Kind::pass;
    // A passing stage's reason goes to its record only; a deciding one's to the result too.
    result.records.push_back(StageRecord{stage->name(), std::string(stage->type()), std::string(kind_name(d.kind)),
                                         pass ? std::move(d.reason) : d.reason, std::move(d.scores),
                                         std::chrono::duration<double, std::micro>(t1 - t0).count()});
    t0 = t1;
    if (pass) continue;
    result.stage = stage->name();
    result.reason = std::move(d.reason);
    result.report = std::move(d.report);
    if (d.kind == Decision::Kind::route) {
      result.kind = RouteResult::Kind::route;
      result.model = std::move(d.target);
    } else if (d.kind == Decision::Kind::reject) {
      result.kind = RouteResult::Kind::reject;
      result.error = std::move(d.error);
    } else {
      result.kind = RouteResult::Kind::respond;
      result.model = std::move(d.target);
      result.outcome = std::move(d.outcome);
      result.trace = std::move(d.trace);
    }
    result.micros = std::chrono::duration<double, std::micro>(t1 - started).count();
    co_return result;
  }
  result.kind = RouteResult::Kind::route;
  result.model = default_;
  result.stage = "default";
  result.reason = "default";
  result.micros = std::chrono::duration<double, std::micro>(t0 - started).count();
  co_return result;
}

std::shared_ptr<const RouterSet> RouterSet::build(const config::Config& config, BuildContext& ctx,
                                                  config::Diagnostics& d) {
  auto set = std::make_shared<RouterSet>();
  size_t errors_before = d.errors().size();
  for (const auto& rc : config.routers) {
    const config::Node& n = rc.node;
    n.check_keys({"name", "description", "default", "tiers", "stages", "shadow", "cache"}, d);
    auto router = std::make_unique<Router>();
    router->name_ = rc.name;
    // Tiers: names a stage may route to, each mapping to a model.
    std::map<std::string, std::string> tiers;
    if (const config::Node* t = n.get("tiers"); t && !t->is_null()) {
      if (!t->is_map()) {
        t->error(d, "expected a map of tier name to model");
      } else {
        for (const auto& [tier, model] : t->members()) {
          if (!model.is_scalar()) {
            model.error(d, "expected a model name");
          } else if (!config.find_model(model.scalar())) {
            model.error(d, "unknown model \"" + model.scalar() + "\"");
          } else {
            tiers[tier] = model.scalar();
          }
        }
      }
    }
    ctx.resolve_target = [&config, tiers](std::string_view target) -> std::string {
      if (auto it = tiers.find(std::string(target)); it != tiers.end()) return it->second;
      if (config.find_model(target)) return std::string(target);
      return {};
    };
    if (auto def = n.str("default", d, true)) {
      router->default_ = ctx.resolve_target(*def);
      if (router->default_.empty()) n.get("default")->error(d, "unknown model or tier \"" + *def + "\"");
    }
    const config::Node* stages = n.get("stages");
    if (stages && !stages->is_null()) {
      if (!stages->is_sequence()) {
        stages->error(d, "expected a list of stages");
      } else {
        std::set<std::string> names;
        for (size_t i = 0; i < stages->items().size(); ++i) {
          const auto& sn = stages->items()[i];
          if (!sn.is_map()) {
            sn.error(d, "expected a map with a type");
            continue;
          }
          auto type = sn.str("type", d, true);
          if (!type) continue;
          const StageFactory* factory = stage_factory(*type);
          if (!factory) {
            std::string known;
            for (auto t : stage_types()) known += (known.empty() ? "" : ", ") + std::string(t);
            sn.get("type")->error(d, "unknown stage type \"" + *type + "\" (known: " + known + ")");
            continue;
          }
          const std::size_t errors_before = d.errors().size();
          auto stage = (*factory)(sn, ctx, d);
          if (!stage) {
            // A factory that fails says why; one that did not must not drop the stage silently.
            if (d.errors().size() == errors_before) sn.error(d, "this " + *type + " stage could not be built");
            continue;
          }
          std::string name = sn.str("name", d).value_or(*type);
          if (!names.insert(name).second) name += "#" + std::to_string(i);
          stage->set_name(std::move(name));
          router->stages_.push_back(std::move(stage));
        }
      }
    }
    if (const config::Node* c = n.get("cache"); c && !c->is_null()) router->cache_ = AnswerCache::from_yaml(*c, router->name(), config.state.enabled, ctx.shared, d);
    set->by_name_[router->name_] = router.get();
    set->routers_.push_back(std::move(router));
  }
  ctx.resolve_target = nullptr;
  // Shadows, once every router exists: another router that decides every request too, decision only.
  for (std::size_t i = 0; i < config.routers.size(); ++i) {
    const config::Node& n = config.routers[i].node;
    auto name = n.str("shadow", d);
    if (!name || name->empty()) continue;
    Router& router = *set->routers_[i];
    const Router* shadow = set->find(*name);
    if (!shadow) {
      n.get("shadow")->error(d, "unknown router \"" + *name + "\"");
    } else if (shadow == &router) {
      n.get("shadow")->error(d, "a router cannot shadow itself");
    } else if (const auto it = std::find_if(shadow->stages_.begin(), shadow->stages_.end(),
                                            [](const auto& s) { return s->calls_models(); });
               it != shadow->stages_.end()) {
      n.get("shadow")->error(d, "router \"" + *name + "\" has a stage that calls models (" + (*it)->name() +
                                    "); a shadow only decides, it never calls a model");
    } else {
      router.shadow_ = shadow;
    }
  }
  if (d.errors().size() != errors_before) return nullptr;
  return set;
}

const Router* RouterSet::find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : it->second;
}

}  // namespace sy::pipeline

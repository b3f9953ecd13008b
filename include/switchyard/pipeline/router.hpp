#pragma once
/// Routers: named virtual models whose stages decide which real model answers.
///
/// Built from config by `RouterSet::build` (all validation happens there: unknown stage types, targets
/// that are neither a model nor a tier, bad regexes), immutable afterwards and shared by all threads.
#include <boost/asio/awaitable.hpp>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "switchyard/pipeline/answer_cache.hpp"
#include "switchyard/pipeline/stage.hpp"

namespace sy::pipeline {

/// What one stage did, for the debug header and the decision log.
struct StageRecord {
  std::string name;
  std::string type;
  std::string outcome;  ///< pass, route, reject, respond
  std::string reason;
  std::vector<std::pair<std::string, double>> scores;
  double micros = 0;
};

struct RouteResult {
  enum class Kind { route, reject, respond };
  Kind kind = Kind::route;
  std::string model;   ///< the chosen real model
  std::string stage;   ///< the deciding stage, or "default"
  std::string reason;
  Error error;         ///< Kind::reject
  std::optional<Outcome> outcome;  ///< Kind::respond
  DispatchTrace trace;
  StrategyReport report;  ///< the deciding strategy's spend, header and escalations (Decision::report)
  std::vector<StageRecord> records;
  double micros = 0;   ///< time spent routing
};

class Router {
 public:
  const std::string& name() const { return name_; }
  const std::string& default_target() const { return default_; }
  /// Runs the stages in order until one decides; `models` is handed to strategies only.
  boost::asio::awaitable<RouteResult> route(RequestFeatures& features, const ModelCaller& models) const;
  /// The names its stages decide under (RouteResult::stage), in order.
  std::vector<std::string> stage_names() const;
  /// The router that also decides every request this one answers (YAML `shadow:`), decision only, so
  /// that two configurations can be compared on live traffic; null when none. Its stages never call
  /// models (checked at load).
  const Router* shadow() const { return shadow_; }
  /// Its answer cache (YAML `cache:`), null when it has none.
  AnswerCache* cache() const { return cache_.get(); }

 private:
  friend class RouterSet;
  const Router* shadow_ = nullptr;
  std::shared_ptr<AnswerCache> cache_;
  std::string name_;
  std::string default_;
  std::vector<std::unique_ptr<Stage>> stages_;
};

class RouterSet {
 public:
  /// Builds every router of `config`; problems go to `d` (with YAML paths) and the result is null.
  static std::shared_ptr<const RouterSet> build(const config::Config& config, BuildContext& ctx, config::Diagnostics& d);
  const Router* find(std::string_view name) const;
  const std::vector<std::unique_ptr<Router>>& routers() const { return routers_; }

 private:
  std::vector<std::unique_ptr<Router>> routers_;
  std::unordered_map<std::string, const Router*> by_name_;
};

}  // namespace sy::pipeline

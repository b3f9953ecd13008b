#include "switchyard/pipeline/dispatcher.hpp"

#include <algorithm>
#include <map>
#include <optional>

#include <spdlog/spdlog.h>

#include "attempt.hpp"
#include "switchyard/core/random.hpp"
#include "switchyard/telemetry/log.hpp"
#include "switchyard/tokenize/lazy_token_counter.hpp"

namespace sy::pipeline {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

// ---- Built once per config ----

std::shared_ptr<const Dispatcher> Dispatcher::build(std::shared_ptr<const config::Config> config,
                                                    const DispatcherDeps& deps, config::Diagnostics& d) {
  std::shared_ptr<Dispatcher> out(new Dispatcher(config, deps));
  const auto& cfg = *config;
  out->models_.resize(cfg.models.size());
  bool ok = true;
  for (std::size_t mi = 0; mi < cfg.models.size(); ++mi) {
    const auto& m = cfg.models[mi];
    ModelPlan& plan = out->models_[mi];
    plan.config = &m;
    plan.strategy = &selection_strategy(m.strategy);
    for (const auto& dep : m.deployments) {
      const auto& provider = cfg.providers[dep.provider_index];
      bool in_process = provider.kind == config::ProviderKind::mock;
      DeploymentPlan p{&dep, &provider, deps.health->get(dep.id), &providers::wire_format_for(provider.kind),
                       (in_process ? deps.transports.mock : deps.transports.http).get(), out->deployment_count_++};
      if (!p.transport) {
        d.error("providers." + provider.name, 0, "no transport for provider type \"" + provider.type + "\"");
        ok = false;
      }
      plan.deployments.push_back(std::move(p));
    }
  }
  // Fallbacks as pointers (the config loader checked that every name is a model).
  for (auto& plan : out->models_) {
    for (const auto& f : plan.config->fallbacks) {
      if (const auto* fm = out->find(f)) plan.fallbacks.push_back(fm);
    }
    plan.context_fallback = out->find(plan.config->context_fallback);
    plan.content_policy_fallback = out->find(plan.config->content_policy_fallback);
  }
  if (!ok) return nullptr;
  return out;
}

const ModelPlan* Dispatcher::find(std::string_view model) const {
  if (model.empty()) return nullptr;
  const auto* m = config_->find_model(model);
  return m ? &models_[static_cast<std::size_t>(m - config_->models.data())] : nullptr;
}

// ---- One request ----

/// The state of one request's failover: which models are in the chain, what was tried and skipped, and
/// when something recovers. Lives for one dispatch() call, on its coroutine.
struct Dispatcher::Failover {
  /// What this request did with one deployment, indexed by DeploymentPlan::index.
  struct Seen {
    std::uint8_t failures = 0;    ///< at most one retry of the same deployment per request
    bool skipped = false;         ///< already listed in trace.skipped
    bool shared_refused = false;  ///< refused by a shared limit this round
  };
  const Dispatcher& d;
  const DispatchClock& clock;
  const config::ReliabilityConfig& rel;
  const Request& request;
  DispatchTrace& trace;
  Clock::time_point deadline;
  Clock::time_point wait_until_limit;
  std::vector<const ModelPlan*> chain;
  std::vector<Error> errors;  ///< every failed attempt's error, in order
  std::vector<Seen> seen;  ///< empty until the request first skips or fails (the common request never does)
  int attempts = 0;
  bool all_rate_limited = true;  // every skip so far was about limits, not health
  std::optional<Clock::time_point> earliest;
  // Token estimates per counting method (exact for OpenAI models, else an estimate), computed lazily.
  std::map<int, std::int64_t> prompt_tokens_by_method;
  std::int64_t completion_reserve;
  std::optional<std::int64_t> prompt_bound;  // never below the exact count, and free to compute

  Failover(const Dispatcher& dispatcher, const Request& req, DispatchTrace& t, const ModelPlan& first)
      : d(dispatcher), clock(*dispatcher.deps_.clock), rel(dispatcher.config_->reliability), request(req), trace(t),
        deadline(clock.now() + rel.request_timeout), wait_until_limit(clock.now() + rel.wait_for_recovery),
        chain{&first},
        completion_reserve(req.max_tokens().value_or(rel.default_max_tokens)) {
    for (const auto* f : first.fallbacks) add_model(f, false);
  }

  const Seen& seen_of(const DeploymentPlan& dep) const {
    static const Seen kNothing;
    return seen.empty() ? kNothing : seen[dep.index];
  }
  Seen& mark(const DeploymentPlan& dep) {
    if (seen.empty()) seen.resize(d.deployment_count_);
    return seen[dep.index];
  }

  std::int64_t prompt_tokens(const std::string& upstream_model) {
    if (!d.deps_.counter) return static_cast<std::int64_t>(request.payload().size() / 4);
    auto mc = d.deps_.counter->for_model(upstream_model);
    int key = static_cast<int>(mc.method());
    auto it = prompt_tokens_by_method.find(key);
    if (it != prompt_tokens_by_method.end()) return it->second;
    auto n = static_cast<std::int64_t>(mc.count_chat(request.messages()));
    prompt_tokens_by_method[key] = n;
    return n;
  }

  bool fits_for_sure(std::int64_t window) {
    if (!prompt_bound) prompt_bound = static_cast<std::int64_t>(tokenize::chat_tokens_upper_bound(request.messages()));
    return *prompt_bound + completion_reserve <= window;
  }

  /// Adds a model to the chain: next (a context or content-policy fallback) or last (a fallback).
  void add_model(const ModelPlan* m, bool next) {
    if (!m || std::find(chain.begin(), chain.end(), m) != chain.end()) return;
    if (next) chain.insert(chain.begin() + 1, m);
    else chain.push_back(m);
  }

  void skip(const DeploymentPlan& dep, std::string_view reason) {
    auto& s = mark(dep);
    if (!s.skipped) trace.skipped.emplace_back(dep.config->id, std::string(reason));
    s.skipped = true;
  }

  void note_recovery(Clock::time_point at) {
    if (!earliest || at < *earliest) earliest = at;
  }

  /// 1. The deployments of `model` that can serve now; those not yet tried this request first.
  /// `context_too_small` stays true while the prompt fits no deployment's context window.
  std::vector<Candidate> candidates(const ModelPlan& model, Clock::time_point now, bool& context_too_small) {
    std::vector<Candidate> fresh, retried;
    for (const auto& plan : model.deployments) {
      const auto& dep = *plan.config;
      const Seen& s = seen_of(plan);
      if (s.failures >= 2 || s.shared_refused) continue;
      // Exact counts only where a limit needs them: TPM accounting, or a context window the prompt
      // may come near (a prompt whose byte count fits is never tokenised). Otherwise the raw size of
      // the messages / 4 is enough to reserve against learned token headroom.
      bool exact = dep.tpm || (dep.context_window && !fits_for_sure(dep.context_window));
      std::int64_t need_prompt = exact ? prompt_tokens(dep.upstream_model)
                                       : static_cast<std::int64_t>(request.payload().size() / 4);
      if (dep.context_window && exact && need_prompt + completion_reserve > dep.context_window) {
        skip(plan, "context_window");
        continue;
      }
      context_too_small = false;
      std::int64_t tokens = need_prompt + completion_reserve;
      auto c = plan.state->check(dep, rel, now, tokens);
      if (c.reason != limits::SkipReason::none) {
        skip(plan, limits::to_string(c.reason));
        bool limit_kind = c.reason == limits::SkipReason::cooldown || c.reason == limits::SkipReason::no_headroom ||
                          c.reason == limits::SkipReason::max_concurrent;
        all_rate_limited = all_rate_limited && limit_kind;
        if (c.recovery > now) note_recovery(c.recovery);
        continue;
      }
      (s.failures ? retried : fresh).push_back(Candidate{&plan, dep.weight * c.weight_factor, tokens});
    }
    return fresh.empty() ? std::move(retried) : std::move(fresh);
  }

  /// 2. Retrying a deployment that already failed this request adds load to a struggling provider: it
  /// needs the global retry budget, and waits a backoff with jitter first (before_retry: false when the
  /// budget is out, and the deployment is then not tried again). Failing over to another deployment needs
  /// neither; is_retry tells the two apart without a coroutine call.
  bool is_retry(const Candidate& pick) const { return seen_of(*pick.plan).failures != 0; }
  net::awaitable<bool> before_retry(const Candidate& pick) {
    auto& s = mark(*pick.plan);
    if (!d.deps_.budget->try_retry(clock.now(), rel.retry_budget_min_per_s)) {
      telemetry::logger("pipeline")->warn("retry budget exhausted; not retrying {}", pick.plan->config->id);
      s.failures = 2;
      co_return false;
    }
    auto base = rel.backoff_base.count() * (1 << std::min(attempts - 1, 10));
    auto capped = std::min<std::int64_t>(base, rel.backoff_max.count());
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    auto wait = milliseconds(static_cast<std::int64_t>(static_cast<double>(capped) * jitter(thread_rng())));
    co_await wait_until(std::min(clock.now() + wait, deadline));
    co_return true;
  }

  /// Waits (backoff, or for a recovery), counting the wait as upstream time.
  net::awaitable<void> wait_until(Clock::time_point t) {
    auto t0 = clock.now();
    co_await clock.sleep_until(t);
    trace.upstream_time += duration_cast<microseconds>(clock.now() - t0);
  }

  /// 3. An attempt that never reached the upstream. A lost race for a local slot takes the deployment
  /// out for this request; a shared refusal only for this round (a wait for recovery asks again).
  void after_skip(const dispatch::Skipped& s, const Candidate& pick) {
    --attempts;
    auto& seen_dep = mark(*pick.plan);
    if (!s.shared) {
      seen_dep.failures = 2;
      return;
    }
    seen_dep.shared_refused = true;
    skip(*pick.plan, s.reason);
    if (!s.rate_limited) all_rate_limited = false;
    else note_recovery(clock.now() + s.retry_after);
  }

  enum class Next { same_model, next_model, give_up };
  /// 4. What a failed attempt means for the rest of the request.
  Next after_failure(Error e, const ModelPlan& model, const Candidate& pick) {
    mark(*pick.plan).failures += 1;
    const ModelPlan* special = e.kind == ErrorKind::content_filter   ? model.content_policy_fallback
                               : e.kind == ErrorKind::context_length ? model.context_fallback
                                                                     : nullptr;
    bool retry = is_retryable(e.kind);
    errors.push_back(std::move(e));
    if (special) {
      add_model(special, true);
      return Next::next_model;
    }
    return retry ? Next::same_model : Next::give_up;
  }

  /// 5. Nothing more to try: whether waiting for the earliest recovery (reliability.wait_for_recovery)
  /// may still serve the request.
  bool worth_waiting() const {
    return earliest && *earliest <= wait_until_limit && *earliest < deadline && attempts < rel.max_attempts;
  }

  /// The one mapping of a request that found no answer to its error: the last upstream failure when
  /// something was called (with Retry-After at the earliest recovery when it is retryable), else why
  /// nothing could be called — the context window, every deployment at its limits (429), or down (503).
  Error exhausted(std::string_view model_name) const {
    auto now = clock.now();
    auto until_recovery = [&] { return duration_cast<milliseconds>(*earliest - now) + milliseconds(1); };
    if (!errors.empty() && attempts > 0) {
      Error e = errors.back();
      if (is_retryable(e.kind) && earliest && *earliest > now && !e.retry_after) e.retry_after = until_recovery();
      return e;
    }
    bool context = !trace.skipped.empty() && std::all_of(trace.skipped.begin(), trace.skipped.end(),
                                                         [](auto& s) { return s.second == "context_window"; });
    std::string name(model_name);
    if (context) {
      Error e = Error::make(ErrorKind::context_length,
                            "The prompt does not fit the context window of any deployment of '" + name + "'.");
      e.param = "messages";
      return e;
    }
    Error e = all_rate_limited && !trace.skipped.empty()
                  ? Error::make(ErrorKind::rate_limited, "Every deployment of '" + name +
                                                             "' is at its rate limit; retry after the time in Retry-After.")
                  : Error::make(ErrorKind::unavailable, "No deployment of '" + name + "' is available right now.");
    e.retry_after = earliest && *earliest > now ? until_recovery() : milliseconds(1000);
    return e;
  }

  /// Starts over from the first model after waiting for a recovery.
  void new_round() {
    earliest.reset();
    for (auto& s : seen) {
      s.skipped = false;
      s.shared_refused = false;
    }
  }
};

net::awaitable<Result<Outcome>> Dispatcher::dispatch(providers::WorkerContext& ctx, const Request& request,
                                                     std::string_view model_name, DispatchTrace& trace) const {
  const ModelPlan* first = find(model_name);
  if (!first) {
    Error e = Error::make(ErrorKind::not_found,
                          "The model '" + std::string(model_name) + "' does not exist or you do not have access to it.");
    e.param = "model";
    e.code = "model_not_found";
    co_return e;
  }
  const auto& rel = config_->reliability;
  deps_.budget->on_request(rel.retry_budget_ratio);
  Failover f(*this, request, trace, *first);

  for (size_t mi = 0; mi < f.chain.size(); ++mi) {
    const ModelPlan& model = *f.chain[mi];
    bool context_too_small = !model.deployments.empty();
    while (f.clock.now() < f.deadline) {
      auto pool = f.candidates(model, f.clock.now(), context_too_small);
      if (pool.empty() || f.attempts >= rel.max_attempts) break;
      model.strategy->put_first(pool);
      const Candidate pick = pool[0];
      if (f.is_retry(pick)) {  // a first try awaits nothing (and no co_await inside &&: GCC 12)
        if (!co_await f.before_retry(pick)) continue;
      }
      ++f.attempts;
      auto r = co_await dispatch::attempt(ctx, *config_, f.clock, request, model, pick, trace);
      if (auto* out = std::get_if<Outcome>(&r)) co_return std::move(*out);
      if (auto* skipped = std::get_if<dispatch::Skipped>(&r)) {
        f.after_skip(*skipped, pick);
        continue;
      }
      auto next = f.after_failure(std::get<Error>(std::move(r)), model, pick);
      if (next == Failover::Next::give_up) co_return f.errors.back();
      if (next == Failover::Next::next_model) break;
    }
    // Decided before any call: the prompt does not fit this model anywhere.
    if (context_too_small) f.add_model(model.context_fallback, true);
    if (mi + 1 == f.chain.size() && f.worth_waiting()) {
      // Nothing more to try: wait for the earliest recovery, then look again from the first model.
      co_await f.wait_until(*f.earliest + milliseconds(1));
      f.new_round();
      mi = static_cast<size_t>(-1);
    }
  }
  co_return f.exhausted(model_name);
}

}  // namespace sy::pipeline

#include "switchyard/pipeline/dispatcher.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include <spdlog/spdlog.h>

#include "switchyard/telemetry/log.hpp"
#include "switchyard/tokenize/lazy_token_counter.hpp"

namespace sy::pipeline {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

std::int64_t unix_ms() {
  return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::mt19937_64& rng() {
  thread_local std::mt19937_64 r{std::random_device{}()};
  return r;
}

net::awaitable<void> sleep_until(Clock::time_point t) {
  net::steady_timer timer(co_await net::this_coro::executor, t);
  co_await timer.async_wait(net::as_tuple(net::use_awaitable));
}

}  // namespace

// ---- Lease and ResponseStream ----

void Lease::settle(const Usage* usage) {
  if (done_) return;
  done_ = true;
  std::int64_t actual = usage && usage->known ? usage->prompt_tokens + usage->completion_tokens : -1;
  state_->release(Clock::now(), reserved_, actual, probe_);
  // The shared window gets what the reservation missed (or back what it over-reserved); without
  // usage the reservation stands, as locally.
  if (shared_tpm_ && actual >= 0) shared_tpm_->settle(actual - shared_tokens_);
}


void ResponseStream::fail(const Error& e) {
  if (!lease_) return;
  lease_->state().on_failure(Clock::now(), e, {}, lease_->reliability());
  lease_->settle(&decoder_->usage());
}

net::awaitable<Result<bool>> ResponseStream::next(std::string& out) {
  const size_t from = out.size();
  if (!pending_.empty()) {
    out.append(pending_);
    pending_.clear();
    filter(out, from);
    co_return true;
  }
  if (ended_) co_return false;
  for (;;) {
    raw_.clear();
    auto more = co_await exchange_->read_some(raw_);
    if (!more) {
      fail(more.error());
      co_return std::move(more).error();
    }
    if (!*more) {
      ended_ = true;
      auto st = decoder_->finish(out);
      if (!st) {
        fail(st.error());
        co_return std::move(st).error();
      }
      if (lease_) lease_->settle(&decoder_->usage());
      filter(out, from);
      co_return out.size() > from;
    }
    auto st = decoder_->feed(raw_, out);
    if (!st) {
      fail(st.error());
      co_return std::move(st).error();
    }
    if (out.size() > from) {
      filter(out, from);
      co_return true;
    }
  }
}

// ---- Dispatcher ----

struct Dispatcher::Pick {
  const config::DeploymentConfig* dep = nullptr;
  std::shared_ptr<limits::DeploymentState> state;
  double weight = 1;
  std::int64_t tokens = 0;
};

Dispatcher::Dispatcher(Transports transports, std::shared_ptr<limits::HealthRegistry> health,
                       std::shared_ptr<const tokenize::LazyTokenCounter> counter)
    : transports_(std::move(transports)), health_(std::move(health)), counter_(std::move(counter)),
      budget_(std::make_shared<limits::RetryBudget>()) {}

net::awaitable<Result<Dispatcher::SharedReservation>> Dispatcher::reserve_shared(const Pick& pick) const {
  SharedReservation r;
  auto rpm = pick.state->shared_rpm();
  auto tpm = pick.state->shared_tpm();
  if (!rpm && !tpm) co_return r;
  // Refused: the deployment is at its limit across replicas (a skip, like a local limit). Redis down or
  // slow: the configured policy (fail open: local state only; closed: skip it).
  auto refused = [&](state::Verdict v, const std::shared_ptr<state::Window>& w) -> std::optional<Error> {
    if (v == state::Verdict::granted) return std::nullopt;
    if (v == state::Verdict::unavailable && w->owner()->config().rate_limits_fail_open) {
      w->owner()->note_fail_open();
      return std::nullopt;
    }
    if (v == state::Verdict::unavailable) w->owner()->note_fail_closed();
    Error e = Error::make(v == state::Verdict::refused ? ErrorKind::rate_limited : ErrorKind::unavailable,
                          v == state::Verdict::refused ? "shared_limit" : "shared_state_unavailable");
    e.code = "skip";
    e.retry_after = milliseconds(1000);
    return e;
  };
  if (rpm) {
    auto v = rpm->take_local(1, Clock::now()) ? state::Verdict::granted : co_await state::reserve(rpm, 1);
    if (auto e = refused(v, rpm)) co_return std::move(*e);
    if (v == state::Verdict::granted) r.rpm = rpm;
  }
  if (tpm) {
    auto v = tpm->take_local(pick.tokens, Clock::now()) ? state::Verdict::granted : co_await state::reserve(tpm, pick.tokens);
    if (auto e = refused(v, tpm)) {
      if (r.rpm) r.rpm->settle(-1);
      co_return std::move(*e);
    }
    if (v == state::Verdict::granted) r.tokens = pick.tokens;
    r.tpm = tpm;
  }
  co_return r;
}

net::awaitable<Result<Outcome>> Dispatcher::attempt(providers::WorkerContext& ctx, const config::Config& config,
                                                    const Request& request, const config::ModelConfig& model,
                                                    const Pick& pick, DispatchTrace& trace) const {
  const auto& dep = *pick.dep;
  const auto& rel = config.reliability;
  const auto& provider = config.providers[dep.provider_index];
  const providers::WireFormat* format = providers::wire_format_for(provider.type);
  if (!format) co_return Error::make(ErrorKind::internal, "no wire format for provider type " + provider.type);
  auto& transport = provider.type == "mock" ? transports_.mock : transports_.http;
  auto encoded = format->encode(request, providers::EncodeOptions{provider, dep, true});
  if (!encoded) co_return std::move(encoded).error();

  // Limits shared with other replicas (state: in the config) are reserved first, in Redis.
  Result<SharedReservation> shared = SharedReservation{};
  if (pick.state->has_shared()) shared = co_await reserve_shared(pick);
  if (!shared) co_return std::move(shared).error();
  auto acquired = pick.state->acquire(dep, rel, Clock::now(), pick.tokens);
  if (acquired.reason != limits::SkipReason::none) {
    if (shared->rpm) shared->rpm->settle(-1);  // not sent after all
    if (shared->tpm) shared->tpm->settle(-shared->tokens);
    Error e = Error::make(ErrorKind::unavailable, std::string(limits::to_string(acquired.reason)));
    e.code = "skip";
    co_return e;
  }
  auto lease = std::make_unique<Lease>(pick.state, &rel, pick.tokens, acquired.probe);
  lease->share(shared->tpm, shared->tokens);

  auto started = Clock::now();
  auto deadline = std::min(started + provider.total_timeout, started + rel.request_timeout);
  Attempt attempt{dep.id, "ok", 0, {}, &dep};
  auto record = [&](const Error* e) {
    attempt.elapsed = duration_cast<microseconds>(Clock::now() - started);
    trace.upstream_time += attempt.elapsed;
    if (e) {
      attempt.outcome = std::string(to_string(e->kind));
      attempt.kind = e->kind;
    }
    trace.attempts.push_back(attempt);
  };
  limits::LearnedLimits learned;
  auto fail = [&](Error e) -> Result<Outcome> {
    e.deployment = dep.id;
    record(&e);
    bool newly_out = pick.state->on_failure(Clock::now(), e, learned, rel);
    if (newly_out) {
      telemetry::logger("pipeline")->error(
          "deployment {} refused our credentials (HTTP {}): taken out of rotation until its config changes",
          dep.id, e.upstream_status);
    }
    lease->settle(nullptr);
    return e;
  };

  auto ex = co_await transport->start(ctx, provider, std::move(*encoded), deadline);
  if (!ex) co_return fail(std::move(ex).error());
  auto& exchange = *ex;
  attempt.status = exchange->head().status;
  trace.time_to_head = exchange->time_to_head;
  learned = limits::parse_rate_headers(exchange->head().headers, unix_ms());
  pick.state->learn(Clock::now(), learned);

  if (attempt.status < 200 || attempt.status > 299) {
    std::string body;
    auto st = co_await exchange->read_all(body, 1 << 20);
    (void)st;  // the status alone classifies a truncated error body
    Error e = format->classify_error(attempt.status, exchange->head().headers, body);
    if (!e.retry_after && learned.retry_after) e.retry_after = learned.retry_after;
    co_return fail(std::move(e));
  }

  Outcome out;
  if (!request.stream()) {
    std::string body;
    auto st = co_await exchange->read_all(body, static_cast<std::size_t>(config.server.max_upstream_body_bytes));
    if (!st) co_return fail(std::move(st).error());
    auto decoded = format->decode_response(request, std::move(body), out.usage);
    if (!decoded) co_return fail(std::move(decoded).error());
    out.body = std::move(*decoded);
    lease->settle(&out.usage);
  } else {
    // Wait for the first event before committing, so a stream that dies before saying anything can
    // still fail over invisibly.
    auto decoder = format->stream_decoder(request);
    std::string first, raw;
    while (decoder->events() == 0) {
      raw.clear();
      auto more = co_await exchange->read_some(raw);
      if (!more) co_return fail(std::move(more).error());
      if (!*more) {
        auto st = decoder->finish(first);
        if (!st) co_return fail(std::move(st).error());
        break;
      }
      auto st = decoder->feed(raw, first);
      if (!st) co_return fail(std::move(st).error());
    }
    if (decoder->events() == 0) co_return fail(Error::make(ErrorKind::connection, "upstream stream carried no events"));
    out.stream = std::make_unique<ResponseStream>(std::move(exchange), std::move(decoder), std::move(first), std::move(lease));
  }
  record(nullptr);
  pick.state->on_success(Clock::now(), trace.time_to_head, rel);
  trace.model = model.name;
  trace.deployment = dep.id;
  trace.upstream_model = dep.upstream_model;
  trace.deployment_config = &dep;
  co_return out;
}

/// The state of one request's failover: which models are in the chain, what was tried and skipped, and
/// when something recovers. Lives for one dispatch() call, on its coroutine.
struct Dispatcher::Failover {
  const Dispatcher& d;
  const config::Config& config;
  const config::ReliabilityConfig& rel;
  const Request& request;
  DispatchTrace& trace;
  Clock::time_point deadline;
  Clock::time_point wait_until_limit;
  std::vector<const config::ModelConfig*> chain;
  std::optional<Error> last;
  std::map<std::string, int> failures;  // per deployment id, this request
  std::set<std::string> skipped_seen;
  std::set<std::string> shared_refused;  // refused by a limit shared with other replicas, this round
  int attempts = 0;
  bool all_rate_limited = true;  // every skip so far was about limits, not health
  std::optional<Clock::time_point> earliest;
  // Token estimates per counting method (exact for OpenAI models, else an estimate), computed lazily.
  std::map<int, std::int64_t> prompt_tokens_by_method;
  std::int64_t completion_reserve;
  std::optional<std::int64_t> prompt_bound;  // never below the exact count, and free to compute

  Failover(const Dispatcher& dispatcher, const config::Config& cfg, const Request& req, DispatchTrace& t,
           const config::ModelConfig& first)
      : d(dispatcher), config(cfg), rel(cfg.reliability), request(req), trace(t),
        deadline(Clock::now() + rel.request_timeout), wait_until_limit(Clock::now() + rel.wait_for_recovery),
        chain{&first}, completion_reserve(req.max_tokens().value_or(rel.default_max_tokens)) {
    for (const auto& f : first.fallbacks) add_model(f, false);
  }

  std::int64_t prompt_tokens(const std::string& upstream_model) {
    if (!d.counter_) return static_cast<std::int64_t>(request.payload().size() / 4);
    auto mc = d.counter_->for_model(upstream_model);
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
  void add_model(const std::string& name, bool next) {
    const auto* m = config.find_model(name);
    if (!m || std::find(chain.begin(), chain.end(), m) != chain.end()) return;
    if (next) chain.insert(chain.begin() + 1, m);
    else chain.push_back(m);
  }

  void skip(const config::DeploymentConfig& dep, std::string reason) {
    if (skipped_seen.insert(dep.id).second) trace.skipped.emplace_back(dep.id, std::move(reason));
  }

  /// 1. The deployments of `model` that can serve now; those not yet tried this request first.
  /// `context_too_small` stays true while the prompt fits no deployment's context window.
  std::vector<Pick> candidates(const config::ModelConfig& model, Clock::time_point now, bool& context_too_small) {
    std::vector<Pick> fresh, retried;
    for (const auto& dep : model.deployments) {
      int failed = failures.count(dep.id) ? failures[dep.id] : 0;
      if (failed >= 2) continue;  // at most one retry of the same deployment per request
      if (!shared_refused.empty() && shared_refused.count(dep.id)) continue;
      // Exact counts only where a limit needs them: TPM accounting, or a context window the prompt
      // may come near (a prompt whose byte count fits is never tokenised). Otherwise the raw size of
      // the messages / 4 is enough to reserve against learned token headroom.
      bool exact = dep.tpm || (dep.context_window && !fits_for_sure(dep.context_window));
      std::int64_t need_prompt = exact ? prompt_tokens(dep.upstream_model)
                                       : static_cast<std::int64_t>(request.payload().size() / 4);
      if (dep.context_window && exact && need_prompt + completion_reserve > dep.context_window) {
        skip(dep, "context_window");
        continue;
      }
      context_too_small = false;
      auto state = d.health_->get(dep.id);
      std::int64_t tokens = need_prompt + completion_reserve;
      auto c = state->check(dep, rel, now, tokens);
      if (c.reason != limits::SkipReason::none) {
        skip(dep, std::string(limits::to_string(c.reason)));
        bool limit_kind = c.reason == limits::SkipReason::cooldown || c.reason == limits::SkipReason::no_headroom ||
                          c.reason == limits::SkipReason::max_concurrent;
        all_rate_limited = all_rate_limited && limit_kind;
        if (c.recovery > now && (!earliest || c.recovery < *earliest)) earliest = c.recovery;
        continue;
      }
      (failed ? retried : fresh).push_back(Pick{&dep, std::move(state), dep.weight * c.weight_factor, tokens});
    }
    return fresh.empty() ? std::move(retried) : std::move(fresh);
  }

  /// 2. Puts the deployment the model's strategy picks first.
  static void order(const config::ModelConfig& model, std::vector<Pick>& pool) {
    if (model.strategy == "least-busy") {
      std::shuffle(pool.begin(), pool.end(), rng());
      std::stable_sort(pool.begin(), pool.end(), [](const Pick& a, const Pick& b) {
        return a.state->in_flight() < b.state->in_flight();
      });
    } else if (model.strategy == "latency") {
      std::vector<std::pair<double, size_t>> keyed;
      // Unmeasured deployments go first so every deployment gets measured.
      for (size_t i = 0; i < pool.size(); ++i) keyed.emplace_back(pool[i].state->latency_ms(), i);
      std::shuffle(keyed.begin(), keyed.end(), rng());
      std::stable_sort(keyed.begin(), keyed.end(), [](auto& a, auto& b) { return a.first < b.first; });
      std::swap(pool[0], pool[keyed[0].second]);
    } else {
      // Weighted random (Efraimidis-Spirakis), weights shrunk by lost headroom.
      std::uniform_real_distribution<double> uni(1e-12, 1.0);
      double best = -2;
      size_t bi = 0;
      for (size_t i = 0; i < pool.size(); ++i) {
        double key = pool[i].weight > 0 ? std::pow(uni(rng()), 1.0 / pool[i].weight) : -1.0;
        if (key > best) {
          best = key;
          bi = i;
        }
      }
      std::swap(pool[0], pool[bi]);
    }
  }

  /// 3. Retrying a deployment that already failed this request adds load to a struggling provider: it
  /// needs the global retry budget, and waits a backoff with jitter first. False when the budget is out
  /// (the deployment is then not tried again). Failing over to another deployment needs neither.
  net::awaitable<bool> before_retry(const Pick& pick) {
    if (!failures.count(pick.dep->id) || failures[pick.dep->id] == 0) co_return true;
    if (!d.budget_->try_retry(Clock::now(), rel.retry_budget_min_per_s)) {
      telemetry::logger("pipeline")->warn("retry budget exhausted; not retrying {}", pick.dep->id);
      failures[pick.dep->id] = 2;
      co_return false;
    }
    auto base = rel.backoff_base.count() * (1 << std::min(attempts - 1, 10));
    auto capped = std::min<std::int64_t>(base, rel.backoff_max.count());
    std::uniform_real_distribution<double> jitter(0.5, 1.0);
    auto wait = milliseconds(static_cast<std::int64_t>(static_cast<double>(capped) * jitter(rng())));
    auto t0 = Clock::now();
    co_await sleep_until(std::min(t0 + wait, deadline));
    trace.upstream_time += duration_cast<microseconds>(Clock::now() - t0);
    co_return true;
  }

  enum class Next { same_model, next_model, give_up };
  /// 4. What a failed attempt means for the rest of the request; keeps the error as `last`.
  Next after_failure(Error e, const config::ModelConfig& model, const Pick& pick) {
    if (e.code == "skip") {  // lost a race for its last slot, or refused by a limit shared with other replicas
      --attempts;
      if (!e.message.starts_with("shared_")) failures[pick.dep->id] = 2;
      if (e.message.starts_with("shared_")) {
        // Not tried again this round; when the request waits for a recovery (wait_for_recovery) it is
        // asked again, unlike a deployment that failed twice.
        shared_refused.insert(pick.dep->id);
        skip(*pick.dep, e.message);
        if (e.kind != ErrorKind::rate_limited) all_rate_limited = false;
        auto at = Clock::now() + e.retry_after.value_or(milliseconds(1000));
        if (e.kind == ErrorKind::rate_limited && (!earliest || at < *earliest)) earliest = at;
      }
      return Next::same_model;
    }
    failures[pick.dep->id] += 1;
    const std::string* special = e.kind == ErrorKind::content_filter   ? &model.content_policy_fallback
                                 : e.kind == ErrorKind::context_length ? &model.context_fallback
                                                                       : nullptr;
    if (special && !special->empty()) {
      add_model(*special, true);
      last = std::move(e);
      return Next::next_model;
    }
    bool retry = is_retryable(e.kind);
    last = std::move(e);
    return retry ? Next::same_model : Next::give_up;
  }

  /// 5. Nothing more to try: whether waiting for the earliest recovery (reliability.wait_for_recovery)
  /// may still serve the request.
  bool worth_waiting() const {
    return earliest && *earliest <= wait_until_limit && *earliest < deadline && attempts < rel.max_attempts;
  }

  /// The error when everything was tried or skipped: the last attempt's, or why nothing was called,
  /// with Retry-After at the earliest recovery.
  Error exhausted(const std::string& model_name) const {
    auto now = Clock::now();
    if (last && attempts > 0) {
      Error e = *last;
      if (is_retryable(e.kind) && earliest && *earliest > now && !e.retry_after) {
        e.retry_after = duration_cast<milliseconds>(*earliest - now) + milliseconds(1);
      }
      return e;
    }
    bool context = !trace.skipped.empty() && std::all_of(trace.skipped.begin(), trace.skipped.end(),
                                                         [](auto& s) { return s.second == "context_window"; });
    if (context) {
      Error e = Error::make(ErrorKind::context_length,
                            "The prompt does not fit the context window of any deployment of '" + model_name + "'.");
      e.param = "messages";
      return e;
    }
    Error e = all_rate_limited && !trace.skipped.empty()
                  ? Error::make(ErrorKind::rate_limited, "Every deployment of '" + model_name +
                                                             "' is at its rate limit; retry after the time in Retry-After.")
                  : Error::make(ErrorKind::unavailable, "No deployment of '" + model_name + "' is available right now.");
    e.retry_after = earliest && *earliest > now ? duration_cast<milliseconds>(*earliest - now) + milliseconds(1)
                                                : milliseconds(1000);
    return e;
  }
};

net::awaitable<Result<Outcome>> Dispatcher::dispatch(providers::WorkerContext& ctx, const config::Config& config,
                                                     const Request& request, const std::string& model_name,
                                                     DispatchTrace& trace) const {
  const config::ModelConfig* first = config.find_model(model_name);
  if (!first) co_return Error::make(ErrorKind::not_found, "The model '" + model_name + "' does not exist.");
  budget_->on_request(config.reliability.retry_budget_ratio);
  Failover f(*this, config, request, trace, *first);

  for (size_t mi = 0; mi < f.chain.size(); ++mi) {
    const config::ModelConfig& model = *f.chain[mi];
    bool context_too_small = !model.deployments.empty();
    while (Clock::now() < f.deadline) {
      auto pool = f.candidates(model, Clock::now(), context_too_small);
      if (pool.empty()) break;
      Failover::order(model, pool);
      const Pick& pick = pool[0];
      if (f.attempts >= config.reliability.max_attempts) {
        if (!f.last) f.last = Error::make(ErrorKind::unavailable, "attempt limit reached");
        break;
      }
      if (!co_await f.before_retry(pick)) continue;
      ++f.attempts;
      auto r = co_await attempt(ctx, config, request, model, pick, trace);
      if (r) co_return r;
      auto next = f.after_failure(std::move(r).error(), model, pick);
      if (next == Failover::Next::give_up) co_return *f.last;
      if (next == Failover::Next::next_model) break;
    }
    // Decided before any call: the prompt does not fit this model anywhere.
    if (context_too_small && !model.context_fallback.empty()) f.add_model(model.context_fallback, true);
    if (mi + 1 == f.chain.size() && f.worth_waiting()) {
      // Nothing more to try: wait for the earliest recovery, then look again from the first model.
      auto t0 = Clock::now();
      co_await sleep_until(*f.earliest + milliseconds(1));
      trace.upstream_time += duration_cast<microseconds>(Clock::now() - t0);
      f.earliest.reset();
      f.skipped_seen.clear();
      f.shared_refused.clear();
      mi = static_cast<size_t>(-1);
    }
  }
  co_return f.exhausted(model_name);
}

}  // namespace sy::pipeline

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

  auto acquired = pick.state->acquire(dep, rel, Clock::now(), pick.tokens);
  if (acquired.reason != limits::SkipReason::none) {
    Error e = Error::make(ErrorKind::unavailable, std::string(limits::to_string(acquired.reason)));
    e.code = "skip";
    co_return e;
  }
  auto lease = std::make_unique<Lease>(pick.state, &rel, pick.tokens, acquired.probe);

  auto started = Clock::now();
  auto deadline = std::min(started + provider.total_timeout, started + rel.request_timeout);
  Attempt attempt{dep.id, "ok", 0, {}};
  auto record = [&](const Error* e) {
    attempt.elapsed = duration_cast<microseconds>(Clock::now() - started);
    trace.upstream_time += attempt.elapsed;
    if (e) attempt.outcome = std::string(to_string(e->kind));
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

net::awaitable<Result<Outcome>> Dispatcher::dispatch(providers::WorkerContext& ctx, const config::Config& config,
                                                     const Request& request, const std::string& model_name,
                                                     DispatchTrace& trace) const {
  const auto& rel = config.reliability;
  const config::ModelConfig* first = config.find_model(model_name);
  if (!first) co_return Error::make(ErrorKind::not_found, "The model '" + model_name + "' does not exist.");
  auto start = Clock::now();
  auto deadline = start + rel.request_timeout;
  auto wait_until_limit = start + rel.wait_for_recovery;
  budget_->on_request(rel.retry_budget_ratio);

  // Token estimates per counting method (exact for OpenAI models, else an estimate), computed lazily.
  std::map<int, std::int64_t> prompt_tokens_by_method;
  auto prompt_tokens = [&](const std::string& upstream_model) -> std::int64_t {
    if (!counter_) return static_cast<std::int64_t>(request.payload().size() / 4);
    auto mc = counter_->for_model(upstream_model);
    int key = static_cast<int>(mc.method());
    auto it = prompt_tokens_by_method.find(key);
    if (it != prompt_tokens_by_method.end()) return it->second;
    auto n = static_cast<std::int64_t>(mc.count_chat(request.messages()));
    prompt_tokens_by_method[key] = n;
    return n;
  };
  const std::int64_t completion_reserve = request.max_tokens().value_or(rel.default_max_tokens);
  std::optional<std::int64_t> prompt_bound;  // never below the exact count, and free to compute
  auto fits_for_sure = [&](std::int64_t window) {
    if (!prompt_bound) prompt_bound = static_cast<std::int64_t>(tokenize::chat_tokens_upper_bound(request.messages()));
    return *prompt_bound + completion_reserve <= window;
  };

  std::vector<const config::ModelConfig*> chain{first};
  auto add_model = [&](const std::string& name, bool next) {
    const auto* m = config.find_model(name);
    if (!m || std::find(chain.begin(), chain.end(), m) != chain.end()) return;
    if (next) chain.insert(chain.begin() + 1, m);
    else chain.push_back(m);
  };
  for (const auto& f : first->fallbacks) add_model(f, false);

  std::optional<Error> last;
  std::map<std::string, int> failures;  // per deployment id, this request
  std::set<std::string> skipped_seen;
  int attempts = 0;
  bool all_rate_limited = true;  // every skip so far was about limits, not health
  std::optional<Clock::time_point> earliest;

  for (size_t mi = 0; mi < chain.size(); ++mi) {
    const config::ModelConfig& model = *chain[mi];
    bool context_too_small_everywhere = !model.deployments.empty();
    for (;;) {
      auto now = Clock::now();
      if (now >= deadline) break;
      // 1. Candidates that can serve now.
      std::vector<Pick> fresh, retried;
      for (const auto& dep : model.deployments) {
        int failed = failures.count(dep.id) ? failures[dep.id] : 0;
        if (failed >= 2) continue;  // at most one retry of the same deployment per request
        // Exact counts only where a limit needs them: TPM accounting, or a context window the prompt
        // may come near (a prompt whose byte count fits is never tokenised). Otherwise the raw size of
        // the messages / 4 is enough to reserve against learned token headroom.
        bool exact = dep.tpm || (dep.context_window && !fits_for_sure(dep.context_window));
        std::int64_t need_prompt = exact ? prompt_tokens(dep.upstream_model)
                                         : static_cast<std::int64_t>(request.payload().size() / 4);
        auto skip = [&](std::string reason) {
          if (skipped_seen.insert(dep.id).second) trace.skipped.emplace_back(dep.id, std::move(reason));
        };
        if (dep.context_window && exact && need_prompt + completion_reserve > dep.context_window) {
          skip("context_window");
          continue;
        }
        context_too_small_everywhere = false;
        auto state = health_->get(dep.id);
        std::int64_t tokens = need_prompt + completion_reserve;
        auto c = state->check(dep, rel, now, tokens);
        if (c.reason != limits::SkipReason::none) {
          skip(std::string(limits::to_string(c.reason)));
          bool limit_kind = c.reason == limits::SkipReason::cooldown || c.reason == limits::SkipReason::no_headroom ||
                            c.reason == limits::SkipReason::max_concurrent;
          all_rate_limited = all_rate_limited && limit_kind;
          if (c.recovery > now && (!earliest || c.recovery < *earliest)) earliest = c.recovery;
          continue;
        }
        (failed ? retried : fresh).push_back(Pick{&dep, std::move(state), dep.weight * c.weight_factor, tokens});
      }
      auto& pool = fresh.empty() ? retried : fresh;
      if (pool.empty()) break;

      // 2. Order by strategy; the first is tried.
      if (model.strategy == "least-busy") {
        std::shuffle(pool.begin(), pool.end(), rng());
        std::stable_sort(pool.begin(), pool.end(), [](const Pick& a, const Pick& b) {
          return a.state->in_flight() < b.state->in_flight();
        });
      } else if (model.strategy == "latency") {
        std::vector<std::pair<double, size_t>> keyed;
        for (size_t i = 0; i < pool.size(); ++i) {
          // Unmeasured deployments go first so every deployment gets measured.
          keyed.emplace_back(pool[i].state->latency_ms(), i);
        }
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
      Pick& pick = pool[0];

      // 3. Bounds: attempts, retry budget, backoff before re-trying the same deployment.
      if (attempts >= rel.max_attempts) {
        if (!last) last = Error::make(ErrorKind::unavailable, "attempt limit reached");
        break;
      }
      int failed_before = failures.count(pick.dep->id) ? failures[pick.dep->id] : 0;
      if (failed_before > 0) {
        // Retrying the same deployment adds load to a struggling provider: it needs the global retry
        // budget. Failing over to another deployment does not, and is bounded by max_attempts.
        if (!budget_->try_retry(Clock::now(), rel.retry_budget_min_per_s)) {
          telemetry::logger("pipeline")->warn("retry budget exhausted; not retrying {}", pick.dep->id);
          failures[pick.dep->id] = 2;
          continue;
        }
        auto base = rel.backoff_base.count() * (1 << std::min(attempts - 1, 10));
        auto capped = std::min<std::int64_t>(base, rel.backoff_max.count());
        std::uniform_real_distribution<double> jitter(0.5, 1.0);
        auto wait = milliseconds(static_cast<std::int64_t>(static_cast<double>(capped) * jitter(rng())));
        auto until = std::min(Clock::now() + wait, deadline);
        auto t0 = Clock::now();
        co_await sleep_until(until);
        trace.upstream_time += duration_cast<microseconds>(Clock::now() - t0);
      }

      // 4. Call it.
      ++attempts;
      auto r = co_await attempt(ctx, config, request, model, pick, trace);
      if (r) co_return r;
      Error e = std::move(r).error();
      if (e.kind == ErrorKind::unavailable && e.code == "skip") {  // lost a race for its last slot
        --attempts;
        failures[pick.dep->id] = 2;
        continue;
      }
      failures[pick.dep->id] += 1;
      if (e.kind == ErrorKind::content_filter && !model.content_policy_fallback.empty()) {
        add_model(model.content_policy_fallback, true);
        last = std::move(e);
        break;
      }
      if (e.kind == ErrorKind::context_length && !model.context_fallback.empty()) {
        add_model(model.context_fallback, true);
        last = std::move(e);
        break;
      }
      bool retry = is_retryable(e.kind);
      last = std::move(e);
      if (!retry) co_return *last;
    }
    // Decided before any call: the prompt does not fit this model anywhere.
    if (context_too_small_everywhere && !model.context_fallback.empty()) add_model(model.context_fallback, true);

    // Nothing more to try: optionally wait for the earliest recovery, then look again.
    if (mi + 1 == chain.size() && earliest && *earliest <= wait_until_limit && *earliest < deadline &&
        attempts < rel.max_attempts) {
      auto t0 = Clock::now();
      co_await sleep_until(*earliest + milliseconds(1));
      trace.upstream_time += duration_cast<microseconds>(Clock::now() - t0);
      earliest.reset();
      skipped_seen.clear();
      mi = static_cast<size_t>(-1);  // start over with the first model
      continue;
    }
  }

  auto now = Clock::now();
  if (last && attempts > 0) {
    Error e = *last;
    if (is_retryable(e.kind) && earliest && *earliest > now && !e.retry_after) {
      e.retry_after = duration_cast<milliseconds>(*earliest - now) + milliseconds(1);
    }
    co_return e;
  }
  // Nothing was called: say why, with when to come back.
  Error e;
  bool context = !trace.skipped.empty() && std::all_of(trace.skipped.begin(), trace.skipped.end(),
                                                       [](auto& s) { return s.second == "context_window"; });
  if (context) {
    e = Error::make(ErrorKind::context_length,
                    "The prompt does not fit the context window of any deployment of '" + model_name + "'.");
    e.param = "messages";
    co_return e;
  }
  if (all_rate_limited && !trace.skipped.empty()) {
    e = Error::make(ErrorKind::rate_limited, "Every deployment of '" + model_name +
                                                 "' is at its rate limit; retry after the time in Retry-After.");
  } else {
    e = Error::make(ErrorKind::unavailable, "No deployment of '" + model_name + "' is available right now.");
  }
  if (earliest && *earliest > now) e.retry_after = duration_cast<milliseconds>(*earliest - now) + milliseconds(1);
  else e.retry_after = milliseconds(1000);
  co_return e;
}

}  // namespace sy::pipeline

#include "attempt.hpp"

#include <optional>

#include <spdlog/spdlog.h>

#include "switchyard/state/shared_state.hpp"
#include "switchyard/telemetry/log.hpp"

namespace sy::pipeline::dispatch {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

std::int64_t unix_ms() {
  return duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// What reserve_shared took in the shared windows, to give back when the call is not made.
struct SharedReservation {
  std::shared_ptr<state::Window> rpm, tpm;
  std::int64_t tokens = 0;
  void cancel() const {
    if (rpm) rpm->settle(-1);
    if (tpm) tpm->settle(-tokens);
  }
};

/// A verdict of the shared state as a skip, or nothing when the call may go ahead. Redis down or slow
/// follows the configured policy (fail open: local state only; closed: skip the deployment).
std::optional<Skipped> refused(state::Verdict v, const std::shared_ptr<state::Window>& w) {
  if (v == state::Verdict::granted) return std::nullopt;
  if (v == state::Verdict::unavailable && w->owner()->config().rate_limits_fail_open) {
    w->owner()->note_fail_open();
    return std::nullopt;
  }
  if (v == state::Verdict::unavailable) {
    w->owner()->note_fail_closed();
    return Skipped{"shared_state_unavailable", true, false, milliseconds(1000)};
  }
  return Skipped{"shared_limit", true, true, milliseconds(1000)};
}

/// Reserves the request and its tokens in the windows shared with other replicas (state: in the config).
net::awaitable<std::variant<SharedReservation, Skipped>> reserve_shared(const Candidate& pick, const DispatchClock& clock) {
  SharedReservation r;
  auto& st = *pick.plan->state;
  auto rpm = st.shared_rpm();
  auto tpm = st.shared_tpm();
  if (rpm) {
    auto v = rpm->take_local(1, clock.now()) ? state::Verdict::granted : co_await state::reserve(rpm, 1);
    if (auto skip = refused(v, rpm)) co_return *skip;
    if (v == state::Verdict::granted) r.rpm = rpm;
  }
  if (tpm) {
    auto v = tpm->take_local(pick.tokens, clock.now()) ? state::Verdict::granted
                                                       : co_await state::reserve(tpm, pick.tokens);
    if (auto skip = refused(v, tpm)) {
      r.cancel();
      co_return *skip;
    }
    if (v == state::Verdict::granted) r.tokens = pick.tokens;
    r.tpm = tpm;
  }
  co_return r;
}

/// Takes the deployment's local slot after the shared one (if any) was reserved; gives the shared
/// reservation back when the local slot is refused. Not a coroutine: the common path awaits nothing.
std::variant<std::unique_ptr<Lease>, Skipped> take_local(const Candidate& pick, const config::ReliabilityConfig& rel,
                                                         const DispatchClock& clock, const SharedReservation& shared) {
  const DeploymentPlan& plan = *pick.plan;
  auto acquired = plan.state->acquire(*plan.config, rel, clock.now(), pick.tokens);
  if (acquired.reason != limits::SkipReason::none) {
    shared.cancel();  // not sent after all
    return Skipped{limits::to_string(acquired.reason)};
  }
  auto lease = std::make_unique<Lease>(plan.state, &rel, pick.tokens, acquired, &clock);
  lease->share(shared.tpm, shared.tokens);
  return lease;
}

/// Reads a 2xx stream up to its first event, so a stream that dies before saying anything can still fail
/// over invisibly; the committed stream then holds the lease.
net::awaitable<Result<Outcome>> start_stream(const Request& request, const DeploymentPlan& plan,
                                             std::unique_ptr<providers::Exchange> exchange,
                                             std::unique_ptr<Lease>& lease) {
  auto decoder = plan.format->stream_decoder(request);
  std::string first, raw;
  while (decoder->events() == 0) {
    raw.clear();
    auto more = co_await exchange->read_some(raw);
    if (!more) co_return std::move(more).error();
    if (!*more) {
      auto st = decoder->finish(first);
      if (!st) co_return std::move(st).error();
      break;
    }
    auto st = decoder->feed(raw, first);
    if (!st) co_return std::move(st).error();
  }
  if (decoder->events() == 0) co_return Error::make(ErrorKind::connection, "upstream stream carried no events");
  Outcome out;
  out.stream = std::make_unique<ResponseStream>(std::move(exchange), std::move(decoder), std::move(first), std::move(lease));
  co_return out;
}

}  // namespace

net::awaitable<AttemptResult> attempt(providers::WorkerContext& ctx, const config::Config& config,
                                      const DispatchClock& clock, const Request& request, const ModelPlan& model,
                                      const Candidate& pick, DispatchTrace& trace) {
  const DeploymentPlan& plan = *pick.plan;
  const auto& dep = *plan.config;
  const auto& rel = config.reliability;
  auto encoded = plan.format->encode(request, providers::EncodeOptions{*plan.provider, dep, true});
  if (!encoded) co_return std::move(encoded).error();
  // Limits shared with other replicas are reserved first, in Redis; then the local slot.
  SharedReservation shared;
  if (plan.state->has_shared()) {
    auto r = co_await reserve_shared(pick, clock);
    if (auto* skip = std::get_if<Skipped>(&r)) co_return *skip;
    shared = std::get<SharedReservation>(std::move(r));
  }
  auto slot = take_local(pick, rel, clock, shared);
  if (auto* skip = std::get_if<Skipped>(&slot)) co_return *skip;
  auto lease = std::get<std::unique_ptr<Lease>>(std::move(slot));

  auto started = clock.now();
  Attempt attempt{dep.id, "ok", 0, {}, &dep};
  auto record = [&](const Error* e) {
    attempt.elapsed = duration_cast<microseconds>(clock.now() - started);
    trace.upstream_time += attempt.elapsed;
    if (e) {
      attempt.outcome = std::string(to_string(e->kind));
      attempt.kind = e->kind;
    }
    trace.attempts.push_back(attempt);
  };
  limits::LearnedLimits learned;
  auto fail = [&](Error e) -> AttemptResult {
    e.deployment = dep.id;
    record(&e);
    if (plan.state->on_failure(clock.now(), e, learned, rel)) {
      telemetry::logger("pipeline")->error(
          "deployment {} refused our credentials (HTTP {}): taken out of rotation until its config changes",
          dep.id, e.upstream_status);
    }
    if (lease) lease->settle(nullptr);
    return e;
  };

  auto deadline = std::min(started + plan.provider->total_timeout, started + rel.request_timeout);
  auto ex = co_await plan.transport->start(ctx, *plan.provider, std::move(*encoded), deadline);
  if (!ex) co_return fail(std::move(ex).error());
  auto& exchange = *ex;
  attempt.status = exchange->head().status;
  trace.time_to_head = exchange->time_to_head;
  learned = limits::parse_rate_headers(exchange->head().headers, unix_ms());
  plan.state->learn(clock.now(), learned);
  if (attempt.status < 200 || attempt.status > 299) {
    std::string body;
    auto st = co_await exchange->read_all(body, 1 << 20);
    (void)st;  // the status alone classifies a truncated error body
    Error e = plan.format->classify_error(attempt.status, exchange->head().headers, body);
    if (!e.retry_after && learned.retry_after) e.retry_after = learned.retry_after;
    co_return fail(std::move(e));
  }
  Outcome out;
  if (request.stream()) {
    auto started_stream = co_await start_stream(request, plan, std::move(exchange), lease);
    if (!started_stream) co_return fail(std::move(started_stream).error());
    out = std::move(*started_stream);
  } else {
    std::string body;
    auto st = co_await exchange->read_all(body, static_cast<std::size_t>(config.server.max_upstream_body_bytes));
    if (!st) co_return fail(std::move(st).error());
    auto decoded = plan.format->decode_response(request, std::move(body), out.usage);
    if (!decoded) co_return fail(std::move(decoded).error());
    out.body = std::move(*decoded);
    lease->settle(&out.usage);
  }
  record(nullptr);
  plan.state->on_success(clock.now(), trace.time_to_head, rel);
  trace.model = model.config->name;
  trace.deployment = dep.id;
  trace.upstream_model = dep.upstream_model;
  trace.deployment_config = &dep;
  co_return out;
}

}  // namespace sy::pipeline::dispatch

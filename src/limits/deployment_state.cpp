#include "switchyard/limits/deployment_state.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "switchyard/core/hash.hpp"

namespace sy::limits {

using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string_view to_string(SkipReason r) {
  switch (r) {
    case SkipReason::none: return "none";
    case SkipReason::cooldown: return "cooldown";
    case SkipReason::breaker_open: return "breaker_open";
    case SkipReason::auth: return "auth_failed";
    case SkipReason::no_headroom: return "no_headroom";
    case SkipReason::max_concurrent: return "max_concurrent";
    case SkipReason::context_window: return "context_window";
  }
  return "none";
}

std::string_view to_string(BreakerState s) {
  switch (s) {
    case BreakerState::closed: return "closed";
    case BreakerState::open: return "open";
    case BreakerState::half_open: return "half_open";
  }
  return "closed";
}

// ---- MinuteWindow ----

void MinuteWindow::roll(TimePoint now) const {
  std::int64_t sec = second_of(now);
  if (sec <= head_second_) return;
  std::int64_t gap = sec - head_second_;
  if (gap >= kBuckets) {
    counts_.fill(0);
    total_ = 0;
  } else {
    for (std::int64_t s = head_second_ + 1; s <= sec; ++s) {
      auto& c = counts_[static_cast<size_t>(s % kBuckets)];
      total_ -= c;
      c = 0;
    }
  }
  head_second_ = sec;
}

void MinuteWindow::add(TimePoint now, std::int64_t amount) {
  roll(now);
  counts_[static_cast<size_t>(head_second_ % kBuckets)] += amount;
  total_ += amount;
}

std::int64_t MinuteWindow::sum(TimePoint now, int secs) const {
  roll(now);
  if (secs >= kBuckets) return total_;  // the whole minute, kept as a running total
  secs = std::max(secs, 1);
  std::int64_t total = 0;
  for (int i = 0; i < secs; ++i) total += counts_[static_cast<size_t>((head_second_ - i + kBuckets * 2) % kBuckets)];
  return total;
}

TimePoint MinuteWindow::next_expiry(TimePoint now) const {
  roll(now);
  for (int age = kBuckets - 1; age >= 0; --age) {
    if (counts_[static_cast<size_t>((head_second_ - age + kBuckets * 2) % kBuckets)] != 0) {
      // The bucket of second (head - age) leaves the window when head reaches (head - age + 60).
      return TimePoint(seconds(head_second_ - age + kBuckets));
    }
  }
  return now;
}

// ---- DeploymentState ----

namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

std::int64_t ticks(TimePoint t) { return t.time_since_epoch().count(); }

/// Nothing configured that the fast path would have to enforce.
bool unlimited(const config::DeploymentConfig& dep) { return !dep.rpm && !dep.tpm && !dep.max_concurrent; }

/// The later of two optional expiries (a window's next_expiry returns `now` when it is empty).
TimePoint earliest_expiry(TimePoint now, TimePoint window_expiry, std::optional<TimePoint> lanes) {
  if (!lanes) return window_expiry;
  if (window_expiry == now) return *lanes;
  return std::min(window_expiry, *lanes);
}

}  // namespace

DeploymentState::~DeploymentState() {
  for (auto& l : lanes_) delete l.load(std::memory_order_relaxed);
}

DeploymentState::Lane* DeploymentState::make_lane(int slot) {
  // First use by this slot (only its owner creates it): publish the lane, then widen the range readers scan.
  auto* l = new Lane;
  lanes_[static_cast<std::size_t>(slot)].store(l, std::memory_order_release);
  int end = lane_end_.load(std::memory_order_relaxed);
  while (end < slot + 1 && !lane_end_.compare_exchange_weak(end, slot + 1, std::memory_order_release,
                                                            std::memory_order_relaxed)) {
  }
  return l;
}

void DeploymentState::publish_clear_locked() {
  std::int64_t from = kNever;
  if (!auth_failed_ && breaker_ == BreakerState::closed) {
    TimePoint t = cooldown_until_;
    if (remaining_requests_) t = std::max(t, reset_requests_at_);
    if (remaining_tokens_) t = std::max(t, reset_tokens_at_);
    from = ticks(t);
  }
  clear_from_.store(from, std::memory_order_release);
  breaker_closed_.store(breaker_ == BreakerState::closed, std::memory_order_release);
}

void DeploymentState::count_success(Lane& l, std::chrono::microseconds ttfb) {
  // Only the lane's owner writes it: plain loads and stores, no read-modify-write.
  l.successes.store(l.successes.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  const double ms = static_cast<double>(ttfb.count()) / 1000.0;
  const double old = l.ttfb_ewma_ms.load(std::memory_order_relaxed);
  l.ttfb_ewma_ms.store(old < 0 ? ms : 0.8 * old + 0.2 * ms, std::memory_order_relaxed);
}

std::array<std::int64_t, 2> DeploymentState::lane_load(TimePoint now) const {
  std::array<std::int64_t, 2> total{};
  const std::int64_t sec = second_of(now);
  for_each_lane([&](const Lane& l) {
    if (l.load.head() <= sec - LaneWindow<2>::kBuckets) return;  // nothing in the last minute
    auto snap = l.load.snapshot();
    for (std::size_t k = 0; k < 2; ++k) total[k] += snap.sum(k, sec, LaneWindow<2>::kBuckets);
  });
  return total;
}

std::optional<TimePoint> DeploymentState::lane_load_expiry(TimePoint now, std::size_t k) const {
  std::optional<std::int64_t> first;
  const std::int64_t sec = second_of(now);
  for_each_lane([&](const Lane& l) {
    if (l.load.head() <= sec - LaneWindow<2>::kBuckets) return;
    if (auto e = l.load.snapshot().expiry_second(k, sec); e && (!first || *e < *first)) first = e;
  });
  if (!first) return std::nullopt;
  return TimePoint(seconds(*first));
}

std::int64_t DeploymentState::lane_oks(TimePoint now, int secs) const {
  std::int64_t total = 0;
  const std::int64_t sec = second_of(now);
  for_each_lane([&](const Lane& l) {
    if (l.oks.head() <= sec - LaneWindow<1>::kBuckets) return;
    total += l.oks.snapshot().sum(0, sec, secs, ok_floor_sec_);
  });
  return total;
}

int DeploymentState::in_flight() const {
  int n = in_flight_.load(std::memory_order_relaxed);
  for_each_lane([&](const Lane& l) { n += l.in_flight.load(std::memory_order_relaxed); });
  // A request may be released on another thread than it was claimed on: a sum read meanwhile can
  // dip below the truth for a moment, never for long.
  return std::max(n, 0);
}

double DeploymentState::latency_ms() const {
  double sum = 0;
  int n = 0;
  auto add = [&](double v) {
    if (v >= 0) {
      sum += v;
      ++n;
    }
  };
  add(ttfb_ewma_ms_.load(std::memory_order_relaxed));
  for_each_lane([&](const Lane& l) { add(l.ttfb_ewma_ms.load(std::memory_order_relaxed)); });
  return n ? sum / n : 0;
}

BreakerState DeploymentState::breaker_state(TimePoint now, const config::BreakerConfig& b) const {
  if (breaker_ == BreakerState::open && now >= opened_at_ + b.cooldown) return BreakerState::half_open;
  return breaker_;
}

DeploymentState::Check DeploymentState::check(const config::DeploymentConfig& dep, const config::ReliabilityConfig& rel,
                                              TimePoint now, std::int64_t tokens) const {
  if (unlimited(dep) && clear_at(now)) return Check{};  // nothing to enforce: full weight
  return check_slow(dep, rel, now, tokens);
}

DeploymentState::Check DeploymentState::check_slow(const config::DeploymentConfig& dep,
                                                   const config::ReliabilityConfig& rel, TimePoint now,
                                                   std::int64_t tokens) const {
  std::lock_guard lock(mu_);
  return check_locked(dep, rel, now, tokens);
}

DeploymentState::Check DeploymentState::check_locked(const config::DeploymentConfig& dep,
                                                     const config::ReliabilityConfig& rel, TimePoint now,
                                                     std::int64_t tokens) const {
  Check c;
  if (auth_failed_) {
    c.reason = SkipReason::auth;
    return c;
  }
  if (now < cooldown_until_) {
    c.reason = SkipReason::cooldown;
    c.recovery = cooldown_until_;
    return c;
  }
  BreakerState bs = breaker_state(now, rel.breaker);
  if (bs == BreakerState::open) {
    c.reason = SkipReason::breaker_open;
    c.recovery = opened_at_ + rel.breaker.cooldown;
    return c;
  }
  if (bs == BreakerState::half_open && probes_ >= rel.breaker.half_open_probes) {
    c.reason = SkipReason::breaker_open;
    c.recovery = now + milliseconds(100);
    return c;
  }
  if (dep.max_concurrent && in_flight() >= *dep.max_concurrent) {
    c.reason = SkipReason::max_concurrent;
    c.recovery = now + milliseconds(50);
    return c;
  }
  auto shrink = [&](double left_share) {
    // Full weight above the headroom share, then linearly less, never quite zero.
    if (rel.headroom > 0 && left_share < rel.headroom) {
      c.weight_factor = std::min(c.weight_factor, std::max(0.02, left_share / rel.headroom));
    }
  };
  // Requests the lanes counted (claimed while no limit was configured, before a reload added one)
  // still count against it until they leave the window.
  const std::array<std::int64_t, 2> lanes = dep.rpm || dep.tpm ? lane_load(now) : std::array<std::int64_t, 2>{};
  if (dep.rpm) {
    std::int64_t used = requests_.sum(now) + lanes[0];
    if (used + 1 > *dep.rpm) {
      c.reason = SkipReason::no_headroom;
      c.recovery = earliest_expiry(now, requests_.next_expiry(now), lanes[0] ? lane_load_expiry(now, 0) : std::nullopt);
      return c;
    }
    shrink(1.0 - static_cast<double>(used) / static_cast<double>(*dep.rpm));
  }
  if (dep.tpm) {
    std::int64_t used = tokens_.sum(now) + lanes[1];
    if (used + tokens > *dep.tpm) {
      c.reason = SkipReason::no_headroom;
      c.recovery = earliest_expiry(now, tokens_.next_expiry(now), lane_load_expiry(now, 1));
      return c;
    }
    shrink(1.0 - static_cast<double>(used) / static_cast<double>(*dep.tpm));
  }
  if (remaining_requests_ && now < reset_requests_at_) {
    if (*remaining_requests_ <= 0) {
      c.reason = SkipReason::no_headroom;
      c.recovery = reset_requests_at_;
      return c;
    }
    if (limit_requests_ && *limit_requests_ > 0) {
      shrink(static_cast<double>(*remaining_requests_) / static_cast<double>(*limit_requests_));
    }
  }
  if (remaining_tokens_ && now < reset_tokens_at_) {
    if (*remaining_tokens_ < tokens) {
      c.reason = SkipReason::no_headroom;
      c.recovery = reset_tokens_at_;
      return c;
    }
    if (limit_tokens_ && *limit_tokens_ > 0) {
      shrink(static_cast<double>(*remaining_tokens_) / static_cast<double>(*limit_tokens_));
    }
  }
  return c;
}

DeploymentState::Acquired DeploymentState::acquire(const config::DeploymentConfig& dep,
                                                   const config::ReliabilityConfig& rel, TimePoint now,
                                                   std::int64_t tokens) {
  Lane* lane = this->lane();
  if (lane && unlimited(dep) && clear_at(now)) {
    // Nothing to enforce: count the claim in this thread's lane.
    lane->in_flight.store(lane->in_flight.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    lane->load.add(second_of(now), {1, tokens});
    return Acquired{SkipReason::none, false, true};
  }
  return acquire_slow(dep, rel, now, tokens, lane);
}

DeploymentState::Acquired DeploymentState::acquire_slow(const config::DeploymentConfig& dep,
                                                        const config::ReliabilityConfig& rel, TimePoint now,
                                                        std::int64_t tokens, Lane* lane) {
  Acquired a;
  std::lock_guard lock(mu_);  // one lock for the check and the claim: no request slips in between
  Check c = check_locked(dep, rel, now, tokens);
  if (c.reason != SkipReason::none) {
    a.reason = c.reason;
    return a;
  }
  if (breaker_state(now, rel.breaker) == BreakerState::half_open) {
    if (probes_ >= rel.breaker.half_open_probes) {
      a.reason = SkipReason::breaker_open;
      return a;
    }
    breaker_ = BreakerState::half_open;
    ++probes_;
    a.probe = true;
  }
  requests_.add(now, 1);
  tokens_.add(now, tokens);
  // Spend the learned headroom locally until the next response refreshes it.
  if (remaining_requests_ && now < reset_requests_at_) --*remaining_requests_;
  if (remaining_tokens_ && now < reset_tokens_at_) *remaining_tokens_ -= tokens;
  if (lane) lane->in_flight.store(lane->in_flight.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  else in_flight_.fetch_add(1, std::memory_order_relaxed);
  return a;
}

void DeploymentState::release(TimePoint now, std::int64_t reserved_tokens, std::int64_t actual_tokens,
                              const Acquired& how) {
  Lane* lane = this->lane();
  if (lane) lane->in_flight.store(lane->in_flight.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
  else in_flight_.fetch_sub(1, std::memory_order_relaxed);
  // Settle the reservation with what was really used, in the window it was reserved in (a fast claim's
  // in this thread's lane; the totals sum lanes and the locked window alike).
  const std::int64_t settle = actual_tokens >= 0 && actual_tokens != reserved_tokens ? actual_tokens - reserved_tokens : 0;
  if (how.fast && !how.probe && lane) {
    if (settle != 0) lane->load.add(second_of(now), {0, settle});
    return;
  }
  if (!how.probe && settle == 0) return;
  release_slow(now, settle, how.probe);
}

void DeploymentState::release_slow(TimePoint now, std::int64_t settle, bool probe) {
  std::lock_guard lock(mu_);
  if (probe && probes_ > 0) --probes_;
  if (settle != 0) tokens_.add(now, settle);
}

void DeploymentState::record_outcome(TimePoint now, bool failure, const config::BreakerConfig& b) {
  if (failure) {
    fail_window_.add(now, 1);
    last_failure_ = now;
    last_failure_ticks_.store(ticks(now), std::memory_order_relaxed);
    failure_seq_.store(failure_seq_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    // Pairs with the fence of a fast success (on_success): either the lanes read below hold its count,
    // or it sees failure_seq_ move and re-decides under the lock.
    std::atomic_thread_fence(std::memory_order_seq_cst);
  } else {
    ok_window_.add(now, 1);
  }
  decide_locked(now, failure, b);
}

void DeploymentState::decide_locked(TimePoint now, bool failure, const config::BreakerConfig& b) {
  BreakerState bs = breaker_state(now, b);
  if (bs == BreakerState::half_open) {
    if (failure) {
      breaker_ = BreakerState::open;
      opened_at_ = now;
    } else {
      breaker_ = BreakerState::closed;
      ok_window_.clear();
      fail_window_.clear();
      ok_floor_sec_ = second_of(now);
    }
    return;
  }
  if (bs != BreakerState::closed) return;
  // A success with no failure in the window cannot open the breaker (error_ratio > 0): skip summing
  // the windows on the common path. The extra second covers the window's whole-second buckets.
  if (!failure && b.error_ratio > 0 && now - last_failure_ > b.window + seconds(1)) return;
  int secs = static_cast<int>(duration_cast<seconds>(b.window).count());
  std::int64_t fails = fail_window_.sum(now, secs);
  std::int64_t total = fails + ok_window_.sum(now, secs) + lane_oks(now, secs);
  if (total >= b.min_requests && static_cast<double>(fails) >= b.error_ratio * static_cast<double>(total)) {
    breaker_ = BreakerState::open;
    opened_at_ = now;
  }
}

void DeploymentState::on_success(TimePoint now, std::chrono::microseconds ttfb, const config::ReliabilityConfig& rel) {
  const auto& b = rel.breaker;
  Lane* lane = this->lane();
  if (lane && b.error_ratio > 0 && breaker_closed_.load(std::memory_order_acquire)) {
    // Breaker closed (a cooldown or learned headroom does not matter here); with no breaker failure in the window (+1 s for whole-second buckets) a success
    // cannot open it (the locked path skips the ratio then too): count it in this thread's lane.
    const std::uint64_t seq = failure_seq_.load(std::memory_order_relaxed);
    const auto quiet = duration_cast<std::chrono::steady_clock::duration>(b.window + seconds(1)).count();
    if (ticks(now) - last_failure_ticks_.load(std::memory_order_relaxed) > quiet) {
      count_success(*lane, ttfb);
      lane->oks.add(second_of(now), {1});
      std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with record_outcome's
      if (failure_seq_.load(std::memory_order_relaxed) == seq) return;
      // A failure was recorded meanwhile and may not have counted this success: decide as the locked
      // path would for a success after it (the success is already in the lane).
      return on_success_slow(now, ttfb, b, lane, true);
    }
  }
  on_success_slow(now, ttfb, b, lane, false);
}

void DeploymentState::on_success_slow(TimePoint now, std::chrono::microseconds ttfb, const config::BreakerConfig& b,
                                      Lane* lane, bool counted) {
  std::lock_guard lock(mu_);
  if (counted) {
    decide_locked(now, false, b);
    publish_clear_locked();
    return;
  }
  record_outcome(now, false, b);
  if (lane) {
    count_success(*lane, ttfb);
  } else {
    ++successes_;
    const double ms = static_cast<double>(ttfb.count()) / 1000.0;
    const double old = ttfb_ewma_ms_.load(std::memory_order_relaxed);
    ttfb_ewma_ms_.store(old < 0 ? ms : 0.8 * old + 0.2 * ms, std::memory_order_relaxed);
  }
  publish_clear_locked();  // a success may close a half-open breaker
}

bool DeploymentState::on_failure(TimePoint now, const Error& e, const LearnedLimits& learned,
                                 const config::ReliabilityConfig& rel) {
  // Our own client leaving says nothing about the deployment.
  if (e.kind == ErrorKind::cancelled) return false;
  std::optional<state::HealthEvent> event;
  bool newly_out;
  {
    std::lock_guard lock(mu_);
    const TimePoint cooldown_before = cooldown_until_;
    const bool open_before = breaker_ == BreakerState::open && opened_at_ + rel.breaker.cooldown > now;
    newly_out = on_failure_locked(now, e, learned, rel);
    publish_clear_locked();
    if (publish_ && cooldown_until_ > cooldown_before && cooldown_until_ > now) {
      event = state::HealthEvent{state::HealthEvent::Kind::cooldown, id_, duration_cast<milliseconds>(cooldown_until_ - now)};
    } else if (publish_ && !open_before && breaker_ == BreakerState::open && opened_at_ == now) {
      event = state::HealthEvent{state::HealthEvent::Kind::breaker_open, id_, rel.breaker.cooldown};
    }
  }
  if (event) (*publish_)(*event);  // outside the lock: it posts to the state thread
  return newly_out;
}

void DeploymentState::apply(const state::HealthEvent& e, TimePoint now) {
  std::lock_guard lock(mu_);
  if (e.kind == state::HealthEvent::Kind::cooldown) {
    cooldown_until_ = std::max(cooldown_until_, now + e.remaining);
  } else if (breaker_ != BreakerState::open || opened_at_ + e.remaining <= now) {
    breaker_ = BreakerState::open;
    opened_at_ = now;
  }
  publish_clear_locked();
}

void DeploymentState::set_shared(std::shared_ptr<state::Window> rpm, std::shared_ptr<state::Window> tpm) {
  std::lock_guard lock(mu_);
  shared_rpm_ = std::move(rpm);
  shared_tpm_ = std::move(tpm);
  has_shared_.store(shared_rpm_ || shared_tpm_, std::memory_order_release);
}

std::shared_ptr<state::Window> DeploymentState::shared_rpm() const {
  std::lock_guard lock(mu_);
  return shared_rpm_;
}

std::shared_ptr<state::Window> DeploymentState::shared_tpm() const {
  std::lock_guard lock(mu_);
  return shared_tpm_;
}

bool DeploymentState::on_failure_locked(TimePoint now, const Error& e, const LearnedLimits& learned,
                                        const config::ReliabilityConfig& rel) {
  ++failures_;
  last_error_ = std::string(sy::to_string(e.kind)) + (e.upstream_status ? " " + std::to_string(e.upstream_status) : "");
  switch (e.kind) {
    case ErrorKind::rate_limited: {
      // Until the provider says it recovers: retry-after, else the later of the reset times, else the default.
      std::optional<milliseconds> wait = e.retry_after ? e.retry_after : learned.retry_after;
      if (!wait) {
        if (learned.reset_requests && learned.remaining_requests && *learned.remaining_requests == 0) wait = learned.reset_requests;
        if (learned.reset_tokens && (!wait || *learned.reset_tokens > *wait)) wait = learned.reset_tokens;
      }
      cooldown_until_ = std::max(cooldown_until_, now + (wait ? *wait : rel.cooldown));
      return false;
    }
    case ErrorKind::server_error:
    case ErrorKind::timeout:
    case ErrorKind::connection:
      record_outcome(now, true, rel.breaker);
      return false;
    case ErrorKind::auth: {
      bool was = auth_failed_;
      auth_failed_ = true;
      return !was;
    }
    default:
      // The deployment answered sensibly (a bad request is the caller's fault): it is healthy.
      record_outcome(now, false, rel.breaker);
      return false;
  }
}

void DeploymentState::learn(TimePoint now, const LearnedLimits& l) {
  if (!l.any()) return;
  std::lock_guard lock(mu_);
  if (l.limit_requests) limit_requests_ = l.limit_requests;
  if (l.limit_tokens) limit_tokens_ = l.limit_tokens;
  if (l.remaining_requests) {
    remaining_requests_ = l.remaining_requests;
    reset_requests_at_ = now + (l.reset_requests ? *l.reset_requests : milliseconds(60'000));
  }
  if (l.remaining_tokens) {
    remaining_tokens_ = l.remaining_tokens;
    reset_tokens_at_ = now + (l.reset_tokens ? *l.reset_tokens : milliseconds(60'000));
  }
  publish_clear_locked();
}

void DeploymentState::set_fingerprint(std::uint64_t fp) {
  std::lock_guard lock(mu_);
  if (fp != fingerprint_) {
    fingerprint_ = fp;
    auth_failed_ = false;
    publish_clear_locked();
  }
}

DeploymentState::Gauges DeploymentState::gauges(TimePoint now, const config::ReliabilityConfig& rel) const {
  std::lock_guard lock(mu_);
  Gauges g;
  g.breaker = breaker_state(now, rel.breaker);
  g.cooldown_seconds = cooldown_until_ > now ? std::chrono::duration<double>(cooldown_until_ - now).count() : 0;
  g.auth_failed = auth_failed_;
  g.in_flight = in_flight();
  if (now < reset_requests_at_) g.remaining_requests = remaining_requests_;
  if (now < reset_tokens_at_) g.remaining_tokens = remaining_tokens_;
  return g;
}

std::string DeploymentState::to_json(TimePoint now, const config::DeploymentConfig* dep,
                                     const config::ReliabilityConfig& rel) const {
  std::lock_guard lock(mu_);
  nlohmann::ordered_json j;
  j["id"] = id_;
  if (dep) {
    j["provider"] = dep->provider;
    j["upstream_model"] = dep->upstream_model;
  }
  auto ms_until = [&](TimePoint t) -> nlohmann::ordered_json {
    if (t <= now) return nullptr;
    return duration_cast<milliseconds>(t - now).count();
  };
  BreakerState bs = breaker_state(now, rel.breaker);
  j["breaker"] = to_string(bs);
  j["half_open_in_ms"] = bs == BreakerState::open ? ms_until(opened_at_ + rel.breaker.cooldown) : nullptr;
  j["opened_ms_ago"] = breaker_ == BreakerState::open ? nlohmann::ordered_json(duration_cast<milliseconds>(now - opened_at_).count())
                                                        : nlohmann::ordered_json(nullptr);
  j["cooldown_remaining_ms"] = ms_until(cooldown_until_);
  j["auth_failed"] = auth_failed_;
  const auto lanes = lane_load(now);
  std::uint64_t successes = successes_;
  for_each_lane([&](const Lane& l) { successes += l.successes.load(std::memory_order_relaxed); });
  j["in_flight"] = in_flight();
  j["requests_last_minute"] = requests_.sum(now) + lanes[0];
  j["tokens_last_minute"] = tokens_.sum(now) + lanes[1];
  j["errors_in_window"] = fail_window_.sum(now);
  j["successes_in_window"] = ok_window_.sum(now) + lane_oks(now, 60);
  auto opt = [](const std::optional<std::int64_t>& v) -> nlohmann::ordered_json {
    if (!v) return nullptr;
    return *v;
  };
  j["learned"] = {{"limit_requests", opt(limit_requests_)},
                  {"remaining_requests", now < reset_requests_at_ ? opt(remaining_requests_) : nullptr},
                  {"reset_requests_in_ms", ms_until(reset_requests_at_)},
                  {"limit_tokens", opt(limit_tokens_)},
                  {"remaining_tokens", now < reset_tokens_at_ ? opt(remaining_tokens_) : nullptr},
                  {"reset_tokens_in_ms", ms_until(reset_tokens_at_)}};
  bool measured = ttfb_ewma_ms_.load(std::memory_order_relaxed) >= 0;
  for_each_lane([&](const Lane& l) { measured = measured || l.ttfb_ewma_ms.load(std::memory_order_relaxed) >= 0; });
  j["latency_ewma_ms"] = measured ? nlohmann::ordered_json(std::round(latency_ms() * 100) / 100) : nlohmann::ordered_json(nullptr);
  j["successes"] = successes;
  j["failures"] = failures_;
  j["last_error"] = last_error_;
  return j.dump();
}

// ---- HealthRegistry ----

std::shared_ptr<DeploymentState> HealthRegistry::get(const std::string& id) {
  std::lock_guard lock(mu_);
  auto& s = states_[id];
  if (!s) {
    s = std::make_shared<DeploymentState>(id);
    if (publish_) s->publish_ = &publish_;
  }
  return s;
}

std::shared_ptr<DeploymentState> HealthRegistry::find(const std::string& id) {
  std::lock_guard lock(mu_);
  auto it = states_.find(id);
  return it == states_.end() ? nullptr : it->second;
}

void HealthRegistry::on_config(const config::Config& cfg, state::SharedState* shared) {
  for (const auto& m : cfg.models) {
    for (const auto& d : m.deployments) {
      if (!shared) continue;
      get(d.id)->set_shared(d.rpm ? shared->window("dep:" + d.id + ":rpm", *d.rpm) : nullptr,
                            d.tpm ? shared->window("dep:" + d.id + ":tpm", *d.tpm, true) : nullptr);
    }
  }
  for (const auto& m : cfg.models) {
    for (const auto& d : m.deployments) {
      const auto& p = cfg.providers[d.provider_index];
      std::uint64_t h = kFnv1aOffset;
      for (const std::string* part : {&p.type, &p.base_url, &p.api_key, &d.upstream_model}) {
        h = fnv1a("\xff", fnv1a(*part, h));  // parts separated by a byte no UTF-8 text contains
      }
      get(d.id)->set_fingerprint(h);
    }
  }
}

std::string HealthRegistry::to_json(const config::Config& cfg, TimePoint now) {
  std::string out = "[";
  bool first = true;
  for (const auto& m : cfg.models) {
    for (const auto& d : m.deployments) {
      if (!first) out += ",";
      first = false;
      out += get(d.id)->to_json(now, &d, cfg.reliability);
    }
  }
  return out + "]";
}

// ---- RetryBudget ----

void RetryBudget::deposit(double amount) {
  double t = tokens_.load(std::memory_order_relaxed);
  while (t < 1000.0 && !tokens_.compare_exchange_weak(t, std::min(t + amount, 1000.0), std::memory_order_relaxed)) {
  }
}

void RetryBudget::on_request(double ratio) {
  const int slot = thread_slot();
  if (slot < 0) {
    deposit(ratio);
    return;
  }
  // Only the slot's owner touches its pending deposit: plain loads and stores.
  Pending& p = pending_[static_cast<std::size_t>(slot)];
  const double pending = p.tokens.load(std::memory_order_relaxed) + ratio;
  const int count = p.count.load(std::memory_order_relaxed) + 1;
  if (count < kBatch) {
    p.tokens.store(pending, std::memory_order_relaxed);
    p.count.store(count, std::memory_order_relaxed);
    return;
  }
  p.tokens.store(0, std::memory_order_relaxed);
  p.count.store(0, std::memory_order_relaxed);
  deposit(pending);
}

void RetryBudget::flush_own() {
  const int slot = thread_slot();
  if (slot < 0) return;
  Pending& p = pending_[static_cast<std::size_t>(slot)];
  if (p.count.load(std::memory_order_relaxed) == 0) return;
  const double pending = p.tokens.load(std::memory_order_relaxed);
  p.tokens.store(0, std::memory_order_relaxed);
  p.count.store(0, std::memory_order_relaxed);
  deposit(pending);
}

bool RetryBudget::try_retry(TimePoint now, double min_per_second) {
  flush_own();  // this thread's own requests count at once
  double elapsed;
  {
    std::lock_guard lock(refill_mu_);
    if (last_refill_ == TimePoint{}) last_refill_ = now;
    elapsed = std::chrono::duration<double>(now - last_refill_).count();
    last_refill_ = now;
  }
  double t = tokens_.load(std::memory_order_relaxed);
  for (;;) {
    // The floor refills at min_per_second, capped so idle time cannot bank a storm.
    double refilled = std::min(t + elapsed * min_per_second, std::max(t, min_per_second));
    bool take = refilled >= 1 - 1e-9;  // 10 x 0.2 is 1.9999...: one ulp must not cost a retry
    if (tokens_.compare_exchange_weak(t, take ? refilled - 1 : refilled, std::memory_order_relaxed)) return take;
  }
}

}  // namespace sy::limits

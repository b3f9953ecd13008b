#pragma once
/// Health, load and limit state of every deployment, shared by all worker threads and kept across
/// config reloads (keyed by deployment id).
///
/// Per deployment: a 429 cooldown until the provider's retry-after / reset time; a circuit breaker fed
/// by connection errors, timeouts and 5xx (error ratio over a sliding window with a minimum request
/// count; open -> half-open after a cooldown, which lets a few probes through; a success closes it);
/// auth failures that take it out until its config changes; sliding one-minute windows for configured
/// rpm/tpm with token reservations settled on real usage; limits learned from response headers; the
/// number of requests in flight; and an EWMA of time to first byte.
///
/// Thread-safety: every member may be called from any thread. Two paths:
/// - The fast path, taken by `check`, `acquire` and `release` while the deployment has nothing to
///   enforce (no configured rpm/tpm/max_concurrent, no cooldown, breaker closed, no auth failure, no
///   learned headroom being spent), and by `on_success` while the breaker is closed with no breaker
///   failure in the last window + 1 s: no lock,
///   and the calling thread writes only its own lane (see lanes.hpp): in-flight count, requests and
///   tokens in its one-minute window, successes, latency EWMA. Whether the state is clear is one atomic
///   word (`clear_from_`) that every change to cooldown, breaker, auth or learned headroom republishes
///   under the mutex.
/// - Everything else (limits, the breaker's failures and transitions, learned headroom, a thread
///   without a lane) takes the deployment's own mutex, held for a few hundred nanoseconds (no I/O).
///   Readers that need totals (limits after a reload, the breaker's ratio, /metrics, the admin API)
///   sum the locked windows and the lanes.
/// A success racing with a breaker failure is ordered by a fence pair (Dekker): either the failure's
/// ratio counts it, or the success sees the failure and re-evaluates the ratio under the lock. Time is
/// passed in (`now`), so tests drive it without sleeping.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "switchyard/config/config.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/limits/lanes.hpp"
#include "switchyard/limits/rate_headers.hpp"
#include "switchyard/state/shared_state.hpp"

namespace sy::limits {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

/// Why a deployment was not used for a request.
enum class SkipReason { none, cooldown, breaker_open, auth, no_headroom, max_concurrent, context_window };
std::string_view to_string(SkipReason r);

/// A 60-second sliding window in one-second buckets.
class MinuteWindow {
 public:
  void add(TimePoint now, std::int64_t amount);
  /// Sum over the last `seconds` (1..60) seconds.
  std::int64_t sum(TimePoint now, int seconds = 60) const;
  void clear() {
    counts_.fill(0);
    total_ = 0;
  }
  /// When the oldest non-empty bucket leaves the window (the earliest moment `sum` drops).
  TimePoint next_expiry(TimePoint now) const;

 private:
  void roll(TimePoint now) const;
  static constexpr int kBuckets = 60;
  mutable std::array<std::int64_t, kBuckets> counts_{};
  mutable std::int64_t head_second_ = 0;  // absolute second of the newest bucket
  mutable std::int64_t total_ = 0;        // sum of counts_
};

enum class BreakerState { closed, open, half_open };
std::string_view to_string(BreakerState s);

class DeploymentState {
 public:
  explicit DeploymentState(std::string id) : id_(std::move(id)) {}
  ~DeploymentState();
  DeploymentState(const DeploymentState&) = delete;
  DeploymentState& operator=(const DeploymentState&) = delete;
  const std::string& id() const { return id_; }

  struct Check {
    SkipReason reason = SkipReason::none;
    TimePoint recovery{};      ///< when it may serve again (for Retry-After), if known
    double weight_factor = 1;  ///< 0..1: less headroom, less traffic
  };
  /// Can this deployment take a request needing `tokens` now? Read-only.
  Check check(const config::DeploymentConfig& dep, const config::ReliabilityConfig& rel, TimePoint now,
              std::int64_t tokens) const;

  /// Claims a slot: counts the request in the rpm window, reserves `tokens` in the tpm window and
  /// increments in_flight. Fails (returning the reason) when a concurrent request took the last slot.
  /// A half-open breaker admits only its probe count.
  struct Acquired {
    SkipReason reason = SkipReason::none;  ///< none: the slot is taken
    bool probe = false;                    ///< a half-open breaker's probe
    bool fast = false;                     ///< taken on the lock-free path (counted in the thread's lane)
  };
  Acquired acquire(const config::DeploymentConfig& dep, const config::ReliabilityConfig& rel, TimePoint now,
                   std::int64_t tokens);
  /// Ends what `acquire` began (`how` is what it returned). `actual_tokens` < 0 when unknown (the
  /// reservation stays counted).
  void release(TimePoint now, std::int64_t reserved_tokens, std::int64_t actual_tokens, const Acquired& how);

  /// Outcome of an attempt. Successes close a half-open breaker and feed the latency EWMA.
  void on_success(TimePoint now, std::chrono::microseconds time_to_first_byte, const config::ReliabilityConfig& rel);
  /// Failures by kind: rate_limited -> cooldown; server_error/timeout/connection -> breaker; auth -> out.
  /// Returns true when this failure newly took the deployment out for bad credentials (log it loudly).
  bool on_failure(TimePoint now, const Error& e, const LearnedLimits& learned, const config::ReliabilityConfig& rel);
  /// Headers of any response (success or not): learned remaining/reset.
  void learn(TimePoint now, const LearnedLimits& learned);

  /// Auth failures stick until the deployment's config fingerprint changes (reload with a new key).
  void set_fingerprint(std::uint64_t fp);

  /// Shared state (state: in the config): the rpm/tpm windows all replicas reserve in (null: none
  /// configured), and where cooldowns and breaker openings are published.
  void set_shared(std::shared_ptr<state::Window> rpm, std::shared_ptr<state::Window> tpm);
  std::shared_ptr<state::Window> shared_rpm() const;
  std::shared_ptr<state::Window> shared_tpm() const;
  /// Whether it has shared windows at all (no lock: checked on every attempt).
  bool has_shared() const { return has_shared_.load(std::memory_order_acquire); }
  /// Another replica learned a cooldown, or opened its breaker: this replica follows.
  void apply(const state::HealthEvent& e, TimePoint now);

  /// Requests in flight (the lanes' counts summed; no lock).
  int in_flight() const;
  /// EWMA of time to first byte in ms; 0 when never measured (so unmeasured deployments sort first).
  /// Each thread keeps its own EWMA (weight 0.2 per success); this is their mean. No lock.
  double latency_ms() const;
  /// The numbers /metrics exports per deployment.
  struct Gauges {
    BreakerState breaker = BreakerState::closed;
    double cooldown_seconds = 0;  ///< until a 429 cooldown ends, 0 when none
    bool auth_failed = false;
    int in_flight = 0;
    std::optional<std::int64_t> remaining_requests, remaining_tokens;  ///< learned headroom, while valid
  };
  Gauges gauges(TimePoint now, const config::ReliabilityConfig& rel) const;
  /// JSON object for /admin/deployments.
  std::string to_json(TimePoint now, const config::DeploymentConfig* dep, const config::ReliabilityConfig& rel) const;

 private:
  Check check_locked(const config::DeploymentConfig& dep, const config::ReliabilityConfig& rel, TimePoint now,
                     std::int64_t tokens) const;
  /// One thread's share of the counters: written only by the thread owning the slot, read by all.
  struct alignas(128) Lane {
    std::atomic<int> in_flight{0};
    std::atomic<std::uint64_t> successes{0};
    std::atomic<double> ttfb_ewma_ms{-1};
    LaneWindow<2> load;  ///< requests, tokens claimed on the fast path (and their settlement)
    LaneWindow<1> oks;   ///< successes counted on the fast path, for the breaker's ratio
  };
  /// The calling thread's lane, created on its first use; null when the thread has no slot.
  Lane* lane() {
    const int slot = thread_slot();
    if (slot < 0) return nullptr;
    Lane* l = lanes_[static_cast<std::size_t>(slot)].load(std::memory_order_acquire);
    return l ? l : make_lane(slot);
  }
  [[gnu::noinline]] Lane* make_lane(int slot);
  // The locked paths, out of line so the lock-free ones stay small.
  [[gnu::noinline]] Check check_slow(const config::DeploymentConfig& dep, const config::ReliabilityConfig& rel,
                                     TimePoint now, std::int64_t tokens) const;
  [[gnu::noinline]] Acquired acquire_slow(const config::DeploymentConfig& dep, const config::ReliabilityConfig& rel,
                                          TimePoint now, std::int64_t tokens, Lane* lane);
  [[gnu::noinline]] void release_slow(TimePoint now, std::int64_t settle, bool probe);
  /// `counted`: the success is already in the calling thread's lane, only the breaker decides.
  [[gnu::noinline]] void on_success_slow(TimePoint now, std::chrono::microseconds ttfb, const config::BreakerConfig& b,
                                         Lane* lane, bool counted);
  template <class F>
  void for_each_lane(F&& f) const {
    const int end = lane_end_.load(std::memory_order_acquire);
    for (int i = 0; i < end; ++i) {
      if (const Lane* l = lanes_[static_cast<std::size_t>(i)].load(std::memory_order_acquire)) f(*l);
    }
  }
  /// Whether the fast path may serve a request at `now` (see the class comment).
  bool clear_at(TimePoint now) const {
    return now.time_since_epoch().count() >= clear_from_.load(std::memory_order_acquire);
  }
  /// Republishes `clear_from_` from the locked state; called at the end of every locked change of
  /// cooldown, breaker, auth or learned headroom.
  void publish_clear_locked();
  static void count_success(Lane& l, std::chrono::microseconds ttfb);
  /// Lanes' requests and tokens over the last minute, and when their oldest count leaves the window.
  std::array<std::int64_t, 2> lane_load(TimePoint now) const;
  std::optional<TimePoint> lane_load_expiry(TimePoint now, std::size_t k) const;
  /// Lanes' successes over the last `secs` seconds since the breaker last cleared its windows.
  std::int64_t lane_oks(TimePoint now, int secs) const;

  void record_outcome(TimePoint now, bool failure, const config::BreakerConfig& b);
  /// The breaker's decision after an outcome was counted (`record_outcome` without the counting).
  void decide_locked(TimePoint now, bool failure, const config::BreakerConfig& b);
  bool on_failure_locked(TimePoint now, const Error& e, const LearnedLimits& learned, const config::ReliabilityConfig& rel);
  BreakerState breaker_state(TimePoint now, const config::BreakerConfig& b) const;

  std::string id_;
  std::array<std::atomic<Lane*>, kThreadSlots> lanes_{};
  std::atomic<int> lane_end_{0};   ///< one past the highest slot with a lane
  std::atomic<int> in_flight_{0};  ///< requests of threads without a lane
  /// The fast path is open while now >= this (steady-clock ticks); INT64_MAX while the breaker is not
  /// closed or credentials failed; else the end of the cooldown and of any learned headroom.
  std::atomic<std::int64_t> clear_from_{0};
  /// breaker_ == closed, published with clear_from_: all a success needs (a cooldown, an auth failure
  /// or learned headroom do not change what a success does).
  std::atomic<bool> breaker_closed_{true};
  /// Breaker failures recorded (the locked path bumps it; a fast success compares it across its fence)
  /// and the tick of the last one, for the fast success's "no failure in the window" test.
  std::atomic<std::uint64_t> failure_seq_{0};
  std::atomic<std::int64_t> last_failure_ticks_{0};
  mutable std::mutex mu_;
  TimePoint cooldown_until_{};
  // Breaker: outcomes in one-second buckets over the window.
  BreakerState breaker_ = BreakerState::closed;
  TimePoint opened_at_{};
  int probes_ = 0;
  MinuteWindow ok_window_, fail_window_;
  TimePoint last_failure_{};  ///< when the last failure was recorded (none: epoch)
  /// Lanes' successes count from this second on: a closing breaker clears the windows, which for
  /// the lanes (written by other threads) means moving this floor to the closing second.
  std::int64_t ok_floor_sec_ = INT64_MIN;
  // Auth.
  bool auth_failed_ = false;
  std::uint64_t fingerprint_ = 0;
  // Configured limits.
  MinuteWindow requests_, tokens_;
  // Learned limits.
  std::optional<std::int64_t> limit_requests_, remaining_requests_, limit_tokens_, remaining_tokens_;
  TimePoint reset_requests_at_{}, reset_tokens_at_{};
  // Latency and counts of threads without a lane (the EWMA is written under the lock, read without).
  std::atomic<double> ttfb_ewma_ms_{-1};
  std::uint64_t successes_ = 0, failures_ = 0;
  std::string last_error_;
  // Shared state.
  std::shared_ptr<state::Window> shared_rpm_, shared_tpm_;
  std::atomic<bool> has_shared_{false};
  friend class HealthRegistry;
  std::function<void(const state::HealthEvent&)>* publish_ = nullptr;  ///< the registry's, when shared
};

/// All deployment states, created on first use and kept for the life of the process (a deployment
/// removed from the config just stops being looked up). Thread-safe.
class HealthRegistry {
 public:
  std::shared_ptr<DeploymentState> get(const std::string& deployment_id);
  /// The state of a deployment seen before, or null (never creates one).
  std::shared_ptr<DeploymentState> find(const std::string& deployment_id);
  /// Applies a freshly loaded config: resets auth failures of deployments whose key or URL changed;
  /// with `shared`, gives each deployment with rpm/tpm its shared windows.
  void on_config(const config::Config& cfg, state::SharedState* shared = nullptr);
  /// Publishes cooldowns and breaker openings through `f` (set once, before traffic).
  void set_publisher(std::function<void(const state::HealthEvent&)> f) { publish_ = std::move(f); }
  /// Calls `f(deployment, state)` for every deployment of `cfg`.
  template <class F>
  void for_each(const config::Config& cfg, F&& f) {
    for (const auto& m : cfg.models) {
      for (const auto& d : m.deployments) f(d, *get(d.id));
    }
  }
  /// JSON array of every deployment of `cfg` with its state.
  std::string to_json(const config::Config& cfg, TimePoint now);

 private:
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<DeploymentState>> states_;
  std::function<void(const state::HealthEvent&)> publish_;
};

/// Retries allowed as a share of first attempts, with a floor per second: a token bucket shared by
/// the whole process so a failing provider cannot multiply the load (no retry storms). Thread-safe.
/// `on_request`, called for every request, adds to the calling thread's own pending deposit and moves
/// it into the shared bucket (one lock-free compare-and-swap) every kBatch requests; `try_retry`,
/// called only before a retry, first moves the calling thread's pending deposit, then takes a mutex
/// for the refill clock. So the bucket lags by at most kBatch - 1 deposits per other thread.
class RetryBudget {
 public:
  static constexpr int kBatch = 64;
  /// A first attempt deposits `ratio` tokens.
  void on_request(double ratio);
  /// Takes one token for a retry; false when the budget is spent.
  bool try_retry(TimePoint now, double min_per_second);

 private:
  void deposit(double amount);
  void flush_own();
  /// A thread's deposits not yet in the bucket; only the slot's owner touches it.
  struct alignas(128) Pending {
    std::atomic<double> tokens{0};
    std::atomic<int> count{0};
  };
  std::array<Pending, kThreadSlots> pending_{};
  std::atomic<double> tokens_{10};
  std::mutex refill_mu_;
  TimePoint last_refill_{};
};

}  // namespace sy::limits

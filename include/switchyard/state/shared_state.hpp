#pragma once
/// Limit state shared by the replicas of one deployment through Redis (`state:` in the config).
///
/// - **Windows** (rpm/tpm of deployments and gateway keys): a sliding minute in Redis (a hash of
///   per-second counts), reserved atomically by a Lua script that grants only what fits under the limit.
///   A replica may take a small lease ahead of use (`state.lease`, 2 % of the limit by default), so
///   most requests of a busy limit are granted from the lease without a round trip; small limits get no
///   lease and are exact. Settlement (real tokens minus the reservation) is added in batches.
/// - **Spend** per gateway key (UTC day and month): increments are batched (every 100 ms) and every
///   flush reads back the total of all replicas, which admission compares with the budget.
/// - **Health events**: a cooldown learned from a 429 and a breaker that opens are published; every
///   replica applies them to its own deployment state (pub/sub: no per-request cost).
///
/// All Redis I/O runs on one state thread. The request path takes leases under a per-window mutex and
/// awaits a round trip only when the lease is empty. When Redis is down or slow, `up()` is false and
/// callers apply the configured policy (fail open on local state, or refuse).
///
/// Thread-safety: every public member is thread-safe.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "switchyard/config/config.hpp"
#include "switchyard/state/redis.hpp"

namespace sy::state {

using Clock = std::chrono::steady_clock;

enum class Verdict { granted, refused, unavailable };

/// One shared sliding-minute limit, e.g. "dep:gpt-4o/openai/0:rpm".
class SharedState;

class Window {
 public:
  Window(SharedState* owner, std::string redis_key, std::int64_t limit)
      : owner_(owner), key_(std::move(redis_key)), limit_(limit) {}
  const std::string& key() const { return key_; }
  SharedState* owner() const { return owner_; }
  std::int64_t limit() const;
  /// Takes `amount` from this replica's lease; false when the lease cannot cover it.
  bool take_local(std::int64_t amount, Clock::time_point now);
  /// A settlement: `delta` more (or, negative, fewer) than was reserved. Fewer go back to the lease
  /// first; the rest reaches Redis with the next flush.
  void settle(std::int64_t delta);
  /// The window's total over all replicas when Redis last said, plus what this replica has not flushed.
  std::int64_t used() const;

 private:
  friend class SharedState;
  SharedState* owner_;
  std::string key_;
  mutable std::mutex mu_;
  std::int64_t limit_;
  std::int64_t lease_ = 0;
  Clock::time_point lease_expires_{}, lease_granted_{};
  std::int64_t pending_ = 0;   // settled, not yet flushed
  Clock::time_point pending_since_{};  // when pending_ started building up
  std::int64_t known_sum_ = 0; // from Redis's last answer
  bool refilling_ = false;     // a reservation with lease is in flight
  bool read_back_ = false;     // flushed (and its sum read) even with nothing to add
};

/// USD spent by one gateway key over all replicas.
class Spend {
 public:
  explicit Spend(std::string name) : name_(std::move(name)) {}
  void add(double usd);
  /// Today's and this month's spend (UTC) over all replicas as last read, plus this replica's unflushed.
  std::pair<double, double> totals() const;

 private:
  friend class SharedState;
  std::string name_;
  mutable std::mutex mu_;
  double pending_ = 0;
  double known_today_ = 0, known_month_ = 0;
  std::string day_, month_;  // the UTC day and month known_* are for ("2026-12-07", "2026-12")
  Clock::time_point refreshed_{};  // last flush of this key (with or without spend to add)
};

struct HealthEvent {
  enum class Kind { cooldown, breaker_open };
  Kind kind = Kind::cooldown;
  std::string deployment;
  std::chrono::milliseconds remaining{0};  ///< cooldown: how long it lasts from now
};

class SharedState {
 public:
  /// Starts the state thread and the Redis connections (a command connection and a subscriber).
  explicit SharedState(const config::StateConfig& config);
  ~SharedState();
  /// Stops the state thread: pending reservations fail (their waiters see "unavailable"). Call it while
  /// the io threads that may wait on it still exist (before the server is destroyed). Idempotent.
  void shutdown();
  SharedState(const SharedState&) = delete;
  SharedState& operator=(const SharedState&) = delete;

  /// The window named `name` (kept across reloads by name; a reload may change its limit). `read_back`:
  /// a window only settled into, never reserved in (a key's tpm), whose total of every replica is
  /// read back with each flush (every 100 ms) so that `used()` sees the other replicas' tokens.
  std::shared_ptr<Window> window(const std::string& name, std::int64_t limit, bool read_back = false);
  std::shared_ptr<Spend> spend(const std::string& key_name);

  /// Reserves `amount` in `w` through Redis (callers try `take_local` first). `done` runs on the state
  /// thread with granted, refused (over the limit), or unavailable (Redis down or slow).
  void reserve(std::shared_ptr<Window> w, std::int64_t amount, std::function<void(Verdict)> done);

  /// One Redis command on the shared connection, for modules that keep state of their own in Redis (the
  /// answer cache). `done` (may be empty) runs on the state thread; while Redis is down it fails at once.
  void command(std::vector<std::string> args, std::function<void(const RedisReply&)> done);

  /// Publishes a health event to every replica (this one included, which ignores its own).
  void publish(const HealthEvent& e);
  /// Receives the events other replicas publish (on the state thread). Set once, before traffic.
  void on_health_event(std::function<void(const HealthEvent&)> f);

  bool up() const;
  const config::StateConfig& config() const { return config_; }
  /// A limit decided on local state alone because Redis was down (fail open): counted for /metrics.
  void note_fail_open() { fail_open_.fetch_add(1, std::memory_order_relaxed); }
  void note_fail_closed() { fail_closed_.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t fail_open_count() const { return fail_open_.load(std::memory_order_relaxed); }
  std::uint64_t fail_closed_count() const { return fail_closed_.load(std::memory_order_relaxed); }
  std::uint64_t redis_failures() const;
  /// Redis commands sent, and requests that needed one (for the docs' round-trip numbers).
  std::uint64_t commands_sent() const { return commands_.load(std::memory_order_relaxed); }

 private:
  void flush();
  void schedule_flush();
  void on_message(std::string_view channel, std::string_view payload);

  config::StateConfig config_;
  std::string replica_id_;
  boost::asio::io_context ioc_;
  std::unique_ptr<RedisClient> redis_, subscriber_;
  std::unique_ptr<boost::asio::steady_timer> flush_timer_;
  std::uint64_t flushes_ = 0;  // state thread only
  std::mutex mu_;  // windows_, spends_, on_event_
  std::unordered_map<std::string, std::shared_ptr<Window>> windows_;
  std::unordered_map<std::string, std::shared_ptr<Spend>> spends_;
  std::function<void(const HealthEvent&)> on_event_;
  std::atomic<std::uint64_t> commands_{0}, fail_open_{0}, fail_closed_{0};
  std::thread thread_;
};

/// `amount` of `w` for a coroutine: from the lease when it covers it (no suspension, no Redis), else
/// one round trip, resumed on the coroutine's executor.
boost::asio::awaitable<Verdict> reserve(const std::shared_ptr<Window>& w, std::int64_t amount);

/// SharedState::command for a coroutine, resumed on its executor; an error reply ("timeout") when no
/// answer came within twice the command timeout.
boost::asio::awaitable<RedisReply> command(SharedState& s, std::vector<std::string> args);

}  // namespace sy::state

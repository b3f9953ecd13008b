#pragma once
/// Time as the dispatcher sees it: when limits recover, request deadlines, backoff and the wait for a
/// recovery. Production uses the steady clock and Asio timers; tests pass a manual clock, so cooldowns
/// and backoffs are driven without sleeping.
#include <boost/asio/awaitable.hpp>
#include <chrono>

namespace sy::pipeline {

class DispatchClock {
 public:
  using Clock = std::chrono::steady_clock;
  virtual ~DispatchClock() = default;
  virtual Clock::time_point now() const = 0;
  /// Suspends the calling coroutine until `t` on this clock.
  virtual boost::asio::awaitable<void> sleep_until(Clock::time_point t) const = 0;
  /// The steady clock with Asio timers. Thread-safe.
  static const DispatchClock& steady();
};

}  // namespace sy::pipeline

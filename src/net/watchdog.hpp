#pragma once
// One timer per connection instead of one per operation.
//
// Beast's tcp_stream arms, cancels and completes a timer around every read and write: a timer-queue
// insert and removal, two locks and an extra handler per operation, four times per proxied request. A
// connection only needs its pending operation to end once a deadline passes, so arming records the
// deadline and little else: the one timer is re-armed only when it would fire too late, and when it fires
// before the recorded deadline (which moved on since it was set) it waits again. Timeouts fire on time,
// and a busy connection touches its timer about once per timeout period instead of twice per request.
//
// When the deadline passes while armed, the socket is closed, as Beast's stream does on a timeout: every
// pending operation ends with operation_aborted, and `why` tells that timeout from a cancellation.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <chrono>
#include <memory>

namespace sy::net_io {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;

  /// Guards `socket`, which must outlive this (declare the watchdog after it).
  explicit Watchdog(boost::asio::ip::tcp::socket& socket) : core_(std::make_shared<Core>(socket)) {}
  ~Watchdog() {
    core_->socket = nullptr;  // a completion already queued finds nothing to close
    core_->timer.cancel();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Operations pending from now on end by `deadline` (until disarm or the next arm).
  void arm(Clock::time_point deadline) {
    Core& c = *core_;
    c.deadline = deadline;
    c.expired = false;
    if (c.waiting && c.timer.expiry() <= deadline) return;  // fires in time, and looks again then
    wait(core_, deadline);
  }
  /// No deadline: what is pending now may wait forever (the caller has its own bound, or nothing is).
  void disarm() { core_->deadline = Clock::time_point::max(); }

  /// `ec` as the caller should see it: the abort a passed deadline caused is a timeout.
  boost::system::error_code why(const boost::system::error_code& ec) const {
    if (core_->expired && ec == boost::asio::error::operation_aborted) return boost::beast::error::timeout;
    return ec;
  }

  /// Armed for one scope: `Armed a(watchdog, deadline); co_await op;`.
  class Armed {
   public:
    Armed(Watchdog& w, Clock::time_point deadline) : w_(w) { w_.arm(deadline); }
    ~Armed() { w_.disarm(); }
    Armed(const Armed&) = delete;
    Armed& operator=(const Armed&) = delete;

   private:
    Watchdog& w_;
  };

 private:
  /// Shared with the timer's handler, which may run after the watchdog is gone (a completion queued in
  /// the same turn as the connection's end).
  struct Core {
    explicit Core(boost::asio::ip::tcp::socket& s) : socket(&s), timer(s.get_executor()) {}
    boost::asio::ip::tcp::socket* socket;  ///< null once the watchdog is gone
    boost::asio::steady_timer timer;
    Clock::time_point deadline = Clock::time_point::max();
    bool waiting = false;
    bool expired = false;
  };

  static void wait(const std::shared_ptr<Core>& core, Clock::time_point at) {
    core->timer.expires_at(at);  // a wait already pending ends aborted; its handler does nothing
    core->waiting = true;
    core->timer.async_wait([core](const boost::system::error_code& ec) {
      if (ec != boost::asio::error::operation_aborted) fired(core);
    });
  }

  static void fired(const std::shared_ptr<Core>& core) {
    Core& c = *core;
    c.waiting = false;
    if (!c.socket || c.deadline == Clock::time_point::max()) return;  // gone, or nothing armed
    if (Clock::now() < c.deadline) {
      wait(core, c.deadline);
      return;
    }
    c.expired = true;
    boost::system::error_code ignored;
    c.socket->close(ignored);
  }

  std::shared_ptr<Core> core_;
};

}  // namespace sy::net_io

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

namespace sy::net_io {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;

  /// Guards `socket`, which must outlive this (declare the watchdog after it).
  explicit Watchdog(boost::asio::ip::tcp::socket& socket) : socket_(socket), timer_(socket.get_executor()) {}
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  /// Operations pending from now on end by `deadline` (until disarm or the next arm).
  void arm(Clock::time_point deadline) {
    deadline_ = deadline;
    expired_ = false;
    if (waiting_ && timer_.expiry() <= deadline) return;  // fires in time, and looks again then
    wait(deadline);
  }
  /// No deadline: what is pending now may wait forever (the caller has its own bound, or nothing is).
  void disarm() { deadline_ = Clock::time_point::max(); }

  /// `ec` as the caller should see it: the abort a passed deadline caused is a timeout.
  boost::system::error_code why(const boost::system::error_code& ec) const {
    if (expired_ && ec == boost::asio::error::operation_aborted) return boost::beast::error::timeout;
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
  void wait(Clock::time_point at) {
    timer_.expires_at(at);  // a wait already pending ends aborted, and its handler touches nothing
    waiting_ = true;
    // An aborted wait is a replaced one or a destroyed watchdog: `this` may be gone.
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec != boost::asio::error::operation_aborted) fired();
    });
  }

  void fired() {
    waiting_ = false;
    if (deadline_ == Clock::time_point::max()) return;  // nothing armed: idle until the next arm
    if (Clock::now() < deadline_) {
      wait(deadline_);
      return;
    }
    expired_ = true;
    boost::system::error_code ignored;
    socket_.close(ignored);
  }

  boost::asio::ip::tcp::socket& socket_;
  boost::asio::steady_timer timer_;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool waiting_ = false;
  bool expired_ = false;
};

}  // namespace sy::net_io

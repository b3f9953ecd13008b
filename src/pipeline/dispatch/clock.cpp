#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "switchyard/pipeline/dispatch_clock.hpp"

namespace sy::pipeline {

namespace {

class SteadyClock final : public DispatchClock {
 public:
  Clock::time_point now() const override { return Clock::now(); }
  boost::asio::awaitable<void> sleep_until(Clock::time_point t) const override {
    namespace net = boost::asio;
    net::steady_timer timer(co_await net::this_coro::executor, t);
    co_await timer.async_wait(net::as_tuple(net::use_awaitable));
  }
};

}  // namespace

const DispatchClock& DispatchClock::steady() {
  static const SteadyClock clock;
  return clock;
}

}  // namespace sy::pipeline

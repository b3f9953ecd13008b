// net_io::Watchdog against real loopback sockets: an armed read past its deadline ends as a timeout, a
// disarmed one is never cut off, a deadline moved later is honoured (the timer fires early and waits
// again), and a watchdog destroyed in the same turn as its timer's completion is not touched afterwards.
#include "net/watchdog.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <vector>

namespace sy::net_io {
namespace {

namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = Watchdog::Clock;
using namespace std::chrono_literals;

/// A connected pair of loopback sockets.
struct Pair {
  explicit Pair(net::io_context& ioc) : client(ioc), server(ioc) {
    tcp::acceptor acceptor(ioc, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
  tcp::socket client;
  tcp::socket server;
};

struct ReadResult {
  bool done = false;
  boost::system::error_code ec;
};

/// A watchdog on the server end of a connected pair, and a one-byte read on that end.
class WatchdogTest : public ::testing::Test {
 protected:
  void start_read() {
    p.server.async_read_some(net::buffer(&byte, 1), [this](const boost::system::error_code& ec, std::size_t) {
      r.done = true;
      r.ec = ec;
    });
  }

  net::io_context ioc;
  Pair p{ioc};
  Watchdog dog{p.server};
  char byte = 0;
  ReadResult r;
};

TEST_F(WatchdogTest, ArmedReadPastItsDeadlineEndsAsATimeout) {
  dog.arm(Clock::now() + 20ms);
  start_read();
  ioc.run_for(5s);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(r.ec, net::error::operation_aborted);
  EXPECT_EQ(dog.why(r.ec), boost::beast::error::timeout);
  EXPECT_FALSE(p.server.is_open());
}

TEST_F(WatchdogTest, ACancellationIsNotATimeout) {
  Watchdog::Armed armed(dog, Clock::now() + 10s);
  start_read();
  p.server.cancel();
  ioc.run_one_for(5s);  // the read's completion (the timer still waits its 10 s)
  ASSERT_TRUE(r.done);
  EXPECT_EQ(dog.why(r.ec), net::error::operation_aborted);
}

TEST_F(WatchdogTest, DisarmedReadOutlivesTheTimerItsArmingStarted) {
  { Watchdog::Armed armed(dog, Clock::now() + 20ms); }  // armed and disarmed: the timer still waits
  start_read();
  // The timer fires (nothing armed) and the read stays pending; then the peer writes.
  net::steady_timer later(ioc, Clock::now() + 100ms);
  later.async_wait([&](const boost::system::error_code&) { net::write(p.client, net::buffer("x", 1)); });
  ioc.run_for(5s);
  ASSERT_TRUE(r.done);
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(byte, 'x');
}

TEST_F(WatchdogTest, ADeadlineMovedLaterIsHonouredWhenTheTimerFiresEarly) {
  const auto start = Clock::now();
  dog.arm(start + 30ms);   // the timer waits for +30 ms
  dog.arm(start + 150ms);  // later: no re-arm now; at +30 ms it waits again
  start_read();
  ioc.run_for(5s);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(dog.why(r.ec), boost::beast::error::timeout);
  EXPECT_GE(Clock::now() - start, 150ms);
}

TEST_F(WatchdogTest, ADeadlineMovedEarlierReArmsTheTimer) {
  const auto start = Clock::now();
  dog.arm(start + 10s);
  dog.arm(start + 20ms);
  start_read();
  ioc.run_for(5s);
  ASSERT_TRUE(r.done);
  EXPECT_EQ(dog.why(r.ec), boost::beast::error::timeout);
  EXPECT_LT(Clock::now() - start, 5s);
}

// Timers due at the same instant complete in one turn, in an order the test does not control: each
// watchdog is destroyed by a handler of that turn, sometimes before and sometimes after its own timer's
// completion ran. Neither order may touch a destroyed watchdog (ASan checks this under the sanitizer build).
TEST(Watchdog, DestroyedInTheTurnItsTimerCompletesIsNotTouched) {
  net::io_context ioc;
  constexpr int kPairs = 32;
  std::vector<std::unique_ptr<Pair>> pairs;
  std::vector<std::unique_ptr<Watchdog>> dogs;
  std::vector<std::unique_ptr<net::steady_timer>> killers;
  const auto due = Clock::now() + 20ms;
  for (int i = 0; i < kPairs; ++i) {
    pairs.push_back(std::make_unique<Pair>(ioc));
    dogs.push_back(std::make_unique<Watchdog>(pairs.back()->server));
    dogs.back()->arm(due);
    killers.push_back(std::make_unique<net::steady_timer>(ioc, due));
    killers.back()->async_wait([&dogs, &pairs, i](const boost::system::error_code&) {
      dogs[i].reset();
      pairs[i].reset();
    });
  }
  ioc.run_for(5s);
  for (int i = 0; i < kPairs; ++i) EXPECT_FALSE(dogs[i]);
}

}  // namespace
}  // namespace sy::net_io

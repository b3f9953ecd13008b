// The request-path half of a shared window (no Redis needed): what take_local and settle do locally.
#include "switchyard/state/shared_state.hpp"

#include <gtest/gtest.h>

namespace sy::state {
namespace {

TEST(WindowTest, NothingOrANegativeAmountReservesNothing) {
  // Regression: a negative amount (an overflowed token sum) once passed `lease_ < amount` and grew the
  // lease, letting a replica past the shared limit.
  Window w(nullptr, "k", 100);
  auto now = Clock::now();
  EXPECT_TRUE(w.take_local(0, now));
  EXPECT_TRUE(w.take_local(-1'000'000, now));
  EXPECT_FALSE(w.take_local(1, now));  // still no lease: one real token needs Redis
  EXPECT_EQ(w.used(), 0);
}

TEST(WindowTest, SettlementsCountAsUsedUntilFlushed) {
  Window w(nullptr, "k", 100);
  w.settle(30);
  w.settle(-5);
  EXPECT_EQ(w.used(), 25);
  EXPECT_EQ(w.limit(), 100);
}

}  // namespace
}  // namespace sy::state

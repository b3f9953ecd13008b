#include "switchyard/limits/key_ledger.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <thread>

namespace sy::limits {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

/// A UTC wall-clock time: y-m-d h:m:s.
WallTime utc(int y, unsigned m, unsigned d, int h = 0, int min = 0, int s = 0) {
  return std::chrono::sys_days{std::chrono::year{y} / std::chrono::month{m} / std::chrono::day{d}} + hours(h) +
         std::chrono::minutes(min) + seconds(s);
}

struct KeyLedgerTest : ::testing::Test {
  config::AuthKey key;
  KeyAccount acc;
  TimePoint t0 = TimePoint(seconds(1'000'000));
  WallTime w0 = utc(2024, 3, 15, 12);
  KeyLedgerTest() { key.name = "alice"; }

  static void expect_rate_limited(const std::optional<Error>& e, std::string_view code) {
    ASSERT_TRUE(e.has_value());
    EXPECT_EQ(e->kind, ErrorKind::rate_limited);
    EXPECT_EQ(e->code, code);
    EXPECT_EQ(http_status(*e), 429);
  }
};

TEST_F(KeyLedgerTest, NoLimitsAdmitsEverything) {
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(acc.admit(key, t0, w0));
  acc.settle(t0, w0, 1'000'000, 1e6);
  EXPECT_FALSE(acc.admit(key, t0, w0));
  EXPECT_EQ(acc.usage(t0, w0).requests, 1001);
}

TEST_F(KeyLedgerTest, RpmRefusesTheNextRequestWithRetryAfterAndAdmitsWhenTheWindowMoves) {
  key.rpm = 3;
  for (int i = 0; i < 3; ++i) ASSERT_FALSE(acc.admit(key, t0 + milliseconds(100 * i), w0)) << i;
  auto now = t0 + milliseconds(500);
  auto e = acc.admit(key, now, w0);
  expect_rate_limited(e, "rate_limit_exceeded");
  ASSERT_TRUE(e->retry_after.has_value());
  EXPECT_GT(*e->retry_after, milliseconds(0));
  EXPECT_LE(*e->retry_after, milliseconds(60'001));
  EXPECT_THAT(e->message, HasSubstr("alice"));
  EXPECT_THAT(e->message, HasSubstr("3 requests per minute"));
  // The bucket of t0's second leaves the window 60 s after it: 59.5 s from `now`, plus a millisecond.
  EXPECT_EQ(*e->retry_after, milliseconds(59'501));
  // Still refused just before, admitted at now + retry_after.
  expect_rate_limited(acc.admit(key, now + *e->retry_after - milliseconds(2), w0), "rate_limit_exceeded");
  auto later = now + *e->retry_after;
  EXPECT_FALSE(acc.admit(key, later, w0));
  // The window holds only the new requests: two more fit, the next does not.
  EXPECT_FALSE(acc.admit(key, later, w0));
  EXPECT_FALSE(acc.admit(key, later, w0));
  expect_rate_limited(acc.admit(key, later, w0), "rate_limit_exceeded");
}

TEST_F(KeyLedgerTest, RpmWindowSlides) {
  key.rpm = 2;
  ASSERT_FALSE(acc.admit(key, t0, w0));
  ASSERT_FALSE(acc.admit(key, t0 + seconds(30), w0));
  expect_rate_limited(acc.admit(key, t0 + seconds(59), w0), "rate_limit_exceeded");
  // At t0 + 60 s the first request has left the window, the second has not.
  ASSERT_FALSE(acc.admit(key, t0 + seconds(60), w0));
  expect_rate_limited(acc.admit(key, t0 + seconds(61), w0), "rate_limit_exceeded");
  ASSERT_FALSE(acc.admit(key, t0 + seconds(90), w0));
}

TEST_F(KeyLedgerTest, RefusedRequestsAreNotCounted) {
  key.rpm = 2;
  ASSERT_FALSE(acc.admit(key, t0, w0));
  ASSERT_FALSE(acc.admit(key, t0, w0));
  for (int i = 0; i < 10; ++i) expect_rate_limited(acc.admit(key, t0 + seconds(i), w0), "rate_limit_exceeded");
  auto u = acc.usage(t0 + seconds(10), w0);
  EXPECT_EQ(u.requests, 2);
  EXPECT_EQ(u.requests_last_minute, 2);
  // Refusals did not extend the window: both leave it at t0 + 60 s.
  EXPECT_FALSE(acc.admit(key, t0 + seconds(60), w0));
  EXPECT_FALSE(acc.admit(key, t0 + seconds(60), w0));
  EXPECT_EQ(acc.usage(t0 + seconds(60), w0).requests, 4);

  // Budget refusals are not counted either.
  config::AuthKey broke;
  broke.name = "broke";
  broke.daily_usd = 0;
  KeyAccount b;
  for (int i = 0; i < 3; ++i) expect_rate_limited(b.admit(broke, t0, w0), "budget_exceeded");
  EXPECT_EQ(b.usage(t0, w0).requests, 0);
  EXPECT_EQ(b.usage(t0, w0).requests_last_minute, 0);
}

TEST_F(KeyLedgerTest, TpmCountsSettledTokens) {
  key.tpm = 100;
  ASSERT_FALSE(acc.admit(key, t0, w0));
  acc.settle(t0 + seconds(1), w0, 60, 0);
  ASSERT_FALSE(acc.admit(key, t0 + seconds(2), w0));  // 60 < 100
  acc.settle(t0 + seconds(3), w0, 40, 0);
  EXPECT_EQ(acc.usage(t0 + seconds(3), w0).tokens_last_minute, 100);
  auto e = acc.admit(key, t0 + seconds(4), w0);  // 100 >= 100
  expect_rate_limited(e, "rate_limit_exceeded");
  EXPECT_THAT(e->message, HasSubstr("100 tokens per minute"));
  ASSERT_TRUE(e->retry_after.has_value());
  // The 60 tokens of second t0+1 leave at t0+61: 57 s (+1 ms) from t0+4.
  EXPECT_EQ(*e->retry_after, milliseconds(57'001));
  ASSERT_FALSE(acc.admit(key, t0 + seconds(61), w0));  // 40 left in the window
  EXPECT_EQ(acc.usage(t0 + seconds(61), w0).tokens_last_minute, 40);
  EXPECT_EQ(acc.usage(t0 + seconds(63), w0).tokens_last_minute, 0);
}

TEST_F(KeyLedgerTest, NonPositiveTokensAreIgnored) {
  key.tpm = 10;
  acc.settle(t0, w0, -500, 0);
  acc.settle(t0, w0, 0, 0);
  EXPECT_EQ(acc.usage(t0, w0).tokens_last_minute, 0);
  EXPECT_FALSE(acc.admit(key, t0, w0));
}

TEST_F(KeyLedgerTest, DailyBudgetAdmitsUntilSpentReachesItAndResetsAtTheNextUtcDay) {
  key.daily_usd = 1.0;
  WallTime morning = utc(2024, 3, 15, 9);
  ASSERT_FALSE(acc.admit(key, t0, morning));
  acc.settle(t0, morning, 10, 0.5);
  ASSERT_FALSE(acc.admit(key, t0, morning));  // 0.5 < 1.0
  acc.settle(t0, morning, 10, 0.25);
  ASSERT_FALSE(acc.admit(key, t0, morning));  // 0.75 < 1.0
  acc.settle(t0, morning, 10, 0.25);          // exactly 1.0: spent >= budget
  auto e = acc.admit(key, t0, morning);
  expect_rate_limited(e, "budget_exceeded");
  EXPECT_FALSE(e->retry_after.has_value());
  EXPECT_THAT(e->message, HasSubstr("alice"));
  EXPECT_THAT(e->message, HasSubstr("daily budget of $1.00"));
  // Still the same UTC day one second before midnight.
  expect_rate_limited(acc.admit(key, t0, utc(2024, 3, 15, 23, 59, 59)), "budget_exceeded");
  auto u = acc.usage(t0, utc(2024, 3, 15, 23, 59, 59));
  EXPECT_NEAR(u.today_usd, 1.0, 1e-12);
  EXPECT_EQ(u.requests, 3);
  // Midnight UTC: a new day.
  WallTime next = utc(2024, 3, 16);
  EXPECT_FALSE(acc.admit(key, t0, next));
  u = acc.usage(t0, next);
  EXPECT_EQ(u.today_usd, 0);
  EXPECT_NEAR(u.month_usd, 1.0, 1e-12);
  EXPECT_NEAR(u.total_usd, 1.0, 1e-12);
}

TEST_F(KeyLedgerTest, SpendPastTheBudgetByInFlightRequestsIsKeptAndRefuses) {
  key.daily_usd = 1.0;
  // Two admitted while under budget; both finish and together pass it.
  ASSERT_FALSE(acc.admit(key, t0, w0));
  ASSERT_FALSE(acc.admit(key, t0, w0));
  acc.settle(t0, w0, 10, 0.8);
  acc.settle(t0, w0, 10, 0.8);
  EXPECT_NEAR(acc.usage(t0, w0).today_usd, 1.6, 1e-12);
  expect_rate_limited(acc.admit(key, t0, w0), "budget_exceeded");
}

TEST_F(KeyLedgerTest, ZeroBudgetRefusesEverything) {
  key.daily_usd = 0;
  expect_rate_limited(acc.admit(key, t0, w0), "budget_exceeded");
}

TEST_F(KeyLedgerTest, MonthlyBudgetResetsAtTheNextUtcMonthButNotTheNextDay) {
  key.monthly_usd = 5.0;
  WallTime mar10 = utc(2024, 3, 10, 8);
  ASSERT_FALSE(acc.admit(key, t0, mar10));
  acc.settle(t0, mar10, 10, 5.0);
  auto e = acc.admit(key, t0, mar10);
  expect_rate_limited(e, "budget_exceeded");
  EXPECT_THAT(e->message, HasSubstr("monthly budget of $5.00"));
  // The next day (and the last second of the month) it is still spent.
  expect_rate_limited(acc.admit(key, t0, utc(2024, 3, 11)), "budget_exceeded");
  expect_rate_limited(acc.admit(key, t0, utc(2024, 3, 31, 23, 59, 59)), "budget_exceeded");
  EXPECT_NEAR(acc.usage(t0, utc(2024, 3, 31, 23, 59, 59)).month_usd, 5.0, 1e-12);
  EXPECT_EQ(acc.usage(t0, utc(2024, 3, 31, 23, 59, 59)).today_usd, 0);
  // April 1st 00:00 UTC.
  EXPECT_FALSE(acc.admit(key, t0, utc(2024, 4, 1)));
  auto u = acc.usage(t0, utc(2024, 4, 1));
  EXPECT_EQ(u.month_usd, 0);
  EXPECT_NEAR(u.total_usd, 5.0, 1e-12);
}

TEST_F(KeyLedgerTest, MonthlyBudgetResetsAcrossTheYearAndOnLeapDays) {
  key.monthly_usd = 1.0;
  acc.settle(t0, utc(2023, 12, 31, 23), 0, 1.0);
  expect_rate_limited(acc.admit(key, t0, utc(2023, 12, 31, 23, 59, 59)), "budget_exceeded");
  EXPECT_FALSE(acc.admit(key, t0, utc(2024, 1, 1)));
  // February of a leap year: the 29th is still February.
  acc.settle(t0, utc(2024, 2, 1), 0, 1.0);
  expect_rate_limited(acc.admit(key, t0, utc(2024, 2, 29, 12)), "budget_exceeded");
  EXPECT_FALSE(acc.admit(key, t0, utc(2024, 3, 1)));
}

TEST_F(KeyLedgerTest, DailyAndMonthlyTogether) {
  key.daily_usd = 2.0;
  key.monthly_usd = 3.0;
  acc.settle(t0, utc(2024, 5, 1, 10), 0, 2.0);
  expect_rate_limited(acc.admit(key, t0, utc(2024, 5, 1, 11)), "budget_exceeded");
  EXPECT_FALSE(acc.admit(key, t0, utc(2024, 5, 2, 1)));  // new day, month at 2 < 3
  acc.settle(t0, utc(2024, 5, 2, 1), 0, 1.5);             // day 1.5 < 2, month 3.5 >= 3
  auto e = acc.admit(key, t0, utc(2024, 5, 2, 2));
  expect_rate_limited(e, "budget_exceeded");
  EXPECT_THAT(e->message, HasSubstr("monthly"));
  expect_rate_limited(acc.admit(key, t0, utc(2024, 5, 3)), "budget_exceeded");  // next day: month still spent
}

TEST_F(KeyLedgerTest, NegativeNanAndInfiniteCostsAreIgnored) {
  key.daily_usd = 1.0;
  acc.settle(t0, w0, 10, -5.0);
  acc.settle(t0, w0, 10, std::numeric_limits<double>::quiet_NaN());
  acc.settle(t0, w0, 10, std::numeric_limits<double>::infinity());
  acc.settle(t0, w0, 10, -std::numeric_limits<double>::infinity());
  auto u = acc.usage(t0, w0);
  EXPECT_EQ(u.today_usd, 0);
  EXPECT_EQ(u.month_usd, 0);
  EXPECT_EQ(u.total_usd, 0);
  EXPECT_FALSE(std::isnan(u.total_usd));
  EXPECT_EQ(u.tokens_last_minute, 40);  // the tokens still count
  EXPECT_FALSE(acc.admit(key, t0, w0));
  acc.settle(t0, w0, 0, 0.25);
  EXPECT_DOUBLE_EQ(acc.usage(t0, w0).total_usd, 0.25);
}

TEST_F(KeyLedgerTest, BudgetIsCheckedBeforeRate) {
  key.rpm = 1;
  key.daily_usd = 1.0;
  ASSERT_FALSE(acc.admit(key, t0, w0));
  acc.settle(t0, w0, 0, 1.0);
  expect_rate_limited(acc.admit(key, t0, w0), "budget_exceeded");
}

TEST(KeyLedger, ReturnsTheSameAccountForTheSameName) {
  KeyLedger ledger;
  auto a = ledger.account("alice");
  auto a2 = ledger.account("alice");
  auto b = ledger.account("bob");
  ASSERT_TRUE(a && a2 && b);
  EXPECT_EQ(a.get(), a2.get());
  EXPECT_NE(a.get(), b.get());
  TimePoint t = TimePoint(seconds(5000));
  WallTime w = utc(2024, 6, 1);
  config::AuthKey k;
  k.name = "alice";
  ASSERT_FALSE(a->admit(k, t, w));
  a->settle(t, w, 5, 0.5);
  EXPECT_EQ(a2->usage(t, w).requests, 1);
  EXPECT_DOUBLE_EQ(a2->usage(t, w).total_usd, 0.5);
  EXPECT_EQ(b->usage(t, w).requests, 0);
  EXPECT_EQ(b->usage(t, w).total_usd, 0);
  // The account outlives the callers' references (kept across reloads).
  a.reset();
  a2.reset();
  EXPECT_EQ(ledger.account("alice")->usage(t, w).requests, 1);
}

TEST(KeyLedger, ConcurrentAdmitsNeverExceedRpm) {
  KeyLedger ledger;
  config::AuthKey k;
  k.name = "shared";
  k.rpm = 500;
  TimePoint t = TimePoint(seconds(1'000'000));
  WallTime w = utc(2024, 6, 1);
  std::atomic<int> admitted{0};
  auto work = [&] {
    auto acc = ledger.account("shared");
    for (int i = 0; i < 1000; ++i) {
      if (!acc->admit(k, t, w)) admitted.fetch_add(1);
      acc->settle(t, w, 1, 0.001);
    }
  };
  std::thread a(work), b(work);
  a.join();
  b.join();
  EXPECT_EQ(admitted.load(), 500);
  auto u = ledger.account("shared")->usage(t, w);
  EXPECT_EQ(u.requests, 500);
  EXPECT_EQ(u.tokens_last_minute, 2000);
  EXPECT_NEAR(u.total_usd, 2.0, 1e-9);
}

}  // namespace
}  // namespace sy::limits

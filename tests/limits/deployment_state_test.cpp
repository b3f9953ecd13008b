#include "switchyard/limits/deployment_state.hpp"

#include <gtest/gtest.h>

namespace sy::limits {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct DeploymentStateTest : ::testing::Test {
  config::DeploymentConfig dep;
  config::ReliabilityConfig rel;
  TimePoint t0 = TimePoint(seconds(1'000'000));
  DeploymentState st{"m/p/0"};

  DeploymentStateTest() {
    rel.breaker.window = seconds(10);
    rel.breaker.min_requests = 4;
    rel.breaker.error_ratio = 0.5;
    rel.breaker.cooldown = seconds(5);
    rel.breaker.half_open_probes = 1;
  }
  Error err(ErrorKind k) { return Error::make(k, "x"); }
};

TEST_F(DeploymentStateTest, RateLimitCoolsDownUntilRetryAfter) {
  Error e = err(ErrorKind::rate_limited);
  e.retry_after = milliseconds(2500);
  st.on_failure(t0, e, {}, rel);
  auto c = st.check(dep, rel, t0 + milliseconds(2000), 10);
  EXPECT_EQ(c.reason, SkipReason::cooldown);
  EXPECT_EQ(c.recovery, t0 + milliseconds(2500));
  EXPECT_EQ(st.check(dep, rel, t0 + milliseconds(2500), 10).reason, SkipReason::none);
}

TEST_F(DeploymentStateTest, RateLimitWithoutHintUsesResetHeadersThenTheDefault) {
  LearnedLimits l;
  l.remaining_requests = 0;
  l.reset_requests = milliseconds(7000);
  st.on_failure(t0, err(ErrorKind::rate_limited), l, rel);
  EXPECT_EQ(st.check(dep, rel, t0 + milliseconds(6999), 1).reason, SkipReason::cooldown);
  DeploymentState other("x");
  other.on_failure(t0, err(ErrorKind::rate_limited), {}, rel);
  EXPECT_EQ(other.check(dep, rel, t0 + rel.cooldown - milliseconds(1), 1).reason, SkipReason::cooldown);
  EXPECT_EQ(other.check(dep, rel, t0 + rel.cooldown, 1).reason, SkipReason::none);
}

TEST_F(DeploymentStateTest, BreakerOpensOnErrorRatioWithMinimumCount) {
  st.on_failure(t0, err(ErrorKind::server_error), {}, rel);
  st.on_failure(t0, err(ErrorKind::timeout), {}, rel);
  st.on_failure(t0, err(ErrorKind::connection), {}, rel);
  EXPECT_EQ(st.check(dep, rel, t0, 1).reason, SkipReason::none) << "3 requests < min_requests";
  st.on_success(t0, milliseconds(5), rel);
  auto c = st.check(dep, rel, t0, 1);  // 3 failures of 4 >= 50 %
  EXPECT_EQ(c.reason, SkipReason::breaker_open);
  EXPECT_EQ(c.recovery, t0 + seconds(5));
}

TEST_F(DeploymentStateTest, HalfOpenLetsOneProbeThroughAndSuccessCloses) {
  for (int i = 0; i < 4; ++i) st.on_failure(t0, err(ErrorKind::server_error), {}, rel);
  TimePoint later = t0 + seconds(5);
  auto probe = st.acquire(dep, rel, later, 1);
  ASSERT_EQ(probe.reason, SkipReason::none);
  EXPECT_TRUE(probe.probe);
  EXPECT_EQ(st.acquire(dep, rel, later, 1).reason, SkipReason::breaker_open) << "only one probe at a time";
  st.on_success(later, milliseconds(3), rel);
  st.release(later, 1, 1, probe.probe);
  EXPECT_EQ(st.check(dep, rel, later, 1).reason, SkipReason::none);
}

TEST_F(DeploymentStateTest, FailedProbeReopens) {
  for (int i = 0; i < 4; ++i) st.on_failure(t0, err(ErrorKind::server_error), {}, rel);
  TimePoint later = t0 + seconds(6);
  auto probe = st.acquire(dep, rel, later, 1);
  st.on_failure(later, err(ErrorKind::server_error), {}, rel);
  st.release(later, 1, -1, probe.probe);
  auto c = st.check(dep, rel, later + seconds(1), 1);
  EXPECT_EQ(c.reason, SkipReason::breaker_open);
  EXPECT_EQ(c.recovery, later + seconds(5));
}

TEST_F(DeploymentStateTest, ClientErrorsDoNotTripTheBreaker) {
  for (int i = 0; i < 10; ++i) st.on_failure(t0, err(ErrorKind::upstream_bad_request), {}, rel);
  EXPECT_EQ(st.check(dep, rel, t0, 1).reason, SkipReason::none);
}

TEST_F(DeploymentStateTest, AuthFailureSticksUntilTheFingerprintChanges) {
  st.set_fingerprint(1);
  EXPECT_TRUE(st.on_failure(t0, err(ErrorKind::auth), {}, rel));
  EXPECT_FALSE(st.on_failure(t0, err(ErrorKind::auth), {}, rel)) << "reported once";
  EXPECT_EQ(st.check(dep, rel, t0 + seconds(3600), 1).reason, SkipReason::auth);
  st.set_fingerprint(1);
  EXPECT_EQ(st.check(dep, rel, t0, 1).reason, SkipReason::auth);
  st.set_fingerprint(2);
  EXPECT_EQ(st.check(dep, rel, t0, 1).reason, SkipReason::none);
}

TEST_F(DeploymentStateTest, ConfiguredRpmAndTpmWindowsSlide) {
  dep.rpm = 2;
  dep.tpm = 1000;
  EXPECT_EQ(st.acquire(dep, rel, t0, 400).reason, SkipReason::none);
  EXPECT_EQ(st.acquire(dep, rel, t0 + seconds(1), 400).reason, SkipReason::none);
  auto c = st.check(dep, rel, t0 + seconds(2), 10);
  EXPECT_EQ(c.reason, SkipReason::no_headroom);
  EXPECT_EQ(c.recovery, t0 + seconds(60));
  EXPECT_EQ(st.check(dep, rel, t0 + seconds(60), 10).reason, SkipReason::none) << "the first request left the window";
}

TEST_F(DeploymentStateTest, ReservationsSettleOnRealUsage) {
  dep.tpm = 1000;
  auto a = st.acquire(dep, rel, t0, 900);
  ASSERT_EQ(a.reason, SkipReason::none);
  EXPECT_EQ(st.check(dep, rel, t0, 200).reason, SkipReason::no_headroom);
  st.release(t0, 900, 100, a.probe);  // it used far less than reserved
  EXPECT_EQ(st.check(dep, rel, t0, 200).reason, SkipReason::none);
}

TEST_F(DeploymentStateTest, LearnedExhaustionSkipsUntilReset) {
  LearnedLimits l;
  l.limit_requests = 100;
  l.remaining_requests = 0;
  l.reset_requests = seconds(20);
  st.learn(t0, l);
  auto c = st.check(dep, rel, t0 + seconds(1), 1);
  EXPECT_EQ(c.reason, SkipReason::no_headroom);
  EXPECT_EQ(c.recovery, t0 + seconds(20));
  EXPECT_EQ(st.check(dep, rel, t0 + seconds(20), 1).reason, SkipReason::none);
}

TEST_F(DeploymentStateTest, LowLearnedHeadroomShrinksTheWeight) {
  LearnedLimits l;
  l.limit_requests = 1000;
  l.remaining_requests = 20;  // 2 % left, headroom 10 %
  l.reset_requests = seconds(30);
  st.learn(t0, l);
  auto c = st.check(dep, rel, t0, 1);
  EXPECT_EQ(c.reason, SkipReason::none);
  EXPECT_NEAR(c.weight_factor, 0.2, 1e-9);
}

TEST(RetryBudgetTest, RetriesAreBoundedByRatioAndFloor) {
  RetryBudget b;
  TimePoint t = TimePoint(seconds(5));
  int granted = 0;
  for (int i = 0; i < 100; ++i) granted += b.try_retry(t, 0) ? 1 : 0;
  EXPECT_EQ(granted, 10) << "the initial allowance";
  for (int i = 0; i < 10; ++i) b.on_request(0.2);
  granted = 0;
  for (int i = 0; i < 100; ++i) granted += b.try_retry(t, 0) ? 1 : 0;
  EXPECT_EQ(granted, 2) << "20 % of 10 requests";
}

}  // namespace
}  // namespace sy::limits

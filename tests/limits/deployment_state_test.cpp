#include "switchyard/limits/deployment_state.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

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
  nlohmann::json view(TimePoint now) const { return nlohmann::json::parse(st.to_json(now, &dep, rel)); }
  /// One whole request on the success path.
  void serve(TimePoint now, std::int64_t reserved, std::int64_t used, std::chrono::microseconds ttfb = milliseconds(4)) {
    ASSERT_EQ(st.check(dep, rel, now, reserved).reason, SkipReason::none);
    auto a = st.acquire(dep, rel, now, reserved);
    ASSERT_EQ(a.reason, SkipReason::none);
    st.release(now, reserved, used, a);
    st.on_success(now, ttfb, rel);
  }
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
  st.release(later, 1, 1, probe);
  EXPECT_EQ(st.check(dep, rel, later, 1).reason, SkipReason::none);
}

TEST_F(DeploymentStateTest, FailedProbeReopens) {
  for (int i = 0; i < 4; ++i) st.on_failure(t0, err(ErrorKind::server_error), {}, rel);
  TimePoint later = t0 + seconds(6);
  auto probe = st.acquire(dep, rel, later, 1);
  st.on_failure(later, err(ErrorKind::server_error), {}, rel);
  st.release(later, 1, -1, probe);
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
  st.release(t0, 900, 100, a);  // it used far less than reserved
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

// ---- the lock-free fast path (no configured limits, nothing wrong) ----

TEST_F(DeploymentStateTest, FastPathCountsShowInTheViews) {
  auto a = st.acquire(dep, rel, t0, 100);
  ASSERT_EQ(a.reason, SkipReason::none);
  EXPECT_TRUE(a.fast) << "no limits configured, nothing wrong: no lock";
  EXPECT_EQ(st.in_flight(), 1);
  EXPECT_EQ(st.gauges(t0, rel).in_flight, 1);
  st.release(t0, 100, 30, a);
  st.on_success(t0, milliseconds(10), rel);
  serve(t0 + seconds(1), 50, 50, milliseconds(20));
  auto j = view(t0 + seconds(1));
  EXPECT_EQ(j["in_flight"], 0);
  EXPECT_EQ(j["requests_last_minute"], 2);
  EXPECT_EQ(j["tokens_last_minute"], 80) << "reservations settled on real usage";
  EXPECT_EQ(j["successes"], 2);
  EXPECT_EQ(j["successes_in_window"], 2);
  EXPECT_DOUBLE_EQ(j["latency_ewma_ms"].get<double>(), 12.0) << "0.8 x 10 + 0.2 x 20";
  EXPECT_DOUBLE_EQ(st.latency_ms(), 12.0);
  auto later = view(t0 + seconds(61));
  EXPECT_EQ(later["requests_last_minute"], 0) << "the lane's window slides like the locked one";
  EXPECT_EQ(later["successes"], 2);
}

TEST_F(DeploymentStateTest, ConfiguredLimitsTakeTheLockedPath) {
  config::DeploymentConfig limited;
  limited.max_concurrent = 1;
  auto a = st.acquire(limited, rel, t0, 1);
  ASSERT_EQ(a.reason, SkipReason::none);
  EXPECT_FALSE(a.fast);
  EXPECT_EQ(st.acquire(limited, rel, t0, 1).reason, SkipReason::max_concurrent);
  st.release(t0, 1, 1, a);
  EXPECT_EQ(st.acquire(limited, rel, t0, 1).reason, SkipReason::none);
}

TEST_F(DeploymentStateTest, MaxConcurrentCountsRequestsClaimedOnTheFastPath) {
  auto a = st.acquire(dep, rel, t0, 1);  // before a reload set max_concurrent
  ASSERT_TRUE(a.fast);
  config::DeploymentConfig limited;
  limited.max_concurrent = 1;
  EXPECT_EQ(st.check(limited, rel, t0, 1).reason, SkipReason::max_concurrent);
  st.release(t0, 1, -1, a);
  EXPECT_EQ(st.check(limited, rel, t0, 1).reason, SkipReason::none);
}

TEST_F(DeploymentStateTest, ARpmAddedByAReloadCountsTheLastMinutesFastClaims) {
  serve(t0, 10, 10);
  serve(t0 + seconds(5), 10, 10);
  config::DeploymentConfig limited;
  limited.rpm = 2;
  auto c = st.check(limited, rel, t0 + seconds(10), 1);
  EXPECT_EQ(c.reason, SkipReason::no_headroom);
  EXPECT_EQ(c.recovery, t0 + seconds(60)) << "when the first claim leaves the window";
  EXPECT_EQ(st.acquire(limited, rel, t0 + seconds(60), 1).reason, SkipReason::none);
  EXPECT_EQ(st.acquire(limited, rel, t0 + seconds(61), 1).reason, SkipReason::no_headroom);
  limited.rpm.reset();
  limited.tpm = 20;
  c = st.check(limited, rel, t0 + seconds(62), 10);
  EXPECT_EQ(c.reason, SkipReason::no_headroom) << "10 (lane, at 5 s) + 1 (locked, at 60 s) + 10 > 20";
  EXPECT_EQ(c.recovery, t0 + seconds(65));
}

TEST_F(DeploymentStateTest, ACooldownClosesTheFastPathUntilItEnds) {
  Error e = err(ErrorKind::rate_limited);
  e.retry_after = milliseconds(1500);
  st.on_failure(t0, e, {}, rel);
  EXPECT_EQ(st.check(dep, rel, t0 + milliseconds(1499), 1).reason, SkipReason::cooldown);
  EXPECT_EQ(st.acquire(dep, rel, t0 + milliseconds(1499), 1).reason, SkipReason::cooldown);
  auto a = st.acquire(dep, rel, t0 + milliseconds(1500), 1);
  EXPECT_EQ(a.reason, SkipReason::none);
  EXPECT_TRUE(a.fast) << "no lock needed to see the cooldown is over";
  st.release(t0 + milliseconds(1500), 1, 1, a);
  EXPECT_EQ(st.check(dep, rel, t0 + milliseconds(1000), 1).reason, SkipReason::cooldown)
      << "an earlier clock still sees the cooldown";
}

TEST_F(DeploymentStateTest, LearnedHeadroomIsSpentUnderTheLockUntilItsReset) {
  LearnedLimits l;
  l.limit_requests = 10;
  l.remaining_requests = 1;
  l.reset_requests = seconds(2);
  st.learn(t0, l);
  auto a = st.acquire(dep, rel, t0, 1);
  ASSERT_EQ(a.reason, SkipReason::none);
  EXPECT_FALSE(a.fast);
  EXPECT_EQ(st.check(dep, rel, t0, 1).reason, SkipReason::no_headroom) << "the last request was spent locally";
  st.release(t0, 1, 1, a);
  auto b = st.acquire(dep, rel, t0 + seconds(2), 1);
  EXPECT_EQ(b.reason, SkipReason::none);
  EXPECT_TRUE(b.fast) << "the learned numbers expired";
  st.release(t0 + seconds(2), 1, 1, b);
}

TEST_F(DeploymentStateTest, SuccessesDuringACooldownOrLearnedHeadroomCountInTheRatio) {
  // Requests claimed before a 429 and answered during its cooldown, with learned headroom active.
  std::vector<DeploymentState::Acquired> claims;
  for (int i = 0; i < 6; ++i) claims.push_back(st.acquire(dep, rel, t0, 1));
  LearnedLimits l;
  l.remaining_requests = 100;
  l.reset_requests = seconds(30);
  st.learn(t0, l);
  Error e = err(ErrorKind::rate_limited);
  e.retry_after = seconds(20);
  st.on_failure(t0, e, {}, rel);
  for (auto& a : claims) {
    st.release(t0 + seconds(1), 1, 1, a);
    st.on_success(t0 + seconds(1), milliseconds(2), rel);
  }
  for (int i = 0; i < 5; ++i) st.on_failure(t0 + seconds(1), err(ErrorKind::server_error), {}, rel);
  auto j = view(t0 + seconds(1));
  EXPECT_EQ(j["breaker"], "closed") << "5 of 11 < 50 %";
  EXPECT_EQ(j["successes_in_window"], 6);
  EXPECT_EQ(j["in_flight"], 0);
  st.on_failure(t0 + seconds(1), err(ErrorKind::server_error), {}, rel);
  EXPECT_EQ(view(t0 + seconds(1))["breaker"], "open") << "6 of 12";
}

TEST_F(DeploymentStateTest, FastSuccessesCountInTheBreakerRatio) {
  for (int i = 0; i < 6; ++i) serve(t0, 1, 1);
  // 4 failures of 10 outcomes < 50 %: the six lock-free successes must be in the ratio.
  for (int i = 0; i < 4; ++i) st.on_failure(t0 + seconds(1), err(ErrorKind::server_error), {}, rel);
  EXPECT_EQ(st.check(dep, rel, t0 + seconds(1), 1).reason, SkipReason::none);
  EXPECT_EQ(view(t0 + seconds(1))["successes_in_window"], 6);
  st.on_failure(t0 + seconds(1), err(ErrorKind::server_error), {}, rel);
  st.on_failure(t0 + seconds(1), err(ErrorKind::server_error), {}, rel);
  EXPECT_EQ(st.check(dep, rel, t0 + seconds(1), 1).reason, SkipReason::breaker_open) << "6 of 12";
}

TEST_F(DeploymentStateTest, ClosingTheBreakerClearsTheLanesSuccessesToo) {
  for (int i = 0; i < 8; ++i) serve(t0, 1, 1);
  rel.breaker.min_requests = 12;
  for (int i = 0; i < 8; ++i) st.on_failure(t0, err(ErrorKind::server_error), {}, rel);  // 8 of 16
  ASSERT_EQ(st.check(dep, rel, t0, 1).reason, SkipReason::breaker_open);
  TimePoint later = t0 + seconds(5);
  auto probe = st.acquire(dep, rel, later, 1);
  ASSERT_TRUE(probe.probe);
  st.on_success(later, milliseconds(3), rel);
  st.release(later, 1, 1, probe);
  auto j = view(later);
  EXPECT_EQ(j["breaker"], "closed");
  EXPECT_EQ(j["successes_in_window"], 0) << "the windows were cleared (the probe's success with them)";
  EXPECT_EQ(j["successes"], 9);
  // The eight old successes are gone from the ratio too: with them 12 failures would be 60 % < 70 %.
  rel.breaker.error_ratio = 0.7;
  for (int i = 0; i < 11; ++i) st.on_failure(later, err(ErrorKind::server_error), {}, rel);
  EXPECT_EQ(st.check(dep, rel, later, 1).reason, SkipReason::none) << "11 outcomes < min_requests";
  st.on_failure(later, err(ErrorKind::server_error), {}, rel);
  EXPECT_EQ(st.check(dep, rel, later, 1).reason, SkipReason::breaker_open);
}

TEST_F(DeploymentStateTest, ASuccessSoonAfterAFailureStillDecidesTheBreaker) {
  rel.breaker.min_requests = 5;
  serve(t0, 1, 1);
  for (int i = 0; i < 3; ++i) st.on_failure(t0 + seconds(1), err(ErrorKind::server_error), {}, rel);
  ASSERT_EQ(st.check(dep, rel, t0 + seconds(1), 1).reason, SkipReason::none) << "4 outcomes < min_requests";
  // Not the fast path: failures in the window, so the success sums the ratio (3 of 5 failed).
  st.on_success(t0 + seconds(1), milliseconds(1), rel);
  EXPECT_EQ(st.check(dep, rel, t0 + seconds(1), 1).reason, SkipReason::breaker_open);
}

// Threads hammer one deployment through claim, settle and outcome while one of them also records
// breaker failures: the counts add up exactly and nothing stays in flight. The failures carry an older
// clock than the successes (more than the breaker window + 1 s), so the successes stay on the lock-free
// path while failures sum the lanes concurrently.
TEST_F(DeploymentStateTest, ManyThreadsKeepExactCounts) {
  constexpr int kThreads = 6, kRounds = 4000;
  rel.breaker.min_requests = 1'000'000;  // never opens while hammered
  const TimePoint fail_at = t0 + seconds(5), serve_at = t0 + seconds(20);
  std::atomic<int> start{0};
  auto worker = [&](int id) {
    start.fetch_add(1);
    while (start.load() < kThreads) std::this_thread::yield();
    for (int i = 0; i < kRounds; ++i) {
      const TimePoint now = serve_at + milliseconds(i % 1000);
      ASSERT_EQ(st.check(dep, rel, now, 10).reason, SkipReason::none);
      auto a = st.acquire(dep, rel, now, 10);
      ASSERT_EQ(a.reason, SkipReason::none);
      ASSERT_TRUE(a.fast);
      (void)st.in_flight();
      st.release(now, 10, 3, a);
      if (id == 0 && i % 8 == 0) st.on_failure(fail_at, err(ErrorKind::server_error), {}, rel);
      else st.on_success(now, milliseconds(2), rel);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();
  const std::int64_t total = std::int64_t{kThreads} * kRounds, fails = kRounds / 8, oks = total - fails;
  const TimePoint end = serve_at + seconds(1);
  auto j = view(end);
  EXPECT_EQ(j["in_flight"], 0);
  EXPECT_EQ(st.in_flight(), 0);
  EXPECT_EQ(j["requests_last_minute"], total);
  EXPECT_EQ(j["tokens_last_minute"], total * 3);
  EXPECT_EQ(j["successes"], oks);
  EXPECT_EQ(j["failures"], fails);
  EXPECT_EQ(j["successes_in_window"], oks);
  EXPECT_EQ(j["errors_in_window"], fails);
  EXPECT_DOUBLE_EQ(st.latency_ms(), 2.0);
  EXPECT_EQ(j["breaker"], "closed");
  // One failure now decides on every success of the window (the old failures are out of it): with
  // one success fewer, 1 of (oks + 1) would reach the threshold.
  rel.breaker.min_requests = 1;
  rel.breaker.error_ratio = 1.0 / (static_cast<double>(oks) + 0.5);
  st.on_failure(end, err(ErrorKind::server_error), {}, rel);
  EXPECT_EQ(st.check(dep, rel, end, 1).reason, SkipReason::none);
  st.on_failure(end, err(ErrorKind::server_error), {}, rel);
  EXPECT_EQ(st.check(dep, rel, end, 1).reason, SkipReason::breaker_open);
}

// Successes and failures race with a breaker that can open: whatever the interleaving, once every
// thread is done a closed breaker means the last outcomes' ratio is below the threshold (each outcome
// after a failure decides on everything counted before it), and an open one refuses.
TEST_F(DeploymentStateTest, ManyThreadsRaceSuccessesWithTheBreaker) {
  constexpr int kThreads = 6, kRounds = 3000;
  rel.breaker.min_requests = 50;
  rel.breaker.error_ratio = 0.1;
  rel.breaker.cooldown = seconds(3600);  // no half-open during the run
  std::atomic<int> start{0}, refused{0}, served{0};
  auto worker = [&](int id) {
    start.fetch_add(1);
    while (start.load() < kThreads) std::this_thread::yield();
    for (int i = 0; i < kRounds; ++i) {
      TimePoint now = t0 + milliseconds(i / 10);
      auto a = st.acquire(dep, rel, now, 1);
      if (a.reason != SkipReason::none) {
        EXPECT_EQ(a.reason, SkipReason::breaker_open);
        refused.fetch_add(1);
        continue;
      }
      served.fetch_add(1);
      st.release(now, 1, 1, a);
      if (id % 3 == 0 && i % 5 == 0) st.on_failure(now, err(ErrorKind::timeout), {}, rel);
      else st.on_success(now, milliseconds(1), rel);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();
  EXPECT_EQ(refused.load() + served.load(), kThreads * kRounds);
  auto j = view(t0 + milliseconds(kRounds / 10));
  EXPECT_EQ(j["in_flight"], 0);
  EXPECT_EQ(j["requests_last_minute"], served.load());
  EXPECT_EQ(j["successes"].get<int>() + j["failures"].get<int>(), served.load());
  const double fails = j["errors_in_window"], oks = j["successes_in_window"];
  // 2 failing threads of 6, one request in 5 each: about 6.7 % of outcomes, under the 10 % threshold,
  // but runs of failures early on may cross it.
  if (j["breaker"] == "closed") {
    EXPECT_LT(fails, 0.1 * (fails + oks));
    EXPECT_EQ(refused.load(), 0);
  } else {
    EXPECT_EQ(st.check(dep, rel, t0 + milliseconds(kRounds / 10), 1).reason, SkipReason::breaker_open);
  }
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

TEST(RetryBudgetTest, ThreadsDepositInBatchesAndNothingIsLost) {
  RetryBudget b;
  TimePoint t = TimePoint(seconds(5));
  while (b.try_retry(t, 0)) {
  }
  constexpr int kThreads = 4, kRequests = RetryBudget::kBatch * 10;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int r = 0; r < kRequests; ++r) b.on_request(0.25);
    });
  }
  for (auto& th : threads) th.join();
  int granted = 0;
  for (int i = 0; i < 1000; ++i) granted += b.try_retry(t, 0) ? 1 : 0;
  EXPECT_EQ(granted, kThreads * kRequests / 4) << "every whole batch reached the shared bucket";
}

TEST(RetryBudgetTest, AThreadsOwnDepositsCountBeforeItsRetry) {
  RetryBudget b;
  TimePoint t = TimePoint(seconds(5));
  while (b.try_retry(t, 0)) {
  }
  for (int i = 0; i < 3; ++i) b.on_request(0.5);  // far from a batch
  EXPECT_TRUE(b.try_retry(t, 0));
  EXPECT_FALSE(b.try_retry(t, 0)) << "0.5 left";
}

}  // namespace
}  // namespace sy::limits

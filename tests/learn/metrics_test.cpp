#include "switchyard/learn/metrics.hpp"

#include <gtest/gtest.h>

#include "switchyard/learn/calibrate.hpp"

namespace sy::learn {
namespace {

// Four prompts. Weak right on 0 and 1; strong right on 0, 2, 3. qw = 0.5, qs = 0.75.
const std::vector<float> kWeak = {1, 1, 0, 0};
const std::vector<float> kStrong = {1, 0, 1, 1};

PairOutcomes outcomes() { return PairOutcomes{kWeak, kStrong, {}, {}, {}, {}, {}, {}}; }

TEST(MetricsTest, QuantileMatchesNumpyLinearInterpolation) {
  const std::vector<double> s = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(quantile_sorted(s, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(quantile_sorted(s, 0.5), 2.5);
  EXPECT_DOUBLE_EQ(quantile_sorted(s, 0.1), 1.3);
  EXPECT_DOUBLE_EQ(quantile_sorted(s, 1.0), 4.0);
}

TEST(MetricsTest, PerfectRouterMatchesHandComputedApgrAndCpt) {
  // Scores rank the strong-only prompts (2, 3) first, then 0, then 1 (where strong is wrong).
  const std::vector<double> scores = {0.5, 0.1, 0.9, 0.8};
  RoutingCurve c = evaluate_router(scores, outcomes(), 4);
  // Edges (numpy quantiles of {.1,.5,.8,.9} at 0,.25,.5,.75,1): .1, .4, .65, .825, .9 (last: strict).
  ASSERT_EQ(c.points.size(), 5u);
  const double share[] = {0, 0.25, 0.5, 0.75, 1.0};
  const double acc[] = {0.5, 0.75, 1.0, 1.0, 0.75};
  for (int i = 0; i < 5; ++i) {
    EXPECT_DOUBLE_EQ(c.points[static_cast<std::size_t>(i)].strong_share, share[i]) << i;
    EXPECT_DOUBLE_EQ(c.points[static_cast<std::size_t>(i)].accuracy, acc[i]) << i;
  }
  // Trapezoid AUC = .25*(.625 + .875 + 1 + .875) = .84375; APGR = (.84375 - .5) / (.25) = 1.375.
  EXPECT_NEAR(c.apgr, 1.375, 1e-12);
  // Half the gap: accuracy .625, reached halfway between share 0 (.5) and .25 (.75) -> 12.5 %.
  EXPECT_NEAR(cpt(c, 0.5), 0.125, 1e-12);
  EXPECT_NEAR(cpt(c, 1.0), 0.25, 1e-12);
}

TEST(MetricsTest, InvertedRouterScoresBelowHalf) {
  const std::vector<double> scores = {0.5, 0.9, 0.1, 0.2};  // sends prompt 1 (strong wrong) first
  RoutingCurve c = evaluate_router(scores, outcomes(), 4);
  // Points: (0,.5) (.25,.25) (.5,.25) (.75,.5) (1,.75): AUC = .25*(.375+.25+.375+.625) = .40625.
  EXPECT_NEAR(c.apgr, (0.40625 - 0.5) / 0.25, 1e-12);
  EXPECT_NEAR(cpt(c, 0.5), 0.875, 1e-12);
}

TEST(MetricsTest, OracleCurveIsPiecewiseLinearThroughClassBoundaries) {
  RoutingCurve c = oracle_curve(outcomes());
  // Strong-only prompts: 2 of 4, same-outcome: 1, weak-only: 1.
  ASSERT_EQ(c.points.size(), 4u);
  EXPECT_DOUBLE_EQ(c.points[1].strong_share, 0.5);
  EXPECT_DOUBLE_EQ(c.points[1].accuracy, 1.0);
  EXPECT_DOUBLE_EQ(c.points[2].strong_share, 0.75);
  EXPECT_DOUBLE_EQ(c.points[3].accuracy, 0.75);
  // AUC = .5*.75 + .25*1 + .25*.875 = .84375 -> APGR 1.375.
  EXPECT_NEAR(c.apgr, 1.375, 1e-12);
}

TEST(MetricsTest, RandomRouterAveragesNearHalf) {
  std::vector<float> weak(4000), strong(4000);
  for (std::size_t i = 0; i < weak.size(); ++i) {
    weak[i] = (i % 3 == 0) ? 1.0f : 0.0f;
    strong[i] = (i % 5 != 0) ? 1.0f : 0.0f;
  }
  RoutingCurve c = random_curve(PairOutcomes{weak, strong, {}, {}, {}, {}, {}, {}}, 10, 3);
  EXPECT_NEAR(c.apgr, 0.5, 0.03);
}

TEST(MetricsTest, CostsFollowTheRoutingDecision) {
  const std::vector<double> wc = {1, 1, 1, 1}, sc = {10, 10, 10, 10};
  const std::vector<double> scores = {0.5, 0.1, 0.9, 0.8};
  RoutingCurve c = evaluate_router(scores, PairOutcomes{kWeak, kStrong, wc, sc, {}, {}, {}, {}}, 4);
  EXPECT_DOUBLE_EQ(c.points.front().cost, 4);
  EXPECT_DOUBLE_EQ(c.points[2].cost, 22);
  EXPECT_DOUBLE_EQ(c.points.back().cost, 40);
}

TEST(CalibrateTest, ThresholdHitsShareOnHeldOutScores) {
  // Scores from one distribution: calibrate on the first half, check the share on the second half.
  std::vector<double> calib, held;
  std::uint64_t x = 12345;
  for (int i = 0; i < 20000; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const double u = static_cast<double>(x >> 11) / 9007199254740992.0;
    (i % 2 ? held : calib).push_back(u * u);  // skewed, like router scores
  }
  for (double share : {0.1, 0.3, 0.5, 0.8}) {
    const double t = threshold_for_share(calib, share);
    EXPECT_NEAR(share_at(calib, t), share, 1e-3);
    EXPECT_NEAR(share_at(held, t), share, 0.01) << share;
  }
}

TEST(CalibrateTest, EdgeSharesAndTies) {
  const std::vector<double> s = {0.2, 0.2, 0.2, 0.9};
  EXPECT_DOUBLE_EQ(share_at(s, threshold_for_share(s, 0.0)), 0.0);
  EXPECT_DOUBLE_EQ(share_at(s, threshold_for_share(s, 1.0)), 1.0);
  EXPECT_DOUBLE_EQ(share_at(s, threshold_for_share(s, 0.25)), 0.25);
}

TEST(CalibrateTest, OnlineCalibratorFollowsDrift) {
  OnlineCalibrator cal(0.3, 0.5, 1000, 50);
  std::uint64_t x = 7;
  auto next = [&] {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>(x >> 11) / 9007199254740992.0;
  };
  for (int i = 0; i < 2000; ++i) cal.observe(next());  // uniform on [0,1): threshold -> 0.7
  EXPECT_NEAR(cal.threshold(), 0.7, 0.05);
  for (int i = 0; i < 2000; ++i) cal.observe(0.5 * next());  // traffic drifts down: threshold -> 0.35
  EXPECT_NEAR(cal.threshold(), 0.35, 0.03);
  EXPECT_EQ(cal.observed(), 4000u);
}

}  // namespace
}  // namespace sy::learn

#include "switchyard/learn/cascade.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace sy::learn {
namespace {

// Four prompts. The weak model is right on 0 and 1, the strong one on 0, 2 and 3 (qw = 0.5, qs = 0.75).
// A weak call costs $1, a strong call $10.
OutcomeTable pair_table() {
  OutcomeTable t;
  t.weak_quality = {1, 1, 0, 0};
  t.strong_quality = {1, 0, 1, 1};
  t.weak_cost = {1, 1, 1, 1};
  t.strong_cost = {10, 10, 10, 10};
  t.weak_in = {100, 100, 100, 100};
  t.weak_out = {50, 50, 50, 50};
  t.strong_in = {100, 100, 100, 100};
  t.strong_out = {40, 40, 40, 40};
  return t;
}

// Escalation scores (1 - P(cheap answer correct)) that rank the two wrong cheap answers first.
const std::vector<double> kScores = {0.1, 0.2, 0.9, 0.8};

TEST(CascadeTest, EscalationPaysBothCalls) {
  OutcomeTable c = cascade_outcomes(pair_table());
  EXPECT_EQ(c.strong_cost, (std::vector<double>{11, 11, 11, 11}));
  EXPECT_EQ(c.weak_cost, (std::vector<double>{1, 1, 1, 1}));
  EXPECT_EQ(c.strong_in, (std::vector<double>{200, 200, 200, 200}));
  EXPECT_EQ(c.strong_out, (std::vector<double>{90, 90, 90, 90}));
  EXPECT_EQ(c.strong_quality, pair_table().strong_quality);
}

TEST(CascadeTest, ProtocolCurveMatchesHandComputation) {
  OutcomeTable c = cascade_outcomes(pair_table());
  RoutingCurve curve = evaluate_router(kScores, c.view(), 4);
  // Edges at the quantiles of {.1,.2,.8,.9}: .1, .175, .5, .825, .9 (last strict). Points by share:
  // (0, .5, $4), (.25, .75, $14), (.5, 1.0, $24), (.75, .75, $34), (1, .75, $44).
  ASSERT_EQ(curve.points.size(), 5u);
  const double share[] = {0, 0.25, 0.5, 0.75, 1};
  const double acc[] = {0.5, 0.75, 1.0, 0.75, 0.75};
  const double cost[] = {4, 14, 24, 34, 44};
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_DOUBLE_EQ(curve.points[i].strong_share, share[i]) << i;
    EXPECT_DOUBLE_EQ(curve.points[i].accuracy, acc[i]) << i;
    EXPECT_DOUBLE_EQ(curve.points[i].cost, cost[i]) << i;
  }
  // AUC = .25 * (.625 + .875 + .875 + .75) = .78125; APGR = (.78125 - .5) / .25.
  EXPECT_NEAR(curve.apgr, 1.125, 1e-12);
  // Half the gap (accuracy .625) is reached halfway to the first escalation.
  EXPECT_NEAR(cpt(curve, 0.5), 0.125, 1e-12);
}

TEST(CascadeTest, SweepVisitsEveryDistinctThreshold) {
  OutcomeTable c = cascade_outcomes(pair_table());
  const std::vector<double> scores = {0.1, 0.8, 0.8, 0.3};  // a tie escalates two prompts at once
  auto sweep = sweep_thresholds(scores, c.view());
  ASSERT_EQ(sweep.size(), 4u);
  EXPECT_TRUE(std::isinf(sweep[0].threshold));
  EXPECT_DOUBLE_EQ(sweep[0].accuracy, 0.5);
  EXPECT_DOUBLE_EQ(sweep[0].cost, 4);
  EXPECT_DOUBLE_EQ(sweep[1].threshold, 0.8);
  EXPECT_DOUBLE_EQ(sweep[1].strong_share, 0.5);
  EXPECT_DOUBLE_EQ(sweep[1].accuracy, 0.5);  // prompts 1 (-1: strong wrong) and 2 (+1) escalated together
  EXPECT_DOUBLE_EQ(sweep[1].cost, 24);
  EXPECT_DOUBLE_EQ(sweep[1].input_tokens, 2 * 100 + 2 * 200);
  EXPECT_DOUBLE_EQ(sweep[2].strong_share, 0.75);
  EXPECT_DOUBLE_EQ(sweep[2].accuracy, 0.75);
  EXPECT_DOUBLE_EQ(sweep[3].strong_share, 1.0);
  EXPECT_DOUBLE_EQ(sweep[3].accuracy, 0.75);
  EXPECT_DOUBLE_EQ(sweep[3].cost, 44);
}

TEST(CascadeTest, CheapestPointReachingATarget) {
  OutcomeTable c = cascade_outcomes(pair_table());
  auto sweep = sweep_thresholds(kScores, c.view());
  // Strong-model accuracy 0.75 minus 0 points: one escalation suffices; 1.0 needs two; more is never reached.
  auto p = cheapest_reaching(sweep, 0.75);
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(p->strong_share, 0.25);
  EXPECT_DOUBLE_EQ(p->cost, 14);
  EXPECT_DOUBLE_EQ(p->threshold, 0.9);
  // Cost ratio versus always-strong ($40): 14 / 40, the cheap call counted on every prompt.
  EXPECT_DOUBLE_EQ(p->cost / 40.0, 0.35);
  p = cheapest_reaching(sweep, 1.0);
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(p->strong_share, 0.5);
  EXPECT_FALSE(cheapest_reaching(sweep, 1.01));
  EXPECT_TRUE(sweep_thresholds({}, c.view()).empty());
}

}  // namespace
}  // namespace sy::learn

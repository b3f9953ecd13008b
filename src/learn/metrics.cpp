#include "switchyard/learn/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace sy::learn {
namespace {

double at(std::span<const double> v, std::size_t i) { return v.empty() ? 0.0 : v[i]; }

/// Totals over the prompts for one routing decision per prompt.
OperatingPoint point_for(std::span<const double> scores, const PairOutcomes& d, double threshold, bool strict) {
  OperatingPoint p;
  p.threshold = threshold;
  const std::size_t n = scores.size();
  double strong = 0, acc = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const bool s = strict ? scores[i] > threshold : scores[i] >= threshold;
    if (s) {
      ++strong;
      acc += d.strong_quality[i];
      p.cost += at(d.strong_cost, i);
      p.input_tokens += at(d.strong_in, i);
      p.output_tokens += at(d.strong_out, i);
    } else {
      acc += d.weak_quality[i];
      p.cost += at(d.weak_cost, i);
      p.input_tokens += at(d.weak_in, i);
      p.output_tokens += at(d.weak_out, i);
    }
  }
  p.strong_share = strong / static_cast<double>(n);
  p.accuracy = acc / static_cast<double>(n);
  return p;
}

void sort_points(std::vector<OperatingPoint>& pts) {
  std::stable_sort(pts.begin(), pts.end(), [](const OperatingPoint& a, const OperatingPoint& b) {
    return a.strong_share < b.strong_share;
  });
}

void set_accuracies(const PairOutcomes& d, RoutingCurve& c) {
  double w = 0, s = 0;
  for (std::size_t i = 0; i < d.weak_quality.size(); ++i) {
    w += d.weak_quality[i];
    s += d.strong_quality[i];
  }
  const double n = static_cast<double>(std::max<std::size_t>(d.weak_quality.size(), 1));
  c.weak_accuracy = w / n;
  c.strong_accuracy = s / n;
}

}  // namespace

double quantile_sorted(std::span<const double> sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

double apgr(std::span<const OperatingPoint> pts, double qw, double qs) {
  if (pts.size() < 2) return 0;
  double auc = 0;
  for (std::size_t i = 0; i + 1 < pts.size(); ++i)
    auc += (pts[i + 1].strong_share - pts[i].strong_share) * 0.5 * (pts[i + 1].accuracy + pts[i].accuracy);
  const double span = pts.back().strong_share - pts.front().strong_share;
  if (span <= 0 || qs == qw) return 0;
  return (auc - qw * span) / ((qs - qw) * span);
}

RoutingCurve evaluate_router(std::span<const double> scores, const PairOutcomes& d, int edges) {
  RoutingCurve c;
  set_accuracies(d, c);
  if (scores.empty()) return c;
  std::vector<double> sorted(scores.begin(), scores.end());
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i <= edges; ++i) {
    const double edge = quantile_sorted(sorted, static_cast<double>(i) / edges);
    c.points.push_back(point_for(scores, d, edge, i == edges));
  }
  sort_points(c.points);
  c.apgr = apgr(c.points, c.weak_accuracy, c.strong_accuracy);
  return c;
}

double cpt(const RoutingCurve& c, double x) {
  const double target = c.weak_accuracy + x * (c.strong_accuracy - c.weak_accuracy);
  const auto& p = c.points;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i].accuracy + 1e-12 < target) continue;
    if (i == 0) return p[0].strong_share;
    const double da = p[i].accuracy - p[i - 1].accuracy;
    if (da <= 0) return p[i].strong_share;
    return p[i - 1].strong_share + (target - p[i - 1].accuracy) / da * (p[i].strong_share - p[i - 1].strong_share);
  }
  return 1.0;
}

double mean_cpt(std::span<const RoutingCurve> curves, double x) {
  if (curves.empty()) return 0;
  double s = 0;
  for (const RoutingCurve& c : curves) s += cpt(c, x);
  return s / static_cast<double>(curves.size());
}

RoutingCurve oracle_curve(const PairOutcomes& d) {
  // Oracle scores: 2 strong-only right, 1 same outcome, 0 weak-only right. Within a class the order is
  // arbitrary, so each segment between class boundaries is linear in expectation.
  const std::size_t n = d.weak_quality.size();
  std::vector<double> scores(n);
  std::size_t n2 = 0, n1 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float gap = d.strong_quality[i] - d.weak_quality[i];
    scores[i] = gap > 0 ? 2.0 : gap < 0 ? 0.0 : 1.0;
    n2 += scores[i] == 2.0;
    n1 += scores[i] == 1.0;
  }
  RoutingCurve c;
  set_accuracies(d, c);
  if (n == 0) return c;
  for (double t : {3.0, 2.0, 1.0, 0.0}) c.points.push_back(point_for(scores, d, t, false));
  sort_points(c.points);
  c.apgr = apgr(c.points, c.weak_accuracy, c.strong_accuracy);
  return c;
}

RoutingCurve random_curve(const PairOutcomes& d, int seeds, std::uint64_t seed, int edges) {
  RoutingCurve mean;
  set_accuracies(d, mean);
  const std::size_t n = d.weak_quality.size();
  std::vector<double> scores(n);
  double apgr_sum = 0;
  for (int s = 0; s < seeds; ++s) {
    std::mt19937_64 rng(seed + static_cast<std::uint64_t>(s));
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (double& v : scores) v = u(rng);
    RoutingCurve c = evaluate_router(scores, d, edges);
    apgr_sum += c.apgr;
    if (mean.points.empty()) mean.points.assign(c.points.size(), OperatingPoint{});
    for (std::size_t i = 0; i < c.points.size(); ++i) {
      OperatingPoint& m = mean.points[i];
      const OperatingPoint& p = c.points[i];
      m.threshold += p.threshold / seeds;
      m.strong_share += p.strong_share / seeds;
      m.accuracy += p.accuracy / seeds;
      m.cost += p.cost / seeds;
      m.input_tokens += p.input_tokens / seeds;
      m.output_tokens += p.output_tokens / seeds;
    }
  }
  mean.apgr = seeds > 0 ? apgr_sum / seeds : 0;
  return mean;
}

}  // namespace sy::learn

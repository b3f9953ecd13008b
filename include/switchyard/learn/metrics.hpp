#pragma once
/// Offline routing metrics of the RouteLLM protocol (see shared/notes/routing-eval.md): operating points
/// at the quantile edges of a router's scores, APGR, CPT, and the random and oracle references. Pure
/// functions over spans; thread-safe.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace sy::learn {

/// One threshold of a router on an evaluation set.
struct OperatingPoint {
  double threshold = 0;     ///< route strong when score >= threshold (last edge: score > threshold)
  double strong_share = 0;  ///< fraction of prompts sent to the strong model
  double accuracy = 0;      ///< mean quality of the chosen model
  double cost = 0;          ///< total USD over the evaluation set
  double input_tokens = 0;  ///< total prompt tokens sent (both models)
  double output_tokens = 0; ///< total answer tokens received (both models)
};

/// Per-prompt outcome of the two models: quality (1 = right) and the cost of sending it there.
struct PairOutcomes {
  std::span<const float> weak_quality, strong_quality;
  std::span<const double> weak_cost, strong_cost;              ///< USD; may be empty (cost 0)
  std::span<const double> weak_in, weak_out, strong_in, strong_out;  ///< token counts; may be empty
};

struct RoutingCurve {
  std::vector<OperatingPoint> points;  ///< sorted by strong_share ascending
  double weak_accuracy = 0, strong_accuracy = 0;
  double apgr = 0;
};

/// The RouteLLM protocol: thresholds at the `edges`+1 quantile edges of `scores` (numpy-style linear
/// interpolation), APGR by the trapezoid rule over the covered strong-share span.
RoutingCurve evaluate_router(std::span<const double> scores, const PairOutcomes& data, int edges = 10);

/// Share of strong calls needed to recover `gap_fraction` (0.5 for CPT(50%)) of the gap between the weak
/// and strong accuracy, interpolated linearly along the points. 1.0 when the curve never reaches it.
double cpt(const RoutingCurve& curve, double gap_fraction);

/// APGR of an arbitrary curve (points sorted by share).
double apgr(std::span<const OperatingPoint> points, double weak_accuracy, double strong_accuracy);

/// The optimal router: prompts only the strong model gets right go first, then prompts where the two
/// agree, then prompts only the weak model gets right. Its curve is exactly piecewise linear through
/// 4 points (ties broken uniformly at random, in expectation).
RoutingCurve oracle_curve(const PairOutcomes& data);

/// Uniform random scores, averaged over `seeds` seeds (points averaged edge by edge).
RoutingCurve random_curve(const PairOutcomes& data, int seeds = 10, std::uint64_t seed = 1, int edges = 10);

/// Mean over `curves` of cpt(curve, gap_fraction).
double mean_cpt(std::span<const RoutingCurve> curves, double gap_fraction);

/// numpy.quantile(sorted, q) with linear interpolation; `sorted` ascending and non-empty.
double quantile_sorted(std::span<const double> sorted, double q);

}  // namespace sy::learn

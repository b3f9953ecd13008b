#include "switchyard/learn/cascade.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace sy::learn {

OutcomeTable cascade_outcomes(const OutcomeTable& pair) {
  OutcomeTable c = pair;
  auto add = [](std::vector<double>& strong, const std::vector<double>& weak) {
    for (std::size_t i = 0; i < strong.size() && i < weak.size(); ++i) strong[i] += weak[i];
  };
  add(c.strong_cost, pair.weak_cost);
  add(c.strong_in, pair.weak_in);
  add(c.strong_out, pair.weak_out);
  return c;
}

std::vector<OperatingPoint> sweep_thresholds(std::span<const double> scores, const PairOutcomes& d) {
  const std::size_t n = scores.size();
  std::vector<OperatingPoint> pts;
  if (n == 0) return pts;
  auto at = [](std::span<const double> v, std::size_t i) { return v.empty() ? 0.0 : v[i]; };
  // Start from "all weak" and move prompts to strong in order of decreasing score.
  OperatingPoint p;
  p.threshold = std::numeric_limits<double>::infinity();
  double acc = 0;
  for (std::size_t i = 0; i < n; ++i) {
    acc += d.weak_quality[i];
    p.cost += at(d.weak_cost, i);
    p.input_tokens += at(d.weak_in, i);
    p.output_tokens += at(d.weak_out, i);
  }
  const double nn = static_cast<double>(n);
  p.accuracy = acc / nn;
  pts.push_back(p);
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] > scores[b]; });
  std::size_t strong = 0;
  for (std::size_t k = 0; k < n;) {
    const double t = scores[order[k]];
    for (; k < n && scores[order[k]] == t; ++k) {
      const std::size_t i = order[k];
      acc += d.strong_quality[i] - d.weak_quality[i];
      p.cost += at(d.strong_cost, i) - at(d.weak_cost, i);
      p.input_tokens += at(d.strong_in, i) - at(d.weak_in, i);
      p.output_tokens += at(d.strong_out, i) - at(d.weak_out, i);
      ++strong;
    }
    p.threshold = t;
    p.strong_share = static_cast<double>(strong) / nn;
    p.accuracy = acc / nn;
    pts.push_back(p);
  }
  return pts;
}

std::optional<OperatingPoint> cheapest_reaching(std::span<const OperatingPoint> sweep, double target) {
  std::optional<OperatingPoint> best;
  for (const OperatingPoint& p : sweep) {
    if (p.accuracy + 1e-12 < target) continue;
    if (!best || p.strong_share < best->strong_share) best = p;
  }
  return best;
}

Result<AnswerCrossValidation> cross_validate_answer_scorer(const Dataset& data, int model,
                                                           std::span<const AnswerRawFeatures> raw_in,
                                                           const AnswerScorerOptions& opts,
                                                           const std::vector<std::vector<std::size_t>>& folds,
                                                           const Progress& progress) {
  std::vector<AnswerRawFeatures> own;
  if (raw_in.empty()) {
    own = extract_answer_features(data, model, opts.features);
    raw_in = own;
  }
  AnswerCrossValidation cv;
  cv.folds = folds;
  cv.p_correct.assign(data.examples.size(), std::numeric_limits<double>::quiet_NaN());
  const std::vector<std::size_t> usable = answer_rows(data, model);
  for (std::size_t f = 0; f < folds.size(); ++f) {
    std::vector<std::size_t> train;
    for (std::size_t g = 0; g < folds.size(); ++g)
      if (g != f) train.insert(train.end(), folds[g].begin(), folds[g].end());
    std::sort(train.begin(), train.end());
    const double base = static_cast<double>(f) / static_cast<double>(folds.size());
    const double step = 1.0 / static_cast<double>(folds.size());
    auto scorer = train_answer_scorer(data, model, train, raw_in, opts, [&](std::string_view stage, double x) {
      if (progress) progress(stage, base + step * x);
    });
    if (!scorer) return std::move(scorer).error();
    for (std::size_t r : folds[f])
      if (std::binary_search(usable.begin(), usable.end(), r)) cv.p_correct[r] = 1.0 / (1.0 + std::exp(-(*scorer)->logit(raw_in[r])));
  }
  if (progress) progress("answer scorer cv", 1.0);
  return cv;
}

}  // namespace sy::learn

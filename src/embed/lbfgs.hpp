#pragma once
// L-BFGS with a backtracking (Armijo) line search over float parameters, dot products accumulated in
// double. Deterministic: no threads, no randomness. Private to sy_embed (the semantic head); the same
// recipe as src/learn's binary logistic fit, generalised to any smooth objective.
#include <cstddef>
#include <functional>
#include <vector>

namespace sy::embed::detail {

struct LbfgsOptions {
  int max_iterations = 300;
  double tolerance = 1e-4;  // stop when max |gradient| falls below this times its value at the start
  int history = 6;
  double min_relative_decrease = 1e-9;  // stop when an accepted step lowers the loss by less than this
};

struct LbfgsResult {
  int iterations = 0;
  double loss = 0;
};

/// Objective: returns f(w) and writes its gradient into g (same size as w).
using Objective = std::function<double(const std::vector<float>& w, std::vector<float>& g)>;

/// Minimises `f` starting from `w` (updated in place).
LbfgsResult minimize_lbfgs(const Objective& f, std::vector<float>& w, const LbfgsOptions& opts,
                           const std::function<void(int iteration)>& on_iteration = {});

}  // namespace sy::embed::detail

#pragma once
/// L-BFGS with a backtracking (Armijo) line search, for the offline trainers (the learned router's logistic
/// heads, the semantic stage's head). Parameters are float or double; dot products are accumulated in
/// double. Deterministic: no threads, no randomness.
#include <cstddef>
#include <functional>
#include <vector>

namespace sy::optimize {

struct LbfgsOptions {
  int max_iterations = 300;
  /// Stop when max |gradient| is at most this; with `relative_tolerance`, at most this times its value
  /// at the start.
  double tolerance = 1e-6;
  bool relative_tolerance = false;
  int history = 8;                       ///< correction pairs kept
  double min_relative_decrease = 1e-10;  ///< stop when an accepted step lowers the loss by less than this
};

struct LbfgsResult {
  int iterations = 0;  ///< steps taken
  double loss = 0;     ///< the objective at the returned point
};

/// Returns f(w) and writes its gradient into g (the size of w).
template <class T>
using Objective = std::function<double(const std::vector<T>& w, std::vector<T>& g)>;

/// Minimises `f` from `w` (updated in place). `on_iteration(i)` is called before each step, for progress.
template <class T>
LbfgsResult minimize_lbfgs(const Objective<T>& f, std::vector<T>& w, const LbfgsOptions& opts,
                           const std::function<void(int iteration)>& on_iteration = {});

extern template LbfgsResult minimize_lbfgs<float>(const Objective<float>&, std::vector<float>&, const LbfgsOptions&,
                                                  const std::function<void(int)>&);
extern template LbfgsResult minimize_lbfgs<double>(const Objective<double>&, std::vector<double>&, const LbfgsOptions&,
                                                   const std::function<void(int)>&);

}  // namespace sy::optimize

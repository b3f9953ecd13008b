#include "switchyard/core/lbfgs.hpp"

#include <algorithm>
#include <cmath>
#include <deque>

namespace sy::optimize {
namespace {

template <class T>
double dot(const std::vector<T>& a, const std::vector<T>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

template <class T>
double max_abs(const std::vector<T>& v) {
  double m = 0;
  for (T x : v) m = std::max(m, static_cast<double>(std::abs(x)));
  return m;
}

}  // namespace

template <class T>
LbfgsResult minimize_lbfgs(const Objective<T>& f, std::vector<T>& w, const LbfgsOptions& opts,
                           const std::function<void(int)>& on_iteration) {
  const std::size_t p = w.size();
  const std::size_t history = static_cast<std::size_t>(std::max(1, opts.history));
  std::vector<T> g(p), w_new(p), g_new(p), d(p);
  double loss = f(w, g);
  std::deque<std::vector<T>> s_hist, y_hist;
  std::deque<double> rho_hist;
  std::vector<double> alpha(history);
  const double stop_gradient = opts.relative_tolerance ? opts.tolerance * max_abs(g) : opts.tolerance;
  int it = 0;
  for (; it < opts.max_iterations; ++it) {
    if (on_iteration) on_iteration(it);
    if (max_abs(g) <= stop_gradient) break;
    // Two-loop recursion: d = -H g.
    d = g;
    for (std::size_t k = s_hist.size(); k-- > 0;) {
      alpha[k] = rho_hist[k] * dot(s_hist[k], d);
      const T a = static_cast<T>(alpha[k]);
      const std::vector<T>& yk = y_hist[k];
      for (std::size_t j = 0; j < p; ++j) d[j] -= a * yk[j];
    }
    const double gamma = !s_hist.empty() ? dot(s_hist.back(), y_hist.back()) / dot(y_hist.back(), y_hist.back())
                                         : 1.0 / std::max(1e-12, std::sqrt(dot(g, g)));
    for (T& v : d) v = static_cast<T>(v * gamma);
    for (std::size_t k = 0; k < s_hist.size(); ++k) {
      const double beta = rho_hist[k] * dot(y_hist[k], d);
      const T c = static_cast<T>(alpha[k] - beta);
      const std::vector<T>& sk = s_hist[k];
      for (std::size_t j = 0; j < p; ++j) d[j] += sk[j] * c;
    }
    for (T& v : d) v = -v;
    double slope = dot(g, d);
    if (slope >= 0) {  // not a descent direction: restart from steepest descent
      s_hist.clear();
      y_hist.clear();
      rho_hist.clear();
      for (std::size_t j = 0; j < p; ++j) d[j] = -g[j];
      slope = dot(g, d);
    }
    // Backtracking line search (Armijo).
    double step = 1.0, new_loss = 0;
    bool accepted = false;
    for (int ls = 0; ls < 30; ++ls) {
      const T st = static_cast<T>(step);
      for (std::size_t j = 0; j < p; ++j) w_new[j] = w[j] + st * d[j];
      new_loss = f(w_new, g_new);
      if (std::isfinite(new_loss) && new_loss <= loss + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break;
    std::vector<T> s(p), yv(p);
    for (std::size_t j = 0; j < p; ++j) {
      s[j] = w_new[j] - w[j];
      yv[j] = g_new[j] - g[j];
    }
    const double sy = dot(s, yv);
    const double rel = (loss - new_loss) / std::max(1e-12, std::abs(loss));
    w.swap(w_new);
    g.swap(g_new);
    loss = new_loss;
    if (sy > 1e-12) {
      if (s_hist.size() == history) {
        s_hist.pop_front();
        y_hist.pop_front();
        rho_hist.pop_front();
      }
      s_hist.push_back(std::move(s));
      y_hist.push_back(std::move(yv));
      rho_hist.push_back(1.0 / sy);
    }
    if (rel < opts.min_relative_decrease) {
      ++it;
      break;
    }
  }
  return LbfgsResult{it, loss};
}

template LbfgsResult minimize_lbfgs<float>(const Objective<float>&, std::vector<float>&, const LbfgsOptions&,
                                           const std::function<void(int)>&);
template LbfgsResult minimize_lbfgs<double>(const Objective<double>&, std::vector<double>&, const LbfgsOptions&,
                                            const std::function<void(int)>&);

}  // namespace sy::optimize

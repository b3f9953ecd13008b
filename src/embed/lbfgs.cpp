#include "lbfgs.hpp"

#include <algorithm>
#include <cmath>
#include <deque>

namespace sy::embed::detail {
namespace {

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return s;
}

}  // namespace

LbfgsResult minimize_lbfgs(const Objective& f, std::vector<float>& w, const LbfgsOptions& opts,
                           const std::function<void(int)>& on_iteration) {
  const std::size_t p = w.size();
  const std::size_t history = static_cast<std::size_t>(std::max(1, opts.history));
  std::vector<float> g(p), w_new(p), g_new(p), d(p);
  double loss = f(w, g);
  std::deque<std::vector<float>> s_hist, y_hist;
  std::deque<double> rho_hist;
  std::vector<double> alpha(history);
  auto gmax_of = [&] {
    double m = 0;
    for (float v : g) m = std::max(m, static_cast<double>(std::abs(v)));
    return m;
  };
  const double gmax0 = gmax_of();
  int it = 0;
  for (; it < opts.max_iterations; ++it) {
    if (on_iteration) on_iteration(it);
    if (gmax_of() <= opts.tolerance * gmax0) break;
    // Two-loop recursion: d = -H g.
    d = g;
    for (std::size_t k = s_hist.size(); k-- > 0;) {
      alpha[k] = rho_hist[k] * dot(s_hist[k], d);
      const float a = static_cast<float>(alpha[k]);
      const std::vector<float>& yk = y_hist[k];
      for (std::size_t j = 0; j < p; ++j) d[j] -= a * yk[j];
    }
    double gamma;
    if (!s_hist.empty()) gamma = dot(s_hist.back(), y_hist.back()) / dot(y_hist.back(), y_hist.back());
    else gamma = 1.0 / std::max(1e-12, std::sqrt(dot(g, g)));
    for (float& v : d) v = static_cast<float>(v * gamma);
    for (std::size_t k = 0; k < s_hist.size(); ++k) {
      const double beta = rho_hist[k] * dot(y_hist[k], d);
      const float c = static_cast<float>(alpha[k] - beta);
      const std::vector<float>& sk = s_hist[k];
      for (std::size_t j = 0; j < p; ++j) d[j] += c * sk[j];
    }
    for (float& v : d) v = -v;
    double slope = dot(g, d);
    if (slope >= 0) {  // not a descent direction: restart from steepest descent
      s_hist.clear();
      y_hist.clear();
      rho_hist.clear();
      for (std::size_t j = 0; j < p; ++j) d[j] = -g[j];
      slope = dot(g, d);
    }
    double step = 1.0, new_loss = 0;
    bool accepted = false;
    for (int ls = 0; ls < 30; ++ls) {
      const float st = static_cast<float>(step);
      for (std::size_t j = 0; j < p; ++j) w_new[j] = w[j] + st * d[j];
      new_loss = f(w_new, g_new);
      if (std::isfinite(new_loss) && new_loss <= loss + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break;
    std::vector<float> s(p), yv(p);
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
      if (s_hist.size() == history) {  // recycle the oldest pair's storage
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

}  // namespace sy::embed::detail

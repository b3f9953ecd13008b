#include "switchyard/learn/boosted_trees.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

namespace sy::learn {
namespace {

inline double sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)); }

double log_loss(double z, double y) {
  // log(1 + e^z) - y z, computed without overflow.
  const double softplus = z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z));
  return softplus - y * z;
}

/// Candidate thresholds of one feature: midpoints between distinct values when there are few, else
/// midpoints between neighbouring quantiles. A row goes right of threshold j when x > t[j].
std::vector<float> thresholds_of(std::vector<float> v, int max_bins) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  std::vector<float> t;
  if (v.size() < 2) return t;
  if (v.size() <= static_cast<std::size_t>(max_bins) + 1) {
    for (std::size_t i = 0; i + 1 < v.size(); ++i) t.push_back(0.5f * (v[i] + v[i + 1]));
    return t;
  }
  for (int q = 1; q <= max_bins; ++q) {
    const std::size_t i = static_cast<std::size_t>(q) * (v.size() - 1) / static_cast<std::size_t>(max_bins + 1);
    const float m = 0.5f * (v[i] + v[i + 1]);
    if (t.empty() || m > t.back()) t.push_back(m);
  }
  return t;
}

}  // namespace

BoostedTrees::BoostedTrees(int features, int depth, std::vector<Tree> trees)
    : features_(features), depth_(depth), trees_(std::move(trees)) {}

double BoostedTrees::predict(std::span<const float> x) const {
  double z = 0;
  const std::size_t internal = (std::size_t{1} << depth_) - 1;
  for (const Tree& t : trees_) {
    std::size_t k = 0;
    for (int d = 0; d < depth_; ++d) {
      const std::int32_t f = t.feature[k];
      const bool right = f >= 0 && x[static_cast<std::size_t>(f)] > t.threshold[k];
      k = 2 * k + 1 + (right ? 1 : 0);
    }
    z += t.leaf[k - internal];
  }
  return z;
}

std::string BoostedTrees::to_json() const {
  nlohmann::json j;
  j["features"] = features_;
  j["depth"] = depth_;
  nlohmann::json ts = nlohmann::json::array();
  for (const Tree& t : trees_) ts.push_back({{"f", t.feature}, {"t", t.threshold}, {"v", t.leaf}});
  j["trees"] = std::move(ts);
  return j.dump();
}

Result<BoostedTrees> BoostedTrees::from_json(std::string_view text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    const int features = j.at("features").get<int>();
    const int depth = j.at("depth").get<int>();
    if (features < 0 || depth < 1 || depth > 8) return Error::bad_request("boosted trees: bad features or depth");
    const std::size_t internal = (std::size_t{1} << depth) - 1;
    std::vector<Tree> trees;
    for (const auto& tj : j.at("trees")) {
      Tree t;
      t.feature = tj.at("f").get<std::vector<std::int32_t>>();
      t.threshold = tj.at("t").get<std::vector<float>>();
      t.leaf = tj.at("v").get<std::vector<float>>();
      if (t.feature.size() != internal || t.threshold.size() != internal || t.leaf.size() != internal + 1)
        return Error::bad_request("boosted trees: a tree of the wrong shape");
      for (std::int32_t f : t.feature)
        if (f >= features) return Error::bad_request("boosted trees: feature index out of range");
      trees.push_back(std::move(t));
    }
    return BoostedTrees(features, depth, std::move(trees));
  } catch (const std::exception& e) {
    return Error::bad_request(std::string("boosted trees: ") + e.what());
  }
}

BoostedTrees fit_boosted_trees(const DenseRows& x, std::span<const float> y, std::span<const double> offset,
                               const BoostOptions& opts, const DenseRows* eval_x, std::span<const float> eval_y,
                               std::span<const double> eval_offset, std::vector<double>* per_round_loss) {
  const std::size_t n = x.rows(), nf = x.cols;
  const int depth = std::clamp(opts.depth, 1, 8);
  const std::size_t internal = (std::size_t{1} << depth) - 1;
  // Bins: bin[f][r] = number of thresholds of f below x[r][f]; right of threshold j <=> bin > j.
  std::vector<std::vector<float>> thr(nf);
  std::vector<std::vector<std::uint8_t>> bin(nf, std::vector<std::uint8_t>(n));
  const int max_bins = std::clamp(opts.max_bins, 1, 254);
  for (std::size_t f = 0; f < nf; ++f) {
    std::vector<float> col(n);
    for (std::size_t r = 0; r < n; ++r) col[r] = x.values[r * nf + f];
    thr[f] = thresholds_of(col, max_bins);
    for (std::size_t r = 0; r < n; ++r)
      bin[f][r] = static_cast<std::uint8_t>(std::lower_bound(thr[f].begin(), thr[f].end(), col[r]) - thr[f].begin());
  }
  std::vector<double> z(n), g(n), h(n);
  for (std::size_t r = 0; r < n; ++r) z[r] = offset.empty() ? 0.0 : offset[r];
  const std::size_t ne = eval_x ? eval_x->rows() : 0;
  std::vector<double> ez(ne);
  for (std::size_t r = 0; r < ne; ++r) ez[r] = eval_offset.empty() ? 0.0 : eval_offset[r];
  auto eval_loss = [&] {
    double s = 0;
    for (std::size_t r = 0; r < ne; ++r) s += log_loss(ez[r], eval_y[r]);
    return ne ? s / static_cast<double>(ne) : 0.0;
  };
  if (per_round_loss) per_round_loss->assign(1, eval_loss());

  std::vector<Tree> trees;
  std::vector<std::uint32_t> node(n);
  std::vector<double> hg, hh;
  const double lambda = std::max(opts.l2, 1e-9);
  for (int round = 0; round < opts.rounds; ++round) {
    for (std::size_t r = 0; r < n; ++r) {
      const double p = sigmoid(z[r]);
      g[r] = p - y[r];
      h[r] = std::max(p * (1 - p), 1e-6);
    }
    Tree t;
    t.feature.assign(internal, -1);
    t.threshold.assign(internal, 0.0f);
    t.leaf.assign(internal + 1, 0.0f);
    std::fill(node.begin(), node.end(), 0u);
    for (int d = 0; d < depth; ++d) {
      const std::size_t first = (std::size_t{1} << d) - 1, count = std::size_t{1} << d;
      // Per node of this level, the best split over all features.
      std::vector<double> node_g(count, 0), node_h(count, 0);
      for (std::size_t r = 0; r < n; ++r) {
        node_g[node[r] - first] += g[r];
        node_h[node[r] - first] += h[r];
      }
      std::vector<double> best_gain(count, 1e-9);
      for (std::size_t f = 0; f < nf; ++f) {
        const std::size_t nb = thr[f].size() + 1;
        if (nb < 2) continue;
        hg.assign(count * nb, 0);
        hh.assign(count * nb, 0);
        for (std::size_t r = 0; r < n; ++r) {
          const std::size_t k = (node[r] - first) * nb + bin[f][r];
          hg[k] += g[r];
          hh[k] += h[r];
        }
        for (std::size_t k = 0; k < count; ++k) {
          const double G = node_g[k], H = node_h[k];
          const double parent = G * G / (H + lambda);
          double gl = 0, hl = 0;
          for (std::size_t j = 0; j + 1 < nb; ++j) {
            gl += hg[k * nb + j];
            hl += hh[k * nb + j];
            const double gr = G - gl, hr = H - hl;
            if (hl < opts.min_hessian || hr < opts.min_hessian) continue;
            const double gain = gl * gl / (hl + lambda) + gr * gr / (hr + lambda) - parent;
            if (gain > best_gain[k]) {
              best_gain[k] = gain;
              t.feature[first + k] = static_cast<std::int32_t>(f);
              t.threshold[first + k] = thr[f][j];
            }
          }
        }
      }
      for (std::size_t r = 0; r < n; ++r) {
        const std::uint32_t k = node[r];
        const std::int32_t f = t.feature[k];
        const bool right = f >= 0 && x.values[r * nf + static_cast<std::size_t>(f)] > t.threshold[k];
        node[r] = 2 * k + 1 + (right ? 1u : 0u);
      }
    }
    std::vector<double> lg(internal + 1, 0), lh(internal + 1, 0);
    for (std::size_t r = 0; r < n; ++r) {
      lg[node[r] - internal] += g[r];
      lh[node[r] - internal] += h[r];
    }
    for (std::size_t k = 0; k <= internal; ++k)
      t.leaf[k] = static_cast<float>(-opts.shrinkage * lg[k] / (lh[k] + lambda));
    for (std::size_t r = 0; r < n; ++r) z[r] += t.leaf[node[r] - internal];
    trees.push_back(std::move(t));
    if (per_round_loss) {
      const BoostedTrees one(static_cast<int>(nf), depth, {trees.back()});
      for (std::size_t r = 0; r < ne; ++r) ez[r] += one.predict(eval_x->row(r));
      per_round_loss->push_back(eval_loss());
    }
  }
  return BoostedTrees(static_cast<int>(nf), depth, std::move(trees));
}

BoostedTrees fit_boosted_trees_cv(const DenseRows& x, std::span<const float> y, std::span<const double> offset,
                                  BoostOptions opts, int folds, int* chosen_rounds) {
  const std::size_t n = x.rows(), nf = x.cols;
  folds = std::max(2, folds);
  std::vector<double> total(static_cast<std::size_t>(opts.rounds) + 1, 0.0);
  for (int f = 0; f < folds; ++f) {
    DenseRows tx{nf, {}}, ex{nf, {}};
    std::vector<float> ty, ey;
    std::vector<double> to, eo;
    for (std::size_t r = 0; r < n; ++r) {
      const bool held = static_cast<int>(r % static_cast<std::size_t>(folds)) == f;
      auto row = x.row(r);
      (held ? ex : tx).values.insert((held ? ex : tx).values.end(), row.begin(), row.end());
      (held ? ey : ty).push_back(y[r]);
      (held ? eo : to).push_back(offset.empty() ? 0.0 : offset[r]);
    }
    std::vector<double> loss;
    fit_boosted_trees(tx, ty, to, opts, &ex, ey, eo, &loss);
    for (std::size_t k = 0; k < loss.size() && k < total.size(); ++k) total[k] += loss[k] * static_cast<double>(ey.size());
  }
  const auto best = static_cast<int>(std::min_element(total.begin(), total.end()) - total.begin());
  if (chosen_rounds) *chosen_rounds = best;
  opts.rounds = best;
  return fit_boosted_trees(x, y, offset, opts);
}

}  // namespace sy::learn

#include "switchyard/learn/trainer.hpp"

#include "switchyard/core/lbfgs.hpp"
#include "switchyard/learn/evaluation.hpp"

#include <algorithm>
#include <map>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <unordered_map>

namespace sy::learn {

void Csr::add_row(const SparseVector& v) {
  index.insert(index.end(), v.index.begin(), v.index.end());
  value.insert(value.end(), v.value.begin(), v.value.end());
  row_start.push_back(index.size());
}

namespace {

inline double softplus(double z) { return z > 0 ? z + std::log1p(std::exp(-z)) : std::log1p(std::exp(z)); }
inline double sigmoid(double z) { return z >= 0 ? 1.0 / (1.0 + std::exp(-z)) : std::exp(z) / (1.0 + std::exp(z)); }

/// Objective and gradient of the weighted logistic loss. Parameter vector: weights then bias.
class LogisticObjective {
 public:
  LogisticObjective(const Csr& x, std::size_t dim, std::span<const float> y, std::span<const float> c, double l2)
      : x_(x), dim_(dim), y_(y), c_(c), l2_(l2) {
    total_weight_ = c.empty() ? static_cast<double>(x.rows()) : std::accumulate(c.begin(), c.end(), 0.0);
    if (total_weight_ <= 0) total_weight_ = 1;
  }
  double eval(const std::vector<double>& w, std::vector<double>* grad) const {
    const std::size_t n = x_.rows();
    if (grad) std::fill(grad->begin(), grad->end(), 0.0);
    double loss = 0;
    const double b = w[dim_];
    for (std::size_t i = 0; i < n; ++i) {
      double z = b;
      for (std::size_t k = x_.row_start[i]; k < x_.row_start[i + 1]; ++k) z += w[x_.index[k]] * x_.value[k];
      const double ci = c_.empty() ? 1.0 : c_[i];
      const double yi = y_[i];
      loss += ci * (softplus(z) - yi * z);
      if (grad) {
        const double g = ci * (sigmoid(z) - yi);
        for (std::size_t k = x_.row_start[i]; k < x_.row_start[i + 1]; ++k) (*grad)[x_.index[k]] += g * x_.value[k];
        (*grad)[dim_] += g;
      }
    }
    loss /= total_weight_;
    double reg = 0;
    for (std::size_t j = 0; j < dim_; ++j) reg += w[j] * w[j];
    loss += 0.5 * l2_ * reg;
    if (grad) {
      for (std::size_t j = 0; j < dim_; ++j) (*grad)[j] = (*grad)[j] / total_weight_ + l2_ * w[j];
      (*grad)[dim_] /= total_weight_;
    }
    return loss;
  }

 private:
  const Csr& x_;
  std::size_t dim_;
  std::span<const float> y_, c_;
  double l2_;
  double total_weight_ = 1;
};


}  // namespace

namespace {

LogisticFit fit_compact(const Csr& x, std::size_t dim, std::span<const float> y, std::span<const float> weight,
                        const LogisticOptions& opts) {
  LogisticObjective f(x, dim, y, weight, opts.l2);
  const std::size_t p = dim + 1;
  std::vector<double> w(p, 0.0);
  // Start the bias at the weighted base rate: fewer iterations, same optimum.
  {
    double sy = 0, sc = 0;
    for (std::size_t i = 0; i < y.size(); ++i) {
      double c = weight.empty() ? 1.0 : weight[i];
      sy += c * y[i];
      sc += c;
    }
    double base = sc > 0 ? std::clamp(sy / sc, 1e-6, 1 - 1e-6) : 0.5;
    w[dim] = std::log(base / (1 - base));
  }
  optimize::LbfgsOptions lopt;
  lopt.max_iterations = opts.max_iterations;
  lopt.tolerance = opts.tolerance;
  lopt.history = opts.history;
  const optimize::LbfgsResult res = optimize::minimize_lbfgs<double>(
      [&f](const std::vector<double>& x, std::vector<double>& grad) { return f.eval(x, &grad); }, w, lopt);
  LogisticFit fit;
  fit.weights.resize(dim);
  for (std::size_t j = 0; j < dim; ++j) fit.weights[j] = static_cast<float>(w[j]);
  fit.bias = static_cast<float>(w[dim]);
  fit.iterations = res.iterations;
  fit.loss = res.loss;
  return fit;
}

}  // namespace

LogisticFit fit_logistic(const Csr& x, std::size_t dim, std::span<const float> y, std::span<const float> weight,
                         const LogisticOptions& opts) {
  // Features no training row uses keep weight 0 under L2, so optimise over the used columns only: with
  // 2^18 hash buckets and a few thousand prompts this is most of the work saved.
  std::vector<std::uint32_t> used(x.index.begin(), x.index.end());
  std::sort(used.begin(), used.end());
  used.erase(std::unique(used.begin(), used.end()), used.end());
  Csr compact;
  compact.row_start = x.row_start;
  compact.value = x.value;
  compact.index.resize(x.index.size());
  for (std::size_t k = 0; k < x.index.size(); ++k)
    compact.index[k] = static_cast<std::uint32_t>(std::lower_bound(used.begin(), used.end(), x.index[k]) - used.begin());
  LogisticFit c = fit_compact(compact, used.size(), y, weight, opts);
  LogisticFit fit;
  fit.weights.assign(dim, 0.0f);
  for (std::size_t j = 0; j < used.size(); ++j) fit.weights[used[j]] = c.weights[j];
  fit.bias = c.bias;
  fit.iterations = c.iterations;
  fit.loss = c.loss;
  return fit;
}

int best_model(const Dataset& data) {
  int best = -1;
  double best_q = -1;
  for (std::size_t m = 0; m < data.models.size(); ++m) {
    double s = 0, n = 0;
    for (const Example& e : data.examples) {
      if (std::isnan(e.quality[m])) continue;
      s += e.quality[m];
      ++n;
    }
    double q = n > 0 ? s / n : 0;
    if (q > best_q) {
      best_q = q;
      best = static_cast<int>(m);
    }
  }
  return best;
}

int worst_model(const Dataset& data) {
  int worst = -1;
  double worst_q = 2;
  for (std::size_t m = 0; m < data.models.size(); ++m) {
    double s = 0, n = 0;
    for (const Example& e : data.examples) {
      if (std::isnan(e.quality[m])) continue;
      s += e.quality[m];
      ++n;
    }
    double q = n > 0 ? s / n : 0;
    if (q < worst_q) {
      worst_q = q;
      worst = static_cast<int>(m);
    }
  }
  return worst;
}

namespace {

/// The route target of one row and its weight: weight 0 when a score the label needs is unknown (the
/// weak model's for `weak_wrong`, both otherwise); prompts both models score the same weigh `tie_weight`.
std::pair<float, float> route_target(const Example& e, std::size_t s, std::size_t w, const TrainOptions& opts) {
  const float qs = e.quality[s], qw = e.quality[w];
  const bool known = !std::isnan(qw) && (opts.label == RouteLabel::weak_wrong || !std::isnan(qs));
  if (!known) return {0.5f, 0.0f};
  float y = 0;
  switch (opts.label) {
    case RouteLabel::strong_only: y = qs * (1 - qw); break;
    case RouteLabel::weak_wrong: y = 1 - qw; break;
    case RouteLabel::gap: y = 0.5f * (1 + qs - qw); break;
  }
  const bool tie = qs == qw;
  return {y, (tie ? static_cast<float>(opts.tie_weight) : 1.0f) * e.weight};
}

/// Invariance check on the training rows only (TrainOptions::invariant_agreement): per group (subject,
/// category or file), the sign of the weighted covariance between each standardised dense feature and the
/// route target; a feature whose sign agrees with the pooled sign in less than the given share of the rows
/// (groups of at least 20 rows) gets scale 0. Fewer than two such groups: nothing is dropped.
std::array<float, kDenseFeatures> invariant_dense(const Dataset& data, std::span<const std::size_t> rows,
                                                  std::span<const RawFeatures* const> raw, const FeatureTransform& tf,
                                                  const TrainOptions& opts) {
  std::array<float, kDenseFeatures> inv = tf.dense_inv_std();
  const int si = opts.strong >= 0 ? opts.strong : best_model(data);
  const int wi = opts.weak >= 0 ? opts.weak : worst_model(data);
  if (si < 0 || wi < 0 || si == wi || !tf.config().dense) return inv;
  const auto s = static_cast<std::size_t>(si), w = static_cast<std::size_t>(wi);
  const auto& mean = tf.dense_mean();
  struct Acc {
    double n = 0, sw = 0, sy = 0;
    std::array<double, kDenseFeatures> sz{}, szy{};
  };
  std::map<std::string, Acc> groups;
  Acc all;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const Example& e = data.examples[rows[k]];
    const auto [y, c] = route_target(e, s, w, opts);
    if (c <= 0) continue;
    // Groups: MMLU's four categories (subjects alone are too small for a stable sign), else the row's group.
    const std::string_view tg = topic_group(e.group);
    Acc& g = groups[tg.empty() ? e.group : std::string(tg)];
    for (Acc* a : {&g, &all}) {
      a->n += 1;
      a->sw += c;
      a->sy += c * y;
      for (std::size_t j = 0; j < kDenseFeatures; ++j) {
        const double z = std::clamp((raw[k]->dense[j] - mean[j]) * inv[j], -kDenseClip, kDenseClip);
        a->sz[j] += c * z;
        a->szy[j] += c * z * y;
      }
    }
  }
  auto cov = [](const Acc& a, std::size_t j) { return a.sw > 0 ? a.szy[j] / a.sw - (a.sz[j] / a.sw) * (a.sy / a.sw) : 0.0; };
  std::size_t eligible = 0;
  for (const auto& [name, g] : groups) eligible += g.n >= 20 ? 1 : 0;
  if (eligible < 2) return inv;
  for (std::size_t j = 0; j < kDenseFeatures; ++j) {
    if (inv[j] == 0.0f) continue;
    const double pooled = cov(all, j);
    double agree = 0, total = 0;
    for (const auto& [name, g] : groups) {
      if (g.n < 20) continue;
      total += g.n;
      if (cov(g, j) * pooled > 0) agree += g.n;
    }
    if (total > 0 && agree / total < opts.invariant_agreement) inv[j] = 0.0f;
  }
  return inv;
}

}  // namespace

std::vector<RawFeatures> extract_all(const Dataset& data, const FeatureConfig& config, const Progress& progress) {
  FeatureExtractor fx(config);
  std::vector<RawFeatures> out(data.examples.size());
  std::vector<std::uint32_t> scratch;
  const std::size_t n = out.size();
  for (std::size_t i = 0; i < n; ++i) {
    fx.extract(data.examples[i].prompt, data.examples[i].conversation, out[i], scratch);
    if (progress && (i % 512 == 0 || i + 1 == n)) progress("features", static_cast<double>(i + 1) / static_cast<double>(n));
  }
  return out;
}

namespace {

/// Replaces each target by (1-a)*y + a*rate(group), rates shrunk towards the global mean.
void smooth_by_group(const Dataset& data, std::span<const std::size_t> rows, std::vector<float>& y, double a,
                     double prior) {
  if (a <= 0) return;
  std::unordered_map<std::string_view, std::pair<double, double>> acc;  // group -> (sum, count)
  double total = 0;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    auto& [s, c] = acc[data.examples[rows[k]].group];
    s += y[k];
    c += 1;
    total += y[k];
  }
  if (acc.size() < 2) return;  // one group carries no information beyond the global mean
  const double global = rows.empty() ? 0.5 : total / static_cast<double>(rows.size());
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const std::string_view g = data.examples[rows[k]].group;
    if (g.empty()) continue;
    const auto& [s, c] = acc[g];
    const double rate = (s + prior * global) / (c + prior);
    y[k] = static_cast<float>((1 - a) * y[k] + a * rate);
  }
}

}  // namespace

Result<std::shared_ptr<const LearnedModel>> train_router(const Dataset& data, std::span<const std::size_t> rows_in,
                                                         std::span<const RawFeatures> raw_in, const TrainOptions& opts,
                                                         const Progress& progress) {
  if (data.models.empty()) return Error::bad_request("training data names no models");
  std::vector<std::size_t> all;
  std::span<const std::size_t> rows = rows_in;
  if (rows.empty()) {
    all.resize(data.examples.size());
    std::iota(all.begin(), all.end(), std::size_t{0});
    rows = all;
  }
  if (rows.size() < 2) return Error::bad_request("need at least two training examples");
  std::vector<RawFeatures> own_raw;
  if (raw_in.empty()) {
    own_raw = extract_all(data, opts.features, progress);
    raw_in = own_raw;
  }
  if (raw_in.size() != data.examples.size()) return Error::bad_request("raw features do not match the dataset");

  std::vector<const RawFeatures*> train_raw;
  train_raw.reserve(rows.size());
  for (std::size_t r : rows) train_raw.push_back(&raw_in[r]);
  ModelParts parts;
  parts.transform = FeatureTransform::fit(opts.features, train_raw);
  if (!opts.drop_dense.empty()) {
    std::array<float, kDenseFeatures> inv = parts.transform.dense_inv_std();
    for (const std::string& name : opts.drop_dense) {
      const auto& names = dense_feature_names();
      auto it = std::find(names.begin(), names.end(), name);
      if (it == names.end()) return Error::bad_request("no dense feature '" + name + "'");
      inv[static_cast<std::size_t>(it - names.begin())] = 0.0f;
    }
    parts.transform = FeatureTransform(parts.transform.config(), parts.transform.idf(), parts.transform.dense_mean(), inv);
  }
  if (opts.invariant_agreement > 0 && opts.route_head) {
    auto kept = invariant_dense(data, rows, train_raw, parts.transform, opts);
    parts.transform = FeatureTransform(parts.transform.config(), parts.transform.idf(), parts.transform.dense_mean(), kept);
  }
  const std::size_t dim = parts.transform.dimension();
  Csr x;
  {
    SparseVector v;
    for (const RawFeatures* r : train_raw) {
      parts.transform.apply(*r, v);
      x.add_row(v);
    }
  }
  parts.models = data.models;
  const std::size_t nm = data.models.size();
  parts.strong = opts.strong >= 0 ? opts.strong : best_model(data);
  parts.weak = opts.weak >= 0 ? opts.weak : worst_model(data);
  if (nm < 2 || parts.strong == parts.weak) parts.strong = parts.weak = -1;

  struct Target {
    HeadInfo info;
    std::vector<float> y, c;
  };
  std::vector<Target> targets;
  if (opts.route_head && parts.strong >= 0) {
    Target t;
    t.info.name = "route";
    const auto s = static_cast<std::size_t>(parts.strong), w = static_cast<std::size_t>(parts.weak);
    for (std::size_t r : rows) {
      const auto [y, c] = route_target(data.examples[r], s, w, opts);
      t.y.push_back(y);
      t.c.push_back(c);
    }
    smooth_by_group(data, rows, t.y, opts.group_smoothing, opts.group_prior);
    targets.push_back(std::move(t));
  }
  parts.quality_mean.assign(nm, 0.5);
  for (std::size_t m = 0; m < nm; ++m) {
    double s = 0, n = 0;
    Target t;
    t.info.name = "quality:" + data.models[m];
    t.info.model = static_cast<int>(m);
    for (std::size_t r : rows) {
      const Example& e = data.examples[r];
      float q = e.quality[m];
      // Preference pairs are relative ("A beat B"), not an absolute quality: route head only.
      bool known = !std::isnan(q) && !e.preference;
      t.y.push_back(known ? std::clamp(q, 0.0f, 1.0f) : 0.0f);
      t.c.push_back(known ? e.weight : 0.0f);
      if (known) {
        s += q;
        ++n;
      }
    }
    if (n > 0) parts.quality_mean[m] = s / n;
    if (!opts.quality_heads) continue;
    smooth_by_group(data, rows, t.y, opts.group_smoothing, opts.group_prior);
    targets.push_back(std::move(t));
  }
  if (targets.empty()) return Error::bad_request("nothing to train: no route head and no quality heads");

  LogisticOptions lopts = opts.logistic;
  if (lopts.l2 <= 0) lopts.l2 = 1.0 / static_cast<double>(rows.size());  // sklearn's C = 1
  const std::size_t nh = targets.size();
  parts.weights.assign(dim * nh, 0.0f);
  parts.bias.assign(nh, 0.0f);
  for (std::size_t h = 0; h < nh; ++h) {
    if (progress) progress("fit " + targets[h].info.name, static_cast<double>(h) / static_cast<double>(nh));
    const bool bag = opts.bagging > 1 && targets[h].info.name == "route";
    const int rounds = bag ? opts.bagging : 1;
    std::mt19937_64 rng(opts.seed);
    for (int b = 0; b < rounds; ++b) {
      std::vector<float> c = targets[h].c;
      if (bag) {
        std::poisson_distribution<int> poisson(1.0);
        for (float& v : c) v *= static_cast<float>(poisson(rng));
      }
      LogisticFit fit = fit_logistic(x, dim, targets[h].y, c, lopts);
      const float inv = 1.0f / static_cast<float>(rounds);
      for (std::size_t j = 0; j < dim; ++j) parts.weights[j * nh + h] += inv * fit.weights[j];
      parts.bias[h] += inv * fit.bias;
      if (progress && bag) progress("fit route (bagging)", static_cast<double>(b + 1) / rounds);
    }
    parts.heads.push_back(targets[h].info);
  }
  if (progress) progress("fit", 1.0);
  if (opts.prior_mix <= 0 && opts.shift_quantile <= 0) return LearnedModel::from_parts(std::move(parts));
  // Prior tables and the shift limit, from the training prompts (see ScorePrior).
  auto plain = LearnedModel::from_parts(parts);
  if (!plain) return plain;
  std::vector<float> len, sc, sh;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    len.push_back(static_cast<float>(std::log1p(static_cast<double>(data.examples[rows[k]].prompt.size()))));
    sc.push_back(static_cast<float>((*plain)->model_score(*train_raw[k])));
    sh.push_back(static_cast<float>((*plain)->shift(*train_raw[k])));
  }
  auto percentiles = [](std::vector<float> v) {
    std::sort(v.begin(), v.end());
    std::vector<float> q(101);
    for (std::size_t i = 0; i <= 100; ++i) {
      const double pos = static_cast<double>(i) / 100.0 * static_cast<double>(v.size() - 1);
      const auto lo = static_cast<std::size_t>(pos);
      const std::size_t hi = std::min(lo + 1, v.size() - 1);
      q[i] = static_cast<float>(v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]));
    }
    return q;
  };
  ScorePrior& pr = parts.prior;
  pr.length_q = percentiles(len);
  pr.score_q = percentiles(sc);
  pr.mix = std::clamp(opts.prior_mix, 0.0, 1.0);
  pr.logit_mix = opts.prior_logit_mix;
  pr.fallback = opts.shift_fallback;
  if (opts.shift_quantile > 0) {
    std::sort(sh.begin(), sh.end());
    const auto at = static_cast<std::size_t>(std::clamp(opts.shift_quantile, 0.0, 1.0) * static_cast<double>(sh.size() - 1));
    pr.max_shift = std::max(1e-6, static_cast<double>(sh[at]) * opts.shift_margin);
    pr.shift_quantile = opts.shift_quantile;
  }
  return LearnedModel::from_parts(std::move(parts));
}

}  // namespace sy::learn

#include "switchyard/embed/semantic_mlp.hpp"

#include <algorithm>
#include <cmath>

#include "head_features.hpp"
#include "kernels.hpp"
#include "mlp_objective.hpp"
#include "switchyard/core/lbfgs.hpp"

namespace sy::embed {

namespace {

constexpr std::size_t kMaxRoutes = 65536, kMaxParts = 16, kMaxNameBytes = 4096;
constexpr std::uint64_t kMaxParameters = std::uint64_t{1} << 28;

Error mlp_error(std::string msg) { return Error::make(ErrorKind::internal, "semantic mlp: " + std::move(msg)); }

/// Uniform in [-1, 1) from a splitmix64 stream: the same numbers on every platform.
struct Uniform {
  std::uint64_t state;
  double operator()() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-52 - 1.0;
  }
};

}  // namespace

namespace detail {

double MlpObjective::operator()(const std::vector<float>& w, std::vector<float>& g) {
  const std::size_t n = t_.n, H = l_.hidden, C = l_.classes;
  const float* p = w.data();
  float* gp = g.data();
  // Forward.
  z1_.resize(n * H);
  detail::linear_forward(t_, in_h_, p + l_.w1(), p + l_.b1(), H, z1_.data());
  a_.resize(n * H);
  for (std::size_t i = 0; i < n * H; ++i) a_[i] = std::max(z1_[i], 0.0f);
  z2_.resize(n * C);
  detail::linear_forward(t_, in_s_, p + l_.ws(), p + l_.b2(), C, z2_.data());
  tmp_.resize(n * std::max(H, C));
  kernels::PackedMatrix pw2(p + l_.w2(), H, C, C);
  kernels::gemm(a_.data(), n, H, pw2, nullptr, tmp_.data(), C);
  for (std::size_t i = 0; i < n * C; ++i) z2_[i] += tmp_[i];
  const double loss = detail::softmax_cross_entropy(z2_, t_.y, C);  // z2_ = dLoss/dz2
  // Output layer and linear path.
  at_.resize(H * n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < H; ++j) at_[j * n + i] = a_[i * H + j];
  kernels::PackedMatrix pd2(z2_.data(), n, C, C);
  kernels::gemm(at_.data(), H, n, pd2, nullptr, gp + l_.w2(), C);
  std::fill(gp + l_.b2(), gp + l_.b2() + C, 0.0f);
  for (std::size_t i = 0; i < n; ++i) kernels::axpy(gp + l_.b2(), z2_.data() + i * C, 1.0f, C);
  if (l_.skip_rows > 0) detail::linear_backward(t_, in_s_, z2_.data(), C, gp + l_.ws(), l_.skip_rows, nullptr);
  // Hidden layer: dLoss/dz1 = (dLoss/dz2 W2^T) masked by the active units.
  kernels::PackedMatrix pw2t;
  pw2t.pack_transposed(p + l_.w2(), C, H, C);
  kernels::gemm(z2_.data(), n, C, pw2t, nullptr, tmp_.data(), H);
  for (std::size_t i = 0; i < n * H; ++i) tmp_[i] = z1_[i] > 0.0f ? tmp_[i] : 0.0f;
  detail::linear_backward(t_, in_h_, tmp_.data(), H, gp + l_.w1(), l_.hidden_rows, gp + l_.b1());
  double hidden_reg = detail::add_l2(p + l_.w1(), gp + l_.w1(), l_.hidden_rows * H, hidden_l2_);
  hidden_reg += detail::add_l2(p + l_.w2(), gp + l_.w2(), H * C, hidden_l2_);
  const double skip_reg = detail::add_l2(p + l_.ws(), gp + l_.ws(), l_.skip_rows * C, l2_);
  return loss + 0.5 * hidden_l2_ * hidden_reg + 0.5 * l2_ * skip_reg;
}

}  // namespace detail

using detail::MlpLayout;
using detail::MlpObjective;

struct MlpBuilder {
  static MlpLayout layout(const SemanticMlp& m) {
    return MlpLayout{m.hidden_rows_, m.hidden_, m.routes_.size(), m.skip_rows_};
  }
  static detail::Inputs hidden_inputs(const SemanticMlp& m) { return {true, m.hidden_sparse_}; }
  static detail::Inputs skip_inputs(const SemanticMlp& m) { return {m.skip_dense_, m.skip_sparse_}; }
};

SemanticMlp::SemanticMlp() = default;
SemanticMlp::~SemanticMlp() = default;

Result<std::shared_ptr<const SemanticMlp>> SemanticMlp::train(std::vector<std::string> routes,
                                                              const std::vector<PartLayout>& layout,
                                                              const std::vector<std::vector<Embedding>>& examples,
                                                              const MlpOptions& options) {
  if (auto s = detail::check_training_set(routes, layout, examples, kMaxRoutes, kMaxParts, kMaxNameBytes); !s)
    return s.error();
  if (!(options.l2 >= 0) || !std::isfinite(options.l2)) return mlp_error("l2 must be >= 0");
  const double hidden_l2 = options.hidden_l2 < 0 ? options.l2 : options.hidden_l2;
  if (!std::isfinite(hidden_l2)) return mlp_error("hidden_l2 must be finite");
  if (options.hidden == 0 || options.hidden > (1u << 16)) return mlp_error("hidden must be in [1, 65536]");
  if (!(options.init_scale > 0) || !std::isfinite(options.init_scale)) return mlp_error("init_scale must be > 0");

  auto m = std::make_shared<SemanticMlp>();
  m->routes_ = std::move(routes);
  m->layout_ = layout;
  auto features = detail::fit_parts(m->parts_, layout, options.dense_scale, options.sparse_scale, 0, examples);
  if (!features) return features.error();
  m->n_features_ = *features;
  m->n_dense_ = detail::dense_features(m->parts_);
  m->hidden_ = options.hidden;
  m->hidden_sparse_ = options.hidden_sparse;
  m->skip_dense_ = options.skip_dense;
  m->skip_sparse_ = options.skip_sparse;

  detail::TrainData t = detail::training_rows(m->parts_, examples);
  const detail::Inputs in_h = MlpBuilder::hidden_inputs(*m), in_s = MlpBuilder::skip_inputs(*m);
  m->hidden_rows_ = in_h.rows(t, m->n_features_);
  m->skip_rows_ = in_s.rows(t, m->n_features_);
  if (m->hidden_rows_ == 0) return mlp_error("no features enter the hidden layer (the embedding has no dense part)");
  const MlpLayout l = MlpBuilder::layout(*m);
  if (l.size() > kMaxParameters) return mlp_error("model too large (" + std::to_string(l.size()) + " parameters)");

  // W1 uniform with the hidden pre-activations' standard deviation ~init_scale on the training rows; the rest 0.
  double sq = 0;
  for (std::size_t i = 0; i < t.n; ++i) {
    for (std::size_t j = 0; j < t.dense; ++j) sq += static_cast<double>(t.xd[i * t.dense + j]) * t.xd[i * t.dense + j];
    if (in_h.sparse)
      for (std::size_t k = t.start[i]; k < t.start[i + 1]; ++k) sq += static_cast<double>(t.val[k]) * t.val[k];
  }
  const double rms = std::sqrt(sq / static_cast<double>(std::max<std::size_t>(1, t.n)));
  const double a = options.init_scale * std::sqrt(3.0) / std::max(rms, 1e-6);
  std::vector<float> w(l.size(), 0.0f);
  Uniform u{options.seed};
  for (std::size_t i = 0; i < l.hidden_rows * l.hidden; ++i) w[l.w1() + i] = static_cast<float>(a * u());

  optimize::LbfgsOptions lopt;
  lopt.max_iterations = options.max_iterations;
  lopt.tolerance = options.tolerance;
  lopt.relative_tolerance = true;
  lopt.history = options.history;
  lopt.min_relative_decrease = 1e-9;
  MlpObjective f(t, l, in_h, in_s, options.l2, hidden_l2);
  const optimize::LbfgsResult res = optimize::minimize_lbfgs<float>(
      [&](const std::vector<float>& x, std::vector<float>& g) { return f(x, g); }, w, lopt, [&](int it) {
        if (options.progress && it % 10 == 0)
          options.progress("fit", static_cast<double>(it) / std::max(1, options.max_iterations));
      });
  m->iterations_ = res.iterations;
  m->loss_ = res.loss;
  m->params_ = std::move(w);
  if (options.progress) options.progress("done", 1.0);
  return std::shared_ptr<const SemanticMlp>(std::move(m));
}

void SemanticMlp::logits(const Embedding& query, std::span<float> out) const {
  const std::size_t C = routes_.size(), H = hidden_;
  if (out.size() < C) return;
  if (!query.matches(layout_)) {
    std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(C), 0.0f);
    return;
  }
  const MlpLayout l = MlpBuilder::layout(*this);
  const float* p = params_.data();
  std::vector<float> h(p + l.b1(), p + l.b1() + H);
  detail::linear_apply(parts_, n_dense_, MlpBuilder::hidden_inputs(*this), query, p + l.w1(), H, h.data());
  std::copy(p + l.b2(), p + l.b2() + C, out.begin());
  for (std::size_t j = 0; j < H; ++j)
    if (h[j] > 0.0f) kernels::axpy(out.data(), p + l.w2() + j * C, h[j], C);
  detail::linear_apply(parts_, n_dense_, MlpBuilder::skip_inputs(*this), query, p + l.ws(), C, out.data());
}

std::vector<float> SemanticMlp::probabilities(const Embedding& query, std::size_t& best) const {
  std::vector<float> z(routes_.size(), 0.0f);
  logits(query, z);
  kernels::softmax(z.data(), z.size());
  best = static_cast<std::size_t>(std::max_element(z.begin(), z.end()) - z.begin());
  return z;
}

std::size_t SemanticMlp::memory_bytes() const {
  std::size_t n = sizeof(*this) + params_.capacity() * 4;
  for (const detail::FeaturePart& p : parts_) n += p.memory_bytes();
  for (const auto& r : routes_) n += sizeof(std::string) + r.capacity();
  return n;
}

}  // namespace sy::embed

#include "switchyard/embed/semantic_head.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <unordered_set>
#include <utility>

#include "kernels.hpp"
#include "switchyard/core/lbfgs.hpp"

namespace sy::embed {

static_assert(std::endian::native == std::endian::little, "the head file format is little-endian");

/// One embedding part as the head sees it: its scale and, for a sparse part, the (folded) buckets the
/// training data used, each owning one weight row, found through a bitmap + rank like the index's.
struct SemanticHead::Part {
  std::uint32_t dim = 0;
  bool sparse = false;
  float scale = 1.0f;
  std::uint32_t fold_bits = 0;   // sparse: 0 = buckets kept as they are
  std::uint32_t folded_dim = 0;  // sparse: buckets after folding
  std::uint32_t row_offset = 0;  // first weight row of this part
  std::uint32_t rows = 0;
  std::vector<std::uint32_t> buckets;  // sparse: sorted, distinct, < folded_dim
  std::vector<std::uint64_t> present;
  std::vector<std::uint32_t> rank_base;

  std::uint32_t fold(std::uint32_t b) const { return fold_bits ? (b & ((1u << fold_bits) - 1)) : b; }

  void build_lookup() {
    present.assign((static_cast<std::size_t>(folded_dim) + 63) / 64, 0);
    rank_base.assign(present.size(), 0);
    for (std::uint32_t b : buckets) present[b >> 6] |= std::uint64_t{1} << (b & 63);
    std::uint32_t n = 0;
    for (std::size_t w = 0; w < present.size(); ++w) {
      rank_base[w] = n;
      n += static_cast<std::uint32_t>(std::popcount(present[w]));
    }
  }

  /// Weight row of raw bucket `b`; false when no training utterance used it.
  bool row_of(std::uint32_t raw, std::uint32_t& row) const {
    const std::uint32_t b = fold(raw);
    if (b >= folded_dim) return false;
    const std::uint64_t word = present[b >> 6];
    const std::uint64_t bit = std::uint64_t{1} << (b & 63);
    if ((word & bit) == 0) return false;
    row = row_offset + rank_base[b >> 6] + static_cast<std::uint32_t>(std::popcount(word & (bit - 1)));
    return true;
  }

  std::size_t memory_bytes() const { return sizeof(*this) + buckets.capacity() * 4 + present.capacity() * 8 + rank_base.capacity() * 4; }
};

std::uint64_t training_fingerprint(std::string_view embedder_type, const std::vector<std::string>& route_names,
                                   const std::vector<std::vector<std::string>>& utterances) {
  std::uint64_t h = 1469598103934665603ull;
  auto add = [&](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    h = (h ^ 0x1f) * 1099511628211ull;  // separator: "ab","c" differs from "a","bc"
  };
  add(embedder_type);
  for (std::size_t r = 0; r < route_names.size(); ++r) {
    add(route_names[r]);
    if (r < utterances.size())
      for (const auto& u : utterances[r]) add(u);
    h = (h ^ 0x1e) * 1099511628211ull;
  }
  return h;
}

std::vector<std::string> word_dropout_variants(std::string_view text, std::size_t max_variants, std::size_t min_words) {
  std::vector<std::pair<std::size_t, std::size_t>> words;  // [begin, end)
  for (std::size_t i = 0; i < text.size();) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    const std::size_t b = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > b) words.emplace_back(b, i);
  }
  std::vector<std::string> out;
  if (words.size() < std::max<std::size_t>(2, min_words) || max_variants == 0) return out;
  const std::size_t n = std::min(max_variants, words.size());
  for (std::size_t v = 0; v < n; ++v) {
    const std::size_t drop = v * words.size() / n;  // evenly spread positions
    std::string s;
    for (std::size_t w = 0; w < words.size(); ++w) {
      if (w == drop) continue;
      if (!s.empty()) s += ' ';
      s.append(text.substr(words[w].first, words[w].second - words[w].first));
    }
    out.push_back(std::move(s));
  }
  return out;
}

SemanticHead::SemanticHead() = default;
SemanticHead::~SemanticHead() = default;

namespace {

Error head_error(std::string msg) { return Error::make(ErrorKind::internal, "semantic head: " + std::move(msg)); }

/// Training rows: the dense features of every part side by side (and transposed, for the gradient
/// GEMM), the sparse ones in CSR form with their weight rows, and the labels.
struct TrainData {
  std::size_t n = 0, dense = 0;
  std::vector<float> xd, xdt;  // n x dense, dense x n
  std::vector<std::size_t> start{0};
  std::vector<std::uint32_t> row;
  std::vector<float> val;
  std::vector<std::uint32_t> y;
};

struct Problem {
  std::size_t features = 0, classes = 0;
  double l2 = 0;
};

/// Mean cross-entropy of softmax(X W + b) + l2/2 |W|^2 and its gradient. Parameters: W (features x
/// classes, classes innermost) then b. `z` is scratch (n x classes).
double objective(const TrainData& t, const Problem& p, const std::vector<float>& w, std::vector<float>& g,
                 std::vector<float>& z) {
  const std::size_t C = p.classes, F = p.features, n = t.n;
  const float* W = w.data();
  const float* b = W + F * C;
  z.assign(n * C, 0.0f);
  if (t.dense > 0) {
    kernels::PackedMatrix pw(W, t.dense, C, C);
    kernels::gemm(t.xd.data(), n, t.dense, pw, b, z.data(), C);
  } else {
    for (std::size_t i = 0; i < n; ++i) std::copy(b, b + C, z.begin() + static_cast<std::ptrdiff_t>(i * C));
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = t.start[i]; k < t.start[i + 1]; ++k)
      kernels::axpy(z.data() + i * C, W + static_cast<std::size_t>(t.row[k]) * C, t.val[k], C);
  double loss = 0;
  const float inv_n = 1.0f / static_cast<float>(n);
  for (std::size_t i = 0; i < n; ++i) {
    float* r = z.data() + i * C;
    const float mx = *std::max_element(r, r + C);
    double sum = 0;
    for (std::size_t c = 0; c < C; ++c) sum += std::exp(static_cast<double>(r[c] - mx));
    const double lse = mx + std::log(sum);
    loss += lse - r[t.y[i]];
    for (std::size_t c = 0; c < C; ++c) r[c] = static_cast<float>(std::exp(r[c] - lse)) * inv_n;
    r[t.y[i]] -= inv_n;
  }
  // z now holds (P - Y) / n.
  std::fill(g.begin(), g.end(), 0.0f);
  if (t.dense > 0) {
    kernels::PackedMatrix pr(z.data(), n, C, C);
    kernels::gemm(t.xdt.data(), t.dense, n, pr, nullptr, g.data(), C);
  }
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = t.start[i]; k < t.start[i + 1]; ++k)
      kernels::axpy(g.data() + static_cast<std::size_t>(t.row[k]) * C, z.data() + i * C, t.val[k], C);
  float* gb = g.data() + F * C;
  for (std::size_t i = 0; i < n; ++i) kernels::axpy(gb, z.data() + i * C, 1.0f, C);
  double reg = 0;
  const float l2 = static_cast<float>(p.l2);
  for (std::size_t j = 0; j < F * C; ++j) {
    reg += static_cast<double>(W[j]) * W[j];
    g[j] += l2 * W[j];
  }
  return loss / static_cast<double>(n) + 0.5 * p.l2 * reg;
}

/// Mean cross-entropy of softmax(z / T) against labels.
double tempered_nll(const std::vector<float>& z, const std::vector<std::uint32_t>& y, std::size_t C, double T) {
  double total = 0;
  for (std::size_t i = 0; i < y.size(); ++i) {
    const float* r = z.data() + i * C;
    double mx = -std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < C; ++c) mx = std::max(mx, r[c] / T);
    double sum = 0;
    for (std::size_t c = 0; c < C; ++c) sum += std::exp(r[c] / T - mx);
    total += mx + std::log(sum) - r[y[i]] / T;
  }
  return y.empty() ? 0.0 : total / static_cast<double>(y.size());
}

/// The temperature minimising the cross-entropy (golden-section search on log T in [1/50, 50]).
float fit_temperature(const std::vector<float>& z, const std::vector<std::uint32_t>& y, std::size_t C) {
  double lo = std::log(0.02), hi = std::log(50.0);
  const double phi = (std::sqrt(5.0) - 1) / 2;
  double a = hi - phi * (hi - lo), b = lo + phi * (hi - lo);
  double fa = tempered_nll(z, y, C, std::exp(a)), fb = tempered_nll(z, y, C, std::exp(b));
  for (int i = 0; i < 60; ++i) {
    if (fa < fb) {
      hi = b;
      b = a;
      fb = fa;
      a = hi - phi * (hi - lo);
      fa = tempered_nll(z, y, C, std::exp(a));
    } else {
      lo = a;
      a = b;
      fa = fb;
      b = lo + phi * (hi - lo);
      fb = tempered_nll(z, y, C, std::exp(b));
    }
  }
  return static_cast<float>(std::exp(0.5 * (lo + hi)));
}

// ---- file format helpers ----

constexpr char kMagic[8] = {'S', 'Y', 'S', 'E', 'M', 'H', 'D', '1'};
constexpr std::uint32_t kVersion = 1;
constexpr std::uint32_t kMaxTypeBytes = 64;
constexpr std::uint32_t kMaxDim = 1u << 28;

std::uint32_t fnv1a32(std::string_view s) {
  std::uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

struct Writer {
  std::string out;
  void raw(const void* p, std::size_t n) { out.append(static_cast<const char*>(p), n); }
  void u32(std::uint32_t v) { raw(&v, 4); }
  void f32(float v) { raw(&v, 4); }
  void str(const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out += s;
  }
};

struct Reader {
  std::string_view in;
  std::size_t pos = 0;
  std::size_t left() const { return in.size() - pos; }
  bool raw(void* p, std::size_t n) {
    if (left() < n) return false;
    std::memcpy(p, in.data() + pos, n);
    pos += n;
    return true;
  }
  bool u32(std::uint32_t& v) { return raw(&v, 4); }
  bool f32(float& v) { return raw(&v, 4); }
  bool str(std::string& s, std::uint32_t max) {
    std::uint32_t n = 0;
    if (!u32(n) || n > max || left() < n) return false;
    s.assign(in.substr(pos, n));
    pos += n;
    return true;
  }
};

}  // namespace

/// Builds a head's parts and feature rows; shared by training and loading.
struct HeadBuilder {
  static Status init_parts(SemanticHead& h, const std::vector<PartLayout>& layout, const std::vector<float>& scale,
                           std::uint32_t fold_bits) {
    if (scale.size() != layout.size()) return head_error("internal: scales do not match the layout");
    h.layout_ = layout;
    h.parts_.clear();
    for (std::size_t i = 0; i < layout.size(); ++i) {
      SemanticHead::Part p;
      p.dim = layout[i].dim;
      p.sparse = layout[i].sparse;
      p.scale = scale[i];
      if (!std::isfinite(p.scale) || p.scale <= 0) return head_error("feature scales must be positive");
      if (p.sparse) {
        p.fold_bits = (fold_bits > 0 && fold_bits < 32 && (std::uint64_t{1} << fold_bits) < p.dim) ? fold_bits : 0;
        p.folded_dim = p.fold_bits ? (1u << p.fold_bits) : p.dim;
      }
      h.parts_.push_back(std::move(p));
    }
    return std::monostate{};
  }

  /// Assigns rows: dense parts first (so their weights form one block), then sparse ones.
  static void assign_rows(SemanticHead& h) {
    std::uint32_t next = 0;
    for (auto& p : h.parts_)
      if (!p.sparse) {
        p.row_offset = next;
        p.rows = p.dim;
        next += p.dim;
      }
    for (auto& p : h.parts_)
      if (p.sparse) {
        p.row_offset = next;
        p.rows = static_cast<std::uint32_t>(p.buckets.size());
        next += p.rows;
        p.build_lookup();
      }
    h.n_features_ = next;
  }

  static std::size_t dense_features(const SemanticHead& h) {
    std::size_t d = 0;
    for (const auto& p : h.parts_)
      if (!p.sparse) d += p.dim;
    return d;
  }

  /// Appends one training row.
  static void add_row(const SemanticHead& h, const Embedding& e, TrainData& t) {
    const std::size_t base = t.xd.size();
    t.xd.resize(base + t.dense, 0.0f);
    for (std::size_t i = 0; i < h.parts_.size(); ++i) {
      const SemanticHead::Part& p = h.parts_[i];
      const EmbeddingPart& q = e.parts[i];
      if (!p.sparse) {
        for (std::uint32_t j = 0; j < p.dim; ++j) t.xd[base + p.row_offset + j] = q.values[j] * p.scale;
        continue;
      }
      for (std::size_t k = 0; k < q.indices.size(); ++k) {
        std::uint32_t row = 0;
        if (!p.row_of(q.indices[k], row)) continue;
        t.row.push_back(row);
        t.val.push_back(q.values[k] * p.scale);
      }
    }
    t.start.push_back(t.row.size());
    ++t.n;
  }

  static void transpose(TrainData& t) {
    t.xdt.assign(t.xd.size(), 0.0f);
    for (std::size_t i = 0; i < t.n; ++i)
      for (std::size_t j = 0; j < t.dense; ++j) t.xdt[j * t.n + i] = t.xd[i * t.dense + j];
  }
};

Result<std::shared_ptr<const SemanticHead>> SemanticHead::train(std::vector<std::string> routes, std::string embedder_type,
                                                                const std::vector<PartLayout>& layout,
                                                                const std::vector<std::vector<Embedding>>& examples,
                                                                const HeadOptions& options) {
  if (routes.size() < 2) return head_error("needs at least two routes");
  if (routes.size() > kMaxRoutes) return head_error("too many routes");
  if (examples.size() != routes.size()) return head_error("examples do not match the routes");
  if (layout.empty() || layout.size() > kMaxParts) return head_error("bad embedding layout");
  if (!(options.l2 >= 0) || !std::isfinite(options.l2)) return head_error("l2 must be >= 0");
  std::unordered_set<std::string> names;
  for (std::size_t r = 0; r < routes.size(); ++r) {
    if (routes[r].empty() || routes[r].size() > kMaxNameBytes) return head_error("route " + std::to_string(r) + " has a bad name");
    if (!names.insert(routes[r]).second) return head_error("duplicate route name '" + routes[r] + "'");
    if (examples[r].empty()) return head_error("route '" + routes[r] + "' has no utterances");
    for (const Embedding& e : examples[r])
      if (!e.matches(layout)) return head_error("route '" + routes[r] + "': an embedding does not match the layout");
  }

  auto head = std::make_shared<SemanticHead>();
  head->routes_ = std::move(routes);
  head->embedder_type_ = std::move(embedder_type);
  head->fingerprint_ = options.fingerprint;
  if (head->embedder_type_.size() > kMaxTypeBytes) return head_error("embedder type too long");
  std::vector<float> scales;
  for (const PartLayout& l : layout) scales.push_back(l.sparse ? options.sparse_scale : options.dense_scale);
  if (auto s = HeadBuilder::init_parts(*head, layout, scales, options.fold_bits); !s) return s.error();
  // Sparse buckets used by the training data.
  for (std::size_t i = 0; i < layout.size(); ++i) {
    Part& p = head->parts_[i];
    if (!p.sparse) continue;
    for (const auto& route : examples)
      for (const Embedding& e : route)
        for (std::uint32_t b : e.parts[i].indices)
          if (b < p.dim) p.buckets.push_back(p.fold(b));
    std::sort(p.buckets.begin(), p.buckets.end());
    p.buckets.erase(std::unique(p.buckets.begin(), p.buckets.end()), p.buckets.end());
  }
  HeadBuilder::assign_rows(*head);
  const std::size_t C = head->routes_.size(), F = head->n_features_;
  if (static_cast<std::uint64_t>(F + 1) * C > kMaxParameters)
    return head_error("model too large (" + std::to_string(F) + " features x " + std::to_string(C) +
                      " routes); set fold_bits");

  TrainData all;
  all.dense = HeadBuilder::dense_features(*head);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> origin;  // (route, utterance) per row
  for (std::size_t r = 0; r < examples.size(); ++r)
    for (std::size_t u = 0; u < examples[r].size(); ++u) {
      HeadBuilder::add_row(*head, examples[r][u], all);
      all.y.push_back(static_cast<std::uint32_t>(r));
      origin.emplace_back(static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(u));
    }
  HeadBuilder::transpose(all);

  Problem prob{F, C, options.l2};
  optimize::LbfgsOptions lopt;
  lopt.max_iterations = options.max_iterations;
  lopt.tolerance = options.tolerance;
  lopt.relative_tolerance = true;
  lopt.history = options.history;
  lopt.min_relative_decrease = 1e-9;
  std::vector<float> z;
  auto fit = [&](const TrainData& t, std::vector<float>& w, const char* stage) {
    return optimize::minimize_lbfgs<float>(
        [&](const std::vector<float>& x, std::vector<float>& g) { return objective(t, prob, x, g, z); }, w, lopt,
        [&](int it) {
          if (options.progress && it % 10 == 0)
            options.progress(stage, static_cast<double>(it) / std::max(1, options.max_iterations));
        });
  };
  std::vector<float> w((F + 1) * C, 0.0f);
  const optimize::LbfgsResult res = fit(all, w, "fit");
  head->iterations_ = res.iterations;
  head->loss_ = res.loss;

  // Temperature from out-of-fold logits: utterance u of each route is held out in fold u % folds.
  std::size_t min_size = std::numeric_limits<std::size_t>::max();
  for (const auto& r : examples) min_size = std::min(min_size, r.size());
  const std::size_t folds = std::min(options.calibration_folds, min_size);
  head->weights_.assign(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(F * C));
  head->bias_.assign(w.begin() + static_cast<std::ptrdiff_t>(F * C), w.end());
  if (folds >= 2) {
    std::vector<float> oof(all.n * C, 0.0f);
    for (std::size_t f = 0; f < folds; ++f) {
      if (options.progress) options.progress("calibrate", static_cast<double>(f) / static_cast<double>(folds));
      TrainData part;
      part.dense = all.dense;
      std::vector<std::size_t> held;
      for (std::size_t i = 0; i < all.n; ++i) {
        if (origin[i].second % folds == f) {
          held.push_back(i);
          continue;
        }
        part.xd.insert(part.xd.end(), all.xd.begin() + static_cast<std::ptrdiff_t>(i * all.dense),
                       all.xd.begin() + static_cast<std::ptrdiff_t>((i + 1) * all.dense));
        for (std::size_t k = all.start[i]; k < all.start[i + 1]; ++k) {
          part.row.push_back(all.row[k]);
          part.val.push_back(all.val[k]);
        }
        part.start.push_back(part.row.size());
        part.y.push_back(all.y[i]);
        ++part.n;
      }
      HeadBuilder::transpose(part);
      std::vector<float> wf = w;  // warm start: the objective is strictly convex, the optimum is the same
      fit(part, wf, "calibrate");
      SemanticHead tmp;
      tmp.routes_ = head->routes_;
      tmp.layout_ = head->layout_;
      tmp.parts_ = head->parts_;
      tmp.n_features_ = F;
      tmp.weights_.assign(wf.begin(), wf.begin() + static_cast<std::ptrdiff_t>(F * C));
      tmp.bias_.assign(wf.begin() + static_cast<std::ptrdiff_t>(F * C), wf.end());
      for (std::size_t i : held) {
        const auto [r, u] = origin[i];
        tmp.logits(examples[r][u], std::span<float>(oof.data() + i * C, C));
      }
    }
    head->temperature_ = fit_temperature(oof, all.y, C);
  }
  if (options.progress) options.progress("done", 1.0);
  return std::shared_ptr<const SemanticHead>(std::move(head));
}

void SemanticHead::logits(const Embedding& query, std::span<float> out) const {
  const std::size_t C = routes_.size();
  if (out.size() < C) return;
  if (!query.matches(layout_)) {
    std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(C), 0.0f);
    return;
  }
  std::copy(bias_.begin(), bias_.end(), out.begin());
  float* z = out.data();
  const float* W = weights_.data();
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    const Part& p = parts_[i];
    const EmbeddingPart& q = query.parts[i];
    if (!p.sparse) {
      for (std::uint32_t j = 0; j < p.dim; ++j)
        if (q.values[j] != 0.0f) kernels::axpy(z, W + static_cast<std::size_t>(p.row_offset + j) * C, q.values[j] * p.scale, C);
      continue;
    }
    for (std::size_t k = 0; k < q.indices.size(); ++k) {
      std::uint32_t row = 0;
      if (p.row_of(q.indices[k], row)) kernels::axpy(z, W + static_cast<std::size_t>(row) * C, q.values[k] * p.scale, C);
    }
  }
}

void SemanticHead::calibrate(std::span<float> z) const {
  if (z.empty()) return;
  const float inv_t = 1.0f / temperature_;
  for (float& v : z) v *= inv_t;
  kernels::softmax(z.data(), z.size());
}

HeadPrediction SemanticHead::predict(const Embedding& query) const {
  HeadPrediction p;
  p.probabilities.assign(routes_.size(), 0.0f);
  logits(query, p.probabilities);
  calibrate(p.probabilities);
  p.best = static_cast<std::size_t>(std::max_element(p.probabilities.begin(), p.probabilities.end()) -
                                    p.probabilities.begin());
  p.confidence = p.probabilities[p.best];
  return p;
}

std::size_t SemanticHead::memory_bytes() const {
  std::size_t n = sizeof(*this) + weights_.capacity() * 4 + bias_.capacity() * 4;
  for (const Part& p : parts_) n += p.memory_bytes();
  for (const auto& r : routes_) n += sizeof(std::string) + r.capacity();
  return n;
}

// ---- file ----

std::string SemanticHead::serialize() const {
  Writer w;
  w.raw(kMagic, sizeof kMagic);
  w.u32(kVersion);
  w.u32(static_cast<std::uint32_t>(routes_.size()));
  w.u32(static_cast<std::uint32_t>(parts_.size()));
  w.str(embedder_type_);
  w.raw(&fingerprint_, 8);
  for (std::size_t i = 0; i < parts_.size(); ++i) {
    const Part& p = parts_[i];
    w.u32(p.dim);
    w.u32(p.sparse ? 1 : 0);
    w.f32(layout_[i].weight);
    w.f32(p.scale);
    w.u32(p.fold_bits);
    w.u32(p.rows);
    w.str(layout_[i].name.size() <= kMaxTypeBytes ? layout_[i].name : layout_[i].name.substr(0, kMaxTypeBytes));
  }
  for (const auto& r : routes_) w.str(r);
  for (const Part& p : parts_)
    if (p.sparse) w.raw(p.buckets.data(), p.buckets.size() * 4);
  w.raw(weights_.data(), weights_.size() * 4);
  w.raw(bias_.data(), bias_.size() * 4);
  w.f32(temperature_);
  w.u32(fnv1a32(w.out));
  return std::move(w.out);
}

Status SemanticHead::save(const std::string& path) const {
  const std::string bytes = serialize();
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return head_error("cannot write " + tmp);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) return head_error("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return head_error("cannot rename " + tmp + " to " + path + ": " + ec.message());
  return std::monostate{};
}

Result<std::shared_ptr<const SemanticHead>> SemanticHead::load(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return head_error(path + ": cannot read (" + ec.message() + ")");
  if (size > kMaxParameters * 4 + (std::uint64_t{64} << 20)) return head_error(path + ": file too large");
  std::ifstream in(path, std::ios::binary);
  if (!in) return head_error(path + ": cannot open");
  std::string bytes(static_cast<std::size_t>(size), '\0');
  in.read(bytes.data(), static_cast<std::streamsize>(size));
  if (static_cast<std::uint64_t>(in.gcount()) != size) return head_error(path + ": short read");
  return parse(bytes, path);
}

Result<std::shared_ptr<const SemanticHead>> SemanticHead::parse(std::string_view bytes, const std::string& name) {
  auto bad = [&](const std::string& what) { return head_error(name + ": " + what); };
  if (bytes.size() < sizeof kMagic || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return bad("not a semantic head file (bad magic)");
  if (bytes.size() < 8 + 4 * 4) return bad("truncated");
  std::uint32_t stored = 0;
  std::memcpy(&stored, bytes.data() + bytes.size() - 4, 4);
  Reader r{bytes.substr(0, bytes.size() - 4), sizeof kMagic};
  std::uint32_t version = 0, n_routes = 0, n_parts = 0;
  r.u32(version);
  if (version != kVersion) return bad("unsupported version " + std::to_string(version) + " (expected 1)");
  if (fnv1a32(bytes.substr(0, bytes.size() - 4)) != stored) return bad("checksum mismatch (corrupt file)");
  if (!r.u32(n_routes) || !r.u32(n_parts)) return bad("truncated header");
  if (n_routes < 2 || n_routes > kMaxRoutes) return bad("bad route count " + std::to_string(n_routes));
  if (n_parts < 1 || n_parts > kMaxParts) return bad("bad part count " + std::to_string(n_parts));
  auto head = std::make_shared<SemanticHead>();
  if (!r.str(head->embedder_type_, kMaxTypeBytes)) return bad("bad embedder type");
  if (!r.raw(&head->fingerprint_, 8)) return bad("truncated header");
  std::vector<PartLayout> layout;
  std::vector<float> scales;
  std::vector<std::uint32_t> folds, rows;
  for (std::uint32_t i = 0; i < n_parts; ++i) {
    PartLayout l;
    std::uint32_t sparse = 0, fold = 0, nrows = 0;
    float scale = 0;
    if (!r.u32(l.dim) || !r.u32(sparse) || !r.f32(l.weight) || !r.f32(scale) || !r.u32(fold) || !r.u32(nrows) ||
        !r.str(l.name, kMaxTypeBytes))
      return bad("truncated part table");
    if (l.dim == 0 || l.dim > kMaxDim || sparse > 1 || !std::isfinite(l.weight) || !std::isfinite(scale) || scale <= 0 ||
        fold > 28)
      return bad("bad part " + std::to_string(i));
    l.sparse = sparse == 1;
    if (!l.sparse && (nrows != l.dim || fold != 0)) return bad("bad dense part " + std::to_string(i));
    if (l.sparse && (nrows > l.dim || (fold != 0 && nrows > (1u << fold)))) return bad("bad sparse part " + std::to_string(i));
    layout.push_back(std::move(l));
    scales.push_back(scale);
    folds.push_back(fold);
    rows.push_back(nrows);
  }
  // Sizes before any allocation proportional to them.
  std::uint64_t features = 0, sparse_rows = 0;
  for (std::uint32_t i = 0; i < n_parts; ++i) {
    features += rows[i];
    if (layout[i].sparse) sparse_rows += rows[i];
  }
  if ((features + 1) * n_routes > kMaxParameters) return bad("model too large");
  // Route names: each needs at least 4 bytes, so n_routes is already bounded by the file size.
  if (static_cast<std::uint64_t>(n_routes) * 4 > r.left()) return bad("truncated route names");
  head->routes_.reserve(n_routes);
  std::unordered_set<std::string> names;
  for (std::uint32_t i = 0; i < n_routes; ++i) {
    std::string s;
    if (!r.str(s, kMaxNameBytes) || s.empty()) return bad("bad route name " + std::to_string(i));
    if (!names.insert(s).second) return bad("duplicate route name '" + s + "'");
    head->routes_.push_back(std::move(s));
  }
  const std::uint64_t expected = sparse_rows * 4 + features * n_routes * 4 + std::uint64_t{n_routes} * 4 + 4;
  if (r.left() != expected)
    return bad("size mismatch: " + std::to_string(r.left()) + " bytes of weights, expected " + std::to_string(expected));
  if (auto s = HeadBuilder::init_parts(*head, layout, scales, 0); !s) return bad(s.error().message);
  for (std::uint32_t i = 0; i < n_parts; ++i) {
    Part& p = head->parts_[i];
    if (!p.sparse) continue;
    p.fold_bits = folds[i] != 0 && (std::uint64_t{1} << folds[i]) < p.dim ? folds[i] : 0;
    if (folds[i] != p.fold_bits) return bad("bad folding of part " + std::to_string(i));
    p.folded_dim = p.fold_bits ? (1u << p.fold_bits) : p.dim;
    p.buckets.resize(rows[i]);
    r.raw(p.buckets.data(), static_cast<std::size_t>(rows[i]) * 4);
    for (std::size_t k = 0; k < p.buckets.size(); ++k)
      if (p.buckets[k] >= p.folded_dim || (k > 0 && p.buckets[k] <= p.buckets[k - 1]))
        return bad("bad bucket list in part " + std::to_string(i));
  }
  HeadBuilder::assign_rows(*head);
  head->weights_.resize(static_cast<std::size_t>(features * n_routes));
  head->bias_.resize(n_routes);
  r.raw(head->weights_.data(), head->weights_.size() * 4);
  r.raw(head->bias_.data(), head->bias_.size() * 4);
  r.f32(head->temperature_);
  for (float v : head->weights_)
    if (!std::isfinite(v)) return bad("non-finite weight");
  for (float v : head->bias_)
    if (!std::isfinite(v)) return bad("non-finite bias");
  if (!std::isfinite(head->temperature_) || head->temperature_ <= 0) return bad("bad temperature");
  return std::shared_ptr<const SemanticHead>(std::move(head));
}

}  // namespace sy::embed

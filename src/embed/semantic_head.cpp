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

#include "head_features.hpp"
#include "kernels.hpp"
#include "switchyard/core/lbfgs.hpp"

namespace sy::embed {

static_assert(std::endian::native == std::endian::little, "the head file format is little-endian");

using detail::FeaturePart;
using detail::TrainData;

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

struct Problem {
  std::size_t features = 0, classes = 0;
  double l2 = 0;
};

/// Mean cross-entropy of softmax(X W + b) + l2/2 |W|^2 and its gradient. Parameters: W (features x
/// classes, classes innermost) then b. `z` is scratch (n x classes).
double objective(const TrainData& t, const Problem& p, const std::vector<float>& w, std::vector<float>& g,
                 std::vector<float>& z) {
  const std::size_t C = p.classes, F = p.features;
  const float* W = w.data();
  z.resize(t.n * C);
  detail::linear_forward(t, {}, W, W + F * C, C, z.data());
  const double loss = detail::softmax_cross_entropy(z, t.y, C);  // z now holds (P - Y) / n
  detail::linear_backward(t, {}, z.data(), C, g.data(), F, g.data() + F * C);
  return loss + 0.5 * p.l2 * detail::add_l2(W, g.data(), F * C, p.l2);
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
    h.layout_ = layout;
    if (auto s = detail::init_parts(h.parts_, layout, scale, fold_bits); !s) return s.error();
    return std::monostate{};
  }
  static void assign_rows(SemanticHead& h) { h.n_features_ = detail::assign_rows(h.parts_); }
  /// The parts of a head trained on `examples` (detail::fit_parts).
  static Status fit_parts(SemanticHead& h, const std::vector<PartLayout>& layout, const HeadOptions& o,
                          const std::vector<std::vector<Embedding>>& examples) {
    h.layout_ = layout;
    auto n = detail::fit_parts(h.parts_, layout, o.dense_scale, o.sparse_scale, o.fold_bits, examples);
    if (!n) return n.error();
    h.n_features_ = *n;
    return std::monostate{};
  }
  static TrainData training_rows(const SemanticHead& h, const std::vector<std::vector<Embedding>>& examples) {
    return detail::training_rows(h.parts_, examples);
  }
};

Result<std::shared_ptr<const SemanticHead>> SemanticHead::train(std::vector<std::string> routes, std::string embedder_type,
                                                                const std::vector<PartLayout>& layout,
                                                                const std::vector<std::vector<Embedding>>& examples,
                                                                const HeadOptions& options) {
  if (auto s = detail::check_training_set(routes, layout, examples, kMaxRoutes, kMaxParts, kMaxNameBytes); !s)
    return s.error();
  if (!(options.l2 >= 0) || !std::isfinite(options.l2)) return head_error("l2 must be >= 0");

  auto head = std::make_shared<SemanticHead>();
  head->routes_ = std::move(routes);
  head->embedder_type_ = std::move(embedder_type);
  head->fingerprint_ = options.fingerprint;
  if (head->embedder_type_.size() > kMaxTypeBytes) return head_error("embedder type too long");
  if (auto s = HeadBuilder::fit_parts(*head, layout, options, examples); !s) return s.error();
  const std::size_t C = head->routes_.size(), F = head->n_features_;
  if (static_cast<std::uint64_t>(F + 1) * C > kMaxParameters)
    return head_error("model too large (" + std::to_string(F) + " features x " + std::to_string(C) +
                      " routes); set fold_bits");

  TrainData all = HeadBuilder::training_rows(*head, examples);
  std::vector<std::pair<std::uint32_t, std::uint32_t>> origin;  // (route, utterance) per row, in row order
  for (std::size_t r = 0; r < examples.size(); ++r)
    for (std::size_t u = 0; u < examples[r].size(); ++u)
      origin.emplace_back(static_cast<std::uint32_t>(r), static_cast<std::uint32_t>(u));

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
      detail::transpose(part);
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
  detail::linear_apply(parts_, detail::dense_features(parts_), {}, query, weights_.data(), C, out.data());
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
  for (const FeaturePart& p : parts_) n += p.memory_bytes();
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
    const FeaturePart& p = parts_[i];
    w.u32(p.dim);
    w.u32(p.sparse ? 1 : 0);
    w.f32(layout_[i].weight);
    w.f32(p.scale);
    w.u32(p.fold_bits);
    w.u32(p.rows);
    w.str(layout_[i].name.size() <= kMaxTypeBytes ? layout_[i].name : layout_[i].name.substr(0, kMaxTypeBytes));
  }
  for (const auto& r : routes_) w.str(r);
  for (const FeaturePart& p : parts_)
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
    FeaturePart& p = head->parts_[i];
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

#include "head_features.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>
#include <unordered_set>

#include "kernels.hpp"

namespace sy::embed::detail {

Status check_training_set(const std::vector<std::string>& routes, const std::vector<PartLayout>& layout,
                          const std::vector<std::vector<Embedding>>& examples, std::size_t max_routes,
                          std::size_t max_parts, std::size_t max_name) {
  auto err = [](std::string msg) { return Error::make(ErrorKind::internal, "semantic head: " + std::move(msg)); };
  if (routes.size() < 2) return err("needs at least two routes");
  if (routes.size() > max_routes) return err("too many routes");
  if (examples.size() != routes.size()) return err("examples do not match the routes");
  if (layout.empty() || layout.size() > max_parts) return err("bad embedding layout");
  std::unordered_set<std::string> names;
  for (std::size_t r = 0; r < routes.size(); ++r) {
    if (routes[r].empty() || routes[r].size() > max_name) return err("route " + std::to_string(r) + " has a bad name");
    if (!names.insert(routes[r]).second) return err("duplicate route name '" + routes[r] + "'");
    if (examples[r].empty()) return err("route '" + routes[r] + "' has no utterances");
    for (const Embedding& e : examples[r])
      if (!e.matches(layout)) return err("route '" + routes[r] + "': an embedding does not match the layout");
  }
  return std::monostate{};
}

void FeaturePart::build_lookup() {
  present.assign((static_cast<std::size_t>(folded_dim) + 63) / 64, 0);
  rank_base.assign(present.size(), 0);
  for (std::uint32_t b : buckets) present[b >> 6] |= std::uint64_t{1} << (b & 63);
  std::uint32_t n = 0;
  for (std::size_t w = 0; w < present.size(); ++w) {
    rank_base[w] = n;
    n += static_cast<std::uint32_t>(std::popcount(present[w]));
  }
}

bool FeaturePart::row_of(std::uint32_t raw, std::uint32_t& row) const {
  const std::uint32_t b = fold(raw);
  if (b >= folded_dim) return false;
  const std::uint64_t word = present[b >> 6];
  const std::uint64_t bit = std::uint64_t{1} << (b & 63);
  if ((word & bit) == 0) return false;
  row = row_offset + rank_base[b >> 6] + static_cast<std::uint32_t>(std::popcount(word & (bit - 1)));
  return true;
}

std::size_t FeaturePart::memory_bytes() const {
  return sizeof(*this) + buckets.capacity() * 4 + present.capacity() * 8 + rank_base.capacity() * 4;
}

Status init_parts(FeatureParts& parts, const std::vector<PartLayout>& layout, const std::vector<float>& scale,
                  std::uint32_t fold_bits) {
  if (scale.size() != layout.size())
    return Error::make(ErrorKind::internal, "semantic head: internal: scales do not match the layout");
  parts.clear();
  for (std::size_t i = 0; i < layout.size(); ++i) {
    FeaturePart p;
    p.dim = layout[i].dim;
    p.sparse = layout[i].sparse;
    p.scale = scale[i];
    if (!std::isfinite(p.scale) || p.scale <= 0)
      return Error::make(ErrorKind::internal, "semantic head: feature scales must be positive");
    if (p.sparse) {
      p.fold_bits = (fold_bits > 0 && fold_bits < 32 && (std::uint64_t{1} << fold_bits) < p.dim) ? fold_bits : 0;
      p.folded_dim = p.fold_bits ? (1u << p.fold_bits) : p.dim;
    }
    parts.push_back(std::move(p));
  }
  return std::monostate{};
}

void collect_buckets(FeatureParts& parts, const std::vector<std::vector<Embedding>>& examples) {
  for (std::size_t i = 0; i < parts.size(); ++i) {
    FeaturePart& p = parts[i];
    if (!p.sparse) continue;
    for (const auto& route : examples)
      for (const Embedding& e : route)
        for (std::uint32_t b : e.parts[i].indices)
          if (b < p.dim) p.buckets.push_back(p.fold(b));
    std::sort(p.buckets.begin(), p.buckets.end());
    p.buckets.erase(std::unique(p.buckets.begin(), p.buckets.end()), p.buckets.end());
  }
}

std::size_t assign_rows(FeatureParts& parts) {
  std::uint32_t next = 0;
  for (auto& p : parts)
    if (!p.sparse) {
      p.row_offset = next;
      p.rows = p.dim;
      next += p.dim;
    }
  for (auto& p : parts)
    if (p.sparse) {
      p.row_offset = next;
      p.rows = static_cast<std::uint32_t>(p.buckets.size());
      next += p.rows;
      p.build_lookup();
    }
  return next;
}

Result<std::size_t> fit_parts(FeatureParts& parts, const std::vector<PartLayout>& layout, float dense_scale,
                              float sparse_scale, std::uint32_t fold_bits,
                              const std::vector<std::vector<Embedding>>& examples) {
  std::vector<float> scales;
  for (const PartLayout& l : layout) scales.push_back(l.sparse ? sparse_scale : dense_scale);
  if (auto s = init_parts(parts, layout, scales, fold_bits); !s) return s.error();
  collect_buckets(parts, examples);
  return assign_rows(parts);
}

TrainData training_rows(const FeatureParts& parts, const std::vector<std::vector<Embedding>>& examples) {
  TrainData t;
  t.dense = dense_features(parts);
  for (std::size_t r = 0; r < examples.size(); ++r)
    for (const Embedding& e : examples[r]) {
      add_row(parts, e, t);
      t.y.push_back(static_cast<std::uint32_t>(r));
    }
  transpose(t);
  return t;
}

std::size_t dense_features(const FeatureParts& parts) {
  std::size_t d = 0;
  for (const auto& p : parts)
    if (!p.sparse) d += p.dim;
  return d;
}

void add_row(const FeatureParts& parts, const Embedding& e, TrainData& t) {
  const std::size_t base = t.xd.size();
  t.xd.resize(base + t.dense, 0.0f);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const FeaturePart& p = parts[i];
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

void transpose(TrainData& t) {
  t.xdt.assign(t.xd.size(), 0.0f);
  for (std::size_t i = 0; i < t.n; ++i)
    for (std::size_t j = 0; j < t.dense; ++j) t.xdt[j * t.n + i] = t.xd[i * t.dense + j];
}

void linear_forward(const TrainData& t, Inputs in, const float* W, const float* b, std::size_t out, float* z) {
  const std::size_t n = t.n;
  if (in.dense && t.dense > 0) {
    kernels::PackedMatrix pw(W, t.dense, out, out);
    kernels::gemm(t.xd.data(), n, t.dense, pw, b, z, out);
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      if (b) std::copy(b, b + out, z + i * out);
      else std::fill(z + i * out, z + (i + 1) * out, 0.0f);
    }
  }
  if (!in.sparse) return;
  const std::size_t base = in.dense ? 0 : t.dense;  // weight row of feature row r: r - base
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t k = t.start[i]; k < t.start[i + 1]; ++k)
      kernels::axpy(z + i * out, W + (static_cast<std::size_t>(t.row[k]) - base) * out, t.val[k], out);
}

void linear_backward(const TrainData& t, Inputs in, const float* d, std::size_t out, float* gW, std::size_t w_rows,
                     float* gb) {
  const std::size_t n = t.n;
  std::fill(gW, gW + w_rows * out, 0.0f);
  if (in.dense && t.dense > 0) {
    kernels::PackedMatrix pd(d, n, out, out);
    kernels::gemm(t.xdt.data(), t.dense, n, pd, nullptr, gW, out);
  }
  if (in.sparse) {
    const std::size_t base = in.dense ? 0 : t.dense;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t k = t.start[i]; k < t.start[i + 1]; ++k)
        kernels::axpy(gW + (static_cast<std::size_t>(t.row[k]) - base) * out, d + i * out, t.val[k], out);
  }
  if (gb) {
    std::fill(gb, gb + out, 0.0f);
    for (std::size_t i = 0; i < n; ++i) kernels::axpy(gb, d + i * out, 1.0f, out);
  }
}

void linear_apply(const FeatureParts& parts, std::size_t dense, Inputs in, const Embedding& e, const float* W,
                  std::size_t out, float* z) {
  const std::size_t base = in.dense ? 0 : dense;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const FeaturePart& p = parts[i];
    const EmbeddingPart& q = e.parts[i];
    if (!p.sparse) {
      if (!in.dense) continue;
      for (std::uint32_t j = 0; j < p.dim; ++j)
        if (q.values[j] != 0.0f) kernels::axpy(z, W + static_cast<std::size_t>(p.row_offset + j) * out, q.values[j] * p.scale, out);
      continue;
    }
    if (!in.sparse) continue;
    for (std::size_t k = 0; k < q.indices.size(); ++k) {
      std::uint32_t row = 0;
      if (p.row_of(q.indices[k], row)) kernels::axpy(z, W + (static_cast<std::size_t>(row) - base) * out, q.values[k] * p.scale, out);
    }
  }
}

double softmax_cross_entropy(std::vector<float>& z, const std::vector<std::uint32_t>& y, std::size_t C) {
  const std::size_t n = y.size();
  double loss = 0;
  const float inv_n = 1.0f / static_cast<float>(n);
  for (std::size_t i = 0; i < n; ++i) {
    float* r = z.data() + i * C;
    const float mx = *std::max_element(r, r + C);
    double sum = 0;
    for (std::size_t c = 0; c < C; ++c) sum += std::exp(static_cast<double>(r[c] - mx));
    const double lse = mx + std::log(sum);
    loss += lse - r[y[i]];
    for (std::size_t c = 0; c < C; ++c) r[c] = static_cast<float>(std::exp(r[c] - lse)) * inv_n;
    r[y[i]] -= inv_n;
  }
  return n ? loss / static_cast<double>(n) : 0.0;
}

double add_l2(const float* w, float* g, std::size_t n, double l2) {
  double reg = 0;
  const float l = static_cast<float>(l2);
  for (std::size_t j = 0; j < n; ++j) {
    reg += static_cast<double>(w[j]) * w[j];
    g[j] += l * w[j];
  }
  return reg;
}

}  // namespace sy::embed::detail

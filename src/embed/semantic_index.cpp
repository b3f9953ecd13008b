#include "switchyard/embed/semantic_index.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <unordered_set>
#include <utility>

#include "kernels.hpp"

namespace sy::embed {

std::string_view to_string(Aggregation a) {
  switch (a) {
    case Aggregation::centroid: return "centroid";
    case Aggregation::max: return "max";
    case Aggregation::top_k_mean: return "top_k_mean";
  }
  return "centroid";
}

std::optional<Aggregation> parse_aggregation(std::string_view s) {
  if (s == "centroid") return Aggregation::centroid;
  if (s == "max") return Aggregation::max;
  if (s == "top_k_mean" || s == "top-k" || s == "top_k") return Aggregation::top_k_mean;
  return std::nullopt;
}

namespace {

// One part of every column (route centroid or utterance), stored for fast scoring.
struct PartStore {
  PartLayout layout;
  // Sparse: inverted index in CSR form. postings of bucket b are [offsets[b], offsets[b+1]).
  // A bucket shared by many columns (common n-grams such as " th") is stored instead as a dense row
  // of `columns` floats, updated with one vectorised axpy: its single posting is kDenseBit | row.
  // Only buckets some column uses get an entry: `present` is a bitmap over all buckets (32 KB for
  // 2^18) with per-word rank counts, and offsets are indexed by rank, so a lookup touches small,
  // cache-resident arrays and an absent query feature costs one bit test.
  static constexpr std::uint32_t kDenseBit = 0x80000000u;
  std::vector<std::uint64_t> present;
  std::vector<std::uint32_t> rank_base;  // set bits in present[0 .. w)
  std::vector<std::uint32_t> offsets;    // by rank; postings of rank r are [offsets[r], offsets[r + 1])
  std::vector<std::uint32_t> cols;
  std::vector<float> vals;
  kernels::AlignedVector<float> dense_rows;  // rows x columns
  // Dense: columns x dim, row-major.
  kernels::AlignedVector<float> rows;

  std::size_t memory_bytes() const {
    return present.capacity() * 8 + rank_base.capacity() * 4 + offsets.capacity() * 4 + cols.capacity() * 4 + vals.capacity() * 4 + rows.capacity() * 4 +
           dense_rows.capacity() * 4;
  }
};

// Mean of sparse parts, as a sparse part (unit-normalised afterwards by the caller).
EmbeddingPart sparse_mean(const std::vector<const EmbeddingPart*>& parts, const PartLayout& layout) {
  std::vector<std::pair<std::uint32_t, float>> all;
  for (const EmbeddingPart* p : parts)
    for (std::size_t i = 0; i < p->indices.size(); ++i) all.emplace_back(p->indices[i], p->values[i]);
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  EmbeddingPart out;
  out.dim = layout.dim;
  out.sparse = true;
  out.weight = layout.weight;
  const float inv = parts.empty() ? 0.0f : 1.0f / static_cast<float>(parts.size());
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    float s = 0;
    while (j < all.size() && all[j].first == all[i].first) s += all[j++].second;
    out.indices.push_back(all[i].first);
    out.values.push_back(s * inv);
    i = j;
  }
  return out;
}

EmbeddingPart dense_mean(const std::vector<const EmbeddingPart*>& parts, const PartLayout& layout) {
  EmbeddingPart out;
  out.dim = layout.dim;
  out.weight = layout.weight;
  out.values.assign(layout.dim, 0.0f);
  for (const EmbeddingPart* p : parts)
    for (std::size_t i = 0; i < layout.dim; ++i) out.values[i] += p->values[i];
  const float inv = parts.empty() ? 0.0f : 1.0f / static_cast<float>(parts.size());
  for (float& v : out.values) v *= inv;
  return out;
}

struct Scratch {
  std::vector<float> acc;
  std::vector<float> topk;
};
Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

struct SemanticIndex::Impl {
  std::vector<PartStore> parts;
  std::size_t columns = 0;
  // Utterance columns are grouped by route: route r owns [route_begin[r], route_begin[r + 1]).
  std::vector<std::uint32_t> route_begin;
};

SemanticIndex::SemanticIndex(std::unique_ptr<Impl> impl, std::vector<Route> routes,
                             std::shared_ptr<const Embedder> embedder, const IndexOptions& options)
    : impl_(std::move(impl)), routes_(std::move(routes)), embedder_(std::move(embedder)), options_(options) {}

SemanticIndex::~SemanticIndex() = default;

Result<std::shared_ptr<const SemanticIndex>> SemanticIndex::build(std::vector<RouteSpec> routes,
                                                                  std::shared_ptr<const Embedder> embedder,
                                                                  const IndexOptions& options) {
  if (!embedder) return Error::make(ErrorKind::internal, "semantic index: no embedder");
  std::vector<std::string_view> texts;
  for (const RouteSpec& r : routes) texts.insert(texts.end(), r.utterances.begin(), r.utterances.end());
  std::vector<Embedding> flat = embedder->embed_batch(texts);
  std::vector<std::vector<Embedding>> vectors(routes.size());
  for (std::size_t r = 0, i = 0; r < routes.size(); ++r)
    for (std::size_t u = 0; u < routes[r].utterances.size(); ++u) vectors[r].push_back(std::move(flat[i++]));
  return build_from_vectors(std::move(routes), std::move(embedder), vectors, options);
}

Result<std::shared_ptr<const SemanticIndex>> SemanticIndex::build_from_vectors(
    std::vector<RouteSpec> routes, std::shared_ptr<const Embedder> embedder,
    const std::vector<std::vector<Embedding>>& vectors,
    const IndexOptions& options) {
  auto fail = [](std::string msg) { return Error::make(ErrorKind::internal, "semantic index: " + std::move(msg)); };
  if (!embedder) return fail("no embedder");
  if (routes.empty()) return fail("no routes");
  if (vectors.size() != routes.size()) return fail("vectors do not match the routes");
  if (options.aggregation == Aggregation::top_k_mean && options.top_k == 0) return fail("top_k must be >= 1");
  const std::vector<PartLayout>& layout = embedder->layout();
  std::unordered_set<std::string> names;
  std::vector<Route> table;
  for (std::size_t r = 0; r < routes.size(); ++r) {
    const RouteSpec& spec = routes[r];
    if (spec.name.empty()) return fail("route " + std::to_string(r) + " has no name");
    if (!names.insert(spec.name).second) return fail("duplicate route name '" + spec.name + "'");
    if (spec.utterances.empty()) return fail("route '" + spec.name + "' has no utterances");
    if (vectors[r].size() != spec.utterances.size())
      return fail("route '" + spec.name + "': vector count does not match its utterances");
    for (const Embedding& e : vectors[r])
      if (!e.matches(layout)) return fail("route '" + spec.name + "': a vector does not match the embedder layout");
    if (spec.threshold && !std::isfinite(*spec.threshold))
      return fail("route '" + spec.name + "': threshold must be finite");
    table.push_back(Route{spec.name, spec.threshold.value_or(options.threshold), spec.utterances.size()});
  }

  auto impl = std::make_unique<Impl>();
  // Columns: one centroid per route, or one per utterance.
  std::vector<std::vector<const EmbeddingPart*>> column_parts;  // [part][column]
  std::vector<Embedding> centroids;
  column_parts.resize(layout.size());
  if (options.aggregation == Aggregation::centroid) {
    centroids.resize(routes.size());
    for (std::size_t r = 0; r < routes.size(); ++r) {
      for (std::size_t p = 0; p < layout.size(); ++p) {
        std::vector<const EmbeddingPart*> members;
        for (const Embedding& e : vectors[r]) members.push_back(&e.parts[p]);
        EmbeddingPart mean = layout[p].sparse ? sparse_mean(members, layout[p]) : dense_mean(members, layout[p]);
        normalize(mean);
        centroids[r].parts.push_back(std::move(mean));
      }
    }
    for (std::size_t p = 0; p < layout.size(); ++p)
      for (const Embedding& c : centroids) column_parts[p].push_back(&c.parts[p]);
    impl->columns = routes.size();
  } else {
    impl->route_begin.push_back(0);
    for (std::size_t r = 0; r < routes.size(); ++r) {
      for (const Embedding& e : vectors[r])
        for (std::size_t p = 0; p < layout.size(); ++p) column_parts[p].push_back(&e.parts[p]);
      impl->route_begin.push_back(static_cast<std::uint32_t>(impl->route_begin.back() + vectors[r].size()));
    }
    impl->columns = impl->route_begin.back();
  }

  for (std::size_t p = 0; p < layout.size(); ++p) {
    PartStore store;
    store.layout = layout[p];
    const auto& cols = column_parts[p];
    if (layout[p].sparse) {
      const std::size_t dim = layout[p].dim, n_cols = cols.size();
      std::vector<std::uint32_t> count(dim, 0);
      for (const EmbeddingPart* c : cols)
        for (std::uint32_t b : c->indices) ++count[b];
      // Dense when more than 1/8 of the columns share the bucket: an 8-wide axpy then beats the
      // scattered updates.
      const std::size_t dense_min = std::max<std::size_t>(8, n_cols / 8);
      std::vector<std::uint32_t> dense_row(dim, PartStore::kDenseBit);  // kDenseBit = not dense
      std::uint32_t n_dense = 0;
      for (std::size_t b = 0; b < dim; ++b)
        if (count[b] > dense_min && n_dense < PartStore::kDenseBit - 1) dense_row[b] = n_dense++;
      store.dense_rows.assign(static_cast<std::size_t>(n_dense) * n_cols, 0.0f);
      store.present.assign((dim + 63) / 64, 0);
      store.rank_base.assign(store.present.size(), 0);
      std::vector<std::uint32_t> rank(dim, 0);
      std::uint32_t n_present = 0;
      for (std::size_t b = 0; b < dim; ++b) {
        if (b % 64 == 0) store.rank_base[b / 64] = n_present;
        if (count[b] == 0) continue;
        store.present[b / 64] |= std::uint64_t{1} << (b % 64);
        rank[b] = n_present++;
      }
      store.offsets.assign(static_cast<std::size_t>(n_present) + 1, 0);
      for (std::size_t b = 0; b < dim; ++b)
        if (count[b] != 0)
          store.offsets[rank[b] + 1] = dense_row[b] != PartStore::kDenseBit ? 1 : count[b];
      for (std::size_t r = 0; r < n_present; ++r) store.offsets[r + 1] += store.offsets[r];
      store.cols.resize(store.offsets[n_present]);
      store.vals.resize(store.offsets[n_present]);
      std::vector<std::uint32_t> fill(n_present, 0);
      for (std::size_t b = 0; b < dim; ++b) {
        if (count[b] == 0) continue;
        fill[rank[b]] = store.offsets[rank[b]];
        if (dense_row[b] != PartStore::kDenseBit) {
          store.cols[store.offsets[rank[b]]] = PartStore::kDenseBit | dense_row[b];
          store.vals[store.offsets[rank[b]]] = 0.0f;
        }
      }
      for (std::size_t c = 0; c < n_cols; ++c) {
        for (std::size_t i = 0; i < cols[c]->indices.size(); ++i) {
          const std::uint32_t b = cols[c]->indices[i];
          if (dense_row[b] != PartStore::kDenseBit) {
            store.dense_rows[static_cast<std::size_t>(dense_row[b]) * n_cols + c] = cols[c]->values[i];
            continue;
          }
          const std::uint32_t slot = fill[rank[b]]++;
          store.cols[slot] = static_cast<std::uint32_t>(c);
          store.vals[slot] = cols[c]->values[i];
        }
      }
    } else {
      store.rows.resize(cols.size() * layout[p].dim);
      for (std::size_t c = 0; c < cols.size(); ++c)
        std::copy(cols[c]->values.begin(), cols[c]->values.end(), store.rows.begin() + c * layout[p].dim);
    }
    impl->parts.push_back(std::move(store));
  }
  return std::shared_ptr<const SemanticIndex>(
      new SemanticIndex(std::move(impl), std::move(table), std::move(embedder), options));
}

RouteMatch SemanticIndex::score(std::string_view text) const { return score(embedder_->embed(text)); }

RouteMatch SemanticIndex::score(const Embedding& query) const {
  const std::size_t n_routes = routes_.size();
  if (!query.matches(embedder_->layout())) return decide(std::vector<float>(n_routes, 0.0f));

  Scratch& s = scratch();
  s.acc.assign(impl_->columns, 0.0f);
  float* acc = s.acc.data();
  for (std::size_t p = 0; p < impl_->parts.size(); ++p) {
    const PartStore& store = impl_->parts[p];
    const EmbeddingPart& q = query.parts[p];
    const float w = store.layout.weight;
    if (store.layout.sparse) {
      // Plain pointers, read once: most query features are absent from every column, and that test
      // (one bit) should cost a few instructions, not reloads of the vectors after each axpy call.
      const std::uint32_t* off = store.offsets.data();
      const std::uint32_t* cols = store.cols.data();
      const float* vals = store.vals.data();
      const std::uint64_t* present = store.present.data();
      const std::uint32_t* rank_base = store.rank_base.data();
      const std::uint32_t* q_indices = q.indices.data();
      const float* q_values = q.values.data();
      const std::size_t n_query = q.indices.size();
      const std::size_t n_cols = impl_->columns;
      for (std::size_t i = 0; i < n_query; ++i) {
        const std::uint32_t b = q_indices[i];
        const std::uint64_t word = present[b >> 6];
        if (((word >> (b & 63)) & 1) == 0) continue;  // no column has this feature
        const std::uint64_t below = word & ((std::uint64_t{1} << (b & 63)) - 1);
        const std::uint32_t r = rank_base[b >> 6] + static_cast<std::uint32_t>(std::popcount(below));
        const float qv = q_values[i] * w;
        std::uint32_t j = off[r];
        const std::uint32_t end = off[r + 1];
        if (cols[j] & PartStore::kDenseBit) {
          const std::size_t row = cols[j] & ~PartStore::kDenseBit;
          kernels::axpy(acc, store.dense_rows.data() + row * n_cols, qv, n_cols);
          continue;
        }
        for (; j < end; ++j) acc[cols[j]] += qv * vals[j];
      }
    } else {
      kernels::matvec_accumulate(store.rows.data(), impl_->columns, store.layout.dim, q.values.data(), w, acc);
    }
  }

  std::vector<float> scores(n_routes);
  switch (options_.aggregation) {
    case Aggregation::centroid:
      std::copy(acc, acc + n_routes, scores.begin());
      break;
    case Aggregation::max:
      for (std::size_t r = 0; r < n_routes; ++r)
        scores[r] = *std::max_element(acc + impl_->route_begin[r], acc + impl_->route_begin[r + 1]);
      break;
    case Aggregation::top_k_mean:
      for (std::size_t r = 0; r < n_routes; ++r) {
        s.topk.assign(acc + impl_->route_begin[r], acc + impl_->route_begin[r + 1]);
        const std::size_t k = std::min(options_.top_k, s.topk.size());
        std::nth_element(s.topk.begin(), s.topk.begin() + static_cast<std::ptrdiff_t>(k - 1), s.topk.end(),
                         std::greater<>());
        float sum = 0;
        for (std::size_t i = 0; i < k; ++i) sum += s.topk[i];
        scores[r] = sum / static_cast<float>(k);
      }
      break;
  }
  return decide(std::move(scores));
}

RouteMatch SemanticIndex::decide(std::vector<float> scores) const {
  RouteMatch m;
  m.scores = std::move(scores);
  float chosen = -std::numeric_limits<float>::infinity();
  for (std::size_t r = 0; r < m.scores.size() && r < routes_.size(); ++r) {
    const float v = m.scores[r];
    if (m.best == RouteMatch::npos || v > m.best_score) {
      m.best = r;
      m.best_score = v;
    }
    if (v >= routes_[r].threshold && (!m.route || v > chosen)) {
      m.route = r;
      chosen = v;
    }
  }
  return m;
}

std::size_t SemanticIndex::memory_bytes() const {
  std::size_t n = sizeof(*this) + sizeof(Impl) + impl_->route_begin.capacity() * 4;
  for (const PartStore& p : impl_->parts) n += p.memory_bytes();
  for (const Route& r : routes_) n += sizeof(Route) + r.name.capacity();
  return n;
}

}  // namespace sy::embed

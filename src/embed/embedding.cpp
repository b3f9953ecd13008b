#include "switchyard/embed/embedding.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

#include "kernels.hpp"

namespace sy::embed {

bool Embedding::matches(const std::vector<PartLayout>& layout) const {
  if (parts.size() != layout.size()) return false;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const EmbeddingPart& p = parts[i];
    const PartLayout& l = layout[i];
    if (p.dim != l.dim || p.sparse != l.sparse || p.weight != l.weight) return false;
    if (p.sparse ? p.indices.size() != p.values.size() : (p.values.size() != p.dim || !p.indices.empty()))
      return false;
  }
  return true;
}

std::size_t Embedding::memory_bytes() const {
  std::size_t n = parts.capacity() * sizeof(EmbeddingPart);
  for (const auto& p : parts) n += p.memory_bytes();
  return n;
}

float dot(const EmbeddingPart& a, const EmbeddingPart& b) {
  if (a.dim != b.dim) return 0.0f;
  if (!a.sparse && !b.sparse) return kernels::dot(a.values.data(), b.values.data(), a.values.size());
  if (a.sparse && !b.sparse) return dot(b, a);
  if (!a.sparse) {  // a dense, b sparse
    float s = 0;
    for (std::size_t i = 0; i < b.indices.size(); ++i) s += a.values[b.indices[i]] * b.values[i];
    return s;
  }
  // Both sparse and unordered: sort copies and merge. Not used on the request path (the semantic
  // index keeps an inverted index instead).
  auto sorted = [](const EmbeddingPart& p) {
    std::vector<std::pair<std::uint32_t, float>> v(p.indices.size());
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = {p.indices[i], p.values[i]};
    std::sort(v.begin(), v.end());
    return v;
  };
  const auto x = sorted(a), y = sorted(b);
  float s = 0;
  std::size_t i = 0, j = 0;
  while (i < x.size() && j < y.size()) {
    if (x[i].first < y[j].first) {
      ++i;
    } else if (y[j].first < x[i].first) {
      ++j;
    } else {
      s += x[i++].second * y[j++].second;
    }
  }
  return s;
}

float similarity(const Embedding& a, const Embedding& b) {
  if (a.parts.size() != b.parts.size()) return 0.0f;
  float s = 0;
  for (std::size_t i = 0; i < a.parts.size(); ++i) {
    if (a.parts[i].sparse != b.parts[i].sparse) return 0.0f;
    s += a.parts[i].weight * dot(a.parts[i], b.parts[i]);
  }
  return s;
}

void normalize(EmbeddingPart& part) {
  double ss = 0;
  for (float v : part.values) ss += static_cast<double>(v) * v;
  if (ss <= 0) return;
  const float inv = static_cast<float>(1.0 / std::sqrt(ss));
  for (float& v : part.values) v *= inv;
}

}  // namespace sy::embed

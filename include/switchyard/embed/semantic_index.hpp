#pragma once
/// Route utterances embedded once, scored against a prompt: the core of the semantic router.
///
/// Built from routes {name, utterances, optional threshold}, an `Embedder` and an aggregation rule.
/// `score(text)` embeds the prompt and returns every route's score plus the decision: the
/// highest-scoring route whose score clears its threshold, or no route (= the caller's fallback).
/// `score(const Embedding&)` takes a vector computed elsewhere (a worker pool, a remote embedding
/// service, a cache) and does only the cheap part.
///
/// Storage keeps sparse parts as an inverted index (bucket -> postings), so hashed vectors are never
/// expanded to dense form; dense parts are a row-major matrix scored with an AVX2 dot product.
///
/// Thread-safety: immutable after `build`; `score()` is const and safe to call from any number of
/// threads at once. Scratch is thread-local. Share it as `std::shared_ptr<const SemanticIndex>`.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"
#include "switchyard/embed/embedder.hpp"

namespace sy::embed {

/// How utterance similarities become one route score.
enum class Aggregation : std::uint8_t {
  centroid,    ///< cosine to the route centroid (mean of the utterance vectors, re-normalised per part)
  max,         ///< best single utterance
  top_k_mean,  ///< mean of the route's `top_k` best utterances
};
std::string_view to_string(Aggregation a);
/// "centroid", "max", "top_k_mean" (also "top-k"). nullopt when unknown.
std::optional<Aggregation> parse_aggregation(std::string_view s);

/// One route as configured.
struct RouteSpec {
  std::string name;
  std::vector<std::string> utterances;
  std::optional<float> threshold;  ///< overrides IndexOptions::threshold for this route
};

struct IndexOptions {
  Aggregation aggregation = Aggregation::centroid;
  std::size_t top_k = 3;  ///< for top_k_mean (clipped to the route's size)
  /// Minimum score a route must reach to be chosen, for routes without their own threshold.
  /// -infinity: never fall back.
  float threshold = -std::numeric_limits<float>::infinity();
};

/// The result of scoring one prompt.
struct RouteMatch {
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  std::vector<float> scores;          ///< per route, in `SemanticIndex::routes()` order
  std::size_t best = npos;            ///< argmax of scores, regardless of thresholds
  float best_score = -std::numeric_limits<float>::infinity();
  std::optional<std::size_t> route;   ///< the decision; nullopt = no route cleared its threshold (fallback)
};

class SemanticIndex {
 public:
  struct Route {
    std::string name;
    float threshold;        ///< effective threshold (route's own or the index default)
    std::size_t utterances;
  };

  /// Embeds every utterance with `embedder` (sequentially: for a dense embedder, expect ~2-5 ms per
  /// utterance, so build off the io threads). Errors: no routes, a route without utterances,
  /// duplicate route names, a null embedder.
  static Result<std::shared_ptr<const SemanticIndex>> build(std::vector<RouteSpec> routes,
                                                            std::shared_ptr<const Embedder> embedder,
                                                            const IndexOptions& options = {});

  /// Same with the utterance vectors already computed: `vectors[r][u]` embeds
  /// `routes[r].utterances[u]` and must match `embedder->layout()`.
  static Result<std::shared_ptr<const SemanticIndex>> build_from_vectors(std::vector<RouteSpec> routes,
                                                            std::shared_ptr<const Embedder> embedder,
                                                            const std::vector<std::vector<Embedding>>& vectors,
                                                            const IndexOptions& options = {});

  /// Embeds `text` and scores it. Costs what `embedder().embed()` costs plus the lookup.
  RouteMatch score(std::string_view text) const;
  /// Scores a precomputed query vector (must match `embedder().layout()`; otherwise every score is 0).
  RouteMatch score(const Embedding& query) const;

  /// Applies the thresholds to per-route scores (as `score` does). Exposed for offline tuning.
  RouteMatch decide(std::vector<float> scores) const;

  const std::vector<Route>& routes() const { return routes_; }
  const Embedder& embedder() const { return *embedder_; }
  const std::shared_ptr<const Embedder>& embedder_ptr() const { return embedder_; }
  Aggregation aggregation() const { return options_.aggregation; }
  /// Bytes held by the utterance index itself (postings, matrices, route table), excluding the embedder.
  std::size_t memory_bytes() const;

  ~SemanticIndex();
  SemanticIndex(const SemanticIndex&) = delete;
  SemanticIndex& operator=(const SemanticIndex&) = delete;

 private:
  struct Impl;
  SemanticIndex(std::unique_ptr<Impl> impl, std::vector<Route> routes, std::shared_ptr<const Embedder> embedder,
                const IndexOptions& options);
  std::unique_ptr<Impl> impl_;
  std::vector<Route> routes_;
  std::shared_ptr<const Embedder> embedder_;
  IndexOptions options_;
};

}  // namespace sy::embed

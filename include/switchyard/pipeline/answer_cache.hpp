#pragma once
/// A router's answer cache (YAML `cache:` on a router, opt-in): a request whose context matches an
/// earlier one's and whose last user message is the same text (exact) or close enough by embedding
/// similarity (similar) is answered with the earlier answer, without calling a model.
///
/// The context is everything but the last user message's text: the other messages (roles and texts),
/// the request's parameters (all top-level fields but model, stream, stream_options, user, metadata and
/// the switchyard extension), and the scope (the caller's gateway key unless `scope: global`). A similar
/// hit also needs the same numbers and the same negations in both texts, the known false hits of semantic
/// caches ("can I" vs "can't I", "5 mg" vs "50 mg"). Requests with images are never cached. Entries live
/// `ttl` and at most `max_entries` (the oldest go first); a reload starts an empty cache.
///
/// Thread-safe: one mutex per cache, held to copy a few fields; embeddings are computed outside it.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "switchyard/config/node.hpp"
#include "switchyard/core/request.hpp"
#include "switchyard/core/sha256.hpp"
#include "switchyard/core/usage.hpp"
#include "switchyard/embed/embedding.hpp"

namespace sy::embed {
class Embedder;
}

namespace sy::pipeline {

struct AnswerCacheConfig {
  double similarity = 0.95;  ///< embedding similarity for a similar hit (hashing embedder, 0..1)
  std::chrono::milliseconds ttl{10 * 60 * 1000};
  std::size_t max_entries = 1000;
  bool global = false;  ///< scope: global (shared by every caller) instead of per gateway key
};

/// What a request is looked up and stored by; computed once per request.
struct CacheProbe {
  Sha256 context{};
  std::string text;  ///< the last user message
  embed::Embedding embedding;
  std::string guard;  ///< the numbers and negations of `text`, normalised
};

struct CacheHit {
  std::string body;   ///< the cached chat.completion body
  std::string model;  ///< the model that answered it
  bool exact = false;
  double similarity = 1;
};

class AnswerCache {
 public:
  AnswerCache(AnswerCacheConfig config, std::shared_ptr<const embed::Embedder> embedder);
  /// Reads `cache:` of a router; null with errors in `d` when invalid.
  static std::shared_ptr<AnswerCache> from_yaml(const config::Node& n, config::Diagnostics& d);

  /// The probe of a chat request (null: not cacheable, e.g. it has images). `scope` is the gateway key's
  /// name (ignored with scope: global).
  std::optional<CacheProbe> probe(const Request& request, std::string_view scope) const;
  std::optional<CacheHit> lookup(const CacheProbe& p, std::chrono::steady_clock::time_point now) const;
  void store(const CacheProbe& p, std::string body, std::string model, std::chrono::steady_clock::time_point now);
  std::size_t size() const;

  /// The numbers and negations of `text` that a similar hit must share ("5 mg" and "50 mg" differ).
  static std::string guard_of(std::string_view text);

 private:
  struct Entry {
    std::string text, guard, body, model;
    embed::Embedding embedding;
    std::chrono::steady_clock::time_point expires;
    std::uint64_t seq = 0;
  };
  struct ContextHash {
    std::size_t operator()(const Sha256& h) const;
  };
  void evict_oldest();
  AnswerCacheConfig config_;
  std::shared_ptr<const embed::Embedder> embedder_;
  mutable std::mutex mu_;
  std::unordered_map<Sha256, std::vector<Entry>, ContextHash> by_context_;
  std::deque<std::pair<std::uint64_t, Sha256>> order_;  ///< insertion order, for eviction
  std::uint64_t next_seq_ = 0;
  std::size_t size_ = 0;
};

}  // namespace sy::pipeline

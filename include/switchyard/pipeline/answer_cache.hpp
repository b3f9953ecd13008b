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
/// `backend: redis` (needs the config's `state:` section) shares answers between replicas: every stored
/// answer is also pushed to a Redis list per context (the newest kSharedPerContext, expiring with the
/// ttl), and a request the local memory misses is looked up there, matched the same way (exact text, or
/// similarity with the same numbers and negations), and kept locally for its remaining ttl. Redis down
/// or slow is a miss, never an error.
///
/// Thread-safe: one mutex per cache, held to copy a few fields; embeddings are computed outside it.
#include <boost/asio/awaitable.hpp>
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
namespace sy::state {
class SharedState;
}

namespace sy::pipeline {

struct AnswerCacheConfig {
  double similarity = 0.95;  ///< embedding similarity for a similar hit (hashing embedder, 0..1)
  std::chrono::milliseconds ttl{10 * 60 * 1000};
  std::size_t max_entries = 1000;
  bool global = false;  ///< scope: global (shared by every caller) instead of per gateway key
  bool shared = false;  ///< backend: redis (replicas share answers) instead of memory
};

/// The most recent answers kept in Redis per context, and the largest answer shared there.
inline constexpr std::size_t kSharedPerContext = 16;
inline constexpr std::size_t kMaxSharedBytes = 1u << 20;

/// What a request is looked up and stored by; computed once per request. The embedding and the guard
/// are computed only when needed (a similar match, a store): an exact hit and a miss in an empty context
/// cost neither.
struct CacheProbe {
  Sha256 context{};
  std::string text;  ///< the last user message
  bool similar_ready = false;  ///< embedding and guard computed
  embed::Embedding embedding;
  std::string guard;  ///< the numbers and negations of `text`, normalised
};

struct CacheHit {
  std::string body;   ///< the cached chat.completion body
  std::string model;  ///< the model that answered it
  bool exact = false;
  double similarity = 1;
  bool shared = false;  ///< found in Redis: another replica (or an earlier runtime) stored it
};

/// One answer as Redis holds it (AnswerCache::encode / decode).
struct SharedAnswer {
  std::string text, guard, body, model;
  std::int64_t expires_unix_ms = 0;
};

class AnswerCache {
 public:
  /// `shared` and `redis_key_prefix` are needed with config.shared: the process's Redis state and the
  /// prefix of this cache's keys (state.prefix + "cache:" + router + ":").
  AnswerCache(AnswerCacheConfig config, std::shared_ptr<const embed::Embedder> embedder,
              state::SharedState* shared = nullptr, std::string redis_key_prefix = {});
  /// Reads `cache:` of router `router`; null with errors in `d` when invalid (`backend: redis` without a
  /// `state:` section). `shared` is the process's Redis state; without it a redis cache keeps answers in
  /// memory only (a check of the config; a state: section that a reload added).
  static std::shared_ptr<AnswerCache> from_yaml(const config::Node& n, std::string_view router, bool state_configured,
                                                state::SharedState* shared, config::Diagnostics& d);

  /// The probe of a chat request (null: not cacheable, e.g. it has images). `scope` is the gateway key's
  /// name (ignored with scope: global).
  std::optional<CacheProbe> probe(const Request& request, std::string_view scope) const;
  /// The local memory's answer.
  std::optional<CacheHit> lookup(CacheProbe& p, std::chrono::steady_clock::time_point now) const;
  /// The local memory's answer, else (backend: redis) the shared one, which is then kept locally too.
  boost::asio::awaitable<std::optional<CacheHit>> find(CacheProbe& p);
  /// Keeps an answer for `ttl` (locally, and with backend: redis in Redis too, without waiting for it).
  void store(CacheProbe& p, std::string body, std::string model, std::chrono::steady_clock::time_point now);
  std::size_t size() const;

  /// The numbers and negations of `text` that a similar hit must share ("5 mg" and "50 mg" differ).
  static std::string guard_of(std::string_view text);

  /// An answer as a Redis list element, and back: nullopt for anything that is not one (Redis is shared
  /// state: what comes back is checked like any input).
  static std::string encode(const SharedAnswer& a);
  static std::optional<SharedAnswer> decode(std::string_view element);

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
  /// Computes the probe's embedding and guard, once.
  void prepare_similar(CacheProbe& p) const;
  /// Adds an entry to `context`'s list (replacing the same text, dropping expired ones, evicting beyond the bound).
  void insert(const Sha256& context, Entry entry, std::chrono::steady_clock::time_point now);
  std::string redis_key(const CacheProbe& p) const;
  AnswerCacheConfig config_;
  std::shared_ptr<const embed::Embedder> embedder_;
  state::SharedState* shared_ = nullptr;
  std::string redis_prefix_;
  mutable std::mutex mu_;
  std::unordered_map<Sha256, std::vector<Entry>, ContextHash> by_context_;
  std::deque<std::pair<std::uint64_t, Sha256>> order_;  ///< insertion order, for eviction
  std::uint64_t next_seq_ = 0;
  std::size_t size_ = 0;
};

}  // namespace sy::pipeline

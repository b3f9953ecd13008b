// Semantic stage: routes defined by example utterances, scored against the prompt by an embedder
// (hashing, use-lite or hybrid). The route is the best-matching centroid, or with `classifier:
// logistic` the choice of a head trained on the utterances (at load, or read from a file written by
// `switchyard train-semantic`). Below the route's threshold the stage falls back to its fallback
// target, or passes. Dense embedders run on the CPU pool, never on an io thread, under a per-request
// time budget that fails open (to the fallback), and their prompt vectors are cached (LRU).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <list>
#include <mutex>
#include <unordered_map>

#include "switchyard/core/numbers.hpp"
#include "switchyard/core/sha256.hpp"
#include "switchyard/embed/hashing_embedder.hpp"
#include "switchyard/embed/hybrid_embedder.hpp"
#include "switchyard/embed/semantic_head.hpp"
#include "switchyard/embed/semantic_index.hpp"
#include "switchyard/embed/use_lite_embedder.hpp"
#include "switchyard/pipeline/semantic_training.hpp"
#include "switchyard/pipeline/stage.hpp"

namespace sy::pipeline {
namespace {

namespace net = boost::asio;
using namespace boost::asio::experimental::awaitable_operators;
using namespace std::string_view_literals;

std::string fmt2(double v) { return fixed(v, 2); }

/// A small thread-safe LRU of prompt embeddings (dense embedders only: hashing is cheaper than a lock),
/// keyed by the SHA-256 of the (clipped) text: a key nobody can make collide, so a prompt is never routed
/// with another prompt's vector, and 32 bytes per entry whatever the prompt's length (~50 µs to hash the
/// longest, against milliseconds to embed it).
class EmbeddingCache {
 public:
  explicit EmbeddingCache(size_t capacity) : capacity_(capacity) {}
  std::optional<embed::Embedding> get(const Sha256& key) {
    std::lock_guard lock(mu_);
    auto it = map_.find(key);
    if (it == map_.end()) return std::nullopt;
    order_.splice(order_.begin(), order_, it->second);
    return it->second->vector;
  }
  void put(const Sha256& key, const embed::Embedding& v) {
    if (capacity_ == 0) return;
    std::lock_guard lock(mu_);
    if (auto it = map_.find(key); it != map_.end()) return;
    order_.push_front(Entry{key, v});
    map_[key] = order_.begin();
    if (map_.size() > capacity_) {
      map_.erase(order_.back().key);
      order_.pop_back();
    }
  }

 private:
  struct Entry {
    Sha256 key;
    embed::Embedding vector;
  };
  struct KeyHash {
    std::size_t operator()(const Sha256& k) const {
      std::size_t h;
      std::memcpy(&h, k.data(), sizeof h);
      return h;
    }
  };
  std::mutex mu_;
  size_t capacity_;
  std::list<Entry> order_;
  std::unordered_map<Sha256, std::list<Entry>::iterator, KeyHash> map_;
};

class SemanticStage final : public Stage {
 public:
  static constexpr std::string_view kType = "semantic";
  std::string_view type() const override { return kType; }

  std::shared_ptr<const embed::SemanticIndex> index;
  std::shared_ptr<const embed::SemanticHead> head;  // classifier: logistic; null for centroid matching
  float min_probability = 0;                        // head: also fall back below this probability
  std::vector<std::string> targets;  // per route
  std::string fallback;              // empty: pass
  bool whole_conversation = false;
  size_t max_chars = 8192;
  std::chrono::milliseconds budget{50};
  net::thread_pool* pool = nullptr;
  std::unique_ptr<EmbeddingCache> cache = std::make_unique<EmbeddingCache>(4096);

  net::awaitable<Decision> decide(StageContext& ctx) const override {
    Decision d;
    if (decide_now(ctx, d)) co_return d;
    // The embedder is CPU-heavy and this text is in no cache: embedded on the pool, within the budget.
    const std::string_view text = prompt(ctx);
    const embed::Embedder* e = &index->embedder();
    std::optional<embed::Embedding> query = co_await embed_off_thread(e, text);
    if (!query) {
      // Over budget: fail open rather than hold the request.
      return_fallback(d, "semantic:timeout budget=" + std::to_string(budget.count()) + "ms");
      co_return d;
    }
    cache->put(sha256(text), *query);
    ctx.features.store_embedding(e, text, std::move(*query));
    decide_from(*ctx.features.cached_embedding(e, text), d);
    co_return d;
  }

  /// Decides at once when the prompt's embedding is at hand: computed here by an in-process embedder,
  /// or found in the request's or the stage's cache. A CPU-heavy embedder's miss is left to decide().
  bool decide_now(StageContext& ctx, Decision& d) const override {
    const std::string_view text = prompt(ctx);
    const embed::Embedder* e = &index->embedder();
    const embed::Embedding* cached = ctx.features.cached_embedding(e, text);
    if (!cached) {
      std::optional<embed::Embedding> query;
      if (!e->cpu_heavy() || !pool) {
        query = e->embed(text);
      } else {
        query = cache->get(sha256(text));
        if (!query) return false;
      }
      ctx.features.store_embedding(e, text, std::move(*query));
      cached = ctx.features.cached_embedding(e, text);
    }
    decide_from(*cached, d);
    return true;
  }

 private:
  /// The text the stage embeds: the last user message (or the whole conversation), bounded.
  std::string_view prompt(StageContext& ctx) const {
    const Request& req = ctx.features.request();
    std::string_view text = whole_conversation ? std::string_view(req.all_text()) : req.last_user_text();
    return text.size() > max_chars ? text.substr(0, max_chars) : text;
  }

  void decide_from(const embed::Embedding& query, Decision& d) const {
    embed::RouteMatch m = index->score(query);
    const auto& routes = index->routes();
    if (head) {
      decide_with_head(query, m, d);
      return;
    }
    d.scores.reserve(std::min(routes.size(), m.scores.size()));
    for (size_t i = 0; i < routes.size() && i < m.scores.size(); ++i) d.scores.emplace_back(routes[i].name, m.scores[i]);
    // Keep the debug output short: the 8 best routes.
    std::sort(d.scores.begin(), d.scores.end(), [](auto& a, auto& b) { return a.second > b.second; });
    if (d.scores.size() > 8) d.scores.resize(8);
    if (m.route) {
      const auto& r = routes[*m.route];
      d.kind = Decision::Kind::route;
      d.target = targets[*m.route];
      d.reason = "semantic:" + r.name + " score=" + fmt2(m.scores[*m.route]) + ">=" + fmt2(r.threshold);
      return;
    }
    // Appended in place, in one buffer: the reason is built for every request that no route takes.
    std::string why;
    why.reserve(96);
    why.append("semantic:below threshold"sv);
    if (m.best != embed::RouteMatch::npos) {
      why.append(" best="sv).append(routes[m.best].name).append(" score="sv).append(fmt2(m.best_score));
      why.append("<"sv).append(fmt2(routes[m.best].threshold));
    }
    return_fallback(d, std::move(why));
  }

  /// The head picks the route; its centroid similarity must still clear the route's threshold (how far
  /// the prompt is from every route, which a softmax cannot tell), and its calibrated probability
  /// `min_probability` (how sure the head is between routes).
  void decide_with_head(const embed::Embedding& q, const embed::RouteMatch& m, Decision& d) const {
    const auto& routes = index->routes();
    const embed::HeadPrediction p = head->predict(q);
    for (size_t i = 0; i < routes.size() && i < p.probabilities.size(); ++i)
      d.scores.emplace_back(routes[i].name, p.probabilities[i]);
    std::sort(d.scores.begin(), d.scores.end(), [](auto& a, auto& b) { return a.second > b.second; });
    if (d.scores.size() > 8) d.scores.resize(8);
    const auto& r = routes[p.best];
    const float sim = p.best < m.scores.size() ? m.scores[p.best] : 0.0f;
    const std::string what = "semantic:" + r.name + " p=" + fmt2(p.confidence) + " score=" + fmt2(sim);
    if (sim >= r.threshold && p.confidence >= min_probability) {
      d.kind = Decision::Kind::route;
      d.target = targets[p.best];
      d.reason = what + ">=" + fmt2(r.threshold);
      return;
    }
    return_fallback(d, "semantic:below threshold " + what.substr(9) +
                           (sim < r.threshold ? "<" + fmt2(r.threshold) : " p<" + fmt2(min_probability)));
  }

  void return_fallback(Decision& d, std::string why) const {
    if (fallback.empty()) {
      d.kind = Decision::Kind::pass;
      d.reason = std::move(why);
    } else {
      d.kind = Decision::Kind::route;
      d.target = fallback;
      d.reason = std::move(why) + " -> fallback";
    }
  }

  net::awaitable<std::optional<embed::Embedding>> embed_off_thread(const embed::Embedder* e, std::string_view text) const {
    // The work owns its inputs: if the budget runs out first, it finishes on the pool and is dropped.
    auto embedder = index->embedder_ptr();
    auto input = std::make_shared<std::string>(text);
    auto work = [embedder, input]() -> net::awaitable<embed::Embedding> { co_return embedder->embed(*input); };
    net::steady_timer timer(co_await net::this_coro::executor, budget);
    auto result = co_await (net::co_spawn(*pool, work(), net::use_awaitable) ||
                            timer.async_wait(net::as_tuple(net::use_awaitable)));
    (void)e;
    if (result.index() == 0) co_return std::get<0>(std::move(result));
    co_return std::nullopt;
  }
};

std::shared_ptr<const embed::Embedder> load_use_lite(const std::string& path, BuildContext& ctx, const config::Node& at,
                                                     config::Diagnostics& d) {
  std::string key = "use-lite:" + path;
  if (ctx.embedder_cache) {
    if (auto it = ctx.embedder_cache->find(key); it != ctx.embedder_cache->end()) return it->second;
  }
  auto loaded = embed::UseLiteEmbedder::load(path);
  if (!loaded) {
    at.error(d, loaded.error().message + " (run scripts/fetch-use-lite.sh)");
    return nullptr;
  }
  std::shared_ptr<const embed::Embedder> e = *loaded;
  if (ctx.embedder_cache) (*ctx.embedder_cache)[key] = e;
  return e;
}

/// `routes:` and their utterances (inline or one per line from a file); each route's resolved target
/// goes to `targets`, every utterance to `corpus`. False when there are none at all.
bool read_routes(const config::Node& n, BuildContext& ctx, config::Diagnostics& d, std::vector<embed::RouteSpec>& specs,
                 std::vector<std::string>& corpus, std::vector<std::string>& targets) {
  const config::Node* routes = n.get("routes");
  if (!routes || !routes->is_sequence() || routes->items().empty()) {
    (routes ? *routes : n).error(d, "a semantic stage needs a non-empty list of routes");
    return false;
  }
  for (const auto& rn : routes->items()) {
    rn.check_keys({"name", "target", "threshold", "utterances", "utterances_file"}, d);
    embed::RouteSpec spec;
    spec.name = rn.str("name", d, true).value_or("");
    auto target = rn.str("target", d, true);
    std::string resolved = target ? ctx.resolve_target(*target) : "";
    if (target && resolved.empty()) rn.get("target")->error(d, "unknown model or tier \"" + *target + "\"");
    if (auto t = rn.number("threshold", d, -1, 1)) spec.threshold = static_cast<float>(*t);
    if (auto u = rn.str_list("utterances", d)) spec.utterances = *u;
    if (auto f = rn.str("utterances_file", d)) {
      std::ifstream in(ctx.resolve_path(*f));
      if (!in) {
        rn.get("utterances_file")->error(d, "cannot read " + ctx.resolve_path(*f));
      } else {
        for (std::string line; std::getline(in, line);) {
          if (!line.empty() && line.back() == '\r') line.pop_back();
          if (!line.empty() && line.front() != '#') spec.utterances.push_back(line);
        }
      }
    }
    if (spec.utterances.empty()) rn.error(d, "route \"" + spec.name + "\" has no utterances");
    corpus.insert(corpus.end(), spec.utterances.begin(), spec.utterances.end());
    targets.push_back(resolved);
    specs.push_back(std::move(spec));
  }
  return true;
}

/// The embedder the stage names: "hashing" (default), "use-lite", "hybrid", or a map {type, weight, model_path}.
struct EmbedderChoice {
  std::string type = "hashing";
  float weight = 0.5f;
  std::string model_path = embed::UseLiteEmbedder::default_model_path();
};

EmbedderChoice read_embedder_choice(const config::Node& n, BuildContext& ctx, config::Diagnostics& d) {
  EmbedderChoice c;
  const config::Node* e = n.get("embedder");
  if (!e || e->is_null()) return c;
  if (e->is_scalar()) {
    c.type = e->scalar();
  } else if (e->is_map()) {
    e->check_keys({"type", "weight", "model_path"}, d);
    c.type = e->str("type", d, true).value_or("hashing");
    if (auto w = e->number("weight", d, 0, 1)) c.weight = static_cast<float>(*w);
    if (auto p = e->str("model_path", d)) c.model_path = ctx.resolve_path(*p);
  } else {
    e->error(d, "expected hashing, use-lite, hybrid or a map with type");
  }
  return c;
}

/// Builds (or reuses) the chosen embedder, the hashing one fitted on `corpus`; null after an error.
/// `default_threshold` is set to the embedder's: between the typical top scores of in-scope and
/// out-of-scope prompts measured on CLINC150 (see src/embed/README.md); overridden per stage or route.
std::shared_ptr<const embed::Embedder> build_embedder(const EmbedderChoice& choice, const std::vector<std::string>& corpus,
                                                      const config::Node& n, BuildContext& ctx, config::Diagnostics& d,
                                                      float& default_threshold) {
  auto hashing = [&]() -> std::shared_ptr<const embed::Embedder> {
    auto h = embed::HashingEmbedder::create(embed::HashingOptions{}, corpus);
    if (!h) {
      n.error(d, h.error().message);
      return nullptr;
    }
    return *h;
  };
  const config::Node& at = n.get("embedder") ? *n.get("embedder") : n;
  if (choice.type == "hashing") {
    default_threshold = 0.22f;
    return hashing();
  }
  if (choice.type == "use-lite") {
    default_threshold = 0.62f;
    return load_use_lite(choice.model_path, ctx, at, d);
  }
  if (choice.type == "hybrid") {
    default_threshold = 0.41f;
    auto dense = load_use_lite(choice.model_path, ctx, at, d);
    auto sparse = hashing();
    if (!dense || !sparse) return nullptr;
    auto h = embed::HybridEmbedder::create(dense, sparse, choice.weight);
    if (!h) {
      at.error(d, h.error().message);
      return nullptr;
    }
    return *h;
  }
  at.error(d, "unknown embedder \"" + choice.type + "\" (known: hashing, use-lite, hybrid)");
  return nullptr;
}

/// The index options: threshold (default: the embedder's), aggregation, top_k.
embed::IndexOptions read_index_options(const config::Node& n, float default_threshold, config::Diagnostics& d) {
  embed::IndexOptions opts;
  opts.threshold = default_threshold;
  if (auto t = n.number("threshold", d, -1, 1)) opts.threshold = static_cast<float>(*t);
  if (auto a = n.str("aggregation", d)) {
    if (auto parsed = embed::parse_aggregation(*a)) opts.aggregation = *parsed;
    else n.get("aggregation")->error(d, "expected centroid, max or top_k_mean");
  }
  if (auto k = n.integer("top_k", d, 1, 1000)) opts.top_k = static_cast<size_t>(*k);
  return opts;
}

/// The stage's own options: fallback, text, max_chars, budget, cache_size.
void read_stage_options(const config::Node& n, BuildContext& ctx, config::Diagnostics& d, SemanticStage& stage) {
  if (auto f = n.str("fallback", d)) {
    if (*f != "pass") {
      stage.fallback = ctx.resolve_target(*f);
      if (stage.fallback.empty()) n.get("fallback")->error(d, "unknown model or tier \"" + *f + "\" (or pass)");
    }
  }
  if (auto t = n.str("text", d)) {
    if (*t == "all") stage.whole_conversation = true;
    else if (*t != "last_user") n.get("text")->error(d, "expected last_user or all");
  }
  if (auto m = n.integer("max_chars", d, 16, 1 << 24)) stage.max_chars = static_cast<size_t>(*m);
  if (auto b = n.duration_ms("budget", d)) stage.budget = std::chrono::milliseconds(*b);
  stage.pool = ctx.cpu_pool;
  if (auto c = n.integer("cache_size", d, 0, 1 << 22)) stage.cache = std::make_unique<EmbeddingCache>(static_cast<size_t>(*c));
}

/// `classifier:` centroid (default), logistic, or {type, head, l2, dense_scale, sparse_scale,
/// min_probability}.
struct ClassifierChoice {
  bool logistic = false;
  std::string head_path;  // resolved; empty: train at load
  embed::HeadOptions options;
  float min_probability = 0;
};

ClassifierChoice read_classifier(const config::Node& n, BuildContext& ctx, config::Diagnostics& d) {
  ClassifierChoice c;
  const config::Node* e = n.get("classifier");
  if (!e || e->is_null()) return c;
  std::string type;
  if (e->is_scalar()) {
    type = e->scalar();
  } else if (e->is_map()) {
    e->check_keys({"type", "head", "l2", "dense_scale", "sparse_scale", "min_probability"}, d);
    type = e->str("type", d).value_or("logistic");
    if (auto h = e->str("head", d)) c.head_path = ctx.resolve_path(*h);
    if (auto l2 = e->number("l2", d, 0, 100)) c.options.l2 = *l2;
    if (auto s = e->number("dense_scale", d, 1e-3, 1e3)) c.options.dense_scale = static_cast<float>(*s);
    if (auto s = e->number("sparse_scale", d, 1e-3, 1e3)) c.options.sparse_scale = static_cast<float>(*s);
    if (auto p = e->number("min_probability", d, 0, 1)) c.min_probability = static_cast<float>(*p);
  } else {
    e->error(d, "expected centroid, logistic or a map with type");
    return c;
  }
  if (type == "logistic") c.logistic = true;
  else if (type != "centroid") e->error(d, "unknown classifier \"" + type + "\" (known: centroid, logistic)");
  else if (e->is_map() && e->members().size() > 1) e->error(d, "head, l2, scales and min_probability need type: logistic");
  return c;
}

/// The head of a `classifier: logistic` stage: read from its file and checked against the stage's
/// routes and embedder, or trained on the utterance vectors now. Null after an error.
std::shared_ptr<const embed::SemanticHead> build_head(const ClassifierChoice& c, const std::vector<embed::RouteSpec>& specs,
                                                      const embed::Embedder& embedder,
                                                      const std::vector<std::vector<embed::Embedding>>& vectors,
                                                      const std::string& config_path, const config::Node& at,
                                                      config::Diagnostics& d) {
  const std::string retrain = " (run: switchyard train-semantic --config " + (config_path.empty() ? "CONFIG" : config_path) +
                              " --out " + c.head_path + ")";
  const std::uint64_t fingerprint = semantic_fingerprint(embedder, specs);
  std::vector<std::string> names;
  for (const auto& s : specs) names.push_back(s.name);
  if (c.head_path.empty()) {
    embed::HeadOptions o = c.options;
    o.fingerprint = fingerprint;
    // The temperature costs one more fit per fold; only min_probability uses it, so skip it otherwise
    // (the probabilities in the debug output are then uncalibrated). train-semantic always fits it.
    if (c.min_probability <= 0) o.calibration_folds = 0;
    auto h = embed::SemanticHead::train(names, std::string(embedder.type()), embedder.layout(), vectors, o);
    if (!h) {
      at.error(d, h.error().message);
      return nullptr;
    }
    return *h;
  }
  auto h = embed::SemanticHead::load(c.head_path);
  if (!h) {
    at.error(d, h.error().message + retrain);
    return nullptr;
  }
  if ((*h)->embedder_type() != embedder.type() || (*h)->layout() != embedder.layout()) {
    at.error(d, "head " + c.head_path + " was trained for the " + (*h)->embedder_type() + " embedder, not this stage's " +
                    std::string(embedder.type()) + retrain);
    return nullptr;
  }
  if ((*h)->routes() != names) {
    at.error(d, "head " + c.head_path + " was trained for other routes" + retrain);
    return nullptr;
  }
  if ((*h)->fingerprint() != fingerprint) {
    at.error(d, "head " + c.head_path + " was trained on other utterances" + retrain);
    return nullptr;
  }
  return *h;
}

/// Each route's utterances embedded (in batches: a dense embedder shares its weight passes).
std::vector<std::vector<embed::Embedding>> embed_routes(const embed::Embedder& e, const std::vector<embed::RouteSpec>& specs) {
  std::vector<std::string_view> texts;
  for (const auto& r : specs) texts.insert(texts.end(), r.utterances.begin(), r.utterances.end());
  std::vector<embed::Embedding> flat = e.embed_batch(texts);
  std::vector<std::vector<embed::Embedding>> out(specs.size());
  for (std::size_t r = 0, i = 0; r < specs.size(); ++r)
    for (std::size_t u = 0; u < specs[r].utterances.size(); ++u) out[r].push_back(std::move(flat[i++]));
  return out;
}

const std::initializer_list<std::string_view> kStageKeys = {
    "type", "name", "embedder", "aggregation", "top_k", "threshold", "routes", "fallback", "text", "max_chars", "budget",
    "cache_size", "classifier"};

}  // namespace

std::uint64_t semantic_fingerprint(const embed::Embedder& embedder, const std::vector<embed::RouteSpec>& routes) {
  std::vector<std::string> names;
  std::vector<std::vector<std::string>> utterances;
  for (const auto& r : routes) {
    names.push_back(r.name);
    utterances.push_back(r.utterances);
  }
  return embed::training_fingerprint(embedder.type(), names, utterances);
}

std::vector<SemanticTrainingSet> semantic_training_sets(const config::Config& cfg, const std::string& base_dir,
                                                        config::Diagnostics& d) {
  std::vector<SemanticTrainingSet> out;
  std::map<std::string, std::shared_ptr<const embed::Embedder>> embedders;
  BuildContext ctx{cfg, nullptr, nullptr, &embedders, base_dir, nullptr};
  // Targets do not matter for training: any name resolves to itself.
  ctx.resolve_target = [](std::string_view t) { return std::string(t); };
  for (const auto& router : cfg.routers) {
    const config::Node* stages = router.node.get("stages");
    if (!stages || !stages->is_sequence()) continue;
    for (const auto& sn : stages->items()) {
      if (!sn.is_map() || !sn.get("type") || sn.get("type")->scalar() != "semantic") continue;
      sn.check_keys(kStageKeys, d);
      SemanticTrainingSet set;
      set.router = router.name;
      set.stage = sn.get("name") ? sn.get("name")->scalar() : "semantic";
      std::vector<std::string> corpus, targets;
      if (!read_routes(sn, ctx, d, set.routes, corpus, targets)) continue;
      float default_threshold = 0;
      set.embedder = build_embedder(read_embedder_choice(sn, ctx, d), corpus, sn, ctx, d, default_threshold);
      const ClassifierChoice c = read_classifier(sn, ctx, d);
      set.head = c.options;
      set.head_path = c.head_path;
      if (!set.embedder) continue;
      set.head.fingerprint = semantic_fingerprint(*set.embedder, set.routes);
      out.push_back(std::move(set));
    }
  }
  return out;
}

std::unique_ptr<Stage> make_semantic_stage(const config::Node& n, BuildContext& ctx, config::Diagnostics& d) {
  n.check_keys(kStageKeys, d);
  auto stage = std::make_unique<SemanticStage>();
  size_t errors_before = d.errors().size();
  std::vector<embed::RouteSpec> specs;
  std::vector<std::string> corpus;
  if (!read_routes(n, ctx, d, specs, corpus, stage->targets)) return nullptr;
  float default_threshold = 0;
  auto embedder = build_embedder(read_embedder_choice(n, ctx, d), corpus, n, ctx, d, default_threshold);
  embed::IndexOptions opts = read_index_options(n, default_threshold, d);
  const ClassifierChoice classifier = read_classifier(n, ctx, d);
  read_stage_options(n, ctx, d, *stage);
  if (d.errors().size() != errors_before || !embedder) return nullptr;

  const auto vectors = embed_routes(*embedder, specs);
  if (classifier.logistic) {
    stage->head = build_head(classifier, specs, *embedder, vectors, ctx.config.source, *n.get("classifier"), d);
    if (!stage->head) return nullptr;
    stage->min_probability = classifier.min_probability;
  }
  auto index = embed::SemanticIndex::build_from_vectors(std::move(specs), embedder, vectors, opts);
  if (!index) {
    n.error(d, index.error().message);
    return nullptr;
  }
  stage->index = *index;
  return stage;
}

}  // namespace sy::pipeline

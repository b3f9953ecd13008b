#pragma once
/// The routing pipeline's building blocks.
///
/// A router (a virtual model such as `auto`) runs an ordered list of stages. Each stage looks at the
/// request — through `RequestFeatures`, which computes shared facts (token estimate, texts, embeddings)
/// at most once per request — and decides: route to a target model, reject before any upstream is
/// paid, or pass to the next stage (optionally tagging the request). A strategy (a stage whose
/// `calls_models()` is true, the cascade) may also answer the request itself by calling models through
/// the `ModelCaller` it alone is given.
///
/// Stages are built once per config load by factories registered by YAML `type:` in one place
/// (stage_registry.cpp), are immutable afterwards, and are shared by every thread: `decide` is const
/// and thread-safe.
#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchyard/config/node.hpp"
#include "switchyard/core/error.hpp"
#include "switchyard/core/request.hpp"
#include "switchyard/embed/embedding.hpp"
#include "switchyard/pipeline/model_caller.hpp"

namespace boost::asio {
class thread_pool;
}
namespace sy::embed {
class Embedder;
}
namespace sy::state {
class SharedState;
}
namespace sy::tokenize {
class LazyTokenCounter;
}

namespace sy::pipeline {

/// Who is calling, from the gateway's own key table or headers.
struct Caller {
  std::string key_name;  ///< name of the matched gateway key, empty when none
  std::string tier;      ///< caller tier ("free", "pro", ...), empty when unknown
  const config::AuthKey* key = nullptr;  ///< the matched key (its metadata, limits), null when none
  int key_index = -1;                    ///< its index in auth.keys
};

/// Per-request overrides a client may send (header, body `switchyard` object, or `router@threshold`).
struct RequestControls {
  std::string router;                ///< explicit router choice
  std::optional<double> threshold;   ///< learned-stage threshold override
  bool debug = false;                ///< return every stage's scores
};

/// Facts about one request, computed lazily and at most once, shared by the stages of a pipeline.
/// Lives on the request's coroutine; not thread-safe (never shared across threads).
class RequestFeatures {
 public:
  using HeaderLookup = std::function<std::string_view(std::string_view)>;
  RequestFeatures(const Request& request, Caller caller, RequestControls controls, HeaderLookup headers,
                  const tokenize::LazyTokenCounter* counter)
      : request_(request), caller_(std::move(caller)), controls_(std::move(controls)),
        headers_(std::move(headers)), counter_(counter) {}

  const Request& request() const { return request_; }
  const Caller& caller() const { return caller_; }
  const RequestControls& controls() const { return controls_; }
  std::string_view header(std::string_view name) const { return headers_ ? headers_(name) : std::string_view{}; }
  /// Estimated prompt tokens (o200k_base with chat framing; an estimate when rank files are absent).
  std::int64_t prompt_tokens() const;
  /// Bounds of prompt_tokens() without tokenising ({n, n} once counted): rules decide on them when
  /// they can, so a `prompt_tokens > 100000` rule costs nothing on a short prompt.
  std::pair<std::int64_t, std::int64_t> prompt_tokens_bounds() const;
  /// Tags added by earlier stages' `continue` actions.
  const std::set<std::string>& tags() const { return tags_; }
  void add_tag(std::string tag) { tags_.insert(std::move(tag)); }
  /// A cached embedding of `text` by `embedder` (the same embedder and text within one request).
  const embed::Embedding* cached_embedding(const embed::Embedder* e, std::string_view text) const;
  void store_embedding(const embed::Embedder* e, std::string_view text, embed::Embedding v);

 private:
  const Request& request_;
  Caller caller_;
  RequestControls controls_;
  HeaderLookup headers_;
  const tokenize::LazyTokenCounter* counter_;
  mutable std::optional<std::int64_t> prompt_tokens_;
  std::set<std::string> tags_;
  struct CachedEmbedding {
    const embed::Embedder* embedder;
    std::string text;
    embed::Embedding vector;
  };
  std::vector<CachedEmbedding> embeddings_;
};

/// What a strategy (a stage that calls models itself) reports beside its verdict, for the server's cost,
/// timing, headers and metrics. Empty for stages that do not call models.
struct StrategyReport {
  /// USD the strategy spent on its own upstream calls (cascade steps, verifiers). For Kind::respond with a
  /// complete body it is the whole cost of the answer; for Kind::route, and for Kind::respond with a
  /// live `outcome->stream` (priced on its usage by the server), it is added to that call's cost.
  double spent_usd = 0;
  /// Time it waited on its own upstream calls, except those in `Decision::trace` (which the server counts
  /// itself). Not proxy overhead.
  std::chrono::microseconds upstream_time{0};
  /// A response header saying what it did (the cascade's `x-switchyard-cascade` path); no name: none.
  std::string header_name, header_value;
  /// Models it tried and passed over before the decision (the cascade's escalations, a metric).
  int escalations = 0;
};

/// One stage's verdict, with what it saw (for headers, the debug output and the decision log).
struct Decision {
  enum class Kind { pass, route, reject, respond };
  Kind kind = Kind::pass;
  std::string target;         ///< model to route to (Kind::route), or the model that answered (Kind::respond)
  Error error;                ///< Kind::reject
  std::string reason;         ///< e.g. "semantic:billing score=0.71>=0.40"
  std::vector<std::pair<std::string, double>> scores;  ///< what the stage computed
  std::optional<Outcome> outcome;  ///< Kind::respond: the stage produced the answer itself
  DispatchTrace trace;             ///< Kind::respond: the call that produced it
  StrategyReport report;           ///< a strategy's spend, header and escalations
};

/// What a stage may use while deciding: the request's features, and for a strategy alone (a stage
/// whose `calls_models()` is true) the model caller. Lives on the request's coroutine.
struct StageContext {
  RequestFeatures& features;
  const ModelCaller* models = nullptr;  ///< null for stages that do not call models
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual std::string_view type() const = 0;
  /// True for a strategy: a stage that calls models itself and is handed a ModelCaller.
  virtual bool calls_models() const { return false; }
  const std::string& name() const { return name_; }
  void set_name(std::string n) { name_ = std::move(n); }
  /// A stage implements one of the two or both. decide() may wait (an embedding off-thread, model calls);
  /// its default serves a stage that always decides at once, with decide_now's Decision.
  virtual boost::asio::awaitable<Decision> decide(StageContext& ctx) const;
  /// Decides into `d` (a fresh Decision) without waiting for anything, when the stage can: true when it
  /// did. The router asks this first, so a stage that decides at once (a rule, the learned model, a
  /// semantic stage whose embedding is at hand) costs no coroutine and no Decision moved out of one;
  /// false (nothing written) sends it to decide(). Deciding either way gives the same Decision.
  virtual bool decide_now(StageContext& /*ctx*/, Decision& /*d*/) const { return false; }

 private:
  std::string name_;
};

/// Shared, reload-surviving resources a factory may use (embedders are expensive to load).
class BuildContext {
 public:
  const config::Config& config;
  std::shared_ptr<const tokenize::LazyTokenCounter> counter;
  /// Resolves a stage target: a model name, or a tier of the router mapping to one. Empty when unknown.
  std::function<std::string(std::string_view)> resolve_target;
  /// Embedders loaded for earlier configs, keyed by their YAML description, reused across reloads.
  std::map<std::string, std::shared_ptr<const embed::Embedder>>* embedder_cache = nullptr;
  std::string base_dir;  ///< directory of the config file, for relative paths
  /// Pool for CPU-heavy work (dense embeddings) so io threads never run it. Outlives every runtime.
  boost::asio::thread_pool* cpu_pool = nullptr;
  /// The Redis state the replicas share (`state:`), for routers' shared answer caches; null without it.
  state::SharedState* shared = nullptr;
  /// Every file a factory read through resolve_path (model files, utterance lists): the runtime keeps
  /// them (Runtime::inputs) so that a changed file reloads the config like an edit of the config does.
  std::vector<std::string> inputs{};
  /// `p` relative to the config's directory; records it in `inputs`.
  std::string resolve_path(const std::string& p);
};

using StageFactory = std::function<std::unique_ptr<Stage>(const config::Node& node, BuildContext& ctx,
                                                           config::Diagnostics& d)>;
/// The factory for a YAML stage `type:`, or nullptr. The one place stage types are registered.
const StageFactory* stage_factory(std::string_view type);
/// All registered types, for error messages.
std::vector<std::string_view> stage_types();

}  // namespace sy::pipeline

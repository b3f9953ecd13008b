#include "switchyard/pipeline/answer_cache.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "switchyard/core/json_scan.hpp"
#include "switchyard/core/redact.hpp"
#include "switchyard/embed/hashing_embedder.hpp"
#include "switchyard/state/shared_state.hpp"

namespace sy::pipeline {

using Clock = std::chrono::steady_clock;

namespace net = boost::asio;

namespace {

std::int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

/// The best cached answer for a probe among candidates offered one by one: the same text wins at once;
/// otherwise the most similar one at or above the threshold whose numbers and negations are the same.
class BestMatch {
 public:
  BestMatch(const CacheProbe& p, double threshold) : probe_(p), threshold_(threshold) {}
  /// False once the exact text was found (stop offering). The probe must be prepared (prepare_similar);
  /// `embedding()` is called only when needed.
  template <class EmbeddingOf>
  bool offer(std::size_t i, std::string_view text, std::string_view guard, EmbeddingOf embedding) {
    if (text == probe_.text) {
      found = true;
      index = i;
      exact = true;
      similarity = 1;
      return false;
    }
    if (guard != probe_.guard) return true;  // other numbers or negations: never the same question
    const double sim = embed::similarity(embedding(), probe_.embedding);
    if (sim >= threshold_ && sim > similarity) {
      found = true;
      index = i;
      similarity = sim;
    }
    return true;
  }
  bool found = false;
  std::size_t index = 0;  ///< of the best candidate, when found
  bool exact = false;
  double similarity = 0;

 private:
  const CacheProbe& probe_;
  double threshold_;
};

std::vector<std::string> lrange(std::string key) {
  return {"LRANGE", std::move(key), "0", std::to_string(kSharedPerContext - 1)};
}

}  // namespace

AnswerCache::AnswerCache(AnswerCacheConfig config, std::shared_ptr<const embed::Embedder> embedder,
                         state::SharedState* shared, std::string redis_key_prefix)
    : config_(config), embedder_(std::move(embedder)), shared_(shared), redis_prefix_(std::move(redis_key_prefix)) {}

std::shared_ptr<AnswerCache> AnswerCache::from_yaml(const config::Node& n, std::string_view router, bool state_configured,
                                                    state::SharedState* shared, config::Diagnostics& d) {
  if (!n.is_map()) {
    n.error(d, "expected a map (similarity, ttl, max_entries, scope, backend)");
    return nullptr;
  }
  n.check_keys({"similarity", "ttl", "max_entries", "scope", "backend"}, d);
  AnswerCacheConfig c;
  const std::size_t errors = d.errors().size();
  if (auto v = n.number("similarity", d, 0.5, 1.0)) c.similarity = *v;
  if (auto v = n.duration_ms("ttl", d)) c.ttl = std::chrono::milliseconds(*v);
  if (auto v = n.integer("max_entries", d, 1, 1'000'000)) c.max_entries = static_cast<std::size_t>(*v);
  if (auto v = n.str("scope", d)) {
    if (*v == "global") c.global = true;
    else if (*v != "key") n.get("scope")->error(d, "expected key (default) or global");
  }
  if (auto v = n.str("backend", d)) {
    if (*v == "redis") c.shared = true;
    else if (*v != "memory") n.get("backend")->error(d, "expected memory (default) or redis");
    if (c.shared && !state_configured) {
      n.get("backend")->error(d, "backend: redis needs the state: section (the Redis the replicas share)");
    }
  }
  if (d.errors().size() != errors) return nullptr;
  // The hashing embedder without a corpus (IDF 1): near-duplicate wording, no weights to load.
  auto embedder = embed::HashingEmbedder::create(embed::HashingOptions{}, {});
  if (!embedder) {
    n.error(d, embedder.error().message);
    return nullptr;
  }
  // A process without Redis state although the config has it (--check-config; a state: section added by
  // a reload, which takes effect after a restart) keeps answers in memory only.
  if (!shared) c.shared = false;
  std::string prefix = c.shared ? shared->config().prefix + "cache:" + std::string(router) + ":" : std::string();
  return std::make_shared<AnswerCache>(c, *embedder, c.shared ? shared : nullptr, std::move(prefix));
}

std::string AnswerCache::guard_of(std::string_view text) {
  // Numbers as written (digits with their separators, "5", "50", "2.5", "1,000"), and negation words.
  std::vector<std::string> marks;
  std::size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (std::isdigit(c)) {
      std::string num;
      while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) ||
                                 ((text[i] == '.' || text[i] == ',') && i + 1 < text.size() &&
                                  std::isdigit(static_cast<unsigned char>(text[i + 1]))))) {
        if (text[i] != ',') num.push_back(text[i]);
        ++i;
      }
      marks.push_back("#" + num);
    } else if (std::isalpha(c) || c == '\'' || c >= 0x80) {
      std::string word;
      while (i < text.size() && (std::isalpha(static_cast<unsigned char>(text[i])) || text[i] == '\'' ||
                                 static_cast<unsigned char>(text[i]) >= 0x80)) {
        word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))));
        ++i;
      }
      // U+2019 (right single quotation mark) written for an apostrophe: "can’t".
      for (std::size_t p; (p = word.find("\xE2\x80\x99")) != std::string::npos;) word.replace(p, 3, "'");
      static constexpr std::string_view kNegations[] = {"not",  "no",      "never", "none", "nothing", "nobody",
                                                        "nor",  "neither", "cannot", "cant", "dont",   "wont",
                                                        "isnt", "arent",   "doesnt", "didnt", "without", "nowhere"};
      bool negation = word.ends_with("n't") ||
                      std::find(std::begin(kNegations), std::end(kNegations), word) != std::end(kNegations);
      if (negation) marks.push_back("!not");
    } else {
      ++i;
    }
  }
  std::sort(marks.begin(), marks.end());
  std::string out;
  for (const auto& m : marks) out += m + ' ';
  return out;
}

std::optional<CacheProbe> AnswerCache::probe(const Request& request, std::string_view scope) const {
  if (request.endpoint() != Endpoint::chat || request.has_images()) return std::nullopt;
  const auto& messages = request.messages();
  if (messages.empty() || messages.back().role != "user") return std::nullopt;
  // The context: the scope, the request's parameters, every message but the last user message's text.
  std::string ctx = config_.global ? std::string("global") : "key:" + std::string(scope);
  ctx.push_back('\0');
  for (const auto& f : request.fields().fields) {
    static constexpr std::string_view kIgnored[] = {"model", "stream", "stream_options", "user", "metadata", "switchyard", "messages"};
    if (std::find(std::begin(kIgnored), std::end(kIgnored), f.key) != std::end(kIgnored)) continue;
    ctx.append(f.key).push_back('\0');
    ctx.append(f.value).push_back('\0');
  }
  for (std::size_t i = 0; i + 1 < messages.size(); ++i) {
    ctx.append(messages[i].role).push_back('\0');
    ctx.append(messages[i].text).push_back('\0');
  }
  CacheProbe p;
  p.context = sha256(ctx);
  p.text = messages.back().text;
  return p;
}

void AnswerCache::prepare_similar(CacheProbe& p) const {
  if (p.similar_ready) return;
  p.guard = guard_of(p.text);
  p.embedding = embedder_->embed(p.text);
  p.similar_ready = true;
}

std::optional<CacheHit> AnswerCache::lookup(CacheProbe& p, Clock::time_point now) const {
  {
    // The same text first: no embedding needed for it, nor for a context with nothing live in it.
    std::lock_guard lock(mu_);
    auto it = by_context_.find(p.context);
    if (it == by_context_.end()) return std::nullopt;
    bool live = false;
    for (const Entry& e : it->second) {
      if (e.expires <= now) continue;
      if (e.text == p.text) return CacheHit{e.body, e.model, true, 1.0};
      live = true;
    }
    if (!live) return std::nullopt;
  }
  prepare_similar(p);  // outside the lock
  std::lock_guard lock(mu_);
  auto it = by_context_.find(p.context);
  if (it == by_context_.end()) return std::nullopt;
  const auto& entries = it->second;
  BestMatch best(p, config_.similarity);
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.expires > now && !best.offer(i, e.text, e.guard, [&]() -> const embed::Embedding& { return e.embedding; })) break;
  }
  if (!best.found) return std::nullopt;
  const Entry& e = entries[best.index];
  return CacheHit{e.body, e.model, best.exact, best.similarity};
}

net::awaitable<std::optional<CacheHit>> AnswerCache::find(CacheProbe& p) {
  if (auto hit = lookup(p, Clock::now())) co_return hit;
  if (!shared_ || !shared_->up()) co_return std::nullopt;
  const state::RedisReply reply = co_await state::command(*shared_, lrange(redis_key(p)));
  if (!reply.ok() || reply.type != state::RedisReply::Type::array) co_return std::nullopt;
  std::vector<SharedAnswer> answers;
  for (const auto& el : reply.elements) {
    if (el.type != state::RedisReply::Type::string) continue;
    if (auto a = decode(el.str)) answers.push_back(std::move(*a));
  }
  if (answers.empty()) co_return std::nullopt;
  prepare_similar(p);
  const std::int64_t now_ms = unix_ms();
  BestMatch best(p, config_.similarity);
  std::vector<std::optional<embed::Embedding>> embeddings(answers.size());
  for (std::size_t i = 0; i < answers.size(); ++i) {
    const SharedAnswer& a = answers[i];
    if (a.expires_unix_ms <= now_ms) continue;
    auto embedding = [&]() -> const embed::Embedding& { return *(embeddings[i] = embedder_->embed(a.text)); };
    if (!best.offer(i, a.text, a.guard, embedding)) break;
  }
  if (!best.found) co_return std::nullopt;
  SharedAnswer& a = answers[best.index];
  CacheHit hit{a.body, a.model, best.exact, best.similarity, true};
  // Kept here too, for what is left of its ttl.
  embed::Embedding embedding = best.exact ? p.embedding : std::move(*embeddings[best.index]);
  const auto now = Clock::now();
  const auto expires = now + std::chrono::milliseconds(a.expires_unix_ms - now_ms);
  insert(p.context, Entry{std::move(a.text), std::move(a.guard), std::move(a.body), std::move(a.model), std::move(embedding), expires, 0},
         now);
  co_return hit;
}

void AnswerCache::store(CacheProbe& p, std::string body, std::string model, Clock::time_point now) {
  prepare_similar(p);
  if (shared_ && body.size() <= kMaxSharedBytes) {
    const std::string key = redis_key(p);
    const auto ttl = std::to_string(config_.ttl.count());
    // Redis is a store outside the process: secrets an upstream echoed (ours or key-shaped) do not go
    // there, as they do not go to logs (a question that held one is then stored under its scrubbed text).
    const auto& redactor = Redactor::current();
    shared_->command({"LPUSH", key, encode({redactor->apply(p.text), p.guard, redactor->apply(body), model,
                                            unix_ms() + config_.ttl.count()})},
                     nullptr);
    shared_->command({"LTRIM", key, "0", std::to_string(kSharedPerContext - 1)}, nullptr);
    shared_->command({"PEXPIRE", key, ttl}, nullptr);
  }
  insert(p.context, Entry{p.text, p.guard, std::move(body), std::move(model), p.embedding, now + config_.ttl, 0}, now);
}

void AnswerCache::insert(const Sha256& context, Entry entry, Clock::time_point now) {
  std::lock_guard lock(mu_);
  // Expired entries of this context go now; the same text replaces its entry.
  if (auto it = by_context_.find(context); it != by_context_.end()) {
    std::erase_if(it->second, [&](const Entry& e) {
      bool drop = e.expires <= now || e.text == entry.text;
      if (drop) --size_;
      return drop;
    });
  }
  // Replaced and expired entries leave stale marks in `order_`: it stays within twice the bound. Eviction
  // may erase this context's (emptied) list, so the list is looked up only after it.
  while ((size_ >= config_.max_entries || order_.size() >= 2 * config_.max_entries) && !order_.empty()) evict_oldest();
  entry.seq = next_seq_++;
  order_.emplace_back(entry.seq, context);
  by_context_[context].push_back(std::move(entry));
  ++size_;
}

std::string AnswerCache::redis_key(const CacheProbe& p) const { return redis_prefix_ + to_hex(p.context); }

std::string AnswerCache::encode(const SharedAnswer& a) {
  return "{\"text\":" + json::quote(a.text) + ",\"guard\":" + json::quote(a.guard) + ",\"model\":" + json::quote(a.model) +
         ",\"expires_ms\":" + std::to_string(a.expires_unix_ms) + ",\"body\":" + json::quote(a.body) + "}";
}

std::optional<SharedAnswer> AnswerCache::decode(std::string_view element) {
  json::Limits limits;
  limits.max_depth = 2;
  limits.max_bytes = 2 * kMaxSharedBytes + 4096;  // the body, escaped, and the rest
  auto obj = json::scan_object(element, limits);
  if (!obj) return std::nullopt;
  SharedAnswer a;
  bool text = false, body = false, expires = false;
  for (const auto& f : obj->fields) {
    auto str = [&](std::string& out) { return f.type == json::Type::string && json::append_string_value(f.value, out); };
    if (f.key == "text") text = str(a.text);
    else if (f.key == "guard") str(a.guard);
    else if (f.key == "model") str(a.model);
    else if (f.key == "body") body = str(a.body);
    else if (f.key == "expires_ms" && f.type == json::Type::number) {
      auto v = json::integer_value(f.value);
      expires = v.has_value();
      a.expires_unix_ms = v.value_or(0);
    }
  }
  if (!text || !body || !expires) return std::nullopt;
  // The body is served as the answer (parsed again to replay it as a stream): a JSON object within the
  // guard's bounds, like every upstream answer the cache stores.
  auto shape = json::validate(a.body);
  if (!shape || *shape != json::Type::object) return std::nullopt;
  return a;
}

void AnswerCache::evict_oldest() {
  auto [seq, ctx] = order_.front();
  order_.pop_front();
  auto it = by_context_.find(ctx);
  if (it == by_context_.end()) return;
  auto& entries = it->second;
  auto e = std::find_if(entries.begin(), entries.end(), [seq = seq](const Entry& x) { return x.seq == seq; });
  if (e == entries.end()) return;  // already replaced or expired
  entries.erase(e);
  --size_;
  if (entries.empty()) by_context_.erase(it);
}

std::size_t AnswerCache::size() const {
  std::lock_guard lock(mu_);
  return size_;
}

std::size_t AnswerCache::ContextHash::operator()(const Sha256& h) const {
  std::size_t v;
  std::memcpy(&v, h.data(), sizeof v);
  return v;
}

}  // namespace sy::pipeline

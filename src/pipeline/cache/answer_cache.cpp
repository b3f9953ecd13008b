#include "switchyard/pipeline/answer_cache.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "switchyard/embed/hashing_embedder.hpp"

namespace sy::pipeline {

using Clock = std::chrono::steady_clock;

AnswerCache::AnswerCache(AnswerCacheConfig config, std::shared_ptr<const embed::Embedder> embedder)
    : config_(config), embedder_(std::move(embedder)) {}

std::shared_ptr<AnswerCache> AnswerCache::from_yaml(const config::Node& n, config::Diagnostics& d) {
  if (!n.is_map()) {
    n.error(d, "expected a map (similarity, ttl, max_entries, scope)");
    return nullptr;
  }
  n.check_keys({"similarity", "ttl", "max_entries", "scope"}, d);
  AnswerCacheConfig c;
  const std::size_t errors = d.errors().size();
  if (auto v = n.number("similarity", d, 0.5, 1.0)) c.similarity = *v;
  if (auto v = n.duration_ms("ttl", d)) c.ttl = std::chrono::milliseconds(*v);
  if (auto v = n.integer("max_entries", d, 1, 1'000'000)) c.max_entries = static_cast<std::size_t>(*v);
  if (auto v = n.str("scope", d)) {
    if (*v == "global") c.global = true;
    else if (*v != "key") n.get("scope")->error(d, "expected key (default) or global");
  }
  if (d.errors().size() != errors) return nullptr;
  // The hashing embedder without a corpus (IDF 1): near-duplicate wording, no weights to load.
  auto embedder = embed::HashingEmbedder::create(embed::HashingOptions{}, {});
  if (!embedder) {
    n.error(d, embedder.error().message);
    return nullptr;
  }
  return std::make_shared<AnswerCache>(c, *embedder);
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
  p.guard = guard_of(p.text);
  p.embedding = embedder_->embed(p.text);
  return p;
}

std::optional<CacheHit> AnswerCache::lookup(const CacheProbe& p, Clock::time_point now) const {
  std::lock_guard lock(mu_);
  auto it = by_context_.find(p.context);
  if (it == by_context_.end()) return std::nullopt;
  const Entry* best = nullptr;
  double best_sim = 0;
  for (const Entry& e : it->second) {
    if (e.expires <= now) continue;
    if (e.text == p.text) return CacheHit{e.body, e.model, true, 1.0};
    if (e.guard != p.guard) continue;  // other numbers or negations: never the same question
    double sim = embed::similarity(e.embedding, p.embedding);
    if (sim >= config_.similarity && sim > best_sim) {
      best = &e;
      best_sim = sim;
    }
  }
  if (!best) return std::nullopt;
  return CacheHit{best->body, best->model, false, best_sim};
}

void AnswerCache::store(const CacheProbe& p, std::string body, std::string model, Clock::time_point now) {
  std::lock_guard lock(mu_);
  // Expired entries of this context go now; the same text replaces its entry.
  if (auto it = by_context_.find(p.context); it != by_context_.end()) {
    std::erase_if(it->second, [&](const Entry& e) {
      bool drop = e.expires <= now || e.text == p.text;
      if (drop) --size_;
      return drop;
    });
  }
  // Replaced and expired entries leave stale marks in `order_`: it stays within twice the bound. Eviction
  // may erase this context's (emptied) list, so the list is looked up only after it.
  while ((size_ >= config_.max_entries || order_.size() >= 2 * config_.max_entries) && !order_.empty()) evict_oldest();
  std::uint64_t seq = next_seq_++;
  by_context_[p.context].push_back(Entry{p.text, p.guard, std::move(body), std::move(model), p.embedding, now + config_.ttl, seq});
  order_.emplace_back(seq, p.context);
  ++size_;
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

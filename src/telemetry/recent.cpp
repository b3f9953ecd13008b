#include "switchyard/telemetry/recent.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace sy::telemetry {

RecentDecisions::RecentDecisions(std::size_t capacity, std::size_t shards) {
  shards = std::max<std::size_t>(shards, 1);
  const std::size_t per_shard = std::max<std::size_t>({(capacity + shards - 1) / shards, 64, 1});
  for (std::size_t i = 0; i < shards; ++i) {
    shards_.push_back(std::make_unique<Shard>());
    shards_.back()->ring.resize(shards == 1 ? std::max<std::size_t>(capacity, 1) : per_shard);
  }
}

DecisionRecord* RecentDecisions::take(Shard& s) {
  DecisionRecord* r = &s.ring[s.next];
  s.next = (s.next + 1) % s.ring.size();
  if (s.size < s.ring.size()) ++s.size;
  r->seq = ++s.seq;
  r->has_feedback = false;  // the slot's previous request's
  r->feedback_score.reset();
  r->feedback_label.clear();
  r->feedback_comment.clear();
  return r;
}

RecentDecisions::Ticket RecentDecisions::open(std::size_t shard, std::string_view request_id, std::string_view key) {
  const std::size_t index = shard % shards_.size();
  Shard& s = *shards_[index];
  std::lock_guard lock(s.mu);
  const std::size_t slot = s.next;
  DecisionRecord* r = take(s);
  r->open = true;
  r->request_id.assign(request_id);
  r->key.assign(key);
  return Ticket{index, slot, r->seq};
}

std::string RecentDecisions::to_json(std::size_t limit) const {
  nlohmann::ordered_json data = nlohmann::ordered_json::array();
  // Every ring locked (in index order; a recorder takes one) while their records are read.
  std::vector<std::unique_lock<std::mutex>> locks;
  std::vector<const DecisionRecord*> kept;
  for (const auto& sp : shards_) {
    const Shard& s = *sp;
    locks.emplace_back(s.mu);
    for (std::size_t i = 0; i < s.size; ++i) {
      const DecisionRecord& r = s.ring[(s.next + s.ring.size() - 1 - i) % s.ring.size()];
      if (!r.open) kept.push_back(&r);  // an answer still being written
    }
  }
  std::stable_sort(kept.begin(), kept.end(), [](auto* a, auto* b) { return a->arrived_ns > b->arrived_ns; });
  for (const DecisionRecord* rp : kept) {
    if (data.size() >= limit) break;
    const DecisionRecord& r = *rp;
    nlohmann::ordered_json j;
    j["ts_ms"] = r.ts_ms;
    j["request_id"] = r.request_id;
    j["key"] = r.key;
    j["model_requested"] = r.model_requested;
    j["router"] = r.router;
    j["stage"] = r.stage;
    j["reason"] = r.reason;
    j["model"] = r.model;
    j["deployment"] = r.deployment;
    j["status"] = r.status;
    j["stream"] = r.stream;
    j["prompt_tokens"] = r.prompt_tokens;
    j["completion_tokens"] = r.completion_tokens;
    j["cost_usd"] = r.cost_usd;
    j["latency_ms"] = std::round(r.latency_ms * 1000) / 1000;
    j["attempts"] = r.attempts;
    if (!r.error.empty()) j["error"] = r.error;
    if (r.has_feedback) {
      nlohmann::ordered_json f = nlohmann::ordered_json::object();
      if (r.feedback_score) f["score"] = *r.feedback_score;
      if (!r.feedback_label.empty()) f["label"] = r.feedback_label;
      if (!r.feedback_comment.empty()) f["comment"] = r.feedback_comment;
      j["feedback"] = std::move(f);
    }
    data.push_back(std::move(j));
  }
  nlohmann::ordered_json out = {{"object", "list"}, {"data", std::move(data)}};
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool RecentDecisions::add_feedback(std::string_view request_id, std::string_view key, std::optional<double> score,
                                   std::string_view label, std::string_view comment) {
  for (const auto& sp : shards_) {
    Shard& s = *sp;
    std::lock_guard lock(s.mu);
    for (std::size_t i = 0; i < s.size; ++i) {
      DecisionRecord& r = s.ring[(s.next + s.ring.size() - 1 - i) % s.ring.size()];
      if (r.request_id != request_id) continue;
      if (r.key != key) return false;  // another caller's request: as if unknown
      r.has_feedback = true;
      r.feedback_score = score;
      r.feedback_label.assign(label);
      r.feedback_comment.assign(comment);
      return true;
    }
  }
  return false;
}

UsageTimeline::UsageTimeline(std::size_t shards) {
  for (std::size_t i = 0; i < std::max<std::size_t>(shards, 1); ++i) shards_.push_back(std::make_unique<Shard>());
}

void UsageTimeline::record(std::size_t shard, std::int64_t now_ms, bool error, bool fallback, double cost_usd) {
  std::int64_t minute = now_ms / 60000;
  Shard& s = *shards_[shard % shards_.size()];
  std::lock_guard lock(s.mu);
  Minute& m = s.minutes[static_cast<std::size_t>(minute % 60)];
  if (m.minute != minute) m = Minute{minute};
  ++m.requests;
  m.errors += error;
  m.fallbacks += fallback;
  if (cost_usd > 0 && std::isfinite(cost_usd)) m.cost_usd += cost_usd;
}

std::string UsageTimeline::to_json(std::int64_t now_ms) const {
  std::int64_t now_minute = now_ms / 60000;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  for (std::int64_t minute = now_minute - 59; minute <= now_minute; ++minute) {
    Minute sum{minute};
    const auto slot = static_cast<std::size_t>(((minute % 60) + 60) % 60);
    for (const auto& sp : shards_) {
      std::lock_guard lock(sp->mu);
      const Minute& m = sp->minutes[slot];
      if (m.minute != minute) continue;
      sum.requests += m.requests;
      sum.errors += m.errors;
      sum.fallbacks += m.fallbacks;
      sum.cost_usd += m.cost_usd;
    }
    list.push_back({{"t", minute * 60000},
                    {"requests", sum.requests},
                    {"errors", sum.errors},
                    {"fallbacks", sum.fallbacks},
                    {"cost_usd", sum.cost_usd}});
  }
  return nlohmann::ordered_json{{"minutes", std::move(list)}}.dump();
}

}  // namespace sy::telemetry

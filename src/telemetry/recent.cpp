#include "switchyard/telemetry/recent.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

namespace sy::telemetry {

std::string RecentDecisions::to_json(std::size_t limit) const {
  nlohmann::ordered_json data = nlohmann::ordered_json::array();
  std::lock_guard lock(mu_);
  std::vector<const DecisionRecord*> kept;
  kept.reserve(size_);
  for (std::size_t i = 0; i < size_; ++i) kept.push_back(&ring_[(next_ + ring_.size() - 1 - i) % ring_.size()]);
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
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < size_; ++i) {
    DecisionRecord& r = ring_[(next_ + ring_.size() - 1 - i) % ring_.size()];
    if (r.request_id != request_id) continue;
    if (r.key != key) return false;  // another caller's request: as if unknown
    r.has_feedback = true;
    r.feedback_score = score;
    r.feedback_label.assign(label);
    r.feedback_comment.assign(comment);
    return true;
  }
  return false;
}

void UsageTimeline::record(std::int64_t now_ms, bool error, bool fallback, double cost_usd) {
  std::int64_t minute = now_ms / 60000;
  std::lock_guard lock(mu_);
  Minute& m = minutes_[static_cast<std::size_t>(minute % 60)];
  if (m.minute != minute) m = Minute{minute};
  ++m.requests;
  m.errors += error;
  m.fallbacks += fallback;
  if (cost_usd > 0 && std::isfinite(cost_usd)) m.cost_usd += cost_usd;
}

std::string UsageTimeline::to_json(std::int64_t now_ms) const {
  std::int64_t now_minute = now_ms / 60000;
  nlohmann::ordered_json list = nlohmann::ordered_json::array();
  std::lock_guard lock(mu_);
  for (std::int64_t minute = now_minute - 59; minute <= now_minute; ++minute) {
    const Minute& m = minutes_[static_cast<std::size_t>(((minute % 60) + 60) % 60)];
    bool live = m.minute == minute;
    list.push_back({{"t", minute * 60000},
                    {"requests", live ? m.requests : 0},
                    {"errors", live ? m.errors : 0},
                    {"fallbacks", live ? m.fallbacks : 0},
                    {"cost_usd", live ? m.cost_usd : 0.0}});
  }
  return nlohmann::ordered_json{{"minutes", std::move(list)}}.dump();
}

}  // namespace sy::telemetry

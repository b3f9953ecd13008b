#include "switchyard/learn/traffic.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "switchyard/core/ascii.hpp"
#include "switchyard/core/hash.hpp"
#include "switchyard/core/json_tree.hpp"

namespace sy::learn {

namespace {

using Json = nlohmann::json;
constexpr float kUnknown = std::numeric_limits<float>::quiet_NaN();

/// One feedback line that joined a row.
struct RowFeedback {
  std::size_t row;
  std::optional<double> score;
  std::string label;
};

std::string join_key(std::string_view request_id, std::string_view key) {
  std::string k(request_id);
  k += '\n';
  k += key;
  return k;
}


/// Reads the logs once: request lines that qualify become rows, feedback lines are joined to them.
class Reader {
 public:
  Reader(const TrafficOptions& opts, TrafficData& out, TrafficReport& rep) : opts_(opts), out_(out), rep_(rep) {}

  void line(const std::string& text) {
    auto parsed = json::parse_tree<Json>(text);  // the JSON guard first: bounded depth and size
    if (!parsed || !parsed->is_object()) return;
    const Json& j = *parsed;
    const std::string type = json::string_or(j, "type");
    if (type == "feedback") return feedback(j);
    if (type.empty()) request(j);  // shadow lines and later kinds are not requests
  }

  std::vector<RowFeedback>& feedback_rows() { return feedback_; }

 private:
  void request(const Json& j) {
    ++rep_.decision_lines;
    const std::string router = json::string_or(j, "router");
    if (router.empty() || (!opts_.router.empty() && router != opts_.router)) return void(++rep_.not_routed);
    if (json::integer_or(j, "status") != 200) return void(++rep_.failed);
    const std::string model = json::string_or(j, "model");
    const std::string path = json::string_or(j, "cascade");
    const std::optional<float> verdict = path.empty() ? std::nullopt : cascade_verdict(path, opts_.weak);
    if (model != opts_.strong && model != opts_.weak && !verdict) return void(++rep_.other_models);
    auto prompt = j.find("prompt");
    if (prompt == j.end() || !prompt->is_string()) return void(++rep_.without_prompt);

    TrafficRequest r;
    r.request_id = json::string_or(j, "request_id");
    r.answered_by = model;
    r.prompt_tokens = json::integer_or(j, "prompt_tokens");
    r.completion_tokens = json::integer_or(j, "completion_tokens");
    r.cost_usd = json::number_or(j, "cost_usd");

    Example e;
    e.prompt = prompt->get<std::string>();
    e.quality = {kUnknown, kUnknown};
    const auto in = static_cast<float>(r.prompt_tokens), outt = static_cast<float>(r.completion_tokens);
    e.input_tokens = {in, in};
    e.output_tokens = {outt, outt};
    e.cost = {kUnknown, kUnknown};
    e.group = router;
    e.source = "traffic";
    if (auto c = j.find("conversation"); c != j.end() && c->is_object()) {
      e.conversation.earlier_messages = static_cast<std::uint32_t>(std::clamp<std::int64_t>(json::integer_or(*c, "earlier_messages"), 0, 1 << 20));
      e.conversation.has_system = json::bool_or(*c, "has_system");
      e.conversation.system_bytes = static_cast<std::size_t>(std::max<std::int64_t>(json::integer_or(*c, "system_bytes"), 0));
      e.conversation.context_bytes = static_cast<std::size_t>(std::max<std::int64_t>(json::integer_or(*c, "context_bytes"), 0));
    }
    if (verdict) {
      e.quality[1] = *verdict;
      ++rep_.from_cascade;
    }
    if (model == opts_.strong) ++out_.strong_answers;
    const std::string key = join_key(r.request_id, json::string_or(j, "key"));
    rows_[key] = out_.requests.size();
    // Feedback may be logged a moment before its request (given while the answer's last bytes were sent).
    if (auto early = early_.find(key); early != early_.end()) {
      for (auto& f : early->second) feedback_.push_back(RowFeedback{out_.requests.size(), f.score, std::move(f.label)});
      rep_.feedback_unmatched -= early->second.size();
      early_.erase(early);
    }
    out_.requests.push_back(std::move(r));
    out_.data.examples.push_back(std::move(e));
  }

  void feedback(const Json& j) {
    ++rep_.feedback_lines;
    const std::string key = join_key(json::string_or(j, "request_id"), json::string_or(j, "key"));
    RowFeedback f{0, std::nullopt, json::string_or(j, "label")};
    if (auto s = j.find("score"); s != j.end() && s->is_number()) f.score = s->get<double>();
    auto it = rows_.find(key);
    if (it == rows_.end()) {
      ++rep_.feedback_unmatched;  // unless its request line follows
      if (early_.size() < kMaxEarly) early_[key].push_back(std::move(f));
      return;
    }
    f.row = it->second;
    feedback_.push_back(std::move(f));
  }

  const TrafficOptions& opts_;
  TrafficData& out_;
  TrafficReport& rep_;
  static constexpr std::size_t kMaxEarly = 100000;
  std::unordered_map<std::string, std::size_t> rows_;  ///< request id + key -> latest row
  std::unordered_map<std::string, std::vector<RowFeedback>> early_;  ///< feedback before its request line
  std::vector<RowFeedback> feedback_;
};

}  // namespace

std::pair<double, double> detect_score_range(const std::vector<double>& scores) {
  if (scores.empty()) return {0, 1};
  const auto [lo, hi] = std::minmax_element(scores.begin(), scores.end());
  if (*lo < 0) return {-1, 1};
  if (*hi <= 1) return {0, 1};
  if (*hi <= 5) return {1, 5};
  if (*hi <= 10) return {1, 10};
  return {0, 100};
}

std::optional<float> label_quality(std::string_view label) {
  static const char* const kGood[] = {"good", "up", "thumbs_up", "thumbsup", "positive", "correct", "accept",
                                      "accepted", "yes", "helpful", "pass", "like"};
  static const char* const kBad[] = {"bad", "down", "thumbs_down", "thumbsdown", "negative", "incorrect", "wrong",
                                     "reject", "rejected", "no", "unhelpful", "fail", "dislike"};
  const std::string l = ascii_lower(label);
  for (const char* g : kGood)
    if (l == g) return 1.0f;
  for (const char* b : kBad)
    if (l == b) return 0.0f;
  return std::nullopt;
}

std::optional<float> cascade_verdict(std::string_view path, std::string_view model) {
  std::optional<float> out;
  while (!path.empty()) {
    const auto arrow = path.find(" -> ");
    const std::string_view step = path.substr(0, arrow);
    path = arrow == std::string_view::npos ? std::string_view{} : path.substr(arrow + 4);
    const auto colon = step.rfind(':');
    if (colon == std::string_view::npos || step.substr(0, colon) != model) continue;
    const std::string_view verdict = step.substr(colon + 1);
    if (verdict.starts_with("accepted")) out = 1.0f;
    else if (verdict.starts_with("rejected")) out = 0.0f;
  }
  return out;
}

bool held_out(std::string_view request_id, double share) {
  return static_cast<double>(fnv1a(request_id) % 10000) < share * 10000.0;
}

Result<TrafficData> traffic_dataset(const std::vector<std::string>& logs, const TrafficOptions& opts,
                                    TrafficReport* report) {
  if (opts.strong.empty() || opts.weak.empty()) {
    return Error::bad_request("name the strong and the weak model (--strong, --weak, or --config with --router)");
  }
  if (opts.strong == opts.weak) return Error::bad_request("the strong and the weak model are both '" + opts.strong + "'");
  TrafficReport local;
  TrafficReport& rep = report ? *report : local;
  rep = TrafficReport{};
  TrafficData out;
  out.data.models = {opts.strong, opts.weak};
  out.data.sources = {"traffic"};
  Reader reader(opts, out, rep);
  for (const std::string& text : logs) {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) reader.line(line);
  }
  std::vector<double> scores;
  for (const auto& f : reader.feedback_rows())
    if (f.score) scores.push_back(*f.score);
  rep.score_range = opts.score_range.value_or(detect_score_range(scores));
  const auto [lo, hi] = rep.score_range;
  std::vector<char> weak_from_feedback(out.requests.size(), 0), strong_from_feedback(out.requests.size(), 0);
  for (const auto& f : reader.feedback_rows()) {
    std::optional<float> q;
    if (f.score && hi > lo) q = static_cast<float>(std::clamp((*f.score - lo) / (hi - lo), 0.0, 1.0));
    else if (!f.label.empty()) q = label_quality(f.label);
    if (!q) {
      ++rep.feedback_unmatched;
      continue;
    }
    Example& e = out.data.examples[f.row];
    const std::string& by = out.requests[f.row].answered_by;
    if (by == opts.weak) {
      if (!weak_from_feedback[f.row] && !std::isnan(e.quality[1])) --rep.from_cascade;  // feedback wins
      weak_from_feedback[f.row] = 1;
      e.quality[1] = *q;
    } else if (by == opts.strong) {
      strong_from_feedback[f.row] = 1;
      e.quality[0] = *q;
    } else {
      ++rep.feedback_unmatched;  // on a third model's answer
    }
  }
  for (std::size_t i = 0; i < out.requests.size(); ++i) {
    rep.from_feedback += weak_from_feedback[i];
    rep.strong_feedback += strong_from_feedback[i];
  }
  return out;
}

}  // namespace sy::learn

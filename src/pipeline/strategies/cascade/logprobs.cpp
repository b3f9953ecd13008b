#include "pipeline/strategies/cascade/logprobs.hpp"

#include <algorithm>
#include <cmath>

#include "switchyard/core/json_scan.hpp"

namespace sy::pipeline::cascade {

using Json = nlohmann::json;

TokenLogprob token_logprob(const Json& t) {
  TokenLogprob out{t.value("logprob", -100.0), 0};
  for (const auto& alt : t.value("top_logprobs", Json::array())) {
    double p = std::exp(alt.value("logprob", -100.0));
    if (alt.value("token", "") != t.value("token", "") && p > out.runner_up) out.runner_up = p;
  }
  return out;
}

std::optional<TokenLogprob> scan_token_logprob(std::string_view raw) {
  auto o = json::scan_object(raw);
  if (!o) return std::nullopt;
  const json::Field* token = o->find("token");
  const json::Field* lp = o->find("logprob");
  TokenLogprob out{lp ? json::number_value(lp->value).value_or(-100.0) : -100.0, 0};
  const json::Field* top = o->find("top_logprobs");
  if (!top || top->type != json::Type::array) return out;
  auto alts = json::scan_array(top->value);
  if (!alts) return out;
  for (const auto& alt : *alts) {
    if (alt.type != json::Type::object) continue;
    auto a = json::scan_object(alt.value);
    if (!a) continue;
    const json::Field* at = a->find("token");
    const json::Field* alp = a->find("logprob");
    double p = std::exp(alp ? json::number_value(alp->value).value_or(-100.0) : -100.0);
    // Raw token texts compare equal exactly when the strings do (one encoder wrote both).
    bool same = at && token && at->value == token->value;
    if (!same && p > out.runner_up) out.runner_up = p;
  }
  return out;
}

std::optional<double> logprob_confidence(std::span<const TokenLogprob> tokens, LogprobMetric metric,
                                         std::size_t limit) {
  std::size_t n = std::min(tokens.size(), limit);
  if (n == 0) return std::nullopt;
  double sum = 0, mn = 0, margin = 0;
  for (std::size_t i = 0; i < n; ++i) {
    double l = tokens[i].logprob;
    sum += l;
    mn = i == 0 ? l : std::min(mn, l);
    margin += std::exp(l) - tokens[i].runner_up;
  }
  switch (metric) {
    case LogprobMetric::min: return std::exp(mn);
    case LogprobMetric::margin: return std::clamp(margin / static_cast<double>(n), 0.0, 1.0);
    case LogprobMetric::mean: break;
  }
  return std::exp(sum / static_cast<double>(n));
}

void PrefixScan::feed(std::string_view frames) {
  constexpr std::string_view kData = "data: ";
  std::size_t at = 0;
  while (at < frames.size()) {
    std::size_t end = frames.find("\n\n", at);
    if (end == std::string_view::npos) end = frames.size();
    std::string_view frame = frames.substr(at, end - at);
    at = end + 2;
    if (frame.starts_with(kData)) chunk(frame.substr(kData.size()));
  }
}

namespace {

/// Whether a choice's delta carries (non-empty) content.
bool has_content(const json::Object& choice) {
  const json::Field* delta = choice.find("delta");
  if (!delta || delta->type != json::Type::object) return false;
  auto d = json::scan_object(delta->value);
  const json::Field* content = d ? d->find("content") : nullptr;
  return content && content->type == json::Type::string && content->value != "\"\"";
}

/// Appends a choice's `logprobs.content` entries to `tokens`; false when it has none.
bool read_logprobs(const json::Object& choice, std::vector<TokenLogprob>& tokens) {
  const json::Field* lp = choice.find("logprobs");
  if (!lp || lp->type != json::Type::object) return false;
  auto l = json::scan_object(lp->value);
  const json::Field* content = l ? l->find("content") : nullptr;
  if (!content || content->type != json::Type::array) return false;
  auto entries = json::scan_array(content->value);
  if (!entries) return false;
  for (const auto& e : *entries) {
    if (auto t = scan_token_logprob(e.value)) tokens.push_back(*t);
  }
  return true;
}

}  // namespace

void PrefixScan::chunk(std::string_view data) {
  auto obj = json::scan_object(data);
  const json::Field* choices = obj ? obj->find("choices") : nullptr;
  if (!choices || choices->type != json::Type::array) return;
  auto items = json::scan_array(choices->value);
  if (!items) return;
  for (const auto& item : *items) {
    if (item.type != json::Type::object) continue;
    auto choice = json::scan_object(item.value);
    if (!choice) continue;
    const json::Field* index = choice->find("index");
    if (index && json::integer_value(index->value).value_or(0) != 0) continue;
    const bool content = has_content(*choice);
    const bool logprobs = read_logprobs(*choice, tokens);
    if (content) ++content_chunks;
    if (content && !logprobs) missing_logprobs = true;
  }
}

}  // namespace sy::pipeline::cascade

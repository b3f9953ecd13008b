#include "switchyard/answer/extraction.hpp"

#include <re2/re2.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <unordered_map>

#include "switchyard/answer/heuristics.hpp"

namespace sy::answer {

struct AnswerExtractor::Impl {
  std::vector<std::unique_ptr<RE2>> patterns;
  ExtractOptions options;
};

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

/// "$1,234.50" -> 1234.5 when the whole text is one number (with optional sign, currency, '%').
std::optional<double> as_number(std::string_view s) {
  std::string digits;
  bool seen_digit = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c >= '0' && c <= '9') {
      digits.push_back(c);
      seen_digit = true;
    } else if (c == '.' || c == '-') {
      digits.push_back(c);
    } else if (c == ',' && seen_digit) {
      continue;
    } else if (c == '$' || c == '+' || c == ' ') {
      continue;
    } else if (c == '%' && i + 1 == s.size()) {
      continue;
    } else {
      return std::nullopt;
    }
  }
  if (!seen_digit) return std::nullopt;
  while (digits.size() > 1 && digits.back() == '.') digits.pop_back();
  double v = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || p != digits.data() + digits.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::string format_number(double v) {
  char b[64];
  if (std::abs(v) < 1e15 && v == std::floor(v)) {
    std::snprintf(b, sizeof b, "%lld", static_cast<long long>(v));
  } else {
    std::snprintf(b, sizeof b, "%.10g", v);
  }
  return b;
}

}  // namespace

std::string normalize_answer(std::string_view answer, bool lower_case) {
  std::string_view t = trim(answer);
  while (!t.empty() && (t.back() == '.' || t.back() == '!')) t.remove_suffix(1);
  t = trim(t);
  if (auto v = as_number(t)) return format_number(*v);
  std::string out;
  out.reserve(t.size());
  bool space = false;
  for (char c : t) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out.push_back(' ');
    space = false;
    out.push_back(lower_case && c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c);
  }
  return out;
}

Result<AnswerExtractor> AnswerExtractor::compile(std::span<const std::string> patterns, ExtractOptions options) {
  auto impl = std::make_shared<Impl>();
  impl->options = options;
  for (const std::string& p : patterns) {
    RE2::Options o;
    o.set_case_sensitive(!options.case_insensitive);
    o.set_log_errors(false);
    auto re = std::make_unique<RE2>(p, o);
    if (!re->ok()) return Error::bad_request("answer pattern '" + p + "': " + re->error());
    impl->patterns.push_back(std::move(re));
  }
  return AnswerExtractor(std::move(impl));
}

std::optional<std::string> AnswerExtractor::extract(std::string_view answer) const {
  const ExtractOptions& o = impl_->options;
  auto finish = [&](std::string_view raw) {
    return o.normalize_numbers ? normalize_answer(raw, o.case_insensitive)
                               : std::string(trim(raw));
  };
  if (impl_->patterns.empty()) {
    auto f = final_number(answer);
    if (!f) return std::nullopt;
    return finish(f->text);
  }
  const re2::StringPiece text(answer.data(), answer.size());
  for (const auto& re : impl_->patterns) {
    const int groups = std::min(re->NumberOfCapturingGroups(), 1);
    re2::StringPiece m[2];
    std::optional<std::string_view> found;
    std::size_t pos = 0;
    while (pos <= answer.size() && re->Match(text, pos, answer.size(), RE2::UNANCHORED, m, groups + 1)) {
      const re2::StringPiece& g = m[groups];
      if (g.data() != nullptr) found = std::string_view(g.data(), g.size());
      if (!o.last_match) break;
      const std::size_t end = static_cast<std::size_t>(m[0].data() - answer.data()) + m[0].size();
      pos = m[0].empty() ? end + 1 : end;
    }
    if (found) return finish(*found);
  }
  return std::nullopt;
}

Agreement agree(std::span<const std::optional<std::string>> answers) {
  Agreement a;
  a.samples = answers.size();
  a.representative = answers.size();
  std::unordered_map<std::string_view, std::pair<std::size_t, std::size_t>> votes;  // answer -> (count, first index)
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (!answers[i]) continue;
    ++a.extracted;
    auto [it, fresh] = votes.try_emplace(*answers[i], 0, i);
    ++it->second.first;
  }
  for (const auto& [ans, cf] : votes) {
    const auto [count, first] = cf;
    if (count > a.votes || (count == a.votes && first < a.representative)) {
      a.votes = count;
      a.representative = first;
      a.answer = std::string(ans);
    }
  }
  return a;
}

Agreement agree(std::span<const std::string_view> samples, const AnswerExtractor& extractor) {
  std::vector<std::optional<std::string>> answers;
  answers.reserve(samples.size());
  for (std::string_view s : samples) answers.push_back(extractor.extract(s));
  return agree(answers);
}

}  // namespace sy::answer

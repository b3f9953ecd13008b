#include "switchyard/core/redact.hpp"

#include <algorithm>
#include <atomic>

namespace sy {
namespace {

bool key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

bool upper_alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

struct Shape {
  std::string_view prefix;
  std::size_t min_body;   ///< characters after the prefix for it to count as a key
  bool (*body_char)(char);
  bool keep_prefix;       ///< "Bearer " stays readable, the token goes
};

bool token_char(char c) { return key_char(c) || c == '.' || c == '~' || c == '+' || c == '/' || c == '='; }

// Key shapes of the providers Switchyard speaks to, and bearer tokens in echoed headers.
constexpr Shape kShapes[] = {
    {"sk-", 16, key_char, false},       // OpenAI (sk-, sk-proj-), Anthropic (sk-ant-), DeepSeek, ...
    {"AKIA", 16, upper_alnum, false},   // AWS access key ids
    {"ASIA", 16, upper_alnum, false},   // AWS temporary access key ids
    {"AIza", 30, key_char, false},      // Google API keys
    {"Bearer ", 8, token_char, true},
    {"bearer ", 8, token_char, true},
};

// Replaces key-shaped tokens in `s`; appends the result to `out`.
void mask_shapes(std::string_view s, std::string& out) {
  std::size_t i = 0, copied = 0;
  while (i < s.size()) {
    bool hit = false;
    for (const auto& shape : kShapes) {
      if (s.compare(i, shape.prefix.size(), shape.prefix) != 0) continue;
      // A key starts at a word boundary ("task-..." is not "sk-...").
      if (i > 0 && key_char(s[i - 1]) && shape.prefix.front() != 'B' && shape.prefix.front() != 'b') continue;
      std::size_t j = i + shape.prefix.size();
      while (j < s.size() && shape.body_char(s[j])) ++j;
      if (j - i - shape.prefix.size() < shape.min_body) continue;
      std::size_t keep = shape.keep_prefix ? shape.prefix.size() : 0;
      out.append(s.substr(copied, i + keep - copied));
      out.append(Redactor::kMask);
      copied = i = j;
      hit = true;
      break;
    }
    if (!hit) ++i;
  }
  out.append(s.substr(copied));
}

bool has_shape(std::string_view s) {
  for (const auto& shape : kShapes) {
    for (std::size_t at = s.find(shape.prefix); at != std::string_view::npos; at = s.find(shape.prefix, at + 1)) {
      std::size_t j = at + shape.prefix.size();
      while (j < s.size() && shape.body_char(s[j])) ++j;
      if (j - at - shape.prefix.size() >= shape.min_body) return true;
    }
  }
  return false;
}

std::atomic<std::shared_ptr<const Redactor>>& slot() {
  static std::atomic<std::shared_ptr<const Redactor>> r{std::make_shared<const Redactor>(std::vector<std::string>{})};
  return r;
}

}  // namespace

Redactor::Redactor(std::vector<std::string> secrets) {
  for (auto& s : secrets) {
    if (s.size() >= kMinSecret && std::find(secrets_.begin(), secrets_.end(), s) == secrets_.end()) {
      secrets_.push_back(std::move(s));
    }
  }
  std::sort(secrets_.begin(), secrets_.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
}

bool Redactor::matches(std::string_view text) const {
  for (const auto& s : secrets_) {
    if (text.find(s) != std::string_view::npos) return true;
  }
  return has_shape(text);
}

std::string Redactor::apply(std::string_view text) const {
  if (!matches(text)) return std::string(text);
  std::string masked(text);
  for (const auto& s : secrets_) {
    for (std::size_t at = masked.find(s); at != std::string::npos; at = masked.find(s, at + kMask.size())) {
      masked.replace(at, s.size(), kMask);
    }
  }
  std::string out;
  out.reserve(masked.size());
  mask_shapes(masked, out);
  return out;
}

std::shared_ptr<const Redactor> Redactor::current() { return slot().load(); }

void Redactor::install(std::shared_ptr<const Redactor> redactor) {
  if (redactor) slot().store(std::move(redactor));
}

std::string Redactor::scrub(std::string_view text) { return current()->apply(text); }

}  // namespace sy

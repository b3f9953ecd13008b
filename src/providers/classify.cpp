#include <algorithm>
#include <charconv>
#include <cctype>

#include "switchyard/core/json_scan.hpp"
#include "switchyard/providers/wire_format.hpp"

namespace sy::providers {
namespace {

bool contains_ci(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

// Pulls error.message / error.code / error.type (OpenAI, Azure, Anthropic all nest under "error") or a
// top-level "message".
void extract_message(std::string_view body, std::string& message, std::string& code) {
  auto obj = json::scan_object(body);
  if (!obj) return;
  const json::Field* err = obj->find("error");
  if (err && err->type == json::Type::object) {
    auto e = json::scan_object(err->value);
    if (!e) return;
    if (const auto* m = e->find("message"); m && m->type == json::Type::string) message = json::string_value(m->value).value_or("");
    if (const auto* c = e->find("code"); c && c->type == json::Type::string) code = json::string_value(c->value).value_or("");
    if (code.empty()) {
      if (const auto* t = e->find("type"); t && t->type == json::Type::string) code = json::string_value(t->value).value_or("");
    }
  } else if (err && err->type == json::Type::string) {
    message = json::string_value(err->value).value_or("");
  } else if (const auto* m = obj->find("message"); m && m->type == json::Type::string) {
    message = json::string_value(m->value).value_or("");
  }
}

std::optional<std::chrono::milliseconds> retry_after(const Headers& headers) {
  if (auto ms = find_header(headers, "retry-after-ms"); !ms.empty()) {
    double v = 0;
    auto [p, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), v);
    if (ec == std::errc() && v >= 0) return std::chrono::milliseconds(static_cast<std::int64_t>(v));
  }
  if (auto s = find_header(headers, "retry-after"); !s.empty()) {
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && v >= 0) return std::chrono::milliseconds(static_cast<std::int64_t>(v * 1000));
    // An HTTP date is possible but rare from LLM APIs; treat as unknown.
  }
  return std::nullopt;
}

}  // namespace

Error classify_http_error(int status, const Headers& headers, std::string_view body) {
  Error e;
  e.upstream_status = status;
  std::string code;
  extract_message(body, e.message, code);
  if (e.message.empty()) {
    std::string_view text = body.substr(0, 300);
    e.message = text.empty() ? "upstream returned HTTP " + std::to_string(status) : std::string(text);
  }
  auto mentions = [&](std::initializer_list<std::string_view> words) {
    for (auto w : words) {
      if (contains_ci(code, w) || contains_ci(e.message, w)) return true;
    }
    return false;
  };
  if (status == 429) {
    e.kind = ErrorKind::rate_limited;
  } else if (status == 401 || status == 403) {
    e.kind = ErrorKind::auth;
  } else if (status == 408) {
    e.kind = ErrorKind::timeout;
  } else if (status == 413 || mentions({"context_length", "context length", "maximum context", "too many tokens",
                                         "prompt is too long", "input is too long", "reduce the length"})) {
    e.kind = ErrorKind::context_length;
  } else if (mentions({"content_filter", "content_policy", "content management policy", "responsibleaipolicy",
                       "safety system"})) {
    e.kind = ErrorKind::content_filter;
  } else if (status >= 500) {
    // 529 (Anthropic "overloaded") behaves like a rate limit: back off and try elsewhere.
    e.kind = status == 529 ? ErrorKind::rate_limited : ErrorKind::server_error;
  } else {
    e.kind = ErrorKind::upstream_bad_request;
  }
  if (!code.empty()) e.code = code;
  e.retry_after = retry_after(headers);
  return e;
}

}  // namespace sy::providers

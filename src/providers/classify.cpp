// The one classification of upstream failures into ErrorKind, shared by every wire format. It reads
// the error bodies of OpenAI, Azure (code + innererror), Anthropic (type), Google (an array around
// {"error":{"status"}}), and AWS (x-amzn-errortype or __type, top-level message).
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

// Error codes, types and statuses that say more than the HTTP status they come with.
struct CodeRow {
  std::string_view code;
  ErrorKind kind;
};
constexpr CodeRow kCodes[] = {
    // OpenAI and Azure codes.
    {"context_length_exceeded", ErrorKind::context_length},
    {"content_filter", ErrorKind::content_filter},
    {"content_policy_violation", ErrorKind::content_filter},
    {"ResponsibleAIPolicyViolation", ErrorKind::content_filter},
    {"invalid_api_key", ErrorKind::auth},
    // Anthropic error types.
    {"authentication_error", ErrorKind::auth},
    {"permission_error", ErrorKind::auth},
    {"rate_limit_error", ErrorKind::rate_limited},
    {"overloaded_error", ErrorKind::rate_limited},
    {"api_error", ErrorKind::server_error},
    {"timeout_error", ErrorKind::timeout},
    // Google RPC statuses and reasons.
    {"RESOURCE_EXHAUSTED", ErrorKind::rate_limited},
    {"UNAUTHENTICATED", ErrorKind::auth},
    {"PERMISSION_DENIED", ErrorKind::auth},
    {"API_KEY_INVALID", ErrorKind::auth},
    {"DEADLINE_EXCEEDED", ErrorKind::timeout},
    {"UNAVAILABLE", ErrorKind::server_error},
    {"INTERNAL", ErrorKind::server_error},
    // AWS (Bedrock) exception names.
    {"ThrottlingException", ErrorKind::rate_limited},
    {"ServiceQuotaExceededException", ErrorKind::rate_limited},
    {"TooManyRequestsException", ErrorKind::rate_limited},
    {"AccessDeniedException", ErrorKind::auth},
    {"UnrecognizedClientException", ErrorKind::auth},
    {"InvalidSignatureException", ErrorKind::auth},
    {"IncompleteSignatureException", ErrorKind::auth},
    {"MissingAuthenticationTokenException", ErrorKind::auth},
    {"ExpiredTokenException", ErrorKind::auth},
    {"ModelTimeoutException", ErrorKind::timeout},
    {"ModelNotReadyException", ErrorKind::server_error},
    {"ModelErrorException", ErrorKind::server_error},
    {"ModelStreamErrorException", ErrorKind::server_error},
    {"InternalServerException", ErrorKind::server_error},
    {"ServiceUnavailableException", ErrorKind::server_error},
};

constexpr std::string_view kContextWords[] = {
    "context_length", "context length", "maximum context", "context window", "context limit", "too many tokens",
    "prompt is too long", "input is too long", "too many input tokens", "maximum number of tokens",
    "reduce the length"};
constexpr std::string_view kFilterWords[] = {"content_filter", "content_policy", "content management policy",
                                             "responsibleaipolicy", "safety system"};
constexpr std::string_view kAuthWords[] = {"api key not valid", "invalid x-api-key", "incorrect api key"};

std::string string_of(const json::Object& o, std::string_view key) {
  const auto* f = o.find(key);
  return f && f->type == json::Type::string ? json::string_value(f->value).value_or("") : std::string();
}

// Google's RetryInfo detail: "retryDelay": "38s".
// A delay an upstream announced, in milliseconds, bounded to a day: a double beyond int64 cannot be
// cast (undefined behaviour), and no provider means "retry next year".
std::chrono::milliseconds bounded_ms(double ms) {
  constexpr double kDay = 86'400'000;
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::min(ms, kDay)));
}

std::optional<std::chrono::milliseconds> retry_delay(const json::Object& err) {
  const auto* details = err.find("details");
  if (!details || details->type != json::Type::array) return std::nullopt;
  auto items = json::scan_array(details->value);
  if (!items) return std::nullopt;
  for (const auto& item : *items) {
    if (item.type != json::Type::object) continue;
    auto d = json::scan_object(item.value);
    if (!d) continue;
    std::string delay = string_of(*d, "retryDelay");
    if (delay.empty() || delay.back() != 's') continue;
    double v = 0;
    auto [p, ec] = std::from_chars(delay.data(), delay.data() + delay.size() - 1, v);
    if (ec == std::errc() && v >= 0) return bounded_ms(v * 1000);
  }
  return std::nullopt;
}

struct Extracted {
  std::string message;
  std::string code;
  std::optional<std::chrono::milliseconds> retry_delay;
};

// Pulls the message and the most specific code from any of the body shapes above.
Extracted extract(std::string_view body) {
  Extracted x;
  size_t first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && body[first] == '[') {  // Google: [{"error":{...}}]
    auto items = json::scan_array(body);
    if (!items || items->empty() || items->front().type != json::Type::object) return x;
    body = items->front().value;
  }
  auto obj = json::scan_object(body);
  if (!obj) return x;
  const json::Field* err = obj->find("error");
  if (err && err->type == json::Type::object) {
    auto e = json::scan_object(err->value);
    if (!e) return x;
    x.message = string_of(*e, "message");
    for (auto key : {"code", "type", "status"}) {
      if (x.code.empty()) x.code = string_of(*e, key);
    }
    x.retry_delay = retry_delay(*e);
  } else if (err && err->type == json::Type::string) {
    x.message = json::string_value(err->value).value_or("");
  } else {
    x.message = string_of(*obj, "message");
    if (x.message.empty()) x.message = string_of(*obj, "Message");
    x.code = string_of(*obj, "__type");
    x.code = x.code.substr(x.code.rfind('#') + 1);  // "com.amazon.coral.service#ThrottlingException"
  }
  return x;
}

std::optional<std::chrono::milliseconds> retry_after(const Headers& headers) {
  if (auto ms = find_header(headers, "retry-after-ms"); !ms.empty()) {
    double v = 0;
    auto [p, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), v);
    if (ec == std::errc() && v >= 0) return bounded_ms(v);
  }
  if (auto s = find_header(headers, "retry-after"); !s.empty()) {
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && v >= 0) return bounded_ms(v * 1000);
    // An HTTP date is possible but rare from LLM APIs; treat as unknown.
  }
  return std::nullopt;
}

std::optional<ErrorKind> kind_of_code(std::string_view code) {
  for (const auto& row : kCodes) {
    if (iequals(row.code, code)) return row.kind;
  }
  return std::nullopt;
}

}  // namespace

Error upstream_json_error(const Error& guard) {
  Error e = Error::make(ErrorKind::connection, "upstream returned an unusable body: " + guard.message);
  e.code = guard.code;
  return e;
}

Error classify_http_error(int status, const Headers& headers, std::string_view body) {
  Error e;
  e.upstream_status = status;
  Extracted x = extract(body);
  e.message = std::move(x.message);
  std::string code = std::move(x.code);
  if (code.empty()) {
    // AWS names the exception in a header: "ThrottlingException:http://internal.amazon.com/coral/...".
    std::string_view type = find_header(headers, "x-amzn-errortype");
    code = std::string(type.substr(0, type.find(':')));
  }
  if (e.message.empty()) {
    std::string_view text = body.substr(0, 300);
    e.message = text.empty() ? "upstream returned HTTP " + std::to_string(status) : std::string(text);
  }
  auto mentions = [&](const auto& words) {
    for (std::string_view w : words) {
      if (contains_ci(code, w) || contains_ci(e.message, w)) return true;
    }
    return false;
  };
  auto by_code = kind_of_code(code);
  if (status == 429) {
    e.kind = ErrorKind::rate_limited;
  } else if (status == 401 || status == 403) {
    e.kind = ErrorKind::auth;
  } else if (by_code) {
    e.kind = *by_code;
  } else if (status == 408) {
    e.kind = ErrorKind::timeout;
  } else if (status == 413 || mentions(kContextWords)) {
    e.kind = ErrorKind::context_length;
  } else if (mentions(kFilterWords)) {
    e.kind = ErrorKind::content_filter;
  } else if (mentions(kAuthWords)) {
    e.kind = ErrorKind::auth;
  } else if (status == 404) {
    // The deployment's model or path does not exist upstream (Azure DeploymentNotFound, a retired or
    // unpulled model): a fault of this deployment, so another one is tried. The client still gets the
    // 404 and the upstream's message when none can serve.
    e.kind = ErrorKind::unavailable;
    e.status_override = 404;
  } else if (status >= 500) {
    // 529 (Anthropic "overloaded") behaves like a rate limit: back off and try elsewhere.
    e.kind = status == 529 ? ErrorKind::rate_limited : ErrorKind::server_error;
  } else {
    e.kind = ErrorKind::upstream_bad_request;
  }
  // Normalised kinds carry their own client-facing code (rate_limit_exceeded, context_length_exceeded,
  // ...), the same whichever provider failed; a plain bad request keeps the upstream's, the most
  // specific thing a client can act on.
  if (e.kind == ErrorKind::upstream_bad_request || e.kind == ErrorKind::unavailable) e.code = code;
  e.retry_after = retry_after(headers);
  if (!e.retry_after) e.retry_after = x.retry_delay;
  return e;
}

}  // namespace sy::providers

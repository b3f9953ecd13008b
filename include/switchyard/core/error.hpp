#pragma once
/// One error type for the whole request path, and the single place that maps it to HTTP.
///
/// Every failure a client can see — a malformed request, an unknown model, an upstream 429 after all
/// failover, a rule rejection — is an `Error`. `http_status()` and `to_openai_json()` are the only
/// functions that decide what the client receives, so the mapping lives in one place.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sy {

/// What went wrong. The upstream kinds (rate_limited .. connection) are the normalised classification
/// every provider module maps its errors into; the reliability layer decides retries from them.
enum class ErrorKind {
  // Client mistakes and gateway decisions.
  bad_request,        ///< 400: malformed JSON, missing or ill-typed field
  unauthorized,       ///< 401: the caller's own key was refused by the gateway
  forbidden,          ///< 403: the caller's key may not do this (a model it is not allowed, the admin API)
  not_found,          ///< 404: unknown path or model
  method_not_allowed, ///< 405
  payload_too_large,  ///< 413
  header_too_large,   ///< 431
  rejected,           ///< a routing rule refused the request (status chosen by the rule)
  overloaded,         ///< 503: too many connections / draining
  // Upstream classification (issue: providers).
  rate_limited,       ///< 429 from upstream or every deployment cooling down
  auth,               ///< 401/403 from upstream: our key is wrong, not the caller's fault
  context_length,     ///< prompt exceeds the model's context window
  content_filter,     ///< upstream content policy refused
  upstream_bad_request, ///< 400/422 from upstream: the request itself is bad
  server_error,       ///< 5xx from upstream
  timeout,            ///< connect / first byte / idle / total deadline passed
  connection,         ///< refused, reset, TLS failure, malformed upstream response
  unavailable,        ///< no deployment can serve (all down)
  cancelled,          ///< our client went away and the upstream call was abandoned: never the
                      ///< upstream's fault, never retried, never counted against its health
  internal,           ///< a bug; logged loudly
};

std::string_view to_string(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::internal;
  std::string message;
  std::string param;           ///< OpenAI "param": the offending field, when there is one
  std::string code;            ///< OpenAI "code"; empty means derived from `kind`
  int status_override = 0;     ///< explicit HTTP status (rule rejections, preserved upstream 4xx)
  int upstream_status = 0;     ///< status the upstream returned, 0 if none
  std::string deployment;      ///< which deployment produced it, empty for gateway errors
  std::optional<std::chrono::milliseconds> retry_after; ///< when a retry may succeed

  static Error bad_request(std::string message, std::string param = {}, std::string code = {}) {
    Error e;
    e.kind = ErrorKind::bad_request;
    e.message = std::move(message);
    e.param = std::move(param);
    e.code = std::move(code);
    return e;
  }
  static Error make(ErrorKind kind, std::string message) {
    Error e;
    e.kind = kind;
    e.message = std::move(message);
    return e;
  }
};

/// The HTTP status the client receives for this error.
int http_status(const Error& e);
/// OpenAI-style `{"error":{"message","type","param","code"}}`.
std::string to_openai_json(const Error& e);
/// The OpenAI `type` string for the error (invalid_request_error, rate_limit_error, ...).
std::string_view openai_type(const Error& e);
/// Whether a retry or failover to another deployment may succeed.
bool is_retryable(ErrorKind kind);

/// Value or Error. Small on purpose: C++20 has no std::expected.
template <class T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}          // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}      // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  Error& error() & { return std::get<1>(v_); }
  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace sy

namespace sy {
/// Success or Error, for operations without a value.
using Status = Result<std::monostate>;
inline Status ok_status() { return std::monostate{}; }
}  // namespace sy

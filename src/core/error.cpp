#include "switchyard/core/error.hpp"

#include "switchyard/core/redact.hpp"

#include <nlohmann/json.hpp>

namespace sy {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::bad_request: return "bad_request";
    case ErrorKind::unauthorized: return "unauthorized";
    case ErrorKind::forbidden: return "forbidden";
    case ErrorKind::not_found: return "not_found";
    case ErrorKind::method_not_allowed: return "method_not_allowed";
    case ErrorKind::payload_too_large: return "payload_too_large";
    case ErrorKind::header_too_large: return "header_too_large";
    case ErrorKind::rejected: return "rejected";
    case ErrorKind::overloaded: return "overloaded";
    case ErrorKind::rate_limited: return "rate_limited";
    case ErrorKind::auth: return "auth";
    case ErrorKind::context_length: return "context_length";
    case ErrorKind::content_filter: return "content_filter";
    case ErrorKind::upstream_bad_request: return "upstream_bad_request";
    case ErrorKind::server_error: return "server_error";
    case ErrorKind::timeout: return "timeout";
    case ErrorKind::connection: return "connection";
    case ErrorKind::unavailable: return "unavailable";
    case ErrorKind::cancelled: return "cancelled";
    case ErrorKind::internal: return "internal";
  }
  return "internal";
}

int http_status(const Error& e) {
  if (e.status_override >= 400 && e.status_override <= 599) return e.status_override;
  switch (e.kind) {
    case ErrorKind::bad_request: return 400;
    case ErrorKind::unauthorized: return 401;
    case ErrorKind::forbidden: return 403;
    case ErrorKind::not_found: return 404;
    case ErrorKind::method_not_allowed: return 405;
    case ErrorKind::payload_too_large: return 413;
    case ErrorKind::header_too_large: return 431;
    case ErrorKind::rejected: return 400;
    case ErrorKind::overloaded: return 503;
    case ErrorKind::rate_limited: return 429;
    // Our upstream credentials failing is a gateway fault, not the caller's: 502 says so.
    case ErrorKind::auth: return 502;
    case ErrorKind::context_length: return 400;
    case ErrorKind::content_filter: return 400;
    case ErrorKind::upstream_bad_request: return e.upstream_status >= 400 && e.upstream_status < 500 ? e.upstream_status : 400;
    case ErrorKind::server_error: return 502;
    case ErrorKind::timeout: return 504;
    case ErrorKind::connection: return 502;
    case ErrorKind::unavailable: return 503;
    case ErrorKind::cancelled: return 499;  // nginx's "client closed request": logged, never sent
    case ErrorKind::internal: return 500;
  }
  return 500;
}

std::string_view openai_type(const Error& e) {
  switch (e.kind) {
    case ErrorKind::bad_request:
    case ErrorKind::not_found:
    case ErrorKind::method_not_allowed:
    case ErrorKind::payload_too_large:
    case ErrorKind::header_too_large:
    case ErrorKind::rejected:
    case ErrorKind::context_length:
    case ErrorKind::content_filter:
    case ErrorKind::upstream_bad_request: return "invalid_request_error";
    case ErrorKind::unauthorized: return "authentication_error";
    case ErrorKind::forbidden: return "permission_error";
    case ErrorKind::rate_limited: return "rate_limit_error";
    case ErrorKind::timeout: return "timeout_error";
    case ErrorKind::overloaded:
    case ErrorKind::unavailable: return "service_unavailable_error";
    case ErrorKind::auth:
    case ErrorKind::server_error:
    case ErrorKind::connection: return "upstream_error";
    case ErrorKind::cancelled:
    case ErrorKind::internal: return "server_error";
  }
  return "server_error";
}

static std::string_view default_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::not_found: return "not_found";
    case ErrorKind::forbidden: return "permission_denied";
    case ErrorKind::method_not_allowed: return "method_not_allowed";
    case ErrorKind::payload_too_large: return "request_too_large";
    case ErrorKind::header_too_large: return "headers_too_large";
    case ErrorKind::rejected: return "request_rejected";
    case ErrorKind::overloaded: return "overloaded";
    case ErrorKind::rate_limited: return "rate_limit_exceeded";
    case ErrorKind::auth: return "upstream_auth_failed";
    case ErrorKind::context_length: return "context_length_exceeded";
    case ErrorKind::content_filter: return "content_filter";
    case ErrorKind::server_error: return "upstream_server_error";
    case ErrorKind::timeout: return "upstream_timeout";
    case ErrorKind::connection: return "upstream_connection_error";
    case ErrorKind::unavailable: return "no_deployment_available";
    case ErrorKind::cancelled: return "client_closed_request";
    case ErrorKind::internal: return "internal_error";
    default: return {};
  }
}

std::string to_openai_json(const Error& e) {
  // ordered_json keeps OpenAI's member order: message, type, param, code.
  nlohmann::ordered_json err;
  // Messages may quote an upstream's answer, which may quote our credentials: scrubbed on the way out.
  err["message"] = Redactor::scrub(e.message);
  err["type"] = openai_type(e);
  // param and code can be an upstream's too (its error code is kept for 4xx): scrubbed as well.
  err["param"] = e.param.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(Redactor::scrub(e.param));
  std::string_view code = e.code.empty() ? default_code(e.kind) : std::string_view(e.code);
  err["code"] = code.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(Redactor::scrub(code));
  nlohmann::ordered_json out;
  out["error"] = std::move(err);
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_retryable(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::rate_limited:
    case ErrorKind::server_error:
    case ErrorKind::timeout:
    case ErrorKind::connection:
    case ErrorKind::unavailable:
    case ErrorKind::auth:  // another deployment may hold a working key
      return true;
    default:
      return false;
  }
}

}  // namespace sy

#pragma once
/// Rate-limit information providers send with every response, parsed into one shape. Pure functions.
///
/// OpenAI / Azure / most OpenAI-compatible servers: `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`
/// with resets as Go-style durations ("6m0s", "20ms", "1h2m3.5s"). Anthropic:
/// `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}` with
/// resets as RFC 3339 timestamps. Both: `retry-after` (seconds or an HTTP date) and `retry-after-ms`.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "switchyard/core/headers.hpp"

namespace sy::limits {

struct LearnedLimits {
  std::optional<std::int64_t> limit_requests, remaining_requests;
  std::optional<std::int64_t> limit_tokens, remaining_tokens;
  std::optional<std::chrono::milliseconds> reset_requests, reset_tokens;  ///< from now
  std::optional<std::chrono::milliseconds> retry_after;                  ///< from now
  bool any() const {
    return limit_requests || remaining_requests || limit_tokens || remaining_tokens || reset_requests || reset_tokens ||
           retry_after;
  }
};

/// Reads every rate-limit header present. `now_unix_ms` converts absolute reset times.
LearnedLimits parse_rate_headers(const Headers& headers, std::int64_t now_unix_ms);

/// "6m0s", "20ms", "1h2m3.5s", "1.5s", "250us" -> milliseconds (rounded up). nullopt when malformed.
std::optional<std::chrono::milliseconds> parse_go_duration(std::string_view s);
/// RFC 3339 ("2026-11-28T07:00:05Z", fractional seconds and offsets allowed) -> unix ms.
std::optional<std::int64_t> parse_rfc3339_ms(std::string_view s);
/// RFC 7231 HTTP date ("Wed, 21 Oct 2015 07:28:00 GMT") -> unix ms.
std::optional<std::int64_t> parse_http_date_ms(std::string_view s);

}  // namespace sy::limits

#pragma once
/// Token usage of one upstream call, and its price.
#include <cstdint>
#include <string_view>

namespace sy {

struct Usage {
  std::int64_t prompt_tokens = 0;       ///< every input token, cached and cache-written ones included
  std::int64_t completion_tokens = 0;
  std::int64_t cached_tokens = 0;       ///< part of prompt_tokens read from the provider's prompt cache
  std::int64_t cache_write_tokens = 0;  ///< part of prompt_tokens written to it (Anthropic, Bedrock)
  bool known = false;                   ///< the upstream reported usage
};

/// USD per 1M tokens of one deployment. Cache reads and writes have their own prices: OpenAI counts
/// cached tokens inside prompt_tokens at a discount, Anthropic reports reads (cheaper) and writes
/// (dearer) beside the plain input; Usage normalises both to the OpenAI shape.
struct Prices {
  double input = 0;
  double output = 0;
  double cached_input = 0;  ///< per cache-read token
  double cache_write = 0;   ///< per cache-written token
};

/// Largest token count believed from an upstream; counts are clamped to [0, this].
inline constexpr std::int64_t kMaxTokenCount = 1'000'000'000'000;

/// Cost in USD of `u` at `p`.
inline double cost_usd(const Usage& u, const Prices& p) {
  const std::int64_t cached = u.cached_tokens < u.prompt_tokens ? u.cached_tokens : u.prompt_tokens;
  const std::int64_t written = u.cache_write_tokens < u.prompt_tokens - cached ? u.cache_write_tokens : u.prompt_tokens - cached;
  const std::int64_t plain = u.prompt_tokens - cached - written;
  return (static_cast<double>(plain) * p.input + static_cast<double>(cached) * p.cached_input +
          static_cast<double>(written) * p.cache_write + static_cast<double>(u.completion_tokens) * p.output) / 1e6;
}

/// Reads an OpenAI `usage` object's raw JSON ({"prompt_tokens":..,"completion_tokens":..,
/// "prompt_tokens_details":{"cached_tokens":..}}) into `u`. Returns false when it is not one.
bool parse_openai_usage(std::string_view raw, Usage& u);

}  // namespace sy

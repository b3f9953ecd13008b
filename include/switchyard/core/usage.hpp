#pragma once
/// Token usage of one upstream call, and its price.
#include <cstdint>
#include <string_view>

namespace sy {

struct Usage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cached_tokens = 0;  ///< part of prompt_tokens served from the provider's cache
  bool known = false;              ///< the upstream reported usage
};

/// Largest token count believed from an upstream; counts are clamped to [0, this].
inline constexpr std::int64_t kMaxTokenCount = 1'000'000'000'000;

/// Cost in USD given prices per 1M input / output tokens.
inline double cost_usd(const Usage& u, double input_per_m, double output_per_m) {
  return (static_cast<double>(u.prompt_tokens) * input_per_m + static_cast<double>(u.completion_tokens) * output_per_m) / 1e6;
}

/// Reads an OpenAI `usage` object's raw JSON ({"prompt_tokens":..,"completion_tokens":..,
/// "prompt_tokens_details":{"cached_tokens":..}}) into `u`. Returns false when it is not one.
bool parse_openai_usage(std::string_view raw, Usage& u);

}  // namespace sy

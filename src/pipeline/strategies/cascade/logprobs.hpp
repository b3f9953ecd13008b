#pragma once
// Per-token logprobs of an OpenAI chat answer, whole (`choices[i].logprobs.content`) or streamed
// (chunks read as they arrive), and the confidence the logprob verifier derives from them. Pure.
#include <cstddef>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace sy::pipeline::cascade {

/// One generated token's logprob and the probability of its best alternative (0 when none is given).
struct TokenLogprob {
  double logprob = -100;
  double runner_up = 0;
};

/// How the logprob verifier turns tokens into a confidence: exp(mean logprob), exp(min logprob), or the
/// mean margin of each token's probability over its runner-up's.
enum class LogprobMetric { mean, min, margin };

/// An OpenAI `logprobs.content` entry ({"token", "logprob", "top_logprobs": [...]}), from a parsed tree.
TokenLogprob token_logprob(const nlohmann::json& entry);

/// The same from raw JSON, with the scanner: streamed chunks are read without building trees.
std::optional<TokenLogprob> scan_token_logprob(std::string_view raw);

/// Confidence over at most `limit` tokens; nullopt without tokens.
std::optional<double> logprob_confidence(std::span<const TokenLogprob> tokens, LogprobMetric metric,
                                         std::size_t limit = std::numeric_limits<std::size_t>::max());

/// Collects choice 0's per-token logprobs from a stream's frames as they arrive.
struct PrefixScan {
  std::vector<TokenLogprob> tokens;  ///< in order
  std::size_t content_chunks = 0;    ///< chunks that carried content
  bool missing_logprobs = false;     ///< content came without logprobs: the upstream does not stream them

  /// Reads whole frames ("data: {...}\n\n").
  void feed(std::string_view frames);

 private:
  void chunk(std::string_view data);
};

}  // namespace sy::pipeline::cascade

#pragma once
/// Verifier features of a (prompt, answer) pair for the learned answer scorer: whether and how the answer
/// states a final number, whether its arithmetic holds, whether the numbers it uses come from the prompt,
/// hedging, repetition, lengths. Built on the checks of answer/heuristics.hpp.
///
/// Pure functions: safe on any thread. About 5-20 µs for a GSM8K-sized pair.
#include <array>
#include <cstddef>
#include <span>
#include <string_view>

namespace sy::learn {

inline constexpr std::size_t kAnswerFeatures = 59;

/// Names of the verifier features, in order (stored in the scorer file, shown by `train --verbose`).
const std::array<std::string_view, kAnswerFeatures>& answer_feature_names();

/// Computes the verifier features (raw, unscaled).
void answer_features(std::string_view prompt, std::string_view answer, std::span<float, kAnswerFeatures> out);

}  // namespace sy::learn

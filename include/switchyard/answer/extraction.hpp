#pragma once
/// Extracting a comparable answer from a model's text, and agreement between several sampled answers
/// (self-consistency): if the cheap model, sampled k times, gives the same final answer most of the
/// time, that answer is more likely right.
///
/// An `AnswerExtractor` is compiled once (RE2 patterns) and then immutable: `extract` is `const` and safe
/// to call from any number of threads. Copies share the compiled patterns.
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/core/error.hpp"

namespace sy::answer {

struct ExtractOptions {
  /// Within one pattern, take the last match (true, right for "the answer is X" restated at the end) or
  /// the first.
  bool last_match = true;
  /// Canonical numbers: "$1,234.50" -> "1234.5", "18.00" -> "18", "+7" -> "7". A non-numeric answer is
  /// trimmed and, with `case_insensitive`, lower-cased.
  bool normalize_numbers = true;
  bool case_insensitive = true;
};

class AnswerExtractor {
 public:
  /// Patterns (RE2 syntax) tried in order: the first that matches gives the answer, capture group 1 when
  /// the pattern has one, else the whole match. No patterns: `final_number` (heuristics.hpp),
  /// i.e. "####", "The answer is", \boxed{}, then the last number. Errors name the bad pattern.
  static Result<AnswerExtractor> compile(std::span<const std::string> patterns, ExtractOptions options = {});

  /// The normalised answer, or nullopt when no pattern matches.
  std::optional<std::string> extract(std::string_view answer) const;

  struct Impl;  ///< compiled patterns (defined in the .cpp)

 private:
  explicit AnswerExtractor(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

/// Canonical text of a number-like answer (see ExtractOptions::normalize_numbers); other text trimmed.
std::string normalize_answer(std::string_view answer, bool lower_case = true);

/// Majority vote over samples.
struct Agreement {
  std::string answer;         ///< the most frequent extracted answer (ties: the one seen first); empty if none
  std::size_t votes = 0;      ///< samples that gave `answer`
  std::size_t extracted = 0;  ///< samples from which an answer was extracted
  std::size_t samples = 0;    ///< all samples
  /// votes / samples: the share of all samples that agree (samples with no answer count against).
  double share() const { return samples ? static_cast<double>(votes) / static_cast<double>(samples) : 0.0; }
  /// Index (into the samples) of the first sample that gave `answer`, or samples when none.
  std::size_t representative = 0;
};

/// Extracts each sample's answer and takes the majority.
Agreement agree(std::span<const std::string_view> samples, const AnswerExtractor& extractor);
/// Same, over already-extracted answers (nullopt: nothing extracted).
Agreement agree(std::span<const std::optional<std::string>> answers);

}  // namespace sy::answer

#pragma once
/// Rule-based checks of a model's answer, for a cascade that accepts the cheap model's answer or
/// escalates: empty, truncated (`finish_reason == "length"`), refusal, hedging, invalid JSON when JSON was
/// asked for, tool-call arguments that break the tool's schema, arithmetic that does not add up,
/// a missing final answer, repeated lines. `check_answer` runs the checks that apply and returns a score
/// in [0,1] (1 = nothing found) with the reasons.
///
/// Everything here is a pure function of its arguments (no globals, no I/O): safe on any thread, and
/// cheap (one or two passes over the answer; microseconds for a typical answer). Sample agreement with
/// a configurable extraction regex is in extraction.hpp, the schema validator in json_schema.hpp. None of
/// these is trained (the learned answer scorer is in learn/).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/answer/extraction.hpp"
#include "switchyard/answer/json_schema.hpp"

namespace sy::answer {

/// What a check found. Stable names (`to_string`) for logs and decision headers.
enum class AnswerIssue : std::uint8_t {
  empty,             ///< nothing but whitespace
  truncated,         ///< finish_reason "length": the answer was cut at max_tokens
  refusal,           ///< "I'm sorry, but I can't ...", "As an AI ..."
  hedge,             ///< "I'm not sure", "I don't know", "cannot be determined" ...
  invalid_json,      ///< JSON was requested and the answer is not one JSON value
  schema_violation,  ///< JSON (or tool-call arguments) that breaks the given schema
  arithmetic_error,  ///< an equation in the answer that does not hold ("3 x 4 = 11")
  no_final_answer,   ///< a final answer was expected ("####", "The answer is", \boxed{}) and none found
  repetition,        ///< the same line repeated (a degenerate loop)
};
std::string_view to_string(AnswerIssue issue);

struct AnswerFinding {
  AnswerIssue issue;
  double penalty = 0;  ///< what it took off: score *= (1 - penalty)
  std::string detail;  ///< e.g. the matched phrase, the failing equation, the schema violation
};

/// Penalty per issue, in [0,1]: the score is the product of (1 - penalty) over the findings, so one
/// penalty of 1 rejects the answer whatever else holds. Arithmetic errors compound per wrong equation.
struct HeuristicWeights {
  double empty = 1.0;
  double truncated = 0.8;
  double refusal = 0.9;
  double hedge = 0.3;
  double invalid_json = 1.0;
  double schema_violation = 0.9;
  double arithmetic_error = 0.5;  ///< per wrong equation (two wrong: 1 - 0.5^2 = 0.75 taken off)
  double no_final_answer = 0.5;
  double repetition = 0.6;
};

/// What the request asked for, so that the checks that apply are run.
struct AnswerExpectations {
  std::string_view finish_reason;     ///< as the provider reported it; "length" means truncated
  bool json = false;                  ///< response_format json_object / json_schema was requested
  const JsonSchema* schema = nullptr; ///< validate the answer (JSON) against this schema; implies json
  bool final_answer = false;          ///< a stated final answer is expected (math word problems)
  bool arithmetic = true;             ///< check the equations written in the answer
};

struct AnswerVerdict {
  double score = 1.0;  ///< in [0,1]; 1 = no issue found
  std::vector<AnswerFinding> findings;
  bool has(AnswerIssue issue) const;
};

/// Runs the checks that `expect` calls for and combines their penalties.
AnswerVerdict check_answer(std::string_view answer, const AnswerExpectations& expect = {},
                           const HeuristicWeights& weights = {});

/// Tool-call arguments (a JSON object as text) against the tool's parameters schema: score 1 when valid,
/// else the invalid_json or schema_violation finding.
AnswerVerdict check_tool_arguments(std::string_view arguments_json, const JsonSchema& parameters,
                                   const HeuristicWeights& weights = {});

// --- individual detectors -------------------------------------------------------------------------------

/// True when the answer is empty or whitespace only.
bool is_blank(std::string_view answer);
/// True for finish_reason "length" (OpenAI), "max_tokens" (Anthropic) and "MAX_TOKENS" (Gemini).
bool is_truncated(std::string_view finish_reason);
/// The refusal phrase found near the start of the answer (first 400 bytes), if any. Case-insensitive;
/// typographic apostrophes count as ASCII ones.
std::optional<std::string> find_refusal(std::string_view answer);
/// Hedging phrases ("I'm not sure", "I don't know", "cannot be determined", ...) found anywhere.
std::vector<std::string> find_hedges(std::string_view answer);
/// Number of non-blank lines that repeat an earlier line exactly (lines of 8+ bytes only).
std::size_t repeated_lines(std::string_view answer);

/// One evaluated computation ("16 - 3 = 13" or "<<16-3=13>>"), for re-deriving an answer's chain.
struct ArithmeticStep {
  double result = 0;               ///< the value as written right of '='
  std::size_t begin = 0, end = 0;  ///< byte range in the text, from the first operand to the result
  std::uint32_t first_operand = 0, operand_count = 0;  ///< range in ArithmeticCheck::operands
  char op = 0;                     ///< top-level operator
  bool holds = true;               ///< the equation is right (within the written precision)
};

/// Result of checking the arithmetic written in a text.
struct ArithmeticCheck {
  std::size_t checked = 0;          ///< equalities evaluated, e.g. "16 - 3 = 13" (chains count each '=')
  std::size_t wrong = 0;            ///< of those, how many do not hold
  std::size_t annotated = 0;        ///< calculator annotations "<<9*2=18>>" (GSM8K style) evaluated
  std::size_t annotated_wrong = 0;  ///< of those, wrong
  std::optional<double> last_result;  ///< the value right of the last '=' evaluated
  char last_op = 0;                 ///< top-level operator of the last computation ('+', '-', '*', '/', '^')
  std::vector<double> operands;     ///< numbers in the computed sides of equalities and annotations, in order
  std::vector<double> results;      ///< values right of '=' that were evaluated (annotations too), in order
  std::string first_wrong;          ///< the first wrong equation as written
  std::vector<ArithmeticStep> steps;  ///< every evaluated computation, in text order of its result
};

/// Finds equalities made of numbers and + - * / x × ÷ ^ % ( ) and checks them. A result written with d
/// decimals may be rounded (|lhs - rhs| <= 0.5·10^-d); an integer result must be exact (relative 1e-9).
/// "$", thousands separators and "%" (as /100) are understood. Equalities with no operator on either
/// side ("50 = 20" after "40% of") are not checked; a word or line break ends an equation.
ArithmeticCheck check_arithmetic(std::string_view text);

/// Where a final answer was stated.
enum class FinalAnswerSource : std::uint8_t { none, marker, phrase, boxed, last_number };

struct FinalNumber {
  double value = 0;
  std::string_view text;  ///< as written (a view into the answer)
  FinalAnswerSource source = FinalAnswerSource::none;
};

/// The final numeric answer: the number after the last "####", else after the last "answer is" /
/// "Answer:", else inside the last "\boxed{...}", else the last number in the text.
std::optional<FinalNumber> final_number(std::string_view answer);

/// A number written in a text.
struct TextNumber {
  double value = 0;
  bool percent = false;  ///< written with '%' (value is the number as written, not /100)
  bool word = false;     ///< a number word ("three", "dozen", "half")
};
/// Every number in a text, in order: digits with thousands separators and decimals, and number words
/// (zero..twenty, tens, hundred, thousand, dozen, half, twice, double, triple, quarter, third, fifth...).
std::vector<TextNumber> numbers_in(std::string_view text);

}  // namespace sy::answer

#include "switchyard/learn/answer_features.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "switchyard/learn/answer_heuristics.hpp"

namespace sy::learn {
namespace {

bool same(double a, double b) { return std::abs(a - b) <= 1e-6 * std::max(1.0, std::abs(b)); }

bool contains(const std::vector<double>& values, double v) {
  return std::any_of(values.begin(), values.end(), [&](double x) { return same(x, v); });
}

/// Constants a solution may use without the prompt giving them: small counts, unit conversions.
bool common_constant(double v) {
  const double a = std::abs(v);
  if (a <= 12 && a == std::floor(a)) return true;
  for (double c : {0.5, 0.25, 0.75, 0.1, 0.01, 100.0, 1000.0, 60.0, 24.0, 30.0, 31.0, 52.0, 365.0, 16.0, 20.0, 50.0, 10.0})
    if (same(a, c)) return true;
  return false;
}

/// Self-doubt and patch-up phrases typical of wrong step-by-step solutions.
constexpr std::string_view kDoubts[] = {
    "however", "but since", "assum", "round", "approximately", "actually", "wait", "mistake", "not possible",
    "can't have", "cannot have", "doesn't make sense", "does not make sense", "impossible", "not enough information",
    "cannot be determined", "let's say", "we don't know", "we do not know", "unclear", "i'm not sure", "incorrect",
};

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

float lg(double v) { return static_cast<float>(std::log1p(std::max(0.0, v))); }

}  // namespace

const std::array<std::string_view, kAnswerFeatures>& answer_feature_names() {
  static const std::array<std::string_view, kAnswerFeatures> names = {
      "has_final_marker",      "marker_count",          "no_number",            "final_fraction",
      "final_negative",        "final_in_prompt",       "final_is_last_result", "final_log_magnitude",
      "final_vs_prompt_max",   "log_equations_checked", "equations_wrong",      "equations_wrong_share",
      "log_annotations",       "annotations_wrong",     "ungrounded_operands",  "ungrounded_share",
      "unused_prompt_numbers", "unused_prompt_share",   "doubt_phrases",        "refusal",
      "repeated_lines",        "ends_cleanly",          "log_answer_numbers",   "log_equation_lines",
      "prompt_log_chars",      "prompt_log_numbers",    "answer_prompt_log_ratio", "algebra",
      "final_decimals_unprompted", "final_conflict",     "prompt_numbers_not_computed",
      "prompt_numbers_not_computed_share", "assumed_small_numbers", "log_steps_per_given",
      "difference_asked_last_op_not_minus", "total_asked_last_op_minus_or_divide", "each_asked_last_op_not_divide"};
  return names;
}

void answer_features(std::string_view prompt, std::string_view answer, std::span<float, kAnswerFeatures> out) {
  std::fill(out.begin(), out.end(), 0.0f);
  const std::vector<TextNumber> pnums_all = numbers_in(prompt);
  std::vector<double> pvals;
  bool prompt_decimals = false;
  double pmax = 0;
  for (const TextNumber& n : pnums_all) {
    pvals.push_back(n.value);
    if (n.percent) pvals.push_back(n.value / 100);
    if (!n.word) {
      pmax = std::max(pmax, std::abs(n.value));
      prompt_decimals = prompt_decimals || n.value != std::floor(n.value);
    }
  }
  const std::vector<TextNumber> anums = numbers_in(answer);
  std::vector<double> avals;
  for (const TextNumber& n : anums) {
    avals.push_back(n.value);
    if (n.percent) avals.push_back(n.value / 100);
  }
  const ArithmeticCheck ar = check_arithmetic(answer);
  const auto fin = final_number(answer);
  std::size_t markers = 0;
  for (std::size_t p = answer.find("####"); p != std::string_view::npos; p = answer.find("####", p + 4)) ++markers;

  // Final answer.
  if (fin) {
    const double v = fin->value;
    out[0] = fin->source != FinalAnswerSource::last_number ? 1.0f : 0.0f;
    out[3] = v != std::floor(v) ? 1.0f : 0.0f;
    out[4] = v < 0 ? 1.0f : 0.0f;
    out[5] = contains(pvals, v) ? 1.0f : 0.0f;
    out[6] = ar.last_result && same(*ar.last_result, v) ? 1.0f : 0.0f;
    out[7] = static_cast<float>(std::log10(1 + std::abs(v)));
    out[8] = static_cast<float>(std::clamp(std::log10((1 + std::abs(v)) / (1 + pmax)), -4.0, 4.0));
    out[28] = (v != std::floor(v) && !prompt_decimals) ? 1.0f : 0.0f;
    if (fin->source == FinalAnswerSource::marker) {
      // The number stated just before the marker line differs from the marked one.
      const std::size_t m = answer.rfind("####");
      auto before = final_number(answer.substr(0, m));
      out[29] = before && !same(before->value, v) ? 1.0f : 0.0f;
    }
  } else {
    out[2] = 1.0f;
  }
  out[1] = static_cast<float>(std::min<std::size_t>(markers, 3));

  // Arithmetic.
  out[9] = lg(static_cast<double>(ar.checked));
  out[10] = static_cast<float>(std::min<std::size_t>(ar.wrong, 3));
  out[11] = ar.checked ? static_cast<float>(ar.wrong) / static_cast<float>(ar.checked) : 0.0f;
  out[12] = lg(static_cast<double>(ar.annotated));
  out[13] = static_cast<float>(std::min<std::size_t>(ar.annotated_wrong, 3));

  // Grounding: operands that neither the prompt, an earlier result nor a common constant explains; prompt
  // numbers the answer never mentions.
  std::size_t ungrounded = 0;
  for (double o : ar.operands)
    if (!contains(pvals, o) && !contains(ar.results, o) && !common_constant(o)) ++ungrounded;
  out[14] = static_cast<float>(std::min<std::size_t>(ungrounded, 5));
  out[15] = ar.operands.empty() ? 0.0f : static_cast<float>(ungrounded) / static_cast<float>(ar.operands.size());
  std::size_t given = 0, unused = 0;
  std::vector<double> seen;
  for (const TextNumber& n : pnums_all) {
    if (n.word || contains(seen, n.value)) continue;
    seen.push_back(n.value);
    ++given;
    if (!contains(avals, n.value) && !(n.percent && contains(avals, n.value / 100))) ++unused;
  }
  // Given numbers (digits) that no computation uses, e.g. a discount mentioned but never applied; and
  // small numbers the answer brings in itself ("if he works 8 hours a day").
  std::size_t not_computed = 0, given_digits = 0, assumed = 0;
  std::vector<double> seen_digits;
  for (const TextNumber& n : pnums_all) {
    if (n.word || contains(seen_digits, n.value)) continue;
    seen_digits.push_back(n.value);
    ++given_digits;
    if (!contains(ar.operands, n.value) && !(n.percent && contains(ar.operands, n.value / 100))) ++not_computed;
  }
  for (double o : ar.operands) {
    const double a = std::abs(o);
    if (a >= 3 && a <= 12 && a == std::floor(a) && !contains(pvals, o) && !contains(ar.results, o)) ++assumed;
  }
  out[30] = static_cast<float>(std::min<std::size_t>(not_computed, 5));
  out[31] = given_digits ? static_cast<float>(not_computed) / static_cast<float>(given_digits) : 0.0f;
  out[32] = static_cast<float>(std::min<std::size_t>(assumed, 3));
  out[33] = static_cast<float>(std::log((1.0 + static_cast<double>(ar.checked + ar.annotated)) / (1.0 + static_cast<double>(given_digits))));
  // What the question asks against the last operation of the answer ("how many are left" ending in an
  // addition is suspicious).
  {
    const std::string q = lower_ascii(prompt.substr(prompt.size() > 300 ? prompt.size() - 300 : 0));
    auto has = [&](std::initializer_list<std::string_view> words) {
      return std::any_of(words.begin(), words.end(), [&](std::string_view w) { return q.find(w) != std::string::npos; });
    };
    const char op = ar.last_op;
    if (op) {
      out[34] = has({" left", "remain", "more than", "less than", "difference", "how much more", "how many more",
                     "fewer", "change", "profit", "longer", "older", "younger"}) && op != '-'
                    ? 1.0f
                    : 0.0f;
      out[35] = has({"total", "altogether", "in all", "combined", "together"}) && (op == '-' || op == '/') ? 1.0f : 0.0f;
      out[36] = has({" each", "per ", "average", "equally"}) && op != '/' ? 1.0f : 0.0f;
    }
  }
  out[16] = static_cast<float>(std::min<std::size_t>(unused, 5));
  out[17] = given ? static_cast<float>(unused) / static_cast<float>(given) : 0.0f;

  // Wording.
  const std::string low = lower_ascii(answer);
  std::size_t doubts = 0;
  for (std::string_view d : kDoubts)
    if (low.find(d) != std::string::npos) ++doubts;
  out[18] = static_cast<float>(std::min<std::size_t>(doubts, 3));
  out[19] = find_refusal(answer) ? 1.0f : 0.0f;
  out[20] = static_cast<float>(std::min<std::size_t>(repeated_lines(answer), 3));
  {
    std::string_view t = answer;
    while (!t.empty() && (t.back() == ' ' || t.back() == '\n' || t.back() == '\r' || t.back() == '\t')) t.remove_suffix(1);
    const char last = t.empty() ? '\0' : t.back();
    const bool marker_line = markers > 0 && t.find('\n', answer.rfind("####")) == std::string_view::npos;
    out[21] = (marker_line || last == '.' || last == '!' || last == '?' || (last >= '0' && last <= '9')) ? 1.0f : 0.0f;
  }
  out[22] = lg(static_cast<double>(anums.size()));
  std::size_t eq_lines = 0;
  for (std::size_t i = 0; i < answer.size();) {
    std::size_t nl = answer.find('\n', i);
    if (nl == std::string_view::npos) nl = answer.size();
    if (answer.substr(i, nl - i).find('=') != std::string_view::npos) ++eq_lines;
    i = nl + 1;
  }
  out[23] = lg(static_cast<double>(eq_lines));
  out[24] = lg(static_cast<double>(prompt.size()));
  out[25] = lg(static_cast<double>(pnums_all.size()));
  out[26] = static_cast<float>(std::log((1.0 + static_cast<double>(answer.size())) / (1.0 + static_cast<double>(prompt.size()))));
  out[27] = (low.find("let x") != std::string::npos || low.find("let's call") != std::string::npos ||
             low.find(" x = ") != std::string::npos || low.find("equation") != std::string::npos)
                ? 1.0f
                : 0.0f;
}

}  // namespace sy::learn

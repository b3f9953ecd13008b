#include "switchyard/learn/answer_features.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "switchyard/core/ascii.hpp"
#include "switchyard/answer/heuristics.hpp"

namespace sy::learn {

// The features are built on the rule-based answer checks.
using namespace sy::answer;

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

float lg(double v) { return static_cast<float>(std::log1p(std::max(0.0, v))); }

bool digit(char c) { return c >= '0' && c <= '9'; }
bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

/// The first number written with digits in t[from, from + window) ("$1,200.50" -> 1200.5).
std::optional<double> number_near(std::string_view t, std::size_t from, std::size_t window) {
  const std::size_t end = std::min(t.size(), from + window);
  std::size_t i = from;
  while (i < end && !digit(t[i])) {
    if (t[i] == '\n' || t[i] == '.') return std::nullopt;  // the sentence ended first
    ++i;
  }
  if (i >= end) return std::nullopt;
  double v = 0;
  for (; i < t.size() && (digit(t[i]) || (t[i] == ',' && i + 1 < t.size() && digit(t[i + 1]))); ++i)
    if (t[i] != ',') v = v * 10 + (t[i] - '0');
  if (i + 1 < t.size() && t[i] == '.' && digit(t[i + 1])) {
    double scale = 0.1;
    for (++i; i < t.size() && digit(t[i]); ++i, scale *= 0.1) v += (t[i] - '0') * scale;
  }
  return v;
}

std::size_t count_of(std::string_view text, std::string_view w) {
  std::size_t c = 0;
  for (std::size_t p = text.find(w); p != std::string_view::npos; p = text.find(w, p + w.size())) ++c;
  return c;
}

/// The noun after the question's last "how many" ("how many cookies does..." -> "cookies"), if any.
std::string_view asked_noun(std::string_view q) {
  const std::size_t p = q.rfind("how many ");
  if (p == std::string_view::npos) return {};
  std::size_t b = p + 9, e = b;
  while (e < q.size() && alpha(q[e])) ++e;
  const std::string_view w = q.substr(b, e - b);
  for (std::string_view skip : {"more", "of", "times", "total", "in", "fewer", "less", "different", "other", "people's"})
    if (w == skip) return {};
  return w.size() >= 3 ? w : std::string_view();
}

/// Features 37-58: the answer's chain of computations re-derived (which step the final answer comes
/// from, which given numbers flow into it, dead-end results), self-consistency of its conclusions, the
/// unit the question asks for, and the problem's structure (percents, fractions, rates, time units).
void chain_features(std::string_view prompt, std::string_view answer, const std::string& low,
                    const std::vector<TextNumber>& pnums, const std::vector<double>& pvals, bool prompt_decimals,
                    const std::vector<TextNumber>& anums, const ArithmeticCheck& ar, const std::optional<FinalNumber>& fin,
                    std::span<float, kAnswerFeatures> out) {
  const std::vector<ArithmeticStep>& steps = ar.steps;
  const std::size_t ns = steps.size();
  auto operand = [&](const ArithmeticStep& s, std::uint32_t k) { return ar.operands[s.first_operand + k]; };
  // The step that produced the final answer: the last one whose result it is, else the last step.
  std::size_t final_step = ns;
  if (fin)
    for (std::size_t k = ns; k-- > 0;)
      if (same(steps[k].result, fin->value)) {
        final_step = k;
        break;
      }
  if (fin && ns) {
    const double v = fin->value;
    out[37] = final_step < ns ? 1.0f : 0.0f;
    out[38] = final_step == ns && !contains(pvals, v) ? 1.0f : 0.0f;
    if (ar.last_result && !same(*ar.last_result, v) && *ar.last_result != std::floor(*ar.last_result) &&
        std::abs(*ar.last_result - v) < 1.0)
      out[39] = 1.0f;
  }
  // Results never used by a later step (nor the final answer): computations that lead nowhere.
  std::size_t distinct_results = 0, dead = 0;
  for (std::size_t k = 0; k < ns; ++k) {
    bool dup = false;
    for (std::size_t j = 0; j < k && !dup; ++j) dup = same(steps[j].result, steps[k].result);
    if (dup) continue;
    ++distinct_results;
    if (fin && same(steps[k].result, fin->value)) continue;
    bool used = false;
    for (std::size_t j = k + 1; j < ns && !used; ++j) {
      if (steps[j].begin < steps[k].end) continue;  // the same computation written twice (equation + annotation)
      for (std::uint32_t o = 0; o < steps[j].operand_count && !used; ++o) used = same(operand(steps[j], o), steps[k].result);
    }
    dead += !used;
  }
  out[40] = static_cast<float>(std::min<std::size_t>(dead, 5));
  out[41] = distinct_results ? static_cast<float>(dead) / static_cast<float>(distinct_results) : 0.0f;
  // The final answer's chain: steps reachable backwards from the final step through result -> operand.
  std::size_t given_digits = 0, in_chain = 0;
  std::vector<double> givens;
  for (const TextNumber& n : pnums)
    if (!n.word && !contains(givens, n.value)) givens.push_back(n.value);
  given_digits = givens.size();
  if (ns > 0) {
    const std::size_t start = final_step < ns ? final_step : ns - 1;
    std::vector<char> mark(ns, 0);
    std::vector<std::size_t> stack = {start};
    mark[start] = 1;
    std::size_t chain = 0;
    bool wrong_in_chain = false;
    std::vector<double> chain_operands;
    while (!stack.empty()) {
      const std::size_t s = stack.back();
      stack.pop_back();
      ++chain;
      wrong_in_chain = wrong_in_chain || !steps[s].holds;
      for (std::uint32_t o = 0; o < steps[s].operand_count; ++o) {
        const double x = operand(steps[s], o);
        chain_operands.push_back(x);
        // The latest earlier step that produced this operand.
        for (std::size_t j = s; j-- > 0;)
          if (steps[j].end <= steps[s].begin + 1 && same(steps[j].result, x)) {
            if (!mark[j]) {
              mark[j] = 1;
              stack.push_back(j);
            }
            break;
          }
      }
    }
    for (double g : givens) in_chain += contains(chain_operands, g) || contains(chain_operands, g / 100);
    out[42] = given_digits ? static_cast<float>(in_chain) / static_cast<float>(given_digits) : 0.0f;
    out[43] = static_cast<float>(std::min<std::size_t>(given_digits - in_chain, 5));
    out[44] = lg(static_cast<double>(chain));
    out[45] = static_cast<float>(std::min<std::size_t>(ns - 1 - start, 3));
    out[57] = wrong_in_chain ? 1.0f : 0.0f;
  }
  // Self-consistency: where the final number appears, and conclusions stating other numbers.
  if (fin) {
    std::size_t mentions = 0, first = anums.size();
    for (std::size_t k = 0; k < anums.size(); ++k)
      if (same(anums[k].value, fin->value)) {
        ++mentions;
        first = std::min(first, k);
      }
    out[46] = lg(static_cast<double>(mentions));
    out[47] = anums.empty() ? 1.0f : static_cast<float>(first) / static_cast<float>(anums.size());
    std::vector<double> other;
    for (std::string_view phrase : {"therefore", "thus", "so the answer", "in total", "total of", "answer is", "answer:",
                                    "the final answer", "in conclusion"})
      for (std::size_t p = low.find(phrase); p != std::string::npos; p = low.find(phrase, p + phrase.size()))
        if (auto v = number_near(answer, p + phrase.size(), 80); v && !same(*v, std::abs(fin->value)) && !contains(other, *v))
          other.push_back(*v);
    out[48] = static_cast<float>(std::min<std::size_t>(other.size(), 3));
  }
  // The unit the question asks for, against the end of the answer.
  const std::string q = ascii_lower(prompt.substr(prompt.size() > 300 ? prompt.size() - 300 : 0));
  const std::string_view tail = std::string_view(low).substr(low.size() > 250 ? low.size() - 250 : 0);
  const bool money = q.find("how much money") != std::string::npos || q.find("how many dollars") != std::string::npos ||
                     q.find("how much did") != std::string::npos || q.find("how much does") != std::string::npos ||
                     q.find("how much will") != std::string::npos || q.find("cost") != std::string::npos;
  if (money && tail.find('$') == std::string_view::npos && tail.find("dollar") == std::string_view::npos &&
      q.find('$') != std::string::npos)
    out[49] = 1.0f;
  if (std::string_view noun = asked_noun(q); !noun.empty()) {
    const std::string_view stem = noun.substr(0, std::min<std::size_t>(noun.size(), noun.size() > 4 ? noun.size() - 1 : noun.size()));
    out[50] = tail.find(stem) == std::string_view::npos ? 1.0f : 0.0f;
  }
  if (q.find("percent") != std::string::npos && q.find("what percent") != std::string::npos)
    out[51] = tail.find('%') == std::string_view::npos && tail.find("percent") == std::string_view::npos ? 1.0f : 0.0f;
  // Problem structure.
  const std::string pl = ascii_lower(prompt);
  std::size_t percents = 0, not_applied = 0;
  for (const TextNumber& n : pnums) {
    if (!n.percent) continue;
    ++percents;
    const double p = n.value;
    if (!contains(ar.operands, p) && !contains(ar.operands, p / 100) && !contains(ar.operands, 100 - p) &&
        !contains(ar.operands, (100 - p) / 100) && !contains(ar.operands, 1 + p / 100) && !contains(ar.operands, 100 + p))
      ++not_applied;
  }
  out[52] = static_cast<float>(std::min<std::size_t>(percents, 3));
  std::size_t fractions = 0;
  for (std::string_view w : {"half", "third", "quarter", "fourth", "fifth", "tenth", "fraction"}) fractions += count_of(pl, w);
  for (std::size_t i = 1; i + 1 < pl.size(); ++i) fractions += pl[i] == '/' && digit(pl[i - 1]) && digit(pl[i + 1]);
  out[53] = static_cast<float>(std::min<std::size_t>(fractions, 3));
  std::size_t rates = 0;
  for (std::string_view w : {" per ", " each", " every", " an hour", " a day", " a week", " a month", " a year", " rate"})
    rates += count_of(pl, w);
  out[54] = static_cast<float>(std::min<std::size_t>(rates, 5));
  std::size_t units = 0;
  for (std::string_view w : {"second", "minute", "hour", "day", "week", "month", "year"}) units += pl.find(w) != std::string::npos;
  out[55] = static_cast<float>(units);
  out[56] = static_cast<float>(std::min<std::size_t>(not_applied, 3));
  std::size_t fractional = 0;
  if (!prompt_decimals && percents == 0)
    for (const ArithmeticStep& s : steps) fractional += s.result != std::floor(s.result);
  out[58] = static_cast<float>(std::min<std::size_t>(fractional, 3));
}

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
      "difference_asked_last_op_not_minus", "total_asked_last_op_minus_or_divide", "each_asked_last_op_not_divide",
      // v2: the answer's computation chain re-derived, self-consistency, problem structure.
      "final_in_results",      "final_unexplained",     "final_rounded",        "dead_results",
      "dead_results_share",    "final_chain_givens_share", "givens_outside_final_chain", "log_final_chain_steps",
      "steps_after_final_step", "log_final_mentions",   "final_first_position", "conclusions_disagreeing",
      "money_asked_no_dollar", "asked_unit_missing",    "percent_asked_no_percent", "prompt_percents",
      "prompt_fractions",      "prompt_rate_words",     "prompt_time_units",    "percents_not_applied",
      "wrong_step_in_final_chain", "fractional_results_unprompted"};
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
    const std::string q = ascii_lower(prompt.substr(prompt.size() > 300 ? prompt.size() - 300 : 0));
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

  const std::string low = ascii_lower(answer);
  chain_features(prompt, answer, low, pnums_all, pvals, prompt_decimals, anums, ar, fin, out);

  // Wording.
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

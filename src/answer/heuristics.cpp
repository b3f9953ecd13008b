#include "switchyard/answer/heuristics.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_set>

#include "switchyard/core/ascii.hpp"

namespace sy::answer {
namespace {

inline char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
inline bool starts(std::string_view s, std::size_t i, std::string_view p) { return s.substr(i, p.size()) == p; }

/// Lower-cased ASCII, same length (positions map one to one).
std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

/// Lower-cased ASCII with typographic apostrophes (U+2019) turned into '\''.
std::string fold(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (starts(s, i, "\xE2\x80\x99")) {
      out.push_back('\'');
      i += 2;
    } else {
      out.push_back(lower(s[i]));
    }
  }
  return out;
}

/// A number written with digits at text[i] (ascii_digit(text[i]) or '.' followed by a digit): thousands
/// separators ("1,234" but not "1, 2"), decimals. Returns the end index, the value and the decimals.
struct Scanned {
  std::size_t end = 0;
  double value = 0;
  int decimals = 0;
};
Scanned scan_number(std::string_view t, std::size_t i) {
  Scanned s;
  auto digit_at = [&](std::size_t k) { return k < t.size() && ascii_digit(t[k]); };
  double v = 0;
  std::size_t j = i;
  while (j < t.size()) {
    if (ascii_digit(t[j])) {
      v = v * 10 + (t[j] - '0');
      ++j;
    } else if (t[j] == ',' && j > i && digit_at(j + 1) && digit_at(j + 2) && digit_at(j + 3) && !digit_at(j + 4)) {
      ++j;  // thousands separator
    } else {
      break;
    }
  }
  if (j + 1 < t.size() && t[j] == '.' && ascii_digit(t[j + 1])) {
    ++j;
    double scale = 0.1;
    while (j < t.size() && ascii_digit(t[j])) {
      v += (t[j] - '0') * scale;
      scale *= 0.1;
      ++s.decimals;
      ++j;
    }
  }
  s.end = j;
  s.value = v;
  return s;
}

// ---- arithmetic --------------------------------------------------------------------------------------------

struct Tok {
  enum Kind : std::uint8_t { kNum, kOp, kLp, kRp, kEq } kind;
  char op = 0;      ///< '+', '-', '*', '/', '^'
  double value = 0;
  double tol = 0;   ///< rounding allowed when this number is a result: 0.5 * 10^-decimals (0 for integers)
  std::size_t begin = 0, end = 0;
};

/// Recursive descent over one side of an equality.
class Expr {
 public:
  Expr(const std::vector<Tok>& t, std::size_t b, std::size_t e) : t_(t), p_(b), end_(e) {}
  /// Parses the whole range; false when it is not one well-formed expression.
  bool parse(double& out) {
    if (p_ >= end_) return false;
    if (!sum(out)) return false;
    return p_ == end_ && std::isfinite(out);
  }
  int binary_ops = 0;
  int numbers = 0;
  char top_op = 0;  ///< the operator applied last outside parentheses ('+', '-', '*', '/', '^'), 0 if none

 private:
  bool is_op(char c) const { return p_ < end_ && t_[p_].kind == Tok::kOp && t_[p_].op == c; }
  bool sum(double& v) {
    if (!product(v)) return false;
    while (is_op('+') || is_op('-')) {
      const char o = t_[p_++].op;
      double r = 0;
      if (!product(r)) return false;
      v = o == '+' ? v + r : v - r;
      ++binary_ops;
      if (depth_ == 0) top_op = o;
    }
    return true;
  }
  bool product(double& v) {
    if (!power(v)) return false;
    while (is_op('*') || is_op('/')) {
      const char o = t_[p_++].op;
      double r = 0;
      if (!power(r)) return false;
      if (o == '/' && r == 0) return false;
      v = o == '*' ? v * r : v / r;
      ++binary_ops;
      if (depth_ == 0 && top_op != '+' && top_op != '-') top_op = o;
    }
    return true;
  }
  bool power(double& v) {
    if (!unary(v)) return false;
    if (is_op('^')) {
      ++p_;
      double r = 0;
      if (!power(r)) return false;
      v = std::pow(v, r);
      ++binary_ops;
      if (depth_ == 0 && top_op == 0) top_op = '^';
    }
    return true;
  }
  bool unary(double& v) {
    if (is_op('-') || is_op('+')) {
      const char o = t_[p_++].op;
      if (!unary(v)) return false;
      if (o == '-') v = -v;
      return true;
    }
    if (p_ >= end_) return false;
    const Tok& t = t_[p_];
    if (t.kind == Tok::kNum) {
      v = t.value;
      ++numbers;
      ++p_;
      return true;
    }
    if (t.kind == Tok::kLp) {
      ++p_;
      ++depth_;
      const bool ok = sum(v);
      --depth_;
      if (!ok || p_ >= end_ || t_[p_].kind != Tok::kRp) return false;
      ++p_;
      return true;
    }
    return false;
  }
  const std::vector<Tok>& t_;
  std::size_t p_, end_;
  int depth_ = 0;
};

/// Multiplication signs and other operators spelled in UTF-8: length of the sequence at i, or 0.
std::size_t utf8_op(std::string_view t, std::size_t i, char& op) {
  static constexpr std::pair<std::string_view, char> kOps[] = {
      {"\xC3\x97", '*'}, {"\xC3\xB7", '/'}, {"\xE2\x88\x92", '-'}, {"\xC2\xB7", '*'}, {"\xE2\x8B\x85", '*'},
      {"\xE2\x88\x97", '*'}};
  for (auto [seq, o] : kOps)
    if (starts(t, i, seq)) {
      op = o;
      return seq.size();
    }
  return 0;
}

class ArithmeticScanner {
 public:
  explicit ArithmeticScanner(std::string_view text) : t_(text), base_(text.data()) {}

  ArithmeticCheck run() {
    std::size_t i = 0;
    const std::size_t n = t_.size();
    while (i < n) {
      const char c = t_[i];
      if (c == '<' && i + 1 < n && t_[i + 1] == '<') {
        const std::size_t close = t_.find(">>", i + 2);
        const std::size_t nl = t_.find('\n', i + 2);
        if (close != std::string_view::npos && close - i < 300 && (nl == std::string_view::npos || nl > close)) {
          annotation(t_.substr(i + 2, close - i - 2));
          i = close + 2;  // the annotation is a side note: the equation around it goes on
          continue;
        }
        flush();
        i += 2;
        continue;
      }
      if (ascii_digit(c) || (c == '.' && i + 1 < n && ascii_digit(t_[i + 1]))) {
        Scanned s = scan_number(t_, i);
        std::size_t j = s.end;
        double value = s.value;
        double tol = s.decimals > 0 ? 0.5 * std::pow(10.0, -s.decimals) : 0.0;
        if (j < n && t_[j] == '%') {
          value /= 100;
          tol /= 100;
          ++j;
        }
        if (j < n && ascii_alpha(t_[j])) {
          // "5x3": a multiplication sign; "12th", "5am", "3rd": not arithmetic.
          if ((t_[j] == 'x' || t_[j] == 'X') && (j + 1 >= n || !ascii_alpha(t_[j + 1])) && operand_follows(j + 1)) {
            push({Tok::kNum, 0, value, tol, i, j});
            push({Tok::kOp, '*', 0, 0, j, j + 1});
            i = j + 1;
            continue;
          }
          flush();
          while (j < n && ascii_alpha(t_[j])) ++j;
          i = j;
          continue;
        }
        push({Tok::kNum, 0, value, tol, i, j});
        i = j;
        continue;
      }
      if (c == '\n') {
        flush();
        ++i;
        continue;
      }
      if (c == ' ' || c == '\t' || c == '\r' || c == '$') {
        ++i;
        continue;
      }
      if (starts(t_, i, "\xE2\x82\xAC") || starts(t_, i, "\xC2\xA3")) {  // euro, pound
        i += starts(t_, i, "\xE2\x82\xAC") ? 3 : 2;
        continue;
      }
      char op = 0;
      if (std::size_t len = utf8_op(t_, i, op)) {
        push({Tok::kOp, op, 0, 0, i, i + len});
        i += len;
        continue;
      }
      switch (c) {
        case '+': case '-': case '/': case '^':
          push({Tok::kOp, c, 0, 0, i, i + 1});
          ++i;
          continue;
        case '*':
          if (i + 1 < n && t_[i + 1] == '*') {
            push({Tok::kOp, '^', 0, 0, i, i + 2});
            i += 2;
          } else {
            push({Tok::kOp, '*', 0, 0, i, i + 1});
            ++i;
          }
          continue;
        case '(':
          push({Tok::kLp, 0, 0, 0, i, i + 1});
          ++i;
          continue;
        case ')':
          push({Tok::kRp, 0, 0, 0, i, i + 1});
          ++i;
          continue;
        case '=':
          push({Tok::kEq, 0, 0, 0, i, i + 1});
          while (i < n && t_[i] == '=') ++i;
          continue;
        default: break;
      }
      if ((c == 'x' || c == 'X') && standalone_times(i)) {
        push({Tok::kOp, '*', 0, 0, i, i + 1});
        ++i;
        continue;
      }
      // A word or other punctuation ends the equation.
      flush();
      if (ascii_alpha(c)) {
        while (i < n && ascii_alpha(t_[i])) ++i;
      } else {
        ++i;
      }
    }
    flush();
    return std::move(out_);
  }

 private:
  /// A number, '(' or '$' next after spaces: what a multiplication sign needs on its right.
  bool operand_follows(std::size_t j) const {
    while (j < t_.size() && t_[j] == ' ') ++j;
    return j < t_.size() && (ascii_digit(t_[j]) || t_[j] == '(' || t_[j] == '$');
  }

  /// "3 x 4": an x between a number (or ')') and a number (or '(' / '$'), as a word of its own.
  bool standalone_times(std::size_t i) const {
    if (run_.empty() || (run_.back().kind != Tok::kNum && run_.back().kind != Tok::kRp)) return false;
    if (i + 1 < t_.size() && ascii_alpha(t_[i + 1])) return false;
    if (i > 0 && ascii_alpha(t_[i - 1])) return false;
    return operand_follows(i + 1);
  }

  void push(Tok t) { run_.push_back(t); }

  void annotation(std::string_view inner) {
    const std::size_t eq = inner.rfind('=');
    if (eq == std::string_view::npos) return;
    // A chain "<<a=b=c>>" claims a = c: check its first side against the written result (a running total
    // "<<3+4=7+2=9>>", where a middle side starts with the value so far, is skipped).
    const std::size_t first_eq = inner.find('=');
    ArithmeticScanner lhs_scan(inner.substr(0, first_eq));
    std::vector<Tok> lhs = lhs_scan.tokens_only();
    if (first_eq != eq) {
      Expr first(lhs, 0, lhs.size());
      double fv = 0;
      if (!first.parse(fv)) return;
      std::string_view mid = inner.substr(first_eq + 1, eq - first_eq - 1);
      while (!mid.empty() && (mid.front() == ' ' || mid.front() == '$')) mid.remove_prefix(1);
      if (!mid.empty() && ascii_digit(mid.front()) && close(scan_number(mid, 0).value, fv, 1e-9)) {
        const std::size_t next = mid.find_first_of("+-*/");
        if (next != std::string_view::npos && mid.substr(0, next).find('=') == std::string_view::npos) return;
      }
    }
    std::string_view rhs = inner.substr(eq + 1);
    while (!rhs.empty() && (rhs.front() == ' ' || rhs.front() == '$')) rhs.remove_prefix(1);
    bool neg = false;
    if (!rhs.empty() && rhs.front() == '-') {
      neg = true;
      rhs.remove_prefix(1);
    }
    if (rhs.empty() || !(ascii_digit(rhs.front()) || rhs.front() == '.')) return;
    Scanned s = scan_number(rhs, 0);
    double value = neg ? -s.value : s.value;
    double tol = s.decimals > 0 ? 0.5 * std::pow(10.0, -s.decimals) : 0.0;
    if (s.end < rhs.size() && rhs[s.end] == '%') {
      value /= 100;
      tol /= 100;
    }
    Expr e(lhs, 0, lhs.size());
    double v = 0;
    if (!e.parse(v)) return;
    ++out_.annotated;
    if (e.top_op) out_.last_op = e.top_op;
    ArithmeticStep step;
    step.first_operand = static_cast<std::uint32_t>(out_.operands.size());
    if (e.binary_ops > 0)
      for (const Tok& t : lhs)
        if (t.kind == Tok::kNum) out_.operands.push_back(t.value);
    out_.results.push_back(value);
    step.result = value;
    step.begin = static_cast<std::size_t>(inner.data() - base_);
    step.end = step.begin + inner.size();
    step.operand_count = static_cast<std::uint32_t>(out_.operands.size()) - step.first_operand;
    step.op = e.top_op;
    step.holds = close(v, value, tol);
    out_.steps.push_back(step);
    if (!close(v, value, tol)) {
      ++out_.annotated_wrong;
      if (out_.first_wrong.empty()) out_.first_wrong = "<<" + std::string(inner) + ">>";
    }
  }

  /// Tokens of a whole text without checking it (the left side of an annotation).
  std::vector<Tok> tokens_only() {
    tokens_mode_ = true;
    run();
    return std::move(collected_);
  }

  static bool close(double a, double b, double tol) {
    return std::abs(a - b) <= tol + 1e-9 * std::max(1.0, std::abs(b));
  }

  void flush() {
    if (tokens_mode_) {
      if (run_.empty()) return;
      if (!collected_.empty()) collected_.push_back({Tok::kEq, 0, 0, 0, 0, 0});  // a break poisons the expression
      collected_.insert(collected_.end(), run_.begin(), run_.end());
      run_.clear();
      return;
    }
    check_run();
    run_.clear();
  }

  void check_run() {
    if (run_.size() < 3) return;
    // Split at '=' into sides.
    struct Side {
      std::size_t b, e;
      bool ok = false;
      double value = 0;
      int ops = 0;
      char top = 0;
    };
    std::vector<Side> sides;
    std::size_t b = 0;
    for (std::size_t k = 0; k <= run_.size(); ++k) {
      if (k == run_.size() || run_[k].kind == Tok::kEq) {
        Side s{b, k};
        Expr e(run_, b, k);
        s.ok = e.parse(s.value);
        s.ops = e.binary_ops;
        s.top = e.top_op;
        sides.push_back(s);
        b = k + 1;
      }
    }
    if (sides.size() < 2) return;
    for (std::size_t k = 0; k + 1 < sides.size(); ++k) {
      const Side& l = sides[k];
      const Side& r = sides[k + 1];
      if (!l.ok || !r.ok || (l.ops == 0 && r.ops == 0)) continue;
      // "3 + 4 = 7 + 2 = 9": a running total written with '='; the right side continues from the left.
      if (l.ops > 0 && r.ops > 0 && run_[r.b].kind == Tok::kNum && close(run_[r.b].value, l.value, run_[r.b].tol))
        continue;
      ++out_.checked;
      const double tol = (r.e - r.b == 1) ? run_[r.b].tol : 0.0;
      ArithmeticStep step;
      step.first_operand = static_cast<std::uint32_t>(out_.operands.size());
      if (l.ops > 0)
        for (std::size_t q = l.b; q < l.e; ++q)
          if (run_[q].kind == Tok::kNum) out_.operands.push_back(run_[q].value);
      out_.results.push_back(r.value);
      out_.last_result = r.value;
      out_.last_op = l.ops > 0 ? l.top : r.top;
      step.result = r.value;
      step.begin = run_[l.b].begin;
      step.end = run_[r.e - 1].end;
      step.operand_count = static_cast<std::uint32_t>(out_.operands.size()) - step.first_operand;
      step.op = out_.last_op;
      step.holds = close(l.value, r.value, tol);
      out_.steps.push_back(step);
      if (!close(l.value, r.value, tol)) {
        ++out_.wrong;
        if (out_.first_wrong.empty()) {
          const std::size_t from = run_[l.b].begin, to = run_[r.e - 1].end;
          out_.first_wrong = std::string(t_.substr(from, to - from));
        }
      }
    }
  }

  std::string_view t_;
  const char* base_;  ///< start of the text, for byte offsets of annotations
  std::vector<Tok> run_;
  ArithmeticCheck out_;
  bool tokens_mode_ = false;
  std::vector<Tok> collected_;
};

// ---- phrases -----------------------------------------------------------------------------------------------

constexpr std::string_view kRefusals[] = {
    "i'm sorry, but i can't", "i'm sorry, but i cannot", "i am sorry, but i cannot", "i'm sorry, i can't",
    "sorry, but i can't", "i can't help with", "i cannot help with", "i can't assist", "i cannot assist",
    "i can't provide", "i cannot provide", "i can't comply", "i cannot comply", "i won't be able to",
    "i'm unable to", "i am unable to", "i'm not able to", "i am not able to", "as an ai", "as a language model",
    "as an ai language model", "i cannot fulfill", "i can't fulfill", "i must decline", "i'm not allowed to",
};

constexpr std::string_view kHedges[] = {
    "i'm not sure", "i am not sure", "i'm not certain", "i am not certain", "i don't know", "i do not know",
    "cannot be determined", "can't be determined", "not enough information", "insufficient information",
    "it is unclear", "it's unclear", "i cannot determine", "i can't determine", "hard to say",
    "i might be wrong", "i may be wrong", "i'm not confident", "impossible to determine", "does not make sense",
    "doesn't make sense", "not possible to",
};

struct WordNumber {
  std::string_view word;
  double value;
};
constexpr WordNumber kNumberWords[] = {
    {"zero", 0},      {"one", 1},        {"two", 2},         {"three", 3},      {"four", 4},      {"five", 5},
    {"six", 6},       {"seven", 7},      {"eight", 8},       {"nine", 9},       {"ten", 10},      {"eleven", 11},
    {"twelve", 12},   {"thirteen", 13},  {"fourteen", 14},   {"fifteen", 15},   {"sixteen", 16},  {"seventeen", 17},
    {"eighteen", 18}, {"nineteen", 19},  {"twenty", 20},     {"thirty", 30},    {"forty", 40},    {"fifty", 50},
    {"sixty", 60},    {"seventy", 70},   {"eighty", 80},     {"ninety", 90},    {"hundred", 100}, {"thousand", 1000},
    {"million", 1e6}, {"dozen", 12},     {"half", 0.5},      {"twice", 2},      {"double", 2},    {"triple", 3},
    {"quarter", 0.25}, {"once", 1},      {"thrice", 3},     {"third", 3},      {"thirds", 3},    {"fourth", 4},
    {"fourths", 4},   {"fifth", 5},      {"fifths", 5},      {"tenth", 10},     {"halves", 2},    {"quarters", 4},
};

/// The number after position i (skipping spaces, '$', ':', '*', '=' and '{'), within `window` bytes.
std::optional<FinalNumber> number_after(std::string_view t, std::size_t i, std::size_t window, FinalAnswerSource src) {
  const std::size_t end = std::min(t.size(), i + window);
  for (std::size_t j = i; j < end; ++j) {
    const char c = t[j];
    const bool neg = c == '-' && j + 1 < t.size() && ascii_digit(t[j + 1]);
    if (!ascii_digit(c) && !neg) {
      if (c == '\n' && j > i + 2) return std::nullopt;
      continue;
    }
    const std::size_t start = j;
    if (neg) ++j;
    Scanned s = scan_number(t, j);
    return FinalNumber{neg ? -s.value : s.value, t.substr(start, s.end - start), src};
  }
  return std::nullopt;
}

}  // namespace

std::string_view to_string(AnswerIssue issue) {
  switch (issue) {
    case AnswerIssue::empty: return "empty";
    case AnswerIssue::truncated: return "truncated";
    case AnswerIssue::refusal: return "refusal";
    case AnswerIssue::hedge: return "hedge";
    case AnswerIssue::invalid_json: return "invalid_json";
    case AnswerIssue::schema_violation: return "schema_violation";
    case AnswerIssue::arithmetic_error: return "arithmetic_error";
    case AnswerIssue::no_final_answer: return "no_final_answer";
    case AnswerIssue::repetition: return "repetition";
  }
  return "unknown";
}

bool AnswerVerdict::has(AnswerIssue issue) const {
  return std::any_of(findings.begin(), findings.end(), [&](const AnswerFinding& f) { return f.issue == issue; });
}

bool is_blank(std::string_view answer) {
  return answer.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

bool is_truncated(std::string_view finish_reason) {
  return finish_reason == "length" || finish_reason == "max_tokens" || finish_reason == "MAX_TOKENS";
}

std::optional<std::string> find_refusal(std::string_view answer) {
  const std::string head = fold(answer.substr(0, 400));
  for (std::string_view p : kRefusals)
    if (head.find(p) != std::string::npos) return std::string(p);
  return std::nullopt;
}

std::vector<std::string> find_hedges(std::string_view answer) {
  const std::string all = fold(answer);
  std::vector<std::string> out;
  for (std::string_view p : kHedges)
    if (all.find(p) != std::string::npos) out.emplace_back(p);
  return out;
}

std::size_t repeated_lines(std::string_view answer) {
  std::unordered_set<std::string_view> seen;
  std::size_t repeats = 0;
  std::size_t i = 0;
  while (i <= answer.size()) {
    std::size_t nl = answer.find('\n', i);
    if (nl == std::string_view::npos) nl = answer.size();
    std::string_view line = answer.substr(i, nl - i);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
    if (line.size() >= 8 && !seen.insert(line).second) ++repeats;
    i = nl + 1;
  }
  return repeats;
}

ArithmeticCheck check_arithmetic(std::string_view text) { return ArithmeticScanner(text).run(); }

std::vector<TextNumber> numbers_in(std::string_view t) {
  std::vector<TextNumber> out;
  const std::size_t n = t.size();
  for (std::size_t i = 0; i < n;) {
    const char c = t[i];
    if (ascii_digit(c) || (c == '.' && i + 1 < n && ascii_digit(t[i + 1]) && (i == 0 || !ascii_digit(t[i - 1])))) {
      const bool neg = i > 0 && t[i - 1] == '-' && (i < 2 || t[i - 2] == ' ' || t[i - 2] == '(' || t[i - 2] == '\n');
      Scanned s = scan_number(t, i);
      TextNumber num{neg ? -s.value : s.value, s.end < n && t[s.end] == '%', false};
      out.push_back(num);
      i = s.end;
      continue;
    }
    if (ascii_alpha(c)) {
      std::size_t j = i;
      while (j < n && ascii_alpha(t[j])) ++j;
      if (j - i >= 3 && j - i <= 9) {
        char w[10];
        for (std::size_t k = i; k < j; ++k) w[k - i] = lower(t[k]);
        const std::string_view word(w, j - i);
        for (const WordNumber& nw : kNumberWords)
          if (nw.word.size() == word.size() && nw.word[0] == word[0] && nw.word == word) {
            out.push_back({nw.value, false, true});
            break;
          }
      }
      i = j;
      continue;
    }
    ++i;
  }
  return out;
}

std::optional<FinalNumber> final_number(std::string_view answer) {
  if (std::size_t m = answer.rfind("####"); m != std::string_view::npos)
    if (auto f = number_after(answer, m + 4, 40, FinalAnswerSource::marker)) return f;
  const std::string folded = lower_ascii(answer);
  for (std::string_view phrase : {std::string_view("answer is"), std::string_view("answer:")}) {
    if (std::size_t m = folded.rfind(phrase); m != std::string::npos)
      if (auto f = number_after(answer, m + phrase.size(), 60, FinalAnswerSource::phrase)) return f;
  }
  if (std::size_t m = answer.rfind("\\boxed{"); m != std::string_view::npos)
    if (auto f = number_after(answer, m + 7, 30, FinalAnswerSource::boxed)) return f;
  // The last number written.
  for (std::size_t i = answer.size(); i-- > 0;) {
    if (!ascii_digit(answer[i])) continue;
    std::size_t b = i;
    while (b > 0 && (ascii_digit(answer[b - 1]) || ((answer[b - 1] == ',' || answer[b - 1] == '.') && b >= 2 &&
                                                   ascii_digit(answer[b - 2]))))
      --b;
    const bool neg = b > 0 && answer[b - 1] == '-' && (b < 2 || answer[b - 2] == ' ' || answer[b - 2] == '\n');
    Scanned s = scan_number(answer, b);
    const std::size_t start = neg ? b - 1 : b;
    return FinalNumber{neg ? -s.value : s.value, answer.substr(start, s.end - start), FinalAnswerSource::last_number};
  }
  return std::nullopt;
}

AnswerVerdict check_answer(std::string_view answer, const AnswerExpectations& expect, const HeuristicWeights& w) {
  AnswerVerdict v;
  auto add = [&](AnswerIssue issue, double penalty, std::string detail) {
    penalty = std::clamp(penalty, 0.0, 1.0);
    v.score *= 1.0 - penalty;
    v.findings.push_back({issue, penalty, std::move(detail)});
  };
  if (is_truncated(expect.finish_reason)) add(AnswerIssue::truncated, w.truncated, std::string(expect.finish_reason));
  if (is_blank(answer)) {
    add(AnswerIssue::empty, w.empty, {});
    return v;
  }
  if (auto r = find_refusal(answer)) add(AnswerIssue::refusal, w.refusal, *r);
  if (auto h = find_hedges(answer); !h.empty()) add(AnswerIssue::hedge, w.hedge, h.front());
  if (expect.json || expect.schema) {
    if (!is_valid_json(answer)) {
      add(AnswerIssue::invalid_json, w.invalid_json, "not one JSON value");
    } else if (expect.schema) {
      auto errors = expect.schema->validate(answer, 4);
      if (!errors.empty()) add(AnswerIssue::schema_violation, w.schema_violation, errors.front());
    }
  }
  if (expect.arithmetic && !expect.json && !expect.schema) {
    ArithmeticCheck a = check_arithmetic(answer);
    const std::size_t wrong = a.wrong + a.annotated_wrong;
    if (wrong > 0)
      add(AnswerIssue::arithmetic_error, 1.0 - std::pow(1.0 - std::clamp(w.arithmetic_error, 0.0, 1.0), static_cast<double>(wrong)),
          a.first_wrong);
  }
  if (expect.final_answer) {
    auto f = final_number(answer);
    if (!f || f->source == FinalAnswerSource::last_number) add(AnswerIssue::no_final_answer, w.no_final_answer, {});
  }
  if (const std::size_t r = repeated_lines(answer); r >= 3) add(AnswerIssue::repetition, w.repetition, std::to_string(r) + " repeated lines");
  return v;
}

AnswerVerdict check_tool_arguments(std::string_view arguments_json, const JsonSchema& parameters, const HeuristicWeights& weights) {
  AnswerVerdict v;
  if (!is_valid_json(arguments_json)) {
    v.score = 1.0 - weights.invalid_json;
    v.findings.push_back({AnswerIssue::invalid_json, weights.invalid_json, "arguments are not one JSON value"});
    return v;
  }
  auto errors = parameters.validate(arguments_json, 4);
  if (!errors.empty()) {
    v.score = 1.0 - weights.schema_violation;
    v.findings.push_back({AnswerIssue::schema_violation, weights.schema_violation, errors.front()});
  }
  return v;
}

}  // namespace sy::answer

#include "switchyard/learn/features.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "switchyard/core/ascii.hpp"

namespace sy::learn {
namespace {

// Namespaces keep a word unigram, a word bigram and a character n-gram with equal bytes apart.
constexpr std::uint64_t kWordSeed = 0x9e3779b97f4a7c15ULL;
constexpr std::uint64_t kBigramSeed = 0xc2b2ae3d27d4eb4fULL;
constexpr std::uint64_t kShapeSeed = 0x165667b19e3779f9ULL;
constexpr std::uint64_t kCharSeed = 0x27d4eb2f165667c5ULL;

inline std::uint64_t mix(std::uint64_t x) {  // splitmix64 finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline std::uint64_t fnv1a(std::string_view s, std::uint64_t seed) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return mix(h);
}

/// libm's log1p, out of line: a table filled through it is filled at run time, with libm's values. (A
/// table of inline calls is folded at build time by the compiler's own, correctly rounded log1p,
/// which differs from libm's by an ulp for some arguments.)
[[gnu::noinline]] float libm_log1p(float x) { return std::log1p(x); }

/// log1p(v) of a count, the scale of every count feature. Counts below 256 (nearly all) come from a
/// table of the same libm values, without a call each.
float log_count(std::size_t v) {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = libm_log1p(static_cast<float>(i));
    return t;
  }();
  return v < table.size() ? table[v] : std::log1p(static_cast<float>(v));
}

inline bool is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
}
inline unsigned char lower(unsigned char c) { return (c >= 'A' && c <= 'Z') ? static_cast<unsigned char>(c + 32) : c; }
inline bool is_operator(char c) {
  switch (c) {
    case '+': case '-': case '*': case '/': case '=': case '^': case '<': case '>': return true;
    default: return false;
  }
}

}  // namespace

const std::array<std::string_view, kDenseFeatures>& dense_feature_names() {
  static const std::array<std::string_view, kDenseFeatures> names = {
      "log_chars",        "log_words",       "log_lines",          "digit_fraction",    "log_numbers",
      "log_distinct_nums", "log_question_marks", "log_code_markers", "upper_fraction",   "mean_word_length",
      "log_sentences",    "choice_lines",    "max_number_digits",  "log_math_symbols",  "non_ascii_fraction",
      "log_longest_line", "log_long_words",  "capitalised_fraction",
      // Structure block (FeatureConfig::structure): what kind of task, not what topic.
      "log_turns",        "log_code_lines",  "log_math_expressions", "log_constraints", "ask_factoid",
      "ask_explain",      "ask_solve",       "ask_create",         "wants_long_output", "wants_short_output",
      "ends_with_question", "log_list_items",
      // Conversation block (FeatureConfig::conversation): the request around the scored message.
      "conv_log_earlier_turns", "conv_has_system", "conv_log_system_chars", "conv_log_context_chars",
      // Task block (FeatureConfig::task): answer format and difficulty cues of the final question.
      "task_log_fewshot_examples", "task_log_question_chars", "task_log_option_chars", "task_numeric_options",
      "task_log_negations", "task_log_quantity_words", "task_syllables_per_word", "task_log_distinct_long_words",
      "task_words_per_sentence", "task_numbers_per_word"};
  return names;
}

namespace {

inline bool ends_sentence(char c) { return c == '.' || c == '?' || c == '!' || c == '\n'; }

/// Lower-cased word starting at p[i] (letters only, at most 16 bytes); i moves past it. When
/// `sentence_end` is given, it is set if a byte skipped before the word ends a sentence (.?! or a newline).
std::string_view next_word(std::string_view p, std::size_t& i, char (&buf)[16], bool* sentence_end = nullptr) {
  // Each byte's lowercase if it is an ASCII letter, else 0: one load per byte tests and folds it.
  static constexpr std::array<char, 256> kLetter = [] {
    std::array<char, 256> t{};
    for (int c = 'a'; c <= 'z'; ++c) t[c] = t[c - 32] = static_cast<char>(c);
    return t;
  }();
  const std::size_t n = p.size();
  for (; i < n && kLetter[static_cast<unsigned char>(p[i])] == 0; ++i)
    if (sentence_end != nullptr && ends_sentence(p[i])) *sentence_end = true;
  std::size_t len = 0;
  for (char l; i < n && (l = kLetter[static_cast<unsigned char>(p[i])]) != 0; ++i)
    if (len < sizeof buf) buf[len++] = l;
  return {buf, len};
}

constexpr std::array<std::string_view, 6> kFactoid = {"what", "who", "when", "where", "which", "name"};
constexpr std::array<std::string_view, 9> kExplain = {"why", "how", "explain", "describe", "discuss", "compare",
                                                      "analyze", "analyse", "evaluate"};
constexpr std::array<std::string_view, 9> kSolve = {"prove", "derive", "calculate", "compute", "solve", "find",
                                                    "determine", "show", "simplify"};
constexpr std::array<std::string_view, 10> kCreate = {"write", "create", "generate", "draft", "compose", "implement",
                                                     "design", "build", "translate", "summarize"};
constexpr std::array<std::string_view, 12> kConstraint = {"must", "should", "exactly", "least", "most", "only", "without",
                                                          "ensure", "format", "avoid", "never", "always"};
constexpr std::array<std::string_view, 9> kLong = {"essay", "detailed", "detail", "comprehensive", "thorough",
                                                  "paragraphs", "elaborate", "story", "article"};
constexpr std::array<std::string_view, 7> kShort = {"briefly", "brief", "short", "concise", "concisely", "one",
                                                   "tldr"};
constexpr std::array<std::string_view, 8> kRoles = {"user", "assistant", "human", "ai", "system", "q", "a", "question"};
// Reasoning-step cues: words that relate quantities (rates, parts, comparisons, remainders).
constexpr std::array<std::string_view, 22> kQuantity = {
    "percent", "half", "twice", "thrice", "times", "each", "per", "every", "total", "remaining", "rest", "left",
    "more", "less", "fewer", "than", "average", "ratio", "fraction", "difference", "double", "triple"};
constexpr std::array<std::string_view, 6> kNegation = {"not", "except", "incorrect", "false", "untrue", "least"};

/// What a lower-cased word is to the structure and task features, as bits: one lookup per word
/// instead of comparing it with every list above.
enum WordFlag : std::uint32_t {
  kFactoidStart = 1u << 0,  // kFactoid (counted at a sentence start)
  kExplainStart = 1u << 1,
  kSolveStart = 1u << 2,
  kCreateStart = 1u << 3,
  kExplainAnywhere = 1u << 4,  // the few that count anywhere in a sentence
  kSolveAnywhere = 1u << 5,
  kCreateAnywhere = 1u << 6,
  kConstraintWord = 1u << 7,
  kLongOutput = 1u << 8,   // kLong, "words", "steps"
  kShortOutput = 1u << 9,  // kShort but "one" (short only as "one word", ...)
  kCountWord = 1u << 10,   // "one", "single": short when the next word is a kUnitWord
  kUnitWord = 1u << 11,
  kRoleWord = 1u << 12,
  kNegationWord = 1u << 13,
  kQuantityWord = 1u << 14,
};

/// Open-addressing table of the listed words and their flags, filled once from the lists.
class WordFlags {
 public:
  WordFlags() {
    add(kFactoid, kFactoidStart);
    add(kExplain, kExplainStart);
    add(kSolve, kSolveStart);
    add(kCreate, kCreateStart);
    add(std::array<std::string_view, 2>{"explain", "why"}, kExplainAnywhere);
    add(std::array<std::string_view, 3>{"prove", "derive", "solve"}, kSolveAnywhere);
    add(std::array<std::string_view, 2>{"write", "implement"}, kCreateAnywhere);
    add(kConstraint, kConstraintWord);
    add(kLong, kLongOutput);
    add(std::array<std::string_view, 2>{"words", "steps"}, kLongOutput);
    add(kShort, kShortOutput);
    slot("one").flags &= ~kShortOutput;
    add(std::array<std::string_view, 2>{"one", "single"}, kCountWord);
    add(std::array<std::string_view, 5>{"word", "sentence", "number", "line", "letter"}, kUnitWord);
    add(kRoles, kRoleWord);
    add(kNegation, kNegationWord);
    add(kQuantity, kQuantityWord);
  }
  std::uint32_t operator()(std::string_view w) const {
    if (w.empty()) return 0;
    for (std::size_t i = hash(w);; i = (i + 1) % kSlots) {
      if (entries_[i].word.empty()) return 0;
      if (entries_[i].word == w) return entries_[i].flags;
    }
  }

 private:
  static constexpr std::size_t kSlots = 256;  // about 2.5x the words: short probes, never full
  struct Entry {
    std::string_view word;
    std::uint32_t flags = 0;
  };
  static std::size_t hash(std::string_view w) {
    const auto at = [&](std::size_t i) { return static_cast<std::size_t>(static_cast<unsigned char>(w[i])); };
    return (at(0) * 31 + at(w.size() / 2) * 7 + at(w.size() - 1) + w.size() * 131) % kSlots;
  }
  Entry& slot(std::string_view w) {
    std::size_t i = hash(w);
    while (!entries_[i].word.empty() && entries_[i].word != w) i = (i + 1) % kSlots;
    entries_[i].word = w;
    return entries_[i];
  }
  template <std::size_t N>
  void add(const std::array<std::string_view, N>& list, std::uint32_t flag) {
    for (std::string_view w : list) slot(w).flags |= flag;
  }
  std::array<Entry, kSlots> entries_{};
};

std::uint32_t word_flags(std::string_view w) {
  static const WordFlags table;
  return table(w);
}

/// Math expressions: a digit or variable, an operator, a digit ("3x + 4 = 10", "2^5"; one space allowed
/// on either side of the operator), and LaTeX commands ("\\frac"). Found from the operators and
/// backslashes, the rare bytes, so that most bytes cost one test.
std::size_t math_expressions(std::string_view p) {
  const std::size_t n = p.size();
  std::size_t count = 0;
  for (std::size_t j = 0; j + 1 < n; ++j) {
    const char c = p[j];
    if (c == '\\') {
      if (j + 2 < n && ascii_alpha(static_cast<unsigned char>(p[j + 1]))) ++count;
      continue;
    }
    if (!is_operator(c) || j == 0) continue;
    // The operand before: right before the operator, or before one space.
    const bool operand = ascii_alnum(static_cast<unsigned char>(p[j - 1])) ||
                         (p[j - 1] == ' ' && j >= 2 && ascii_alnum(static_cast<unsigned char>(p[j - 2])));
    if (!operand) continue;
    std::size_t k = j + 1;
    if (p[k] == ' ') ++k;
    if (k < n && ascii_digit(static_cast<unsigned char>(p[k]))) ++count;
  }
  return count;
}

}  // namespace

void FeatureExtractor::structure_features(std::string_view p, std::span<float, kStructureFeatures> out) {
  std::size_t turns = 0, code_lines = 0, constraints = 0, list_items = 0;
  bool factoid = false, explain = false, solve = false, create = false, want_long = false, want_short = false;
  // Line structure: role markers ("User:", "Q:"), code (fences, indented lines), list items.
  const std::size_t n = p.size();
  bool in_fence = false;
  for (std::size_t i = 0; i < n;) {
    std::size_t e = p.find('\n', i);
    if (e == std::string_view::npos) e = n;
    std::string_view line = p.substr(i, e - i);
    i = e + 1;
    if (line.rfind("```", 0) == 0) {
      in_fence = !in_fence;
      ++code_lines;
      continue;
    }
    if (in_fence || line.rfind("    ", 0) == 0 || line.rfind("\t", 0) == 0) {
      if (!line.empty()) ++code_lines;
      continue;
    }
    std::size_t k = 0;
    while (k < line.size() && line[k] == ' ') ++k;
    if (k + 1 < line.size() && (line[k] == '-' || line[k] == '*') && line[k + 1] == ' ') ++list_items;
    else if (k < line.size() && ascii_digit(static_cast<unsigned char>(line[k]))) {
      std::size_t d = k;
      while (d < line.size() && ascii_digit(static_cast<unsigned char>(line[d]))) ++d;
      if (d + 1 < line.size() && (line[d] == '.' || line[d] == ')') && line[d + 1] == ' ') ++list_items;
    }
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && colon <= 10) {
      char buf[16];
      std::size_t j = 0;
      std::string_view w = next_word(line.substr(0, colon), j, buf);
      if (word_flags(w) & kRoleWord) ++turns;
    }
  }
  const std::size_t math_expr = math_expressions(p);
  // Words: question type from the first word of each sentence and instruction words anywhere.
  char buf[16];
  bool sentence_start = true;
  for (std::size_t i = 0; i < n;) {
    std::string_view w = next_word(p, i, buf, &sentence_start);
    if (w.empty()) break;
    const std::uint32_t f = word_flags(w);
    if (sentence_start) {
      factoid |= (f & kFactoidStart) != 0;
      explain |= (f & kExplainStart) != 0;
      solve |= (f & kSolveStart) != 0;
      create |= (f & kCreateStart) != 0;
    } else {
      explain |= (f & kExplainAnywhere) != 0;
      solve |= (f & kSolveAnywhere) != 0;
      create |= (f & kCreateAnywhere) != 0;
    }
    sentence_start = false;
    if (f & kConstraintWord) ++constraints;
    want_long |= (f & kLongOutput) != 0;
    want_short |= (f & kShortOutput) != 0;
    if (f & kCountWord) {  // "one word", "one sentence", "a single number"
      std::size_t j = i;
      char b2[16];
      want_short |= (word_flags(next_word(p, j, b2)) & kUnitWord) != 0;
    }
  }
  std::size_t last = n;
  while (last > 0 && ascii_space(static_cast<unsigned char>(p[last - 1]))) --last;
  const auto lg = log_count;
  out[0] = lg(turns);
  out[1] = lg(code_lines);
  out[2] = lg(math_expr);
  out[3] = lg(constraints);
  out[4] = factoid ? 1.0f : 0.0f;
  out[5] = explain ? 1.0f : 0.0f;
  out[6] = solve ? 1.0f : 0.0f;
  out[7] = create ? 1.0f : 0.0f;
  out[8] = want_long ? 1.0f : 0.0f;
  out[9] = want_short ? 1.0f : 0.0f;
  out[10] = last > 0 && p[last - 1] == '?' ? 1.0f : 0.0f;
  out[11] = lg(list_items);
}

void FeatureExtractor::conversation_features(const ConversationShape& c, std::span<float, kConversationFeatures> out) {
  out[0] = log_count(c.earlier_messages);
  out[1] = c.has_system ? 1.0f : 0.0f;
  out[2] = log_count(c.system_bytes);
  out[3] = log_count(c.context_bytes);
}

namespace {
/// A line that reads as a multiple-choice option: "A." "B)" "(c)" at its start.
bool option_line(std::string_view line) {
  std::size_t j = 0;
  while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
  if (j < line.size() && line[j] == '(') ++j;
  return j + 1 < line.size() && ascii_alpha(static_cast<unsigned char>(line[j])) &&
         (line[j + 1] == '.' || line[j + 1] == ')') && (j + 2 >= line.size() || line[j + 2] == ' ');
}
/// A line that gives an answer ("Answer: B", "A: 42", "#### 18"): the end of a few-shot example when
/// text follows it.
bool answer_line(std::string_view line) {
  std::size_t j = 0;
  while (j < line.size() && line[j] == ' ') ++j;
  line = line.substr(j);
  std::string_view rest;
  if (line.rfind("Answer:", 0) == 0) rest = line.substr(7);
  else if (line.rfind("A:", 0) == 0) rest = line.substr(2);
  else if (line.rfind("####", 0) == 0) rest = line.substr(4);
  else return false;
  for (char ch : rest)
    if (!ascii_space(static_cast<unsigned char>(ch))) return true;
  return false;
}
}  // namespace

void FeatureExtractor::task_features(std::string_view p, std::span<float, kTaskFeatures> out) {
  // Few-shot split: the final question starts after the last answered example ("Answer: B" followed by
  // more text). The remaining features read the final question only.
  std::size_t fewshot = 0, final_start = 0;
  const std::size_t n = p.size();
  for (std::size_t i = 0; i < n;) {
    std::size_t e = p.find('\n', i);
    if (e == std::string_view::npos) e = n;
    if (e < n && answer_line(p.substr(i, e - i))) {
      ++fewshot;
      final_start = e + 1;
    }
    i = e + 1;
  }
  const std::string_view q = p.substr(std::min(final_start, n));
  // Stem (before the first option line) and options.
  std::size_t stem_end = q.size(), options = 0, option_bytes = 0, numeric_options = 0;
  for (std::size_t i = 0; i < q.size();) {
    std::size_t e = q.find('\n', i);
    if (e == std::string_view::npos) e = q.size();
    const std::string_view line = q.substr(i, e - i);
    if (option_line(line)) {
      if (options == 0) stem_end = i;
      ++options;
      option_bytes += line.size();
      for (char ch : line.substr(std::min<std::size_t>(2, line.size())))
        if (ascii_digit(static_cast<unsigned char>(ch))) {
          ++numeric_options;
          break;
        }
    }
    i = e + 1;
  }
  std::string_view stem = q.substr(0, stem_end);
  // A trailing "Answer:" cue is format, not question.
  while (!stem.empty() && ascii_space(static_cast<unsigned char>(stem.back()))) stem.remove_suffix(1);
  if (stem.size() >= 7 && stem.substr(stem.size() - 7) == "Answer:") stem.remove_suffix(7);
  while (!stem.empty() && ascii_space(static_cast<unsigned char>(stem.back()))) stem.remove_suffix(1);
  while (!stem.empty() && ascii_space(static_cast<unsigned char>(stem.front()))) stem.remove_prefix(1);
  // Words of the stem: negations, quantity relations, vowel groups per word (a syllable count: how
  // technical the wording is), distinct long words, words per sentence, numbers per word.
  std::size_t words = 0, negations = 0, quantity = 0, syllables = 0, long_distinct = 0, numbers = 0, sentences = 0;
  std::array<std::uint64_t, 256> seen{};
  char buf[16];
  for (std::size_t i = 0; i < stem.size();) {
    std::string_view w = next_word(stem, i, buf);
    if (w.empty()) break;
    ++words;
    const std::uint32_t f = word_flags(w);
    if (f & kNegationWord) ++negations;
    if (f & kQuantityWord) ++quantity;
    bool in_vowel = false;
    for (char ch : w) {
      const bool v = ch == 'a' || ch == 'e' || ch == 'i' || ch == 'o' || ch == 'u' || ch == 'y';
      if (v && !in_vowel) ++syllables;
      in_vowel = v;
    }
    if (w.size() < 8) continue;
    std::uint64_t h = fnv1a(w, 0) | 1;
    std::size_t slot = h & 255;
    for (std::size_t probe = 0; probe < 256; ++probe, slot = (slot + 1) & 255) {
      if (seen[slot] == h) break;
      if (seen[slot] == 0) {
        seen[slot] = h;
        ++long_distinct;
        break;
      }
    }
  }
  for (std::size_t i = 0; i < stem.size(); ++i) {
    const char c = stem[i];
    if (c == '%') ++quantity;
    if ((c == '.' || c == '?' || c == '!') && (i + 1 == stem.size() || ascii_space(static_cast<unsigned char>(stem[i + 1])))) ++sentences;
    if (ascii_digit(static_cast<unsigned char>(c)) && (i == 0 || !ascii_alnum(static_cast<unsigned char>(stem[i - 1]))) &&
        (i == 0 || (stem[i - 1] != '.' && stem[i - 1] != ','))) ++numbers;
  }
  const auto lg = log_count;
  const float fw = static_cast<float>(std::max<std::size_t>(words, 1));
  out[0] = lg(fewshot);
  out[1] = lg(stem.size());
  out[2] = options ? lg(option_bytes / options) : 0.0f;
  out[3] = options ? static_cast<float>(numeric_options) / static_cast<float>(options) : 0.0f;
  out[4] = lg(negations);
  out[5] = lg(quantity);
  out[6] = static_cast<float>(syllables) / fw;
  out[7] = lg(long_distinct);
  out[8] = static_cast<float>(words) / static_cast<float>(std::max<std::size_t>(sentences, 1));
  out[9] = static_cast<float>(numbers) / fw;
}

FeatureExtractor::FeatureExtractor(FeatureConfig config) : config_(config) {
  config_.hash_bits = std::clamp(config_.hash_bits, 8, 26);
  config_.word_ngram_max = std::clamp(config_.word_ngram_max, 0, 2);
}

void FeatureExtractor::dense_features(std::string_view p, std::span<float, kDenseFeatures> out, bool structure) {
  if (structure) structure_features(p, out.subspan<kBaseDenseFeatures, kStructureFeatures>());
  else std::fill(out.begin() + kBaseDenseFeatures, out.begin() + kConversationOffset, 0.0f);
  std::fill(out.begin() + kConversationOffset, out.end(), 0.0f);  // set by extract when configured
  std::size_t digits = 0, upper = 0, non_ascii = 0, words = 0, word_bytes = 0, lines = 1, questions = 0;
  std::size_t code = 0, sentences = 0, math = 0, long_words = 0, capitalised = 0, choice_lines = 0;
  std::size_t numbers = 0, max_digits = 0, line_len = 0, longest_line = 0;
  // Distinct numbers: a small open-addressing set of hashes is enough (prompts rarely have > 64).
  std::array<std::uint64_t, 128> num_set{};
  std::size_t distinct = 0;
  const std::size_t n = p.size();
  bool line_start = true;
  for (std::size_t i = 0; i < n;) {
    unsigned char c = static_cast<unsigned char>(p[i]);
    if (line_start) {
      // "A." "B)" "(c)" at the start of a line: multiple-choice options.
      std::size_t j = i;
      while (j < n && (p[j] == ' ' || p[j] == '\t')) ++j;
      if (j < n && p[j] == '(') ++j;
      if (j + 1 < n && ascii_alpha(static_cast<unsigned char>(p[j])) && (p[j + 1] == '.' || p[j + 1] == ')') &&
          (j + 2 >= n || p[j + 2] == ' ')) {
        ++choice_lines;
      }
      line_start = false;
    }
    if (c == '\n') {
      ++lines;
      longest_line = std::max(longest_line, line_len);
      line_len = 0;
      line_start = true;
      ++i;
      continue;
    }
    ++line_len;
    if (is_word_byte(c)) {
      std::size_t start = i;
      bool all_digits = true;
      std::size_t d = 0;
      while (i < n) {
        unsigned char w = static_cast<unsigned char>(p[i]);
        if (is_word_byte(w)) {
          if (w >= '0' && w <= '9') ++d;
          else all_digits = false;
          if (w >= 'A' && w <= 'Z') ++upper;
          if (w >= 0x80) ++non_ascii;
          ++i;
        } else if ((w == '.' || w == ',') && all_digits && i + 1 < n && p[i + 1] >= '0' && p[i + 1] <= '9') {
          ++i;  // 1,000.50 stays one number
        } else {
          break;
        }
      }
      std::size_t len = i - start;
      line_len += len - 1;
      digits += d;
      ++words;
      word_bytes += len;
      if (len >= 10) ++long_words;
      if (p[start] >= 'A' && p[start] <= 'Z') ++capitalised;
      if (all_digits) {
        ++numbers;
        max_digits = std::max(max_digits, d);
        std::uint64_t h = fnv1a(p.substr(start, len), 0) | 1;
        std::size_t slot = h & 127;
        for (std::size_t probe = 0; probe < 128; ++probe, slot = (slot + 1) & 127) {
          if (num_set[slot] == h) break;
          if (num_set[slot] == 0) {
            num_set[slot] = h;
            ++distinct;
            break;
          }
        }
      }
      continue;
    }
    switch (c) {
      case '?': ++questions; ++sentences; break;
      case '.': case '!':
        if (i + 1 >= n || ascii_space(static_cast<unsigned char>(p[i + 1]))) ++sentences;
        break;
      case '{': case '}': case ';': case '`': ++code; break;
      case '+': case '-': case '*': case '/': case '=': case '^': case '%': case '$': case '<': case '>': ++math; break;
      default: break;
    }
    if (c >= 0x80) ++non_ascii;
    ++i;
  }
  longest_line = std::max(longest_line, line_len);
  const float fn = static_cast<float>(std::max<std::size_t>(n, 1));
  const auto lg = log_count;
  out[0] = lg(n);
  out[1] = lg(words);
  out[2] = lg(lines);
  out[3] = static_cast<float>(digits) / fn;
  out[4] = lg(numbers);
  out[5] = lg(distinct);
  out[6] = lg(questions);
  out[7] = lg(code);
  out[8] = static_cast<float>(upper) / fn;
  out[9] = words ? static_cast<float>(word_bytes) / static_cast<float>(words) : 0.0f;
  out[10] = lg(sentences);
  out[11] = static_cast<float>(std::min<std::size_t>(choice_lines, 10));
  out[12] = static_cast<float>(std::min<std::size_t>(max_digits, 20));
  out[13] = lg(math);
  out[14] = static_cast<float>(non_ascii) / fn;
  out[15] = lg(longest_line);
  out[16] = lg(long_words);
  out[17] = words ? static_cast<float>(capitalised) / static_cast<float>(words) : 0.0f;
}

void FeatureExtractor::extract(std::string_view prompt, const ConversationShape& conversation, RawFeatures& out,
                               std::vector<std::uint32_t>& scratch) const {
  scratch.clear();
  const std::uint32_t mask = hash_buckets() - 1;
  auto bucket = [&](std::uint64_t h) { scratch.push_back(static_cast<std::uint32_t>(h >> 20) & mask); };
  std::string_view text = prompt.substr(0, std::min(prompt.size(), config_.max_bytes));

  if (config_.word_ngram_max > 0) {
    char word[64];
    std::uint64_t prev = 0;
    bool have_prev = false;
    const std::size_t n = text.size();
    for (std::size_t i = 0; i < n;) {
      unsigned char c = static_cast<unsigned char>(text[i]);
      if (ascii_space(c)) {
        ++i;
        continue;
      }
      std::size_t len = 0;
      std::size_t digits = 0;
      bool number = false;
      if (is_word_byte(c)) {
        while (i < n && is_word_byte(static_cast<unsigned char>(text[i]))) {
          unsigned char w = lower(static_cast<unsigned char>(text[i]));
          if (len < sizeof word) word[len++] = static_cast<char>(w);
          if (w >= '0' && w <= '9') ++digits;
          ++i;
        }
        number = digits == len;
      } else {
        word[len++] = static_cast<char>(c);  // punctuation is a token of its own
        ++i;
      }
      std::uint64_t h = fnv1a(std::string_view(word, len), kWordSeed);
      bucket(h);
      if (number && config_.number_shapes) {
        char shape = static_cast<char>('0' + std::min<std::size_t>(digits, 9));
        bucket(fnv1a(std::string_view(&shape, 1), kShapeSeed));
      }
      if (config_.word_ngram_max >= 2 && have_prev) bucket(mix(prev * 31 + h + kBigramSeed));
      prev = h;
      have_prev = true;
    }
  }
  if (config_.char_ngram_min > 0 && config_.char_ngram_max >= config_.char_ngram_min) {
    // Character n-grams over the lower-cased text with whitespace runs collapsed to one space.
    thread_local std::string norm;
    norm.clear();
    norm.push_back(' ');
    for (char ch : text) {
      unsigned char c = static_cast<unsigned char>(ch);
      if (ascii_space(c)) {
        if (norm.back() != ' ') norm.push_back(' ');
      } else {
        norm.push_back(static_cast<char>(lower(c)));
      }
    }
    if (norm.back() != ' ') norm.push_back(' ');
    const std::size_t m = norm.size();
    for (int k = config_.char_ngram_min; k <= config_.char_ngram_max; ++k) {
      const std::size_t kk = static_cast<std::size_t>(k);
      for (std::size_t i = 0; i + kk <= m; ++i) bucket(fnv1a(std::string_view(norm).substr(i, kk), kCharSeed + kk));
    }
  }
  std::sort(scratch.begin(), scratch.end());
  out.bucket.clear();
  out.count.clear();
  for (std::size_t i = 0; i < scratch.size();) {
    std::size_t j = i;
    while (j < scratch.size() && scratch[j] == scratch[i]) ++j;
    out.bucket.push_back(scratch[i]);
    out.count.push_back(static_cast<float>(j - i));
    i = j;
  }
  if (config_.dense) {
    dense_features(prompt, out.dense, config_.structure);
    const std::span<float, kDenseFeatures> d(out.dense);
    if (config_.conversation) conversation_features(conversation, d.subspan<kConversationOffset, kConversationFeatures>());
    if (config_.task) task_features(prompt, d.subspan<kTaskOffset, kTaskFeatures>());
  } else {
    out.dense.fill(0.0f);
  }
}

FeatureTransform::FeatureTransform(FeatureConfig config, std::vector<float> idf, std::array<float, kDenseFeatures> mean,
                                   std::array<float, kDenseFeatures> inv_std)
    : config_(config), idf_(std::move(idf)), mean_(mean), inv_std_(inv_std) {}

FeatureTransform FeatureTransform::fit(const FeatureConfig& config, std::span<const RawFeatures* const> rows) {
  FeatureExtractor fx(config);
  const std::size_t buckets = fx.hash_buckets();
  std::vector<std::uint32_t> df(buckets, 0);
  std::array<double, kDenseFeatures> sum{}, sq{};
  for (const RawFeatures* r : rows) {
    for (std::uint32_t b : r->bucket) ++df[b];
    for (std::size_t j = 0; j < kDenseFeatures; ++j) {
      sum[j] += r->dense[j];
      sq[j] += static_cast<double>(r->dense[j]) * r->dense[j];
    }
  }
  const double n = static_cast<double>(rows.size());
  std::vector<float> idf(buckets);
  for (std::size_t b = 0; b < buckets; ++b) idf[b] = static_cast<float>(std::log((1.0 + n) / (1.0 + df[b])) + 1.0);
  std::array<float, kDenseFeatures> mean{}, inv{};
  for (std::size_t j = 0; j < kDenseFeatures; ++j) {
    double m = n > 0 ? sum[j] / n : 0.0;
    double var = n > 0 ? std::max(0.0, sq[j] / n - m * m) : 0.0;
    mean[j] = static_cast<float>(m);
    inv[j] = var > 1e-12 ? static_cast<float>(1.0 / std::sqrt(var)) : 0.0f;
  }
  return FeatureTransform(fx.config(), std::move(idf), mean, inv);
}

void FeatureTransform::apply(const RawFeatures& raw, SparseVector& out) const {
  out.clear();
  double norm = 0;
  for (std::size_t i = 0; i < raw.bucket.size(); ++i) {
    float v = (1.0f + std::log(raw.count[i])) * idf_[raw.bucket[i]];
    out.index.push_back(raw.bucket[i]);
    out.value.push_back(v);
    norm += static_cast<double>(v) * v;
  }
  if (norm > 0) {
    float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& v : out.value) v *= inv;
  }
  if (config_.dense) {
    const std::uint32_t base = 1u << config_.hash_bits;
    for (std::size_t j = 0; j < kDenseFeatures; ++j) {
      if (inv_std_[j] == 0.0f) continue;
      out.index.push_back(base + static_cast<std::uint32_t>(j));
      out.value.push_back(std::clamp((raw.dense[j] - mean_[j]) * inv_std_[j], -kDenseClip, kDenseClip));
    }
  }
}

}  // namespace sy::learn

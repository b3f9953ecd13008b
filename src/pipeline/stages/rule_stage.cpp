// Rule stage: conditions over the request (token estimate, message count, regexes and keywords over
// message text, tools, images, JSON mode, caller tier, headers, parameters, tags), combined with
// all/any/not, and actions route / reject / continue-with-tag. Regexes are RE2: compiled once at load
// and matched in time linear in the input, so a hostile prompt cannot cause catastrophic backtracking.
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>

#include "switchyard/core/ascii.hpp"
#include "switchyard/pipeline/stage.hpp"

namespace sy::pipeline {
namespace {

namespace net = boost::asio;

enum class Scope { last_user, all, system };

std::string_view scope_text(const RequestFeatures& f, Scope s, std::string& scratch) {
  switch (s) {
    case Scope::last_user: return f.request().last_user_text();
    case Scope::all: return f.request().all_text();
    case Scope::system:
      scratch.clear();
      for (const auto& m : f.request().messages()) {
        if (m.role == "system" || m.role == "developer") {
          if (!scratch.empty()) scratch.push_back('\n');
          scratch += m.text;
        }
      }
      return scratch;
  }
  return {};
}

struct Condition {
  virtual ~Condition() = default;
  virtual bool eval(const RequestFeatures& f) const = 0;
  virtual std::string describe() const = 0;
};
using CondPtr = std::unique_ptr<Condition>;

struct AllOf final : Condition {
  std::vector<CondPtr> parts;
  bool eval(const RequestFeatures& f) const override {
    return std::all_of(parts.begin(), parts.end(), [&](const CondPtr& c) { return c->eval(f); });
  }
  std::string describe() const override {
    std::string s;
    for (const auto& p : parts) s += (s.empty() ? "" : " and ") + p->describe();
    return s;
  }
};
struct AnyOf final : Condition {
  std::vector<CondPtr> parts;
  bool eval(const RequestFeatures& f) const override {
    return std::any_of(parts.begin(), parts.end(), [&](const CondPtr& c) { return c->eval(f); });
  }
  std::string describe() const override {
    std::string s;
    for (const auto& p : parts) s += (s.empty() ? "(" : " or ") + p->describe();
    return s + ")";
  }
};
struct Not final : Condition {
  CondPtr inner;
  bool eval(const RequestFeatures& f) const override { return !inner->eval(f); }
  std::string describe() const override { return "not " + inner->describe(); }
};

/// gt / gte / lt / lte / eq over a number the request has (or not).
struct Compare final : Condition {
  std::string field;
  std::function<std::optional<double>(const RequestFeatures&)> value;
  /// Optional cheap bounds of the value: when the comparison has one answer over the whole range,
  /// `value` (e.g. exact token counting) is never computed.
  std::function<std::pair<double, double>(const RequestFeatures&)> bounds;
  std::optional<double> gt, gte, lt, lte, eq;

  /// The answer for every value in [lo, hi], if there is one. Each of gt/gte/lt/lte is monotone, so
  /// its values at the ends decide it on the whole range.
  std::optional<bool> decide_on(double lo, double hi) const {
    bool everywhere = true;
    auto op = [&](bool at_lo, bool at_hi) {
      everywhere = everywhere && at_lo && at_hi;
      return at_lo || at_hi;  // false at both ends: false on the whole range
    };
    if (gt && !op(lo > *gt, hi > *gt)) return false;
    if (gte && !op(lo >= *gte, hi >= *gte)) return false;
    if (lt && !op(lo < *lt, hi < *lt)) return false;
    if (lte && !op(lo <= *lte, hi <= *lte)) return false;
    if (eq) {
      if (*eq < lo || *eq > hi) return false;
      everywhere = everywhere && lo == hi;
    }
    if (everywhere) return true;
    return std::nullopt;
  }

  bool eval(const RequestFeatures& f) const override {
    if (bounds) {
      auto [lo, hi] = bounds(f);
      if (auto decided = decide_on(lo, hi)) return *decided;
    }
    auto v = value(f);
    if (!v) return false;
    if (gt && !(*v > *gt)) return false;
    if (gte && !(*v >= *gte)) return false;
    if (lt && !(*v < *lt)) return false;
    if (lte && !(*v <= *lte)) return false;
    if (eq && !(*v == *eq)) return false;
    return true;
  }
  std::string describe() const override {
    auto num = [](double x) {
      if (x == std::floor(x) && std::fabs(x) < 1e15) return std::to_string(static_cast<long long>(x));
      return std::to_string(x);
    };
    std::string s = field;
    if (gt) s += ">" + num(*gt);
    if (gte) s += ">=" + num(*gte);
    if (lt) s += "<" + num(*lt);
    if (lte) s += "<=" + num(*lte);
    if (eq) s += "==" + num(*eq);
    return s;
  }
};

struct RegexCond final : Condition {
  std::unique_ptr<RE2> re;
  Scope scope = Scope::last_user;
  std::string pattern_name;
  bool eval(const RequestFeatures& f) const override {
    std::string scratch;
    std::string_view text = scope_text(f, scope, scratch);
    return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re);
  }
  std::string describe() const override { return "regex:" + pattern_name; }
};

struct KeywordsCond final : Condition {
  std::vector<std::string> words;  // lowered when case-insensitive
  Scope scope = Scope::last_user;
  bool case_sensitive = false;
  bool whole_word = true;
  bool eval(const RequestFeatures& f) const override {
    std::string scratch;
    std::string_view raw = scope_text(f, scope, scratch);
    std::string lowered;
    std::string_view text = raw;
    if (!case_sensitive) {
      lowered = ascii_lower(raw);
      text = lowered;
    }
    auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
    for (const auto& w : words) {
      for (size_t at = text.find(w); at != std::string_view::npos; at = text.find(w, at + 1)) {
        if (!whole_word) return true;
        bool left_ok = at == 0 || !is_word(text[at - 1]) || !is_word(w.front());
        size_t end = at + w.size();
        bool right_ok = end >= text.size() || !is_word(text[end]) || !is_word(w.back());
        if (left_ok && right_ok) return true;
      }
    }
    return false;
  }
  std::string describe() const override { return "keywords"; }
};

struct FlagCond final : Condition {
  std::string field;
  bool expected = true;
  std::function<bool(const RequestFeatures&)> value;
  bool eval(const RequestFeatures& f) const override { return value(f) == expected; }
  std::string describe() const override { return expected ? field : "!" + field; }
};

struct SetCond final : Condition {
  std::string field;
  std::vector<std::string> allowed;
  std::function<std::string_view(const RequestFeatures&)> value;
  bool eval(const RequestFeatures& f) const override {
    auto v = value(f);
    return std::find(allowed.begin(), allowed.end(), v) != allowed.end();
  }
  std::string describe() const override { return field + "=" + (allowed.size() == 1 ? allowed[0] : "{..}"); }
};

struct TagCond final : Condition {
  std::string tag;
  bool eval(const RequestFeatures& f) const override { return f.tags().count(tag) > 0; }
  std::string describe() const override { return "tag:" + tag; }
};

struct HeaderCond final : Condition {
  std::string name;
  std::optional<std::string> equals;
  std::unique_ptr<RE2> re;
  bool eval(const RequestFeatures& f) const override {
    auto v = f.header(name);
    if (equals) return v == *equals;
    if (re) return RE2::PartialMatch(re2::StringPiece(v.data(), v.size()), *re);
    return !v.empty();
  }
  std::string describe() const override { return "header:" + name; }
};

/// Built-in detectors: card numbers (Luhn-checked, 13-19 digits with optional spaces or dashes) and
/// well-known API key shapes.
bool luhn_ok(std::string_view digits) {
  int sum = 0;
  bool dbl = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

bool has_card_number(std::string_view text) {
  std::string digits;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    // A run of digits with single spaces or dashes between groups.
    if (i > 0 && std::isalnum(static_cast<unsigned char>(text[i - 1]))) {
      while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
      continue;
    }
    digits.clear();
    size_t j = i;
    while (j < text.size()) {
      char c = text[j];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        digits.push_back(c);
        ++j;
      } else if ((c == ' ' || c == '-') && j + 1 < text.size() && std::isdigit(static_cast<unsigned char>(text[j + 1])) &&
                 !digits.empty()) {
        ++j;
      } else {
        break;
      }
      if (digits.size() > 19) break;
    }
    bool boundary = j >= text.size() || !std::isalnum(static_cast<unsigned char>(text[j]));
    if (boundary && digits.size() >= 13 && digits.size() <= 19 && luhn_ok(digits)) return true;
    i = j == i ? i + 1 : j;
  }
  return false;
}

const RE2& api_key_regex() {
  static const RE2 re(
      R"((?:\bsk-(?:proj-|ant-)?[A-Za-z0-9_\-]{20,})|(?:\bAKIA[0-9A-Z]{16}\b)|(?:\bgh[pousr]_[A-Za-z0-9]{36,}\b)|)"
      R"((?:\bxox[abposr]-[A-Za-z0-9-]{10,})|(?:\bAIza[0-9A-Za-z_\-]{35}\b)|(?:-----BEGIN [A-Z ]*PRIVATE KEY-----))");
  return re;
}

struct DetectCond final : Condition {
  std::vector<std::string> kinds;
  Scope scope = Scope::all;
  bool eval(const RequestFeatures& f) const override {
    std::string scratch;
    std::string_view text = scope_text(f, scope, scratch);
    for (const auto& k : kinds) {
      if (k == "credit_card" && has_card_number(text)) return true;
      if (k == "api_key" && RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), api_key_regex())) return true;
    }
    return false;
  }
  std::string describe() const override {
    std::string s = "detect:";
    for (const auto& k : kinds) s += k + (k == kinds.back() ? "" : ",");
    return s;
  }
};

// ---- building conditions from YAML ----

std::optional<Scope> parse_scope(const config::Node& n, config::Diagnostics& d, Scope fallback) {
  auto v = n.str("in", d);
  if (!v) return fallback;
  if (*v == "last_user") return Scope::last_user;
  if (*v == "all") return Scope::all;
  if (*v == "system") return Scope::system;
  n.get("in")->error(d, "expected last_user, all or system");
  return std::nullopt;
}

CondPtr build_condition(const config::Node& n, config::Diagnostics& d);

CondPtr build_compare(const config::Node& n, std::string field,
                      std::function<std::optional<double>(const RequestFeatures&)> value, config::Diagnostics& d,
                      std::function<std::pair<double, double>(const RequestFeatures&)> bounds = {}) {
  auto c = std::make_unique<Compare>();
  c->field = std::move(field);
  c->value = std::move(value);
  c->bounds = std::move(bounds);
  if (n.is_scalar()) {
    c->eq = config::Node::make_map({{"eq", n}}, n.path(), n.line()).number("eq", d, -1e18, 1e18);
    return c;
  }
  if (!n.is_map()) {
    n.error(d, "expected a number or a map with gt, gte, lt, lte, eq");
    return nullptr;
  }
  n.check_keys({"gt", "gte", "lt", "lte", "eq"}, d);
  c->gt = n.number("gt", d, -1e18, 1e18);
  c->gte = n.number("gte", d, -1e18, 1e18);
  c->lt = n.number("lt", d, -1e18, 1e18);
  c->lte = n.number("lte", d, -1e18, 1e18);
  c->eq = n.number("eq", d, -1e18, 1e18);
  if (!c->gt && !c->gte && !c->lt && !c->lte && !c->eq) {
    n.error(d, "give at least one of gt, gte, lt, lte, eq");
    return nullptr;
  }
  return c;
}

CondPtr build_flag(const config::Node& n, std::string field, std::function<bool(const RequestFeatures&)> value,
                   config::Diagnostics& d) {
  auto c = std::make_unique<FlagCond>();
  c->field = std::move(field);
  c->value = std::move(value);
  auto wrapped = config::Node::make_map({{"v", n}}, n.path(), n.line());
  auto b = wrapped.boolean("v", d);
  if (!b) return nullptr;
  c->expected = *b;
  return c;
}

std::unique_ptr<RE2> compile_regex(const config::Node& at, const std::string& pattern, bool case_sensitive,
                                   config::Diagnostics& d) {
  RE2::Options opts;
  opts.set_case_sensitive(case_sensitive);
  opts.set_log_errors(false);
  opts.set_max_mem(8 << 20);
  auto re = std::make_unique<RE2>(pattern, opts);
  if (!re->ok()) {
    at.error(d, "invalid regex: " + re->error());
    return nullptr;
  }
  return re;
}

// One builder per condition key of a `when` map, looked up in one table (leaf_builders) instead of an
// if-chain on the key: (key, its value, the map it is in, diagnostics) -> condition, or null after an error.
using LeafBuilder = CondPtr (*)(const std::string& key, const config::Node& v, const config::Node& parent,
                                config::Diagnostics& d);

/// all: [...] / any: [...]
CondPtr build_all_any(const std::string& key, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  if (!v.is_sequence()) {
    v.error(d, "expected a list of conditions");
    return nullptr;
  }
  std::vector<CondPtr> parts;
  for (const auto& item : v.items()) {
    auto c = build_condition(item, d);
    if (!c) return nullptr;
    parts.push_back(std::move(c));
  }
  if (key == "all") {
    auto a = std::make_unique<AllOf>();
    a->parts = std::move(parts);
    return a;
  }
  auto a = std::make_unique<AnyOf>();
  a->parts = std::move(parts);
  return a;
}

CondPtr build_not(const std::string&, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  auto inner = build_condition(v, d);
  if (!inner) return nullptr;
  auto c = std::make_unique<Not>();
  c->inner = std::move(inner);
  return c;
}

CondPtr build_prompt_tokens(const std::string& key, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  return build_compare(
      v, key, [](const RequestFeatures& f) { return std::optional<double>(static_cast<double>(f.prompt_tokens())); }, d,
      [](const RequestFeatures& f) {
        auto [lo, hi] = f.prompt_tokens_bounds();
        return std::pair<double, double>(static_cast<double>(lo), static_cast<double>(hi));
      });
}

CondPtr build_message_count(const std::string& key, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  return build_compare(v, key, [](const RequestFeatures& f) { return std::optional<double>(static_cast<double>(f.request().messages().size())); }, d);
}

CondPtr build_prompt_chars(const std::string& key, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  return build_compare(v, key, [](const RequestFeatures& f) { return std::optional<double>(static_cast<double>(f.request().all_text().size())); }, d);
}

CondPtr build_max_tokens(const std::string& key, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  return build_compare(v, key, [](const RequestFeatures& f) -> std::optional<double> {
    if (auto m = f.request().max_tokens()) return static_cast<double>(*m);
    return std::nullopt;
  }, d);
}

CondPtr build_temperature(const std::string& key, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  return build_compare(v, key, [](const RequestFeatures& f) { return f.request().temperature(); }, d);
}

CondPtr build_has_tools(const std::string& key, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  return build_flag(v, key, [](const RequestFeatures& f) { return f.request().has_tools(); }, d);
}

CondPtr build_has_images(const std::string& key, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  return build_flag(v, key, [](const RequestFeatures& f) { return f.request().has_images(); }, d);
}

CondPtr build_stream(const std::string& key, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  return build_flag(v, key, [](const RequestFeatures& f) { return f.request().stream(); }, d);
}

CondPtr build_json_mode(const std::string& key, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  return build_flag(v, key, [](const RequestFeatures& f) {
    const auto& rf = f.request().response_format();
    return rf == "json_object" || rf == "json_schema";
  }, d);
}

/// tier: [...] / key_name: [...]
CondPtr build_caller_set(const std::string& key, const config::Node& v, const config::Node& parent, config::Diagnostics& d) {
  auto list = parent.str_list(key, d);
  if (!list) {
    if (v.is_null()) v.error(d, "expected a name or a list of names");
    return nullptr;
  }
  auto c = std::make_unique<SetCond>();
  c->field = key;
  c->allowed = *list;
  if (key == "tier") c->value = [](const RequestFeatures& f) -> std::string_view { return f.caller().tier; };
  else c->value = [](const RequestFeatures& f) -> std::string_view { return f.caller().key_name; };
  return c;
}

/// metadata: {team: [search, ads], plan: enterprise}: every name must have one of its values.
CondPtr build_metadata(const std::string&, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  if (!v.is_map() || v.members().empty()) {
    v.error(d, "expected a map of metadata names to a value or a list of values");
    return nullptr;
  }
  auto all = std::make_unique<AllOf>();
  for (const auto& [name, values] : v.members()) {
    auto list = v.str_list(name, d);
    if (!list || list->empty() ||
        std::any_of(list->begin(), list->end(), [](const std::string& x) { return x.empty(); })) {
      // An empty value would match every caller without that metadata (or without a key).
      values.error(d, "expected a non-empty value or a list of them");
      return nullptr;
    }
    auto c = std::make_unique<SetCond>();
    c->field = "metadata." + name;
    c->allowed = *list;
    c->value = [meta = name](const RequestFeatures& f) -> std::string_view {
      const std::string* m = f.caller().key ? f.caller().key->meta(meta) : nullptr;
      return m ? std::string_view(*m) : std::string_view{};
    };
    all->parts.push_back(std::move(c));
  }
  if (all->parts.size() == 1) return std::move(all->parts.front());
  return all;
}

CondPtr build_tag(const std::string&, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  if (!v.is_scalar()) {
    v.error(d, "expected a tag name");
    return nullptr;
  }
  auto c = std::make_unique<TagCond>();
  c->tag = v.scalar();
  return c;
}

/// regex: "pattern"  or  regex: {pattern, in, case_sensitive}
CondPtr build_regex(const std::string&, const config::Node& v, const config::Node& parent, config::Diagnostics& d) {
  std::string pattern;
  Scope scope = Scope::last_user;
  bool cs = true;
  if (v.is_scalar()) {
    pattern = v.scalar();
    if (auto s = parse_scope(parent, d, Scope::last_user)) scope = *s;
    cs = parent.boolean("case_sensitive", d).value_or(true);
  } else if (v.is_map()) {
    v.check_keys({"pattern", "in", "case_sensitive"}, d);
    pattern = v.str("pattern", d, true).value_or("");
    if (auto s = parse_scope(v, d, Scope::last_user)) scope = *s;
    cs = v.boolean("case_sensitive", d).value_or(true);
  } else {
    v.error(d, "expected a pattern or a map with pattern, in, case_sensitive");
    return nullptr;
  }
  auto re = compile_regex(v, pattern, cs, d);
  if (!re) return nullptr;
  auto c = std::make_unique<RegexCond>();
  c->re = std::move(re);
  c->scope = scope;
  c->pattern_name = pattern.size() > 40 ? pattern.substr(0, 40) + "..." : pattern;
  return c;
}

/// keywords: [...]  or  keywords: {words, in, case_sensitive, whole_word}
CondPtr build_keywords(const std::string&, const config::Node& v, const config::Node& parent, config::Diagnostics& d) {
  auto c = std::make_unique<KeywordsCond>();
  const config::Node* opts = &parent;
  std::optional<std::vector<std::string>> words;
  if (v.is_map()) {
    v.check_keys({"words", "in", "case_sensitive", "whole_word"}, d);
    words = v.str_list("words", d);
    opts = &v;
  } else {
    words = parent.str_list("keywords", d);
  }
  if (!words || words->empty()) {
    v.error(d, "expected a non-empty list of keywords");
    return nullptr;
  }
  if (auto s = parse_scope(*opts, d, Scope::last_user)) c->scope = *s;
  c->case_sensitive = opts->boolean("case_sensitive", d).value_or(false);
  c->whole_word = opts->boolean("whole_word", d).value_or(true);
  for (auto& w : *words) c->words.push_back(c->case_sensitive ? w : ascii_lower(w));
  return c;
}

CondPtr build_detect(const std::string&, const config::Node& v, const config::Node& parent, config::Diagnostics& d) {
  auto c = std::make_unique<DetectCond>();
  auto kinds = parent.str_list("detect", d);
  if (!kinds) return nullptr;
  for (const auto& k : *kinds) {
    if (k != "credit_card" && k != "api_key") {
      v.error(d, "unknown detector \"" + k + "\" (known: credit_card, api_key)");
      return nullptr;
    }
  }
  c->kinds = *kinds;
  if (auto s = parse_scope(parent, d, Scope::all)) c->scope = *s;
  return c;
}

/// header: {name, equals | regex | present}
CondPtr build_header(const std::string&, const config::Node& v, const config::Node&, config::Diagnostics& d) {
  if (!v.is_map()) {
    v.error(d, "expected a map with name and equals, regex or present");
    return nullptr;
  }
  v.check_keys({"name", "equals", "regex", "present"}, d);
  auto c = std::make_unique<HeaderCond>();
  c->name = v.str("name", d, true).value_or("");
  c->equals = v.str("equals", d);
  if (auto r = v.str("regex", d)) {
    c->re = compile_regex(*v.get("regex"), *r, true, d);
    if (!c->re) return nullptr;
  }
  return c;
}

const std::array<std::pair<std::string_view, LeafBuilder>, 20>& leaf_builders() {
  static const std::array<std::pair<std::string_view, LeafBuilder>, 20> kLeaves = {{
      {"all", build_all_any},
      {"any", build_all_any},
      {"not", build_not},
      {"prompt_tokens", build_prompt_tokens},
      {"message_count", build_message_count},
      {"prompt_chars", build_prompt_chars},
      {"max_tokens", build_max_tokens},
      {"temperature", build_temperature},
      {"has_tools", build_has_tools},
      {"has_images", build_has_images},
      {"stream", build_stream},
      {"json_mode", build_json_mode},
      {"tier", build_caller_set},
      {"key_name", build_caller_set},
      {"metadata", build_metadata},
      {"tag", build_tag},
      {"regex", build_regex},
      {"keywords", build_keywords},
      {"detect", build_detect},
      {"header", build_header},
  }};
  return kLeaves;
}

/// One condition key of a `when` map.
CondPtr build_leaf(const std::string& key, const config::Node& v, const config::Node& parent, config::Diagnostics& d) {
  for (const auto& [name, build] : leaf_builders()) {
    if (name == key) return build(key, v, parent, d);
  }
  parent.get(key)->error(d, "unknown condition \"" + key + "\"");
  return nullptr;
}

// Modifiers that belong to a sibling condition, not conditions themselves.
bool is_modifier(const std::string& key) { return key == "in" || key == "case_sensitive" || key == "whole_word"; }

CondPtr build_condition(const config::Node& n, config::Diagnostics& d) {
  if (!n.is_map() || n.members().empty()) {
    n.error(d, "expected a map of conditions");
    return nullptr;
  }
  n.check_keys({"all", "any", "not", "prompt_tokens", "message_count", "prompt_chars", "max_tokens", "temperature",
                "has_tools", "has_images", "stream", "json_mode", "tier", "key_name", "metadata", "tag", "regex", "keywords",
                "detect", "header", "in", "case_sensitive", "whole_word"},
               d);
  auto all = std::make_unique<AllOf>();
  for (const auto& [k, v] : n.members()) {
    if (is_modifier(k)) continue;
    auto c = build_leaf(k, v, n, d);
    if (!c) return nullptr;
    all->parts.push_back(std::move(c));
  }
  if (all->parts.size() == 1) return std::move(all->parts.front());
  return all;
}

struct Rule {
  std::string name;
  CondPtr when;
  enum class Action { route, reject, tag } action = Action::route;
  std::string target;
  Error reject;
  std::string tag;
};

class RuleStage final : public Stage {
 public:
  static constexpr std::string_view kType = "rule";
  std::string_view type() const override { return kType; }
  std::vector<Rule> rules;

  bool decide_now(StageContext& ctx, Decision& d) const override {
    for (const auto& r : rules) {
      if (!r.when->eval(ctx.features)) continue;
      std::string why = "rule:" + r.name + " " + r.when->describe();
      switch (r.action) {
        case Rule::Action::tag:
          ctx.features.add_tag(r.tag);
          d.scores.emplace_back("tag:" + r.tag, 1);
          continue;
        case Rule::Action::route:
          d.kind = Decision::Kind::route;
          d.target = r.target;
          d.reason = std::move(why);
          return true;
        case Rule::Action::reject:
          d.kind = Decision::Kind::reject;
          d.error = r.reject;
          d.reason = std::move(why);
          return true;
      }
    }
    d.reason = "rule:no match";
    return true;
  }
};

}  // namespace

std::unique_ptr<Stage> make_rule_stage(const config::Node& n, BuildContext& ctx, config::Diagnostics& d) {
  n.check_keys({"type", "name", "rules"}, d);
  const config::Node* rules = n.get("rules");
  if (!rules || !rules->is_sequence() || rules->items().empty()) {
    (rules ? *rules : n).error(d, "a rule stage needs a non-empty list of rules");
    return nullptr;
  }
  auto stage = std::make_unique<RuleStage>();
  bool ok = true;
  for (size_t i = 0; i < rules->items().size(); ++i) {
    const auto& rn = rules->items()[i];
    if (!rn.is_map()) {
      rn.error(d, "expected a map with when and route, reject or tag");
      ok = false;
      continue;
    }
    rn.check_keys({"name", "when", "route", "reject", "tag"}, d);
    Rule r;
    r.name = rn.str("name", d).value_or("#" + std::to_string(i));
    const config::Node* when = rn.get("when");
    if (!when) {
      d.error(rn.child_path("when"), rn.line(), "required key is missing");
      ok = false;
      continue;
    }
    r.when = build_condition(*when, d);
    if (!r.when) {
      ok = false;
      continue;
    }
    int actions = (rn.get("route") ? 1 : 0) + (rn.get("reject") ? 1 : 0) + (rn.get("tag") ? 1 : 0);
    if (actions != 1) {
      rn.error(d, "give exactly one action: route, reject or tag (tag continues to the next rule)");
      ok = false;
      continue;
    }
    if (rn.get("route") && rn.get("route")->is_null()) {
      rn.get("route")->error(d, "route needs a model or tier name");
      ok = false;
      continue;
    }
    if (auto t = rn.str("route", d)) {
      r.action = Rule::Action::route;
      r.target = ctx.resolve_target(*t);
      if (r.target.empty()) {
        rn.get("route")->error(d, "unknown model or tier \"" + *t + "\"");
        ok = false;
      }
    } else if (const config::Node* rej = rn.get("reject")) {
      r.action = Rule::Action::reject;
      r.reject = Error::make(ErrorKind::rejected, "The request was rejected by a routing rule.");
      if (rej->is_map()) {
        rej->check_keys({"status", "message", "code"}, d);
        if (auto s = rej->integer("status", d, 400, 599)) r.reject.status_override = static_cast<int>(*s);
        if (auto m = rej->str("message", d)) r.reject.message = *m;
        if (auto c = rej->str("code", d)) r.reject.code = *c;
      } else if (rej->is_scalar()) {
        r.reject.message = rej->scalar();
      }
    } else if (auto t = rn.str("tag", d)) {
      r.action = Rule::Action::tag;
      r.tag = *t;
    }
    stage->rules.push_back(std::move(r));
  }
  if (!ok) return nullptr;
  return stage;
}

}  // namespace sy::pipeline

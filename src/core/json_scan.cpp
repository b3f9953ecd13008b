#include "switchyard/core/json_scan.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <deque>
#include <memory>

namespace sy::json {
namespace {

/// Which guard a document failed, for the error's code and wording.
enum class Failure : std::uint8_t { syntax, too_deep, duplicate_key, invalid_utf8 };

// Scratch space shared by the scans of one thread (a scan never starts another): the keys of the
// objects being scanned, for duplicate detection, and decoded copies of keys written with escapes.
// std::deque keeps the addresses of its elements when it grows at the back.
/// A key of an object being scanned, with its tag (detail::key_tag).
struct Key {
  std::uint32_t tag;
  std::string_view text;
};
using detail::key_tag;
using detail::tag_bit;
constexpr std::uint32_t kCacheControlTag = key_tag("cache_control");

thread_local std::vector<Key> t_keys;
thread_local std::deque<std::string> t_decoded;

constexpr bool is_digit(char c) { return static_cast<unsigned char>(c - '0') < 10; }

/// Recursive-descent validator over a string_view; recursion is bounded by `Limits::max_depth`.
/// Position-based, no allocation except for the member list the caller asks for.
class Scanner {
 public:
  // The thread's scratch is looked up once: every access to a thread_local with a destructor goes
  // through its TLS wrapper.
  Scanner(std::string_view s, const Limits& limits)
      : s_(s), max_depth_(limits.max_depth), keys_(t_keys), decoded_(t_decoded), keys_base_(keys_.size()) {}
  ~Scanner() {
    keys_.resize(keys_base_);
    for (; decoded_here_ > 0; --decoded_here_) decoded_.pop_back();
  }
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  size_t pos() const { return p_; }
  const std::string& error() const { return err_; }
  Failure failure() const { return failure_; }
  const std::string& duplicate() const { return duplicate_; }
  bool saw_cache_control() const { return saw_cache_control_; }
  int max_depth() const { return max_depth_; }
  /// tag_bit of every key of the top-level object (the one scanned into a member list).
  std::uint64_t top_key_bits() const { return top_key_bits_; }
  /// Where decoded top-level keys live (the Object being built), instead of the thread's scratch.
  void keep_decoded_keys_in(std::vector<std::unique_ptr<std::string>>* store) { top_store_ = store; }
  /// Records the elements of the top-level member `key` when it is an array, into `out`.
  void expand_array(std::string_view key, std::vector<Field>* out) {
    expand_key_ = key;
    expand_out_ = out;
  }

  // Machine-written JSON has no whitespace between tokens: one compare settles that, the loop is apart.
  void skip_ws() {
    if (p_ < s_.size() && static_cast<unsigned char>(s_[p_]) <= ' ') skip_ws_run();
  }
  bool at_end() const { return p_ >= s_.size(); }
  char peek() const { return p_ < s_.size() ? s_[p_] : '\0'; }
  /// The next byte after any whitespace, not consumed; '\0' at the end.
  char next() {
    if (p_ >= s_.size()) return '\0';
    char c = s_[p_];
    if (static_cast<unsigned char>(c) > ' ') return c;
    skip_ws_run();
    return peek();
  }

  bool fail(const char* what, Failure f = Failure::syntax) {
    if (err_.empty()) {
      err_ = std::string(what) + " at offset " + std::to_string(p_);
      failure_ = f;
    }
    return false;
  }

  // Parses one value starting at p_ (whitespace already skipped); sets type. Inlined into the loops of
  // object() and array(): a call per member cost more than the scan of a short value.
  [[gnu::always_inline]] bool value(Type& type, int depth) {
    if (at_end()) return fail("unexpected end of input");
    switch (s_[p_]) {
      case '{': type = Type::object; return object<false>(nullptr, depth + 1);
      case '[': type = Type::array; return array(nullptr, depth + 1);
      case '"': type = Type::string; return string();
      case 't': type = Type::boolean; return literal("true");
      case 'f': type = Type::boolean; return literal("false");
      case 'n': type = Type::null; return literal("null");
      default:
        if (s_[p_] == '-' || is_digit(s_[p_])) { type = Type::number; return number(); }
        return fail("unexpected character");
    }
  }

  // An object; `kTop` for the document's root, whose members go to `out` (nested objects are only
  // validated, and their loop carries none of the root's bookkeeping).
  template <bool kTop>
  bool object(std::vector<Field>* out, int depth) {
    if (depth > max_depth_) return fail("nesting too deep", Failure::too_deep);
    ++p_;  // '{'
    if (next() == '}') { ++p_; return true; }
    const size_t keys_from = keys_.size();
    std::uint64_t key_bits = 0;
    for (;;) {
      if (next() != '"') return fail("expected a string key");
      size_t key_start = p_ + 1;
      if (!string()) return false;
      std::string_view raw_key(s_.data() + key_start, p_ - 1 - key_start);
      // The string just scanned had an escape: the key is compared (and reported) decoded.
      std::string_view key = escaped_ ? decoded_key(key_start - 1, raw_key.size() + 2, kTop) : raw_key;
      const std::uint32_t tag = key_tag(key);
      if (tag == kCacheControlTag && key == "cache_control") saw_cache_control_ = true;
      // Duplicates: compared as they come while the object is small (only with the keys of the same
      // bit), by sorting at its end otherwise.
      const std::uint64_t bit = tag_bit(tag);
      if ((key_bits & bit) && keys_.size() - keys_from < kLinearKeys && repeats(keys_from, tag, key)) {
        return duplicate_key(key, key_start - 1);
      }
      key_bits |= bit;
      keys_.push_back(Key{tag, key});
      if (next() != ':') return fail("expected ':'");
      ++p_;
      skip_ws();
      size_t vstart = p_;
      Type t{};
      if (kTop && expand_out_ && peek() == '[' && key == expand_key_) {
        // The one top-level array the caller wants split: its elements recorded in this pass.
        t = Type::array;
        if (!array(expand_out_, depth + 1)) return false;
      } else if (!value(t, depth)) {
        return false;
      }
      if constexpr (kTop) out->push_back(Field{key, std::string_view(s_.data() + vstart, p_ - vstart), t, raw_key});
      const char c = next();
      if (c == ',') { ++p_; continue; }
      if (c == '}') {
        ++p_;
        if constexpr (kTop) top_key_bits_ = key_bits;
        if (keys_.size() - keys_from > kLinearKeys && !no_repeated_key(keys_from)) return false;
        keys_.resize(keys_from);
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  bool array(std::vector<Field>* out, int depth) {
    if (depth > max_depth_) return fail("nesting too deep", Failure::too_deep);
    ++p_;  // '['
    if (next() == ']') { ++p_; return true; }
    for (;;) {
      skip_ws();
      size_t vstart = p_;
      Type t{};
      if (!value(t, depth)) return false;
      if (out) {
        // Room for a typical conversation at once, not by doubling from one.
        if (out->empty()) out->reserve(8);
        out->push_back(Field{{}, std::string_view(s_.data() + vstart, p_ - vstart), t, {}});
      }
      const char c = next();
      if (c == ',') { ++p_; continue; }
      if (c == ']') { ++p_; return true; }
      return fail("expected ',' or ']'");
    }
  }

  bool string() {
    ++p_;  // opening quote
    escaped_ = false;
    const char* data = s_.data();
    const size_t n = s_.size();
    for (;;) {
      // Fastest path (SSE2, every x86-64): up to the first quote, backslash, control character or
      // non-ASCII byte; a signed compare with 0x20 flags both controls and bytes >= 0x80. One 16-byte
      // step first, which ends most keys and short values, then 32 bytes per step.
      bool found = false;
#if defined(__SSE2__)
      {
        const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
        auto flags = [&](size_t at) {
          __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + at));
          __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                                   _mm_cmplt_epi8(v, space));
          return static_cast<unsigned>(_mm_movemask_epi8(m));
        };
        if (p_ + 16 <= n) {
          if (unsigned first = flags(p_)) {
            p_ += static_cast<size_t>(std::countr_zero(first));
            found = true;
          } else {
            p_ += 16;
          }
        }
        while (!found && p_ + 32 <= n) {
          unsigned lo = flags(p_), hi = flags(p_ + 16);
          if (lo | hi) {
            p_ += static_cast<size_t>(std::countr_zero(lo | (hi << 16)));
            found = true;
            break;
          }
          p_ += 32;
        }
      }
#endif
      // Fast path: 8 bytes at a time up to the first quote, backslash, control character or non-ASCII
      // byte. The lowest flagged byte of these bit tricks is always exact (only bytes above it can be
      // false positives), so the scan jumps straight to it instead of stepping byte by byte.
      while (!found && p_ + 8 <= n) {
        std::uint64_t v;
        std::memcpy(&v, data + p_, 8);
        constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
        std::uint64_t lt20 = (v - kOnes * 0x20) & ~v & kHigh;
        std::uint64_t q = v ^ (kOnes * '"'), b = v ^ (kOnes * '\\');
        std::uint64_t special = lt20 | (v & kHigh) | ((q - kOnes) & ~q & kHigh) | ((b - kOnes) & ~b & kHigh);
        if (special) {
          if constexpr (std::endian::native == std::endian::little) p_ += static_cast<size_t>(std::countr_zero(special)) / 8;
          break;
        }
        p_ += 8;
      }
      if (p_ >= n) return fail("unterminated string");
      if (data[p_] == '"') {
        ++p_;
        return true;
      }
      if (!string_byte()) return false;
    }
  }

  // One byte of a string that is not its closing quote: an escape, a control byte, a UTF-8 sequence, or
  // a plain byte in the last 8 of the input. Out of line: the common string has none of these.
  [[gnu::noinline]] bool string_byte() {
    const char* data = s_.data();
    const size_t n = s_.size();
    unsigned char c = static_cast<unsigned char>(data[p_]);
    if (c == '\\') {
      escaped_ = true;
      if (p_ + 1 >= n) return fail("unterminated string");
      char e = data[p_ + 1];
      if (e == 'u') {
        std::uint32_t cp = 0;
        if (!hex_escape(p_, cp)) return fail("bad \\u escape");
        if (cp >= 0xDC00 && cp <= 0xDFFF) return fail("lone low surrogate escape", Failure::invalid_utf8);
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          std::uint32_t lo = 0;
          if (p_ + 12 > n || data[p_ + 6] != '\\' || data[p_ + 7] != 'u' || !hex_escape(p_ + 6, lo) ||
              lo < 0xDC00 || lo > 0xDFFF) {
            return fail("lone high surrogate escape", Failure::invalid_utf8);
          }
          p_ += 6;
        }
        p_ += 6;
        return true;
      }
      if (!std::strchr("\"\\/bfnrt", e) || e == '\0') return fail("bad escape");
      p_ += 2;
      return true;
    }
    if (c < 0x20) return fail("control character in string");
    if (c >= 0x80) {
      if (!utf8_sequence()) return fail("invalid UTF-8 in string", Failure::invalid_utf8);
      return true;
    }
    ++p_;
    return true;
  }

  // A number token: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, stepped with a local position.
  bool number() {
    const char* data = s_.data();
    const size_t n = s_.size();
    size_t p = p_;
    auto digits = [&] {
      while (p < n && is_digit(data[p])) ++p;
    };
    auto at = [&](char c) { return p < n && data[p] == c; };
    if (at('-')) ++p;
    if (at('0')) {
      ++p;
    } else if (p < n && is_digit(data[p])) {
      digits();
    } else {
      return bad_number(p);
    }
    if (at('.')) {
      ++p;
      if (!(p < n && is_digit(data[p]))) return bad_number(p);
      digits();
    }
    if (at('e') || at('E')) {
      ++p;
      if (at('+') || at('-')) ++p;
      if (!(p < n && is_digit(data[p]))) return bad_number(p);
      digits();
    }
    p_ = p;
    return true;
  }

  bool literal(std::string_view lit) {
    if (s_.size() - p_ < lit.size() || std::memcmp(s_.data() + p_, lit.data(), lit.size()) != 0) return fail("bad literal");
    p_ += lit.size();
    return true;
  }

 private:
  static constexpr size_t kLinearKeys = 16;

  [[gnu::noinline]] void skip_ws_run() {
    while (p_ < s_.size()) {
      char c = s_[p_];
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') ++p_;
      else break;
    }
  }

  [[gnu::noinline]] bool bad_number(size_t at) {
    p_ = at;
    return fail("bad number");
  }

  // The decoded text of the key token at `at` (quotes included), kept where it outlives the scan when
  // it is a top-level key (the Object's store), in the thread's scratch otherwise.
  [[gnu::noinline]] std::string_view decoded_key(size_t at, size_t size, bool top_level) {
    std::string decoded;
    append_string_value(s_.substr(at, size), decoded);
    if (top_level && top_store_) {
      top_store_->push_back(std::make_unique<std::string>(std::move(decoded)));
      return *top_store_->back();
    }
    decoded_.push_back(std::move(decoded));
    ++decoded_here_;
    return decoded_.back();
  }

  // Whether `key` is among the keys of the current object recorded so far (from `keys_from`).
  bool repeats(size_t keys_from, std::uint32_t tag, std::string_view key) const {
    for (size_t i = keys_from; i < keys_.size(); ++i) {
      if (keys_[i].tag == tag && keys_[i].text == key) return true;
    }
    return false;
  }

  // At the end of an object with more keys than are compared as they come: sorted, any repeat is
  // adjacent.
  [[gnu::noinline]] bool no_repeated_key(size_t keys_from) {
    std::vector<std::string_view> sorted;
    sorted.reserve(keys_.size() - keys_from);
    for (size_t i = keys_from; i < keys_.size(); ++i) sorted.push_back(keys_[i].text);
    std::sort(sorted.begin(), sorted.end());
    auto dup = std::adjacent_find(sorted.begin(), sorted.end());
    return dup == sorted.end() || duplicate_key(*dup, p_ - 1);
  }

  bool duplicate_key(std::string_view key, size_t at) {
    duplicate_.assign(key.substr(0, 64));
    for (auto& ch : duplicate_) {
      if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = '?';
    }
    p_ = at;
    return fail("repeated object key", Failure::duplicate_key);
  }

  // The four hex digits of the \u escape at `at`.
  bool hex_escape(size_t at, std::uint32_t& cp) const {
    if (at + 6 > s_.size()) return false;
    cp = 0;
    for (size_t i = at + 2; i < at + 6; ++i) {
      char h = s_[i];
      cp <<= 4;
      if (h >= '0' && h <= '9') cp |= static_cast<std::uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') cp |= static_cast<std::uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') cp |= static_cast<std::uint32_t>(h - 'A' + 10);
      else return false;
    }
    return true;
  }

  // One well-formed UTF-8 sequence at p_ (RFC 3629: no overlongs, no surrogates, at most U+10FFFF).
  bool utf8_sequence() {
    auto at = [&](size_t i) { return p_ + i < s_.size() ? static_cast<unsigned char>(s_[p_ + i]) : 0u; };
    unsigned c = at(0);
    auto cont = [](unsigned b) { return b >= 0x80 && b <= 0xBF; };
    size_t len = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      len = cont(at(1)) ? 2 : 0;
    } else if (c >= 0xE0 && c <= 0xEF) {
      unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
      len = at(1) >= lo && at(1) <= hi && cont(at(2)) ? 3 : 0;
    } else if (c >= 0xF0 && c <= 0xF4) {
      unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
      len = at(1) >= lo && at(1) <= hi && cont(at(2)) && cont(at(3)) ? 4 : 0;
    }
    if (len == 0) return false;
    p_ += len;
    return true;
  }

  std::string_view s_;
  size_t p_ = 0;
  int max_depth_;
  std::vector<Key>& keys_;
  std::deque<std::string>& decoded_;
  size_t keys_base_;
  size_t decoded_here_ = 0;  // keys this scan decoded into the thread's scratch
  std::vector<std::unique_ptr<std::string>>* top_store_ = nullptr;
  std::string_view expand_key_;
  std::vector<Field>* expand_out_ = nullptr;
  std::string err_;
  Failure failure_ = Failure::syntax;
  std::string duplicate_;
  std::uint64_t top_key_bits_ = 0;
  bool saw_cache_control_ = false;
  bool escaped_ = false;  // the last string scanned held a backslash escape
};

Error syntax_error(const Scanner& sc) {
  switch (sc.failure()) {
    case Failure::too_deep:
      return Error::bad_request("The JSON document nests arrays and objects deeper than the limit of " +
                                    std::to_string(sc.max_depth()) + " levels (" + sc.error() +
                                    "; limit: server.max_json_depth).",
                                {}, "json_too_deep");
    case Failure::duplicate_key:
      return Error::bad_request("The JSON document repeats the key '" + sc.duplicate() + "' (" + sc.error() +
                                    "). Keys are compared after unescaping; send each key once.",
                                {}, "duplicate_key");
    case Failure::invalid_utf8:
      return Error::bad_request("The JSON document is not valid UTF-8 (" + sc.error() + ").", {}, "invalid_utf8");
    case Failure::syntax: break;
  }
  return Error::bad_request("Invalid JSON: " + sc.error() + ".", {}, "invalid_json");
}

[[gnu::noinline]] Error too_large(std::string_view text, const Limits& limits) {
  return Error::bad_request("The JSON document is " + std::to_string(text.size()) + " bytes, more than the limit of " +
                                std::to_string(limits.max_bytes) + " bytes.",
                            {}, "json_too_large");
}

/// Text that is the same inside a JSON string token: no quote, backslash, control or non-ASCII byte.
bool is_plain(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char ch) {
    auto c = static_cast<unsigned char>(ch);
    return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
  });
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::uint32_t hex4(std::string_view s) {
  std::uint32_t v = 0;
  for (char c : s) {
    v <<= 4;
    if (c >= '0' && c <= '9') v |= static_cast<std::uint32_t>(c - '0');
    else if (c >= 'a' && c <= 'f') v |= static_cast<std::uint32_t>(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= static_cast<std::uint32_t>(c - 'A' + 10);
  }
  return v;
}

}  // namespace

std::string_view type_name(Type t) {
  switch (t) {
    case Type::object: return "object";
    case Type::array: return "array";
    case Type::string: return "string";
    case Type::number: return "number";
    case Type::boolean: return "boolean";
    case Type::null: return "null";
  }
  return "unknown";
}

const Field* Object::find_compared(std::string_view key) const {
  for (const auto& f : fields) {
    if (f.key == key) return &f;
  }
  return nullptr;
}

Result<Object> scan_object(std::string_view text, const Limits& limits, std::string_view expand) {
  if (text.size() > limits.max_bytes) return too_large(text, limits);
  Object obj;
  Scanner sc(text, limits);
  sc.keep_decoded_keys_in(&obj.decoded_keys);
  if (!expand.empty()) sc.expand_array(expand, &obj.elements);
  sc.skip_ws();
  if (sc.peek() != '{') {
    if (sc.at_end()) return Error::bad_request("The request body is empty; send a JSON object.", {}, "invalid_json");
    return Error::bad_request("The request body must be a JSON object.", {}, "invalid_json");
  }
  obj.fields.reserve(12);
  if (!sc.object<true>(&obj.fields, 1)) return syntax_error(sc);
  obj.saw_cache_control = sc.saw_cache_control();
  obj.key_bits_ = sc.top_key_bits();
  obj.key_bits_end_ = std::to_address(obj.fields.end());
  sc.skip_ws();
  if (!sc.at_end()) {
    sc.fail("unexpected data after the JSON value");
    return syntax_error(sc);
  }
  return obj;
}

Result<std::vector<Field>> scan_array(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_bytes) return too_large(text, limits);
  Scanner sc(text, limits);
  sc.skip_ws();
  if (sc.peek() != '[') return Error::bad_request("expected a JSON array", {}, "invalid_json");
  std::vector<Field> out;
  if (!sc.array(&out, 1)) return syntax_error(sc);
  sc.skip_ws();
  if (!sc.at_end()) {
    sc.fail("unexpected data after the JSON value");
    return syntax_error(sc);
  }
  return out;
}

Result<Type> validate(std::string_view text, const Limits& limits) {
  if (text.size() > limits.max_bytes) return too_large(text, limits);
  Scanner sc(text, limits);
  sc.skip_ws();
  Type t{};
  if (!sc.value(t, 0)) return syntax_error(sc);
  sc.skip_ws();
  if (!sc.at_end()) {
    sc.fail("unexpected data after the JSON value");
    return syntax_error(sc);
  }
  return t;
}

bool append_string_value(std::string_view raw, std::string& out) {
  if (raw.size() < 2 || raw.front() != '"' || raw.back() != '"') return false;
  // Most strings (model names, roles) are a plain run, valid as they are: no scan, no decoding.
  if (std::string_view plain = raw.substr(1, raw.size() - 2); is_plain(plain)) {
    out.append(plain);
    return true;
  }
  // Decode only what the guard accepts (one string token: hex escapes, paired surrogates, UTF-8, no
  // control bytes): the decoded text is then valid UTF-8 whatever the caller handed in.
  {
    Scanner sc(raw, Limits{});
    Type t{};
    if (!sc.value(t, 0) || t != Type::string || sc.pos() != raw.size()) return false;
  }
  std::string_view s = raw.substr(1, raw.size() - 2);
  out.reserve(out.size() + s.size());
  for (size_t i = 0; i < s.size();) {
    // Copy the run up to the next escape in one go.
    size_t j = s.find('\\', i);
    if (j == std::string_view::npos) {
      out.append(s.substr(i));
      break;
    }
    out.append(s.substr(i, j - i));
    if (j + 1 >= s.size()) return false;
    char e = s[j + 1];
    i = j + 2;
    switch (e) {
      case '"': out.push_back('"'); break;
      case '\\': out.push_back('\\'); break;
      case '/': out.push_back('/'); break;
      case 'b': out.push_back('\b'); break;
      case 'f': out.push_back('\f'); break;
      case 'n': out.push_back('\n'); break;
      case 'r': out.push_back('\r'); break;
      case 't': out.push_back('\t'); break;
      case 'u': {
        if (j + 6 > s.size()) return false;
        std::uint32_t cp = hex4(s.substr(j + 2, 4));
        i = j + 6;
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 <= s.size() && s[i] == '\\' && s[i + 1] == 'u') {
          std::uint32_t lo = hex4(s.substr(i + 2, 4));
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        append_utf8(out, cp);
        break;
      }
      default: return false;
    }
  }
  return true;
}

std::optional<std::string> string_value(std::string_view raw) {
  std::string out;
  if (!append_string_value(raw, out)) return std::nullopt;
  return out;
}

namespace {
// Length of the well-formed UTF-8 sequence at the start of `s` (RFC 3629), 0 when there is none.
size_t utf8_length(std::string_view s) {
  auto at = [&](size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0u; };
  auto cont = [](unsigned b) { return b >= 0x80 && b <= 0xBF; };
  unsigned c = at(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(at(1)) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return at(1) >= lo && at(1) <= hi && cont(at(2)) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return at(1) >= lo && at(1) <= hi && cont(at(2)) && cont(at(3)) ? 4 : 0;
  }
  return 0;
}
}  // namespace

std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  // Most strings (model names, ids) need no escaping: copy them in one go.
  if (is_plain(s)) {
    out.append(s);
    out.push_back('"');
    return out;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < s.size(); ++i) {
    char ch = s[i];
    auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      // Bytes from outside (an upstream's header, a log line) may not be UTF-8: what we emit always
      // is, so it passes our own guard. A broken sequence becomes U+FFFD.
      size_t n = utf8_length(s.substr(i));
      if (n == 0) {
        out += "\xef\xbf\xbd";
      } else {
        out.append(s.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::vector<std::string_view> top_level_fields_out_of_range(std::string_view text) {
  std::vector<std::string_view> out;
  auto obj = scan_object(text);
  if (!obj) return out;
  for (const auto& f : obj->fields) {
    if (f.type == Type::number && !number_value(f.value)) out.push_back(f.raw_key);
  }
  return out;
}

std::optional<double> number_value(std::string_view raw) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
  if (ec != std::errc() || ptr != raw.data() + raw.size()) return std::nullopt;
  return v;
}

std::optional<std::int64_t> integer_value(std::string_view raw) {
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(raw.data(), raw.data() + raw.size(), v);
  if (ec == std::errc() && ptr == raw.data() + raw.size()) return v;
  // Accept integral doubles such as 100.0 or 1e3 — inside int64's range: casting a double outside it is
  // undefined behaviour (1e20 is valid JSON).
  auto d = number_value(raw);
  if (!d || !(*d >= -9.2e18 && *d <= 9.2e18)) return std::nullopt;
  if (*d == std::trunc(*d)) return static_cast<std::int64_t>(*d);
  return std::nullopt;
}

namespace {

// Walks the members in order, emitting each kept member's original bytes (sink.borrow) or its new value
// (sink.append), and the original separator between members that were neighbours; removed members
// vanish with one comma.
template <class Sink>
void splice_into(std::string_view body, const Object& scanned, const std::vector<Edit>& edits, Sink& out) {
  auto edit_for = [&](std::string_view key) -> const Edit* {
    for (const auto& e : edits) {
      if (e.key == key) return &e;
    }
    return nullptr;
  };
  const auto& fs = scanned.fields;
  auto offset = [&](std::string_view part) { return static_cast<size_t>(part.data() - body.data()); };
  auto append_member = [&](const Edit& e) {
    out.append(quote(e.key));
    out.append(":");
    out.append(*e.value);
  };
  if (fs.empty()) {
    size_t close = body.find_last_of('}');
    out.borrow(body.substr(0, close));
    bool first = true;
    for (const auto& e : edits) {
      if (!e.value) continue;
      if (!first) out.append(",");
      first = false;
      append_member(e);
    }
    out.borrow(body.substr(close));
    return;
  }
  size_t first_key = offset(fs.front().raw_key) - 1;  // the key's opening quote
  out.borrow(body.substr(0, first_key));
  std::optional<size_t> prev_kept;
  for (size_t i = 0; i < fs.size(); ++i) {
    const Field& f = fs[i];
    const Edit* e = edit_for(f.key);
    if (e && !e->value) continue;
    size_t kb = offset(f.raw_key) - 1;
    if (prev_kept) {
      if (*prev_kept + 1 == i) {
        size_t prev_end = offset(fs[*prev_kept].value) + fs[*prev_kept].value.size();
        out.borrow(body.substr(prev_end, kb - prev_end));
      } else {
        out.append(",");
      }
    }
    size_t vb = offset(f.value);
    out.borrow(body.substr(kb, vb - kb));
    if (e) out.append(*e->value);
    else out.borrow(f.value);
    prev_kept = i;
  }
  for (const auto& e : edits) {
    if (!e.value || scanned.find(e.key)) continue;
    if (prev_kept) out.append(",");
    append_member(e);
    prev_kept = fs.size();
  }
  size_t last_end = offset(fs.back().value) + fs.back().value.size();
  out.borrow(body.substr(last_end));
}

struct StringSink {
  std::string& s;
  void borrow(std::string_view v) { s.append(v); }
  void append(std::string_view v) { s.append(v); }
};

}  // namespace

std::string splice(std::string_view body, const Object& scanned, const std::vector<Edit>& edits) {
  size_t extra = 0;
  for (const auto& e : edits) extra += e.value ? e.value->size() + e.key.size() + 4 : 0;
  std::string out;
  out.reserve(body.size() + extra);
  StringSink sink{out};
  splice_into(body, scanned, edits, sink);
  return out;
}

Payload splice_borrowing(std::string_view body, const Object& scanned, const std::vector<Edit>& edits) {
  Payload out;
  splice_into(body, scanned, edits, out);
  return out;
}

}  // namespace sy::json

#include "switchyard/core/json_scan.hpp"

#include <algorithm>
#include <bit>
#include <cctype>
#include <charconv>
#include <cstring>

namespace sy::json {
namespace {

constexpr int kMaxDepth = 256;

/// Recursive-descent validator over a string_view. Position-based, no allocation except for the
/// member list the caller asks for.
class Scanner {
 public:
  explicit Scanner(std::string_view s) : s_(s) {}

  size_t pos() const { return p_; }
  const std::string& error() const { return err_; }

  void skip_ws() {
    while (p_ < s_.size()) {
      char c = s_[p_];
      if (c == ' ' || c == '\n' || c == '\r' || c == '\t') ++p_;
      else break;
    }
  }
  bool at_end() const { return p_ >= s_.size(); }
  char peek() const { return p_ < s_.size() ? s_[p_] : '\0'; }

  bool fail(const char* what) {
    if (err_.empty()) err_ = std::string(what) + " at offset " + std::to_string(p_);
    return false;
  }

  // Parses one value starting at p_ (whitespace already skipped); sets type.
  bool value(Type& type, int depth) {
    if (at_end()) return fail("unexpected end of input");
    switch (s_[p_]) {
      case '{': type = Type::object; return object(nullptr, depth + 1);
      case '[': type = Type::array; return array(nullptr, depth + 1);
      case '"': type = Type::string; return string();
      case 't': type = Type::boolean; return literal("true");
      case 'f': type = Type::boolean; return literal("false");
      case 'n': type = Type::null; return literal("null");
      default:
        if (s_[p_] == '-' || (s_[p_] >= '0' && s_[p_] <= '9')) { type = Type::number; return number(); }
        return fail("unexpected character");
    }
  }

  bool object(std::vector<Field>* out, int depth) {
    if (depth > kMaxDepth) return fail("nesting too deep");
    ++p_;  // '{'
    skip_ws();
    if (peek() == '}') { ++p_; return true; }
    for (;;) {
      skip_ws();
      if (peek() != '"') return fail("expected a string key");
      size_t key_start = p_ + 1;
      if (!string()) return false;
      std::string_view key = s_.substr(key_start, p_ - 1 - key_start);
      skip_ws();
      if (peek() != ':') return fail("expected ':'");
      ++p_;
      skip_ws();
      size_t vstart = p_;
      Type t;
      if (!value(t, depth)) return false;
      if (out) out->push_back(Field{key, s_.substr(vstart, p_ - vstart), t});
      skip_ws();
      if (peek() == ',') { ++p_; continue; }
      if (peek() == '}') { ++p_; return true; }
      return fail("expected ',' or '}'");
    }
  }

  bool array(std::vector<Field>* out, int depth) {
    if (depth > kMaxDepth) return fail("nesting too deep");
    ++p_;  // '['
    skip_ws();
    if (peek() == ']') { ++p_; return true; }
    for (;;) {
      skip_ws();
      size_t vstart = p_;
      Type t;
      if (!value(t, depth)) return false;
      if (out) out->push_back(Field{{}, s_.substr(vstart, p_ - vstart), t});
      skip_ws();
      if (peek() == ',') { ++p_; continue; }
      if (peek() == ']') { ++p_; return true; }
      return fail("expected ',' or ']'");
    }
  }

  bool string() {
    ++p_;  // opening quote
    const char* data = s_.data();
    const size_t n = s_.size();
    while (p_ < n) {
      // Fast path: 8 bytes at a time up to the first quote, backslash or control character. The lowest
      // flagged byte of these bit tricks is always exact (only bytes above it can be false positives),
      // so the scan jumps straight to it instead of stepping byte by byte through short strings.
      while (p_ + 8 <= n) {
        std::uint64_t v;
        std::memcpy(&v, data + p_, 8);
        constexpr std::uint64_t kOnes = 0x0101010101010101ull, kHigh = 0x8080808080808080ull;
        std::uint64_t lt20 = (v - kOnes * 0x20) & ~v & kHigh;
        std::uint64_t q = v ^ (kOnes * '"'), b = v ^ (kOnes * '\\');
        std::uint64_t special = lt20 | ((q - kOnes) & ~q & kHigh) | ((b - kOnes) & ~b & kHigh);
        if (special) {
          if constexpr (std::endian::native == std::endian::little) p_ += static_cast<size_t>(std::countr_zero(special)) / 8;
          break;
        }
        p_ += 8;
      }
      if (p_ >= n) break;
      unsigned char c = static_cast<unsigned char>(data[p_]);
      if (c == '"') { ++p_; return true; }
      if (c == '\\') {
        if (p_ + 1 >= n) return fail("unterminated string");
        char e = data[p_ + 1];
        if (e == 'u') {
          if (p_ + 6 > n) return fail("bad \\u escape");
          for (size_t i = p_ + 2; i < p_ + 6; ++i) {
            if (!std::isxdigit(static_cast<unsigned char>(data[i]))) return fail("bad \\u escape");
          }
          p_ += 6;
          continue;
        }
        if (!std::strchr("\"\\/bfnrt", e) || e == '\0') return fail("bad escape");
        p_ += 2;
        continue;
      }
      if (c < 0x20) return fail("control character in string");
      ++p_;
    }
    return fail("unterminated string");
  }

  bool number() {
    size_t start = p_;
    if (peek() == '-') ++p_;
    if (peek() == '0') {
      ++p_;
    } else if (peek() >= '1' && peek() <= '9') {
      while (peek() >= '0' && peek() <= '9') ++p_;
    } else {
      return fail("bad number");
    }
    if (peek() == '.') {
      ++p_;
      if (!(peek() >= '0' && peek() <= '9')) return fail("bad number");
      while (peek() >= '0' && peek() <= '9') ++p_;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++p_;
      if (peek() == '+' || peek() == '-') ++p_;
      if (!(peek() >= '0' && peek() <= '9')) return fail("bad number");
      while (peek() >= '0' && peek() <= '9') ++p_;
    }
    return p_ > start;
  }

  bool literal(std::string_view lit) {
    if (s_.substr(p_, lit.size()) != lit) return fail("bad literal");
    p_ += lit.size();
    return true;
  }

 private:
  std::string_view s_;
  size_t p_ = 0;
  std::string err_;
};

Error syntax_error(const Scanner& sc) {
  return Error::bad_request("We could not parse the JSON body of your request: " + sc.error() +
                                ". (HINT: send valid JSON with Content-Type: application/json.)",
                            {}, "invalid_json");
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

const Field* Object::find(std::string_view key) const {
  for (auto it = fields.rbegin(); it != fields.rend(); ++it) {
    if (it->key == key) return &*it;
  }
  return nullptr;
}

Result<Object> scan_object(std::string_view text) {
  Scanner sc(text);
  sc.skip_ws();
  if (sc.peek() != '{') {
    if (sc.at_end()) return Error::bad_request("The request body is empty; send a JSON object.", {}, "invalid_json");
    return Error::bad_request("The request body must be a JSON object.", {}, "invalid_json");
  }
  Object obj;
  obj.fields.reserve(12);
  if (!sc.object(&obj.fields, 1)) return syntax_error(sc);
  sc.skip_ws();
  if (!sc.at_end()) {
    sc.fail("unexpected data after the JSON value");
    return syntax_error(sc);
  }
  return obj;
}

Result<std::vector<Field>> scan_array(std::string_view text) {
  Scanner sc(text);
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

Result<Type> validate(std::string_view text) {
  Scanner sc(text);
  sc.skip_ws();
  Type t;
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

std::string quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  // Most strings (model names, ids) need no escaping: copy them in one go.
  if (std::none_of(s.begin(), s.end(), [](char ch) {
        auto c = static_cast<unsigned char>(ch);
        return c < 0x20 || c == '"' || c == '\\';
      })) {
    out.append(s);
    out.push_back('"');
    return out;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
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
  // Accept integral doubles such as 100.0 or 1e3.
  auto d = number_value(raw);
  if (d && *d == static_cast<double>(static_cast<std::int64_t>(*d))) return static_cast<std::int64_t>(*d);
  return std::nullopt;
}

std::string splice(std::string_view body, const Object& scanned, const std::vector<Edit>& edits) {
  // Walk the members in order, emitting each kept member's original bytes (or its new value) and the
  // original separator between members that were neighbours; removed members vanish with one comma.
  auto edit_for = [&](std::string_view key) -> const Edit* {
    for (const auto& e : edits) {
      if (e.key == key) return &e;
    }
    return nullptr;
  };
  const auto& fs = scanned.fields;
  auto offset = [&](std::string_view part) { return static_cast<size_t>(part.data() - body.data()); };
  size_t extra = 0;
  for (const auto& e : edits) extra += e.value ? e.value->size() + e.key.size() + 4 : 0;
  std::string out;
  out.reserve(body.size() + extra);
  if (fs.empty()) {
    size_t close = body.find_last_of('}');
    out.append(body.substr(0, close));
    bool first = true;
    for (const auto& e : edits) {
      if (!e.value) continue;
      if (!first) out.push_back(',');
      first = false;
      out.append(quote(e.key)).append(":").append(*e.value);
    }
    out.append(body.substr(close));
    return out;
  }
  size_t first_key = offset(fs.front().key) - 1;  // the key's opening quote
  out.append(body.substr(0, first_key));
  std::optional<size_t> prev_kept;
  for (size_t i = 0; i < fs.size(); ++i) {
    const Field& f = fs[i];
    const Edit* e = edit_for(f.key);
    if (e && !e->value) continue;
    size_t kb = offset(f.key) - 1;
    if (prev_kept) {
      if (*prev_kept + 1 == i) {
        size_t prev_end = offset(fs[*prev_kept].value) + fs[*prev_kept].value.size();
        out.append(body.substr(prev_end, kb - prev_end));
      } else {
        out.push_back(',');
      }
    }
    size_t vb = offset(f.value);
    out.append(body.substr(kb, vb - kb));
    out.append(e ? std::string_view(*e->value) : f.value);
    prev_kept = i;
  }
  for (const auto& e : edits) {
    if (!e.value || scanned.find(e.key)) continue;
    if (prev_kept) out.push_back(',');
    out.append(quote(e.key)).append(":").append(*e.value);
    prev_kept = fs.size();
  }
  size_t last_end = offset(fs.back().value) + fs.back().value.size();
  out.append(body.substr(last_end));
  return out;
}

}  // namespace sy::json

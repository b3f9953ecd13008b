#include "tokenize/pretokenize.hpp"

#include "tokenize/utf8.hpp"

namespace sy::tokenize::detail {

Char decode_multibyte(const unsigned char* s, std::size_t n, std::size_t pos) {
  const unsigned char b0 = s[pos];
  const std::size_t left = n - pos;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    if (left >= 2 && is_cont(s[pos + 1])) {
      const char32_t cp = (char32_t{b0 & 0x1Fu} << 6) | (s[pos + 1] & 0x3Fu);
      return {cp, 2, char_class(cp)};
    }
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (left >= 3 && is_cont(s[pos + 1]) && is_cont(s[pos + 2])) {
      const char32_t cp = (char32_t{b0 & 0x0Fu} << 12) | (char32_t{s[pos + 1] & 0x3Fu} << 6) |
                          (s[pos + 2] & 0x3Fu);
      if (cp >= 0x800 && (cp < 0xD800 || cp > 0xDFFF)) return {cp, 3, char_class(cp)};
    }
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (left >= 4 && is_cont(s[pos + 1]) && is_cont(s[pos + 2]) && is_cont(s[pos + 3])) {
      const char32_t cp = (char32_t{b0 & 0x07u} << 18) | (char32_t{s[pos + 1] & 0x3Fu} << 12) |
                          (char32_t{s[pos + 2] & 0x3Fu} << 6) | (s[pos + 3] & 0x3Fu);
      if (cp >= 0x10000 && cp < 0x110000) return {cp, 4, char_class(cp)};
    }
  }
  return {kInvalid, 1, CharClass::kOther};
}

namespace {

constexpr std::size_t kFail = 0;  // a piece never ends at offset 0, so 0 can mean "no match"

struct Text {
  const unsigned char* s;
  std::size_t n;

  Char at(std::size_t pos) const { return decode(s, n, pos); }

  std::size_t skip(std::size_t pos, Mask m) const {
    while (pos < n) {
      const Char c = at(pos);
      if (!c.in(m)) break;
      pos += c.len;
    }
    return pos;
  }

  // (?i:'s|'t|'re|'ve|'m|'ll|'d) at `pos`: its end, or kFail. Both encodings use this same set.
  std::size_t contraction(std::size_t pos) const {
    if (pos + 1 >= n || s[pos] != '\'') return kFail;
    const unsigned char a = s[pos + 1] | 0x20;
    if (a == 's' || a == 'd' || a == 'm' || a == 't') return pos + 2;
    if (pos + 2 >= n) return kFail;
    if (s[pos + 1] == 0xC5 && s[pos + 2] == 0xBF) return pos + 3;  // U+017F LATIN SMALL LETTER LONG S
    const unsigned char b = s[pos + 2] | 0x20;
    if ((a == 'l' && b == 'l') || (a == 'v' && b == 'e') || (a == 'r' && b == 'e')) return pos + 3;
    return kFail;
  }

  // \s*[\r\n]  |  \s+(?!\S)  |  \s+   — the three whitespace alternatives, starting on a space.
  std::size_t whitespace(std::size_t pos) const {
    std::size_t end = pos;
    std::size_t last_start = pos;
    std::size_t after_newline = kFail;
    while (end < n) {
      const Char c = at(end);
      if (c.cls != CharClass::kSpace) break;
      last_start = end;
      end += c.len;
      if (c.is_newline()) after_newline = end;
    }
    // Greedy \s* backs off to the last newline of the run.
    if (after_newline != kFail) return after_newline;
    if (end == n) return end;
    // \s+(?!\S) backs off one character so that the last space joins the next word.
    if (last_start > pos) return last_start;
    return end;
  }
};

// The body of o200k's first alternative after its prefix:
// [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ then an optional contraction.
std::size_t o200k_lower_word(const Text& t, std::size_t pos) {
  std::size_t p = pos;
  std::size_t after_last_lowerish = kFail;
  while (p < t.n) {
    const Char c = t.at(p);
    if (!c.in(kUpperish)) break;
    p += c.len;
    if (c.in(kLowerish)) after_last_lowerish = p;
  }
  if (p < t.n && t.at(p).cls == CharClass::kLower) {
    p = t.skip(p, kLowerish);
  } else if (after_last_lowerish != kFail) {
    // Backtracking: the upper run gives back its characters until one (an Lm, Lo or M) can be the
    // lower run; that run is then a single character, since the next one is not lower-ish.
    p = after_last_lowerish;
  } else {
    return kFail;
  }
  const std::size_t c = t.contraction(p);
  return c != kFail ? c : p;
}

// The body of o200k's second alternative after its prefix:
// [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]* then an optional contraction.
std::size_t o200k_upper_word(const Text& t, std::size_t pos) {
  std::size_t p = t.skip(pos, kUpperish);
  if (p == pos) return kFail;
  p = t.skip(p, kLowerish);
  const std::size_t c = t.contraction(p);
  return c != kFail ? c : p;
}

}  // namespace

std::size_t next_piece_cl100k(std::string_view text, std::size_t pos) {
  const Text t{reinterpret_cast<const unsigned char*>(text.data()), text.size()};
  const Char c = t.at(pos);
  // '(?i:[sdmt]|ll|ve|re)
  if (c.cp == '\'') {
    if (const std::size_t e = t.contraction(pos); e != kFail) return e;
  }
  // [^\r\n\p{L}\p{N}]?+\p{L}+
  if (c.in(kLetter)) return t.skip(pos + c.len, kLetter);
  if (c.is_word_prefix()) {
    const std::size_t q = pos + c.len;
    if (q < t.n && t.at(q).in(kLetter)) return t.skip(q, kLetter);
  }
  // \p{N}{1,3}
  if (c.cls == CharClass::kNumber) {
    std::size_t p = pos + c.len;
    for (int i = 1; i < 3 && p < t.n; ++i) {
      const Char d = t.at(p);
      if (d.cls != CharClass::kNumber) break;
      p += d.len;
    }
    return p;
  }
  // ' ?[^\s\p{L}\p{N}]++[\r\n]*'
  {
    const std::size_t q = c.cp == ' ' ? pos + 1 : pos;
    if (q < t.n && t.at(q).in(kPunct)) {
      std::size_t p = t.skip(q, kPunct);
      while (p < t.n && (t.s[p] == '\r' || t.s[p] == '\n')) ++p;
      return p;
    }
  }
  // Only White_Space is left.
  return t.whitespace(pos);
}

std::size_t next_piece_o200k(std::string_view text, std::size_t pos) {
  const Text t{reinterpret_cast<const unsigned char*>(text.data()), text.size()};
  const Char c = t.at(pos);
  // The two word alternatives, each tried with the optional prefix and then without it. Only a mark
  // can be both a prefix and the start of a word.
  if (c.in(kLetter)) {
    if (const std::size_t e = o200k_lower_word(t, pos); e != kFail) return e;
    return o200k_upper_word(t, pos);  // a letter that is not Ll is upper-ish: cannot fail
  }
  if (c.is_word_prefix()) {
    const std::size_t q = pos + c.len;
    const bool mark = c.cls == CharClass::kMark;
    if (q < t.n) {
      if (const std::size_t e = o200k_lower_word(t, q); e != kFail) return e;
    }
    if (mark) {
      if (const std::size_t e = o200k_lower_word(t, pos); e != kFail) return e;
    }
    if (q < t.n) {
      if (const std::size_t e = o200k_upper_word(t, q); e != kFail) return e;
    }
    if (mark) return o200k_upper_word(t, pos);  // a mark is upper-ish: cannot fail
  }
  // \p{N}{1,3}
  if (c.cls == CharClass::kNumber) {
    std::size_t p = pos + c.len;
    for (int i = 1; i < 3 && p < t.n; ++i) {
      const Char d = t.at(p);
      if (d.cls != CharClass::kNumber) break;
      p += d.len;
    }
    return p;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
  {
    const std::size_t q = c.cp == ' ' ? pos + 1 : pos;
    if (q < t.n && t.at(q).in(kPunct)) {
      std::size_t p = t.skip(q, kPunct);
      while (p < t.n && (t.s[p] == '\r' || t.s[p] == '\n' || t.s[p] == '/')) ++p;
      return p;
    }
  }
  // \s*[\r\n]+ | \s+(?!\S) | \s+
  return t.whitespace(pos);
}

}  // namespace sy::tokenize::detail

#pragma once
// UTF-8 decoding with the character classes of unicode_tables.hpp, shared by the pre-tokenisers and the
// estimate. Pure functions: thread-safe.
#include <array>
#include <cstddef>
#include <cstdint>

#include "tokenize/unicode_tables.hpp"

namespace sy::tokenize::detail {

using Mask = std::uint16_t;
inline constexpr Mask bit(CharClass c) { return static_cast<Mask>(1u << static_cast<unsigned>(c)); }

inline constexpr Mask kLetter = bit(CharClass::kUpper) | bit(CharClass::kLower) | bit(CharClass::kTitle) |
                                bit(CharClass::kModifier) | bit(CharClass::kOtherLetter);
// o200k's two letter classes: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}].
inline constexpr Mask kUpperish = bit(CharClass::kUpper) | bit(CharClass::kTitle) | bit(CharClass::kModifier) |
                                  bit(CharClass::kOtherLetter) | bit(CharClass::kMark);
inline constexpr Mask kLowerish = bit(CharClass::kLower) | bit(CharClass::kModifier) |
                                  bit(CharClass::kOtherLetter) | bit(CharClass::kMark);
// [^\s\p{L}\p{N}]
inline constexpr Mask kPunct = bit(CharClass::kOther) | bit(CharClass::kMark);

/// The code point reported for a byte that is not part of valid UTF-8.
inline constexpr char32_t kInvalid = 0x110000;

struct Char {
  char32_t cp;
  std::uint32_t len;
  CharClass cls;
  bool in(Mask m) const { return (bit(cls) & m) != 0; }
  bool is_newline() const { return cp == '\r' || cp == '\n'; }
  // [^\r\n\p{L}\p{N}]: the optional one-character prefix of a word.
  bool is_word_prefix() const { return !in(kLetter | bit(CharClass::kNumber)) && !is_newline(); }
};

inline bool is_cont(unsigned char b) { return (b & 0xC0) == 0x80; }

// ASCII classes without the two-stage lookup (a test checks them against the generated table).
inline constexpr std::array<CharClass, 128> kAsciiClass = [] {
  std::array<CharClass, 128> t{};
  for (int c = 0; c < 128; ++c) {
    if (c >= 'a' && c <= 'z') t[c] = CharClass::kLower;
    else if (c >= 'A' && c <= 'Z') t[c] = CharClass::kUpper;
    else if (c >= '0' && c <= '9') t[c] = CharClass::kNumber;
    else if (c == ' ' || (c >= '\t' && c <= '\r')) t[c] = CharClass::kSpace;
    else t[c] = CharClass::kOther;
  }
  return t;
}();

/// The slow path of `decode` (defined in pretokenize.cpp).
Char decode_multibyte(const unsigned char* s, std::size_t n, std::size_t pos);

// Decodes the character at `pos` (< n). Invalid or truncated sequences yield one byte of class kOther.
[[gnu::always_inline]] inline Char decode(const unsigned char* s, std::size_t n, std::size_t pos) {
  const unsigned char b0 = s[pos];
  if (b0 < 0x80) [[likely]] return {b0, 1, kAsciiClass[b0]};
  return decode_multibyte(s, n, pos);
}

}  // namespace sy::tokenize::detail

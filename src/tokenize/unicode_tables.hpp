#pragma once
// Character classes for the tiktoken pre-tokenisers, from a generated two-stage table
// (unicode_tables.cpp, made by gen_unicode_tables.mjs). Read-only data: thread-safe.
#include <cstdint>

namespace sy::tokenize::detail {

/// One class per code point. The letter/mark/number classes are Unicode general categories; kSpace is
/// the White_Space property (what `\s` means in the Rust regex crate that tiktoken uses).
enum class CharClass : std::uint8_t {
  kOther = 0,
  kUpper,        ///< Lu
  kLower,        ///< Ll
  kTitle,        ///< Lt
  kModifier,     ///< Lm
  kOtherLetter,  ///< Lo
  kMark,         ///< M (Mn, Mc, Me)
  kNumber,       ///< N (Nd, Nl, No)
  kSpace,        ///< White_Space
};

inline constexpr int kCharClassBlockBits = 7;
extern const char kUnicodeVersion[];
extern const std::uint16_t kCharClassStage1[0x110000 >> kCharClassBlockBits];
extern const std::uint8_t kCharClassStage2[];

inline CharClass char_class(char32_t cp) {
  if (cp >= 0x110000) return CharClass::kOther;
  const std::uint32_t block = kCharClassStage1[cp >> kCharClassBlockBits];
  return static_cast<CharClass>(
      kCharClassStage2[(block << kCharClassBlockBits) | (cp & ((1u << kCharClassBlockBits) - 1))]);
}

}  // namespace sy::tokenize::detail

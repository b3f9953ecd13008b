#include <array>
#include <cstdint>

#include "switchyard/tokenize/token_counter.hpp"
#include "tokenize/pretokenize.hpp"
#include "tokenize/utf8.hpp"

namespace sy::tokenize {
namespace {

using detail::CharClass;

// What a pre-tokenised piece is made of; the estimate prices each kind by its length.
enum PieceKind : std::uint8_t { kWordAscii, kWord2Byte, kWordWide, kNumber, kPunctAscii, kSpace, kSymbol, kKinds };

constexpr std::size_t kMaxLength = 16;

// Mean o200k_base tokens of a piece of each kind and length in code points, in 1/16 token, measured on
// ~80 samples of prose, Markdown, C++, JavaScript, JSON and ten languages (src/tokenize/README.md).
// Longer pieces scale the last column linearly.
constexpr std::array<std::array<std::uint16_t, kMaxLength + 1>, kKinds> kSixteenths{{
    {0, 16, 16, 16, 17, 17, 18, 18, 18, 20, 21, 22, 22, 22, 22, 22, 24},        // word, ASCII letters
    {0, 16, 16, 16, 18, 22, 22, 22, 23, 23, 38, 38, 38, 38, 43, 43, 43},        // word, 2-byte (Latin, Cyrillic..)
    {0, 16, 18, 18, 25, 25, 36, 42, 42, 42, 42, 67, 91, 116, 141, 165, 190},    // word, CJK, Indic, Hangul..
    {0, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16},        // digits (at most 3)
    {0, 16, 16, 17, 19, 24, 31, 34, 34, 64, 64, 64, 64, 64, 64, 64, 64},        // ASCII punctuation
    {0, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16},        // whitespace
    {0, 16, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256},  // emoji, other symbols
}};

// Classifies piece [b, e) and counts its code points.
std::uint32_t piece_sixteenths(const unsigned char* s, std::size_t n, std::size_t b, std::size_t e) {
  bool all_space = true, all_number = true, all_ascii = true, body_word = false;
  char32_t body_max = 0;
  std::size_t length = 0;
  for (std::size_t pos = b; pos < e; ++length) {
    const detail::Char c = detail::decode(s, n, pos);
    all_space &= c.cls == CharClass::kSpace;
    all_number &= c.cls == CharClass::kNumber;
    all_ascii &= c.cp < 0x80;
    // The body is the piece without the optional leading prefix character (a space, punctuation).
    const bool prefix = pos == b && !c.in(detail::kLetter | detail::bit(CharClass::kNumber) |
                                          detail::bit(CharClass::kMark));
    if (!prefix) {
      body_word |= c.in(detail::kLetter | detail::bit(CharClass::kMark));
      if (c.cp > body_max) body_max = c.cp;
    }
    pos += c.len;
  }
  PieceKind kind = kSymbol;
  if (all_space) kind = kSpace;
  else if (all_number) kind = kNumber;
  else if (body_word) kind = body_max < 0x80 ? kWordAscii : body_max < 0x800 ? kWord2Byte : kWordWide;
  else if (all_ascii) kind = kPunctAscii;
  const auto& row = kSixteenths[kind];
  if (length <= kMaxLength) return row[length];
  return static_cast<std::uint32_t>(row[kMaxLength] * length / kMaxLength);
}

}  // namespace

std::size_t estimate_tokens(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  std::size_t sixteenths = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t end = detail::next_piece_o200k(text, pos);
    sixteenths += piece_sixteenths(s, text.size(), pos, end);
    pos = end;
  }
  if (text.empty()) return 0;
  const std::size_t tokens = (sixteenths + 8) / 16;
  return tokens == 0 ? 1 : tokens;
}

}  // namespace sy::tokenize

// Piece boundaries of the hand-written scanners against what tiktoken's regexes produce (expected
// pieces taken from the regexes run in Node). Needs no rank file.
#include "tokenize/pretokenize.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "tokenize/unicode_tables.hpp"

namespace sy::tokenize::detail {
namespace {

using Pieces = std::vector<std::string>;

Pieces split(std::size_t (*next)(std::string_view, std::size_t), std::string_view text) {
  Pieces out;
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t end = next(text, pos);
    EXPECT_GT(end, pos);
    EXPECT_LE(end, text.size());
    if (end <= pos || end > text.size()) break;
    out.emplace_back(text.substr(pos, end - pos));
    pos = end;
  }
  return out;
}
Pieces cl100k(std::string_view text) { return split(&next_piece_cl100k, text); }
Pieces o200k(std::string_view text) { return split(&next_piece_o200k, text); }

TEST(UnicodeTablesTest, ClassifiesAsciiAndBeyond) {
  EXPECT_EQ(char_class('a'), CharClass::kLower);
  EXPECT_EQ(char_class('Q'), CharClass::kUpper);
  EXPECT_EQ(char_class('7'), CharClass::kNumber);
  EXPECT_EQ(char_class(' '), CharClass::kSpace);
  EXPECT_EQ(char_class('\n'), CharClass::kSpace);
  EXPECT_EQ(char_class('!'), CharClass::kOther);
  EXPECT_EQ(char_class(U'\u01C5'), CharClass::kTitle);        // Dž
  EXPECT_EQ(char_class(U'\u02B0'), CharClass::kModifier);     // ʰ
  EXPECT_EQ(char_class(U'\u4E2D'), CharClass::kOtherLetter);  // 中
  EXPECT_EQ(char_class(U'\u0301'), CharClass::kMark);         // combining acute
  EXPECT_EQ(char_class(U'\u0663'), CharClass::kNumber);       // Arabic-Indic three
  EXPECT_EQ(char_class(U'\u3000'), CharClass::kSpace);        // ideographic space
  EXPECT_EQ(char_class(U'\u0085'), CharClass::kSpace);        // NEL is White_Space (Rust's \s)
  EXPECT_EQ(char_class(U'\uFEFF'), CharClass::kOther);        // BOM is not
  EXPECT_EQ(char_class(U'\U0001F600'), CharClass::kOther);    // emoji
  EXPECT_EQ(char_class(0x10FFFF), CharClass::kOther);
}

TEST(PreTokenizeCl100kTest, SplitsContractionsOffWords) {
  EXPECT_EQ(cl100k("I'm HAPPY you're here!!\n\n  ok"),
            (Pieces{"I", "'m", " HAPPY", " you", "'re", " here", "!!\n\n", " ", " ok"}));
}

TEST(PreTokenizeCl100kTest, KeepsCamelCaseWordsWholeAndSplitsSlashes) {
  EXPECT_EQ(cl100k("getHTTPResponse  x\r\n\tfoo//bar/\n"),
            (Pieces{"getHTTPResponse", " ", " x", "\r\n", "\tfoo", "//", "bar", "/\n"}));
}

TEST(PreTokenizeCl100kTest, GroupsDigitsByThreeAndLeavesOneSpaceForTheNextWord) {
  EXPECT_EQ(cl100k("   12345 ab\u0301c"), (Pieces{"  ", " ", "123", "45", " ab", "\u0301c"}));
  EXPECT_EQ(cl100k("Hello\u02B0 \u0301 CAFE'S"), (Pieces{"Hello\u02B0", " \u0301", " CAFE", "'S"}));
}

TEST(PreTokenizeCl100kTest, TrailingWhitespaceIsOnePiece) {
  EXPECT_EQ(cl100k("a   "), (Pieces{"a", "   "}));
  EXPECT_EQ(cl100k("a \n \n b"), (Pieces{"a", " \n \n", " b"}));
}

TEST(PreTokenizeO200kTest, KeepsContractionsOnWords) {
  EXPECT_EQ(o200k("I'm HAPPY you're here!!\n\n  ok"),
            (Pieces{"I'm", " HAPPY", " you're", " here", "!!\n\n", " ", " ok"}));
}

TEST(PreTokenizeO200kTest, SplitsCamelCaseAtCaseChanges) {
  EXPECT_EQ(o200k("getHTTPResponse  x\r\n\tfoo//bar/\n"),
            (Pieces{"get", "HTTPResponse", " ", " x", "\r\n", "\tfoo", "//", "bar", "/\n"}));
}

TEST(PreTokenizeO200kTest, MarksAndModifiersBelongToTheWord) {
  EXPECT_EQ(o200k("   12345 ab\u0301c"), (Pieces{"  ", " ", "123", "45", " ab\u0301c"}));
  EXPECT_EQ(o200k("Hello\u02B0 \u0301 CAFE'S"), (Pieces{"Hello\u02B0", " \u0301", " CAFE'S"}));
}

TEST(PreTokenizeO200kTest, BacktracksUpperRunToALowerishCharacter) {
  // "\u0301ABC " : the mark alone is the lower run of the first alternative (regex backtracking).
  EXPECT_EQ(o200k("\u0301ABC "), (Pieces{"\u0301", "ABC", " "}));
}

TEST(PreTokenizeTest, InvalidUtf8IsTakenByteByByte) {
  const std::string bad = "ab\xFF\xFE cd\xC3";
  for (auto* next : {&next_piece_cl100k, &next_piece_o200k}) {
    EXPECT_EQ(split(next, bad), (Pieces{"ab", "\xFF\xFE", " cd", "\xC3"}));
  }
}

TEST(PreTokenizeTest, PiecesCoverTheWholeTextWithoutGaps) {
  const std::string text = "Mixed: 日本語テキスト, émoji 😀\u200d, tabs\t\tand\r\nCRLF 1,234.5 'tis";
  for (auto* next : {&next_piece_cl100k, &next_piece_o200k}) {
    std::string joined;
    for (const std::string& p : split(next, text)) joined += p;
    EXPECT_EQ(joined, text);
  }
}

}  // namespace
}  // namespace sy::tokenize::detail

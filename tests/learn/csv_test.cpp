#include "switchyard/learn/csv.hpp"

#include <gtest/gtest.h>

namespace sy::learn {
namespace {

TEST(CsvTest, ParsesQuotedFieldsWithCommasQuotesAndLineBreaks) {
  const std::string text =
      "prompt,a,b\n"
      "\"Line one,\nline \"\"two\"\"\r\nline three\",True,False\r\n"
      "plain,1,0\n";
  auto rows = parse_csv(text);
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ((*rows)[0], (CsvRow{"prompt", "a", "b"}));
  EXPECT_EQ((*rows)[1][0], "Line one,\nline \"two\"\r\nline three");
  EXPECT_EQ((*rows)[1][1], "True");
  EXPECT_EQ((*rows)[2], (CsvRow{"plain", "1", "0"}));
}

TEST(CsvTest, KeepsEmptyFieldsAndIgnoresTrailingNewlineAndBom) {
  auto rows = parse_csv("\xEF\xBB\xBFx,,\"\"\n\n");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0], (CsvRow{"x", "", ""}));
}

TEST(CsvTest, LastRecordWithoutNewline) {
  auto rows = parse_csv("a,b\n\"c\nd\",e");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[1], (CsvRow{"c\nd", "e"}));
}

TEST(CsvTest, RejectsUnterminatedQuoteWithLineNumber) {
  auto rows = parse_csv("a,b\n1,\"open\nstill open");
  ASSERT_FALSE(rows.ok());
  EXPECT_NE(rows.error().message.find("line 2"), std::string::npos) << rows.error().message;
}

TEST(CsvTest, RejectsTextAfterClosingQuote) {
  EXPECT_FALSE(parse_csv("\"a\"b,c\n").ok());
}

}  // namespace
}  // namespace sy::learn

#include "switchyard/core/json_scan.hpp"

#include <gtest/gtest.h>

namespace sy::json {
namespace {

TEST(JsonScanTest, FindsTopLevelFieldsWithRawValues) {
  auto r = scan_object(R"({"model": "gpt-4o", "messages":[{"role":"user","content":"hi"}], "stream":true, "n":1.5e3})");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->fields.size(), 4u);
  EXPECT_EQ(r->find("model")->value, "\"gpt-4o\"");
  EXPECT_EQ(r->find("model")->type, Type::string);
  EXPECT_EQ(r->find("messages")->type, Type::array);
  EXPECT_EQ(r->find("stream")->value, "true");
  EXPECT_EQ(r->find("n")->type, Type::number);
  EXPECT_EQ(r->find("missing"), nullptr);
}

TEST(JsonScanTest, RejectsMalformedDocumentsWithOffset) {
  for (const char* bad : {"", "[]", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\":tru}", "{\"a\":\"\x01\"}", "{\"a\":1} x",
                          "{\"a\":01}", "{\"a\":\"\\x\"}", "{'a':1}", "{\"a\":-}", "{\"a\":1.}"}) {
    auto r = scan_object(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().kind, ErrorKind::bad_request);
    }
  }
}

TEST(JsonScanTest, FindsStringEndsEscapesAndControlCharactersAtEveryOffset) {
  // The string scan skips 8 bytes at a time and jumps to the first special byte: check each position.
  for (size_t at = 0; at < 20; ++at) {
    std::string plain(at, 'x');
    std::string doc = "{\"k\":\"" + plain + "\",\"n\":1}";
    auto ok = scan_object(doc);
    ASSERT_TRUE(ok.ok()) << at;
    ASSERT_NE(ok->find("k"), nullptr);
    EXPECT_EQ(ok->find("k")->value, "\"" + plain + "\"");
    EXPECT_EQ(ok->find("n")->value, "1");
    std::string with_escapes = "{\"k\":\"" + plain + "\\\"\\u00e9" + plain + "\"}";
    auto escaped = scan_object(with_escapes);
    ASSERT_TRUE(escaped.ok()) << at;
    ASSERT_NE(escaped->find("k"), nullptr);
    EXPECT_EQ(escaped->find("k")->value.size(), 2 * at + 10);
    EXPECT_FALSE(scan_object("{\"k\":\"" + plain + "\x1f" + plain + "\"}").ok()) << at;
    EXPECT_FALSE(scan_object("{\"k\":\"" + plain + "\\x" + plain + "\"}").ok()) << at;
    EXPECT_FALSE(scan_object("{\"k\":\"" + plain).ok()) << at;
  }
}

TEST(JsonScanTest, LimitsNestingDepth) {
  std::string deep = "{\"a\":" + std::string(1000, '[') + std::string(1000, ']') + "}";
  auto r = scan_object(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("nesting too deep"), std::string::npos);
}

TEST(JsonScanTest, DepthLimitIsConfigurableAndNamedInTheError) {
  auto nested = [](int levels) { return "{\"a\":" + std::string(levels, '[') + std::string(levels, ']') + "}"; };
  // The root object is level 1: 127 arrays inside it fit the default 128.
  EXPECT_TRUE(scan_object(nested(Limits::kDefaultMaxDepth - 1)).ok());
  auto r = scan_object(nested(Limits::kDefaultMaxDepth));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "json_too_deep");
  EXPECT_NE(r.error().message.find("server.max_json_depth"), std::string::npos);
  EXPECT_TRUE(scan_object(nested(9), Limits{10, 1 << 20}).ok());
  EXPECT_FALSE(scan_object(nested(10), Limits{10, 1 << 20}).ok());
  // A million levels are refused without recursing a million times.
  EXPECT_EQ(validate(std::string(1'000'000, '[')).error().code, "json_too_deep");
  EXPECT_EQ(validate(std::string(1'000'000, '{')).error().code, "invalid_json");
  std::string objects;
  for (int i = 0; i < 100'000; ++i) objects += "{\"a\":";
  EXPECT_EQ(validate(objects).error().code, "json_too_deep");
}

TEST(JsonScanTest, SizeLimitIsCheckedBeforeScanning) {
  std::string doc = "{\"a\":\"" + std::string(2000, 'x') + "\"}";
  EXPECT_TRUE(scan_object(doc, Limits{8, 4096}).ok());
  auto r = scan_object(doc, Limits{8, 1024});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "json_too_large");
  EXPECT_EQ(scan_array("[1]", Limits{8, 2}).error().code, "json_too_large");
}

TEST(JsonScanTest, KeysAreComparedAfterUnescaping) {
  auto r = scan_object(R"({"mod\u0065l":"m","n":1})");
  ASSERT_TRUE(r.ok());
  ASSERT_NE(r->find("model"), nullptr);
  EXPECT_EQ(r->find("model")->value, "\"m\"");
  EXPECT_EQ(r->find("model")->raw_key, "mod\\u0065l");
  // The decoded keys survive a move of the Object.
  Object moved = std::move(*r);
  EXPECT_EQ(moved.find("model")->key, "model");
}

TEST(JsonScanTest, RepeatedKeysAreRejectedAtEveryLevel) {
  for (const char* bad : {R"({"model":"a","mod\u0065l":"b"})", R"({"a":1,"a":2})",
                          R"({"m":[{"content":"x","cont\u0065nt":"y"}]})", R"([{"k":1,"\u006b":2}])",
                          R"({"o":{"x":{"y":1,"y":2}}})"}) {
    auto r = validate(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "duplicate_key") << bad;
  }
  auto top = scan_object(R"({"model":"a","mod\u0065l":"b"})");
  ASSERT_FALSE(top.ok());
  EXPECT_NE(top.error().message.find("'model'"), std::string::npos);
  // Large objects switch to a sort at their end; a duplicate far apart is still found.
  std::string wide = "{";
  for (int i = 0; i < 1000; ++i) wide += "\"k" + std::to_string(i) + "\":1,";
  EXPECT_TRUE(validate(wide + "\"last\":1}").ok());
  EXPECT_EQ(validate(wide + "\"k\\u0030\":1}").error().code, "duplicate_key");
  // Same keys in sibling objects are fine.
  EXPECT_TRUE(validate(R"([{"a":1},{"a":2},{"b":{"a":3}}])").ok());
}

TEST(JsonScanTest, StringsMustBeValidUtf8) {
  for (const char* good : {"\"caf\xc3\xa9\"", "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"", "\"\\ud83d\\ude00\"", "\"\\u0000\""}) {
    EXPECT_TRUE(validate(good).ok()) << good;
  }
  for (const char* bad : {"\"\xff\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
                          "\"\xe2\x82\"", "\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83dx\"", "\"\\ud83d\\u0041\""}) {
    auto r = validate(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, "invalid_utf8") << bad;
  }
  // Non-ASCII bytes at every offset of the 8-byte fast path.
  for (size_t at = 0; at < 20; ++at) {
    std::string plain(at, 'x');
    EXPECT_TRUE(validate("\"" + plain + "\xc3\xa9" + plain + "\"").ok()) << at;
    EXPECT_FALSE(validate("\"" + plain + "\xc3" + plain + "\"").ok()) << at;
  }
}

TEST(JsonScanTest, NumbersOutsideInt64AreNotIntegers) {
  // Found by fuzzing: casting 1e20 to int64 was undefined behaviour.
  EXPECT_FALSE(integer_value("1e20").has_value());
  EXPECT_FALSE(integer_value("92233723685477580760").has_value());
  EXPECT_FALSE(integer_value("-1e300").has_value());
  EXPECT_EQ(integer_value("1e3"), std::optional<std::int64_t>(1000));
  EXPECT_FALSE(integer_value("1.5").has_value());
}

TEST(JsonScanTest, StringValueDecodesOnlyWhatTheGuardAccepts) {
  // Found by fuzzing: string_value accepted tokens validate refuses and returned invalid UTF-8.
  for (const char* bad : {"\"\\uZZZZ\"", "\"\\ud800\"", "\"\xff\"", "\"a\x01\"", "\"a\"b\""}) {
    EXPECT_FALSE(string_value(bad).has_value()) << bad;
  }
  EXPECT_EQ(string_value("\"caf\xc3\xa9\""), std::optional<std::string>("caf\xc3\xa9"));
}

TEST(JsonScanTest, SpliceUsesRawKeyPositions) {
  std::string body = R"({"mod\u0065l":"a","x":1})";
  auto r = scan_object(body);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(splice(body, *r, {{"model", std::string("\"b\"")}}), R"({"mod\u0065l":"b","x":1})");
  EXPECT_EQ(splice(body, *r, {{"model", std::nullopt}}), R"({"x":1})");
}

TEST(JsonScanTest, DecodesStringsWithEscapesAndSurrogates) {
  EXPECT_EQ(string_value(R"("a\"b\\c\/d\n")"), std::optional<std::string>("a\"b\\c/d\n"));
  EXPECT_EQ(string_value(R"("\u00e9\ud83d\ude00")"), std::optional<std::string>("\xc3\xa9\xf0\x9f\x98\x80"));
  EXPECT_FALSE(string_value("abc").has_value());
}

TEST(JsonScanTest, QuoteAlwaysEmitsValidUtf8) {
  EXPECT_EQ(quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(quote("a\xff" "b\xc3"), "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"");
  EXPECT_TRUE(validate(quote("\xed\xa0\x80 \xf4\x90\x80\x80")).ok());
}

TEST(JsonScanTest, QuoteRoundTrips) {
  std::string s = "line\n\"quoted\"\t\x01 end";
  EXPECT_EQ(string_value(quote(s)), std::optional<std::string>(s));
}

TEST(JsonScanTest, SpliceReplacesOnlyTheEditedValue) {
  std::string body = R"({"model":"auto", "messages":[], "x":{"y":1}})";
  auto r = scan_object(body);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(splice(body, *r, {{"model", quote("gpt-4o-mini")}}), R"({"model":"gpt-4o-mini", "messages":[], "x":{"y":1}})");
}

TEST(JsonScanTest, SpliceRemovesMembersAndTheirCommas) {
  std::string body = R"({"a":1,"b":2,"c":3})";
  auto r = scan_object(body);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(splice(body, *r, {{"a", std::nullopt}}), R"({"b":2,"c":3})");
  EXPECT_EQ(splice(body, *r, {{"c", std::nullopt}}), R"({"a":1,"b":2})");
  EXPECT_EQ(splice(body, *r, {{"b", std::nullopt}}), R"({"a":1,"c":3})");
  EXPECT_EQ(splice(body, *r, {{"a", std::nullopt}, {"b", std::nullopt}}), R"({"c":3})");
  EXPECT_EQ(splice(body, *r, {{"b", std::nullopt}, {"c", std::nullopt}}), R"({"a":1})");
  EXPECT_EQ(splice(body, *r, {{"a", std::nullopt}, {"b", std::nullopt}, {"c", std::nullopt}}), R"({})");
}

TEST(JsonScanTest, SpliceAppendsAbsentMembers) {
  std::string body = R"({"a":1})";
  auto r = scan_object(body);
  ASSERT_TRUE(r.ok());
  std::string out = splice(body, *r, {{"stream_options", std::string(R"({"include_usage":true})")}});
  EXPECT_EQ(out, R"({"a":1,"stream_options":{"include_usage":true}})");
  auto empty = scan_object("{}");
  EXPECT_EQ(splice("{}", *empty, {{"a", std::string("1")}}), R"({"a":1})");
  EXPECT_TRUE(validate(out).ok());
}

TEST(JsonScanTest, SpliceBorrowingWritesTheSameBytesAndBorrowsTheUntouchedRuns) {
  const std::string body = R"({"model":"auto", "messages":[{"role":"user","content":"hi"}], "n":2, "x":{"y":1}})";
  auto r = scan_object(body);
  ASSERT_TRUE(r.ok());
  const std::vector<std::vector<Edit>> cases = {
      {},
      {{"model", quote("gpt-4o-mini")}},
      {{"model", quote("m")}, {"n", std::nullopt}},
      {{"x", std::nullopt}, {"stream_options", std::string(R"({"include_usage":true})")}},
      {{"model", std::nullopt}, {"messages", std::nullopt}, {"n", std::nullopt}, {"x", std::nullopt}},
  };
  for (const auto& edits : cases) EXPECT_EQ(splice_borrowing(body, *r, edits).str(), splice(body, *r, edits));
  // Replacing the model: the client's bytes before and after it are two borrowed pieces, not copies.
  Payload p = splice_borrowing(body, *r, {{"model", quote("gpt-4o-mini")}});
  ASSERT_EQ(p.piece_count(), 3u);
  EXPECT_EQ(p.piece(0).data(), body.data());
  EXPECT_EQ(p.piece(1), R"("gpt-4o-mini")");
  EXPECT_EQ(p.piece(2).data(), body.data() + body.find(", \"messages\""));
  EXPECT_EQ(p.size(), splice(body, *r, {{"model", quote("gpt-4o-mini")}}).size());
}

TEST(JsonScanTest, PayloadKeepsItsOwnTextAcrossCopiesAndMoves) {
  const std::string outside = "abc";
  Payload p;
  p.borrow(outside);
  p.append("de");
  p.append("f");  // merged with the previous own piece
  p.borrow(std::string_view(outside).substr(0, 1));
  EXPECT_EQ(p.piece_count(), 3u);
  Payload copy = p;
  Payload moved = std::move(p);
  EXPECT_EQ(copy.str(), "abcdefa");
  EXPECT_EQ(moved.str(), "abcdefa");
  EXPECT_EQ(Payload(std::string("x")).str(), "x");
  EXPECT_TRUE(Payload().empty());
}

TEST(JsonScanTest, ScanObjectRecordsTheElementsOfTheExpandedArrayInTheSamePass) {
  const std::string body = R"({"a":{"messages":[1]}, "messages":[{"x":1}, "s", [2]], "b":[3]})";
  auto r = scan_object(body, {}, "messages");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->elements.size(), 3u);  // the top-level member only, not the nested one
  EXPECT_EQ(r->elements[0].value, R"({"x":1})");
  EXPECT_EQ(r->elements[0].type, Type::object);
  EXPECT_EQ(r->elements[1].type, Type::string);
  EXPECT_EQ(r->elements[2].value, "[2]");
  EXPECT_EQ(r->find("messages")->value, R"([{"x":1}, "s", [2]])");
  EXPECT_EQ(r->find("messages")->type, Type::array);
  // Not an array: nothing recorded; without `expand`, nothing either.
  EXPECT_TRUE(scan_object(R"({"messages":"m"})", {}, "messages")->elements.empty());
  EXPECT_TRUE(scan_object(body)->elements.empty());
  // Errors inside the expanded array are the document's errors.
  EXPECT_FALSE(scan_object(R"({"messages":[1,]})", {}, "messages").ok());
  Limits shallow;
  shallow.max_depth = 2;
  EXPECT_FALSE(scan_object(R"({"messages":[[1]]})", shallow, "messages").ok());
  EXPECT_TRUE(scan_object(R"({"messages":[1]})", shallow, "messages").ok());
}

TEST(JsonScanTest, ParsesNumbers) {
  EXPECT_EQ(integer_value("42"), std::optional<std::int64_t>(42));
  EXPECT_EQ(integer_value("1e3"), std::optional<std::int64_t>(1000));
  EXPECT_FALSE(integer_value("1.5").has_value());
  EXPECT_DOUBLE_EQ(*number_value("-0.25"), -0.25);
}

}  // namespace
}  // namespace sy::json

#include "providers/bedrock/event_stream.hpp"

#include <gtest/gtest.h>

namespace sy::providers::eventstream {
namespace {

Message event(std::string type, std::string payload) {
  return Message{{{":event-type", std::move(type)}, {":content-type", "application/json"}, {":message-type", "event"}},
                 std::move(payload)};
}

TEST(EventStreamTest, Crc32MatchesTheStandardCheckValue) {
  EXPECT_EQ(crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(crc32(""), 0u);
  EXPECT_EQ(crc32("56789", crc32("1234")), 0xCBF43926u);  // continues across pieces
}

TEST(EventStreamTest, EncodesThePreludeAndBothCrcs) {
  std::string bytes = encode(Message{{}, "{}"});
  ASSERT_EQ(bytes.size(), 18u);  // 12 prelude + 2 payload + 4 CRC
  EXPECT_EQ(bytes.substr(0, 8), std::string("\0\0\0\x12\0\0\0\0", 8));
}

TEST(EventStreamTest, DecodesMessagesSplitAnywhere) {
  std::string bytes = encode(event("messageStart", R"({"role":"assistant"})")) +
                      encode(event("contentBlockDelta", R"({"contentBlockIndex":0,"delta":{"text":"Hi"}})"));
  for (size_t step : {size_t{1}, size_t{5}, bytes.size()}) {
    Decoder d;
    std::vector<Message> out;
    for (size_t at = 0; at < bytes.size(); at += step) ASSERT_TRUE(d.feed(std::string_view(bytes).substr(at, step), out).ok());
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].header(":event-type"), "messageStart");
    EXPECT_EQ(out[1].payload, R"({"contentBlockIndex":0,"delta":{"text":"Hi"}})");
    EXPECT_FALSE(d.has_partial());
  }
}

TEST(EventStreamTest, RejectsACorruptPrelude) {
  std::string bytes = encode(event("messageStart", "{}"));
  bytes[3] = static_cast<char>(bytes[3] + 1);
  Decoder d;
  std::vector<Message> out;
  auto st = d.feed(bytes, out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("prelude CRC"), std::string::npos);
  EXPECT_FALSE(d.feed("", out).ok());  // stays failed
}

TEST(EventStreamTest, RejectsACorruptPayload) {
  std::string bytes = encode(event("messageStart", R"({"role":"assistant"})"));
  bytes[bytes.size() - 6] ^= 0x20;
  Decoder d;
  std::vector<Message> out;
  auto st = d.feed(bytes, out);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("message CRC"), std::string::npos);
  EXPECT_TRUE(out.empty());
}

TEST(EventStreamTest, SkipsHeadersOfOtherTypes) {
  // Hand-built headers: a bool, an int32, a timestamp, a uuid, then a string.
  std::string headers;
  auto name = [&](std::string_view n, char type) {
    headers.push_back(static_cast<char>(n.size()));
    headers.append(n);
    headers.push_back(type);
  };
  name("flag", 0);
  name("count", 4);
  headers.append(std::string("\0\0\0\x2a", 4));
  name("when", 8);
  headers.append(std::string(8, '\1'));
  name("id", 9);
  headers.append(std::string(16, '\2'));
  name(":event-type", 7);
  headers.append(std::string("\0\x08metadata", 10));
  std::string payload = "{}";
  std::string msg;
  auto put = [&](std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) msg.push_back(static_cast<char>((v >> s) & 0xFF));
  };
  put(static_cast<std::uint32_t>(16 + headers.size() + payload.size()));
  put(static_cast<std::uint32_t>(headers.size()));
  put(crc32(msg));
  msg += headers + payload;
  put(crc32(msg));
  Decoder d;
  std::vector<Message> out;
  ASSERT_TRUE(d.feed(msg, out).ok());
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(out[0].headers.size(), 1u);
  EXPECT_EQ(out[0].header(":event-type"), "metadata");
}

TEST(EventStreamTest, RejectsImpossibleLengths) {
  std::string msg;
  auto put = [&](std::uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) msg.push_back(static_cast<char>((v >> s) & 0xFF));
  };
  put(Decoder::kMaxMessage + 1);
  put(0);
  put(crc32(msg));
  Decoder d;
  std::vector<Message> out;
  EXPECT_FALSE(d.feed(msg, out).ok());
}

}  // namespace
}  // namespace sy::providers::eventstream

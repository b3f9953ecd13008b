#include "switchyard/core/sha256.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <string>
#include <thread>
#include <vector>

namespace sy {
namespace {

constexpr const char* kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* kAbc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

TEST(Sha256Test, KnownVectors) {
  EXPECT_EQ(sha256_hex(""), kEmpty);
  EXPECT_EQ(sha256_hex("abc"), kAbc);
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  // Embedded NULs are data, not terminators.
  EXPECT_NE(sha256_hex(std::string("a\0b", 3)), sha256_hex("a"));
}

TEST(Sha256Test, ToHexIsLowerCaseTwoDigitsPerByte) {
  Sha256 d{};
  d[0] = 0x00;
  d[1] = 0x0f;
  d[2] = 0xf0;
  d[3] = 0xab;
  d[31] = 0xff;
  std::string hex = to_hex(d);
  ASSERT_EQ(hex.size(), 64u);
  EXPECT_EQ(hex.substr(0, 8), "000ff0ab");
  EXPECT_EQ(hex.substr(62), "ff");
  EXPECT_EQ(to_hex(sha256("abc")), kAbc);
}

TEST(Sha256Test, ParsesHexOfEitherCase) {
  Sha256 lower{}, upper{}, mixed{};
  ASSERT_TRUE(parse_sha256_hex(kAbc, lower));
  EXPECT_EQ(lower, sha256("abc"));
  std::string up = kAbc;
  for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  ASSERT_TRUE(parse_sha256_hex(up, upper));
  EXPECT_EQ(upper, lower);
  std::string mix = kAbc;
  for (size_t i = 0; i < mix.size(); i += 2) mix[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(mix[i])));
  ASSERT_TRUE(parse_sha256_hex(mix, mixed));
  EXPECT_EQ(mixed, lower);
  // Round trip.
  Sha256 rt{};
  ASSERT_TRUE(parse_sha256_hex(to_hex(sha256("round trip")), rt));
  EXPECT_EQ(rt, sha256("round trip"));
}

TEST(Sha256Test, RejectsWrongLengthAndNonHex) {
  Sha256 out{};
  std::string good = kAbc;
  EXPECT_FALSE(parse_sha256_hex("", out));
  EXPECT_FALSE(parse_sha256_hex(good.substr(0, 63), out));
  EXPECT_FALSE(parse_sha256_hex(good + "0", out));
  EXPECT_FALSE(parse_sha256_hex(good.substr(0, 62), out));
  for (char bad : {'g', 'G', 'x', ' ', '-', '\0', ':', '/', '@', '`'}) {
    std::string s = good;
    s[10] = bad;
    EXPECT_FALSE(parse_sha256_hex(s, out)) << "char " << static_cast<int>(bad);
    s = good;
    s[63] = bad;  // the last nibble too
    EXPECT_FALSE(parse_sha256_hex(s, out)) << "char " << static_cast<int>(bad);
  }
  EXPECT_FALSE(parse_sha256_hex("0x" + good.substr(2), out));
}

TEST(Sha256Test, DigestEqual) {
  Sha256 a = sha256("abc"), b = sha256("abc");
  EXPECT_TRUE(digest_equal(a, b));
  EXPECT_FALSE(digest_equal(a, sha256("abd")));
  Sha256 c = a;
  c[31] ^= 1;  // differs in the last byte only
  EXPECT_FALSE(digest_equal(a, c));
  c = a;
  c[0] ^= 0x80;  // first byte only
  EXPECT_FALSE(digest_equal(a, c));
  EXPECT_TRUE(digest_equal(Sha256{}, Sha256{}));
}

TEST(Sha256Test, TwoThreadsHashingConcurrentlyGetTheRightDigests) {
  const Sha256 want_abc = sha256("abc"), want_empty = sha256("");
  const std::string big(10'000, 'z');
  const Sha256 want_big = sha256(big);
  std::vector<int> bad(2, 0);
  auto work = [&](int t) {
    for (int i = 0; i < 20'000; ++i) {
      if (sha256(t ? "abc" : "") != (t ? want_abc : want_empty)) ++bad[static_cast<size_t>(t)];
      if (i % 100 == 0 && sha256(big) != want_big) ++bad[static_cast<size_t>(t)];
    }
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  EXPECT_EQ(bad[0], 0);
  EXPECT_EQ(bad[1], 0);
}

}  // namespace
}  // namespace sy

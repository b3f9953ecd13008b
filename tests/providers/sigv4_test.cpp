// AWS Signature V4 against AWS's published test suite (tests/testdata/sigv4/<case>/<case>.{req,creq,sts,authz}).
#include "providers/bedrock/sigv4.hpp"

#include "providers/golden.hpp"
#include "switchyard/core/sha256.hpp"

namespace sy::providers {
namespace {

struct ParsedRequest {
  std::string method, target, body;
  Headers headers;
};

// "METHOD target HTTP/1.1", header lines "Name:value", a blank line, the body.
ParsedRequest parse_req(const std::string& text) {
  ParsedRequest r;
  size_t eol = text.find('\n');
  std::string first = text.substr(0, eol);
  r.method = first.substr(0, first.find(' '));
  r.target = first.substr(r.method.size() + 1, first.rfind(" HTTP/") - r.method.size() - 1);
  size_t p = eol == std::string::npos ? text.size() : eol + 1;
  while (p < text.size()) {
    size_t e = text.find('\n', p);
    std::string line = text.substr(p, e == std::string::npos ? std::string::npos : e - p);
    p = e == std::string::npos ? text.size() : e + 1;
    if (line.empty()) {
      r.body = text.substr(p);
      break;
    }
    size_t colon = line.find(':');
    r.headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
  }
  return r;
}

TEST(SigV4Test, MatchesEveryPublishedTestVector) {
  const sigv4::Credentials creds{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
  size_t count = 0;
  for (const auto& dir : std::filesystem::directory_iterator(golden::testdata("sigv4"))) {
    if (!dir.is_directory()) continue;
    std::string name = dir.path().filename().string();
    SCOPED_TRACE(name);
    auto file = [&](const char* ext) { return golden::read_file(dir.path() / (name + ext)); };
    ParsedRequest r = parse_req(file(".req"));
    auto sig = sigv4::sign(r.method, r.target, r.headers, sha256_hex(r.body), creds, "us-east-1", "service");
    EXPECT_EQ(sig.canonical_request, file(".creq"));
    EXPECT_EQ(sig.string_to_sign, file(".sts"));
    EXPECT_EQ(sig.authorization, file(".authz"));
    ++count;
  }
  EXPECT_GE(count, 20u);
}

TEST(SigV4Test, FormatsTheAmzDateInUtc) {
  EXPECT_EQ(sigv4::amz_date(std::chrono::system_clock::time_point(std::chrono::seconds(1440938160))), "20150830T123600Z");
}

TEST(SigV4Test, EncodesModelIdsTwiceInTheCanonicalPath) {
  // Bedrock paths carry the model id percent-encoded once; the canonical URI encodes it again.
  Headers h{{"host", "bedrock-runtime.us-east-1.amazonaws.com"}, {"x-amz-date", "20240501T120000Z"}};
  auto sig = sigv4::sign("POST", "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse", h,
                         sha256_hex("{}"), {"AKID", "SECRET", ""}, "us-east-1", "bedrock");
  EXPECT_NE(sig.canonical_request.find("\n/model/anthropic.claude-3-5-sonnet-20240620-v1%253A0/converse\n"), std::string::npos)
      << sig.canonical_request;
}

TEST(SigV4Test, HashesLikeSha256) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace sy::providers

#include "switchyard/core/request.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace sy {
namespace {

TEST(RequestTest, ParsesChatRequestFields) {
  auto r = Request::parse(Endpoint::chat, R"({"model":"auto","messages":[{"role":"system","content":"be brief"},
    {"role":"user","content":[{"type":"text","text":"hello"},{"type":"image_url","image_url":{"url":"x"}}]}],
    "stream":true,"stream_options":{"include_usage":true},"max_tokens":64,"tools":[{"type":"function"}],
    "response_format":{"type":"json_object"},"switchyard":{"router":"x"}})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Request& q = **r;
  EXPECT_EQ(q.model(), "auto");
  EXPECT_TRUE(q.stream());
  EXPECT_TRUE(q.client_wants_usage());
  EXPECT_EQ(q.max_tokens(), std::optional<std::int64_t>(64));
  EXPECT_TRUE(q.has_tools());
  EXPECT_EQ(q.response_format(), "json_object");
  EXPECT_EQ(q.last_user_text(), "hello");
  EXPECT_TRUE(q.has_images());
  EXPECT_EQ(q.messages().size(), 2u);
  EXPECT_EQ(q.all_text(), "be brief\nhello");
}

TEST(RequestTest, AHugeMaxTokensIsCountedBoundedAndForwardedAsSent) {
  // Regression: an int64-max max_tokens once overflowed the token reservation (prompt + max_tokens),
  // turning it negative: a deployment's tpm window and learned headroom were corrupted for a minute.
  const std::string body =
      R"({"model":"m","max_tokens":9223372036854775807,"messages":[{"role":"user","content":"hi"}]})";
  auto r = Request::parse(Endpoint::chat, body);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->max_tokens(), std::optional<std::int64_t>(kMaxTokensCounted));
  EXPECT_NE((*r)->forward_body("up").str().find("9223372036854775807"), std::string::npos);
}

TEST(RequestTest, ForwardBodyRewritesModelAndStripsExtension) {
  auto r = Request::parse(Endpoint::chat, R"({"model":"auto","messages":[{"role":"user","content":"hi"}],"switchyard":{"router":"x"},"unknown_field":[1,2]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->forward_body("gpt-4o-mini").str(),
            R"({"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"unknown_field":[1,2]})");
}

TEST(RequestTest, NamesTheMissingOrIllTypedField) {
  auto missing_model = Request::parse(Endpoint::chat, R"({"messages":[]})");
  ASSERT_FALSE(missing_model.ok());
  EXPECT_EQ(missing_model.error().param, "model");
  auto bad_model = Request::parse(Endpoint::chat, R"({"model":5,"messages":[]})");
  ASSERT_FALSE(bad_model.ok());
  EXPECT_EQ(bad_model.error().param, "model");
  auto missing_messages = Request::parse(Endpoint::chat, R"({"model":"x"})");
  ASSERT_FALSE(missing_messages.ok());
  EXPECT_EQ(missing_messages.error().param, "messages");
  auto bad_messages = Request::parse(Endpoint::chat, R"({"model":"x","messages":"hi"})");
  ASSERT_FALSE(bad_messages.ok());
  EXPECT_EQ(bad_messages.error().param, "messages");
  auto bad_stream = Request::parse(Endpoint::chat, R"({"model":"x","messages":[{"role":"user","content":"a"}],"stream":"yes"})");
  ASSERT_FALSE(bad_stream.ok());
  EXPECT_EQ(bad_stream.error().param, "stream");
  auto bad_input = Request::parse(Endpoint::embeddings, R"({"model":"x","input":3})");
  ASSERT_FALSE(bad_input.ok());
  EXPECT_EQ(bad_input.error().param, "input");
}

TEST(RequestTest, MessageTextsSkipOtherMembersAndDecodeEscapes) {
  // The message objects are read by skipping bytes (the body was validated): strings holding quotes,
  // braces and brackets, nested values with their own "role", escaped keys and texts, scalars of
  // every kind, and keys that only start like "role" must not confuse it.
  auto r = Request::parse(Endpoint::chat, R"({"model":"m","messages":[
    {"name":"a \"quoted\" {brace} [x] \\","content":"first","role":"system","extra":{"k":[1,{"role":"user"}],"s":"}"}},
    { "r\u006fle" : "user" , "n":12.5e3 , "t":true, "z":null, "content" : "line\nnext \u00e9 \"q\"" },
    {"role":"assistant","content":[{"type":"text","text":"part1"},{"type":"te\u0078t","text":"part2"},{"type":"image_url","image_url":{"url":"u"}}]},
    {"content":null,"role":"user","roles":"x"},
    {"role":5,"content":["a","b"]},
    {"contents":"no","role":"tool"}]})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& m = (*r)->messages();
  ASSERT_EQ(m.size(), 6u);
  const std::vector<std::pair<std::string, std::string>> want = {
      {"system", "first"}, {"user", "line\nnext \u00e9 \"q\""}, {"assistant", "part1\npart2"}, {"user", ""}, {"", "a\nb"}, {"tool", ""}};
  for (std::size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(m[i].role, want[i].first) << i;
    EXPECT_EQ(m[i].text, want[i].second) << i;
    EXPECT_EQ(m[i].has_image, i == 2) << i;
  }
  EXPECT_EQ((*r)->last_user_text(), "");
  EXPECT_EQ((*r)->all_text(), "first\nline\nnext \u00e9 \"q\"\npart1\npart2\n\na\nb\n");
}

TEST(RequestTest, MessageTextsMatchAFullScanOfRandomMessages) {
  // compute_texts skips through the validated message objects; json::scan_object reads them fully.
  // Both must find the same role and string content in random objects.
  std::mt19937 rng(11);
  const std::vector<std::string> strings = {R"("")", R"("a")", R"("user")", R"("x\"y")", R"("\\")", R"("\\\"")",
                                            R"("{[")", R"("]}")", R"("\u0041\n")", R"("caf\u00e9")", R"(",:")",
                                            R"("a longer value, past the first bytes: \"quoted\" {x} \\\" and \\")",
                                            R"("0123456789012345678901\\\\\"456789 \\")"};
  const std::vector<std::string> keys = {R"("role")", R"("content")", R"("rol\u0065")", R"("roles")", R"("name")",
                                         R"("content2")", R"("c")", R"("\"role")"};
  std::function<std::string(int)> value = [&](int depth) -> std::string {
    switch (rng() % (depth > 2 ? 4 : 6)) {
      case 0: return strings[rng() % strings.size()];
      case 1: return std::to_string(static_cast<int>(rng() % 2000) - 1000) + (rng() % 2 ? ".5e-3" : "");
      case 2: return rng() % 2 ? "true" : "null";
      case 3: return "false";
      case 4: {
        std::string a = "[";
        for (std::size_t i = rng() % 4; i > 0; --i) a += value(depth + 1) + (i > 1 ? " , " : "");
        return a + "]";
      }
      default: {
        std::string o = "{";
        for (std::size_t i = rng() % 4; i > 0; --i) o += "\"k" + std::to_string(i) + "\":" + value(depth + 1) + (i > 1 ? "," : "");
        return o + "}";
      }
    }
  };
  const std::vector<std::string> spaces = {"", " ", "\n\t", "  \r\n"};
  for (int round = 0; round < 300; ++round) {
    std::string messages;
    const std::size_t n = 1 + rng() % 3;
    for (std::size_t m = 0; m < n; ++m) {
      std::vector<std::string> ks = keys;
      std::shuffle(ks.begin(), ks.end(), rng);
      ks.resize(rng() % ks.size());
      // The two spellings of a key (escaped or not) are one key: keep at most one of them.
      if (std::find(ks.begin(), ks.end(), R"("role")") != ks.end())
        ks.erase(std::remove(ks.begin(), ks.end(), R"("rol\u0065")"), ks.end());
      std::string o = "{" + spaces[rng() % spaces.size()];
      for (std::size_t k = 0; k < ks.size(); ++k) {
        const std::string sp = spaces[rng() % spaces.size()];
        o += ks[k] + sp + ":" + sp + value(0) + sp + (k + 1 < ks.size() ? "," + sp : "");
      }
      messages += o + "}" + (m + 1 < n ? "," : "");
    }
    const std::string body = R"({"model":"m","messages":[)" + messages + "]}";
    auto r = Request::parse(Endpoint::chat, body);
    ASSERT_TRUE(r.ok()) << body << ": " << r.error().message;
    const std::string array = "[" + messages + "]";
    auto items = json::scan_array(array);
    ASSERT_TRUE(items.ok());
    const auto& got = (*r)->messages();
    ASSERT_EQ(got.size(), items->size()) << body;
    for (std::size_t i = 0; i < items->size(); ++i) {
      auto obj = json::scan_object((*items)[i].value);
      ASSERT_TRUE(obj.ok()) << (*items)[i].value << ": " << obj.error().message;
      const json::Field* role = obj->find("role");
      const json::Field* content = obj->find("content");
      const std::string want_role = role && role->type == json::Type::string ? *json::string_value(role->value) : "";
      const std::string want_text =
          content && content->type == json::Type::string ? *json::string_value(content->value) : "";
      EXPECT_EQ(got[i].role, want_role) << body;
      if (!content || content->type != json::Type::array) {
        EXPECT_EQ(got[i].text, want_text) << body;
      }
    }
  }
}

TEST(RequestTest, CompletionsPromptBecomesOneUserMessage) {
  auto r = Request::parse(Endpoint::completions, R"({"model":"m","prompt":"Say this is a test"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->last_user_text(), "Say this is a test");
}

}  // namespace
}  // namespace sy
